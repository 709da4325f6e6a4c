"""Run pytest-benchmark's own test suite without effcheck and with it; fail when the failing tests differ.

    python scripts/peer_parity.py [--scratch DIR] [--logs DIR] [--workers N]

effcheck is a pytest11 plugin: once installed it loads in every pytest run of its environment, so it
must be inert where no claim is used. pytest-benchmark's suite is the sharpest test of that, since it
drives the very plugin effcheck builds on (issue 18, "Peer parity in CI"). This script takes the sdist
of the pytest-benchmark version pinned in constraints/ci.txt, builds one scratch virtualenv with the
test requirements its tox.ini and pyproject.toml name, runs the suite there, installs effcheck into the
same venv (`pip install --no-deps -e`, the core needs no torch) and runs the suite again. Two phases in
one venv because pytester drops PYTEST_ADDOPTS in the suite's inner runs: "without effcheck" can only
mean not installed. Tests that need a service or the network fail or skip alike in both runs; only the
difference counts.

A small plugin of this script's (written into the scratch folder, loaded with -p in both runs) records
the failing test ids and makes the run fit a CI step:
- under pytest-xdist it removes the PYTEST_XDIST_* variables in the workers, which pytester's inner
  runs would inherit and read as "inside xdist" (pytest-benchmark then disables every inner benchmark);
  the suite then runs as it does serially, just two tests at a time;
- it deselects the four timer-calibration tests that each spend 35-90 s in timing loops on a 2-core
  machine (warmup_iterations=10**8, max_time=10); their calibration code runs in the rest of the suite.

Exit status: 0 the same tests fail in both runs; 1 they differ (one line per test, "with effcheck only:
ID" or "without effcheck only: ID"); 2 the setup failed (one line saying why).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONSTRAINTS = ROOT / "constraints" / "ci.txt"
PACKAGE = "pytest-benchmark"
# What the suite needs, from the sdist's tox.ini ([testenv] extras and deps: the pytest and xdist pins
# there are CI's too, constraints/ci.txt holds them) and pyproject.toml's dependency group "dev"
TEST_REQUIREMENTS = ["pygal==3.1.3", "pygaljs==1.0.2", "setuptools>=80", "pytest-xdist",
                     "freezegun>=1.5.5", "nbmake>=1.5.5"]
EXTRAS = "aspect,elasticsearch,histogram"
DESELECT = [f"tests/test_calibration.py::{name}"
            for name in ("test_calibrate", "test_calibrate_fast", "test_calibrate_xfast", "test_calibrate_slow")]
PHASE_TIMEOUT_S = 900

PROBE = '''
"""peer_parity's probe: records failing test ids; see scripts/peer_parity.py."""
import json
import os

for _name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID"):
    os.environ.pop(_name, None)  # pytester's inner runs inherit these and would think they run in xdist

_DESELECT = set(json.loads(os.environ["PEER_PARITY_DESELECT"]))
_failing = set()
_ran = set()


def pytest_collection_modifyitems(config, items):
    dropped = [item for item in items if item.nodeid in _DESELECT]
    if dropped:
        items[:] = [item for item in items if item.nodeid not in _DESELECT]
        config.hook.pytest_deselected(items=dropped)


def pytest_collectreport(report):
    if report.failed:
        _failing.add(f"{report.nodeid} (collection error)")


def pytest_runtest_logreport(report):
    _ran.add(report.nodeid)
    if report.failed:
        _failing.add(report.nodeid if report.when == "call" else f"{report.nodeid} (error in {report.when})")


def pytest_sessionfinish(session):
    if not hasattr(session.config, "workerinput"):  # the controller (or a plain run) has every report
        with open(os.environ["PEER_PARITY_RESULTS"], "w") as out:
            json.dump({"failing": sorted(_failing), "ran": len(_ran)}, out)
