"""Evidence selection: the few best sentences of the retrieved passages, dated, newest article first.

A small model on 2 CPU cores reads prompt tokens at ~80 a second, so four raw chunks (~600 tokens)
cost ~8 s before the first answer token, and most of those tokens are beside the point. Instead,
the sentences of the top passages are scored by how well they match the question (dense similarity,
rarity-weighted question terms, the passage's retrieval rank) and how recent their article is; the
best ones, with a neighbour sentence where a short or pronoun-led one needs its context, go to the
answerer grouped by article, each article with its date, newest first, within a token budget.

Each selected span is a `Passage` whose text is exactly `article.text[start:end]` (whole sentences,
taken from the article, so a sentence cut at a chunk boundary comes back whole): citations, the
verifier and the UI's highlighting work on it as on any passage. The LLM and the extractive
answerer both read this selection.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date

import numpy as np

from qa_bot.answering.injection import is_planted_address, is_planted_instruction, withheld_spans
from qa_bot.index.search import Passage, recency_boost
from qa_bot.now import asks_about_now
from qa_bot.text import WordBag, content_terms, split_sentences

# About 250 prompt tokens of evidence: ~3 s of prompt reading for the embedded model on 2 cores.
DEFAULT_BUDGET_TOKENS = 250
MAX_SENTENCES = 8
# News prose is ~1.3 tokens a word for Qwen's and MiniLM's tokenizers (measured on RealTime QA).
TOKENS_PER_WORD = 1.3
# A sentence this short, or one opening with words that point back ("He", "The two"), is
# hard to read alone: the sentence before it comes along when the budget allows.
SHORT_SENTENCE_WORDS = 10
_POINTS_BACK = re.compile(
    r"^(?:he|she|it|they|this|that|these|those|his|her|its|their|the move|the decision|but|however|"
    r"also|still|then|there|so|both|the two|the pair)\b",
    re.IGNORECASE,
)
# Sentences longer than this are skipped: in scraped news they are page furniture run together.
MAX_SENTENCE_WORDS = 90
MIN_SENTENCE_WORDS = 4
# How much each signal counts. Dense similarity finds paraphrases; term overlap finds the names and
# rare words MiniLM never saw; the passage's rank carries what hybrid retrieval already knew.
DENSE_WEIGHT, TERMS_WEIGHT = 0.5, 0.5
RANK_DECAY = 0.08

ArticleText = Callable[[str], str | None]  # article id -> its whole text (None: unknown)
# Vectors of the texts, in order; None when they cannot be had (the embedding server is down).
EmbedTexts = Callable[[list[str]], list[list[float]] | None]


@dataclass
class Evidence:
    """What the answerer reads: selected spans (numbered in this order) and what was held back."""

    passages: list[Passage]
    planted: list[Passage] = field(default_factory=list)  # sentences addressing the assistant
    scores: list[float] = field(default_factory=list)  # each selected span's best sentence score

    @property
    def tokens(self) -> int:
        return sum(estimate_tokens(p.text) for p in self.passages)


@dataclass
class _Sentence:
    passage: Passage  # the retrieved passage it was found in (metadata, rank)
    rank: int
    start: int  # offsets into the article text
    end: int
    text: str
    score: float = 0.0


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text.split()) * TOKENS_PER_WORD)


def select_evidence(
    question: str,
    passages: Sequence[Passage],
    *,
    as_of: date | None = None,
    article_text: ArticleText | None = None,
    embed: EmbedTexts | None = None,
    budget_tokens: int = DEFAULT_BUDGET_TOKENS,
    max_sentences: int = MAX_SENTENCES,
    recency_weight: float = 0.5,
) -> Evidence:
    """The best sentences of `passages` for `question`, grouped by article, newest article first."""
    texts: dict[str, str] = {}
    sentences, planted = _candidate_sentences(passages, article_text, texts)
    if not sentences:
        return Evidence([], planted)
    _score(question, sentences, embed, as_of, recency_weight)
    chosen = _choose(sentences, budget_tokens, max_sentences, texts)
    spans = _merge_into_spans(chosen, texts)
    return Evidence([span for span, _ in spans], planted, [score for _, score in spans])


# --- candidates ---------------------------------------------------------------------------------------


def _candidate_sentences(
    passages: Sequence[Passage], article_text: ArticleText | None, texts: dict[str, str]
) -> tuple[list[_Sentence], list[Passage]]:
    """Whole sentences overlapping each passage, once each (chunks overlap), withheld ones set apart.

    What `qa_bot.answering.injection` withholds never becomes a candidate: not a planted sentence,
    not the sentence it hands its payload to, not a planted title, source or URL (those are taken
    off the passage, so that neither the prompt's header nor a check reads them).
    """
    seen: set[tuple[str, int]] = set()
    sentences: list[_Sentence] = []
    planted: list[Passage] = []
    for rank, retrieved in enumerate(passages):
        passage = _without_planted_metadata(retrieved, planted, seen)
        text, offset = _article_or_passage(passage, article_text, texts)
        for start, end, withheld in _sentences_overlapping(
            text, passage.start - offset, passage.end - offset
        ):
            key = (passage.article_id, offset + start)
            if key in seen:
                continue
            seen.add(key)
            sentence = _Sentence(passage, rank, offset + start, offset + end, text[start:end])
            words = len(sentence.text.split())
            if withheld:
                planted.append(_span(sentence.passage, sentence.start, sentence.end, sentence.text))
            elif MIN_SENTENCE_WORDS <= words <= MAX_SENTENCE_WORDS:
                sentences.append(sentence)
    return sentences, planted


_METADATA_FIELDS = ("title", "source", "url")


def _without_planted_metadata(
    passage: Passage, planted: list[Passage], seen: set[tuple[str, int]]
) -> Passage:
    """The passage without a title, source or URL that addresses the assistant; each such field is
    reported once per article (in `planted`, as text of its own)."""
    bad = [name for name in _METADATA_FIELDS if _planted_field(name, getattr(passage, name))]
    if not bad:
        return passage
    for name in bad:
        key = (passage.article_id, -1 - _METADATA_FIELDS.index(name))  # apart from sentence offsets
        if key not in seen:
            seen.add(key)
            shown = f"{name}: {getattr(passage, name)}"
            planted.append(_span(replace(passage, title=None, source=None, url=None), 0, 0, shown))
    return replace(passage, **dict.fromkeys(bad))


def _planted_field(name: str, value: str | None) -> bool:
    if not value:
        return False
    return is_planted_address(value) if name == "url" else is_planted_instruction(value)


def _article_or_passage(
    passage: Passage, article_text: ArticleText | None, texts: dict[str, str]
) -> tuple[str, int]:
    """The article's whole text (offset 0) when known, else the passage itself (offset passage.start)."""
    if passage.article_id not in texts and article_text is not None:
        text = article_text(passage.article_id)
        if text is not None and text[passage.start : passage.end] == passage.text:
            texts[passage.article_id] = text
    if passage.article_id in texts:
        return texts[passage.article_id], 0
    return passage.text, passage.start


def _sentences_overlapping(text: str, start: int, end: int) -> list[tuple[int, int, bool]]:
    """(start, end, withheld) of each sentence overlapping text[start:end]."""
    # Splitting a window around the passage, not the whole article: long articles stay cheap. The
    # window reaches back far enough to find where the passage's first sentence begins, and the
    # withheld sentences are found in the same window, so a planted sentence's neighbour is seen.
    window_start = max(0, start - 600)
    window = text[window_start : min(len(text), end + 600)]
    withheld = set(withheld_spans(window))
    spans = [(s, e, (s, e) in withheld) for s, e in split_sentences(window)]
    # The window's first and last "sentences" may be cut by the window itself; they only count when
    # they lie inside the passage, which the overlap test below ensures for anything that matters.
    return [
        (window_start + s, window_start + e, out)
        for s, e, out in spans
        if window_start + e > start and window_start + s < end
    ]


# --- scoring ------------------------------------------------------------------------------------------


def _score(
    question: str,
    sentences: list[_Sentence],
    embed: EmbedTexts | None,
    as_of: date | None,
    recency_weight: float,
) -> None:
    terms = content_terms(question)
    bags = [WordBag.of(s.text) for s in sentences]
    idf = {t.stem: _idf(sum(bag.has(t) for bag in bags), len(bags)) for t in terms}
    total = sum(idf[t.stem] * t.weight for t in terms) or 1.0
    dense = _dense_similarities(question, sentences, embed)
    cue = asks_about_now(question)
    for sentence, bag, similarity in zip(sentences, bags, dense, strict=True):
        overlap = sum(idf[t.stem] * t.weight for t in terms if bag.has(t)) / total
        relevance = DENSE_WEIGHT * max(similarity, 0.0) + TERMS_WEIGHT * overlap
        sentence.score = relevance / (1 + RANK_DECAY * sentence.rank)
        if as_of is not None:
            sentence.score *= recency_boost(sentence.passage.date, as_of, recency_weight, cue)


def _dense_similarities(question: str, sentences: list[_Sentence], embed: EmbedTexts | None) -> list[float]:
    if embed is None:
        return [0.0] * len(sentences)
    vectors = embed([question, *(s.text for s in sentences)])
    if vectors is None:  # the embedding server is down: the question's words alone rank the sentences
        return [0.0] * len(sentences)
    vectors = np.asarray(vectors)
    return [float(v) for v in vectors[1:] @ vectors[0]]


def _idf(df: int, n_docs: int) -> float:
    """BM25's idf: always positive, high for words few sentences share."""
    return math.log(1 + (n_docs - df + 0.5) / (df + 0.5))


# --- choosing and grouping ----------------------------------------------------------------------------


def _choose(
    sentences: list[_Sentence], budget_tokens: int, max_sentences: int, texts: dict[str, str]
) -> list[_Sentence]:
    """Best first, within the budget; a sentence that needs its predecessor brings it along."""
    chosen: dict[tuple[str, int], _Sentence] = {}
    used = 0
    for sentence in sorted(sentences, key=lambda s: -s.score):
        if len(chosen) >= max_sentences:
            break
        key = (sentence.passage.article_id, sentence.start)
        if key in chosen:
            continue
        cost = estimate_tokens(sentence.text)
        if used + cost > budget_tokens:
            continue
        chosen[key] = sentence
        used += cost
        before = _context_before(sentence, texts)
        if before is not None and (before.passage.article_id, before.start) not in chosen:
            extra = estimate_tokens(before.text)
            if used + extra <= budget_tokens:
                chosen[(before.passage.article_id, before.start)] = before
                used += extra
    return list(chosen.values())


def _context_before(sentence: _Sentence, texts: dict[str, str]) -> _Sentence | None:
    """The sentence before a short or pronoun-led one, from the same article, when it needs it."""
    if len(sentence.text.split()) >= SHORT_SENTENCE_WORDS and not _POINTS_BACK.match(sentence.text):
        return None
    text = texts.get(sentence.passage.article_id)
    if text is None:
        return None
    window_start = max(0, sentence.start - 600)
    window = text[window_start : sentence.start]
    previous = split_sentences(window)
    if len(previous) < (1 if window_start == 0 else 2):  # a window's first sentence may be cut
        return None
    if previous[-1] in withheld_spans(window):  # planted, or the payload of one
        return None
    start, end = (window_start + offset for offset in previous[-1])
    return _Sentence(sentence.passage, sentence.rank, start, end, text[start:end], score=0.0)


def _merge_into_spans(chosen: list[_Sentence], texts: dict[str, str]) -> list[tuple[Passage, float]]:
    """Adjacent chosen sentences of one article become one span; articles newest first."""
    by_article: dict[str, list[_Sentence]] = {}
    for sentence in chosen:
        by_article.setdefault(sentence.passage.article_id, []).append(sentence)
    groups = []
    for article_sentences in by_article.values():
        article_sentences.sort(key=lambda s: s.start)
        spans: list[tuple[Passage, float]] = []
        run = [article_sentences[0]]
        for sentence in article_sentences[1:]:
            if _adjacent(run[-1], sentence, texts):
                run.append(sentence)
            else:
                spans.append(_run_to_span(run, texts))
                run = [sentence]
        spans.append(_run_to_span(run, texts))
        best = max(s.score for s in article_sentences)
        groups.append((article_sentences[0].passage.date or "", best, spans))
    # Newest article first (the answerer is told newer articles win); equal dates by relevance.
    groups.sort(key=lambda g: (g[0], g[1]), reverse=True)
    return [span for _, _, spans in groups for span in spans]


def _adjacent(first: _Sentence, second: _Sentence, texts: dict[str, str]) -> bool:
    text = texts.get(first.passage.article_id)
    gap = text[first.end : second.start] if text is not None else None
    return gap is not None and not gap.strip()


def _run_to_span(run: list[_Sentence], texts: dict[str, str]) -> tuple[Passage, float]:
    start, end = run[0].start, run[-1].end
    text = texts.get(run[0].passage.article_id)
    body = text[start:end] if text is not None else " ".join(s.text for s in run)
    return _span(run[0].passage, start, end, body), max(s.score for s in run)


def _span(passage: Passage, start: int, end: int, text: str) -> Passage:
    return replace(
        passage,
        chunk_id=f"{passage.chunk_id}@{start}",
        text=text,
        start=start,
        end=end,
        scores=dict(passage.scores),
    )
