"""The steady heap behind CPU timings: glibc stops handing freed temporaries back to the kernel."""

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
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(steps):
        step()
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / steps

if sys.argv[1] == "steady":
    print(steady_heap()); print(steady_heap())
print(faults_per_step())
'''


def _probe(mode: str) -> list[str]:
    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True)
    return out.stdout.split("\n")[:-1]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt: Linux only")
def test_a_steady_heap_reuses_freed_temporaries_instead_of_faulting_fresh_pages():
    pytest.importorskip("torch")
    first, again, steady = _probe("steady")
    assert first == again and first.startswith("glibc ") and "mmap threshold 32 MiB" in first  # once, idempotent
    assert float(steady) < 1.0  # pages reused: no fresh page per temporary
    # the premise: glibc's own adaptive thresholds fault most of those pages in afresh on every step
    assert float(_probe("adaptive")[0]) > 100
