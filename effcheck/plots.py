"""The dashboard's pictures as PNG bytes: a claim over time, and the sweeps the benchmarks record.

matplotlib is imported here only (the `plots` extra), through its object API and the Agg canvas: no
screen, no global pyplot state, each figure closed with its function.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from effcheck.checks import bounds
from effcheck.models import require
from effcheck.timeline import ClaimHistory, EnvChange

VERDICT_COLOURS = {"PASS": "#1a7f37", "FAIL": "#cf222e", "REFUTED": "#bc4c00", "SKIP": "#8c959f",
                   "ERROR": "#8250df"}
LINE = "#0969da"
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
    """The claim's value per run on a date axis, with the claim's accepted band, the baseline ringed, the
    interquartile range of timed claims, each point coloured by its verdict, and version changes marked."""
    import matplotlib.dates as mdates

    fig = _figure()
    ax = fig.add_subplot()
    measured = [p for p in history.points if p.value is not None]
    claim = history.claim
    if measured:
        xs = [p.created for p in measured]
        ax.plot(xs, [p.value for p in measured], color=LINE, linewidth=1.2, zorder=2)
        ax.scatter(xs, [p.value for p in measured], c=[VERDICT_COLOURS[p.verdict.value] for p in measured],
                   s=28, zorder=3, edgecolors="white", linewidths=0.6)
        spread = [p for p in measured if p.low is not None and p.high is not None]
        if spread:
            ax.vlines([p.created for p in spread], [p.low for p in spread], [p.high for p in spread],
                      color=LINE, alpha=0.45, linewidth=3, zorder=1, label="interquartile range")
        base = [p for p in measured if p.run == history.baseline_run]
        if base:
            ax.scatter([base[-1].created], [base[-1].value], s=150, facecolors="none", edgecolors="black",
                       linewidths=1.4, zorder=4, label=f"baseline {base[-1].run.split('_')[0]}")
    unmeasured = [p for p in history.points if p.value is None]
    if measured and unmeasured:  # runs where the claim skipped or broke: ticks along the bottom, not gaps
        ax.scatter([p.created for p in unmeasured], [0.03] * len(unmeasured), marker="x", s=22,
                   color=VERDICT_COLOURS["SKIP"], transform=ax.get_xaxis_transform(), zorder=3,
                   label="not measured (skip or error)")
    low, high = bounds(claim)
    ax.axhline(claim.expected, color="#57606a", linestyle="--", linewidth=1,
               label=f"claimed {claim.expectation()}")
    if claim.comparison == "between" and claim.expected_high is not None:
        ax.axhline(claim.expected_high, color="#57606a", linestyle="--", linewidth=1)
    _shade_band(ax, low, high)
    for change in env_changes:
        if measured and measured[0].created <= change.created <= measured[-1].created:
            ax.axvline(change.created, color="#9a6700", linestyle=":", linewidth=1.2)
            ax.annotate(_short(change.label), (change.created, 1.0), xycoords=("data", "axes fraction"),
                        xytext=(3, -3), textcoords="offset points", fontsize=7, color="#9a6700", va="top",
                        rotation=0)
    dated = measured or list(history.points)  # never measured: the runs' dates still make the axis
    if dated and dated[0].created == dated[-1].created:  # one run: an hour either side, not years
        ax.set_xlim(dated[0].created - dt.timedelta(hours=1), dated[-1].created + dt.timedelta(hours=1))
    elif not measured and dated:
        ax.set_xlim(dated[0].created, dated[-1].created)
    locator = mdates.AutoDateLocator(minticks=2, maxticks=6)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.set_ylabel(f"{claim.metric} [{claim.unit}]" if len(claim.metric) < 32 else claim.unit, fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(True, alpha=0.25)
    ax.legend(loc="best", fontsize=7, framealpha=0.8)
    if not measured:
        ax.text(0.5, 0.5, "never measured in this scope (skipped or broken in every run)", ha="center",
                va="center", transform=ax.transAxes, fontsize=8, color="#57606a")
    return _png(fig)


def _shade_band(ax: Any, low: float | None, high: float | None) -> None:
    """The values the claim accepts, shaded: a band, open on the side the claim does not bound; an exact
    claim ("==") is its dashed line alone."""
    if low is not None and high is not None and low == high:
        return
    y0, y1 = ax.get_ylim()
    for bound in (low, high):
        if bound is not None:
            y0, y1 = min(y0, bound), max(y1, bound)
    pad = 0.08 * ((y1 - y0) or abs(y1) or 1.0)
    y0, y1 = y0 - pad, y1 + pad
    ax.axhspan(y0 if low is None else low, y1 if high is None else high, color="#1a7f37", alpha=0.09, zorder=0,
               label="accepted (claim and margin)")
    ax.set_ylim(y0, y1)


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
