"""The steady heap behind CPU timings: glibc stops handing freed temporaries back to the kernel."""

import statistics
import subprocess
import sys

import pytest

PROBE = '''
import resource, sys
import torch
from effcheck.meters.heap import steady_heap

def faults_per_step(steps=20):  # RMSNorm-like: a chain of 8 MB temporaries, freed at the end of each step
    x = torch.ones(512, 4096)
    def step():
        y = x.pow(2); z = y.mean(-1, keepdim=True); w = (x * torch.rsqrt(z + 1e-6)) * 2.0
        return float(w[0, 0])
    step()
    faults = []
    for _ in range(steps):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        step()
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    return faults

if sys.argv[1] == "steady":
    print(steady_heap()); print(steady_heap())
print(" ".join(map(str, faults_per_step())))
'''


def _probe(mode: str) -> list[str]:
    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True)
    return out.stdout.split("\n")[:-1]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt: Linux only")
def test_a_steady_heap_reuses_freed_temporaries_instead_of_faulting_fresh_pages():
    pytest.importorskip("torch")
    first, again, steady = _probe("steady")
    assert first == again and first.startswith("glibc ") and "mmap threshold 32 MiB" in first  # once, idempotent
    # pages reused: no fresh page per temporary. The median, not the mean: until the heap has grown to the
    # chain's working set a step may still fault whole 8 MB temporaries in (2048 pages each), as the order
    # of torch's frees decides: torch 2.6 in the first 2-4 steps (now and then one more later), 2.13 never
    faults = [int(n) for n in steady.split()]
    assert statistics.median(faults) == 0, faults
    # the premise: glibc's own adaptive thresholds fault many of those pages in afresh, step after step
    assert statistics.mean(int(n) for n in _probe("adaptive")[0].split()) > 100
