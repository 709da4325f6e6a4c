"""Claims tables for the terminal and for Markdown (a CI step summary)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from effcheck.checks import quoted, reading_lead, refutation_lead, verdict_label
from effcheck.formatting import fmt_pair, fmt_percent
from effcheck.gate import Delta, GatePolicy, Status
from effcheck.records import Claim, ClaimResult, Verdict

HEADERS = ("claim", "quoted sentence; the suite's reading", "measured", "expected", "verdict", "source")


def sentence(claim: Claim, *, markdown: bool = False) -> str:
    """What a claim says, its source's own words first: the quote (who said it, where), then the suite's
    reading of it (the statement); a claim that quotes nothing shows its statement alone."""
    quote = quoted(claim)
    if quote is None:
        return claim.statement
    joint = "<br>" if markdown else "; "
    return f"{quote}{joint}{reading_lead(claim)}: {claim.statement}"


def refutation(result: ClaimResult) -> str:
    """What a REFUTED verdict rests on, for a line under the table: whose sentence (quoted first), the
    suite's reading, and why the quoted source is wrong, worded by whose sentence it is."""
    claim = result.claim
    return " ".join(f"{sentence(claim)}; {refutation_lead(claim)}: {claim.refuted}".split())


def _row(result: ClaimResult, markdown: bool = False) -> tuple[str, str, str, str, str, str]:
    m = result.measurement
    measured = m.describe() if m is not None else "-"
    verdict = verdict_label(result)
    if result.verdict in (Verdict.SKIP, Verdict.ERROR):
        verdict += f" ({result.message})"
    return (result.claim.id, sentence(result.claim, markdown=markdown), measured, result.claim.expectation(),
            verdict, result.claim.source)


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: max(1, width - 1)] + "…"


def terminal_table(results: Iterable[ClaimResult], width: int = 160) -> str:
    results = sorted(results, key=lambda r: r.claim.id)
    if not results:
        return "effcheck: no claims were checked in this session"
    limits = (max(len(r.claim.id) for r in results), 60, 34, 26, 40, 40)
    rows = [tuple(_clip(cell, lim) for cell, lim in zip(_row(r), limits, strict=True)) for r in results]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(HEADERS)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    out = [line(HEADERS), line(tuple("-" * w for w in widths))]
    out += [line(row) for row in rows]
    reasons = [r for r in results if r.verdict in (Verdict.SKIP, Verdict.ERROR)]
    out += [f"  {r.claim.id} {r.verdict.value.lower()}: {r.message}" for r in reasons]
    out += [f"  {r.claim.id} {verdict_label(r)}: {refutation(r)}" for r in results if r.verdict is Verdict.REFUTED]
    out.append(summary(results))
    return "\n".join(out)


def summary(results: Iterable[ClaimResult]) -> str:
    counts = Counter(verdict_label(r) for r in results)
    order = ["PASS", "FAIL", "REFUTED", "REFUTED (paper)", "FINDING", "SKIP", "ERROR"]
    parts = [f"{counts[label]} {label.lower()}" for label in order if counts[label]]
    return "claims: " + ", ".join(parts)


def markdown_table(results: Iterable[ClaimResult]) -> str:
    results = sorted(results, key=lambda r: r.claim.id)

    def esc(text: str) -> str:
        return " ".join(text.split()).replace("|", "\\|")

    out = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    for r in results:
        cells = list(_row(r, markdown=True))
        cells[0] = f"`{cells[0]}`"
        cells[4] = f"**{cells[4]}**"
        out.append("| " + " | ".join(esc(c) for c in cells) + " |")
    refuted = [r for r in results if r.verdict is Verdict.REFUTED]
    if refuted:
        out.append("")
        out += [f"- `{r.claim.id}` **{verdict_label(r)}**: {esc(refutation(r))}" for r in refuted]
    out.append("")
    out.append(summary(results))
    return "\n".join(out)


