"""How long finding every claim's baseline takes with many saved runs (issue 9: at most 2 s for 1,000).

    PYTHONPATH=. python scripts/baseline_lookup.py [--runs 1000] [--claims 60] [--samples 15]

Writes RUNS run files shaped like the suite's (CLAIMS claims each, a third of them timed with SAMPLES
samples, the full environment) into a temporary storage, then times what a session does: read every
run once (effcheck.history.load_history) and select each claim's baseline. It also checks the answer
stays right when files are removed or added by hand. Not a timed test: a measurement to report.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from effcheck.baseline import scope_of
from effcheck.env import environment
from effcheck.history import load_history
from effcheck.records import Claim, ClaimResult, Ledger, Measurement, Verdict


def _ledger(run: int, claims: int, samples: int, env: dict) -> Ledger:
    results = []
    for i in range(claims):
        noisy = i % 3 == 0
        claim = Claim(id=f"fam{i % 5}/claim_{i}", statement=f"claim {i} holds", source="paper", metric="ratio",
                      unit="x", comparison=">=", expected=1.0, better="higher", noisy=noisy)
        values = tuple(2.0 + 0.01 * ((run * 7 + k) % 11) for k in range(samples)) if noisy else ()
        value = sorted(values)[len(values) // 2] if noisy else 4.0 + i
        method = "interleaved A/B time ratio a/b" if noisy else "exact parameter counts on meta"
        results.append(ClaimResult(claim, Verdict.PASS, f"claim {i} PASS: measured {value}",
                                   Measurement(value, "x", method, samples=values, details={"n": i}),
                                   f"benchmarks/test_fam{i % 5}.py::test_{i}"))
    created = (dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(minutes=run)).isoformat()
    deltas = [{"claim_id": r.claim.id, "status": "unchanged"} for r in results]
    return Ledger(tuple(results), env, "cpu:x", created, "0.1.0", {"gated": True, "deltas": deltas})


def _write(folder: Path, run: int, ledger: Ledger) -> Path:
    path = folder / f"{run:04d}_bench.json"
    data = {"machine_info": {"node": "x"}, "commit_info": {"id": "abc"}, "benchmarks": [],
            "datetime": ledger.created, "version": "5.3.1", "effcheck": ledger.to_dict()}
    path.write_text(json.dumps(data, indent=2))
    return path


def _lookup(storage: Path, env: dict, current: Ledger) -> tuple[float, float, dict[str, str]]:
    """What a saving session does: read the history once (updating the index cache), then select every
    claim of the current run."""
    start = time.perf_counter()
    history = load_history(storage, update_index=True)
    loaded = time.perf_counter()
    chosen = {}
    for result in current.results:
        selection = history.index.select(result.claim.id, scope_of(result, env))
        chosen[result.claim.id] = selection.baseline.run if selection.baseline else ""
    return loaded - start, time.perf_counter() - loaded, chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--claims", type=int, default=60)
    parser.add_argument("--samples", type=int, default=15)
    args = parser.parse_args(argv)
    env = environment("cpu")
    root = Path(tempfile.mkdtemp(prefix="effcheck-scale-"))
    try:
        folder = root / "Linux-CPython-3.11-64bit"
        folder.mkdir()
        for run in range(1, args.runs + 1):
            _write(folder, run, _ledger(run, args.claims, args.samples, env))
        size = sum(p.stat().st_size for p in folder.iterdir()) / 2**20
        current = _ledger(args.runs + 10, args.claims, args.samples, env)
        newest = f"{args.runs:04d}_bench"
        for cache in ("no index cache (first session)", "index cache warm (every later session)"):
            read_s, select_s, chosen = _lookup(root, env, current)
            assert set(chosen.values()) == {newest}, "every claim's baseline is the newest accepted run"
            print(f"{args.runs} runs x {args.claims} claims ({size:.0f} MiB), {cache}: read {read_s:.2f} s, "
                  f"select {select_s * 1000:.0f} ms, total {read_s + select_s:.2f} s")
        (folder / f"{newest}.json").unlink()  # removed by hand: the previous run is the baseline now
        _, _, chosen = _lookup(root, env, current)
        assert set(chosen.values()) == {f"{args.runs - 1:04d}_bench"}
        _write(folder, args.runs + 5, _ledger(args.runs + 5, args.claims, args.samples, env))  # added by hand
        _, _, chosen = _lookup(root, env, current)
        assert set(chosen.values()) == {f"{args.runs + 5:04d}_bench"}
        print("after removing the newest file and adding one by hand: baselines follow (checked)")
    finally:
        shutil.rmtree(root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
