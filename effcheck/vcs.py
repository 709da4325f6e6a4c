"""Which git branch and commit a run measured, and which branches its baselines may come from.

A pull request's runs, pushed to the team's history for inspection, must never become another branch's
baseline; so each run records its branch, and a claim's baseline comes from the baseline branch (main by
default) or from the run's own branch. CI checks out a detached merge commit, where `git` names no branch:
there the CI system's variables say which branch this is and which one it merges into.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# What a project's main line is usually called, when nothing says which branch a run merges into.
DEFAULT_BASELINE_BRANCHES = ("main", "master")
ANY_BRANCH = "*"


@dataclass(frozen=True)
class GitState:
    branch: str | None  # None: not a git checkout, or a detached HEAD nothing names
    commit: str | None
    dirty: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"branch": self.branch, "commit": self.commit, "dirty": self.dirty}


def _git(cwd: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):  # no git, or a hung filesystem: the run records no branch
        return None
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else None


def ci_branch(env: Mapping[str, str]) -> str | None:
    """The branch CI says this run is on: EFFCHECK_BRANCH, else GitHub's (a pull request's head branch,
    else the pushed branch), else GitLab's."""
    if env.get("EFFCHECK_BRANCH"):
        return env["EFFCHECK_BRANCH"]
    if env.get("GITHUB_ACTIONS") == "true":
        if env.get("GITHUB_HEAD_REF"):
            return env["GITHUB_HEAD_REF"]
        if env.get("GITHUB_REF_TYPE", "branch") == "branch" and env.get("GITHUB_REF_NAME"):
            return env["GITHUB_REF_NAME"]
    return env.get("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME") or env.get("CI_COMMIT_BRANCH") or None


def git_state(cwd: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> GitState:
    """The checkout's branch (CI's word first), commit and whether tracked files differ from it."""
    env = os.environ if env is None else env
    where = Path(cwd)
    commit = _git(where, "rev-parse", "HEAD")
    if commit is None:
        return GitState(ci_branch(env), None)
    branch = ci_branch(env) or _git(where, "symbolic-ref", "--short", "-q", "HEAD")
    dirty = _git(where, "status", "--porcelain", "--untracked-files=no") is not None
    return GitState(branch, commit, dirty)


def baseline_branches(configured: str | None, cwd: str | os.PathLike[str],
                      env: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The branches whose runs are baselines for everyone: the configured one ('*': every branch), else
    the branch a pull request merges into (GITHUB_BASE_REF, CI_MERGE_REQUEST_TARGET_BRANCH_NAME), else
    the remote's default branch (origin/HEAD), else main and master."""
    env = os.environ if env is None else env
    if configured:
        return tuple(b.strip() for b in configured.split(",") if b.strip()) or (ANY_BRANCH,)
    target = env.get("GITHUB_BASE_REF") or env.get("CI_MERGE_REQUEST_TARGET_BRANCH_NAME")
    if target:
        return (target,)
    head = _git(Path(cwd), "symbolic-ref", "--short", "-q", "refs/remotes/origin/HEAD")
    if head and head.startswith("origin/"):
        return (head.removeprefix("origin/"),)
    return DEFAULT_BASELINE_BRANCHES


def branch_of(environment: Any) -> str | None:
    """The branch a stored run recorded (None: an older effcheck, or no branch known)."""
    git = environment.get("git") if isinstance(environment, Mapping) else None
    branch = git.get("branch") if isinstance(git, Mapping) else None
    return branch if isinstance(branch, str) and branch else None


def may_serve(run_branch: str | None, allowed: frozenset[str] | None) -> bool:
    """Whether a run on run_branch may be a baseline. allowed None: every branch. A run that recorded no
    branch (saved before branches were recorded, or outside git) serves everyone: leaving it out would
    silently turn a project's whole history into 'new' after an upgrade, a gate that passes by forgetting."""
    return allowed is None or run_branch is None or run_branch in allowed


def allowed_branches(own: str | None, baseline: tuple[str, ...]) -> frozenset[str] | None:
    """The branches this run's baselines may come from: the baseline branches and its own; None (any)
    when the baseline is '*' or this run's branch is unknown (outside git, nothing to tell apart)."""
    if ANY_BRANCH in baseline or own is None:
        return None
    return frozenset((*baseline, own))
