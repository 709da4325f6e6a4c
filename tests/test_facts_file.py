"""The tracked facts file (effcheck.facts_file): exact round trips, a stable sorted layout whose changes are
one-line diffs, errors that name the line, and concurrent acceptances that each keep their lines."""

import math
import multiprocessing

import pytest
from hypothesis import given
from hypothesis import strategies as st

from effcheck.errors import BaselineError
from effcheck.facts_file import Fact, accept_facts, format_value, parse, read_facts, render

ids = st.from_regex(r"[a-z][a-z0-9_/.-]{0,30}(\[[a-z0-9-]{1,6}\])?", fullmatch=True)
values = st.one_of(st.integers(-(2**70), 2**70), st.floats(allow_nan=False, allow_infinity=False))
units = st.sampled_from(["params", "B", "x", "x tolerance", "M params", "", "calls/step"])


@given(st.dictionaries(ids, st.tuples(values, units), max_size=20))
def test_what_is_written_reads_back_exactly(entries):
    facts = [Fact(cid, value, unit) for cid, (value, unit) in entries.items()]
    back = parse(render(facts), "f")
    assert set(back) == set(entries)
    for cid, (value, unit) in entries.items():
        assert back[cid].value == value and back[cid].unit == unit  # exact: no digit lost


@given(st.dictionaries(ids, st.tuples(values, units), min_size=1, max_size=20), st.data())
def test_one_changed_fact_is_a_one_line_diff(entries, data):
    facts = {cid: Fact(cid, v, u) for cid, (v, u) in entries.items()}
    before = render(facts.values()).splitlines()
    cid = data.draw(st.sampled_from(sorted(facts)))
    old = facts[cid]
    new_value = old.value + 1 if math.isfinite(old.value + 1) and old.value + 1 != old.value else 7
    facts[cid] = Fact(cid, new_value, old.unit)
    after = render(facts.values()).splitlines()
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert len(changed) == 1 and changed[0][0].startswith(f"{cid} = ")
    lines = [line for line in after if not line.startswith("#")]
    assert [line.split(" = ")[0] for line in lines] == sorted(facts)


def test_integral_values_print_without_a_fraction_and_floats_as_repr():
    assert format_value(6738415616.0) == "6738415616"
    assert format_value(6738415616) == "6738415616"
    assert format_value(0.1) == "0.1"
    assert float(format_value(4.3789967304673796e-07)) == 4.3789967304673796e-07
    assert format_value(2.0**60) == repr(2.0**60)  # beyond 2**53 an integral float stays a float


@pytest.mark.parametrize("text, said", [
    ("fam/a 10 B\n", "fam/a 10 B' is not `claim-id = value unit`"),
    ("fam/a = ten B\n", "'ten' is not a number"),
    ("fam/a = 1 B\nfam/a = 2 B\n", "fam/a is listed twice"),
    ("<<<<<<< HEAD\nfam/a = 1 B\n=======\nfam/a = 2 B\n>>>>>>> pr\n", "merge conflict marker"),
    ("fam/a = inf B\n", "'inf' is not a number"),
])
def test_a_line_effcheck_cannot_read_is_an_error_naming_it_and_the_file_is_never_rewritten(tmp_path, text, said):
    path = tmp_path / "effcheck-facts.txt"
    path.write_text(text)
    with pytest.raises(BaselineError, match=r"effcheck-facts\.txt:\d+: ") as raised:
        read_facts(path)
    assert said in str(raised.value) and "\n" not in str(raised.value)
    with pytest.raises(BaselineError):
        accept_facts(path, [Fact("fam/b", 1, "B")])
    assert path.read_text() == text


def test_no_file_is_no_facts_and_accepting_creates_it_sorted(tmp_path):
    path = tmp_path / "sub" / "effcheck-facts.txt"
    assert read_facts(path) is None
    changes = accept_facts(path, [Fact("z/b", 2, "B"), Fact("a/c", 3.5, "x")])
    assert [c.text() for c in changes] == ["a/c new -> 3.5 x", "z/b new -> 2 B"]
    lines = [line for line in path.read_text().splitlines() if not line.startswith("#")]
    assert lines == ["a/c = 3.5 x", "z/b = 2 B"]
    assert accept_facts(path, [Fact("z/b", 2, "B")]) == []  # unchanged: nothing written
    assert [c.text() for c in accept_facts(path, [Fact("z/b", 5, "B")])] == ["z/b 2 -> 5 B"]


def _accept_many(args):
    path, prefix = args
    for i in range(25):
        accept_facts(path, [Fact(f"{prefix}/{i:02d}", i, "B")])


def test_two_processes_accepting_at_once_keep_every_line(tmp_path):
    path = str(tmp_path / "effcheck-facts.txt")
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        pool.map(_accept_many, [(path, "a"), (path, "b")])
    facts = read_facts(path)
    assert facts is not None and len(facts.facts) == 50
