"""What a run saves, at session end just before pytest-benchmark would save.

Whether a run saves is decided once at configure time (effcheck.plan); this module carries it out. It
knows pytest-benchmark's session and the claims' ledger, never effcheck's session object.
- A run that checked claims is saved to pytest-benchmark's storage by default (ini `effcheck_autosave`,
  true unless set false; --benchmark-save/--benchmark-autosave still win, --benchmark-disable opts out),
  so the history exists in a user's project without any conftest.
- Under pytest-xdist the timed tests' pytest-benchmark statistics arrive from the workers
  (effcheck.timings) and join the controller's own, so pytest-benchmark saves them as in a serial run.
- When pytest-benchmark has nothing of its own to write (no test timed with its `benchmark` fixture:
  none used it, or under pytest-xdist none was a `timed` effcheck test) it prints "Not saving anything"
  and writes neither the run file nor `--benchmark-json`. effcheck then writes both itself, in
  pytest-benchmark's format with the claims ledger inside, and keeps pytest-benchmark quiet about it.
- Every run file is created exclusively (effcheck.store.create_run_file), pytest-benchmark's own saves
  included, so two runs finishing together both land.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from effcheck.plan import RunPlan
from effcheck.records import Ledger


@dataclass(frozen=True)
class Saved:
    """Where a run was saved, or why it could not be (one line)."""

    path: str | None = None
    error: str | None = None


OnSaved = Callable[[Saved], None]


def prepare_saving(config: pytest.Config, plan: RunPlan, checked: bool, timings: Iterable[dict[str, Any]],
                   on_saved: OnSaved) -> None:
    """checked: the run checked a claim (a skipped one does not count: a run that measured nothing is not
    history); timings: pytest-benchmark's stats that xdist workers reported."""
    bench: Any = getattr(config, "_benchmarksession", None)
    if bench is None:
        return
    from effcheck.timings import add_reported

    add_reported(config, timings)
    if checked and plan.saves and not (bench.save or bench.autosave):
        from pytest_benchmark.utils import get_tag

        bench.autosave = get_tag()
    if bench.benchmarks and not bench.disabled:
        return  # pytest-benchmark writes its files itself, with its timing stats; effcheck's hooks add the ledger
    if bench.json:
        path = write_benchmark_json(config, bench.json)
        bench.json = None
        config.get_terminal_writer().line(f"effcheck: wrote {path} (no benchmark fixture timed anything; "
                                          "the claims ledger is under 'effcheck')")
    if checked and (bench.save or bench.autosave):
        on_saved(_exclusive_save(bench.storage, _benchmark_json(config, include_data=False),
                                 bench.save or bench.autosave))
        bench.save = bench.autosave = None  # saved: pytest-benchmark would only say "Not saving anything"


def save_nothing(config: pytest.Config) -> None:
    """A run refused before its tests writes no file of either tool (--benchmark-json may name a saved run)."""
    bench: Any = getattr(config, "_benchmarksession", None)
    if bench is not None:
        bench.json = bench.save = bench.autosave = None


def _benchmark_json(config: pytest.Config, include_data: bool) -> dict[str, Any]:
    """A pytest-benchmark JSON report with no timed benchmarks, through its own hooks (so every plugin's
    update hooks run, effcheck's ledger included)."""
    bench: Any = getattr(config, "_benchmarksession")  # noqa: B009 (pytest-benchmark's, untyped on Config)
    hook = config.hook
    machine_info = bench.get_machine_info()
    commit_info = hook.pytest_benchmark_generate_commit_info(config=config)
    hook.pytest_benchmark_update_commit_info(config=config, commit_info=commit_info)
    output: dict[str, Any] = hook.pytest_benchmark_generate_json(
        config=config, benchmarks=[], include_data=include_data, machine_info=machine_info, commit_info=commit_info)
    hook.pytest_benchmark_update_json(config=config, benchmarks=[], output_json=output)
    return output


def write_benchmark_json(config: pytest.Config, path: str | Path) -> Path:
    """--benchmark-json when pytest-benchmark would write nothing."""
    from effcheck.store import write_json_atomic

    return write_json_atomic(path, _benchmark_json(config, include_data=True))


def _exclusive_save(storage: Any, output_json: dict[str, Any], name: str) -> Saved:
    """Save a run file that never replaces another (see effcheck.store.create_run_file)."""
    from effcheck.errors import EffcheckError
    from effcheck.store import create_run_file, remove_stale_temps

    folder = storage.get("probe").parent
    remove_stale_temps(folder)
    try:
        return Saved(path=str(create_run_file(folder, name, output_json)))
    except EffcheckError as exc:
        return Saved(error=str(exc))


def save_exclusively(config: pytest.Config, on_saved: OnSaved) -> None:
    """pytest-benchmark's own save picks a number and opens it for writing: two runs finishing together
    write one name and one run is lost. Its storage saves through the exclusive create instead."""
    bench: Any = getattr(config, "_benchmarksession", None)
    storage = getattr(bench, "storage", None)
    if storage is None or not hasattr(storage, "save") or not hasattr(storage, "get"):
        return

    def save(output_json: dict[str, Any], save: str) -> None:
        saved = _exclusive_save(storage, output_json, save)
        on_saved(saved)
        if saved.path:
            bench.logger.info(f"Saved benchmark data in: {saved.path}")

    storage.save = save


class BenchmarkHooks:
    """pytest-benchmark's hooks: its JSON files are the history, so each carries the claims ledger; its
    machine_info names the device only. Registered by the plugin beside the session whose ledger it embeds."""

    def __init__(self, ledger: Callable[[], Ledger], hardware_key: Callable[[], str],
                 warn: Callable[[str], None]) -> None:
        self.ledger = ledger
        self.hardware_key = hardware_key
        self.warn = warn

    @pytest.hookimpl(optionalhook=True)
    def pytest_benchmark_update_json(self, config: pytest.Config, benchmarks: Any, output_json: dict[str, Any]) -> None:
        ledger = self.ledger()
        output_json["effcheck"] = ledger.to_dict()
        by_node: dict[str, list[dict[str, Any]]] = {}
        for result in ledger.results:
            by_node.setdefault(result.nodeid, []).append(result.to_dict())
        for bench in output_json.get("benchmarks", []):
            found = by_node.get(bench.get("fullname", ""))
            if found:
                bench.setdefault("extra_info", {})["effcheck"] = found

    @pytest.hookimpl(optionalhook=True)
    def pytest_benchmark_update_machine_info(self, config: pytest.Config, machine_info: dict[str, Any]) -> None:
        # Only the device: software versions live in the ledger. pytest-benchmark warns when machine_info
        # differs from the compared run's, and with the storage outside the working directory that warning
        # itself crashes (it takes a relative path); an upgrade must not change machine_info.
        machine_info["effcheck"] = {"hardware_key": self.hardware_key()}

    @pytest.hookimpl(optionalhook=True, hookwrapper=True)
    def pytest_benchmark_compare_machine_info(self, config: pytest.Config, benchmarksession: Any,
                                              machine_info: dict[str, Any], compared_benchmark: dict[str, Any],
                                              ) -> Any:
        outcome = yield
        try:
            outcome.get_result()
        except Exception as exc:  # pytest-benchmark's own warning failed (its relpath of a storage elsewhere)
            outcome.force_result(None)
            self.warn(f"pytest-benchmark could not compare machine_info ({exc!r}); timings still compared")
