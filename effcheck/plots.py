"""The dashboard's pictures as PNG bytes: a claim over time, and the sweeps the benchmarks record.

matplotlib is imported here only (the `plots` extra), through its object API and the Agg canvas: no
screen, no global pyplot state, each figure closed with its function.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from effcheck.checks import bounds
from effcheck.models import require
from effcheck.outcomes import ORDER, Outcome
from effcheck.timeline import ClaimHistory, EnvChange

VERDICT_COLOURS = {"PASS": "#1a7f37", "FAIL": "#cf222e", "REFUTED": "#bc4c00", "SKIP": "#8c959f",
                   "ERROR": "#8250df"}
LINE = "#8c959f"  # neutral: the points' fill is the gate's outcome
# The gate's outcome for a run, as a point's fill; "accepted" is green, never the regression it was.
OUTCOME_COLOURS = {Outcome.REGRESSION: "#cf222e", Outcome.IMPROVEMENT: "#0969da", Outcome.CHANGED: "#d4a72c",
                   Outcome.ACCEPTED: "#1a7f37", Outcome.UNCHANGED: "#6e7781", Outcome.NEW: "#8250df",
                   Outcome.NOT_COMPARED: "#d0d7de", Outcome.MISSING: "#d0d7de", Outcome.NOT_JUDGED: "#ffffff"}
OUTCOME_EDGE = {Outcome.NOT_COMPARED: "#57606a", Outcome.MISSING: "#57606a", Outcome.NOT_JUDGED: "#57606a"}
# The verdict as a point's shape: the first word of checks.verdict_label (REFUTED (paper) is REFUTED).
VERDICT_MARKERS = {"PASS": "o", "FINDING": "D", "REFUTED": "D", "FAIL": "X", "SKIP": "v", "ERROR": "v"}
FLIP_COLOUR = "#bc4c00"
BAND = "#1a7f37"
ENV_COLOUR = "#9a6700"
DPI = 96


@dataclass(frozen=True)
class SweepFigure:
    """How the article draws one of its pictures from the benchmarks' recorded series."""

    key: str
    title: str
    claim_ids: tuple[str, ...]
    x_label: str
    y_label: str
    note: str
    log_x: bool = False
    log_y: bool = False
    relative: bool = False  # series are (paper's figure, measured): draw measured/paper - 1 per point, in %
    x_ticks: tuple[str, ...] = ()  # names of the points in series order (relative figures)


SWEEP_FIGURES = (
    SweepFigure("memory_vs_length", "Inference memory against generated length",
                ("sequence/rwkv/memory_flat", "sequence/mamba/memory_flat", "sequence/rwkv/memory_flat_cuda_fp16",
                 "sequence/transformer/memory_grows"),
                "tokens generated", "peak bytes",
                "The article: RWKV and Mamba carry a fixed-size state, so their memory stays flat, while a "
                "Transformer's KV cache grows with every token."),
    SweepFigure("decode_cost", "Work of one decode step against context length",
                ("sequence/decode_cost_vs_context/rwkv", "sequence/decode_cost_vs_context/mamba",
                 "sequence/decode_cost_vs_context/transformer"),
                "context tokens", "FLOPs per decode step",
                "Recurrent models do the same work per token at any context; attention's work grows with it.",
                log_x=True),
    SweepFigure("lcm_steps", "LCM: sampling time against steps", ("diffusion/lcm/step_sweep",),
                "inference steps", "seconds (median of rounds)",
                "Time is linear in the step count, which is why 4 steps instead of 50 is the speedup."),
    SweepFigure("efficientnet_table", "EfficientNet B0..B7 against the paper's Table 2",
                ("vision/efficientnet/params_table", "vision/efficientnet/macs_table"),
                "variant", "measured / paper's figure - 1 [%]",
                "Each point is one variant's parameters or MACs as timm builds it, against the figure Table 2 "
                "prints; 0 is agreement, and a printed figure's rounding allows about half its last digit.",
                relative=True, x_ticks=tuple(f"B{i}" for i in range(8))),
    SweepFigure("efficientnet_phi", "EfficientNet B1..B7: does one phi fit each variant?",
                ("vision/efficientnet/compound_scaling",), "input resolution [px] (B1..B7)",
                "gap between the phi ranges [phi]",
                "0 when one compound coefficient explains the published depth, width and resolution."),
    SweepFigure("efficientnet_flops_growth", "EfficientNet B1..B7: MACs growth over B0",
                ("vision/efficientnet/compound_scaling_flops",), "input resolution [px] (B1..B7)",
                "MACs / B0's MACs", "The paper's rule: FLOPs grow as d * w^2 * r^2, about 2^phi.", log_y=True),
)