def gate_table(deltas: Iterable[Delta], policy: GatePolicy) -> str:
    """The gate's verdicts: what moved, what is new or missing, and what fails the build."""
    deltas = list(deltas)
    if not deltas:
        return "gate: nothing to compare"
    lines = []
    for d in deltas:
        if d.status is Status.UNCHANGED and not (d.verdict_flip or d.facts_accepted):
            continue
        mark = "FAIL " if d.failing(policy) else "     "
        lines.append(f"{mark}{d.message}")
    counts = Counter(d.status.value for d in deltas)
    failing = sum(d.failing(policy) for d in deltas)
    flips = sum(bool(d.verdict_flip) for d in deltas)
    said = f"; {flips} verdict(s) flipped" if flips else ""
    lines.append("gate: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) + f"{said}; {failing} failing")
    return "\n".join(lines)


def markdown_gate(deltas: Iterable[Delta], policy: GatePolicy) -> str:
    out = ["| claim | status | baseline | now | change | tolerance | p |", "|---|---|---|---|---|---|---|"]
    for d in deltas:
        status = f"**{d.status.value}**" if d.failing(policy) else d.status.value
        status += f" (verdict {d.verdict_flip})" if d.verdict_flip else ""
        status += f" (accepted in {d.baseline_run}: {d.facts_accepted})" if d.facts_accepted else ""
        was, now = fmt_pair(d.baseline_value, d.current_value)
        p = "-" if d.p_value is None else f"{d.p_value:.3g}"
        out.append(f"| `{d.claim_id}` | {status} | {was} | {now} {d.unit} | {d.change_text()} "
                   f"| {fmt_percent(d.tolerance)} | {p} |")
    return "\n".join(out)


# -- the PR comment / step summary ---------------------------------------------------------------------

_COUNTABLE = (Status.REGRESSION, Status.IMPROVEMENT)  # "2 regressions", but "2 new", "2 missing"
_MOVED = (Status.REGRESSION, Status.IMPROVEMENT, Status.CHANGED, Status.NEW, Status.MISSING)


def headline(results: Iterable[ClaimResult], deltas: Iterable[Delta], env_changes: Iterable[str] = ()) -> str:
    """One line a reviewer reads first: what moved against the baseline, what fails, what the environment did."""
    results, deltas, env_changes = list(results), list(deltas), list(env_changes)
    counts = Counter(d.status for d in deltas)
    if deltas:
        moved = [f"{counts[s]} {s.value}{'s' if counts[s] != 1 and s in _COUNTABLE else ''}"
                 for s in (Status.REGRESSION, Status.IMPROVEMENT, Status.CHANGED, Status.NEW, Status.MISSING)
                 if counts[s]]
        flips = sum(bool(d.verdict_flip) for d in deltas)
        in_file = sum(bool(d.facts_accepted) for d in deltas)
        notes = [f"{flips} verdict{'s' if flips != 1 else ''} flipped"] if flips else []
        notes += [f"{in_file} fact{'s' if in_file != 1 else ''} accepted in the facts file"] if in_file else []
        text = ", ".join([*moved, f"{counts[Status.UNCHANGED]} unchanged"])
        text += f" ({'; '.join(notes)})" if notes else ""
    else:
        text = "not gated (no baseline comparison in this run)"
    failing = sum(r.verdict in (Verdict.FAIL, Verdict.ERROR) for r in results)
    verdicts = summary(results).removeprefix("claims: ")
    env = "; environment: " + ", ".join(env_changes) if env_changes else "; environment unchanged" if deltas else ""
    mark = ":x:" if counts[Status.REGRESSION] or failing else ":white_check_mark:"
    return f"{mark} **effcheck**: {text} · claims: {verdicts or 'none'}{env}"


def pr_markdown(results: Iterable[ClaimResult], deltas: Iterable[Delta], policy: GatePolicy, *, title: str,
                env_changes: Iterable[str] = ()) -> str:
    """Headline, then only what changed (or fails), then every claim folded away: fits a PR comment, links
    nothing relative (a comment has no files beside it)."""
    results = sorted(results, key=lambda r: r.claim.id)
    deltas = list(deltas)
    out = [f"### {title}", "", headline(results, deltas, env_changes), ""]
    moved = [d for d in deltas if d.status in _MOVED or d.verdict_flip or d.facts_accepted]  # changes, moved or not
    failing_ids = {r.claim.id for r in results if r.verdict in (Verdict.FAIL, Verdict.ERROR)}
    moved_ids = {d.claim_id for d in moved}
    if moved:
        out += ["#### Changed against the baseline", "", markdown_gate(moved, policy), ""]
    still_failing = [r for r in results if r.claim.id in failing_ids - moved_ids]
    if still_failing:
        out += ["#### Failing claims", "", markdown_table(still_failing).rsplit("\n\n", 1)[0], ""]
    if not moved and not still_failing:
        out += ["Nothing changed against the baseline and no claim fails." if deltas else
                "No claim fails.", ""]
    out += ["<details><summary>All " + str(len(results)) + " claims</summary>", "", markdown_table(results), "",
            "</details>"]
    return "\n".join(out)
