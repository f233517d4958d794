"""The index: an article catalog with every chunk, a BM25 keyword index, and vectors in Chroma.

An ingest has two passes. The keyword pass reads every article, splits it into chunks and commits
its text and chunks to the catalog (qa_bot/index/catalog.py), 32 articles per transaction, then builds
the keyword index (qa_bot/index/keyword_index.py) from the catalog's chunks: the whole archive is
searchable by keyword after minutes, before any vector exists. The embedding pass follows in the same
command: article by article, newest first, it writes each chunk's vector to Chroma and marks the
article embedded in the catalog, so a question asked meanwhile is answered from keyword search plus
the vectors written so far (qa_bot/index/search.py), and `status` counts the articles searchable by
meaning and the time left.

The catalog is the one record of what is indexed (it replaced LangChain's record manager, which
recorded the same chunk ids a second time and could not say which articles have their vectors):
unchanged articles are skipped by content hash before any chunking, a changed one has its chunks
replaced (and the vectors its new version lacks deleted), and `prune` removes articles gone from the
source. Chunk ids are hashes of text and metadata, computed as LangChain's indexing API does (so an
older qa-bot's vectors keep theirs). A kill at any point loses nothing: a catalog transaction is
whole or absent, the keyword index is rebuilt whenever it is out of date, and the embedding pass
resumes from the articles not marked embedded, writing only the vectors Chroma lacks (none twice).

The catalog lives in a SQLite file in the data directory, or in the shared database of
`QA_BOT_DATABASE_URL` (PostgreSQL for a team, where several app processes, on one machine or several,
see the same corpus). Its corpus version changes with every write of articles or chunks (not with
vectors); the keyword index is kept on each machine, records the version it was built from and is
rebuilt when that differs: at the end of every keyword pass, changed or not, and on the first search
after a change, in every process. One ingest runs at a time per index (qa_bot/index/lock.py), across
machines too when the database is PostgreSQL.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qa_bot.database.engine import database_errors, database_url, get_engine, shown_url
from qa_bot.database.lock import DatabaseLock
from qa_bot.index.catalog import ArticleState, Catalog, ChunkRow, Pending
from qa_bot.index.keyword_index import BuildStamp, KeywordIndex, KeywordRows
from qa_bot.index.lock import IngestLock
from qa_bot.ingest.articles import Article, CorpusOptions, LoadFailure, LoadWarning, iter_articles
from qa_bot.settings import Settings

if TYPE_CHECKING:
    from qa_bot.index.chunking import Chunk

ARTICLES_PER_BATCH = 32  # articles per catalog transaction in the keyword pass
# Chunks sorted by length together before they are embedded, so that each batch of the model holds
# chunks of about one length: with 32 chunks at a time (one or two articles) sorted alone, a third of
# the model's work was padding (docs/performance.md).
EMBED_WINDOW_CHUNKS = 512
EMBED_CALL_CHUNKS = 64  # chunks per call of the packaged model (two of its batches), written at once
# Whole articles of about this many chunks are marked embedded together, once all their vectors are in.
EMBED_BATCH_CHUNKS = 64
CHROMA_PAGE = 5000


class EmbeddingModelMismatch(RuntimeError):
    """The collection's vectors were made by another embedding model than the settings name."""


@dataclass
class IngestReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    chunks_added: int = 0  # vectors written to Chroma by this ingest
    chunks_deleted: int = 0
    embedded: int = 0  # articles whose vectors this ingest completed (also earlier ingests' leftovers)
    not_embedded: int = 0  # articles left searchable by keyword only (embedding not run, or stopped)
    searchable_after: float | None = None  # seconds from the start until keyword search had it all
    # Why the embedding pass stopped early (the embedding server failed): the keyword pass is kept,
    # and so is every article embedded before; `qa-bot embed` resumes.
    embedding_error: str | None = None
    failed: list[LoadFailure] = field(default_factory=list)
    warnings: list[LoadWarning] = field(default_factory=list)  # e.g. an unreadable date: article kept
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)


