"""A claim quotes its source verbatim, and a verdict shows that quote before the suite's reading of it.

Article claims (every family) quote the article: each quote is in the article's text, modulo whitespace and
typographic quote characters, a line quoted with the lines between left out ("\\n...\\n") piece by piece (when
the text is at hand: EFFCHECK_ARTICLE, or the project's shared copy; otherwise those tests skip and say where
to point it). Paper claims quote a paper, table or config the suite has no copy of; where the quote is of
something the suite builds from (a published config.json, LLaMA's or GPT-3's shape table) it is held against
those data, and where it ends in a printed figure, that figure is the one the claim checks. Every claim
recorded as refuted shows its quote, verbatim, first in its verdict's sentence.
"""

import math
import os
import re
from pathlib import Path

import pytest

from effcheck.checks import bounds, evaluate, quote_place, reading_lead
from effcheck.claims import catalogue
from effcheck.meters.rounding import parse_figure
from effcheck.models.language_specs import SPECS
from effcheck.records import Measurement, Verdict

ARTICLE = Path(os.environ.get("EFFCHECK_ARTICLE", "/work/shared/seed/000_623593cf68c6dda7.txt"))
CLAIMS = catalogue()
FAMILIES = sorted({c.family for c in CLAIMS.values()})
_TYPOGRAPHIC = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})


def normalized(text: str) -> str:
    """Whitespace joined, typographic quotes straightened: what 'verbatim' is held to."""
    return " ".join(text.translate(_TYPOGRAPHIC).split())


def pieces(quote: str) -> list[str]:
    """A quote's verbatim pieces: lines quoted with the lines between them left out ('\\n...\\n')."""
    return [normalized(p) for p in re.split(r"\n\.\.\.\n", quote) if p.strip()]


@pytest.fixture(scope="module")
def article() -> str:
    if not ARTICLE.is_file():
        pytest.skip(f"article text not found at {ARTICLE}: set EFFCHECK_ARTICLE to its path")
    return normalized(ARTICLE.read_text(encoding="utf-8"))


@pytest.mark.parametrize("family", FAMILIES)
def test_article_quotes_are_verbatim(family, article):
    wrong = [(c.id, p[:80]) for c in CLAIMS.values() if c.family == family and c.source_kind == "article"
             for p in pieces(c.quote) if p not in article]
    assert wrong == [], f"quotes not found verbatim in the article: {wrong}"


def test_pieces_and_normalization():
    assert pieces("a  b\n...\nc \u201cd\u201d") == ["a b", 'c "d"']
    assert normalized("it\u2019s\n  here") == "it's here"


def test_article_claims_name_the_section_of_their_quote():
    """A verdict shows the quote with its section: every article claim's source starts with 'article §...'
    (or the article's summary), from which the section is read."""
    missing = [c.id for c in CLAIMS.values() if c.source_kind == "article"
               and not re.match(r"(summary|§\d)", quote_place(c))]
    assert missing == [], f"article claims whose source names no section: {missing}"


# -- paper claims, where the suite holds the quoted data itself ---------------------------------------------
_CONFIG_QUOTE = re.compile(r'^(?P<repo>[\w.-]+) config\.json: (?P<pairs>.*)$')
_TABLE_KEYS = {  # words of a shape table as a paper prints it -> the config field the suite builds from
    "LLaMA Table 2": {"dimension": "hidden_size", "n heads": "num_attention_heads", "n layers": "num_hidden_layers"},
    "Brown et al. 2020 Table 2.1": {"n_layers": "n_layer", "d_model": "n_embd", "n_heads": "n_head"},
}


def _spec_for_config_quote(repo: str):
    found = [s for s in SPECS.values() if s.source.split(" config.json", 1)[0].endswith("/" + repo)]
    assert len(found) == 1, f"{repo}: no model spec built from its config.json"
    return found[0]


