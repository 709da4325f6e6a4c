"""`effcheck facts [PATH ...]`: the facts file against the claims a suite has. A line whose claim no test
carries any more (renamed, removed) stays in the file until someone drops it: nothing gates it, and a
reviewer reading the file would take it for a fact the project still keeps."""

from __future__ import annotations

import argparse

from effcheck.errors import UsageError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="*", metavar="PATH",
                   help="test files or folders whose claims the file is held to (default: effcheck's own suite)")
    p.add_argument("--facts", default="effcheck-facts.txt", metavar="FILE",
                   help="the facts file (default effcheck-facts.txt in the current folder)")
    p.add_argument("--drop-stale", action="store_true",
                   help="remove the lines whose claim no test carries (otherwise they are listed and the exit "
                   "status is 1)")


def run_facts(args: argparse.Namespace) -> int:
    from effcheck.facts_file import drop_facts, read_facts

    facts = read_facts(args.facts)
    if facts is None:
        raise UsageError(f"{args.facts}: no such facts file (`pytest --effcheck-accept` writes one)")
    if args.paths:
        from effcheck.discover import claims_in

        known = {found.claim.id for found in claims_in(args.paths)}
        where = " ".join(args.paths)
    else:
        from effcheck.claims import catalogue

        known = set(catalogue())
        where = "effcheck's suite"
    stale = sorted(set(facts.facts) - known)
    if not stale:
        print(f"{args.facts}: {len(facts.facts)} fact(s), each a claim of {where}")
        return 0
    if args.drop_stale:
        removed = drop_facts(args.facts, stale)
        print(f"{args.facts}: dropped {len(removed)} line(s) whose claim {where} no longer has:")
        print("\n".join(f"  {f.line()}" for f in removed))
        return 0
    print(f"{args.facts}: {len(stale)} line(s) name a claim {where} does not have (renamed or removed); "
          "drop them with --drop-stale:")
    print("\n".join(f"  {facts.facts[cid].line()}" for cid in stale))
    return 1