@dataclass(frozen=True)
class Consistency:
    """Whether what is derived from the catalog matches it: what `qa-bot status` reports."""

    corpus_version: int
    chunks: int  # of the fully indexed articles, by the catalog
    keyword_index: BuildStamp | None  # what the BM25 index was built from; None: missing or unstamped
    not_indexed: int  # articles whose chunks are not in the catalog (being removed, or an old qa-bot's)
    vectors: int | None = None  # chunks Chroma holds, when counted (`qa-bot status --check`)
    not_embedded: int = 0  # articles searchable by keyword, not yet all by meaning
    embedded_chunks: int | None = None  # the chunks of the embedded articles (what Chroma should hold)
    embedding_running: bool = False  # an ingest holds the index now (so the embedding is under way)

    @property
    def vectors_match(self) -> bool:
        # With unfinished articles Chroma may hold some of their chunks: `not_embedded` says so already.
        expected = self.chunks if self.embedded_chunks is None else self.embedded_chunks
        unfinished = self.not_indexed > 0 or self.not_embedded > 0
        return self.vectors is None or unfinished or self.vectors == expected

    @property
    def keyword_index_current(self) -> bool:
        never_built_for_nothing = self.keyword_index is None and self.chunks == 0
        return never_built_for_nothing or self.keyword_index == BuildStamp(self.corpus_version, self.chunks)

    @property
    def ok(self) -> bool:
        return (
            self.keyword_index_current
            and not self.not_indexed
            and not self.not_embedded
            and self.vectors_match
        )

    def problems(self) -> list[str]:
        """Each inconsistency, with what to do about it."""
        found = []
        if not self.keyword_index_current:
            built = self.keyword_index
            was = (
                f"built from corpus version {built.corpus_version} with {built.chunks} chunks"
                if built
                else "missing, or saved by an older qa-bot"
            )
            found.append(
                f"keyword index out of date ({was}; the corpus is at version {self.corpus_version} "
                f"with {self.chunks} chunks): it is rebuilt on the next question or ingest"
            )
        if self.not_indexed:
            found.append(
                f"{self.not_indexed} article(s) not fully indexed (an ingest was interrupted, or the "
                "index was made by an older qa-bot): run the same `qa-bot ingest` again"
            )
        if self.not_embedded and not self.embedding_running:
            found.append(
                f"{self.not_embedded} article(s) searchable by keyword only: their embedding stopped "
                "before it finished; run the same `qa-bot ingest` again (or `qa-bot embed`): it "
                "resumes where it stopped"
            )
        if not self.vectors_match:
            found.append(
                f"Chroma holds {self.vectors} chunks where the catalog lists {self.chunks}: something "
                "other than qa-bot changed the collection or the database; ingest the corpus again with "
                "`qa-bot ingest --prune PATH...`, or into a new QA_BOT_COLLECTION"
            )
        return found

    def as_dict(self) -> dict[str, Any]:
        built = self.keyword_index
        return {
            "ok": self.ok,
            "corpus_version": self.corpus_version,
            "keyword_index": {
                "current": self.keyword_index_current,
                "built_from_version": built.corpus_version if built else None,
                "chunks": built.chunks if built else None,
            },
            "articles_not_fully_indexed": self.not_indexed + self.not_embedded,
            "articles_not_embedded": self.not_embedded,
            "embedding_running": self.embedding_running,
            "vectors_in_chroma": self.vectors,
            "problems": self.problems(),
        }

    def summary(self) -> str:
        """One short line; `problems()` has the details."""
        if self.ok:
            return f"consistent (corpus version {self.corpus_version})"
        if self.embedding_running and self.keyword_index_current and not self.not_indexed:
            return "embedding under way (searchable by keyword meanwhile)"
        return "NOT consistent"