def _checkable_paper_quotes() -> dict[str, list[tuple[str, object, object]]]:
    """Per paper claim whose quote the suite can hold against its own data: (field, quoted, built)."""
    checks: dict[str, list[tuple[str, object, object]]] = {}
    for c in CLAIMS.values():
        if c.source_kind != "paper":
            continue
        match = _CONFIG_QUOTE.match(c.quote)
        if match:
            spec = _spec_for_config_quote(match["repo"])
            pairs = re.findall(r'"(\w+)": (\d+)', match["pairs"])
            checks[c.id] = [(key, int(value), spec.config.get(key)) for key, value in pairs]
            continue
        for table, keys in _TABLE_KEYS.items():
            if c.quote.startswith(table):
                model = {"LLaMA Table 2": None, "Brown et al. 2020 Table 2.1": "gpt-3-175b"}[table]
                if model is None:
                    model = "llama-" + c.id.rsplit("/", 1)[1]
                config = SPECS[model].config
                checks[c.id] = [(keys[word], int(value), config.get(keys[word]))
                                for word, value in re.findall(r"(n heads|n layers|dimension|n_layers|d_model|"
                                                              r"n_heads) (\d+)", c.quote)]
    return checks


def test_paper_quotes_of_configs_and_shape_tables_match_what_the_suite_builds():
    checks = _checkable_paper_quotes()
    # the config.json rows of GQA, and every LLaMA / GPT-3 shape row: at least these are checked
    assert {"attention/gqa/llama2_70b_kv_cache_8x", "attention/gqa/mistral_7b_kv_cache_4x",
            "llm/gpt3_175b/params", "llm/llama/params_table/13b"} <= set(checks)
    for cid, rows in checks.items():
        assert rows, f"{cid}: no field read from its quote"
        wrong = [(field, quoted, built) for field, quoted, built in rows if quoted != built]
        assert wrong == [], f"{cid}: quoted values differ from the config the suite builds: {wrong}"


_PRINTED_FIGURE = re.compile(r"(?:#Params|#FLOPs|LoRA Params) (?P<figure>[\d.]+[KMBT]?)$")


def test_a_paper_quote_ending_in_a_figure_is_the_figure_its_claim_checks():
    checked = []
    for c in CLAIMS.values():
        match = _PRINTED_FIGURE.search(c.quote or "") if c.source_kind == "paper" else None
        if not match:
            continue
        low, high = bounds(c)
        value = parse_figure(match["figure"]).value
        assert (low is None or value >= low * (1 - 1e-12)) and (high is None or value <= high * (1 + 1e-12)), (
            f"{c.id}: its quote prints {match['figure']}, its claim holds {c.expectation()}")
        checked.append(c.id)
    assert len(checked) >= 16, checked  # EfficientNet's Table 2 rows and the LCM-LoRA rows at least


# -- every refutation shows its quote first -------------------------------------------------------------------
def _missing(claim) -> float:
    """A value outside the claim's accepted interval: what makes a refuted claim's verdict REFUTED."""
    low, high = bounds(claim)
    if low is not None:
        return low - max(1.0, abs(low))
    assert high is not None
    return high + max(1.0, abs(high))


REFUTED = [c for c in CLAIMS.values() if c.refuted is not None]


@pytest.mark.parametrize("claim", REFUTED, ids=[c.id for c in REFUTED])
def test_every_refuted_verdict_shows_the_quote_before_the_suite_reading(claim):
    result = evaluate(claim, Measurement(value=_missing(claim), unit=claim.unit, method="test"))
    assert result.verdict is Verdict.REFUTED
    text = normalized(result.message)
    quote = normalized(claim.quote)
    assert f'"{quote}"' in text, f"{claim.id}: the verdict does not show the quote verbatim"
    reading = normalized(f"{reading_lead(claim)}: {claim.statement}")
    assert text.index(quote) < text.index(reading), f"{claim.id}: the suite's reading comes before the quote"
    if claim.source_kind == "article":
        assert f"the article says ({quote_place(claim)}): " in text
        assert text.index(quote) < text.index("the suite reads it as") < text.index("the article is wrong here")
    else:
        assert "the article is wrong" not in text


def test_refuted_claims_cover_each_kind_and_values_are_finite():
    assert {c.source_kind for c in REFUTED} == {"article", "paper", "suite"}
    assert all(math.isfinite(_missing(c)) for c in REFUTED)
