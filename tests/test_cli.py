"""`effcheck` the way users run it; errors are one line with exit status 2, files are never modified."""

import json
import subprocess
import sys

import pytest

from effcheck.cli import main
from effcheck.records import SCHEMA_VERSION, Claim, ClaimResult, Ledger, Measurement, Verdict


def _ledger(value, key="cpu-key", samples=()):
    claim = Claim(id="fam/x", statement="X is small", source="paper", metric="ratio", unit="x",
                  comparison=">=", expected=1.0, better="higher", noisy=bool(samples))
    result = ClaimResult(claim, Verdict.PASS, "ok", Measurement(value, "x", "counted", samples=samples), "t::x")
    return Ledger((result,), {"device": "cpu"}, key, "2026-11-28T10:00:00+00:00", "0.1.0")


def _save(storage, number, ledger):
    folder = storage / "Linux-CPython-3.11-64bit"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{number}_abc.json"
    path.write_text(json.dumps({"datetime": f"2026-11-28T10:{number[-2:]}:00", "benchmarks": [],
                                "effcheck": ledger.to_dict()}))
    return path


@pytest.fixture
def storage(tmp_path):
    return tmp_path / ".benchmarks"


def test_help_lists_commands():
    out = subprocess.run([sys.executable, "-m", "effcheck", "--help"], capture_output=True, text=True, check=True)
    for command in ("list", "report", "compare", "history"):
        assert command in out.stdout