@dataclass
class IndexStats:
    articles: int
    chunks: int
    first_date: str | None
    last_date: str | None
    sources: list[str]
    location: str
    embedding: str
    consistency: Consistency
    database: str = ""  # where catalog and ingest records are: a SQLite file, or a URL without password
    embedded: int = 0  # articles searchable by meaning (all their vectors are in Chroma)
    chunks_to_embed: int = 0
    embedding_rate: float | None = None  # chunks per second lately, while an embedding runs

    @property
    def indexed_articles(self) -> int:
        """Articles that can be found: an ingest that failed or was killed leaves the rest unfinished."""
        return self.articles - self.consistency.not_indexed

    @property
    def embedding_behind(self) -> bool:
        """Some articles are searchable by keyword only: their vectors are still being written."""
        return self.consistency.not_embedded > 0

    @property
    def embedding_eta_s(self) -> float | None:
        """Seconds until every article is searchable by meaning, at the recent rate; None: unknown."""
        if not self.embedding_behind or not self.consistency.embedding_running or not self.embedding_rate:
            return None
        return self.chunks_to_embed / self.embedding_rate

    def meaning_line(self) -> str:
        """ "N of M articles searchable by meaning", with the ETA while the embedding runs."""
        line = f"{self.embedded:,} of {self.articles:,} articles searchable by meaning"
        if not self.embedding_behind:
            return line
        if not self.consistency.embedding_running:
            return f"{line} (embedding stopped: `qa-bot ingest` again resumes it)"
        eta = self.embedding_eta_s
        left = f"about {clock(eta)} left" if eta is not None else "the time left is not known yet"
        return f"{line} (embedding, {left})"

    def indexing_notice(self) -> str | None:
        """What an answer given meanwhile says: None once every article is searchable by meaning."""
        if not self.embedding_behind:
            return None
        return (
            f"The archive is still being indexed: {self.meaning_line()}. This answer comes from keyword "
            "search and the vectors written so far; asked again later, it may find more."
        )


def clock(seconds: float) -> str:
    """H:MM:SS."""
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


# (event, amount): "article" per article read in the keyword pass; "searchable" once, when the keyword
# index holds every article (amount: the articles searchable); "embedding" once, as the embedding pass
# starts (amount: the articles it has to embed); then "chunk" per chunk embedded and "embedded" per
# article whose vectors are all written; "waiting" (amount 0) once, when another ingest into the same
# index is running and this one waits for it to finish.
ProgressCallback = Callable[[str, int], None]


def content_hash(article: Article, chunking: str = "") -> str:
    """Changes whenever anything stored for the article would change, chunk sizes included."""
    payload = json.dumps(
        [article.text, article.title, article.date, article.source, article.url, article.id, chunking],
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def chroma_client(settings: Settings):
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.uses_chroma_server:
        return chromadb.HttpClient(
            host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings
        )
    settings.chroma_dir.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(settings.chroma_dir), settings=chroma_settings)