def _figure(width: float = 6.4, height: float = 2.8) -> Any:
    require("matplotlib", "plots")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    return fig


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def claim_over_time(history: ClaimHistory, env_changes: Sequence[EnvChange] = ()) -> bytes:
    """The claim's value per run, on an axis of runs (number and commit) in the gate's order, with the
    claim's accepted band, the baseline ringed, the interquartile range of timed claims, each point
    filled by the gate's outcome for that run and shaped by its verdict, flips named, version changes marked."""
    from matplotlib.lines import Line2D

    fig = _figure(7.0, 3.9)
    ax = fig.add_subplot()
    points = list(history.points)
    x_of = {p.run_id or p.run: i for i, p in enumerate(points)}
    measured = [p for p in points if p.value is not None]
    claim = history.claim
    handles: list[Any] = []
    if measured:
        xs = [x_of[p.run_id or p.run] for p in measured]
        ax.plot(xs, [p.value for p in measured], color=LINE, linewidth=1.2, zorder=2)
        previous_flip = ""
        for p, x in zip(measured, xs, strict=True):
            ax.scatter([x], [p.value], marker=verdict_marker(p.verdict_label or p.verdict.value), s=72, zorder=3,
                       c=OUTCOME_COLOURS[p.outcome], edgecolors=OUTCOME_EDGE.get(p.outcome, "white"), linewidths=0.8)
            if p.flip and p.flip != previous_flip:  # a run of the same flip is named once, at its start
                ax.annotate(p.flip.replace(" -> ", "\u2192"), (x, p.value), xytext=(0, 8), textcoords="offset points",
                            ha="center", fontsize=7, color=FLIP_COLOUR, fontweight="bold", zorder=5)
            previous_flip = p.flip
        spread = [p for p in measured if p.low is not None and p.high is not None]
        if spread:
            ax.vlines([x_of[p.run_id or p.run] for p in spread], [p.low for p in spread],
                      [p.high for p in spread], color=LINE, alpha=0.45, linewidth=3, zorder=1)
            handles.append(Line2D([], [], color=LINE, alpha=0.45, linewidth=3, label="interquartile range"))
        base = [p for p in measured if (p.run_id or p.run) == (history.baseline_id or history.baseline_run)]
        if base:
            ax.scatter([x_of[base[-1].run_id or base[-1].run]], [base[-1].value], s=190, facecolors="none",
                       edgecolors="black", linewidths=1.4, zorder=4)
            handles.append(Line2D([], [], marker="o", markersize=10, markerfacecolor="none", markeredgecolor="black",
                                  linestyle="none", label=f"baseline of the newest run ({base[-1].run.split('_')[0]})"))
    unmeasured = [p for p in points if p.value is None]
    if measured and unmeasured:  # runs where the claim skipped or broke: ticks along the bottom, not gaps
        ax.scatter([x_of[p.run_id or p.run] for p in unmeasured], [0.03] * len(unmeasured), marker="x", s=22,
                   color=VERDICT_COLOURS["SKIP"], transform=ax.get_xaxis_transform(), zorder=3)
        handles.append(Line2D([], [], marker="x", color=VERDICT_COLOURS["SKIP"], linestyle="none",
                              label="not measured (skip or error)"))
    low, high = bounds(claim)
    ax.axhline(claim.expected, color="#57606a", linestyle="--", linewidth=1)
    handles.append(Line2D([], [], color="#57606a", linestyle="--", linewidth=1,
                          label=_short(f"claimed {claim.expectation()}", 40)))
    if claim.comparison == "between" and claim.expected_high is not None:
        ax.axhline(claim.expected_high, color="#57606a", linestyle="--", linewidth=1)
    if _shade_band(ax, low, high):
        from matplotlib.patches import Patch

        handles.append(Patch(color=BAND, alpha=0.15, label="within the claim and its margin"))
    _mark_env_changes(ax, points, env_changes, handles)
    _run_axis(ax, points)
    ax.set_ylabel(f"{claim.metric} [{claim.unit}]" if len(claim.metric) < 32 else claim.unit, fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(True, alpha=0.25)
    if measured:
        _legends(fig, points, handles)
    else:
        ax.text(0.5, 0.5, "never measured in this scope (skipped or broken in every run)", ha="center",
                va="center", transform=ax.transAxes, fontsize=8, color="#57606a")
    return _png(fig)


def verdict_marker(label: str) -> str:
    """A verdict's marker shape: the fill is the gate's, so the verdict reads from the outline."""
    return VERDICT_MARKERS.get(label.split(" ")[0], "o")


def _run_axis(ax: Any, points: Sequence[Any]) -> None:
    """One tick per run (number, commit, @origin of a pulled run); labels thinned to about a dozen."""
    count = len(points)
    step = max(1, -(-count // 12))
    shown = {i for i in range(0, count, step)} | {count - 1}
    ax.set_xticks(range(count), [p.label or p.run.split("_")[0] if i in shown else "" for i, p in enumerate(points)])
    ax.set_xlim(-0.6, max(count - 1, 1) + 0.6)
    ax.set_xlabel("run (number, commit; @ a pulled run's origin), in the gate's order", fontsize=7,
                  color="#57606a")


def _mark_env_changes(ax: Any, points: Sequence[Any], env_changes: Sequence[EnvChange], handles: list[Any]) -> None:
    """A dotted line before the first of the claim's runs under new versions, labelled with the change."""
    from matplotlib.lines import Line2D

    drawn = False
    for change in env_changes:
        after = next((i for i, p in enumerate(points) if p.index >= change.index), None)
        if not after:  # before the claim's first run, or after its last: nothing of it changed
            continue
        ax.axvline(after - 0.5, color=ENV_COLOUR, linestyle=":", linewidth=1.4)
        ax.annotate(_short(change.label, 48), (after - 0.5, 1.0), xycoords=("data", "axes fraction"), xytext=(3, -3),
                    textcoords="offset points", fontsize=7, color=ENV_COLOUR, va="top")
        drawn = True
    if drawn:
        handles.append(Line2D([], [], color=ENV_COLOUR, linestyle=":", linewidth=1.4, label="library versions changed"))


def _legends(fig: Any, points: Sequence[Any], handles: list[Any]) -> None:
    """Two keys: the gate's outcome (fill) and the verdict (shape), only those the plot shows, then the
    lines and marks. Outside the axes, so no key hides a point."""
    from matplotlib.lines import Line2D

    measured = [p for p in points if p.value is not None]
    outcomes = [o for o in ORDER if any(p.outcome is o for p in measured)]
    gate = [Line2D([], [], marker="s", markersize=7, linestyle="none", markerfacecolor=OUTCOME_COLOURS[o],
                   markeredgecolor=OUTCOME_EDGE.get(o, OUTCOME_COLOURS[o]), label=o.value) for o in outcomes]
    rank = {word: i for i, word in enumerate(VERDICT_MARKERS)}
    labels = sorted({p.verdict_label or p.verdict.value for p in measured},
                    key=lambda v: (rank.get(v.split(" ")[0], len(rank)), v))
    shapes = [Line2D([], [], marker=verdict_marker(v), markersize=7, linestyle="none", markerfacecolor="white",
                     markeredgecolor="#1f2328", label=v) for v in labels]
    if any(p.flip for p in measured):
        shapes.append(Line2D([], [], marker="$A\u2192B$", markersize=14, linestyle="none", color=FLIP_COLOUR,
                             label="verdict flipped"))
    # above the plot, one row: the colours a reader looks for first; below it, the shapes and marks
    fig.legend(handles=gate, title="the gate's outcome for each run (fill)", loc="outside upper center",
               ncols=max(1, len(gate)), fontsize=7, title_fontsize=7, frameon=False, columnspacing=1.2,
               handletextpad=0.3)
    fig.legend(handles=shapes + handles, title="the claim's verdict (shape), and marks", loc="outside lower center",
               ncols=min(4, max(1, len(shapes) + len(handles))), fontsize=7, title_fontsize=7, frameon=False,
               columnspacing=1.2, handletextpad=0.3)


def _shade_band(ax: Any, low: float | None, high: float | None) -> bool:
    """The values the claim holds for, shaded: a band, open on the side the claim does not bound; an exact
    claim ("==") is its dashed line alone (False: nothing shaded)."""
    if low is not None and high is not None and low == high:
        return False
    y0, y1 = ax.get_ylim()
    for bound in (low, high):
        if bound is not None:
            y0, y1 = min(y0, bound), max(y1, bound)
    pad = 0.08 * ((y1 - y0) or abs(y1) or 1.0)
    y0, y1 = y0 - pad, y1 + pad
    ax.axhspan(y0 if low is None else low, y1 if high is None else high, color=BAND, alpha=0.09, zorder=0)
    ax.set_ylim(y0, y1)
    return True


def _short(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def sweep(spec: SweepFigure, lines: Sequence[tuple[str, Sequence[tuple[float, float]]]]) -> bytes:
    """lines: (label, series) per claim (and scope), drawn as the article draws the figure."""
    fig = _figure(6.4, 3.4)
    ax = fig.add_subplot()
    for label, series in lines:
        xs: list[float]
        if spec.relative:
            xs = [float(i) for i in range(len(series))]
            ys = [(y / x - 1) * 100 if x else 0.0 for x, y in series]
        else:
            points = sorted(series)
            xs, ys = [x for x, _ in points], [y for _, y in points]
        ax.plot(xs, ys, marker="o", markersize=3.5, linewidth=1.3, label=label)
    if spec.relative:
        ax.axhline(0, color="#57606a", linestyle="--", linewidth=1, label="measured = paper")
        longest = max((len(series) for _, series in lines), default=0)
        if spec.x_ticks and longest <= len(spec.x_ticks):
            ax.set_xticks(range(longest), spec.x_ticks[:longest])
    from matplotlib.ticker import NullFormatter

    if spec.log_x:
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())  # minor labels of a log axis overlap at this size
    if spec.log_y:
        ax.set_yscale("log")
        ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(spec.x_label, fontsize=8)
    ax.set_ylabel(spec.y_label, fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(True, alpha=0.25)
    ax.legend(loc="best", fontsize=7, framealpha=0.8)
    return _png(fig)