def test_list_shows_claims_with_sources(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "vision/efficientnet_b0/params_vs_resnet50" in out and "source:" in out


def test_report_latest_text_and_markdown(storage, capsys):
    _save(storage, "0001", _ledger(2.0))
    _save(storage, "0002", _ledger(3.0))
    assert main(["report", "--storage", str(storage)]) == 0
    assert "0002_abc" in capsys.readouterr().out
    assert main(["report", "1", "--storage", str(storage), "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    assert "| `fam/x` |" in out and "**PASS**" in out


def test_compare_exit_codes_and_files_untouched(storage, capsys):
    a = _save(storage, "0001", _ledger(2.0))
    b = _save(storage, "0002", _ledger(1.5))
    before = {p: p.read_bytes() for p in (a, b)}
    assert main(["compare", "0001", "0002", "--storage", str(storage)]) == 1
    assert "fam/x: regression" in capsys.readouterr().out
    assert main(["compare", "0002", "0001", "--storage", str(storage)]) == 0
    assert main(["compare", "0002", "0001", "--storage", str(storage), "--fail-on-improvement"]) == 1
    # an override never loosens an exact metric: only acceptance moves it
    assert main(["compare", "0001", "0002", "--storage", str(storage), "--compare-fail", "30%"]) == 1
    assert {p: p.read_bytes() for p in (a, b)} == before


@pytest.mark.parametrize("case, expected", [
    ("corrupt", "not valid JSON"),
    ("newer", "newer effcheck"),
    ("missing", "no run '0042'"),
    ("tolerance", "does not parse"),
    ("plain", "without effcheck results"),
])
def test_bad_input_is_one_line_with_status_2(storage, capsys, case, expected):
    _save(storage, "0001", _ledger(2.0))
    other = "0002"
    if case == "corrupt":
        (storage / "Linux-CPython-3.11-64bit" / "0002_abc.json").write_text("{oops")
    elif case == "newer":
        data = _ledger(2.0).to_dict()
        data["schema_version"] = SCHEMA_VERSION + 1
        newer = json.dumps({"benchmarks": [], "effcheck": data})
        (storage / "Linux-CPython-3.11-64bit" / "0002_abc.json").write_text(newer)
    elif case == "missing":
        other = "0042"
    elif case == "tolerance":
        _save(storage, "0002", _ledger(2.0))
    elif case == "plain":
        (storage / "Linux-CPython-3.11-64bit" / "0002_abc.json").write_text(json.dumps({"benchmarks": []}))
    extra = ["--compare-fail", "lots"] if case == "tolerance" else []
    assert main(["compare", "0001", other, "--storage", str(storage), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("effcheck: error:") and expected in err and "\n" not in err


def test_history_skips_a_bad_file_naming_it(storage, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    pytest.importorskip("jinja2")
    _save(storage, "0001", _ledger(2.0, samples=(1.9, 2.0, 2.1)))
    _save(storage, "0002", _ledger(2.2, samples=(2.1, 2.2, 2.3)))
    (storage / "Linux-CPython-3.11-64bit" / "0003_abc.json").write_text("{bad")  # skipped, named
    out = tmp_path / "hist"
    assert main(["history", "--storage", str(storage), "--out", str(out)]) == 0
    assert "fam/x" in (out / "index.html").read_text()
    err = capsys.readouterr().err
    assert "skipping" in err and "0003_abc.json" in err


def test_version_is_the_packages():
    from effcheck import __version__

    out = subprocess.run([sys.executable, "-m", "effcheck", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"effcheck {__version__}"


def test_list_over_a_test_path_finds_claims_written_in_test_files(tmp_path, capsys, monkeypatch):
    (tmp_path / "test_mine.py").write_text(
        "import pytest\nfrom effcheck import Claim\n"
        "C = Claim(id='mine/x', statement='x is 3', source='our doc', metric='x', unit='u', comparison='==', "
        "expected=3, applies_to='NVIDIA H200')\n"
        "@pytest.mark.claim(C)\ndef test_x(): pass\n"
        "def test_no_claim(): pass\n")
    monkeypatch.chdir(tmp_path)
    assert main(["list", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "mine/x" in out and "source: our doc" in out and "applies to: NVIDIA H200" in out
    assert "test_mine.py::test_x" in out and "vision/" not in out


def test_list_over_a_path_that_does_not_collect_is_one_line(tmp_path, capsys, monkeypatch):
    (tmp_path / "test_broken.py").write_text("import not_a_module_anywhere\n")
    monkeypatch.chdir(tmp_path)
    assert main(["list", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("effcheck: error: could not collect") and "\n" not in err



def test_a_run_saved_by_an_older_effcheck_with_an_infinite_change_still_reports(storage, capsys, tmp_path):
    # effcheck before 0.x wrote a move from zero's relative change as the string "inf"
    delta = {"claim_id": "fam/x", "status": "improvement", "message": "fam/x: improvement", "baseline_run": "0001_abc",
             "baseline_value": 0, "current_value": 2.0, "unit": "x", "change": "inf", "tolerance": 0.0}
    ledger = _ledger(2.0)
    run = Ledger(ledger.results, ledger.environment, ledger.hardware_key, ledger.created, "0.1.0",
                 {"gated": True, "baseline": None, "deltas": [delta]})
    _save(storage, "0001", _ledger(0.0))
    _save(storage, "0002", run)
    assert main(["report", "--format", "markdown", "--storage", str(storage)]) == 0
    assert "| `fam/x` | improvement | 0 | 2 x | from zero |" in capsys.readouterr().out
    pytest.importorskip("matplotlib")
    pytest.importorskip("jinja2")
    assert main(["history", "--out", str(tmp_path / "dash"), "--storage", str(storage)]) == 0
    assert "improvement from zero" in (tmp_path / "dash" / "index.html").read_text()


def test_the_markdown_headline_names_the_upgrade_of_a_run_judged_against_per_claim_baselines(tmp_path, capsys):
    """A plain or gated run has no pinned baseline: each delta records its own baseline's version diff, and the
    headline said 'environment unchanged' while a transformers upgrade moved a fact."""
    from effcheck.gate import Delta, Status

    delta = Delta("fam/x", Status.REGRESSION, "fam/x: regression", "0001_abc", 2.0, 1.0, "x", -0.5,
                  environment_change="torch 2.13.0 -> 2.14.1, transformers 5.24.0 -> 5.25.0")
    ledger = Ledger(_ledger(1.0).results, {"device": "cpu"}, "cpu-key", "2026-11-28T10:00:00+00:00", "0.1.0",
                    comparison={"gated": False, "baseline": None, "deltas": [delta.to_dict()]})
    path = tmp_path / "ledger.json"
    path.write_text(json.dumps(ledger.to_dict()))
    assert main(["report", str(path), "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    assert "environment: torch 2.13.0 -> 2.14.1, transformers 5.24.0 -> 5.25.0" in out
    assert "environment unchanged" not in out
