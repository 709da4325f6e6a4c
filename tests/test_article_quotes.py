"""Article claims of the attention and llm families quote the article verbatim (when its text is at hand:
EFFCHECK_ARTICLE, or the project's shared copy; otherwise the test skips and says where to point it)."""

import os
from pathlib import Path

import pytest

from effcheck.claims import catalogue

ARTICLE = Path(os.environ.get("EFFCHECK_ARTICLE", "/work/shared/seed/000_623593cf68c6dda7.txt"))


@pytest.mark.parametrize("family", ["attention", "llm"])
def test_article_quotes_are_verbatim(family):
    if not ARTICLE.is_file():
        pytest.skip(f"article text not found at {ARTICLE}: set EFFCHECK_ARTICLE to its path")
    text = " ".join(ARTICLE.read_text(encoding="utf-8").split())
    wrong = [c.id for c in catalogue().values()
             if c.family == family and c.source_kind == "article" and " ".join(c.quote.split()) not in text]
    assert wrong == [], f"quotes not found verbatim in the article: {wrong}"
