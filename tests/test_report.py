"""The PR-ready Markdown report: a headline, only what changed or fails, every claim folded, no image links."""

import json

from effcheck.cli import main
from effcheck.gate import Delta, GatePolicy, Status
from effcheck.records import Claim, ClaimResult, Ledger, Measurement, Verdict
from effcheck.report import headline, pr_markdown


def _result(cid, value, verdict=Verdict.PASS):
    claim = Claim(id=cid, statement=f"{cid} holds", source="doc", metric="m", unit="x", comparison=">=",
                  expected=1.0, better="higher")
    return ClaimResult(claim, verdict, "msg", Measurement(value, "x", "counted"), f"t::{cid}")


RESULTS = [_result("a/moved", 1.5), _result("a/same", 2.0), _result("a/broken", 0.5, Verdict.FAIL),
           _result("a/other", 3.0)]
DELTAS = [
    Delta("a/moved", Status.REGRESSION, "m", "0003", 2.0, 1.5, "x", -0.25, 0.0),
    Delta("a/same", Status.UNCHANGED, "m", "0003", 2.0, 2.0, "x", 0.0, 0.0),
    Delta("a/broken", Status.UNCHANGED, "m", "0003", 0.5, 0.5, "x", 0.0, 0.0),
    Delta("a/other", Status.IMPROVEMENT, "m", "0003", 2.0, 3.0, "x", 0.5, 0.0),
]


def test_headline_counts_moves_verdicts_and_the_environment():
    line = headline(RESULTS, DELTAS, ["torch 2.13.0 -> 2.14.1"])
    assert line.startswith(":x: **effcheck**: 1 regression, 1 improvement, 2 unchanged")
    assert "claims: 3 pass, 1 fail" in line and "environment: torch 2.13.0 -> 2.14.1" in line
    assert "\n" not in line
    assert "not gated" in headline(RESULTS[1:2], [])
    several = [Delta(f"a/{i}", status, "m") for i, status in enumerate(
        [Status.REGRESSION, Status.REGRESSION, Status.MISSING, Status.MISSING, Status.NEW, Status.NEW])]
    assert "2 regressions, 2 new, 2 missing, 0 unchanged" in headline([], several)


def test_only_changed_or_failing_claims_are_shown_and_all_are_folded():
    text = pr_markdown(RESULTS, DELTAS, GatePolicy(), title="effcheck: run 0004")
    shown, folded = text.split("<details>", 1)
    assert "`a/moved`" in shown and "`a/other`" in shown and "`a/broken`" in shown
    assert "`a/same`" not in shown
    assert all(f"`{cid}`" in folded for cid in ("a/moved", "a/same", "a/broken", "a/other"))
    assert folded.rstrip().endswith("</details>") and "<summary>All 4 claims</summary>" in folded
    assert "![" not in text and ".png" not in text  # a PR comment has no files beside it


def test_report_markdown_of_a_saved_gated_run(tmp_path, capsys):
    base_env = {"python": "3.11.7", "libraries": {"torch": "2.13.0"}}
    baseline = Ledger(tuple(RESULTS), base_env, "k", "2026-11-27T10:00:00+00:00", "0.1.0")
    base_file = tmp_path / "s" / "m" / "0003_abc.json"
    base_file.parent.mkdir(parents=True)
    base_file.write_text(json.dumps({"benchmarks": [], "effcheck": baseline.to_dict()}))
    comparison = {"baseline": str(base_file), "deltas": [d.to_dict() for d in DELTAS]}
    run = Ledger(tuple(RESULTS), {"python": "3.11.7", "libraries": {"torch": "2.14.1"}}, "k",
                 "2026-11-28T10:00:00+00:00", "0.1.0", comparison)
    (tmp_path / "s" / "m" / "0004_abc.json").write_text(json.dumps({"benchmarks": [], "effcheck": run.to_dict()}))
    assert main(["report", "4", "--storage", str(tmp_path / "s"), "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("### effcheck: run 0004 on `k`")
    assert "1 regression, 1 improvement, 2 unchanged" in out and "environment: torch 2.13.0 -> 2.14.1" in out


def test_a_flipped_verdict_is_reported_as_a_change_not_nothing_changed():
    flipped = Delta("fam/a", Status.UNCHANGED, "fam/a: unchanged; verdict PASS -> FINDING", "0001_x", 1.0, 1.0, "x",
                    0.0, verdict_flip="PASS -> FINDING")
    text = pr_markdown([_result("fam/a", 1.0)], [flipped], GatePolicy(), title="t")
    assert "Nothing changed" not in text
    assert "unchanged (verdict PASS -> FINDING)" in text and "(1 verdict flipped)" in headline([], [flipped])
