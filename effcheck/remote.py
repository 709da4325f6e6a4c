"""`effcheck push|pull`: runs travel on a branch of a git remote (issue 20).

The branch holds only history, never code:
- `runs/<hash>/<path in its storage>`: each run file under a folder named by the first 16 hex digits of
  the sha256 of its bytes. A run's identity is its content, so two runs that share a number (two runners,
  each with its own 0001) stay distinct, and a run pushed, pulled and pushed again is the same run;
- `effcheck-accepted.jsonl`: the union of every storage's acceptance lines (each line once);
- `effcheck-pruned.txt`: the content hashes `effcheck prune --remote` removed, one a line, so that a runner
  still holding such a run locally does not push it back with its next push.

`push` fetches the branch into a scratch repository under a temporary folder, builds ONE commit on its tip
that adds the runs the branch lacks (and the acceptance lines), and pushes it without force. Nothing on
the branch is rewritten: a push rejected because another runner landed first is rebuilt on the new tip
(only new, uniquely named files are added) and pushed again, a bounded number of times. git updates the
branch's ref atomically, so an interrupted push leaves the branch at its old commit or the new one.
The first push to a branch that does not exist creates it as an orphan branch.

`pull` copies the branch's runs that the local storage lacks (by content) into
`<storage>/remote/<hash>/...`: a folder per run, so effcheck's baseline selection (which reads every run
file under the storage, ordered by recorded time, numbers only within a folder) sees them beside the local
ones and no local run is renumbered, replaced or lost. The file is named `<its stem>-<8 hex>.json`, and
acceptance lines travel with their run's hash (effcheck.remote_accept): two runners' `0002_ci` are two runs,
and one runner's acceptance is never another's. Acceptance lines the local file lacks are appended.

The user's repository, working tree and index are never touched; git's own configuration and credentials
reach the remote (effcheck has none of its own). A remote that cannot be read is one line, exit 2.
"""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from effcheck.errors import UsageError
from effcheck.remote_accept import localize, pulled_name, qualify
from effcheck.remote_scratch import scratch
from effcheck.store import ACCEPTED_FILE, list_runs

RUNS_DIR = "runs"
PRUNED_FILE = "effcheck-pruned.txt"
PULLED_DIR = "remote"
HASH_DIGITS = 16
PUSH_ATTEMPTS = 40  # rejections while other pushes land: 24 runners at once once needed more than 8
STUCK_ATTEMPTS = 3  # rejections with no other push landing: a hook or a permission, not a race
_TIP_REF = "refs/effcheck/tip"
_GIT_ENV_DROP = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_NAMESPACE",
                 "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_COMMON_DIR", "GIT_PREFIX")


class RemoteError(UsageError):
    """The remote could not be read or written; nothing local was changed."""


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:HASH_DIGITS]


def _url(remote: str) -> str:
    """A local path made absolute (git runs in the scratch repository); URLs and host:path pass as given."""
    if "://" not in remote and Path(remote).exists():
        return str(Path(remote).resolve())
    return remote


