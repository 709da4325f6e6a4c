"""Hypothesis strategies for effcheck's records, in one place."""

from hypothesis import strategies as st

from effcheck.records import COMPARISONS, DIRECTIONS, SOURCE_KINDS, Claim, Measurement

finite = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False, allow_infinity=False)
positive = st.floats(min_value=1e-6, max_value=1e12, allow_nan=False, allow_infinity=False)
margins = st.floats(min_value=0.0, max_value=0.99, allow_nan=False)
ids = st.lists(st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True), min_size=2, max_size=4).map("/".join)
text = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40).filter(str.strip)


@st.composite
def claims(draw, comparison=None):
    comparison = comparison or draw(st.sampled_from(COMPARISONS))
    expected = draw(finite)
    high = None
    source_kind = draw(st.sampled_from(SOURCE_KINDS))
    quote = draw(text) if source_kind == "article" else draw(st.none() | text)
    if comparison == "between":
        high = expected + draw(st.floats(min_value=0, max_value=1e6, allow_nan=False))
    return Claim(
        id=draw(ids),
        statement=draw(text),
        source=draw(text),
        metric=draw(text),
        unit=draw(st.sampled_from(["x", "params", "MACs", "bytes"])),
        comparison=comparison,
        expected=expected,
        margin=0.0 if comparison == "==" else draw(margins),
        expected_high=high,
        better=draw(st.sampled_from(DIRECTIONS)),
        noisy=draw(st.booleans()),
        refuted=draw(st.none() | text),
        tolerance=draw(st.none() | margins),
        source_kind=source_kind,
        quote=quote,
    )


@st.composite
def measurements(draw, unit=None):
    samples = draw(st.lists(finite, max_size=12))
    return Measurement(
        value=draw(finite),
        unit=unit or draw(st.sampled_from(["x", "params", "MACs", "bytes"])),
        method=draw(text),
        device=draw(st.sampled_from(["cpu", "cuda:0"])),
        samples=tuple(samples),
        series=tuple(draw(st.lists(st.tuples(finite, finite), max_size=5))),
        details=draw(st.dictionaries(st.sampled_from(["a", "b", "n"]), finite | text, max_size=3)),
    )
