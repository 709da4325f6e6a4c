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


# -- the cyclic collector -----------------------------------------------------------------------------------
GC_SUITE = '''
import gc, weakref
import pytest
from effcheck.records import Claim, Measurement

CLAIM = Claim(id="fam/c", statement="s", source="src", metric="m", unit="x", comparison=">=", expected=1.0)
REFS = {}

class Node:
    pass

def cycle(name):
    node = Node(); node.me = node  # garbage only a collection frees
    REFS[name] = weakref.ref(node)
    return node

def test_plain_first():
    cycle("plain")
    assert gc.get_freeze_count() == 0  # a project's other tests change nothing

@pytest.mark.claim(CLAIM)
def test_benchmark(effcheck):
    cycle("benchmark")
    KEEP.append(Node())  # alive after the test: frozen
    effcheck.check(Measurement(value=2.0, unit="x", method="m"))

KEEP = []

def test_after():
    assert REFS["benchmark"]() is None  # collected before the freeze, not frozen with the survivors
    assert gc.get_freeze_count() > 0 and not any(o is KEEP[0] for o in gc.get_objects())
'''


def test_after_a_benchmark_survivors_are_frozen_and_its_garbage_collected(pytester):
    pytester.makepyfile(test_gc=GC_SUITE)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)


FROZEN_PROBE = '''
import gc, sys
from effcheck.meters.heap import frozen_heap, freeze_survivors
if sys.argv[1] == "settled":
    freeze_survivors()
class Node: pass
dead = Node(); dead.me = dead; del dead  # garbage from before the block
before = gc.get_freeze_count()
with frozen_heap():
    inside = gc.get_freeze_count()
    gc.collect()  # what rwkv's loader does per layer
print(before, inside > 0, gc.get_freeze_count(), sum(type(o).__name__ == "Node" for o in gc.get_objects()))
'''


@pytest.mark.parametrize("mode, frozen_after", [("plain", "0"), ("settled", "frozen")])
def test_frozen_heap_undoes_its_freeze_unless_benchmarks_keep_the_heap_frozen(mode, frozen_after):
    out = subprocess.run([sys.executable, "-c", FROZEN_PROBE, mode], capture_output=True, text=True, check=True)
    before, inside, after, live_nodes = out.stdout.split()
    assert inside == "True"
    if frozen_after == "0":
        assert before == after == "0"  # outside effcheck's benchmarks, the block's freeze is undone
    else:
        assert int(after) >= int(before) > 0
        assert live_nodes == "0"  # the dead cycle was collected, not frozen
