"""A refutation shows the source's own sentence first, the way users see it: the test's xfail line, the claims
table at the end of the session, `effcheck report` and `--format markdown`, and `effcheck list`. The suite's
reading (the statement, here stricter than the sentence) comes after the quote, never in its place."""

import pytest

from effcheck.cli import main as effcheck_main

QUOTE = "X is about 4x smaller than Y, says section nine."
READING = "X is at least 4x smaller than Y (the suite's strict reading)"
CLAIMS = f'''
from effcheck.records import Claim, Measurement

SAID = Claim(id="fam/said", statement="{READING}", source="article §9; counted on meta", metric="ratio",
             unit="x", comparison=">=", expected=4.0, better="higher", source_kind="article",
             quote="{QUOTE}", refuted="the ratio is 2x: Y is half the size the article takes")
PREMISE = Claim(id="fam/premise", statement="Y is 4x X on this CPU too", source="suite premise behind §9",
                metric="ratio", unit="x", comparison=">=", expected=4.0, better="higher", source_kind="suite",
                quote="Premise: the 4x shows on a CPU", refuted="a CPU measures 2x")

def measured(value):
    return Measurement(value=value, unit="x", method="counted")
'''
SUITE = '''
import pytest
from claimsdata import SAID, PREMISE, measured

@pytest.mark.claim(SAID)
def test_said(effcheck):
    effcheck.check(measured(2.0))

@pytest.mark.claim(PREMISE)
def test_premise(effcheck):
    effcheck.check(measured(2.0))
'''
SAID_FIRST = f'fam/said REFUTED: the article says (§9): "{QUOTE}"; the suite reads it as: {READING}'


@pytest.fixture
def run(pytester):
    pytester.makepyfile(claimsdata=CLAIMS, test_quoted=SUITE)
    result = pytester.runpytest("-rx", "-p", "no:cacheprovider")
    result.assert_outcomes(xfailed=2)
    return pytester, result


def _before(text: str, first: str, then: str) -> bool:
    return first in text and then in text and text.index(first) < text.index(then)


def test_the_terminal_message_shows_the_quote_then_the_reading(run):
    _, result = run
    out = result.stdout.str()
    xfail = next(line for line in out.splitlines() if line.startswith("XFAIL") and "test_said" in line)
    assert SAID_FIRST in xfail
    assert _before(xfail, f'"{QUOTE}"', READING) and _before(xfail, READING, "the article is wrong here: the ratio")
    premise = next(line for line in out.splitlines() if line.startswith("XFAIL") and "test_premise" in line)
    assert 'fam/premise FINDING: the suite\'s own premise (not the article\'s words): "Premise: the 4x' in premise
    assert "article is wrong" not in premise and "REFUTED" not in premise


def test_the_claims_table_shows_the_quote_first(run):
    _, result = run
    out = result.stdout.str()
    table = out[out.index("effcheck claims"):]
    row = next(line for line in table.splitlines() if line.startswith("fam/said "))
    assert 'the article says (§9): "X is about' in row
    assert f"  {SAID_FIRST}" in table  # the line under the table, whole
    assert _before(table, f"  {SAID_FIRST}", "the article is wrong here: the ratio is 2x")


def test_effcheck_report_shows_the_quote_first(run, capsys):
    pytester, _ = run
    storage = str(pytester.path / ".benchmarks")
    assert effcheck_main(["report", "--storage", storage]) == 0
    text = capsys.readouterr().out
    assert f"  {SAID_FIRST}" in text
    assert _before(text, f'"{QUOTE}"', "the article is wrong here")


def test_effcheck_report_markdown_shows_the_quote_first(run, capsys):
    pytester, _ = run
    storage = str(pytester.path / ".benchmarks")
    assert effcheck_main(["report", "--format", "markdown", "--storage", storage]) == 0
    text = capsys.readouterr().out
    row = next(line for line in text.splitlines() if line.startswith("| `fam/said` |") and "**REFUTED**" in line)
    assert f'| the article says (§9): "{QUOTE}"<br>the suite reads it as: {READING} |' in row
    note = next(line for line in text.splitlines() if line.startswith("- `fam/said` **REFUTED**:"))
    assert _before(note, f'"{QUOTE}"', READING) and _before(note, READING, "the article is wrong here")


def test_effcheck_list_shows_the_quote_first(pytester, capsys, monkeypatch):
    pytester.makepyfile(claimsdata=CLAIMS, test_quoted=SUITE)
    monkeypatch.chdir(pytester.path)
    assert effcheck_main(["list", "test_quoted.py"]) == 0
    text = capsys.readouterr().out
    block = text[text.index("fam/said"):]
    assert block.startswith(f'fam/said\n    the article says (§9): "{QUOTE}"\n    the suite reads it as: {READING}')
    assert "[recorded as REFUTED]" in block.split("\n")[2]
    assert "[recorded as FINDING]" in text[text.index("fam/premise"):]


def test_the_dashboard_card_shows_the_quote_before_the_reading_and_the_refutation(run, tmp_path):
    pytest.importorskip("matplotlib")
    pytest.importorskip("jinja2")
    import html

    pytester, _ = run
    out = tmp_path / "dash"
    assert effcheck_main(["history", "--storage", str(pytester.path / ".benchmarks"), "--out", str(out)]) == 0
    page = html.unescape((out / "index.html").read_text(encoding="utf-8"))
    card = page[page.index('<h3>fam/said'):]
    card = card[:card.index("<img")]
    assert _before(card, f'<p class="quote">the article says (§9): "{QUOTE}"</p>',
                   f"<p>the suite reads it as: {READING}</p>")
    assert _before(card, READING, '<p class="refutation">the article is wrong here: the ratio is 2x')
