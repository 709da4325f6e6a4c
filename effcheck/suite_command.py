"""`effcheck suite [PYTEST ARGS]`: the article's claim suite (the package effcheck.suite), run by pytest in the
current folder with every argument passed through.

The suite runs with its own pytest configuration (effcheck/suite/suite.ini) and the current folder as pytest's
rootdir, so it runs the same from any folder and keeps pytest's cache and pytest-benchmark's history
(--benchmark-storage, default ./.benchmarks) there. Imports no torch: where torch is not installed it says
which extra to install, in one line, and exits 2.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Sequence
from pathlib import Path

EXTRA = "pip install 'effcheck[all]'"

HELP = f"""usage: effcheck suite [PYTEST ARGS]

Run the article's claim suite (the package effcheck.suite, installed with effcheck) with pytest, from any
folder: every argument goes to pytest (`pytest --help` lists them; effcheck's options are under "effcheck").
Each run that checks claims is saved in pytest-benchmark's storage, ./.benchmarks unless
--benchmark-storage says otherwise. It needs torch and the ML libraries: {EXTRA}

tiers (README, "Tiers"):
  effcheck suite -m "not timed and not slow and not gpu and not weights"   deterministic claims (add -n 2)
  effcheck suite -m "slow and not timed and not gpu and not weights"       slow deterministic claims
  effcheck suite -m "timed and not gpu and not weights"                    interleaved time ratios on this CPU
  effcheck suite --effcheck-device=cuda                                    everything, on a CUDA device

examples:
  effcheck suite -k efficientnet --benchmark-compare   gate the EfficientNet claims against the saved history
  effcheck suite --collect-only -q                     list the suite's tests
"""


def suite_dir() -> Path:
    """The folder of the installed package effcheck.suite (found without importing its test modules)."""
    spec = importlib.util.find_spec("effcheck.suite")
    assert spec is not None and spec.origin is not None  # effcheck.suite ships with effcheck
    return Path(spec.origin).parent


def pytest_args(args: Sequence[str], cwd: Path) -> list[str]:
    """pytest's command line for `effcheck suite ARGS` run in cwd: the suite's config, then the user's args."""
    folder = suite_dir()
    return ["-c", str(folder / "suite.ini"), f"--rootdir={cwd}", "--pyargs", "effcheck.suite", *args]


def run_suite(args: Sequence[str]) -> int:
    if any(a in ("-h", "--help") for a in args):
        print(HELP, end="")
        return 0
    if importlib.util.find_spec("torch") is None:
        print(f"effcheck: error: torch is not installed, and the article suite runs on it: {EXTRA}", file=sys.stderr)
        return 2
    import subprocess

    # a pytest process of its own: in this one effcheck is already imported, too late for pytest to
    # rewrite the plugin's asserts (PytestAssertRewriteWarning), and the suite's state ends with it
    return subprocess.call([sys.executable, "-m", "pytest", *pytest_args(args, Path(os.getcwd()))])
