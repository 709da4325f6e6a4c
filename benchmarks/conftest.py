"""Benchmarks save every run to pytest-benchmark's storage: the first run is the baseline."""

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    # Runs before pytest-benchmark reads its options; an explicit --benchmark-save still wins.
    if config.getoption("benchmark_save", None) or config.getoption("benchmark_autosave", None):
        return
    if config.getoption("benchmark_disable", False):
        return
    from pytest_benchmark.utils import get_tag

    config.option.benchmark_autosave = get_tag()
