"""What a run saves, decided at session end just before pytest-benchmark would save.

- A run that checked claims is saved to pytest-benchmark's storage by default (ini `effcheck_autosave`,
  true unless set false; --benchmark-save/--benchmark-autosave still win, --benchmark-disable opts out),
  so the history exists in a user's project without any conftest.
- Under pytest-xdist the timed tests' pytest-benchmark statistics arrive from the workers
  (effcheck.timings) and join the controller's own, so pytest-benchmark saves them as in a serial run.
- When pytest-benchmark has nothing of its own to write (no test timed with its `benchmark` fixture:
  none used it, or under pytest-xdist none was a `timed` effcheck test) it prints "Not saving anything"
  and writes neither the run file nor `--benchmark-json`. effcheck then writes both itself, in
  pytest-benchmark's format with the claims ledger inside, and keeps pytest-benchmark quiet about it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from effcheck.session import EffcheckSession


def prepare_saving(config: pytest.Config, session: EffcheckSession) -> None:
    bench: Any = getattr(config, "_benchmarksession", None)
    if bench is None:
        return
    from effcheck.timings import add_reported

    add_reported(config, session.timings.values())
    checked = bool(session.results)
    if (checked and session.options.autosave and not (bench.save or bench.autosave)
            and not config.getoption("benchmark_disable", False)):
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
        save_history_if_benchmark_did_not(config, session)
        bench.save = bench.autosave = None  # saved: pytest-benchmark would only say "Not saving anything"


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


def save_history_if_benchmark_did_not(config: pytest.Config, session: EffcheckSession) -> None:
    """pytest-benchmark saves nothing when no test timed with its fixture: then the claims would vanish
    from the history, so effcheck writes the run file itself, in the same place and format (no timing
    stats, the ledger under "effcheck")."""
    bench: Any = getattr(config, "_benchmarksession", None)
    if bench is None or not (bench.save or bench.autosave) or (bench.benchmarks and not bench.disabled):
        return
    _exclusive_save(session, bench.storage, _benchmark_json(config, include_data=False),
                    bench.save or bench.autosave)


def _exclusive_save(session: EffcheckSession, storage: Any, output_json: dict[str, Any], name: str) -> None:
    """Save a run file that never replaces another (see effcheck.store.create_run_file)."""
    from effcheck.errors import EffcheckError
    from effcheck.store import create_run_file, remove_stale_temps

    folder = storage.get("probe").parent
    remove_stale_temps(folder)
    try:
        session.saved_path = str(create_run_file(folder, name, output_json))
    except EffcheckError as exc:
        session.save_error = str(exc)


def save_exclusively(config: pytest.Config, session: EffcheckSession) -> None:
    """pytest-benchmark's own save picks a number and opens it for writing: two runs finishing together
    write one name and one run is lost. Its storage saves through the exclusive create instead."""
    bench: Any = getattr(config, "_benchmarksession", None)
    storage = getattr(bench, "storage", None)
    if storage is None or not hasattr(storage, "save") or not hasattr(storage, "get"):
        return

    def save(output_json: dict[str, Any], save: str) -> None:
        _exclusive_save(session, storage, output_json, save)
        if session.saved_path:
            bench.logger.info(f"Saved benchmark data in: {session.saved_path}")

    storage.save = save


class BenchmarkHooks:
    """pytest-benchmark's hooks: its JSON files are the history, so each carries the claims ledger; its
    machine_info names the device only. Registered by the plugin beside the session it reads."""

    def __init__(self, session: EffcheckSession) -> None:
        self.session = session

    @pytest.hookimpl(optionalhook=True)
    def pytest_benchmark_update_json(self, config: pytest.Config, benchmarks: Any, output_json: dict[str, Any]) -> None:
        ledger = self.session.ledger()
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
        machine_info["effcheck"] = {"hardware_key": self.session.hardware_key()}

    @pytest.hookimpl(optionalhook=True, hookwrapper=True)
    def pytest_benchmark_compare_machine_info(self, config: pytest.Config, benchmarksession: Any,
                                              machine_info: dict[str, Any], compared_benchmark: dict[str, Any],
                                              ) -> Any:
        outcome = yield
        try:
            outcome.get_result()
        except Exception as exc:  # pytest-benchmark's own warning failed (its relpath of a storage elsewhere)
            outcome.force_result(None)
            self.session.warnings.append(f"pytest-benchmark could not compare machine_info ({exc!r}); "
                                         "timings still compared")
