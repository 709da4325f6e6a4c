"""`effcheck list|report|compare|history|accept`: read the claim catalogue and saved runs; never modify them
(`accept` appends its decision beside them, in effcheck-accepted.jsonl).

Imports no torch: everything here reads data. Errors are one line on stderr and exit status 2; a bad run
file met while searching is one warning line on stderr; `compare` exits 1 when the gate fails.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from effcheck.errors import BaselineError, EffcheckError
from effcheck.options import add_options

DEFAULT_STORAGE = ".benchmarks"


def _warn(line: str) -> None:
    print(f"effcheck: warning: {line}", file=sys.stderr)


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
    from effcheck.gate import Delta, GatePolicy
    from effcheck.report import markdown_gate, markdown_table, terminal_table
    from effcheck.store import load_ledger, resolve_run

    path = resolve_run(args.run, args.storage, _warn)
    ledger = load_ledger(path)
    deltas = [Delta.from_dict(d) for d in (ledger.comparison or {}).get("deltas", [])]
    if args.format == "markdown":
        print(f"### effcheck claims: {path.name}\n\n`{ledger.hardware_key}`, {ledger.created}\n")
        print(markdown_table(ledger.results))
        if deltas:
            print(f"\n#### gate against {(ledger.comparison or {}).get('baseline')}\n")
            print(markdown_gate(deltas, GatePolicy()))
    else:
        print(f"{path}  ({ledger.hardware_key}, {ledger.created})")
        print(terminal_table(ledger.results))
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from effcheck.env import software_diff
    from effcheck.gate import GatePolicy, compare_ledgers
    from effcheck.report import gate_table, markdown_gate
    from effcheck.store import load_ledger, resolve_run

    base_path, run_path = resolve_run(args.baseline, args.storage, _warn), resolve_run(args.run, args.storage, _warn)
    baseline, current = load_ledger(base_path), load_ledger(run_path)
    policy = GatePolicy.from_specs(args.effcheck_compare_fail or [],
                                   fail_on_improvement=args.effcheck_fail_on_improvement)
    for line in policy.warnings():
        _warn(line)
    change = software_diff(baseline.environment, current.environment)
    if change:
        print(f"environment changed since baseline {base_path.stem.split('_', 1)[0]}: {change}")
    deltas = compare_ledgers(current, baseline, policy, base_path.stem, any_device=args.any_hardware)
    print(markdown_gate(deltas, policy) if args.format == "markdown" else gate_table(deltas, policy))
    return 1 if any(d.failing(policy) for d in deltas) else 0


def _cmd_history(args: argparse.Namespace) -> int:
    from effcheck.plots import write_history
    from effcheck.store import load_runs

    runs = []
    for loaded in load_runs(args.storage, _warn):
        if args.hardware and loaded.ledger.hardware_key != args.hardware:
            continue
        runs.append((loaded.run.name, loaded.ledger))
    if not runs:
        raise BaselineError(f"no readable runs with effcheck results in {args.storage}: run `pytest benchmarks/`")
    keys = {ledger.hardware_key for _, ledger in runs}
    if len(keys) > 1:
        raise BaselineError(f"runs from {len(keys)} hardware keys in {args.storage}: choose one with --hardware "
                            f"({'; '.join(sorted(keys))})")
    index = write_history(runs, args.out)
    print(f"wrote {index} ({len(runs)} runs)")
    return 0


def _cmd_accept(args: argparse.Namespace) -> int:
    import fnmatch

    from effcheck.store import load_ledger, record_acceptance, resolve_run

    path = resolve_run(args.run, args.storage, _warn)
    ledger = load_ledger(path)
    if not ledger.complete:
        raise BaselineError(f"{path.name} did not complete (interrupted or stopped early): its measurements "
                            "cannot be accepted; rerun and accept that run")
    patterns = args.claims or ["*"]
    measured = [r.claim.id for r in ledger.results if r.measurement is not None]
    for pattern in patterns:
        if not any(fnmatch.fnmatchcase(cid, pattern) for cid in measured):
            raise BaselineError(f"{pattern!r} matches no claim measured in {path.name}; "
                                f"`effcheck report {path.stem.split('_', 1)[0]}` lists them")
    chosen = sorted(cid for cid in measured if any(fnmatch.fnmatchcase(cid, p) for p in patterns))
    where = record_acceptance(args.storage, path.stem, patterns)
    print(f"accepted {len(chosen)} claim(s) of {path.name} as baselines (recorded in {where}):")
    for cid in chosen:
        print(f"  {cid}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="effcheck",
        description="Efficiency claims of ML architectures, measured and gated. "
        "Run the benchmarks with `pytest benchmarks/`; this command reads what they saved.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    storage = argparse.ArgumentParser(add_help=False)
    storage.add_argument("--storage", default=DEFAULT_STORAGE,
                         help=f"pytest-benchmark storage folder (default {DEFAULT_STORAGE})")
    runs_help = "a run: a path, 'latest' or its number as pytest-benchmark names it (0003)"

    p = sub.add_parser("list", help="list the claims effcheck checks, with their sources")
    p.add_argument("--family", help="only this family (vision, sequence, attention, llm, diffusion)")
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser("report", parents=[storage], help="claims table of a saved run")
    p.add_argument("run", nargs="?", default="latest", help=runs_help + " (default latest)")
    p.add_argument("--format", choices=("text", "markdown"), default="text",
                   help="markdown suits $GITHUB_STEP_SUMMARY")
    p.set_defaults(func=_cmd_report)

    p = sub.add_parser("compare", parents=[storage], help="gate run B against baseline A; exit 1 on regression")
    p.add_argument("baseline", help=runs_help)
    p.add_argument("run", help=runs_help)
    p.add_argument("--format", choices=("text", "markdown"), default="text")
    p.add_argument("--any-hardware", action="store_true",
                   help="compare device quantities (times, allocator memory) measured on different devices too")
    add_options(p.add_argument, "--", ("compare-fail", "fail-on-improvement"))
    p.set_defaults(func=_cmd_compare)

    p = sub.add_parser("history", parents=[storage], help="PNG plots of every claim's metric over saved runs")
    p.add_argument("--out", default="effcheck-history", help="output folder (default effcheck-history)")
    p.add_argument("--hardware", help="only runs with this hardware key")
    p.set_defaults(func=_cmd_history)

    p = sub.add_parser("accept", parents=[storage],
                       help="accept a saved run's measurements as baselines (all claims, or those named)")
    p.add_argument("run", help=runs_help)
    p.add_argument("claims", nargs="*", metavar="CLAIM", help="claim ids or patterns (default: every claim)")
    p.set_defaults(func=_cmd_accept)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except EffcheckError as exc:
        print(f"effcheck: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `effcheck report | head`: the reader has what it wanted
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
