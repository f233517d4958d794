"""Answer assembly: the prompt, citation parsing and verification, refusal, extractive answers."""

from __future__ import annotations

from dataclasses import dataclass, field

from qa_bot.retrieval import Passage

REFUSAL_MESSAGE = "The articles don't say. I found nothing in the indexed articles that answers this question."


@dataclass
class Citation:
    n: int  # the number shown in the answer text: 1-based position in Answer.passages
    passage: Passage
    quote_start: int  # offsets into the ARTICLE text of the passage sentence that best supports the claim
    quote_end: int
    support: float  # 0..1, how well the passage supports the sentences that cite it


@dataclass
class AnswerSentence:
    text: str  # the sentence without its [n] markers
    citations: list[int]  # the n's that support it, after repair
    supported: bool  # False: no passage supports it; the UI marks it


@dataclass
class Answer:
    question: str
    text: str  # the answer with repaired [n] markers (or REFUSAL_MESSAGE)
    refused: bool
    sentences: list[AnswerSentence] = field(default_factory=list)
    citations: list[Citation] = field(default_factory=list)  # unique by n, ordered by n
    passages: list[Passage] = field(default_factory=list)  # what the model saw; shown even on failure
    standalone_question: str | None = None  # the rewritten follow-up, when there was history
    error: str | None = None  # a clear, key-free message when the LLM failed
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage
