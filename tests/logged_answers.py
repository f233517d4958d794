"""Answers as the answer log keeps them, for the answer-log and review-page tests.

A helper module, not a test module: `answer()` builds an Answer the way QABot returns one (a verified
sentence citing the call article, optionally one the verifier rejected, with the passage the model had
cited for it), and `logged()` turns it into a LoggedAnswer with the chat's fields.
"""

from __future__ import annotations

from datetime import date

from qa_bot.answer import REFUSAL_MESSAGE, Answer, AnswerSentence, Citation, Turn
from qa_bot.answer_log import LoggedAnswer, entry_from_answer
from qa_bot.retrieval import Passage

CALL = "External Affairs Minister S Jaishankar had a call with Antony Blinken on Sunday. They discussed ties."
LUNCH = "The ministers met for talks in New Delhi on Thursday."
ASKED_ON = date(2026, 11, 23)


def passages() -> list[Passage]:
    return [
        Passage("c1", "art-call", CALL, 0, len(CALL), title="Jaishankar, Blinken talk", date="2023-04-16",
                source="seeds", path="/seeds/000_092cfdeac746b4f0.txt"),
        Passage("c2", "art-meeting", LUNCH, 0, len(LUNCH), title="Ministers meet", date="2023-03-02",
                source="seeds"),
    ]  # fmt: skip


def answer(
    question: str = "Which day did they speak?", *, unverified: bool = False, refused: bool = False
) -> Answer:
    found = passages()
    if refused:
        rejected = AnswerSentence(
            "They had lunch on Friday.", [], False, "[2]: 'Friday' is absent", cited=[2]
        )
        return Answer(question, REFUSAL_MESSAGE, refused=True, passages=found, rejected=[rejected])
    sentences = [AnswerSentence("They spoke on Sunday.", [1], True, cited=[1])]
    text = "They spoke on Sunday [1]."
    if unverified:
        sentences.append(
            AnswerSentence("They had lunch on Friday.", [], False, "[2]: 'Friday' is absent", cited=[2])
        )
        text += " They had lunch on Friday."
    quote_end = CALL.index(" They")
    return Answer(question, text, refused=False, sentences=sentences,
                  citations=[Citation(1, found[0], 0, quote_end, 1.0)], passages=found)  # fmt: skip


def logged(
    id: str,  # noqa: A002
    question: str = "Which day did they speak?",
    *,
    user: str | None = None,
    asked_on: date = ASKED_ON,
    unverified: bool = False,
    refused: bool = False,
    error: str | None = None,
    rating: int | None = None,
) -> LoggedAnswer:
    entry = entry_from_answer(
        answer(question, unverified=unverified, refused=refused), id=id, asked_on=asked_on,
        settings={"llm": "local", "model": "qwen", "k": 6}, history=[Turn("Who called?", "Jaishankar [1].")],
        user=user,
    )  # fmt: skip
    entry.error, entry.rating = error, rating
    return entry
