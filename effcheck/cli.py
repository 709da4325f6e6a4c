"""`effcheck list|report|compare|history|accept|bisect`: read the claim catalogue and saved runs; never modify them
(`accept` appends its decision beside them, in effcheck-accepted.jsonl; `bisect` builds its environments in a
scratch folder).

`effcheck suite [PYTEST ARGS]` runs the article's claim suite with pytest (effcheck.suite_command).

Imports no torch: everything here reads data. Errors are one line on stderr and exit status 2; a bad run
file met while searching is one warning line on stderr; `compare` exits 1 when the gate fails.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from effcheck.errors import BaselineError, EffcheckError, SchemaError
from effcheck.options import add_options
from effcheck.records import Ledger

if TYPE_CHECKING:
    from effcheck.gate import Delta

DEFAULT_STORAGE = ".benchmarks"


def _warn(line: str) -> None:
    print(f"effcheck: warning: {line}", file=sys.stderr)


def _cmd_list(args: argparse.Namespace) -> int:
    from effcheck.claims import catalogue

    if args.paths:  # the claims of a test path (a user's own), found by collecting it
        from effcheck.discover import claims_in

        found = [(f.claim, f.nodeid) for f in claims_in(args.paths)]
        if not found:
            print(f"effcheck: no test under {' '.join(args.paths)} carries a @pytest.mark.claim", file=sys.stderr)
    else:
        found = [(claim, "") for claim in catalogue().values()]
    from effcheck.checks import quoted, reading_lead, refuted_label

    for claim, nodeid in found:
        if args.family and claim.family != args.family:
            continue
        quote = quoted(claim)  # the source's own words first, then the suite's reading of them
        says = f"\n    {quote}\n    {reading_lead(claim)}:" if quote else "\n   "
        refuted = f"  [recorded as {refuted_label(claim)}]" if claim.refuted else ""
        where = f"\n    test: {nodeid}" if nodeid else ""
        applies = f"\n    applies to: {claim.applies_to}" if claim.applies_to else ""
        print(f"{claim.id}{says} {claim.statement} ({claim.metric} {claim.expectation()}){refuted}\n"
              f"    source: {claim.source}{applies}{where}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from effcheck.gate import Delta, GatePolicy
    from effcheck.report import terminal_table
    from effcheck.store import load_ledger, resolve_run

    path = resolve_run(args.run, args.storage, _warn)
    ledger = load_ledger(path)
    try:
        deltas = [Delta.from_dict(d) for d in (ledger.comparison or {}).get("deltas", [])]
    except SchemaError as exc:
        raise SchemaError(f"{path}: {exc}; move it aside or restore it") from exc
    if args.format == "markdown":
        from effcheck.report import pr_markdown

        print(pr_markdown(ledger.results, deltas, GatePolicy(), title=f"effcheck: run {path.stem.split('_')[0]} "
                          f"on `{ledger.hardware_key}`", env_changes=_env_changes(ledger, deltas)))
    else:
        print(f"{path}  ({ledger.hardware_key}, {ledger.created})")
        print(terminal_table(ledger.results))
    return 0


def _env_changes(ledger: Ledger, deltas: Sequence[Delta] = ()) -> tuple[str, ...]:
    """Versions that differ from the baselines the run was compared with: the pinned run's (when its file is
    still there), else what each claim's delta recorded against its own baseline run."""
    from effcheck.store import load_ledger
    from effcheck.timeline import version_changes

    comparison = ledger.comparison or {}
    recorded = comparison.get("environment_changes")
    if isinstance(recorded, list):
        return tuple(str(c) for c in recorded)
    baseline = comparison.get("baseline")
    if not baseline:  # per-claim baselines: a plain or gated run without a pinned run
        return tuple(dict.fromkeys(part for d in deltas if d.environment_change
                                   for part in d.environment_change.split(", ")))
    try:
        return version_changes(load_ledger(baseline).environment, ledger.environment)
    except EffcheckError:
        return ()


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
    from effcheck.dashboard import check_out_dir, write_dashboard
    from effcheck.models import require
    from effcheck.store import load_runs
    from effcheck.timeline import run_from_file

    for library in ("matplotlib", "jinja2"):  # the plots extra, asked for in one line before any work
        require(library, "plots")
    check_out_dir(args.out)  # a bad --out fails in one line before any file is read
    runs = []
    for loaded in load_runs(args.storage, _warn):
        if args.hardware and loaded.ledger.hardware_key != args.hardware:
            continue
        runs.append(run_from_file(loaded.run.path, loaded.ledger, loaded.ledger.created))
    if not runs:
        only = f" with hardware key {args.hardware!r}" if args.hardware else ""
        raise BaselineError(f"no readable runs with effcheck results{only} in {args.storage}: "
                            "run `pytest` on tests that carry claims first (each such run is saved)")
    page = write_dashboard(runs, args.out, str(args.storage))
    scopes = len({r.ledger.hardware_key for r in runs})
    print(f"wrote {page} ({len(runs)} runs, {scopes} hardware scope{'s' if scopes != 1 else ''})")
    return 0


