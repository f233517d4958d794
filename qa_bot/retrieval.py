"""Hybrid retrieval: dense (Chroma) + keyword (BM25), fused by rank, with date and source filters."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING

import numpy as np

from qa_bot.settings import Settings

if TYPE_CHECKING:
    from qa_bot.index import Index


@dataclass
class Passage:
    """A retrieved chunk of an article, with where it sits in the article text."""

    chunk_id: str
    article_id: str
    text: str  # == article text[start:end]
    start: int
    end: int
    title: str | None = None
    date: str | None = None  # ISO YYYY-MM-DD
    source: str | None = None
    path: str | None = None
    url: str | None = None
    score: float = 0.0  # fused score (higher is better)
    similarity: float | None = None  # dense cosine similarity to the question, when known
    scores: dict[str, float] = field(default_factory=dict)  # per-retriever details, for reports


@dataclass
class Query:
    """A question as retrieval sees it: text, how many passages, and the time it is asked in."""

    text: str
    k: int
    as_of: date | None = None  # the evaluation passes the question's date; the chat passes today
    since: date | None = None
    until: date | None = None
    sources: list[str] | None = None
    window_days: int = 0  # with as_of: only articles from this many days before it (0: no window)


# Words that say the question is about the newest state of things ("this week", "latest").
# "new" and "just" only in lower case: "New Delhi" and "Just Stop Oil" are names, not cues.
RECENCY_CUES = re.compile(
    r"\b(this|last|past) (week|month|weekend|year)\b|\b(latest|recent(ly)?|newest|current(ly)?|now|today|"
    r"yesterday|so far)\b|(?-i:\b(just|new)\b)",
    re.IGNORECASE,
)
# Reciprocal rank fusion constant: 60 is the value from the original RRF paper, robust across sets.
RRF_K = 60
# An article can be published a few days after the quiz week it answers; so the as-of date gets slack.
AS_OF_SLACK_DAYS = 7
# A passage holding at least this share of the question's terms counts as evidence even when the
# embedding disagrees: MiniLM scores names and acronyms it never saw ("What is iCET?") very low.
COVERAGE_FLOOR = 0.5
# How fast recency stops mattering: an article this many days old gets 1/e of the boost.
RECENCY_DECAY_DAYS = 30.0


def wants_recent(question: str) -> bool:
    return bool(RECENCY_CUES.search(question))


def recency_boost(article_date: str | None, as_of: date, weight: float, cue: bool) -> float:
    """Multiplier >= 1 favouring articles published shortly before the question's date.

    A question with a recency cue ("this week") gets the full weight; others half of it, because
    news questions are about their own week even when they don't say so.
    """
    if not article_date or weight <= 0:
        return 1.0
    age_days = (as_of - date.fromisoformat(article_date)).days
    if age_days < -AS_OF_SLACK_DAYS:
        return 1.0
    effective = weight if cue else weight / 2
    return 1.0 + effective * math.exp(-max(age_days, 0) / RECENCY_DECAY_DAYS)


def _date_int(day: date | None) -> int | None:
    return int(day.strftime("%Y%m%d")) if day else None


def date_bounds(query: Query) -> tuple[int | None, int | None]:
    """The YYYYMMDD range to search: the user's since/until, and nothing published after as-of."""
    since, until = query.since, query.until
    if query.as_of is not None:
        latest = query.as_of + timedelta(days=AS_OF_SLACK_DAYS)
        until = min(until, latest) if until else latest
        if query.window_days:
            earliest = query.as_of - timedelta(days=query.window_days)
            since = max(since, earliest) if since else earliest
    return _date_int(since), _date_int(until)


def chroma_where(since: int | None, until: int | None, sources: list[str] | None) -> dict | None:
    clauses: list[dict] = []
    if since is not None:
        clauses.append({"date_int": {"$gte": since}})
    if until is not None:
        clauses.append({"date_int": {"$lte": until}})
    if sources:
        clauses.append({"source": {"$in": list(sources)}})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


# Neighbours fetched per wanted passage when filtering dates and sources after the vector search.
OVERFETCH = 4


def _passes(meta: dict, since: int | None, until: int | None, sources: list[str] | None) -> bool:
    """The metadata filter of `chroma_where`, applied to one chunk's metadata."""
    day = meta.get("date_int")
    if since is not None and (day is None or day < since):
        return False
    if until is not None and (day is None or day > until):
        return False
    return not sources or meta.get("source") in sources


def term_coverage(question_terms: set[str], passage_terms: set[str]) -> float:
    if not question_terms:
        return 0.0
    return len(question_terms & passage_terms) / len(question_terms)


