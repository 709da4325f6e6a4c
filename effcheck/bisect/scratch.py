"""The real Runner: a scratch virtual environment, pip at the recorded versions, pytest on the claims' tests.

One venv in the work folder holds the baseline's versions (every package the baseline recorded, pinned;
pip resolves the rest once). Each environment to try starts by putting that venv back exactly as it was
after setup (pip list compared with the setup's, the differences reinstalled or removed, --no-deps; skipped
when the environment moves a superset of what the previous one moved, which it then builds on), then
`pip install P==new` with every other recorded package requested at its baseline version (requested, not
only constrained: pip resolves only what it is asked to install), so pip moves only what P itself needs
(and says so: `also_moved`), or refuses with a reason; `pip check` says what is inconsistent beyond that.
effcheck goes in with --no-deps from this checkout (editable) or at this effcheck's version, so the claims
rerun are this code. The claims rerun with the node ids the runs recorded, from the project root, writing their ledger
with --effcheck-json into the work folder and nothing into the user's history (scratch
--benchmark-storage, effcheck_autosave off). pip and pytest output go to pip.log and pytest-NN.log.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from effcheck.bisect.inputs import ChangedClaim, Outcome, outcome_of
from effcheck.bisect.verdicts import Installed
from effcheck.errors import EffcheckError

Run = Callable[..., "subprocess.CompletedProcess[str]"]


def canonical(name: str) -> str:
    """A distribution name as pip compares them (PEP 503): lower case, runs of -_. as one -."""
    return re.sub(r"[-_.]+", "-", name).lower()


_REQUIREMENT_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def filter_constraints(lines: Sequence[str], drop: Sequence[str]) -> list[str]:
    """A user's constraint lines without those naming the packages bisect pins itself."""
    dropped = {canonical(n) for n in drop}
    kept = []
    for line in lines:
        match = _REQUIREMENT_NAME.match(line.split("#", 1)[0])
        if match and canonical(match.group(1)) in dropped:
            continue
        kept.append(line)
    return kept


def pin(name: str, version: str) -> str:
    """A requirement for exactly this recorded version. A version without a local label pins with `===`:
    pip reads `torch==2.13.0` as also admitting 2.13.0+cpu (and prefers it), a different build."""
    return f"{name}=={version}" if "+" in version else f"{name}==={version}"


def pip_reason(output: str) -> str:
    """pip's reason for refusing, in one line: the dependency that conflicts, or its first error."""
    lines = [ln.rstrip() for ln in output.splitlines()]
    if "The conflict is caused by:" in (ln.strip() for ln in lines):
        start = [ln.strip() for ln in lines].index("The conflict is caused by:") + 1
        block = []
        for ln in lines[start:]:
            if not ln.strip():
                break
            block.append(ln.strip())
        causes = [ln for ln in block if not ln.startswith("The user requested")] or block
        if causes:
            return "; ".join(dict.fromkeys(causes))
    errors = [ln.strip()[len("ERROR:"):].strip() for ln in lines if ln.strip().startswith("ERROR:")]
    if errors:
        return re.sub(r" \(from versions: [^)]*\)", "", errors[0])
    tail = [ln.strip() for ln in lines if ln.strip() and not ln.strip().startswith("WARNING:")]
    return tail[-1] if tail else "pip failed without saying why"


def moved_text(before: Mapping[str, str], after: Mapping[str, str], skip: Sequence[str] = ()) -> tuple[str, ...]:
    """Distributions whose versions differ between two `pip list`s ("huggingface-hub 2.4.0 -> 2.5.0")."""
    skipped = {canonical(n) for n in skip}
    names = sorted(set(before) | set(after))
    return tuple(f"{n} {before.get(n, 'absent')} -> {after.get(n, 'absent')}" for n in names
                 if n not in skipped and before.get(n) != after.get(n))


@dataclass(frozen=True)
class ScratchConfig:
    workdir: Path
    rootdir: Path  # where pytest runs: the recorded node ids are relative to it
    python: str  # the interpreter the venv is made from
    effcheck: tuple[str, ...]  # pip arguments installing this effcheck: ("-e", checkout) or ("effcheck==X",)
    tools: tuple[str, ...] = ()  # requirements beside the recorded packages (pytest at this version)
    extra: tuple[str, ...] = ()  # --with: further pip arguments for the baseline environment
    constraints: tuple[str, ...] = ()  # the user's constraint lines (those naming recorded packages dropped)
    pytest_args: tuple[str, ...] = ()
    device: str | None = None
    timeout: float | None = None  # seconds per pytest run


class ScratchRunner:
    def __init__(self, config: ScratchConfig, log: Callable[[str], None] = lambda line: None,
                 run: Run = subprocess.run) -> None:
        self.config = config
        self.log = log
        self._run = run
        self.venv = config.workdir / "venv"
        self.python = str(self.venv / "bin" / "python")
        self._baseline: dict[str, str | None] = {}
        self._after_setup: dict[str, str] = {}
        self._runs = 0
        self._applied: dict[str, str | None] | None = None  # what the venv holds beyond setup's, if known

    # -- pip ------------------------------------------------------------------------------------------

    def _call(self, args: Sequence[str], log_name: str,
              timeout: float | None = None) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
        env["PATH"] = f"{self.venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
        try:
            done = self._run(list(args), capture_output=True, text=True, env=env, timeout=timeout,
                             cwd=str(self.config.rootdir))
        except subprocess.TimeoutExpired as exc:
            done = subprocess.CompletedProcess(list(args), 124, _text(exc.stdout), _text(exc.stderr) +
                                               f"\nERROR: timed out after {timeout:.0f} s")
        with open(self.config.workdir / log_name, "a", encoding="utf-8") as fh:
            fh.write(f"$ {' '.join(args)}\n{done.stdout}{done.stderr}\n[exit {done.returncode}]\n\n")
        return done

    def _pip(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self._call([self.python, "-m", "pip", *args], "pip.log")

    def installed(self) -> dict[str, str]:
        """canonical name -> version of every distribution in the venv but effcheck."""
        done = self._pip("list", "--format=json")
        if done.returncode != 0:
            raise EffcheckError(f"pip list failed in {self.venv}: {pip_reason(done.stdout + done.stderr)}")
        found = {canonical(d["name"]): str(d["version"]) for d in json.loads(done.stdout or "[]")}
        found.pop("effcheck", None)
        return found

    def _constraints(self, pinned: Mapping[str, str | None]) -> Path:
        path = self.config.workdir / "constraints.txt"
        lines = [pin(n, v) for n, v in pinned.items() if v is not None]
        lines += filter_constraints(self.config.constraints, list(self._baseline))
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    def setup(self, versions: Mapping[str, str | None]) -> Installed:
        start = time.monotonic()
        self._baseline = dict(versions)
        self.config.workdir.mkdir(parents=True, exist_ok=True)
        made = self._call([self.config.python, "-m", "venv", str(self.venv)], "pip.log")
        if made.returncode != 0:
            return Installed(False, f"python -m venv failed: {pip_reason(made.stdout + made.stderr)}",
                             seconds=time.monotonic() - start)
        wanted = [pin(n, v) for n, v in versions.items() if v is not None]
        done = self._pip("install", *wanted, *self.config.tools, *self.config.extra,
                         "-c", str(self._constraints(versions)))
        if done.returncode == 0:
            done = self._pip("install", "--no-deps", *self.config.effcheck)
        if done.returncode != 0:
            return Installed(False, pip_reason(done.stdout + done.stderr), seconds=time.monotonic() - start)
        self._after_setup = self.installed()
        return Installed(True, seconds=time.monotonic() - start, warning=self._check())

    def _restore(self) -> str:
        """Put the venv back as setup left it; '' or pip's reason for failing."""
        now = self.installed()
        extra = [n for n in now if n not in self._after_setup]
        if extra:
            done = self._pip("uninstall", "-y", *extra)
            if done.returncode != 0:
                return pip_reason(done.stdout + done.stderr)
        changed = [pin(n, v) for n, v in self._after_setup.items() if now.get(n) != v]
        if changed:
            done = self._pip("install", "--no-deps", *changed)
            if done.returncode != 0:
                return pip_reason(done.stdout + done.stderr)
        return ""

    def apply(self, moved: Mapping[str, str | None]) -> Installed:
        start = time.monotonic()
        applied, self._applied = self._applied, None
        # a superset of what the venv holds builds on it: putting torch back only to move it again costs
        # minutes, and pip moves a further package's dependencies as it would from the baseline
        nested = applied is not None and all(moved.get(n, "?") == v for n, v in applied.items())
        why = "" if nested else self._restore()
        if why:
            return Installed(False, f"could not restore the baseline's environment: {why}",
                             seconds=time.monotonic() - start)
        pinned = {n: v for n, v in self._baseline.items() if n not in moved}
        removed = [n for n, v in moved.items() if v is None]
        if removed:
            done = self._pip("uninstall", "-y", *removed)
            if done.returncode != 0:
                return Installed(False, pip_reason(done.stdout + done.stderr), seconds=time.monotonic() - start)
        # the pinned packages are requested too, not only constrained: pip resolves only what it is asked to
        # install, so torch==new beside an installed torchvision that needs the old torch would go in with a
        # warning, and the environment measured would be one no user could have
        wanted = [pin(n, v) for n, v in {**moved, **pinned}.items() if v is not None]
        if wanted:
            done = self._pip("install", *wanted, "-c", str(self._constraints(pinned)))
            if done.returncode != 0:
                return Installed(False, pip_reason(done.stdout + done.stderr), seconds=time.monotonic() - start)
        also = moved_text(self._after_setup, self.installed(), skip=list(moved))
        self._applied = dict(moved)
        return Installed(True, also_moved=also, seconds=time.monotonic() - start, warning=self._check())

    def _check(self) -> str:
        """`pip check`'s complaint about the environment, one line ('' when consistent)."""
        done = self._pip("check")
        if done.returncode == 0:
            return ""
        found = [ln.strip() for ln in done.stdout.splitlines() if ln.strip()]
        return "; ".join(found[:3]) + (f" (and {len(found) - 3} more)" if len(found) > 3 else "")

    # -- pytest ---------------------------------------------------------------------------------------

    def measure(self, claims: Sequence[ChangedClaim]) -> Mapping[str, Outcome]:
        from effcheck.store import load_ledger

        self._runs += 1
        ledger_path = self.config.workdir / f"ledger-{self._runs:02d}.json"
        args = [self.python, "-m", "pytest", *dict.fromkeys(c.nodeid for c in claims), "-q",
                "-p", "no:cacheprovider", "-o", "effcheck_autosave=false",
                f"--benchmark-storage={self.config.workdir / 'storage'}", f"--effcheck-json={ledger_path}"]
        if self.config.device:
            args.append(f"--effcheck-device={self.config.device}")
        args += self.config.pytest_args
        done = self._call(args, f"pytest-{self._runs:02d}.log", timeout=self.config.timeout)
        if not ledger_path.is_file():
            tail = [ln for ln in (done.stdout + done.stderr).splitlines() if ln.strip()][-1:]
            why = f"pytest wrote no ledger (exit {done.returncode}): {tail[0].strip() if tail else 'no output'}"
            return {c.id: Outcome(None, "ERROR", why) for c in claims}
        by_id = load_ledger(ledger_path).by_id()
        return {c.id: outcome_of(by_id.get(c.id)) for c in claims}


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
