"""`effcheck history --out DIR`: one self-contained static HTML page of the saved runs.

It opens from a CI artifact with no server and no network: the pictures are PNGs inlined as data URIs, the
style is inline, there is no script. First a status grid per hardware scope (family x claim: verdict,
change against its baseline, last run), then per family each claim over time and the sweeps the
benchmarks record, drawn as the article draws them. The page is rendered whole in memory and written
atomically, so a failure never leaves half a page; nothing in the storage is ever modified.
"""

from __future__ import annotations

import base64
import datetime as dt
import fnmatch
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from effcheck.checks import quoted, reading_lead, refutation_lead, verdict_label
from effcheck.errors import UsageError
from effcheck.models import require
from effcheck.outcomes import ORDER, Outcome
from effcheck.records import Verdict
from effcheck.store import read_acceptances
from effcheck.timeline import ClaimHistory, Run, ScopeHistory, change_text, scopes

PAGE = "index.html"


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _when(value: dt.datetime) -> str:
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _claim_row(history: ClaimHistory, runs_by_name: dict[str, Run]) -> dict[str, Any]:
    result = history.latest
    m = result.measurement
    label = verdict_label(result)
    claim = history.claim
    quote = quoted(claim)  # the source's own words, shown before the suite's reading of them
    refuted = result.verdict is Verdict.REFUTED and claim.refuted is not None
    return {
        "id": claim.id,
        "short_id": claim.id.split("/", 1)[-1],
        "quoted": quote or "",
        "reading": f"{reading_lead(claim)}: {claim.statement}" if quote else claim.statement,
        "statement": claim.statement,
        "refutation": f"{refutation_lead(claim)}: {claim.refuted}" if refuted else "",
        "expectation": history.claim.expectation(),
        "source": history.claim.source,
        "source_kind": history.claim.source_kind,
        "verdict": label,
        "verdict_class": result.verdict.value.lower(),
        "measured": m.describe() if m is not None else "-",
        "message": result.message if m is None else "",
        "change": change_text(history),
        "change_class": history.outcome.value.replace(" ", "-") + (" flip" if history.flip else ""),
        "baseline_run": history.baseline_run or "-",
        "baseline_label": (runs_by_name[history.baseline_id].label.replace("\n", " ")
                           if history.baseline_id in runs_by_name else (history.baseline_run or "-").split("_")[0]),
        "last_run": history.latest_run,
        "last_label": runs_by_name[history.points[-1].run_id].label.replace("\n", " "),
        "last_date": _when(runs_by_name[history.points[-1].run_id].created),
        "runs": sum(p.value is not None for p in history.points),
        "applies_to": history.claim.applies_to,
    }


def change_summary(histories: Sequence[ClaimHistory], incomplete: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    """What the newest runs changed against their baselines, per gate outcome that moved, then verdict
    flips (a flip is a change even when the value stayed within tolerance). Empty: nothing changed."""
    lines = []
    for outcome in ORDER:
        claims = [_named(h, h.points[-1].run_id in incomplete) for h in histories if h.outcome is outcome]
        if outcome in (Outcome.REGRESSION, Outcome.ACCEPTED, Outcome.IMPROVEMENT, Outcome.CHANGED) and claims:
            lines.append({"kind": outcome.value.replace(" ", "-"), "label": f"{len(claims)} {outcome.value}",
                          "claims": claims})
    flips = [f"{h.claim.id} ({h.flip})" for h in histories if h.flip]
    if flips:
        lines.append({"kind": "flip", "label": f"{len(flips)} verdict flip{'s' if len(flips) != 1 else ''}",
                      "claims": flips})
    return lines


def _named(history: ClaimHistory, incomplete: bool) -> str:
    """A claim as the summary names it; an accepted move says the run is its baseline from now on (the
    gate's baseline is the newest accepted measurement of a run that completed)."""
    if history.outcome is not Outcome.ACCEPTED or incomplete:
        return history.claim.id
    return f"{history.claim.id} (run {history.latest_run.split('_')[0]} is its baseline from now on)"


def _sweeps(family: str, scope: ScopeHistory, histories: Sequence[ClaimHistory],
            multi_scope: bool) -> list[dict[str, Any]]:
    from effcheck.plots import SWEEP_FIGURES, sweep

    with_series = {h.claim.id: h for h in histories if h.latest.measurement and h.latest.measurement.series}
    figures, drawn = [], set()
    for spec in SWEEP_FIGURES:
        members = [cid for cid in with_series if any(fnmatch.fnmatchcase(cid, p) for p in spec.claim_ids)]
        if not members:
            continue
        ordered = sorted(members, key=lambda c: next(i for i, p in enumerate(spec.claim_ids)
                                                     if fnmatch.fnmatchcase(c, p)))
        lines = []
        for cid in ordered:
            h = with_series[cid]
            m = h.latest.measurement
            assert m is not None
            label = cid.removeprefix(f"{family}/") + (f" ({scope.scope.split('|')[0]})" if multi_scope else "")
            lines.append((label, m.series))
        drawn.update(ordered)
        figures.append({"title": spec.title, "note": spec.note, "png": _data_uri(sweep(spec, lines)),
                        "claims": ordered, "run": with_series[ordered[0]].latest_run})
    for cid, h in with_series.items():
        if cid in drawn:
            continue
        from effcheck.plots import SweepFigure

        m = h.latest.measurement
        assert m is not None
        spec = SweepFigure(cid, cid, (cid,), "x (as the benchmark records it)", "y", "")
        figures.append({"title": f"{cid}: recorded series", "note": m.method, "png": _data_uri(
            sweep(spec, [(cid.removeprefix(f"{family}/"), m.series)])), "claims": [cid], "run": h.latest_run})
    return figures


def build_page(runs: Sequence[Run], storage: str) -> dict[str, Any]:
    """Everything the template shows, pictures included (as data URIs)."""
    from effcheck.plots import claim_over_time

    found = scopes(runs, read_acceptances(storage))  # a bad line was named by the verbs that read it
    multi = len(found) > 1
    page_scopes: list[dict[str, Any]] = []
    for scope in found:
        by_name = {r.id: r for r in scope.runs}
        families: dict[str, list[ClaimHistory]] = {}
        for history in scope.claims:
            families.setdefault(history.family, []).append(history)
        family_views = []
        for family, histories in sorted(families.items()):
            rows = []
            for h in histories:
                row = _claim_row(h, by_name)
                row["png"] = _data_uri(claim_over_time(h, scope.env_changes))
                rows.append(row)
            family_views.append({"name": family, "claims": rows,
                                 "sweeps": _sweeps(family, scope, histories, multi)})
        counts: dict[str, int] = {}
        for h in scope.claims:
            counts[verdict_label(h.latest)] = counts.get(verdict_label(h.latest), 0) + 1
        page_scopes.append({
            "key": scope.scope,
            "anchor": "scope-" + str(len(page_scopes)),
            "runs": len(scope.runs),
            "first": _when(scope.runs[0].created),
            "last": _when(scope.runs[-1].created),
            "latest_run": scope.runs[-1].label.replace("\n", " "),
            "env_changes": [{"run": scope.runs[c.index].label.replace("\n", " "), "when": _when(c.created),
                             "label": c.label} for c in scope.env_changes],
            "families": family_views,
            "counts": sorted(counts.items()),
            "baseline_env": sorted({h.delta.environment_change for h in scope.claims
                                    if h.delta is not None and h.delta.environment_change}),
            "changes": change_summary(scope.claims, frozenset(r.id for r in scope.runs if not r.ledger.complete)),
        })
    return {"storage": storage, "generated": _when(dt.datetime.now(dt.timezone.utc)), "run_count": len(runs),
            "scopes": page_scopes}


def render(page: dict[str, Any]) -> str:
    require("jinja2", "plots")
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("effcheck", "templates"),
                             autoescape=jinja2.select_autoescape(["html", "j2"]), undefined=jinja2.StrictUndefined)
    return str(env.get_template("dashboard.html.j2").render(**page))


def check_out_dir(out: str | os.PathLike[str]) -> Path:
    """Fail in one line before any work when --out cannot hold the page."""
    target = Path(out)
    if target.exists() and not target.is_dir():
        raise UsageError(f"--out {target} is an existing file; give a folder for {PAGE}")
    probe = target
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        raise UsageError(f"--out {target}: {probe} is not a writable folder; choose another --out")
    return target


def write_dashboard(runs: Sequence[Run], out: str | os.PathLike[str], storage: str) -> Path:
    """Render the page whole, then write DIR/index.html atomically; returns its path."""
    target = check_out_dir(out)
    html = render(build_page(runs, storage))
    try:
        target.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{PAGE}.", suffix=".tmp", dir=target)
    except OSError as exc:
        raise UsageError(f"--out {target}: {exc.strerror or exc}; choose another --out") from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(html)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 would hide the page from a CI artifact's readers
        os.replace(tmp, target / PAGE)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target / PAGE