def _cmd_accept(args: argparse.Namespace) -> int:
    from effcheck.patterns import id_matches
    from effcheck.store import load_ledger, record_acceptance, resolve_run

    path = resolve_run(args.run, args.storage, _warn)
    ledger = load_ledger(path)
    if not ledger.complete:
        raise BaselineError(f"{path.name} did not complete (interrupted or stopped early): its measurements "
                            "cannot be accepted; rerun and accept that run")
    patterns = args.claims or ["*"]
    measured = [r.claim.id for r in ledger.results if r.measurement is not None]
    for pattern in patterns:
        if not any(id_matches(cid, pattern) for cid in measured):
            raise BaselineError(f"{pattern!r} matches no claim measured in {path.name}; "
                                f"`effcheck report {path.stem.split('_', 1)[0]}` lists them")
    chosen = sorted(cid for cid in measured if any(id_matches(cid, p) for p in patterns))
    from effcheck.accepted_facts import facts_path, to_accept
    from effcheck.facts_file import accept_facts, describe_changes

    target = facts_path(args.facts, ".")
    if args.facts is None and target is not None and not target.exists():
        target = None  # the CLI cannot read pytest's ini: it rewrites a facts file the project keeps, or one named
    found = to_accept(ledger.results, ledger.environment, patterns) if target is not None else []
    changes = accept_facts(target, found) if target is not None and found else []
    where = record_acceptance(args.storage, path.stem, patterns)
    print(f"accepted {len(chosen)} claim(s) of {path.name} as baselines (recorded in {where}):")
    from effcheck.history import load_history

    index = load_history(args.storage).index  # its bad files were named once above, when the run was resolved
    in_file = {f.claim_id for f in found}  # the facts file is their baseline now, whatever the history holds
    for cid in chosen:
        newest = index.latest_eligible(cid)  # a claim's baseline is its newest accepted measurement
        newer = f" (run {newest.run} is newer and accepted: it stays the baseline)" if (
            newest is not None and newest.run != path.stem and cid not in in_file) else ""
        print(f"  {cid}{newer}")
    if changes and target is not None:
        print(describe_changes(target, changes).removeprefix("effcheck: "))
    return 0


def _cmd_bisect(args: argparse.Namespace) -> int:
    from effcheck.bisect.command import run_bisect

    return run_bisect(args, _warn)


def _cmd_push(args: argparse.Namespace) -> int:
    from effcheck.remote import describe_push, push

    print(describe_push(push(args.storage, args.remote, args.branch), args.remote, args.branch))
    return 0


def _cmd_pull(args: argparse.Namespace) -> int:
    from effcheck.remote import describe_pull, pull

    print(describe_pull(pull(args.storage, args.remote, args.branch), args.remote, args.branch, args.storage))
    return 0