class _Git:
    """git in a scratch bare repository: a temporary folder, removed afterwards."""

    def __init__(self, directory: str) -> None:
        self.dir = directory
        self.env = {k: v for k, v in os.environ.items() if k not in _GIT_ENV_DROP}
        self.env["GIT_DIR"] = directory
        self("init", "-q", "--bare", directory)
        self("config", "core.autocrlf", "false")
        for key, default in (("user.name", "effcheck"), ("user.email", "effcheck@localhost")):
            if self.run("config", key).returncode != 0:  # the user's identity where git has one
                self("config", key, default)

    def run(self, *args: str, stdin: bytes | None = None, env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess[bytes]:
        try:
            return subprocess.run(["git", *args], input=stdin, capture_output=True, cwd=self.dir,
                                  env={**self.env, **(env or {})}, check=False)
        except FileNotFoundError as exc:
            raise RemoteError("git is not installed (push and pull use the git command)") from exc

    def __call__(self, *args: str, stdin: bytes | None = None, env: dict[str, str] | None = None) -> bytes:
        done = self.run(*args, stdin=stdin, env=env)
        if done.returncode != 0:
            raise RemoteError(f"git {args[0]} failed: {_last_line(done.stderr)}")
        return done.stdout


@contextmanager
def interrupted(message: str) -> Iterator[None]:
    """Ctrl-C is one line saying what state the branch or storage is in, not a traceback out of subprocess."""
    try:
        yield
    except KeyboardInterrupt:
        raise RemoteError(message) from None


def _last_line(stderr: bytes) -> str:
    lines = [ln.strip() for ln in stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
    return next((ln for ln in lines if ln.startswith(("fatal:", "error:"))), lines[-1] if lines else "no message")


def _refusal(stderr: bytes) -> str:
    """git push's reason (the '! [rejected] ... (fetch first)' or a hook's words), not its closing line."""
    lines = [ln.strip() for ln in stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
    said = [ln for ln in lines if not ln.startswith(("error: failed to push some refs", "To "))]
    return "; ".join(said[-3:]) if said else _last_line(stderr)


def _fetch_tip(git: _Git, url: str, branch: str) -> str | None:
    """The branch's commit, fetched into the scratch repository; None when the remote has no such branch."""
    ref = f"refs/heads/{branch}"
    if git.run("check-ref-format", ref).returncode != 0:
        raise RemoteError(f"{branch!r} is not a valid branch name")
    listed = git.run("ls-remote", "--heads", url, ref)
    if listed.returncode != 0:
        raise RemoteError(f"cannot read the remote {url}: {_last_line(listed.stderr)}")
    if not listed.stdout.strip():
        return None
    # the tip alone (--depth=1): a push needs its tree, not the history of every run ever pushed and pruned
    fetched = git.run("fetch", "-q", "--no-tags", "--depth=1", url, f"+{ref}:{_TIP_REF}")
    if fetched.returncode != 0:
        raise RemoteError(f"cannot fetch {branch} from {url}: {_last_line(fetched.stderr)}")
    return git("rev-parse", _TIP_REF).decode().strip()


@dataclass(frozen=True)
class _Remote:
    runs: dict[str, tuple[str, str]]  # content hash (from the path) -> (path on the branch, blob id)
    accepted: list[str]
    pruned: frozenset[str] = frozenset()  # content hashes prune removed: never pushed again


def _read_tip(git: _Git, tip: str | None) -> _Remote:
    runs: dict[str, tuple[str, str]] = {}
    accepted: list[str] = []
    pruned: frozenset[str] = frozenset()
    if tip is None:
        return _Remote(runs, accepted)
    listing = git("ls-tree", "-r", "-z", tip).decode("utf-8", "surrogateescape")
    for entry in filter(None, listing.split("\0")):
        meta, path = entry.split("\t", 1)
        _, kind, blob = meta.split()
        parts = PurePosixPath(path).parts
        if kind != "blob":
            continue
        if path == ACCEPTED_FILE:
            accepted = _lines(git("cat-file", "blob", blob))
        elif path == PRUNED_FILE:
            pruned = frozenset(_lines(git("cat-file", "blob", blob)))
        elif len(parts) >= 3 and parts[0] == RUNS_DIR and _safe(parts[2:]):
            runs.setdefault(parts[1], (path, blob))
    return _Remote(runs, accepted, pruned)


def _safe(parts: Sequence[str]) -> bool:
    from effcheck.store import _RUN_NAME

    return (all(p not in ("", ".", "..") and not p.startswith(".") for p in parts)
            and _RUN_NAME.match(parts[-1]) is not None)


def _lines(data: bytes) -> list[str]:
    return [ln.strip() for ln in data.decode("utf-8", "replace").splitlines() if ln.strip()]


def _local_runs(storage: Path) -> dict[str, Path]:
    """content hash -> one local run file with that content."""
    found: dict[str, Path] = {}
    for run in list_runs(storage):
        try:
            found.setdefault(content_hash(run.path.read_bytes()), run.path)
        except OSError:
            continue
    return found


def _local_accepted(storage: Path) -> list[str]:
    try:
        return _lines((storage / ACCEPTED_FILE).read_bytes())
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise RemoteError(f"cannot read {storage / ACCEPTED_FILE}: {exc.strerror or exc}") from exc


def _union(first: Sequence[str], second: Sequence[str]) -> list[str]:
    return list(dict.fromkeys([*first, *second]))


@dataclass
class PushResult:
    runs: list[str] = field(default_factory=list)  # paths on the branch of the runs added
    accepted: int = 0  # acceptance lines added
    commit: str | None = None  # None: the branch had everything
    attempts: int = 0
    pruned: int = 0  # local runs left out: prune removed them from the branch


def push(storage: str | os.PathLike[str], remote: str, branch: str, attempts: int = PUSH_ATTEMPTS) -> PushResult:
    with interrupted(f"push interrupted: {branch} holds all of this push's runs or none of them (git moves a "
                     "branch at once); run push again to complete it"):
        return _push(Path(storage), remote, branch, attempts)


def _push(root: Path, remote: str, branch: str, attempts: int) -> PushResult:
    if not root.is_dir():
        raise RemoteError(f"no storage folder {root}: nothing to push")
    url = _url(remote)
    local = _local_runs(root)
    local_accepted = qualify(_local_accepted(root), local)  # each line names its run's content, not only its stem
    with scratch() as folder:
        git = _Git(folder)
        last, refused_on, stuck = "", None, 0  # refused_on: the tip a refused push was built on
        for attempt in range(1, attempts + 1):
            tip = _fetch_tip(git, url, branch)
            stuck = stuck + 1 if attempt > 1 and tip == refused_on else 0
            if stuck >= STUCK_ATTEMPTS:  # refused while nobody else landed: retrying cannot help
                raise RemoteError(f"push to {branch} of {url} was refused ({last}) while no other push landed; "
                                  "nothing was changed on the branch")
            there = _read_tip(git, tip)
            missing = {h: p for h, p in local.items() if h not in there.runs and h not in there.pruned}
            lines = _union(there.accepted, local_accepted)
            new_lines = len(lines) - len(there.accepted)
            result = PushResult(attempts=attempt, accepted=new_lines,
                                pruned=sum(h in there.pruned and h not in there.runs for h in local))
            if not missing and not new_lines:
                return result
            commit = _commit(git, tip, root, missing, lines, result)
            pushed = git.run("push", "-q", url, f"{commit}:refs/heads/{branch}")  # never --force
            if pushed.returncode == 0:
                result.commit = commit
                return result
            last, refused_on = _refusal(pushed.stderr), tip
            time.sleep(random.uniform(0.05, 0.2) * min(attempt, 10))  # another runner landed first: rebuild on its tip
        raise RemoteError(f"push to {branch} of {url} was refused {attempts} times (last: {last}); "
                          "nothing was changed on the branch; run push again")


def _commit(git: _Git, tip: str | None, root: Path, missing: dict[str, Path], lines: list[str],
            result: PushResult) -> str:
    index = {"GIT_INDEX_FILE": os.path.join(git.dir, "effcheck-index")}
    if tip is None:
        git("read-tree", "--empty", env=index)
    else:
        git("read-tree", tip, env=index)
    for digest, path in sorted(missing.items(), key=lambda item: str(item[1])):
        blob = git("hash-object", "-w", "--stdin", stdin=path.read_bytes()).decode().strip()
        where = f"{RUNS_DIR}/{digest}/{path.relative_to(root).as_posix()}"
        git("update-index", "--add", "--cacheinfo", f"100644,{blob},{where}", env=index)
        result.runs.append(where)
    if lines:
        blob = git("hash-object", "-w", "--stdin", stdin=("\n".join(lines) + "\n").encode()).decode().strip()
        git("update-index", "--add", "--cacheinfo", f"100644,{blob},{ACCEPTED_FILE}", env=index)
    tree = git("write-tree", env=index).decode().strip()
    message = f"effcheck push: {len(result.runs)} run(s), {result.accepted} acceptance line(s)"
    parents = ["-p", tip] if tip is not None else []
    return git("commit-tree", tree, *parents, "-m", message).decode().strip()


@dataclass
class PullResult:
    runs: list[Path] = field(default_factory=list)  # local files created
    accepted: int = 0  # acceptance lines appended


def pull(storage: str | os.PathLike[str], remote: str, branch: str) -> PullResult:
    with interrupted("pull interrupted: each run it copied is whole (written, then linked); run pull again to "
                     "bring the rest"):
        return _pull(Path(storage), remote, branch)


def _pull(root: Path, remote: str, branch: str) -> PullResult:
    url = _url(remote)
    result = PullResult()
    with scratch() as folder:
        git = _Git(folder)
        tip = _fetch_tip(git, url, branch)
        if tip is None:
            raise RemoteError(f"the remote {url} has no branch {branch!r} (`effcheck push` creates it)")
        there = _read_tip(git, tip)
        local = _local_runs(root)
        for path, blob in sorted(there.runs.values()):
            data = git("cat-file", "blob", blob)
            digest = content_hash(data)
            if digest in local:
                continue
            parts = PurePosixPath(path).parts[2:]
            placed = _place(root, digest, (*parts[:-1], pulled_name(parts[-1], digest)), data)
            if placed is not None:
                result.runs.append(placed)
                local[digest] = placed
        mine = _local_accepted(root)
        present = {*mine, *localize(qualify(mine, local), local)}  # ours, back with its hash, is not new
        new = [line for line in localize(there.accepted, local) if line not in present]
        if new:
            _append(root / ACCEPTED_FILE, new)
            result.accepted = len(new)
    return result


def _place(root: Path, digest: str, parts: Sequence[str], data: bytes) -> Path | None:
    """The run at remote/<hash>/<its path>, created exclusively: an existing file is never replaced.
    None: a pull running at the same time into this storage placed the same run first."""
    from effcheck.store import _release, _storage_error, _write_locked_temp

    for n in range(1000):
        folder = root / PULLED_DIR / (digest if n == 0 else f"{digest}-{n}") / Path(*parts[:-1])
        target = folder / parts[-1]
        try:
            folder.mkdir(parents=True, exist_ok=True)
            temp = _write_locked_temp(folder, data)
        except OSError as exc:
            raise _storage_error(target, exc) from exc
        try:
            os.link(temp.path, target)
            return target
        except FileExistsError:
            if _same_bytes(target, data):  # two pulls at once each copied every run: 92 runs became 272 files
                return None
            continue  # a file of another content already has the name: the next folder
        except OSError as exc:
            raise _storage_error(target, exc) from exc
        finally:
            _release(temp)
    raise RemoteError(f"cannot find a free name for {'/'.join(parts)} under {root / PULLED_DIR}")


def _same_bytes(path: Path, data: bytes) -> bool:
    try:
        return path.read_bytes() == data
    except OSError:
        return False


def _append(path: Path, lines: Sequence[str]) -> None:
    from effcheck.store import _storage_error

    try:
        existing = path.read_bytes() if path.exists() else b""
        lead = b"\n" if existing and not existing.endswith(b"\n") else b""
        fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o644)
        try:
            os.write(fd, lead + ("\n".join(lines) + "\n").encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise _storage_error(path, exc) from exc


def describe_push(result: PushResult, url: str, branch: str) -> str:
    left_out = f"; {result.pruned} local run(s) that prune removed from the branch left out" if result.pruned else ""
    if result.commit is None:
        return f"{branch} on {url} already has every local run and acceptance{left_out}; nothing pushed"
    # a retry is said: it tells a team its runners push at once, and that nothing was lost when they did
    retried = f", on attempt {result.attempts}: another push landed first" if result.attempts > 1 else ""
    return (f"pushed {len(result.runs)} run(s) and {result.accepted} acceptance line(s) to {branch} on {url} "
            f"(commit {result.commit[:12]}{retried}){left_out}")


def describe_pull(result: PullResult, url: str, branch: str, storage: str) -> str:
    return (f"pulled {len(result.runs)} run(s) and {result.accepted} acceptance line(s) from {branch} on {url} "
            f"into {storage}")

