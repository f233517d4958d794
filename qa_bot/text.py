"""The text toolkit: sentences, content words, and the lexical support score.

Every stage that reads text sentence by sentence uses it: the injection guard, the evidence picker,
the extractive answerer, the quoting of a pointer, the verifier and the evaluation's citation
precision. One module, so all of them share one definition of a sentence, a content word and
"supported", and none of them depends on another.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Sequence
from typing import NamedTuple

import Stemmer
from bm25s.stopwords import STOPWORDS_EN_PLUS

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


_NEXT_CHARACTER = re.compile(r"\s*(\S?)")
_WORD_BEFORE = re.compile(r"[\w.]*$")
_LONGEST_ABBREVIATION = 40  # look back no further: slicing the whole text per full stop was quadratic


def _ends_sentence(text: str, match: re.Match[str]) -> bool:
    following = _NEXT_CHARACTER.match(text, match.end()).group(1)
    if following.islower():
        return False
    if text[match.start()] != ".":
        return True
    word = _WORD_BEFORE.search(text, max(0, match.start() - _LONGEST_ABBREVIATION), match.start()).group()
    is_initial = len(word) == 1 and word.isalpha()
    return not (is_initial or "." in word or word.lower() in _ABBREVIATIONS)


def _add_trimmed(spans: list[tuple[int, int]], text: str, start: int, end: int) -> None:
    chunk = text[start:end]
    stripped = chunk.strip()
    if stripped:
        first = start + len(chunk) - len(chunk.lstrip())
        spans.append((first, first + len(stripped)))


# Words that claim nothing: where the answer came from ("according to the passages"), the verbs a
# model pads an event with ("the call took place on Sunday") and the words that introduce a date
# ("starting September 14" for "beginning September 14"). They must not count for or against support.
_NON_CLAIM_WORDS = frozenset(
    (  # noqa: SIM905 (a word list reads best as words)
        "according passage passages article articles based provided context took taken place happened "
        "occurred starting beginning"
    ).split()
)
STOP_WORDS = frozenset(STOPWORDS_EN_PLUS) | _NON_CLAIM_WORDS
WORD = re.compile(r"[^\W_]+")
_local = threading.local()  # a PyStemmer Stemmer is not thread-safe; Streamlit serves from threads


def word_stem(word: str) -> str:
    if not hasattr(_local, "stemmer"):
        _local.stemmer = Stemmer.Stemmer("english")
    return _local.stemmer.stemWord(word)


class Term(NamedTuple):
    """A content word of a claim or question, and what it weighs in the support score."""

    word: str  # lowercased
    stem: str
    weight: float


# Counts written as words are numbers: "at least five" does not back "at least nine". ("one" is left
# out: "one of the biggest" counts nothing.)
_NUMBER_WORDS = (
    {
        word: str(n)
        for n, word in enumerate(
            (  # noqa: SIM905 (a word list reads best as words)
                "two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
                "sixteen seventeen eighteen nineteen twenty"
            ).split(),
            start=2,
        )
    }
    | {"zero": "0", "thirty": "30", "forty": "40", "fifty": "50"}
    | {"sixty": "60", "seventy": "70", "eighty": "80", "ninety": "90"}
)


def fold_word(word: str) -> str:
    """Lower case without accents ("Beyoncé" and "Beyonce", "Niña" and "Nina" are one word), and
    counts as digits ("five" and "5")."""
    if word.isascii():
        lower = word.lower()
        return _NUMBER_WORDS.get(lower, lower)
    decomposed = unicodedata.normalize("NFKD", word.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def content_terms(text: str) -> list[Term]:
    """Content words, unique by stem. Names (capitalised after the first word) and numbers weigh double."""
    terms: dict[str, Term] = {}
    for i, match in enumerate(WORD.finditer(unicodedata.normalize("NFC", text))):
        raw = match.group()
        word = fold_word(raw)
        if word in STOP_WORDS or (len(word) == 1 and not word.isdigit()):
            continue
        is_fact = any(c.isdigit() for c in word) or (i > 0 and raw[0].isupper())
        stem = word_stem(word)
        if stem not in terms or is_fact:
            terms[stem] = Term(word, stem, 2.0 if is_fact else 1.0)
    return list(terms.values())


class WordBag(NamedTuple):
    """The words of a text and their stems, to ask whether a Term occurs in it."""

    stems: frozenset[str]
    words: frozenset[str]

    @classmethod
    def of(cls, text: str) -> WordBag:
        # NFC first: a decomposed "ñ" (n + combining tilde) would otherwise split the word in two.
        words = frozenset(fold_word(m.group()) for m in WORD.finditer(unicodedata.normalize("NFC", text)))
        return cls(frozenset(word_stem(w) for w in words), words)

    def has(self, term: Term) -> bool:
        # Compounds count: "phone" occurs in "telephone", "narcotics" in "counternarcotics".
        return term.stem in self.stems or (
            len(term.word) >= 5 and not term.word.isdigit() and any(w.endswith(term.word) for w in self.words)
        )


def weighted_coverage(terms: Sequence[Term], bag: WordBag) -> float:
    total = sum(t.weight for t in terms)
    return sum(t.weight for t in terms if bag.has(t)) / total if total else 0.0


def support_score(claim: str, passage_text: str) -> float:
    """0..1: the share of the claim's content words (names and numbers weigh double) that occur in the
    passage text, or the share of its names and numbers if that is lower: they carry the facts."""
    return terms_support(content_terms(claim), WordBag.of(passage_text))


def terms_support(terms: Sequence[Term], bag: WordBag) -> float:
    facts = [t for t in terms if t.weight > 1]
    return (
        min(weighted_coverage(terms, bag), weighted_coverage(facts, bag))
        if facts
        else weighted_coverage(terms, bag)
    )
