"""Under pytest-xdist, pytest-benchmark's timings of timed tests still reach the history.

pytest-benchmark switches itself off under xdist: its fixture calls the function once and records
nothing, because a time taken beside other work is not worth keeping. effcheck's timed tests run alone
(effcheck.serial), so on a worker the fixture is switched back on for them only. The worker saves,
writes and compares nothing; each such test's statistics (samples included) travel to the controller in
its report's user_properties as JSON values, and the controller hands them to pytest-benchmark's own
saving, --benchmark-json, comparison and table, so a -n 2 run file has a serial run's shape.
"""

from __future__ import annotations

import contextlib
import copy
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pytest

TIMING_KEY = "effcheck_benchmark"


def _bench(config: pytest.Config) -> Any:
    return getattr(config, "_benchmarksession", None)


def quiet_worker(config: pytest.Config) -> None:
    """A worker only reports its timings: the controller saves, writes and compares them."""
    bench = _bench(config)
    if bench is None:
        return
    bench.save = bench.autosave = bench.json = None
    bench.compare_fail = None
    bench.compared_mapping = {}


def warn_only_if_untimed(config: pytest.Config, shared: list[pytest.Item]) -> None:
    """pytest-benchmark warns that xdist disabled it when a test uses its fixture; the timed tests are
    timed now, so the warning stays only for a test among the others (which still run beside other work)."""
    bench = _bench(config)
    if bench is not None and getattr(bench, "xdist_benchmark_found", False):
        bench.xdist_benchmark_found = any("benchmark" in getattr(i, "fixturenames", ()) for i in shared)


@contextlib.contextmanager
def timing_on_worker(config: pytest.Config) -> Iterator[None]:
    """pytest-benchmark's fixture measures while this (exclusive) test runs, unless the user switched it
    off: --benchmark-disable or --benchmark-skip leave its xdist_warning false, and then nothing changes."""
    bench = _bench(config)
    if bench is None or not getattr(bench, "xdist_warning", False):
        yield
        return
    saved = bench.disabled
    bench.disabled = False
    try:
        yield
    finally:
        bench.disabled = saved


def report_timing(item: pytest.Item) -> None:
    """Put the test's pytest-benchmark statistics on its report, as pytest-benchmark would save them."""
    fixture: Any = getattr(item, "funcargs", {}).get("benchmark")
    metadata = getattr(fixture, "stats", None)
    bench = _bench(item.config)
    if not metadata or bench is None or fixture.has_error or not fixture.enabled:
        return  # not timed here, or failed inside the timed function (pytest-benchmark drops those too)
    from pytest_benchmark.utils import safe_dumps

    as_dict = metadata.as_dict(include_data=True, cprofile=(bench.cprofile_sort_by, bench.cprofile_top))
    # safe_dumps turns what JSON cannot hold into strings, exactly as pytest-benchmark's own save does
    item.user_properties.append((TIMING_KEY, json.loads(safe_dumps(as_dict))))


@dataclass(frozen=True)
class ReportedBenchmark:
    """A worker's pytest-benchmark Metadata as the controller's pytest-benchmark reads it (as_dict, fields
    by key, has_error): built from the dict Metadata.as_dict(include_data=True) gave on the worker."""

    data: dict[str, Any]

    @property
    def fullname(self) -> str:
        return str(self.data["fullname"])

    @property
    def name(self) -> str:
        return str(self.data["name"])

    @property
    def has_error(self) -> bool:
        return False  # a benchmark that raised is never reported

    def __bool__(self) -> bool:
        return bool(self.data["stats"].get("data"))

    def __getitem__(self, key: str) -> Any:
        stats = self.data["stats"]
        return stats[key] if key in stats else self.data[key]

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def as_dict(self, include_data: bool = True, flat: bool = False, stats: bool = True,
                cprofile: Any = None) -> dict[str, Any]:
        """Metadata.as_dict's shape; cprofile rows were chosen on the worker, with the same options."""
        result = copy.deepcopy({k: v for k, v in self.data.items() if k != "stats"})
        if stats:
            figures = copy.deepcopy(self.data["stats"])
            if not include_data:
                figures.pop("data", None)
            if flat:
                result.update(figures)
            else:
                result["stats"] = figures
        return result


def add_reported(config: pytest.Config, reported: Iterable[dict[str, Any]]) -> None:
    """The workers' timings into the controller's pytest-benchmark session, which then saves, compares and
    shows them itself (they were measured alone, so its xdist switch-off no longer applies)."""
    bench = _bench(config)
    found = [ReportedBenchmark(d) for d in reported]
    if bench is None or not found:
        return
    bench.benchmarks.extend(found)
    bench.disabled = False
