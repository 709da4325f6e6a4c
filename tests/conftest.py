"""pytester's in-process runs drop the modules imported inside them, and torch's C extension cannot be
imported a second time in one process: import it once, before any inner run does (at session start,
so `pytest --help` stays light)."""

import contextlib
import subprocess
import sys

import pytest


def pytest_sessionstart(session):
    with contextlib.suppress(ImportError):
        import torch  # noqa: F401


@pytest.fixture(autouse=True)
def _inner_runs_are_not_xdist_workers(request, monkeypatch):
    """Under `pytest tests/ -n 2` this process is an xdist worker, and pytest-benchmark reads the worker's
    environment (PYTEST_XDIST_WORKER) in a pytester session run in-process here, switching itself off
    there as if that run were under xdist too: an inner run is a user's own session, so it must not see it."""
    if "pytester" in request.fixturenames:
        monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)


@pytest.fixture
def dead_pid() -> int:
    """The id of a process that has exited: what a killed run leaves in its files' names."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid
