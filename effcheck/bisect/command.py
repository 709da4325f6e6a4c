"""`effcheck bisect`: read the two runs, choose the claims, search in a scratch venv, print the report."""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from effcheck.bisect.inputs import ChangedClaim
from effcheck.errors import UsageError

ARGUMENTS_HELP = {
    "rootdir": "the project root pytest ran in: the recorded test node ids are relative to it (default .)",
    "workdir": "the scratch folder (venv, pip and pytest logs, ledgers); must be empty or absent. "
               "Default: a new temporary folder, removed afterwards unless --keep",
    "keep": "keep the scratch folder (always kept when --workdir is given)",
    "constraint": "pip constraints file for the packages the runs did not record (its lines for recorded "
                  "packages are ignored: bisect pins those itself); repeatable",
    "with": "a further pip requirement for the scratch environment, what your tests import beyond the recorded "
            "packages (--with ./mypkg, --with '-r requirements-test.txt'); repeatable",
    "pytest_arg": "a further pytest argument for each rerun (--pytest-arg=--effcheck-weights=/w); repeatable",
    "device": "--effcheck-device for the reruns (default: the device the baseline recorded)",
    "tests": "where the claims' tests are now, for claims whose recorded test file is not under --rootdir (a "
             "suite moved or renamed): collected here (nothing runs) to find each claim's test by its id; repeatable",
    "python": "the interpreter the scratch venv is made from (default: the one running effcheck)",
    "max_trials": "at most this many environments in all (default 24)",
    "timeout": "seconds allowed per rerun of the claims (default: no limit)",
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("baseline", help="the baseline run: a path, 'latest' or its number (0003)")
    p.add_argument("run", help="the run whose claims moved: a path, 'latest' or its number")
    p.add_argument("claims", nargs="*", metavar="CLAIM",
                   help="claim ids or patterns to bisect (default: every exact claim whose value differs)")
    p.add_argument("--rootdir", default=".", help=ARGUMENTS_HELP["rootdir"])
    p.add_argument("--tests", action="append", default=[], metavar="PATH", help=ARGUMENTS_HELP["tests"])
    p.add_argument("--workdir", help=ARGUMENTS_HELP["workdir"])
    p.add_argument("--keep", action="store_true", help=ARGUMENTS_HELP["keep"])
    p.add_argument("--constraint", action="append", default=[], metavar="FILE", help=ARGUMENTS_HELP["constraint"])
    p.add_argument("--with", dest="with_", action="append", default=[], metavar="REQ", help=ARGUMENTS_HELP["with"])
    p.add_argument("--pytest-arg", action="append", default=[], metavar="ARG", help=ARGUMENTS_HELP["pytest_arg"])
    p.add_argument("--device", help=ARGUMENTS_HELP["device"])
    p.add_argument("--python", help=ARGUMENTS_HELP["python"])
    p.add_argument("--max-trials", type=int, default=24, help=ARGUMENTS_HELP["max_trials"])
    p.add_argument("--timeout", type=float, help=ARGUMENTS_HELP["timeout"])


def effcheck_requirement() -> tuple[str, ...]:
    """pip arguments installing the effcheck that runs this: its checkout (editable), or its version."""
    import effcheck

    root = Path(effcheck.__file__).resolve().parent.parent
    pyproject = root / "pyproject.toml"
    if pyproject.is_file() and 'name = "effcheck"' in pyproject.read_text(encoding="utf-8"):
        return ("-e", str(root))
    return (f"effcheck=={effcheck.__version__}",)


def test_tools(effcheck: tuple[str, ...]) -> tuple[str, ...]:
    """What the reruns need beside the recorded packages: pytest at this version, and for effcheck's own
    suite (effcheck installed from its checkout) hypothesis, which the checkout's root conftest imports."""
    from importlib.metadata import PackageNotFoundError, version

    tools = [f"pytest=={version('pytest')}"]
    if effcheck[:1] == ("-e",):
        try:
            tools.append(f"hypothesis=={version('hypothesis')}")
        except PackageNotFoundError:
            tools.append("hypothesis")
    return tuple(tools)


def _interpreter() -> str:
    return str(getattr(sys, "_base_executable", "") or sys.executable)


def _work_folder(given: str | None) -> tuple[Path, bool]:
    """The scratch folder and whether bisect made it (and may remove it)."""
    if given is None:
        return Path(tempfile.mkdtemp(prefix="effcheck-bisect-")), True
    path = Path(given)
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise UsageError(f"--workdir {given} is not an empty folder: give a new or empty one")
    path.mkdir(parents=True, exist_ok=True)
    return path, False


def _read_lines(files: list[str]) -> tuple[str, ...]:
    lines: list[str] = []
    for name in files:
        try:
            lines += Path(name).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise UsageError(f"--constraint {name}: cannot read it ({exc.strerror or exc})") from exc
    return tuple(lines)


def locate_tests(claims: Sequence[ChangedClaim], rootdir: Path,
                 tests: Sequence[str]) -> tuple[tuple[ChangedClaim, ...], tuple[str, ...]]:
    """The claims with a test to rerun: their recorded node id when its file is under rootdir, else the test
    that carries the claim id under `tests` (collected); and a note naming those found nowhere."""
    lost = [c for c in claims if not (rootdir / c.nodeid.split("::", 1)[0]).is_file()]
    if not lost:
        return tuple(claims), ()
    now: dict[str, str] = {}
    if tests:
        from effcheck.discover import claims_in

        now = {f.claim.id: f.nodeid for f in claims_in([*tests, f"--rootdir={rootdir}"])}
    found = {c.id: dataclasses.replace(c, nodeid=now[c.id]) for c in lost if c.id in now}
    missing = [c for c in lost if c.id not in now]
    where = f"nor under {' '.join(tests)}" if tests else "(give --tests PATH to find them by claim id)"
    note = (f"not rerun, their recorded tests are not under {rootdir} {where}: "
            + ", ".join(f"{c.id} ({c.nodeid})" for c in missing)) if missing else ""
    kept = tuple(found.get(c.id, c) for c in claims if c not in missing)
    return kept, (note,) if note else ()


def run_bisect(args: argparse.Namespace, warn: Callable[[str], None]) -> int:
    from effcheck.bisect.inputs import Selection, fixed_differences, package_changes, recorded_packages, select_claims
    from effcheck.bisect.scratch import ScratchConfig, ScratchRunner
    from effcheck.bisect.search import search
    from effcheck.bisect.table import Context, render
    from effcheck.store import load_ledger, resolve_run

    start = time.monotonic()
    base_path, run_path = resolve_run(args.baseline, args.storage, warn), resolve_run(args.run, args.storage, warn)
    baseline, run = load_ledger(base_path), load_ledger(run_path)
    names = base_path.stem.split("_", 1)[0], run_path.stem.split("_", 1)[0]
    if args.max_trials < 1:
        raise UsageError("--max-trials must be at least 1")
    rootdir = Path(args.rootdir)
    if not rootdir.is_dir():
        raise UsageError(f"--rootdir {args.rootdir} is not a folder")
    selection = select_claims(baseline, run, args.claims)
    changes = package_changes(baseline.environment, run.environment)
    fixed = fixed_differences(baseline.environment, run.environment)
    if not selection.claims or not changes:
        for note in selection.notes:
            print(note)
    if not selection.claims:
        print(f"nothing to bisect: no exact claim differs between runs {names[0]} and {names[1]}"
              + ("" if args.claims else " (name claims to bisect them anyway)"))
        return 0
    if not changes:
        print(f"runs {names[0]} and {names[1]} recorded the same package versions: nothing for pip to bisect; "
              f"{len(selection.claims)} claim(s) moved with the project's own code or something not recorded"
              + (f" ({', '.join(fixed)})" if fixed else ""))
        return 0
    located, lost = locate_tests(selection.claims, rootdir.resolve(), args.tests)
    if not located:
        raise UsageError(f"{lost[0]}; --rootdir is the folder the runs' pytest ran in")
    selection = Selection(located, selection.notes + lost)
    constraints = _read_lines(args.constraint)
    workdir, made = _work_folder(args.workdir)
    keep = args.keep or not made
    device = args.device or str(baseline.environment.get("device") or "") or None
    effcheck = effcheck_requirement()
    config = ScratchConfig(workdir=workdir.resolve(), rootdir=rootdir.resolve(), python=args.python or _interpreter(),
                           effcheck=effcheck, tools=test_tools(effcheck),
                           extra=tuple(token for spec in args.with_ for token in shlex.split(spec)),
                           constraints=constraints, pytest_args=tuple(args.pytest_arg),
                           device=device, timeout=args.timeout)

    def log(line: str) -> None:
        print(f"effcheck bisect: {line}", file=sys.stderr, flush=True)

    log(f"scratch folder {workdir}; {len(selection.claims)} claim(s), "
        f"{len(changes)} package(s): {', '.join(c.text() for c in changes)}")
    try:
        found = search(selection.claims, changes, recorded_packages(baseline.environment),
                       ScratchRunner(config, log), log, args.max_trials)
    finally:
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)
    context = Context(names[0], names[1], changes, fixed, selection.notes, found.skipped,
                      time.monotonic() - start, str(workdir), keep)
    print(render(selection.claims, found.trials, context))
    return 0