def reciprocal_rank_fusion(*rankings: list[str]) -> dict[str, float]:
    fused: dict[str, float] = {}
    for ranking in rankings:
        for rank, chunk_id in enumerate(ranking, start=1):
            fused[chunk_id] = fused.get(chunk_id, 0.0) + 1.0 / (RRF_K + rank)
    return fused


def passage_from_chunk(chunk_id: str, text: str, meta: dict) -> Passage:
    return Passage(
        chunk_id=chunk_id,
        article_id=str(meta.get("article_id", "")),
        text=text,
        start=int(meta.get("start", 0)),
        end=int(meta.get("end", len(text))),
        title=meta.get("title"),
        date=meta.get("date"),
        source=meta.get("source"),
        path=meta.get("path"),
        url=meta.get("url"),
    )


class HybridRetriever:
    """Dense + BM25 candidates, fused by rank, boosted by recency, cut at a relevance floor."""

    def __init__(self, index: Index, settings: Settings) -> None:
        self.index = index
        self.settings = settings

    def search(self, query: Query) -> list[Passage]:
        since, until = date_bounds(query)
        query_vector = np.asarray(self.index.embeddings.embed_query(query.text))
        fetch_k = max(self.settings.fetch_k, query.k)
        mode = self.settings.search_mode
        dense = self._dense(query_vector, fetch_k, since, until, query.sources) if mode != "keyword" else []
        keyword = (
            self.index.keywords.search(query.text, fetch_k, since=since, until=until, sources=query.sources)
            if mode != "dense"
            else []
        )
        fused = reciprocal_rank_fusion([cid for cid, _ in dense], [cid for cid, _ in keyword])
        candidates = self._load_candidates(list(fused), query_vector)
        cue = wants_recent(query.text)
        question_terms = self.index.keywords.terms(query.text)
        for passage in candidates:
            coverage = term_coverage(question_terms, self.index.keywords.terms(passage.text))
            passage.scores = {"rrf": fused[passage.chunk_id], "coverage": coverage}
            passage.score = fused[passage.chunk_id]
            if query.as_of is not None:
                passage.score *= recency_boost(passage.date, query.as_of, self.settings.recency_weight, cue)
        relevant = [p for p in candidates if self._is_evidence(p)]
        relevant.sort(key=lambda p: p.score, reverse=True)
        return relevant[: query.k]

    def _is_evidence(self, passage: Passage) -> bool:
        """The relevance floor: below it a passage is not shown to the answerer at all."""
        return (passage.similarity or 0.0) >= self.settings.relevance_floor or (
            passage.scores.get("coverage", 0.0) >= COVERAGE_FLOOR
        )

    def _dense(self, vector: np.ndarray, k: int, since, until, sources) -> list[tuple[str, float]]:
        if self.index.chunk_count() == 0:
            return []
        where = chroma_where(since, until, sources)
        if where is None:
            return self._dense_query(vector, k, None)
        # Chroma applies a metadata `where` by scanning the collection (hundreds of ms at tens of
        # thousands of chunks), while the vector search itself takes a few ms. So fetch more
        # neighbours without it and filter here; only when too few survive (a narrow date window, a
        # rare source) does Chroma filter.
        candidates = self._dense_query(vector, k * OVERFETCH, None, with_metadata=True)
        kept = [(cid, sim) for cid, sim, meta in candidates if _passes(meta, since, until, sources)]
        if len(kept) >= k or len(candidates) < k * OVERFETCH:
            return kept[:k]
        return [(cid, sim) for cid, sim, _ in self._dense_query(vector, k, where, with_metadata=True)]

    def _dense_query(self, vector: np.ndarray, k: int, where: dict | None, *, with_metadata: bool = False):
        result = self.index.collection.query(
            query_embeddings=[vector.tolist()],
            n_results=k,
            where=where,
            include=["distances", "metadatas"] if with_metadata else ["distances"],
        )
        # The collection uses cosine space: similarity = 1 - distance.
        ids, distances = result["ids"][0], result["distances"][0]
        if not with_metadata:
            return [(cid, 1.0 - d) for cid, d in zip(ids, distances, strict=True)]
        return [
            (cid, 1.0 - d, meta or {})
            for cid, d, meta in zip(ids, distances, result["metadatas"][0], strict=True)
        ]

    def _load_candidates(self, chunk_ids: list[str], query_vector: np.ndarray) -> list[Passage]:
        chunks = self.index.get_chunks(chunk_ids, include_embeddings=True)
        passages = []
        for chunk_id in chunk_ids:
            if chunk_id not in chunks:  # deleted since the keyword index was built
                continue
            text, meta, vector = chunks[chunk_id]
            passage = passage_from_chunk(chunk_id, text, meta)
            passage.similarity = float(np.dot(np.asarray(vector), query_vector))
            passages.append(passage)
        return passages
