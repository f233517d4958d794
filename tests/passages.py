"""Passages for the answer-stage tests (prompts, support, answer, extractive).

The two seed articles cut into chunks with real offsets into the article text, and short hand-made
passages. A helper module, not a test module: the four test files share these.
"""

from __future__ import annotations

import re
from pathlib import Path

from qa_bot.retrieval import Passage

SEEDS = Path(__file__).resolve().parent.parent / "seeds"


def _seed_article(name: str) -> tuple[str, str | None]:
    """The article body and its date, the way the loader reads a `date YYYY-MM-DD` header."""
    raw = (SEEDS / name).read_text(encoding="utf-8")
    header = re.match(r"\s*date (\d{4}-\d{2}-\d{2})\s*", raw)
    return (raw[header.end() :], header.group(1)) if header else (raw, None)


CALL_TEXT, CALL_DATE = _seed_article("000_092cfdeac746b4f0.txt")  # the phone call on Sunday
MEETING_TEXT, _ = _seed_article("003_0028640ed213d995.txt")  # the meeting at the G20 in New Delhi
ARTICLES = {"000": CALL_TEXT, "003": MEETING_TEXT}


def _passages(article_id: str, title: str, when: str | None) -> list[Passage]:
    """Chunks of up to two consecutive lines, with real offsets into the article text."""
    text = ARTICLES[article_id]
    return [
        Passage(f"{article_id}:{i}", article_id, m.group(), m.start(), m.end(), title, when, "seeds")
        for i, m in enumerate(re.finditer(r"[^\n]+(?:\n[^\n]+)?", text))
    ]


# Retrieval order that doesn't favour the right answer: the meeting article first.
SEED_PASSAGES = _passages("003", "Blinken, Jaishankar meet at G20", None) + _passages(
    "000", "Jaishankar, Blinken speak on the phone", CALL_DATE
)


def make_passage(text: str, n: int = 0, **meta) -> Passage:
    """A hand-made passage that is the whole of its article (id a<n>), from offset 0."""
    return Passage(chunk_id=f"c{n}", article_id=f"a{n}", text=text, start=0, end=len(text), **meta)


CALL = make_passage(
    "Jaishankar spoke with Blinken on the telephone on Sunday. They discussed global issues.", 1
)
PRICE = make_passage("State Department spokesperson Ned Price read out a statement after the meeting.", 2)
G20 = make_passage(
    "The two leaders met on the sidelines of the G20 foreign ministers meeting in New Delhi.", 3
)
THREE = [CALL, PRICE, G20]
