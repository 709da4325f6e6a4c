"""History plots: each claim's measured value over the saved runs, one PNG per claim, and an index page.

matplotlib is imported here only (the `plots` extra), with the Agg backend: CI machines have no screen.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from effcheck.models import require
from effcheck.records import Ledger


@dataclass(frozen=True)
class Point:
    run: str
    value: float
    low: float | None  # interquartile range of a noisy metric
    high: float | None


def series_by_claim(runs: Sequence[tuple[str, Ledger]]) -> dict[str, list[Point]]:
    found: dict[str, list[Point]] = {}
    for name, ledger in runs:
        for result in ledger.results:
            m = result.measurement
            if m is None:
                continue
            spread = m.spread
            found.setdefault(result.claim.id, []).append(
                Point(name, m.value, *(spread if spread else (None, None)))
            )
    return dict(sorted(found.items()))


def _file_name(claim_id: str) -> str:
    return claim_id.replace("/", "__") + ".png"


def write_history(runs: Sequence[tuple[str, Ledger]], out_dir: str | Path) -> Path:
    """PNG per claim plus index.md and index.html linking them; returns the index.html path."""
    require("matplotlib", "plots")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    units = {r.claim.id: (r.claim.unit, r.claim.statement) for _, ledger in runs for r in ledger.results}
    rows = []
    for claim_id, points in series_by_claim(runs).items():
        unit, statement = units[claim_id]
        fig, ax = plt.subplots(figsize=(7, 3.2))
        xs = list(range(len(points)))
        ax.plot(xs, [p.value for p in points], marker="o")
        noisy = [(x, p) for x, p in zip(xs, points, strict=True) if p.low is not None]
        if noisy:
            ax.vlines([x for x, _ in noisy], [p.low for _, p in noisy], [p.high for _, p in noisy], alpha=0.5,
                      label="interquartile range")
            ax.legend(loc="best", fontsize=7)
        ax.set_xticks(xs, [p.run for p in points], rotation=30, ha="right", fontsize=7)
        ax.set_ylabel(unit)
        ax.set_title(claim_id, fontsize=9)
        fig.tight_layout()
        fig.savefig(out / _file_name(claim_id), dpi=90)
        plt.close(fig)
        rows.append((claim_id, statement, points[-1].value, unit))
    md = ["# effcheck history", "", f"{len(runs)} runs: {', '.join(n for n, _ in runs)}", ""]
    md += [f"## `{cid}`\n{st} (latest {v:g} {u})\n\n![{cid}]({_file_name(cid)})\n" for cid, st, v, u in rows]
    (out / "index.md").write_text("\n".join(md), encoding="utf-8")
    body = "".join(
        f"<h2><code>{html.escape(cid)}</code></h2><p>{html.escape(st)} (latest {v:g} {html.escape(u)})</p>"
        f'<img src="{_file_name(cid)}" alt="{html.escape(cid)}">'
        for cid, st, v, u in rows
    )
    index = out / "index.html"
    index.write_text(f"<!doctype html><title>effcheck history</title><h1>effcheck history</h1>{body}",
                     encoding="utf-8")
    return index
