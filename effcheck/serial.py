"""Under pytest-xdist, timed tests run alone: a readers-writer file lock shared by the run's workers.

Deterministic tests (counts, bytes) take the lock shared and run in parallel; a timed test takes it
exclusive, so no other test of the run competes for the CPU or GPU while it measures.
The controller creates the lock file (named with its pid) and removes it when the run ends; one left by a
killed controller (its pid is gone) is removed by the next run's controller.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

_LOCK_NAME = re.compile(r"^effcheck-(?P<pid>\d+)-[0-9a-z_]+\.lock$")


class RunLock:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

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


def process_alive(pid: int) -> bool:
    """Whether a process with this id runs (another user's counts: it exists)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def create_lock_file() -> str:
    """The controller's lock file for this run; stale ones of dead controllers are removed first."""
    folder = Path(tempfile.gettempdir())
    for path in folder.glob("effcheck-*.lock"):
        match = _LOCK_NAME.match(path.name)
        if match and not process_alive(int(match["pid"])):
            path.unlink(missing_ok=True)
    fd, lock = tempfile.mkstemp(prefix=f"effcheck-{os.getpid()}-", suffix=".lock")
    os.close(fd)
    return lock


def remove_lock_file(path: str | None) -> None:
    if path:
        Path(path).unlink(missing_ok=True)


def worker_lock(workerinput: Mapping[str, Any] | None) -> RunLock | None:
    """The lock of this xdist run, or None outside xdist workers (or where flock does not exist)."""
    if not workerinput or os.name != "posix":
        return None
    path = workerinput.get("effcheck_lock")
    if not path:  # a controller without effcheck's session (should not happen): a per-run temp name
        safe = "".join(ch for ch in str(workerinput.get("testrunuid", "run")) if ch.isalnum()) or "run"
        path = Path(tempfile.gettempdir()) / f"effcheck-{safe}.lock"
    return RunLock(path)
