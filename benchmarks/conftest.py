"""Benchmarks save every run to pytest-benchmark's storage: the first run is the baseline."""

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    # Runs before pytest-benchmark reads its options; an explicit --benchmark-save or -json still wins.
    if not (config.getoption("benchmark_save", None) or config.getoption("benchmark_disable", False)):
        config.option.benchmark_autosave = True
