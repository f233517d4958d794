"""Lexical support: does a passage back a claim? Sentence splitting, content words, and the score.

The answer stage uses it to keep, move or drop a model's citations, the extractive mode to pick
sentences, and the evaluation to measure citation precision with the very same rule. It is its own
module so all three share one definition of "supported" and none of them depends on the others.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from datetime import date
from typing import NamedTuple

import Stemmer
from bm25s.stopwords import STOPWORDS_EN_PLUS

from qa_bot.retrieval import Passage

# A sentence counts as supported by a passage when 60% of its content words occur in the passage, and
# 60% of its names and numbers. That tolerates the paraphrase a small model does ("the call took place
# on Sunday" vs "a conversation ... on Sunday": 2 of 3 weighted words), while a sentence that shares
# the passage's names but adds its own day, place or figure ("... spoke on Sunday" against a passage
# about Thursday: 1 of 2 names) falls below it.
SUPPORT_THRESHOLD = 0.6

_ABBREVIATIONS = frozenset(
    (  # noqa: SIM905 (a word list reads best as words)
        "mr mrs ms dr prof st jr sr gen col lt sgt capt gov sen rep rev hon no vs inc ltd co corp dept "
        "univ jan feb mar apr jun jul aug sep sept oct nov dec mt ft fig approx est"
    ).split()
)
# Sentence end: terminal punctuation, closing quotes/brackets, and any citation markers right after it
# (so "Sunday. [3]" keeps its marker); or a line break.
_SENTENCE_END = re.compile(
    r"""[.!?]+["'”’)\]]*(?:[ \t]*(?:\[[^\[\]\n]{1,40}\]|【[^】\n]{1,40}】))*(?=\s|$)|\n"""
)


def split_sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence in `text`, whitespace trimmed.

    Doesn't split after abbreviations (Dr., U.S.), initials (S. Jaishankar), decimals (3.5), or before a
    lowercase word; a line break always ends a sentence (headlines and list items have no full stop).
    """
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        if match.group() == "\n" or _ends_sentence(text, match):
            _add_trimmed(spans, text, start, match.end())
            start = match.end()
    _add_trimmed(spans, text, start, len(text))
    return spans


def _ends_sentence(text: str, match: re.Match[str]) -> bool:
    following = text[match.end() :].lstrip()[:1]
    if following.islower():
        return False
    if text[match.start()] != ".":
        return True
    word = re.search(r"[\w.]*$", text[: match.start()]).group()
    is_initial = len(word) == 1 and word.isalpha()
    return not (is_initial or "." in word or word.lower() in _ABBREVIATIONS)


def _add_trimmed(spans: list[tuple[int, int]], text: str, start: int, end: int) -> None:
    chunk = text[start:end]
    stripped = chunk.strip()
    if stripped:
        first = start + len(chunk) - len(chunk.lstrip())
        spans.append((first, first + len(stripped)))


# Words that claim nothing: where the answer came from ("according to the passages") and the verbs a
# model pads an event with ("the call took place on Sunday"). They must not count for or against support.
_NON_CLAIM_WORDS = frozenset(
    (  # noqa: SIM905 (a word list reads best as words)
        "according passage passages article articles based provided context took taken place happened "
        "occurred"
    ).split()
)
_STOP_WORDS = frozenset(STOPWORDS_EN_PLUS) | _NON_CLAIM_WORDS
_WORD = re.compile(r"[^\W_]+")
_local = threading.local()  # a PyStemmer Stemmer is not thread-safe; Streamlit serves from threads


def _stem(word: str) -> str:
    if not hasattr(_local, "stemmer"):
        _local.stemmer = Stemmer.Stemmer("english")
    return _local.stemmer.stemWord(word)


class Term(NamedTuple):
    """A content word of a claim or question, and what it weighs in the support score."""

    word: str  # lowercased
    stem: str
    weight: float


def content_terms(text: str) -> list[Term]:
    """Content words, unique by stem. Names (capitalised after the first word) and numbers weigh double."""
    terms: dict[str, Term] = {}
    for i, match in enumerate(_WORD.finditer(text)):
        raw = match.group()
        word = raw.lower()
        if word in _STOP_WORDS or (len(word) == 1 and not word.isdigit()):
            continue
        is_fact = any(c.isdigit() for c in raw) or (i > 0 and raw[0].isupper())
        stem = _stem(word)
        if stem not in terms or is_fact:
            terms[stem] = Term(word, stem, 2.0 if is_fact else 1.0)
    return list(terms.values())


class WordBag(NamedTuple):
    """The words of a text and their stems, to ask whether a Term occurs in it."""

    stems: frozenset[str]
    words: frozenset[str]

    @classmethod
    def of(cls, text: str) -> WordBag:
        words = frozenset(m.group().lower() for m in _WORD.finditer(text))
        return cls(frozenset(_stem(w) for w in words), words)

    def has(self, term: Term) -> bool:
        # Compounds count: "phone" occurs in "telephone", "narcotics" in "counternarcotics".
        return term.stem in self.stems or (
            len(term.word) >= 5 and not term.word.isdigit() and any(w.endswith(term.word) for w in self.words)
        )


def _coverage(terms: Sequence[Term], bag: WordBag) -> float:
    total = sum(t.weight for t in terms)
    return sum(t.weight for t in terms if bag.has(t)) / total if total else 0.0


def support_score(claim: str, passage_text: str) -> float:
    """0..1: the share of the claim's content words (names and numbers weigh double) that occur in the
    passage text, or the share of its names and numbers if that is lower: they carry the facts."""
    return _support(content_terms(claim), WordBag.of(passage_text))


def _support(terms: Sequence[Term], bag: WordBag) -> float:
    facts = [t for t in terms if t.weight > 1]
    return min(_coverage(terms, bag), _coverage(facts, bag)) if facts else _coverage(terms, bag)


def passage_support(claim: str, passage: Passage) -> float:
    """Like `support_score`, but the passage's title and date count too (the prompt shows them)."""
    return support_score(claim, source_text(passage.text, passage.title, passage.date))


def source_text(text: str, title: str | None, published: str | None) -> str:
    """What a cited source shows its reader: the passage, its article's title and its date."""
    return f"{text}\n{title or ''}\n{_date_words(published)}"


def _date_words(iso: str | None) -> str:
    """An ISO date, and the same date the way an answer states it ("April 16 2023")."""
    if not iso:
        return ""
    try:
        day = date.fromisoformat(iso)
    except ValueError:
        return iso
    return f"{iso} {day:%B} {day.day} {day.year}"


def best_supporting_span(claim: str, passage: Passage) -> tuple[int, int, float]:
    """The passage sentence that best supports the claim: (start, end) in the ARTICLE text, and its score."""
    terms = content_terms(claim)
    best: tuple[int, int, float] | None = None
    for start, end in split_sentences(passage.text):
        score = _support(terms, WordBag.of(passage.text[start:end]))
        if best is None or score > best[2]:  # ties go to the earlier sentence
            best = (passage.start + start, passage.start + end, score)
    return best or (passage.start, passage.end, 0.0)
