"""`effcheck history`: one self-contained page from a storage with several scopes, version changes, timed and
exact claims and sweeps; bad --out and empty storage in one line; rendered in a real headless Chromium."""

import datetime as dt
import json
import re
import shutil
import subprocess

import pytest
from hypothesis import given
from hypothesis import strategies as st

from effcheck.cli import main
from effcheck.records import Claim, ClaimResult, Ledger, Measurement, Verdict
from effcheck.timeline import ACCEPTABLE, Run, scope_history, version_changes

CPU = "AMD EPYC|cpu|torch2.14|float32"
GPU = "NVIDIA H200|cuda12.8|torch2.14|float32"

EXACT = Claim(id="vision/net/params_ratio", statement="A has 5x fewer parameters than B", source="paper T2",
              metric="params ratio", unit="x", comparison=">=", expected=5.0, margin=0.05, better="higher")
TIMED = Claim(id="vision/net/speedup", statement="A is 2x faster than B", source="article §3", metric="time ratio",
              unit="x", comparison=">=", expected=2.0, better="higher", noisy=True)
SWEEP = Claim(id="sequence/rwkv/memory_flat", statement="RWKV's memory does not grow", source="article §4",
              metric="peak growth", unit="x", comparison="<=", expected=1.0, margin=0.01, better="lower")
GROWS = Claim(id="sequence/transformer/memory_grows", statement="a Transformer's KV cache grows",
              source="suite", metric="peak growth", unit="x", comparison=">=", expected=2.0, better="higher")
SKIPPED = Claim(id="sequence/rwkv/memory_flat_cuda_fp16", statement="flat on CUDA too", source="article §4",
                metric="peak growth", unit="x", comparison="<=", expected=1.0, better="lower")


def _ledger(run, key=CPU, torch="2.14.1", exact=4.9, timed=2.3, verdict=Verdict.PASS, comparison=None):
    env = {"device": "cpu", "python": "3.11.7", "libraries": {"torch": torch, "timm": "1.0.11", "rwkv": None}}
    results = (
        ClaimResult(EXACT, Verdict.FAIL if exact < 4.75 else Verdict.PASS, "x",
                    Measurement(exact, "x", "exact parameter counts"), "t::exact"),
        ClaimResult(TIMED, verdict, "x", Measurement(timed, "x", "interleaved A/B",
                                                     samples=(timed - 0.2, timed, timed + 0.3)), "t::timed"),
        ClaimResult(SWEEP, Verdict.PASS, "x", Measurement(1.0, "x", "peak sweep",
                                                          series=((16, 1000), (64, 1000), (256, 1000))), "t::s"),
        ClaimResult(GROWS, Verdict.PASS, "x", Measurement(3.5, "x", "peak sweep",
                                                          series=((16, 1000), (64, 1600), (256, 3500))), "t::g"),
        ClaimResult(SKIPPED, Verdict.SKIP, "no CUDA", None, "t::c"),
    )
    created = f"2026-11-{20 + run:02d}T10:00:00+00:00"
    return Ledger(results, env, key, created, "0.1.0", comparison)


def _save(storage, number, ledger, folder="Linux-CPython-3.11-64bit"):
    path = storage / folder / f"{number}_abc.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"datetime": ledger.created, "benchmarks": [], "effcheck": ledger.to_dict()}))
    return path


@pytest.fixture
def storage(tmp_path):
    root = tmp_path / ".benchmarks"
    _save(root, "0001", _ledger(1, torch="2.13.0"))
    _save(root, "0002", _ledger(2, torch="2.13.0", timed=2.2))
    _save(root, "0003", _ledger(3, exact=4.7, timed=1.4, verdict=Verdict.FAIL))  # upgrade; fails: never a baseline
    delta = {"claim_id": TIMED.id, "status": "regression", "message": "m", "baseline_run": "0002_abc",
             "baseline_value": 2.2, "current_value": 1.5, "unit": "x", "change": -0.318, "tolerance": 0.2}
    _save(root, "0004", _ledger(4, exact=4.7, timed=1.5, verdict=Verdict.FAIL,
                                comparison={"baseline": "x", "deltas": [delta]}))
    _save(root, "0001", _ledger(2, key=GPU, timed=5.0), folder="Linux-CPython-3.11-64bit-h200")
    return root