class Index:
    """Everything stored for one collection: vectors, catalog and keyword index."""

    def __init__(self, settings: Settings) -> None:
        """Opens the catalog side (database, keyword index) only: cheap, all `qa-bot status` needs.

        The vector side (Chroma, the embedding model, the chunker) opens on first
        use, or at once with `open_vectors()`, which QABot calls so that a bad Chroma fails at start.
        """
        self.settings = settings
        # Why the last question could not be embedded (the embedding server failed); None once one is.
        self.embedding_unavailable: str | None = None
        self.store_dir = self._local_store_dir()
        self.store_dir.mkdir(parents=True, exist_ok=True)
        self._open_database(self.store_dir)  # first: a database that cannot be reached fails at once
        # Derived from the catalog and Chroma, so kept on this machine: rebuilt when the corpus version moves.
        self.keywords = KeywordIndex(self.store_dir / "bm25", source=self)

    def open_vectors(self) -> Index:
        """Opens Chroma and loads the embedding model and the chunker now rather than on first use."""
        _ = self.vectorstore, self.chunker
        return self

    @cached_property
    def embeddings(self):
        from qa_bot.index.embeddings import build_embeddings

        return build_embeddings(self.settings)

    @cached_property
    def client(self):
        return chroma_client(self.settings)

    @cached_property
    def vectorstore(self):
        from qa_bot.index.chunk_store import ChunkStore

        # The mismatch is found before the model is built: a wrong setting fails with what to set it
        # back to, without loading a model or calling a server first.
        self._check_embedding_model()
        return ChunkStore(
            self.client,
            self.settings.collection,
            self.embeddings,
            metadata={"hnsw:space": "cosine", "embedding": self.settings.embedding_name},
            embed_titles=self.settings.embed_titles,
        )

    def _check_embedding_model(self) -> None:
        """Vectors of two models are never searched together: a collection that holds another model's
        vectors is refused, naming both. An empty one takes the new model's name."""
        try:
            collection = self.client.get_collection(self.settings.collection, embedding_function=None)
        except Exception:  # not created yet: ChunkStore creates it with this model's name
            return
        recorded = (collection.metadata or {}).get("embedding")
        wanted = self.settings.embedding_name
        if recorded is None or recorded == wanted:
            return
        if collection.count() == 0:
            collection.modify(metadata={**collection.metadata, "embedding": wanted})
            return
        raise EmbeddingModelMismatch(
            f"The index's collection {self.settings.collection!r} holds {collection.count():,} vectors "
            f"made by {recorded!r}, but "
            f"qa-bot is set to embed with {wanted!r} (QA_BOT_EMBEDDING, QA_BOT_EMBEDDING_MODEL). Vectors "
            "of two models cannot be searched together: set them back to what made this index, or "
            "use another QA_BOT_COLLECTION (or QA_BOT_DATA_DIR) and ingest the articles into it."
        )

    @cached_property
    def chunker(self):
        from qa_bot.index.chunking import Chunker

        return Chunker.from_settings(self.settings)

    def _open_database(self, store_dir: Path) -> None:
        """The catalog and the ingest lock: in the shared database when QA_BOT_DATABASE_URL is set,
        otherwise in a SQLite file in `store_dir`."""
        collection = self.settings.collection
        catalog_url = database_url(self.settings, store_dir / "catalog.sqlite")
        self.database = shown_url(catalog_url)
        with database_errors(catalog_url):
            catalog_engine = get_engine(catalog_url)
            self.catalog = Catalog(catalog_engine, collection)
        # With a shared PostgreSQL, one ingest at a time across machines too (an advisory lock).
        database_lock = DatabaseLock.of(catalog_engine, f"ingest:{collection}")
        self.ingest_lock = IngestLock(store_dir / "ingest.lock", database=database_lock)

    def _local_store_dir(self) -> Path:
        """Catalog and BM25 live in the data dir, one folder per Chroma collection."""
        where = (
            f"{self.settings.chroma_host}_{self.settings.chroma_port}"
            if self.settings.uses_chroma_server
            else "local"
        )
        return self.settings.data_dir / "index" / where / self.settings.collection

    @property
    def location(self) -> str:
        s = self.settings
        server = f"chroma server {s.chroma_host}:{s.chroma_port}"
        where = server if s.uses_chroma_server else s.chroma_dir.resolve()
        return f"{where}, collection {s.collection}"

    @property
    def collection(self):
        """The chromadb collection of the chunks (its public API: get, query, count)."""
        return self.vectorstore.chunks

    # --- ingest -------------------------------------------------------------------------------------

    def _fingerprint(self, article: Article) -> str:
        s = self.settings
        return content_hash(article, f"{s.chunk_tokens}/{s.chunk_overlap_tokens}/titles={s.embed_titles}")

    def ingest(
        self,
        paths: list[Path],
        *,
        prune: bool = False,
        progress: ProgressCallback | None = None,
        embed: bool = True,
    ) -> IngestReport:
        """The keyword pass (every article's text and chunks into the catalog, then the keyword index),
        then, with `embed`, the embedding pass: the vectors of every article not yet embedded, this
        ingest's or an earlier one's that stopped."""
        started = time.perf_counter()
        with self.ingest_lock.hold(on_wait=lambda: _notify(progress, "waiting", 0)):
            report = self._ingest(paths, prune, progress)
            # Even when nothing changed: an earlier ingest may have been killed before its rebuild.
            self.keywords.refresh()
            report.searchable_after = time.perf_counter() - started
            _notify(progress, "searchable", self.catalog.stats().articles)
            if embed:
                self._embed_pending(report, progress)
            report.not_embedded = self.catalog.stats().not_embedded
        return report

    def embed(self, progress: ProgressCallback | None = None) -> IngestReport:
        """The embedding pass alone: resumes an ingest's embedding that stopped (or was not run)."""
        with self.ingest_lock.hold(on_wait=lambda: _notify(progress, "waiting", 0)):
            self.keywords.refresh()
            report = IngestReport()
            self._embed_pending(report, progress)
            report.not_embedded = self.catalog.stats().not_embedded
        return report

    # --- the keyword pass: text and chunks into the catalog ------------------------------------------

    def _ingest(self, paths: list[Path], prune: bool, progress: ProgressCallback | None) -> IngestReport:
        report = IngestReport()
        known = self.catalog.states()
        seen: set[str] = set()
        failed_files: set[str] = set()
        batch: list[tuple[Article, str, str]] = []  # (article, fingerprint, outcome), to be chunked
        for item in iter_articles(paths, CorpusOptions.from_settings(self.settings)):
            if isinstance(item, LoadWarning):
                report.warnings.append(item)
                continue
            if isinstance(item, LoadFailure):
                report.failed.append(item)
                # As the catalog knows it: a followed link by its own path, not its target's.
                failed_files.add(item.path)
                _notify(progress, "article", 1)
                continue
            seen.add(item.source_key)
            fingerprint = self._fingerprint(item)
            state = known.get(item.source_key)
            outcome = _outcome(state, fingerprint)
            if state is not None and state.is_indexed(fingerprint):
                report.unchanged += 1
                _notify(progress, "article", 1)
                continue
            batch.append((item, fingerprint, outcome))
            if len(batch) >= ARTICLES_PER_BATCH:
                self._write_articles(
                    self._chunked(batch, report, failed_files, progress), known, report, progress
                )
                batch = []
        if batch:
            self._write_articles(
                self._chunked(batch, report, failed_files, progress), known, report, progress
            )
        if prune:
            self._prune(paths, seen, failed_files, report)
        return report

    def _chunked(
        self,
        batch: list[tuple[Article, str, str]],
        report: IngestReport,
        failed_files: set[str],
        progress: ProgressCallback | None,
    ) -> list[tuple[Article, str, list[Chunk]]]:
        """The articles with their chunks; an article the chunker cannot split fails alone, named,
        and the ingest goes on (one bad article never aborts it)."""
        chunked = []
        for (article, fingerprint, outcome), chunks in zip(
            batch, self.chunker.split_many([article for article, _f, _o in batch]), strict=True
        ):
            if isinstance(chunks, Exception):
                reason = f"could not be split into passages ({type(chunks).__name__}: {chunks})"
                report.failed.append(LoadFailure(article.path or article.source_key, reason))
                failed_files.add(article.path)
                _notify(progress, "article", 1)
                continue
            setattr(report, outcome, getattr(report, outcome) + 1)
            chunked.append((article, fingerprint, chunks))
        return chunked

    def _write_articles(
        self,
        batch: list[tuple[Article, str, list[Chunk]]],
        known: dict[str, ArticleState],
        report: IngestReport,
        progress: ProgressCallback | None,
    ) -> None:
        """One transaction of articles with their chunks: searchable by keyword from the next keyword
        build. A changed article's vectors that its new version lacks are deleted first (and the
        article is marked not embedded before that), so Chroma never holds a stale chunk that the
        catalog does not list."""
        from qa_bot.index.chunking import chunk_id

        rows = []
        for article, fingerprint, chunks in batch:
            chunk_rows = [
                ChunkRow(
                    chunk_id(doc), doc.metadata["chunk_index"], doc.metadata["start"], doc.metadata["end"]
                )
                for doc, _ids in chunks
            ]
            rows.append((article, fingerprint, chunk_rows))
        changed = {
            article.source_key: {row.chunk_id for row in chunk_rows}
            for article, fingerprint, chunk_rows in rows
            if (state := known.get(article.source_key)) is not None and state.content_hash != fingerprint
        }
        if changed:
            self.catalog.forget_vectors(changed)
            stale = [
                old
                for key, old_ids in self._vector_ids(changed).items()
                for old in old_ids
                if old not in changed[key]
            ]
            if stale:
                self.vectorstore.delete(stale)
                report.chunks_deleted += len(stale)
        self.catalog.write_articles(rows)
        for _row in rows:
            _notify(progress, "article", 1)

    def _vector_ids(self, source_keys) -> dict[str, list[str]]:
        """The chunk ids each article may have in Chroma: the catalog's; for an article of an older
        qa-bot's catalog (no chunk rows), Chroma's own, by the article's source key."""
        found = self.catalog.chunk_ids(source_keys)
        for key, ids in found.items():
            if not ids:
                ids.extend(self.collection.get(where={"source_key": key}, include=[])["ids"])
        return found

    def _prune(self, paths: list[Path], seen: set[str], failed_files: set[str], report: IngestReport) -> None:
        gone = [
            key
            for key, path in self.catalog.keys_under(paths)
            if key not in seen and path not in failed_files  # a file that failed to load loses nothing
        ]
        if not gone:
            return
        self.catalog.begin_removing(gone)  # the catalog moves before Chroma does
        chunk_ids = [chunk for ids in self._vector_ids(gone).values() for chunk in ids]
        if chunk_ids:
            self.vectorstore.delete(chunk_ids)
        report.chunks_deleted += len(chunk_ids)
        self.catalog.delete(gone)
        report.removed += len(gone)

    # --- the embedding pass: vectors behind the keyword index -----------------------------------------

    def _embed_pending(self, report: IngestReport, progress: ProgressCallback | None) -> None:
        """Embeds every indexed article not yet embedded, newest first, a window of articles (about
        EMBED_WINDOW_CHUNKS chunks, or all a server's requests in flight) at a time, marking each
        embedded as its vectors are written. A failing embedding server stops the pass, named in the
        report; what was embedded before it stays embedded."""
        from qa_bot.index.embeddings import EmbeddingServerError

        pending = self.catalog.pending_embedding()
        if not pending:
            return
        _notify(progress, "embedding", len(pending))
        window: list[Pending] = []
        size = 0
        try:
            for item in pending:
                window.append(item)
                size += item.chunks
                if size >= self._window_chunks:
                    self._embed_window(window, report, progress)
                    window, size = [], 0
            if window:
                self._embed_window(window, report, progress)
        except EmbeddingServerError as exc:
            report.embedding_error = str(exc)

    @property
    def _window_chunks(self) -> int:
        return max(EMBED_WINDOW_CHUNKS, self._call_chunks)

    @property
    def _call_chunks(self) -> int:
        """Chunks per call of the embedding model, each call's vectors written at once: two of the
        packaged model's batches, or all of a server's requests in flight."""
        return getattr(self.embeddings, "chunks_per_call", EMBED_CALL_CHUNKS)

    def _embed_window(self, window: list[Pending], report: IngestReport, progress) -> None:
        """Writes these articles' missing vectors, shortest chunks first, and marks each group of
        articles (about EMBED_BATCH_CHUNKS chunks) embedded once all its vectors are written. A chunk
        whose vector is in Chroma already (written before a kill or a failure, or unchanged in a changed
        article) is not embedded again."""
        found = self.catalog.articles_for_embedding(item.source_key for item in window)
        batches: list[tuple[list[tuple[str, str]], list[Any]]] = []  # (articles done, their chunks)
        model_inputs: dict[tuple[str, int], list[int]] = {}
        for item in window:
            if item.source_key not in found:  # removed meanwhile
                continue
            article, chunk_rows = found[item.source_key]
            if not batches or len(batches[-1][1]) >= EMBED_BATCH_CHUNKS:
                batches.append(([], []))
            batches[-1][0].append((item.source_key, item.fingerprint))
            batches[-1][1].extend(_chunk_documents(article, chunk_rows))
            model_inputs.update(self._model_inputs(article, chunk_rows))
        documents = [doc for _done, docs in batches for doc in docs]
        ids = [doc.id for doc in documents]
        written = set(self.collection.get(ids=ids, include=[])["ids"]) if ids else set()
        missing = [doc for doc in documents if doc.id not in written]
        _notify(progress, "chunk", len(documents) - len(missing))
        missing.sort(key=lambda doc: _model_length(doc, model_inputs))
        for start in range(0, len(missing), self._call_chunks):
            call = missing[start : start + self._call_chunks]
            self.vectorstore.write(call, self.vectorstore.vectors(call, model_inputs))
            written.update(doc.id for doc in call)
            report.chunks_added += len(call)
            _notify(progress, "chunk", len(call))
            batches = self._mark_complete(batches, written, report, progress)
        self._mark_complete(batches, written, report, progress)

    def _mark_complete(self, batches, written: set[str], report: IngestReport, progress):
        """Marks embedded the groups of articles whose vectors are all written; returns the others."""
        left = []
        for done, docs in batches:
            if all(doc.id in written for doc in docs):
                self.catalog.mark_embedded(done)
                report.embedded += len(done)
                _notify(progress, "embedded", len(done))
            else:
                left.append((done, docs))
        return left

    def _model_inputs(self, article: Article, chunk_rows: list[ChunkRow]) -> dict[tuple[str, int], list[int]]:
        """What the packaged model reads for each chunk, from one tokenization of the article: its
        title in front of each chunk (`embed_titles`). Empty for a model that tokenizes for itself."""
        from qa_bot.index.chunking import chunk_token_ids, token_ids
        from qa_bot.index.model_files import wrap_for_model

        if not hasattr(self.embeddings, "embed_token_ids"):
            return {}
        title_ids = token_ids(article.title) if article.title and self.settings.embed_titles else []
        spans = [(row.start, row.end) for row in chunk_rows]
        return {
            (article.source_key, row.chunk_index): wrap_for_model(title_ids, ids)
            for row, ids in zip(chunk_rows, chunk_token_ids(article, spans), strict=True)
        }

    # --- what the keyword index is derived from (KeywordSource) --------------------------------------

    def corpus_version(self) -> int:
        return self.catalog.version()

    def searchable_chunks(self) -> int:
        return self.catalog.chunk_count()

    def try_ingest_lock(self) -> AbstractContextManager[bool]:
        return self.ingest_lock.try_hold()

    def keyword_rows(self) -> KeywordRows:
        return self.catalog.keyword_rows()

    def iter_chunks(self) -> Iterator[tuple[str, str, dict]]:
        """Every chunk in Chroma (those with vectors): id, text and metadata."""
        offset = 0
        while True:
            page = self.collection.get(include=["documents", "metadatas"], limit=CHROMA_PAGE, offset=offset)
            if not page["ids"]:
                return
            yield from zip(page["ids"], page["documents"], page["metadatas"], strict=True)
            offset += len(page["ids"])

    # --- reading ------------------------------------------------------------------------------------

    def chunk_count(self) -> int:
        return self.collection.count()

    def stats(self, *, count_vectors: bool = False) -> IndexStats:
        """Figures from the catalog and the keyword index's stamp, without opening Chroma (which takes
        seconds in a fresh process); `count_vectors` also counts Chroma's chunks against the catalog."""
        catalog = self.catalog.stats()
        chunks = catalog.chunks
        vectors = self.chunk_count() if count_vectors else None
        running = False
        if catalog.not_embedded:  # is an ingest embedding them now, or did one stop?
            with self.ingest_lock.try_hold() as free:
                running = not free
        return IndexStats(
            articles=catalog.articles,
            chunks=chunks,
            first_date=catalog.first_date,
            last_date=catalog.last_date,
            sources=catalog.sources,
            location=self.location,
            embedding=self.settings.embedding_name,
            consistency=Consistency(
                catalog.version,
                chunks,
                self.keywords.stamp(),
                catalog.not_indexed,
                vectors,
                not_embedded=catalog.not_embedded,
                embedded_chunks=catalog.embedded_chunks,
                embedding_running=running,
            ),
            database=self.database,
            embedded=catalog.embedded,
            chunks_to_embed=catalog.chunks_to_embed,
            embedding_rate=catalog.embedding_rate,
        )

    def get_chunks(
        self, ids: list[str], include_embeddings: bool = False
    ) -> dict[str, tuple[str, dict, Any]]:
        """Chunks as Chroma holds them (those with vectors): id -> (text, metadata, vector or None)."""
        if not ids:
            return {}
        include = ["documents", "metadatas"] + (["embeddings"] if include_embeddings else [])
        got = self.collection.get(ids=ids, include=include)
        vectors = got["embeddings"] if include_embeddings else [None] * len(got["ids"])
        return {
            cid: (doc, meta, vec)
            for cid, doc, meta, vec in zip(
                got["ids"], got["documents"], got["metadatas"], vectors, strict=True
            )
        }

    def searchable_chunks_by_id(self, ids: list[str]) -> dict[str, tuple[str, dict, Any]]:
        """Chunks as search finds them: every indexed chunk from the catalog, with its vector when it
        has one yet (None while the embedding is behind): id -> (text, metadata, vector or None).
        A chunk of an older qa-bot's index that the catalog does not list yet comes from Chroma."""
        from qa_bot.index.chunking import chunk_metadata

        if not ids:
            return {}
        found: dict[str, tuple[str, dict, Any]] = {}
        for cid, (article, row) in self.catalog.chunks(ids).items():
            found[cid] = (article.text, chunk_metadata(article, row.chunk_index, row.start, row.end), None)
        vectors = self.collection.get(ids=ids, include=["embeddings", "documents", "metadatas"])
        for cid, vector, text, meta in zip(
            vectors["ids"], vectors["embeddings"], vectors["documents"], vectors["metadatas"], strict=True
        ):
            text, meta = found[cid][:2] if cid in found else (text, meta)
            found[cid] = (text, meta, vector)
        return found


def _outcome(state: ArticleState | None, fingerprint: str) -> str:
    """The IngestReport count an article goes to."""
    if state is None:
        return "added"
    return "unchanged" if state.content_hash == fingerprint else "updated"


def _model_length(document: Any, model_inputs: dict[tuple[str, int], list[int]]) -> int:
    """How long the model's input for a chunk is: its word-pieces, or (a server's model) its text."""
    ids = model_inputs.get((document.metadata.get("source_key"), document.metadata.get("chunk_index")))
    return len(ids) if ids is not None else len(document.page_content)


def _chunk_documents(article: Article, chunk_rows: list[ChunkRow]) -> list[Any]:
    """The article's chunks as LangChain Documents, as Chroma stores them (text, metadata, id)."""
    from langchain_core.documents import Document

    from qa_bot.index.chunking import chunk_metadata

    return [
        Document(
            id=row.chunk_id,
            page_content=article.text[row.start : row.end],
            metadata=chunk_metadata(article, row.chunk_index, row.start, row.end),
        )
        for row in chunk_rows
    ]


def _notify(progress: ProgressCallback | None, event: str, amount: int) -> None:
    if progress is not None:
        progress(event, amount)
