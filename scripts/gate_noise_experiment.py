"""The short-history experiment: how often unchanged reruns of a timed claim alarm, and whether a 25%
slowdown is flagged, in a tiny user project (two torch MLPs, effcheck's interleaved A/B ratio).

    PYTHONPATH=. python scripts/gate_noise_experiment.py [--reruns 10] [--slowdown 0.25]

Run 1 saves the baseline; each rerun is `pytest --benchmark-autosave --benchmark-compare` with nothing
changed, then one run makes the small model's forward do SLOWDOWN more work. For each run it prints the
gate's status for the claim, the change, the accepted history it had, and whether it failed the build.
Not a timed test: the numbers it prints are the evidence behind effcheck.gate.MIN_HISTORY.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

TEST = '''
import os, time, pytest, torch
from effcheck.records import Claim
from effcheck.meters.latency import ab_ratio

CLAIM = Claim(id="user/small_vs_big/time", statement="the small MLP takes at most half the big one's time",
              source="design doc", metric="time ratio small/big", unit="x", comparison="<=", expected=0.5,
              better="lower", noisy=True)

def _spin(seconds):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass

@pytest.mark.timed
@pytest.mark.claim(CLAIM)
def test_small_vs_big(effcheck):
    torch.manual_seed(0)
    torch.set_num_threads(1)
    small = torch.nn.Sequential(torch.nn.Linear(256, 256), torch.nn.ReLU(), torch.nn.Linear(256, 256))
    big = torch.nn.Sequential(torch.nn.Linear(256, 1024), torch.nn.ReLU(), torch.nn.Linear(1024, 256))
    x = torch.randn(64, 256)
    extra = float(os.environ.get("SLOW", "0"))

    def run_small():
        start = time.perf_counter()
        with torch.no_grad():
            small(x)
        _spin((time.perf_counter() - start) * extra)

    def run_big():
        with torch.no_grad():
            big(x)

    effcheck.check(ab_ratio(run_small, run_big, rounds=9, label_a="small", label_b="big"))
'''


def _run(project: Path, *args: str, slow: float = 0.0) -> tuple[int, dict]:
    env = {**os.environ, "SLOW": str(slow)}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--effcheck-device=cpu",
                           "--benchmark-autosave", *args], cwd=project, env=env, capture_output=True, text=True)
    newest = max((project / ".benchmarks").rglob("0*.json"), key=lambda p: p.name)
    ledger = json.loads(newest.read_text())["effcheck"]
    deltas = {d["claim_id"]: d for d in (ledger.get("comparison") or {}).get("deltas", [])}
    return proc.returncode, deltas.get("user/small_vs_big/time", {})


def _change(stored: dict) -> str:
    """A recorded delta's change as effcheck's reports print it ("from zero" has no percentage)."""
    from effcheck.gate import Delta

    return Delta.from_dict(stored).change_text() if stored else "-"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reruns", type=int, default=10)
    parser.add_argument("--slowdown", type=float, default=0.25)
    args = parser.parse_args(argv)
    project = Path(tempfile.mkdtemp(prefix="effcheck-noise-"))
    (project / "test_user.py").write_text(TEST)
    print(f"project: {project}")
    print("run  status       change   history  exit")
    code, delta = _run(project)
    print(f"   1 {delta.get('status', '-'):12} {'':8} {'':8} {code}")
    for i in range(2, args.reruns + 2):
        code, d = _run(project, "--benchmark-compare")
        change = _change(d)
        print(f"{i:4} {d.get('status', '-'):12} {change:8} {d.get('history', 0):<8} {code}")
    code, d = _run(project, "--benchmark-compare", slow=args.slowdown)
    change = _change(d)
    print(f"slow {d.get('status', '-'):12} {change:8} {d.get('history', 0):<8} {code}   (+{args.slowdown:.0%} work "
          "in the small model's forward)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