def _cmd_prune(args: argparse.Namespace) -> int:
    from effcheck.errors import UsageError
    from effcheck.prune import prune_local, prune_remote

    if (args.remote is None) != (args.branch is None):
        raise UsageError("prune takes --remote and --branch together (or neither, for the local storage)")
    if args.remote is not None:
        result = prune_remote(args.remote, args.branch, args.keep, args.dry_run, print, _warn)
    else:
        result = prune_local(args.storage, args.keep, args.dry_run, print, _warn)
    done = "would remove" if args.dry_run else "removed"
    print(f"{done} {len(result.removed)} run(s); kept {len(result.held)} older run(s) that hold a baseline")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="effcheck",
        description="Efficiency claims of ML architectures, measured and gated. "
        "Run the article's claim suite with `effcheck suite` (pytest's arguments pass through); the other "
        "commands read what runs saved.",
    )
    from effcheck import __version__

    parser.add_argument("--version", action="version", version=f"effcheck {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    storage = argparse.ArgumentParser(add_help=False)
    storage.add_argument("--storage", default=DEFAULT_STORAGE,
                         help=f"pytest-benchmark storage folder (default {DEFAULT_STORAGE})")
    runs_help = "a run: a path, 'latest' or its number as pytest-benchmark names it (0003)"

    # only listed here: main() hands `effcheck suite ...` to pytest before parsing, so pytest's options pass
    sub.add_parser("suite", add_help=False, help="run the article's claim suite with pytest, from any folder "
                   "(`effcheck suite --help`; every other argument is pytest's)")

    p = sub.add_parser("list", help="list claims with their sources: effcheck's own, or those of a test path")
    p.add_argument("paths", nargs="*", metavar="PATH",
                   help="test files or folders whose claims to list (collected by pytest; nothing runs)")
    p.add_argument("--family", help="only this family (the claim id's first part: vision, sequence, ...)")
    p.set_defaults(func=_cmd_list)

    from effcheck.facts_command import add_arguments as add_facts_arguments
    from effcheck.facts_command import run_facts

    p = sub.add_parser("facts", help="hold the facts file to the claims a suite has: list (or drop) the lines "
                       "whose claim no test carries")
    add_facts_arguments(p)
    p.set_defaults(func=run_facts)

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

    p = sub.add_parser("history", parents=[storage],
                       help="a self-contained HTML dashboard of the saved runs: status grid, each claim over time, "
                       "the recorded sweeps")
    p.add_argument("--out", default="effcheck-history",
                   help="folder for index.html (default effcheck-history); the page needs no server or network")
    p.add_argument("--hardware", help="only runs with this hardware key (by default every scope is shown)")
    p.set_defaults(func=_cmd_history)

    p = sub.add_parser("accept", parents=[storage],
                       help="accept a saved run's measurements as baselines (all claims, or those named)")
    p.add_argument("run", help=runs_help)
    p.add_argument("claims", nargs="*", metavar="CLAIM", help="claim ids or patterns (default: every claim)")
    p.add_argument("--facts", default=None, metavar="PATH",
                   help="the tracked facts file whose lines the run's accepted architecture facts rewrite "
                   "(default effcheck-facts.txt in the current folder, when it exists; none: the history only)")
    p.set_defaults(func=_cmd_accept)

    from effcheck.bisect.command import add_arguments as add_bisect_arguments

    p = sub.add_parser("bisect", parents=[storage],
                       help="which package moved which claim: rerun the changed claims in a scratch venv with "
                       "the baseline's versions, moving one package at a time to the run's")
    add_bisect_arguments(p)
    p.set_defaults(func=_cmd_bisect)

    remote = argparse.ArgumentParser(add_help=False)
    remote.add_argument("--remote", required=True, help="a git remote: URL or local path (git's own credentials)")
    remote.add_argument("--branch", required=True, help="the branch that holds the runs (created by the first push)")
    p = sub.add_parser("push", parents=[storage, remote],
                       help="add the local runs (and acceptances) the branch lacks, as one commit; never forced")
    p.set_defaults(func=_cmd_push)
    p = sub.add_parser("pull", parents=[storage, remote],
                       help="bring the branch's runs into the storage (under remote/<hash>/); nothing local replaced")
    p.set_defaults(func=_cmd_pull)
    p = sub.add_parser("prune", parents=[storage],
                       help="remove old runs, keeping the newest N per machine folder and every run that holds a "
                       "baseline (prints what goes first); with --remote/--branch, on the branch as one commit")
    p.add_argument("--keep", type=int, required=True, metavar="N", help="runs to keep per machine folder")
    p.add_argument("--remote", help="prune this git remote's branch instead of the local storage")
    p.add_argument("--branch", help="the branch that holds the runs")
    p.add_argument("--dry-run", action="store_true", help="only print what would go")
    p.set_defaults(func=_cmd_prune)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["suite"]:  # before argparse, which would take pytest's -k, -m, -n... for its own
        from effcheck.suite_command import run_suite

        return run_suite(argv[1:])
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
