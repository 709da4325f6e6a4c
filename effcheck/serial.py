"""Under pytest-xdist, timed tests run alone: a readers-writer file lock shared by the run's workers.

Deterministic tests (counts, bytes) take the lock shared and run in parallel; a timed test takes it
exclusive, so no other test of the run competes for the CPU or GPU while it measures.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


class RunLock:
    def __init__(self, run_id: str) -> None:
        safe = "".join(ch for ch in run_id if ch.isalnum()) or "run"
        self.path = Path(tempfile.gettempdir()) / f"effcheck-{safe}.lock"

    @contextlib.contextmanager
    def hold(self, exclusive: bool) -> Iterator[None]:
        import fcntl  # POSIX only: worker_lock gives None elsewhere, and runs there are not serialized

        fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


def worker_lock(workerinput: dict | None) -> RunLock | None:
    """The lock of this xdist run, or None outside xdist workers (or where flock does not exist)."""
    if not workerinput or os.name != "posix":
        return None
    return RunLock(str(workerinput.get("testrunuid", "run")))
