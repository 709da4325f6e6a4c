"""pytester's in-process runs drop the modules imported inside them, and torch's C extension cannot be
imported a second time in one process: import it once, before any inner run does (at session start,
so `pytest --help` stays light)."""

import contextlib


def pytest_sessionstart(session):
    with contextlib.suppress(ImportError):
        import torch  # noqa: F401
