"""Hybrid retrieval: dense (Chroma) + keyword (BM25), fused by rank, with date and source filters."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from qa_bot.now import asks_about_now
from qa_bot.records import record_dict, record_values
from qa_bot.settings import Settings

if TYPE_CHECKING:
    from qa_bot.index.keyword_index import FilterMask
    from qa_bot.index.store import Index


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

    def to_dict(self, *, text: bool = True) -> dict[str, Any]:
        """The passage as JSON; `text=False` leaves its text out (a list of what was read, where the
        text would only repeat the citations')."""
        data = record_dict(self)
        if not text:
            del data["text"]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Passage:
        """The passage `to_dict` wrote; one written without its text or chunk id gets empty ones."""
        values = {"chunk_id": "", "text": "", "start": 0, **record_values(cls, data)}
        values.setdefault("end", values["start"] + len(values["text"]))
        return cls(**values)


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


@dataclass(frozen=True)
class Filters:
    """The date range (YYYYMMDD) and sources a search keeps to."""

    since: int | None
    until: int | None
    sources: list[str] | None

    @property
    def active(self) -> bool:
        return self.since is not None or self.until is not None or bool(self.sources)

    def chroma_where(self, mask: FilterMask | None) -> dict | None:
        """The same filter as Chroma's `where`; sources spelled as stored, since the mask ignores case."""
        sources = mask.stored_spellings(self.sources) if mask is not None and self.sources else self.sources
        return chroma_where(self.since, self.until, sources)


# Reciprocal rank fusion constant: 60 is the value from the original RRF paper, robust across sets.
RRF_K = 60
# An article can be published a few days after the quiz week it answers; so the as-of date gets slack.
AS_OF_SLACK_DAYS = 7
# A passage holding at least this share of the question's terms counts as evidence even when the
# embedding disagrees: MiniLM scores names and acronyms it never saw ("What is iCET?") very low.
COVERAGE_FLOOR = 0.5
# How fast recency stops mattering: an article this many days old gets 1/e of the boost.
RECENCY_DECAY_DAYS = 30.0


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


# The dense search filters dates and sources itself instead of asking Chroma to: Chroma applies a
# metadata `where` by scanning the collection for every question (~140-280 ms at 71k chunks, linear in
# the corpus), while a nearest-neighbour query without one takes a few ms. It fetches enough
# neighbours that about k of them should pass (judged from the share of the corpus that passes),
# then filters them against the keyword index's rows in memory, fetching more when too few pass.
#
# The margin over the expected count of neighbours, since the filter and nearness are not independent
# (a question's nearest articles cluster around its own date, which the as-of cut-off sits on).
OVERFETCH_MARGIN = 2.0
# The most neighbours fetched without a filter. Past this the filter is narrow (an explicit short
# --since/--until, a rare source) and Chroma searches only the allowed chunks, named by id: ~10-20 ms
# where fetching more neighbours costs ~1 ms per hundred and `where` ~550 ms at 258k chunks
# (docs/performance.md, "Retrieval at scale").
MAX_UNFILTERED_FETCH = 1000
# How much more to fetch when too few neighbours passed.
REFETCH_FACTOR = 4


def _passes(meta: dict, since: int | None, until: int | None, sources: list[str] | None) -> bool:
    """The metadata filter of `chroma_where`, applied to one chunk's metadata."""
    day = meta.get("date_int")
    if since is not None and (day is None or day < since):
        return False
    if until is not None and (day is None or day > until):
        return False
    return not sources or meta.get("source") in sources


def first_fetch_size(k: int, allowed: int, total: int) -> int:
    """Neighbours to fetch so that about k pass a filter that `allowed` of `total` chunks pass."""
    return max(k, math.ceil(k * total / allowed * OVERFETCH_MARGIN))


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


def _with_unembedded(dense: list[tuple[str, float]], unembedded: list[Passage]) -> list[tuple[str, float]]:
    """The dense ranking with the keyword hits that have no vector yet (the archive is still being
    embedded) placed by the similarity computed for this question: a new article ranks as it will once
    embedded, instead of by its words alone below every passage both retrievers found."""
    if not unembedded:
        return dense
    extra = [(p.chunk_id, p.similarity or 0.0) for p in unembedded]
    return sorted([*dense, *extra], key=lambda item: -item[1])


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
        query_vector = self._question_vector(query.text)
        fetch_k = max(self.settings.fetch_k, query.k)
        # Without the question's vector (the embedding server is down) the keyword index still answers.
        mode = self.settings.search_mode if query_vector is not None else "keyword"
        # One mask for both retrievers; None when there is no keyword index yet (nothing ingested).
        mask = self.index.keywords.mask(since=since, until=until, sources=query.sources)
        filters = Filters(since, until, query.sources)
        dense = self._dense(query_vector, fetch_k, filters, mask) if mode != "keyword" else []
        keyword = (
            self.index.keywords.search_masked(query.text, fetch_k, mask) if mode != "dense" and mask else []
        )
        ids = list(dict.fromkeys(cid for cid, _ in [*dense, *keyword]))
        candidates, unembedded = self._load_candidates(ids, query_vector)
        if mode != "keyword":
            dense = _with_unembedded(dense, [p for p in candidates if p.chunk_id in unembedded])
        fused = reciprocal_rank_fusion([cid for cid, _ in dense], [cid for cid, _ in keyword])
        order = {cid: position for position, cid in enumerate(fused)}
        candidates.sort(key=lambda p: order[p.chunk_id])  # in fused order, as ties are broken by it
        cue = asks_about_now(query.text)
        question_terms = self.index.keywords.terms(query.text)
        passage_terms = self.index.keywords.terms_of_each([p.text for p in candidates])
        for passage, terms in zip(candidates, passage_terms, strict=True):
            coverage = term_coverage(question_terms, terms)
            passage.scores = {"rrf": fused[passage.chunk_id], "coverage": coverage}
            passage.score = fused[passage.chunk_id]
            if query.as_of is not None:
                passage.score *= recency_boost(passage.date, query.as_of, self.settings.recency_weight, cue)
        relevant = [p for p in candidates if self._is_evidence(p)]
        relevant.sort(key=lambda p: p.score, reverse=True)
        return relevant[: query.k]

    def _question_vector(self, text: str) -> np.ndarray | None:
        """The question's vector; None when the embedding server failed (the index remembers why, and
        answers say that they come from keyword search alone until a question is embedded again)."""
        from qa_bot.index.embeddings import EmbeddingServerError

        try:
            vector = np.asarray(self.index.embeddings.embed_query(text))
        except EmbeddingServerError as exc:
            self.index.embedding_unavailable = str(exc)
            return None
        self.index.embedding_unavailable = None
        return vector

    def _is_evidence(self, passage: Passage) -> bool:
        """The relevance floor: below it a passage is not shown to the answerer at all."""
        return (passage.similarity or 0.0) >= self.settings.relevance_floor or (
            passage.scores.get("coverage", 0.0) >= COVERAGE_FLOOR
        )

    def _dense(
        self, vector: np.ndarray, k: int, filters: Filters, mask: FilterMask | None
    ) -> list[tuple[str, float]]:
        """The k nearest chunks that pass the filters, nearest first: what Chroma's `where` would give."""
        if not filters.active:
            return self._nearest(vector, k)
        if mask is None:  # no keyword index yet: nothing to filter with but Chroma's own filter
            return self._nearest(vector, k, where=filters.chroma_where(None))
        allowed = mask.count()
        if allowed == 0:
            return []
        fetch = first_fetch_size(k, allowed, mask.rows)
        while fetch <= MAX_UNFILTERED_FETCH:
            neighbours = self._nearest(vector, fetch)
            kept = self._keep_passing(neighbours, filters, mask)
            if len(kept) >= k or len(neighbours) < fetch:  # enough, or the whole collection was seen
                return kept[:k]
            fetch *= REFETCH_FACTOR
        return self._nearest_among_allowed(vector, k, filters, mask)

    def _keep_passing(
        self, neighbours: list[tuple[str, float]], filters: Filters, mask: FilterMask
    ) -> list[tuple[str, float]]:
        verdicts = {cid: mask.passes(cid) for cid, _ in neighbours}
        unseen = [cid for cid, verdict in verdicts.items() if verdict is None]
        if unseen:  # ingested after the keyword index was built: ask Chroma for their metadata
            sources = mask.stored_spellings(filters.sources) if filters.sources else None
            for cid, (_text, meta, _vector) in self.index.get_chunks(unseen).items():
                verdicts[cid] = _passes(meta, filters.since, filters.until, sources)
        return [(cid, sim) for cid, sim in neighbours if verdicts.get(cid)]

    def _nearest_among_allowed(
        self, vector: np.ndarray, k: int, filters: Filters, mask: FilterMask
    ) -> list[tuple[str, float]]:
        """A narrow filter: Chroma searches only the allowed chunks, named by id (several times faster
        than its `where`). While an ingest runs the mask may lack new chunks, so then `where` it is."""
        from chromadb.errors import ChromaError

        if mask.current:
            try:
                return self._nearest(vector, k, ids=mask.allowed_ids())
            except ChromaError:  # a chunk pruned since the mask was made: Chroma errs on its id
                pass
        return self._nearest(vector, k, where=filters.chroma_where(mask))

    def _nearest(
        self, vector: np.ndarray, k: int, *, where: dict | None = None, ids: list[str] | None = None
    ) -> list[tuple[str, float]]:
        result = self.index.collection.query(
            query_embeddings=[vector.tolist()], n_results=k, where=where, ids=ids, include=["distances"]
        )
        # The collection uses cosine space: similarity = 1 - distance.
        return [(cid, 1.0 - d) for cid, d in zip(result["ids"][0], result["distances"][0], strict=True)]

    def _load_candidates(
        self, chunk_ids: list[str], query_vector: np.ndarray | None
    ) -> tuple[list[Passage], set[str]]:
        """The fused candidates, from the catalog. While the archive is still being embedded, a keyword
        hit may have no vector yet: it is embedded for this question alone (at most FETCH_K chunks,
        about a second on 2 cores; the embedding pass writes the stored one), so that it meets the
        same relevance floor as the others. Returns the passages, and the ids of those without one."""
        from qa_bot.index.chunk_store import titled_text

        chunks = self.index.searchable_chunks_by_id(chunk_ids)
        passages = []
        unembedded: list[Passage] = []
        for chunk_id in chunk_ids:
            if chunk_id not in chunks:  # deleted since the keyword index was built
                continue
            text, meta, vector = chunks[chunk_id]
            passage = passage_from_chunk(chunk_id, text, meta)
            if query_vector is not None:  # else keyword search alone: no similarity to compute
                if vector is not None:
                    passage.similarity = float(np.dot(np.asarray(vector), query_vector))
                else:
                    unembedded.append(passage)
            passages.append(passage)

        if unembedded:
            titles = self.settings.embed_titles
            texts = [titled_text(p.title if titles else None, p.text) for p in unembedded]
            for passage, vector in zip(unembedded, self.index.embeddings.embed_documents(texts), strict=True):
                passage.similarity = float(np.dot(np.asarray(vector), query_vector))
        return passages, {p.chunk_id for p in unembedded}
