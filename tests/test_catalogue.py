"""The claim catalogue and the benchmark suite agree: every claim is checked by a benchmark, and every
benchmark checks a catalogued claim."""

import functools
import json
import subprocess
import sys
from pathlib import Path

import pytest

from effcheck.claims import catalogue

ROOT = Path(__file__).resolve().parent.parent

COLLECT = """
import json, sys, pytest
class Ids:
    def __init__(self): self.ids = {}
    def pytest_collection_modifyitems(self, items):
        for item in items:
            claims = [c.id for m in item.iter_markers("claim") for c in m.args]
            self.ids[item.nodeid] = {"claims": claims, "timed": item.get_closest_marker("timed") is not None}
ids = Ids()
code = pytest.main(["--collect-only", "-q", "-p", "no:cacheprovider", "benchmarks"], plugins=[ids])
print("IDS:" + json.dumps(ids.ids))
sys.exit(int(code))
"""


@functools.cache
def _collected() -> dict[str, dict]:
    out = subprocess.run([sys.executable, "-c", COLLECT], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("IDS:")][-1]
    return json.loads(line.removeprefix("IDS:"))


def test_every_benchmark_checks_one_catalogued_claim_and_every_claim_is_checked():
    known = catalogue()
    collected = _collected()
    assert collected, "no benchmarks collected"
    for nodeid, found in collected.items():
        ids = found["claims"]
        assert len(ids) == 1, f"{nodeid} checks {ids}: one claim per benchmark"
        assert ids[0] in known, f"{nodeid} checks {ids[0]}, which is not in effcheck.claims"
    used = [i for found in collected.values() for i in found["claims"]]
    assert sorted(set(known) - set(used)) == [], "claims no benchmark checks"
    assert len(used) == len(set(used)), "two benchmarks check the same claim id: their histories would collide"


def test_claims_name_their_sources_and_refutations_say_why():
    for claim in catalogue().values():
        assert claim.source.strip() and claim.statement.strip()
        if claim.refuted is not None:
            assert len(claim.refuted) > 20, f"{claim.id}: say why the quoted source is wrong"


FAMILIES = sorted({claim.family for claim in catalogue().values()})


@pytest.mark.parametrize("family", FAMILIES)
def test_every_catalogued_claim_quotes_its_source(family):
    """effcheck's own claims say whose sentence they check (never 'user') and quote it verbatim."""
    for claim in catalogue().values():
        if claim.family != family:
            continue
        assert claim.source_kind in ("article", "paper", "suite"), f"{claim.id}: source_kind={claim.source_kind!r}"
        assert claim.quote and claim.quote.strip(), f"{claim.id}: quote the sentence this claim checks"


def test_noisy_claims_are_exactly_the_timed_benchmarks():
    """A timed benchmark must run alone under xdist and be gated with statistics: its claim is noisy."""
    known = catalogue()
    for nodeid, found in _collected().items():
        claim = known[found["claims"][0]]
        assert claim.noisy == found["timed"], f"{nodeid}: claim noisy={claim.noisy} but timed marker={found['timed']}"
