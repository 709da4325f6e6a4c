"""`effcheck prune --keep N`: compact old runs, conservatively (issue 20).

Per machine folder (a run's folder in the storage; a pulled run's `remote/<hash>/` prefix, or a branch
run's `runs/<hash>/`, does not count, so pulled runs share their origin's folder), the newest N readable
runs are kept, by the order the gate uses (recorded time, then number). Never removed:
- a run that holds a baseline: for every claim and scope it was measured in, the run the gate would
  compare with and the accepted runs pooled with it for noisy claims, and each claim's newest accepted
  measurement (effcheck.history.load_history(...).index);
- a run that could not be read (it may be repaired), and any other file.

Locally, what goes is printed before anything is deleted (`--dry-run` only prints). With `--remote` and
`--branch` the branch is pruned instead, as one commit that removes files (history keeps them), pushed
without force and rebuilt on the new tip when another runner landed first. The removed runs' hashes are
listed in the branch's effcheck-pruned.txt, so a runner's next push does not bring them back.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from effcheck.errors import UsageError
from effcheck.remote import PRUNED_FILE, PULLED_DIR, PUSH_ATTEMPTS, RUNS_DIR, RemoteError

Warn = Callable[[str], None]


def _folder(relative: PurePosixPath) -> str:
    parts = relative.parts
    if len(parts) >= 3 and parts[0] in (PULLED_DIR, RUNS_DIR):
        parts = parts[2:]
    return "/".join(parts[:-1])


def plan(storage: str | os.PathLike[str], keep: int, warn: Warn | None = None) -> tuple[list[Path], list[Path]]:
    """(the run files that go, the older ones kept because they hold a baseline), oldest first."""
    from effcheck.baseline import scope_of
    from effcheck.history import load_history
    from effcheck.store import load_runs

    if keep < 1:
        raise UsageError("--keep must be at least 1")
    root = Path(storage)
    loaded = load_runs(root, warn)
    index = load_history(root).index
    scopes: dict[str, set[str]] = defaultdict(set)
    for run in loaded:
        for result in run.ledger.results:
            if result.measurement is not None:
                scopes[result.claim.id].add(scope_of(result, run.ledger.environment))
    protected: set[str] = set()
    for claim_id in index.claim_ids():
        for scope in scopes.get(claim_id, ()):
            selection = index.select(claim_id, scope, warn=warn)
            base = selection.baseline
            # only a noisy claim's gate reads the pool: for an exact one, `--keep 1` kept 5 runs in the trial
            pooled = selection.pool if base is not None and base.result.claim.noisy else ()
            protected.update(e.run for e in (base, *pooled) if e is not None)
        newest = index.latest_eligible(claim_id)
        if newest is not None:
            protected.add(newest.run)
    by_folder: dict[str, list[Path]] = defaultdict(list)
    for run in loaded:  # oldest first
        by_folder[_folder(PurePosixPath(run.run.path.relative_to(root).as_posix()))].append(run.run.path)
    going: list[Path] = []
    held: list[Path] = []
    for paths in by_folder.values():
        for path in paths[:-keep]:
            (held if path.stem in protected else going).append(path)
    return going, held


@dataclass
class PruneResult:
    removed: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)
    commit: str | None = None


def prune_local(storage: str | os.PathLike[str], keep: int, dry_run: bool, say: Callable[[str], None],
                warn: Warn | None = None) -> PruneResult:
    going, held = plan(storage, keep, warn)
    result = PruneResult([str(p) for p in going], [str(p) for p in held])
    for path in held:
        say(f"keep {path} (holds a baseline)")
    for path in going:
        say(f"{'would remove' if dry_run else 'remove'} {path}")
    if not dry_run:
        for path in going:
            try:
                path.unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise UsageError(f"cannot remove {path}: {exc.strerror or exc}") from exc
    return result


def prune_remote(remote: str, branch: str, keep: int, dry_run: bool, say: Callable[[str], None],
                 warn: Warn | None = None, attempts: int = PUSH_ATTEMPTS) -> PruneResult:
    from effcheck.remote import interrupted

    # around the listing too: a Ctrl-C while 89 'removed' lines printed was a traceback
    with interrupted(f"prune interrupted: {branch} was pruned entirely or not at all (git moves a branch at "
                     "once); run prune again"):
        return _prune_remote(remote, branch, keep, dry_run, say, warn, attempts)


def _prune_remote(remote: str, branch: str, keep: int, dry_run: bool, say: Callable[[str], None],
                  warn: Warn | None, attempts: int) -> PruneResult:
    import random
    import time

    from effcheck.remote import STUCK_ATTEMPTS, _fetch_tip, _Git, _read_tip, _refusal, _url
    from effcheck.remote_scratch import scratch as scratch_folder
    from effcheck.store import ACCEPTED_FILE

    url = _url(remote)
    with scratch_folder() as scratch:
        os.mkdir(os.path.join(scratch, "git"))
        git = _Git(os.path.join(scratch, "git"))
        last, refused_on, stuck = "", None, 0
        for _ in range(attempts):
            tip = _fetch_tip(git, url, branch)
            if tip is None:
                raise RemoteError(f"the remote {url} has no branch {branch!r}")
            stuck = stuck + 1 if tip == refused_on else 0
            if stuck >= STUCK_ATTEMPTS:  # refused while nobody else landed (a hook, a permission): say why
                raise RemoteError(f"prune of {branch} on {url} was refused ({last}) while no other push landed; "
                                  "nothing was changed on the branch")
            there = _read_tip(git, tip)
            copy = Path(scratch) / f"storage-{tip}"
            for path, blob in there.runs.values():  # runs/<hash>/... as the branch has it
                target = copy / path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(git("cat-file", "blob", blob))
            copy.mkdir(exist_ok=True)
            if there.accepted:
                (copy / ACCEPTED_FILE).write_text("\n".join(there.accepted) + "\n", encoding="utf-8")
            going, held = plan(copy, keep, warn)
            result = PruneResult([p.relative_to(copy).as_posix() for p in going],
                                 [p.relative_to(copy).as_posix() for p in held])
            if dry_run or not going:
                break
            index = {"GIT_INDEX_FILE": os.path.join(scratch, "prune-index")}
            git("read-tree", tip, env=index)
            removal = "".join(f"0 {'0' * 40}\t{path}\n" for path in result.removed)  # mode 0: remove
            git("update-index", "--index-info", stdin=removal.encode("utf-8"), env=index)
            # their hashes stay listed, or the next push of a runner that still has them puts them back
            gone = sorted(there.pruned | {PurePosixPath(p).parts[1] for p in result.removed})
            blob = git("hash-object", "-w", "--stdin", stdin=("\n".join(gone) + "\n").encode()).decode().strip()
            git("update-index", "--add", "--cacheinfo", f"100644,{blob},{PRUNED_FILE}", env=index)
            tree = git("write-tree", env=index).decode().strip()
            commit = git("commit-tree", tree, "-p", tip, "-m",
                         f"effcheck prune --keep {keep}: {len(result.removed)} run(s) removed").decode().strip()
            pushed = git.run("push", "-q", url, f"{commit}:refs/heads/{branch}")  # never --force
            if pushed.returncode == 0:
                result.commit = commit
                break
            last, refused_on = _refusal(pushed.stderr), tip
            time.sleep(random.uniform(0.05, 0.2))
        else:
            raise RemoteError(f"prune of {branch} on {url} was refused {attempts} times (last: {last}); "
                              "nothing was changed on the branch")
    for path in result.held:
        say(f"keep {path} (holds a baseline)")
    for path in result.removed:
        say(f"{'would remove' if dry_run else 'removed'} {path} from {branch}")
    return result