'''


class SetupFailure(Exception):
    """A step before the comparison failed; the message is the one-line reason."""


def pinned_version(constraints: Path) -> str:
    for line in constraints.read_text().splitlines():
        match = re.match(rf"^\s*{re.escape(PACKAGE)}\s*==\s*([^\s;#]+)", line, re.IGNORECASE)
        if match:
            return match.group(1)
    raise SetupFailure(f"{constraints} pins no {PACKAGE}==VERSION")


def run(command: list[str | Path], what: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run a setup command; on failure raise SetupFailure naming `what` and pip's last error line."""
    result = subprocess.run([str(part) for part in command], capture_output=True, text=True, cwd=cwd)
    if result.returncode != 0:
        lines = (result.stdout + result.stderr).splitlines()
        errors = [line for line in lines if line.startswith("ERROR")] or lines or [f"exit {result.returncode}"]
        raise SetupFailure(f"{what} failed: {errors[-1].strip()}")
    return result


def fetch_sdist(version: str, scratch: Path) -> Path:
    """Download the sdist (pip's cache makes a rerun fast) and extract it; return the source folder."""
    downloads = scratch / "sdist"
    run([sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps", "-q", "-d", downloads,
         f"{PACKAGE}=={version}"], f"pip download {PACKAGE}=={version}")
    archives = sorted(downloads.glob("*.tar.gz"))
    if len(archives) != 1:
        raise SetupFailure(f"pip download left {len(archives)} .tar.gz files in {downloads}, expected one")
    with tarfile.open(archives[0]) as archive:
        if hasattr(tarfile, "data_filter"):
            archive.extractall(scratch, filter="data")
        else:  # a Python older than the extraction filters (3.10.12, 3.11.4); the sdist comes from PyPI
            archive.extractall(scratch)
    source = scratch / archives[0].name.removesuffix(".tar.gz")
    if not (source / "tests").is_dir():
        raise SetupFailure(f"{archives[0].name} has no tests/ folder at {source.name}/tests")
    return source


def make_venv(version: str, scratch: Path) -> Path:
    """A venv with pytest-benchmark==version and its suite's requirements, constrained like CI's set."""
    venv = scratch / "venv"
    run([sys.executable, "-m", "venv", venv], "python -m venv")
    python = venv / "bin" / "python"
    run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check", "-c", CONSTRAINTS,
         f"{PACKAGE}[{EXTRAS}]=={version}", *TEST_REQUIREMENTS], f"installing {PACKAGE}'s test requirements")
    return python


def effcheck_installed(python: Path) -> bool:
    probe = "from importlib.metadata import entry_points; print(any(e.name == 'effcheck' for e in " \
            "entry_points(group='pytest11')))"
    # run in the venv's bin/: in the repo's root python would find effcheck.egg-info on sys.path[0]
    return run([python, "-c", probe], "reading the venv's pytest plugins", cwd=python.parent).stdout.strip() == "True"


def install_effcheck(python: Path) -> None:
    # no build isolation: the venv has setuptools (the suite needs it), so no build environment to fetch
    run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps",
         "--no-build-isolation", "-e", ROOT], "pip install --no-deps -e effcheck")
    if not effcheck_installed(python):
        raise SetupFailure("effcheck was installed but is not among the venv's pytest11 plugins")


class SuiteCrashed(SetupFailure):
    """pytest ran but did not finish as a test run: a crash, a usage error, no result, the time limit."""


def suite_env(python: Path, source: Path, scratch: Path, results: Path) -> dict[str, str]:
    """The caller's environment less pytest's and Python's settings, plus what tox.ini's [testenv] sets."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PYTHON", "VIRTUAL_ENV"))}
    env.update(  # the venv first on PATH: the suite's CLI tests run its py.test-benchmark script
        PATH=f"{python.parent}{os.pathsep}{env.get('PATH', '')}", COLUMNS="80", PYTHONUNBUFFERED="yes",
        PYTHONPATH=f"{source / 'tests'}{os.pathsep}{scratch}",
        PEER_PARITY_RESULTS=str(results), PEER_PARITY_DESELECT=json.dumps(DESELECT))
    return env


def run_suite(python: Path, source: Path, scratch: Path, log: Path, workers: int) -> tuple[list[str], str]:
    """Run the suite, its output to `log`; return the failing test ids and a one-line summary."""
    results = scratch / f"{log.stem}.json"
    command = [python, "-m", "pytest", "-p", "no:cacheprovider", "-p", "peer_parity_probe", "-q", "-rfE",
               f"--basetemp={scratch / log.stem}"]
    if workers > 1:
        command += ["-n", str(workers)]
    try:
        result = subprocess.run([str(part) for part in command], cwd=source, capture_output=True, text=True,
                                env=suite_env(python, source, scratch, results), timeout=PHASE_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        raise SuiteCrashed(f"pytest ran past {PHASE_TIMEOUT_S} s") from exc
    output = result.stdout + result.stderr
    log.write_text(output)
    if result.returncode not in (0, 1) or not results.exists():  # 0 and 1: the tests ran
        tail = output.strip().splitlines()[-1:] or ["no output"]
        raise SuiteCrashed(f"pytest exited {result.returncode}: {tail[0]}")
    data = json.loads(results.read_text())
    summary = next((line.strip("= ") for line in reversed(result.stdout.splitlines()) if line.strip()), "")
    return data["failing"], f"{data['ran']} tests ran, {len(data['failing'])} failing ({summary})"


def differences(without: list[str], with_: list[str]) -> list[str]:
    return ([f"with effcheck only: {test}" for test in sorted(set(with_) - set(without))]
            + [f"without effcheck only: {test}" for test in sorted(set(without) - set(with_))])


def phase(label: str, python: Path, source: Path, scratch: Path, log: Path, workers: int) -> list[str]:
    start = time.monotonic()
    failing, summary = run_suite(python, source, scratch, log, workers)
    print(f"peer parity: {label} effcheck: {summary}; {time.monotonic() - start:.0f} s", flush=True)
    return failing


def compare(scratch: Path, logs: Path | None, workers: int) -> int:
    """Both runs and their comparison; `logs` keeps the pytest output (None: the scratch folder)."""
    start = time.monotonic()
    version = pinned_version(CONSTRAINTS)
    source = fetch_sdist(version, scratch)
    python = make_venv(version, scratch)
    (scratch / "peer_parity_probe.py").write_text(PROBE)
    if effcheck_installed(python):
        raise SetupFailure("effcheck is already in the scratch venv: the run without it would not be")
    print(f"peer parity: {PACKAGE} {version} sdist and venv ready; {time.monotonic() - start:.0f} s", flush=True)
    log_dir = logs or scratch
    without = phase("without", python, source, scratch, log_dir / "peer-parity-without.log", workers)
    install_effcheck(python)
    try:
        with_ = phase("with", python, source, scratch, log_dir / "peer-parity-with.log", workers)
    except SuiteCrashed as exc:  # the suite ran without effcheck: with it, not finishing is effcheck's doing
        print(f"with effcheck only: {exc}")
        return 1
    for test in sorted(set(without) & set(with_)):
        print(f"fails in both runs: {test}")
    lines = differences(without, with_)
    if lines:
        print(*lines, sep="\n")
    verdict = f"{len(lines)} tests differ" if lines else "the same tests fail with and without effcheck"
    print(f"peer parity: {verdict} ({len(set(without) & set(with_))} fail in both); "
          f"{time.monotonic() - start:.0f} s in all" + (f"; pytest's output: {logs}/peer-parity-*.log" if logs else ""))
    return 1 if lines else 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scratch", type=Path, help="keep the sdist, the venv and the pytest logs in DIR "
                                                     "(emptied first); default a temporary folder, removed after")
    parser.add_argument("--logs", type=Path, help="write the two runs' pytest output to "
                                                  "DIR/peer-parity-{without,with}.log (default: the scratch folder)")
    parser.add_argument("--workers", type=int, default=2, help="pytest-xdist workers (1: serial); default 2")
    args = parser.parse_args(argv)
    try:
        if args.logs is not None:
            args.logs.mkdir(parents=True, exist_ok=True)
        if args.scratch is None:
            with tempfile.TemporaryDirectory(prefix="peer-parity-") as scratch:
                return compare(Path(scratch), args.logs and args.logs.resolve(), args.workers)
        if args.scratch.exists():
            shutil.rmtree(args.scratch)
        args.scratch.mkdir(parents=True)
        return compare(args.scratch.resolve(), (args.logs or args.scratch).resolve(), args.workers)
    except SetupFailure as exc:
        print(f"peer parity: setup failed: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
