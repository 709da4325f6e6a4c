#!/usr/bin/env python3
"""A benchmark of the harness itself: what the suite costs and how still its timed ratios hold.

Reports, for the pull-request tier (README, "Tiers": the deterministic claims but the slow ones), its wall
time serially and with `-n 2 --dist worksteal` and the peak resident memory of its largest process; and, for every
timed claim, its value in each of N full reruns of the timed tier with max/min (the spread between runs,
which one run's IQR cannot show). Not a test: wall-clock numbers depend on the machine and its load, so
they are printed for a person to compare before and after a change, never asserted.

    python scripts/harness.py                 # tier serial and -n 2, then 5 reruns of the timed claims
    python scripts/harness.py --reruns 3 --skip-parallel
    python scripts/harness.py --out harness.json   # the same figures as JSON, to keep beside a change

Each pytest run writes into a scratch benchmark storage, so the project's history is never touched.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TIER = "not timed and not slow and not gpu and not weights"  # README, "Tiers": the pull-request tier
TIMED = "timed and not gpu and not weights"


def _pytest(python: str, marker: str, storage: Path, ledger: Path, extra: list[str]) -> tuple[float, int, int]:
    """One pytest run of benchmarks/ with a marker expression: (wall seconds, exit code, peak RSS bytes).

    The peak is that of the largest process of the run (Linux reports the largest descendant's ru_maxrss),
    measured by running pytest through a child python that waits for it alone.
    """
    cmd = [python, "-m", "pytest", "benchmarks/", "-q", "-p", "no:cacheprovider", "-m", marker,
           f"--benchmark-storage=file://{storage}", f"--effcheck-json={ledger}", *extra]
    probe = (
        "import resource, subprocess, sys, time\n"
        "t = time.perf_counter(); rc = subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL)\n"
        "wall = time.perf_counter() - t\n"
        "print(wall, rc, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe, *cmd], cwd=ROOT, capture_output=True, text=True,
                         check=False)
    wall, rc, peak = out.stdout.split()[-3:]
    return float(wall), int(rc), int(peak)


def _timed_values(ledger: Path) -> dict[str, float]:
    data = json.loads(ledger.read_text())
    return {r["id"]: r["measurement"]["value"] for r in data.get("results", [])
            if r.get("claim", {}).get("noisy") and r.get("measurement")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", default=sys.executable, help="interpreter with effcheck installed")
    parser.add_argument("--reruns", type=int, default=5, help="full reruns of the timed claims (default 5)")
    parser.add_argument("--skip-parallel", action="store_true", help="do not time the tier under -n 2")
    parser.add_argument("--skip-tier", action="store_true", help="only the timed reruns")
    parser.add_argument("--out", help="also write the figures as JSON to this path")
    args = parser.parse_args(argv)
    report: dict[str, object] = {"cpu_count": os.cpu_count(), "python": args.python}

    with tempfile.TemporaryDirectory(prefix="effcheck-harness-") as tmp:
        scratch = Path(tmp)
        if not args.skip_tier:
            runs = [("serial", [])] + ([] if args.skip_parallel else [("-n 2", ["-n", "2", "--dist", "worksteal"])])
            for name, extra in runs:
                wall, rc, peak = _pytest(args.python, TIER, scratch / name.replace(" ", ""),
                                         scratch / f"tier-{name.replace(' ', '')}.json", extra)
                report[f"tier {name}"] = {"wall_s": round(wall, 1), "exit": rc, "peak_rss_mb": peak // 2**20}
                print(f"tier {name:7s} wall {wall:6.1f} s  exit {rc}  largest process peak RSS {peak / 2**20:,.0f} MB",
                      flush=True)

        values: dict[str, list[float]] = {}
        for i in range(args.reruns):
            ledger = scratch / f"timed-{i}.json"
            wall, rc, _ = _pytest(args.python, TIMED, scratch / "timed", ledger, [])
            print(f"timed rerun {i + 1}/{args.reruns}: wall {wall:.1f} s, exit {rc}", flush=True)
            if ledger.exists():
                for claim_id, value in _timed_values(ledger).items():
                    values.setdefault(claim_id, []).append(value)

    spreads = {}
    for claim_id, vals in sorted(values.items()):
        ratio = max(vals) / min(vals) if min(vals) > 0 else float("inf")
        spreads[claim_id] = {"values": [round(v, 4) for v in vals], "max_over_min": round(ratio, 3)}
        flag = "" if ratio <= 1.10 else "   > 1.10"
        print(f"{claim_id:55s} {' '.join(f'{v:8.3f}' for v in vals)}   max/min {ratio:.3f}{flag}")
    report["timed"] = spreads
    report["load_average_at_end"] = os.getloadavg()
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
          f"(figures taken under load are not comparable)")
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
