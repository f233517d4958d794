"""Extractive answers: the passages' own best sentences, each with its [n], when there is no LLM.

It writes the same raw text a model would (sentences ending in citation markers, or the
NOT IN PASSAGES sentinel), so `qa_bot.answering.answer.finalize_answer` verifies both the same way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

from qa_bot.answering.answer import NOT_IN_PASSAGES, with_markers
from qa_bot.index.search import Passage
from qa_bot.text import WordBag, content_terms, split_sentences

# Extractive mode answers only when one passage sentence holds at least this share of the question's
# content words: below it the sentence merely shares a name with the question (FIFA vs "world's").
EXTRACTIVE_MIN_COVERAGE = 0.4


class _Candidate(NamedTuple):
    score: float
    coverage: float
    n: int
    text: str


def extractive_answer(
    question: str,
    passages: Sequence[Passage],
    max_sentences: int = 2,
    relevance: Sequence[float] | None = None,
) -> str:
    """Raw answer text from the passages' own sentences, each ending with its [n]; or the sentinel.

    A sentence scores by the rarity-weighted question words it holds (idf over the given passages),
    weighted by its passage's relevance: the evidence selection's score when given (its spans come
    newest first, not best first), else a little less for each lower-ranked passage.
    """
    top = max(relevance, default=0.0) if relevance else 0.0
    terms = content_terms(question)
    bags = [WordBag.of(p.text) for p in passages]
    idf = {t.stem: _idf(sum(bag.has(t) for bag in bags), len(bags)) for t in terms}
    candidates = []
    for rank, passage in enumerate(passages):
        for start, end in split_sentences(passage.text):
            sentence = passage.text[start:end]
            bag = WordBag.of(sentence)
            matched = [t for t in terms if bag.has(t)]
            if len(sentence.split()) < 3 or not matched:
                continue
            prior = 0.5 + 0.5 * relevance[rank] / top if top > 0 else 1 - 0.05 * min(rank, 10)
            score = sum(idf[t.stem] for t in matched) * prior
            candidates.append(_Candidate(score, len(matched) / len(terms), rank + 1, sentence))
    chosen = _choose(candidates, max_sentences)
    if not chosen:
        return NOT_IN_PASSAGES
    return " ".join(with_markers(c.text, [c.n]) for c in chosen)


def _idf(df: int, n_docs: int) -> float:
    """BM25's idf: always positive, high for words few passages share."""
    return math.log(1 + (n_docs - df + 0.5) / (df + 0.5))


def _choose(candidates: list[_Candidate], max_sentences: int) -> list[_Candidate]:
    """The best sentence, plus runners-up that score nearly as well: a weaker one would dilute the answer."""
    ranked = sorted((c for c in candidates if c.coverage >= EXTRACTIVE_MIN_COVERAGE), key=lambda c: -c.score)
    chosen: list[_Candidate] = []
    for candidate in ranked:
        if len(chosen) == max_sentences or (chosen and candidate.score < 0.8 * chosen[0].score):
            break
        if candidate.text not in {c.text for c in chosen}:  # overlapping chunks repeat sentences
            chosen.append(candidate)
    return chosen
