"""`effcheck list|report`: read the claim catalogue and saved runs without running a benchmark.

Imports no torch: everything here reads data.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from effcheck.errors import EffcheckError


def _cmd_list(args: argparse.Namespace) -> int:
    from effcheck.claims import catalogue

    for claim in catalogue().values():
        if args.family and claim.family != args.family:
            continue
        refuted = "  [recorded as REFUTED]" if claim.refuted else ""
        print(f"{claim.id}\n    {claim.statement} ({claim.metric} {claim.expectation()}){refuted}\n"
              f"    source: {claim.source}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from effcheck.report import markdown_table, terminal_table
    from effcheck.store import load_ledger

    ledger = load_ledger(args.run)
    if args.format == "markdown":
        print(f"### effcheck claims ({ledger.hardware_key}, {ledger.created})\n")
        print(markdown_table(ledger.results))
    else:
        print(terminal_table(ledger.results))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="effcheck",
        description="Efficiency claims of ML architectures, measured and gated. "
        "Run the benchmarks with `pytest benchmarks/`; this command reads what they saved.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("list", help="list the claims effcheck checks, with their sources")
    p.add_argument("--family", help="only this family (vision, sequence, attention, llm, diffusion)")
    p.set_defaults(func=_cmd_list)
    p = sub.add_parser("report", help="claims table of a saved run (ledger or pytest-benchmark JSON)")
    p.add_argument("run", help="path of a ledger (--effcheck-json) or a pytest-benchmark JSON file")
    p.add_argument("--format", choices=("text", "markdown"), default="text")
    p.set_defaults(func=_cmd_report)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except EffcheckError as exc:
        print(f"effcheck: error: {exc}", file=sys.stderr)
        return 2
