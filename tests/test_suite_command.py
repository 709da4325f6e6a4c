"""`effcheck suite`: the article's claim suite from the installed package, in any folder, with pytest's
arguments passed through; the same claims as `pytest benchmarks/` in a clone."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from effcheck.suite_command import pytest_args, suite_dir

ROOT = Path(__file__).resolve().parent.parent

TIER = "not timed and not slow and not gpu and not weights"

# the claim ids each collected test carries (what the history is keyed by), and its markers
COLLECT = """
import json, sys, pytest
class Ids:
    def __init__(self): self.ids = {}
    def pytest_collection_modifyitems(self, items):
        for item in items:
            self.ids[item.nodeid] = {"claims": [c.id for m in item.iter_markers("claim") for c in m.args],
                                     "markers": sorted({m.name for m in item.iter_markers()} - {"claim"})}
ids = Ids()
code = pytest.main(["--collect-only", "-q", "-p", "no:cacheprovider", *sys.argv[1:]], plugins=[ids])
print("IDS:" + json.dumps(ids.ids))
sys.exit(int(code))
"""


def _collect(cwd: Path, *args: str) -> dict[str, dict]:
    out = subprocess.run([sys.executable, "-c", COLLECT, *args], cwd=cwd, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    return json.loads([ln for ln in out.stdout.splitlines() if ln.startswith("IDS:")][-1].removeprefix("IDS:"))


def _effcheck(cwd: Path, *args: str, hide_torch: bool = False) -> subprocess.CompletedProcess[str]:
    hide = "import sys\nsys.modules['torch'] = None  # as if torch were not installed\n" if hide_torch else ""
    code = f"{hide}from effcheck.cli import main\nraise SystemExit(main({list(args)!r}))\n"
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


def _by_claim(collected: dict[str, dict]) -> dict[str, tuple[str, ...]]:
    return {cid: tuple(item["markers"]) for item in collected.values() for cid in item["claims"]}


def test_pyargs_collects_the_same_claims_with_the_same_markers_as_the_clones_benchmarks(tmp_path):
    """The history is keyed by claim id: the shipped suite and the clone's shims must carry the same ones."""
    shipped = _collect(tmp_path, "--pyargs", "effcheck.suite")  # from an empty folder
    clone = _collect(ROOT, "benchmarks")
    assert len(shipped) == len(clone) > 100
    assert _by_claim(shipped) == _by_claim(clone)
    # the shims keep the node ids, each test once: benchmarks/test_x.py::t is effcheck.suite.test_x's t
    assert all(n.startswith("benchmarks/test_") for n in clone)
    assert sorted(n.removeprefix("benchmarks/") for n in clone) == sorted(n.split("/")[-1] for n in shipped)


def test_every_suite_module_has_its_shim():
    shipped = sorted(p.name for p in suite_dir().glob("test_*.py"))
    assert shipped == sorted(p.name for p in (ROOT / "benchmarks").glob("test_*.py"))
    for name in shipped:
        assert f"from effcheck.suite.{name.removesuffix('.py')} import *" in (ROOT / "benchmarks" / name).read_text()


def test_help_says_how_to_run_it_and_imports_no_torch(tmp_path):
    out = _effcheck(tmp_path, "suite", "--help", hide_torch=True)  # help works where torch is not installed
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("usage: effcheck suite [PYTEST ARGS]")
    assert f'-m "{TIER}"' in out.stdout and "pip install 'effcheck[all]'" in out.stdout
    listed = _effcheck(tmp_path, "--help")
    assert "suite" in listed.stdout and listed.returncode == 0


def test_without_torch_it_says_which_extra_to_install_in_one_line(tmp_path):
    out = _effcheck(tmp_path, "suite", "-m", TIER, hide_torch=True)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr == ("effcheck: error: torch is not installed, and the article suite runs on it: "
                          "pip install 'effcheck[all]'\n")
    assert list(tmp_path.iterdir()) == []  # nothing ran, nothing saved


def test_pytest_arguments_pass_through_after_the_suites_config(tmp_path):
    args = ["-m", TIER, "-k", "gqa", "-n", "2", "--benchmark-compare", "--effcheck-device=cuda"]
    # untouched and in order, after the suite's own: the user's come last, so a user's -c or --rootdir wins
    assert pytest_args(args, tmp_path) == ["-c", str(suite_dir() / "suite.ini"), f"--rootdir={tmp_path}",
                                           "--pyargs", "effcheck.suite", *args]


def test_it_runs_from_an_empty_folder_and_saves_where_the_storage_option_says(tmp_path):
    work, history = tmp_path / "work", tmp_path / "history"
    work.mkdir()
    out = _effcheck(work, "suite", "-q", "-m", TIER, "-k", "efficientnet_params",
                    f"--benchmark-storage=file://{history}")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert "warning" not in out.stdout.lower()  # exit 0: every test passed, or xfailed as recorded refuted
    (saved,) = history.rglob("0001_*.json")
    ids = [r["claim"]["id"] for r in json.loads(saved.read_text())["effcheck"]["results"]]
    assert len(ids) == 8 and all(i.startswith("vision/efficientnet_b") for i in ids)
    assert not (work / ".benchmarks").exists()  # the storage option was obeyed
    assert not list(suite_dir().glob(".pytest_cache"))  # nothing written into the installed package


@pytest.mark.parametrize("marker", ["-m", "-k"])
def test_a_selection_that_matches_nothing_is_pytests_exit_5(tmp_path, marker):
    out = _effcheck(tmp_path, "suite", "-q", marker, "no_such_thing_anywhere", "-p", "no:cacheprovider")
    assert out.returncode == 5, out.stdout[-2000:]