def _snapshot(root):
    return {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_history_writes_one_self_contained_page_with_every_scope(storage, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    pytest.importorskip("jinja2")
    before = _snapshot(storage)
    out = tmp_path / "dash"
    assert main(["history", "--storage", str(storage), "--out", str(out)]) == 0
    assert "5 runs, 2 hardware scopes" in capsys.readouterr().out
    assert [p.name for p in out.iterdir()] == ["index.html"]
    page = (out / "index.html").read_text()
    sources = re.findall(r'(?:src|href)="([^"#]*)"', page)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources), "nothing links outside"
    assert "<script" not in page and "http://" not in page.replace("http-equiv", "")
    assert page.index("Status &middot; <code>AMD EPYC") < page.index('<section class="family"')  # grid first
    assert f"Status &middot; <code>{GPU}</code>" in page
    assert "torch 2.13.0 -&gt; 2.14.1" in page  # the version change, labelled
    assert "regression -31.8%" in page  # the change the newest run recorded against its baseline
    assert "Inference memory against generated length" in page  # the sweeps, drawn as the article draws them
    assert _snapshot(storage) == before, "reading the storage never modifies it"


def test_baseline_is_the_newest_earlier_run_that_did_not_fail():
    runs = [Run(f"000{i}_abc", dt.datetime(2026, 11, 20 + i, tzinfo=dt.timezone.utc),
                _ledger(i, exact=4.7 if i == 3 else 4.9)) for i in (1, 2, 3)]
    runs.append(Run("0004_abc", dt.datetime(2026, 11, 24, tzinfo=dt.timezone.utc), _ledger(4)))
    history = {h.claim.id: h for h in scope_history(CPU, runs).claims}
    exact = history[EXACT.id]
    assert exact.baseline_run == "0002_abc"  # 0003 failed the claim: skipped over
    assert exact.delta is not None and exact.delta.status.value == "unchanged"
    skipped = history[SKIPPED.id]
    assert skipped.baseline_run is None and [p.value for p in skipped.points] == [None] * 4


@given(st.lists(st.sampled_from(list(Verdict)), min_size=2, max_size=8))
def test_a_failing_or_unmeasured_run_is_never_a_baseline(verdicts):
    runs = []
    for i, verdict in enumerate(verdicts):
        measured = verdict not in (Verdict.SKIP, Verdict.ERROR)
        result = ClaimResult(EXACT, verdict, "x", Measurement(5.0, "x", "count") if measured else None)
        created = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(hours=i)
        runs.append(Run(f"{i:04d}_r", created, Ledger((result,), {}, CPU, created.isoformat())))
    (history,) = scope_history(CPU, runs).claims
    acceptable = [r.name for r, v in zip(runs[:-1], verdicts[:-1], strict=True) if v in ACCEPTABLE]
    assert history.baseline_run == (acceptable[-1] if acceptable else None)


def test_version_changes_name_each_library_that_moved():
    before = {"python": "3.11.7", "libraries": {"torch": "2.13.0", "timm": "1.0.11", "peft": None}}
    after = {"python": "3.11.7", "libraries": {"torch": "2.14.1", "timm": "1.0.11", "peft": "0.12.0"}}
    assert version_changes(before, after) == ("peft absent -> 0.12.0", "torch 2.13.0 -> 2.14.1")
    assert version_changes(after, after) == ()


@pytest.mark.parametrize("case", ["existing file", "under a file"])
def test_bad_out_is_one_line_and_writes_nothing(storage, tmp_path, capsys, case):
    blocker = tmp_path / "taken"
    blocker.write_text("mine")
    out = blocker if case == "existing file" else blocker / "dash"
    assert main(["history", "--storage", str(storage), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("effcheck: error: --out") and "\n" not in err
    assert blocker.read_text() == "mine"


def test_empty_storage_is_one_line(tmp_path, capsys):
    assert main(["history", "--storage", str(tmp_path / "nothing"), "--out", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err.strip()
    assert "no readable runs with effcheck results" in err and "\n" not in err
    assert not (tmp_path / "d").exists()


CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--enable-logging=stderr",
                  "--v=0"]


def _chromium(page, tmp_path, *args):
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        pytest.skip("no chromium on PATH: apt-get install -y chromium")
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    done = subprocess.run([browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args, page.as_uri()],
                          capture_output=True, text=True, timeout=180)
    console = [ln for ln in done.stderr.splitlines() if ":CONSOLE" in ln]
    return done, console


def test_the_page_renders_in_headless_chromium_without_console_errors(storage, tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "dash"
    assert main(["history", "--storage", str(storage), "--out", str(out)]) == 0
    page = out / "index.html"
    dom, console = _chromium(page, tmp_path, "--dump-dom")
    assert dom.returncode == 0 and console == [], console
    assert '<table class="grid">' in dom.stdout and dom.stdout.count("data:image/png;base64,") >= 10
    shot = tmp_path / "shot.png"
    done, console = _chromium(page, tmp_path, "--window-size=1320,1600", f"--screenshot={shot}")
    assert done.returncode == 0 and console == []
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 50_000  # drawn, not blank

    bad = tmp_path / "bad.html"  # the check itself can fail: a page that logs an error is caught
    bad.write_text('<!doctype html><title>x</title><script>console.error("broken page")</script>')
    _, console = _chromium(bad, tmp_path, "--dump-dom")
    assert any("broken page" in line for line in console)
