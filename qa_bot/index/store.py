"""The index: chunks in Chroma (embedded or server), an article catalog, and a BM25 keyword index.

Re-ingest goes through LangChain's indexing API with a SQL record manager, so it is incremental and
idempotent: unchanged articles are skipped (cheaply, by content hash in the catalog, before any
chunking or embedding), changed ones have their old chunks replaced, and `prune` removes articles
that are gone from the source. Chunk ids are content hashes and Chroma upserts them, so an ingest
killed at any point leaves no duplicates, and running it again completes it.

The catalog (qa_bot/index/catalog.py) and the record manager live in one database: a SQLite file each in
the data directory, or the shared database of `QA_BOT_DATABASE_URL` (PostgreSQL for a team, where
several app processes, on one machine or several, see the same corpus). The catalog keeps each
article's text and metadata: the UI shows a whole article with the cited span highlighted, `status`
counts articles, and `prune` knows what came from where. Its rows are written before their chunks,
and its corpus version changes with every write. The keyword index (qa_bot/index/keyword_index.py) is
kept on each machine, records the version it was built from and is rebuilt when that differs: at
the end of every ingest, changed or not, and on the first search after a change, in every process
(so a process answers from another one's ingest at its next question). One ingest runs at a time
per index (qa_bot/index/lock.py), across machines too when the database is PostgreSQL.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qa_bot.database.engine import database_errors, database_url, get_engine, shown_url
from qa_bot.database.lock import DatabaseLock, creating_schema
from qa_bot.index.catalog import ArticleState, Catalog
from qa_bot.index.keyword_index import BuildStamp, KeywordIndex, KeywordRows
from qa_bot.index.lock import IngestLock
from qa_bot.ingest.articles import Article, CorpusOptions, LoadFailure, LoadWarning, iter_articles
from qa_bot.settings import Settings

if TYPE_CHECKING:
    from qa_bot.index.chunking import Chunk

ARTICLES_PER_BATCH = 32
CHROMA_PAGE = 5000


@dataclass
class IngestReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    chunks_added: int = 0
    chunks_deleted: int = 0
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
    not_indexed: int  # articles whose chunks an interrupted ingest left unfinished
    vectors: int | None = None  # chunks Chroma holds, when counted (`qa-bot status --check`)

    @property
    def vectors_match(self) -> bool:
        # With unfinished articles Chroma may hold some of their chunks: `not_indexed` says so already.
        return self.vectors is None or self.not_indexed > 0 or self.vectors == self.chunks

    @property
    def keyword_index_current(self) -> bool:
        never_built_for_nothing = self.keyword_index is None and self.chunks == 0
        return never_built_for_nothing or self.keyword_index == BuildStamp(self.corpus_version, self.chunks)

    @property
    def ok(self) -> bool:
        return self.keyword_index_current and not self.not_indexed and self.vectors_match

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
                f"{self.not_indexed} article(s) not fully indexed (an ingest was interrupted): "
                "run the same `qa-bot ingest` again"
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
            "articles_not_fully_indexed": self.not_indexed,
            "vectors_in_chroma": self.vectors,
            "problems": self.problems(),
        }

    def summary(self) -> str:
        """One short line; `problems()` has the details."""
        return f"consistent (corpus version {self.corpus_version})" if self.ok else "NOT consistent"


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

    @property
    def indexed_articles(self) -> int:
        """Articles that can be found: an ingest that failed or was killed leaves the rest unfinished."""
        return self.articles - self.consistency.not_indexed


# (event, amount): "article" per article seen; "chunk" per chunk as it is taken in to be embedded;
# "waiting" (amount 0) once, when another ingest into the same index is running and this one waits
# for it to finish.
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
    """Everything stored for one collection: vectors, catalog, record manager and keyword index."""

    def __init__(self, settings: Settings) -> None:
        """Opens the catalog side (database, keyword index) only: cheap, all `qa-bot status` needs.

        The vector side (Chroma, the embedding model, the chunker, the record manager) opens on first
        use, or at once with `open_vectors()`, which QABot calls so that a bad Chroma fails at start.
        """
        self.settings = settings
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

        return ChunkStore(
            self.client,
            self.settings.collection,
            self.embeddings,
            metadata={"hnsw:space": "cosine", "embedding": self.settings.embedding_name},
            embed_titles=self.settings.embed_titles,
        )

    @cached_property
    def chunker(self):
        from qa_bot.index.chunking import Chunker

        return Chunker.from_settings(self.settings)

    @cached_property
    def record_manager(self):
        """LangChain's record of which chunk ids each article has in Chroma (its indexing API)."""
        from langchain_classic.indexes import SQLRecordManager

        engine = get_engine(self._records_url)
        with database_errors(self._records_url):
            manager = SQLRecordManager(f"chroma/{self.settings.collection}", engine=engine)
            with creating_schema(engine):
                manager.create_schema()
        return manager

    def _open_database(self, store_dir: Path) -> None:
        """The catalog and the ingest lock (the record manager opens with the vector side): in the shared
        database when QA_BOT_DATABASE_URL is set, otherwise in a SQLite file each in `store_dir`."""
        collection = self.settings.collection
        catalog_url = database_url(self.settings, store_dir / "catalog.sqlite")
        self._records_url = database_url(self.settings, store_dir / "record_manager.sqlite")
        self.database = shown_url(catalog_url)
        with database_errors(catalog_url):
            catalog_engine = get_engine(catalog_url)
            self.catalog = Catalog(catalog_engine, collection)
        # With a shared PostgreSQL, one ingest at a time across machines too (an advisory lock).
        database_lock = DatabaseLock.of(catalog_engine, f"ingest:{collection}")
        self.ingest_lock = IngestLock(store_dir / "ingest.lock", database=database_lock)

    def _local_store_dir(self) -> Path:
        """Catalog, record manager and BM25 live in the data dir, one folder per Chroma collection."""
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
        self, paths: list[Path], *, prune: bool = False, progress: ProgressCallback | None = None
    ) -> IngestReport:
        with self.ingest_lock.hold(on_wait=lambda: _notify(progress, "waiting", 0)):
            report = self._ingest(paths, prune, progress)
            # Even when nothing changed: an earlier ingest may have been killed before its rebuild.
            self.keywords.refresh()
        return report

    def _ingest(self, paths: list[Path], prune: bool, progress: ProgressCallback | None) -> IngestReport:
        report = IngestReport()
        known = self.catalog.states()
        seen: set[str] = set()
        failed_files: set[str] = set()
        batch: list[Article] = []
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
            outcome = _outcome(known.get(item.source_key), self._fingerprint(item))
            if outcome == "unchanged":
                report.unchanged += 1
                _notify(progress, "article", 1)
                continue
            chunks = self._chunks_of(item, report)
            if chunks is None:
                failed_files.add(item.path)
                _notify(progress, "article", 1)
                continue
            if outcome == "updated":
                report.updated += 1
            else:
                report.added += 1
            batch.append((item, chunks))
            if len(batch) >= ARTICLES_PER_BATCH:
                self._index_articles(batch, report, progress)
                batch = []
        if batch:
            self._index_articles(batch, report, progress)
        if prune:
            self._prune(paths, seen, failed_files, report)
        return report

    def _chunks_of(self, article: Article, report: IngestReport) -> list[Chunk] | None:
        """The article's chunks; an article the chunker cannot split fails alone, named, and the
        ingest goes on (one bad article never aborts it)."""
        try:
            return self.chunker.split(article)
        except Exception as exc:  # an unforeseen input: this article's failure, not the whole ingest's
            reason = f"could not be split into passages ({type(exc).__name__}: {exc})"
            report.failed.append(LoadFailure(article.path or article.source_key, reason))
            return None

    def _index_articles(
        self,
        articles: list[tuple[Article, list[Chunk]]],
        report: IngestReport,
        progress: ProgressCallback | None,
    ) -> None:
        from langchain_core.indexing import index

        from qa_bot.index.chunking import token_ids
        from qa_bot.index.model_files import wrap_for_model

        docs = []
        model_inputs: dict[tuple[str, int], list[int]] = {}
        rows: list[tuple[Article, str, int]] = []
        for article, chunks in articles:
            # Tokenized once per article, like its text: the title goes in front of every chunk.
            title_ids = token_ids(article.title) if article.title and self.settings.embed_titles else []
            for doc, chunk_ids in chunks:
                # Undated articles get 0: they pass an "until" filter and fail a "since" one.
                doc.metadata.setdefault("date_int", 0)
                model_inputs[(article.source_key, doc.metadata["chunk_index"])] = wrap_for_model(
                    title_ids, chunk_ids
                )
                docs.append(doc)
            rows.append((article, self._fingerprint(article), len(chunks)))
        # Catalog rows first, marked unfinished: an answer never cites an article the catalog lacks,
        # and the corpus version has moved on before Chroma changes (so a kill from here on leaves the
        # keyword index visibly out of date, and these articles visibly unfinished).
        self.catalog.begin_indexing(rows)
        result = index(
            _counted(docs, progress),
            self.record_manager,
            self.vectorstore,
            cleanup="incremental",
            source_id_key="source_key",
            key_encoder="sha256",
            batch_size=64,
            upsert_kwargs={"model_inputs": model_inputs},  # for this call only: ChunkStore.add_documents
        )
        report.chunks_added += result["num_added"]
        report.chunks_deleted += result["num_deleted"]
        for article, fingerprint, _count in rows:
            self.catalog.finish_indexing(article.source_key, fingerprint)
            _notify(progress, "article", 1)

    def _prune(self, paths: list[Path], seen: set[str], failed_files: set[str], report: IngestReport) -> None:
        gone = [
            key
            for key, path in self.catalog.keys_under(paths)
            if key not in seen and path not in failed_files  # a file that failed to load loses nothing
        ]
        if not gone:
            return
        self.catalog.begin_removing(gone)  # as in _index_articles: the catalog moves before Chroma does
        for key in gone:
            chunk_ids = self.record_manager.list_keys(group_ids=[key])
            if chunk_ids:
                self.vectorstore.delete(chunk_ids)
                self.record_manager.delete_keys(chunk_ids)
            report.chunks_deleted += len(chunk_ids)
        self.catalog.delete(gone)
        report.removed += len(gone)

    # --- what the keyword index is derived from (KeywordSource) --------------------------------------

    def corpus_version(self) -> int:
        return self.catalog.version()

    def try_ingest_lock(self) -> AbstractContextManager[bool]:
        return self.ingest_lock.try_hold()

    def keyword_rows(self) -> KeywordRows:
        rows = KeywordRows([], [], [], [])
        for chunk_id, text, meta in self.iter_chunks():
            rows.ids.append(chunk_id)
            # The title is part of what a keyword search should match, as readers name stories by it.
            rows.texts.append(f"{meta.get('title') or ''}\n{text}")
            rows.date_ints.append(int(meta.get("date_int") or 0))
            rows.sources.append(str(meta.get("source") or ""))
        return rows

    def iter_chunks(self) -> Iterator[tuple[str, str, dict]]:
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
        return IndexStats(
            articles=catalog.articles,
            chunks=chunks,
            first_date=catalog.first_date,
            last_date=catalog.last_date,
            sources=catalog.sources,
            location=self.location,
            embedding=self.settings.embedding_name,
            consistency=Consistency(
                catalog.version, chunks, self.keywords.stamp(), catalog.not_indexed, vectors
            ),
            database=self.database,
        )

    def get_chunks(
        self, ids: list[str], include_embeddings: bool = False
    ) -> dict[str, tuple[str, dict, Any]]:
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


def _outcome(state: ArticleState | None, fingerprint: str) -> str:
    """The IngestReport count an article goes to: an unfinished new article is still "added"."""
    if state is None:
        return "added"
    if state.is_indexed(fingerprint):
        return "unchanged"
    return "updated" if state.indexed_hash is not None else "added"


def _notify(progress: ProgressCallback | None, event: str, amount: int) -> None:
    if progress is not None:
        progress(event, amount)


def _counted(chunks: list[Any], progress: ProgressCallback | None) -> Iterator[Any]:
    """The chunks, each reported as LangChain's index() takes it (a batch at a time, each batch
    embedded before the next is taken): a large article visibly moves while it is embedded."""
    for chunk in chunks:
        _notify(progress, "chunk", 1)
        yield chunk
