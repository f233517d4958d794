"""A scripted bot for the evaluation tests: the bot is the edge under test's input, not the subject.

It returns real Answer / Passage / Citation objects (qa_bot's dataclasses), so rows, metrics and
reports are built exactly as from a QABot.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from qa_bot.answer import REFUSAL_MESSAGE, Answer, AnswerSentence, Citation
from qa_bot.retrieval import Passage


def passage(article_id: str, text: str, *, stem: str | None = None) -> Passage:
    path = f"/articles/{stem}.txt" if stem else None
    return Passage(
        chunk_id=f"{article_id}:0",
        article_id=article_id,
        text=text,
        start=100,
        end=100 + len(text),
        title=f"Title of {article_id}",
        date="2023-04-16",
        path=path,
    )


@dataclass
class Script:
    """What the bot answers to one question: sentences with the passage numbers they cite."""

    sentences: list[tuple[str, list[int]]] = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list)
    refused: bool = False
    error: str | None = None
    raises: BaseException | None = None


class ScriptedBot:
    """Duck-types QABot.ask/ingest; records every call."""

    def __init__(self, scripts: dict[str, Script]):
        self.scripts = scripts
        self.asked: list[dict] = []
        self.ingested: list[list[Path]] = []

    def ingest(self, paths):
        self.ingested.append(list(paths))
        return {"added": len(paths)}

    def ask(self, question, *, history=None, as_of=None, k=None):
        self.asked.append({"question": question, "history": history, "as_of": as_of, "k": k})
        script = self.scripts[question]
        if script.raises is not None:
            raise script.raises
        if script.refused:
            return Answer(
                question=question,
                text=REFUSAL_MESSAGE,
                refused=True,
                passages=script.passages,
                timings={"retrieve": 0.01, "total": 0.02},
            )
        text = " ".join(f"{s} [{', '.join(map(str, ns))}]." if ns else f"{s}." for s, ns in script.sentences)
        cited = sorted({n for _, ns in script.sentences for n in ns})
        citations = [
            Citation(
                n=n,
                passage=script.passages[n - 1],
                quote_start=script.passages[n - 1].start,
                quote_end=script.passages[n - 1].start + 10,
                support=0.9,
            )
            for n in cited
        ]
        return Answer(
            question=question, text=text, refused=False,
            sentences=[AnswerSentence(s, ns, bool(ns)) for s, ns in script.sentences],
            citations=citations, passages=script.passages, error=script.error,
            timings={"retrieve": 0.05, "generate": 1.5, "total": 1.6},
        )  # fmt: skip


CALL = passage("call-article", "Jaishankar spoke with Antony Blinken on the telephone on Sunday morning.",
               stem="000_call")  # fmt: skip
MEETING = passage("meeting-article", "Ned Price said Blinken and Jaishankar met on Thursday in New Delhi.")
OTHER = passage("other-article", "The Federal Reserve raised interest rates by half a point.")


def seed_scripts() -> dict[str, Script]:
    return {
        "Which day was the call?": Script([("The call was on Sunday", [1])], [CALL, OTHER]),
        "Who is the spokesperson?": Script([("The spokesperson is Ned Price", [2])], [OTHER, MEETING]),
        "What did they discuss?": Script([("They discussed interest rates", [1])], [OTHER]),
        "What did Blinken eat?": Script(refused=True, passages=[OTHER]),
        "Where did they meet?": Script([("They met in <script>alert(1)</script> Delhi", [1])], [MEETING]),
    }


SEED_ITEMS_JSONL = [
    {"id": "day", "question": "Which day was the call?", "answers": ["Sunday"], "articles": ["000_call"],
     "date": "2023-04-16"},
    {"id": "price", "question": "Who is the spokesperson?", "answers": [["Ned Price", "Price"]],
     "articles": ["meeting-article"]},
    {"id": "follow", "question": "What did they discuss?", "answers": ["regional", "global"], "all": True,
     "articles": ["000_call"],
     "history": [{"question": "Who did Jaishankar call?", "answer": "Blinken [1]."}]},
    {"id": "none", "question": "What did Blinken eat?", "unanswerable": True},
    {"id": "where", "question": "Where did they meet?", "answers": ["Delhi"],
     "articles": ["meeting-article"]},
]  # fmt: skip


@pytest.fixture
def dataset_path(tmp_path) -> Path:
    import json

    path = tmp_path / "set.jsonl"
    path.write_text("".join(json.dumps(record) + "\n" for record in SEED_ITEMS_JSONL))
    return path


@pytest.fixture
def scripts() -> dict[str, Script]:
    """The scripted answers per question; change one with dataclasses.replace before make_bot()."""
    return seed_scripts()


@pytest.fixture
def make_bot(scripts):
    """`make_bot(scripts=None) -> ScriptedBot`: a fresh bot (default: the `scripts` fixture's answers)."""

    def make(custom: dict[str, Script] | None = None) -> ScriptedBot:
        return ScriptedBot(custom if custom is not None else scripts)

    return make


@pytest.fixture
def scripted_bot(make_bot) -> ScriptedBot:
    return make_bot()
