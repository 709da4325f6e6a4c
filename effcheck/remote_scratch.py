"""The scratch folders of push, pull and prune: one temporary folder each, and those of killed runs removed.

A push killed with SIGKILL (a CI job cancelled, a runner's timeout) cannot remove its folder, which holds a
copy of the branch's runs: megabytes each once a team has pushed for a while, left in the temporary folder
for good. So each push, pull and prune first removes the folders whose owner is gone. The owner holds an
advisory lock on a file inside its folder for as long as it lives, and the kernel drops that lock when the
process dies, however it dies: a folder whose lock can be taken is an orphan. The folder is made under
another name and renamed once locked, so a sweep never meets a live folder unlocked. Where there is no
fcntl (Windows) nothing is swept: such a folder is only left behind.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

if sys.platform != "win32":
    import fcntl

PREFIX = "effcheck-remote-"
_MAKING = ".effcheck-remote-making-"
LOCK_FILE = "effcheck-owner.lock"
_UNLOCKED_GRACE_S = 3600  # a folder without a lock file (killed before it had one) goes only when this old


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False


def sweep(base: str | None = None) -> list[str]:
    """Remove the scratch folders of runs that died; the paths removed."""
    if sys.platform == "win32":
        return []
    base = base or tempfile.gettempdir()
    removed: list[str] = []
    try:
        names = os.listdir(base)
    except OSError:
        return removed
    for name in names:
        if not name.startswith((PREFIX, _MAKING)):
            continue
        path = os.path.join(base, name)
        if name.startswith(_MAKING) or not os.path.exists(os.path.join(path, LOCK_FILE)):
            # not yet locked (made, then killed; or being made now): only an old one is an orphan
            if _old_folder(path):
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
            continue
        try:
            fd = os.open(os.path.join(path, LOCK_FILE), os.O_RDWR)
        except OSError:  # another user's, or not a folder: not ours to judge
            continue
        try:
            if _try_lock(fd):  # its owner is gone; holding the lock, no other sweep removes it under us
                _remove(path)
                removed.append(path)
        finally:
            os.close(fd)
    return removed


def _remove(folder: str) -> None:
    """The lock file last: a removal killed midway leaves a folder that the next sweep still recognizes."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        if entry.name != LOCK_FILE:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
    shutil.rmtree(folder, ignore_errors=True)


def _old_folder(path: str) -> bool:
    try:
        info = os.lstat(path)
    except OSError:
        return False
    import stat

    return stat.S_ISDIR(info.st_mode) and time.time() - info.st_mtime > _UNLOCKED_GRACE_S


@contextmanager
def scratch() -> Iterator[str]:
    """A fresh temporary folder, locked as this process's while it is used, removed afterwards."""
    sweep()
    making = tempfile.mkdtemp(prefix=_MAKING)
    fd = os.open(os.path.join(making, LOCK_FILE), os.O_CREAT | os.O_RDWR, 0o600)
    try:
        if sys.platform != "win32":
            fcntl.flock(fd, fcntl.LOCK_EX)
        folder = os.path.join(os.path.dirname(making), PREFIX + os.path.basename(making)[len(_MAKING):])
        os.rename(making, folder)
        try:
            yield folder
        finally:
            _remove(folder)
    except BaseException:
        shutil.rmtree(making, ignore_errors=True)  # interrupted before the rename: nothing else holds it
        raise
    finally:
        os.close(fd)
