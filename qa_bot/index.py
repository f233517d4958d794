"""The index: chunks in Chroma (embedded or server), an article catalog, and a BM25 keyword index.

Re-ingest goes through LangChain's indexing API with a SQL record manager, so it is incremental and
idempotent: unchanged articles are skipped (cheaply, by content hash in the catalog, before any
chunking or embedding), changed ones have their old chunks replaced, and `prune` removes articles
that are gone from the source. Chunk ids are content hashes and Chroma upserts them, so an ingest
killed half-way leaves no duplicates, and running it again completes it.

The catalog (SQLite, beside the record manager) keeps each article's text and metadata: the UI
shows a whole article with the cited span highlighted, `status` counts articles, and `prune` knows
what came from where. The keyword index is rebuilt once at the end of an ingest that changed
something, saved under the data directory, and loaded once per process.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qa_bot.chunking import Chunker
from qa_bot.corpus import Article, CorpusOptions, LoadFailure, LoadWarning, iter_articles
from qa_bot.embeddings import build_embeddings, embedding_name
from qa_bot.settings import Settings
from qa_bot.sqlite_store import SQLiteStore

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


@dataclass
class IndexStats:
    articles: int
    chunks: int
    first_date: str | None
    last_date: str | None
    sources: list[str]
    location: str
    embedding: str


# (event, amount): "article" per article seen; "chunk" per chunk as it is taken in to be embedded.
ProgressCallback = Callable[[str, int], None]


def content_hash(article: Article, chunking: str = "") -> str:
    """Changes whenever anything stored for the article would change, chunk sizes included."""
    payload = json.dumps(
        [article.text, article.title, article.date, article.source, article.url, article.id, chunking],
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


class Catalog(SQLiteStore):
    """Articles by source key (SQLite): text and metadata for display, hashes for re-ingest."""

    SCHEMA = """
    CREATE TABLE IF NOT EXISTS articles (
        source_key TEXT PRIMARY KEY, id TEXT NOT NULL, path TEXT, title TEXT, date TEXT, source TEXT,
        url TEXT, text TEXT NOT NULL, content_hash TEXT NOT NULL, chunks INTEGER NOT NULL);
    CREATE INDEX IF NOT EXISTS articles_id ON articles(id);
    """

    def hashes(self) -> dict[str, str]:
        with closing(self._connect()) as db:
            return dict(db.execute("SELECT source_key, content_hash FROM articles"))

    def save(self, article: Article, fingerprint: str, chunks: int) -> None:
        row = (
            article.source_key, article.id, article.path, article.title, article.date, article.source,
            article.url, article.text, fingerprint, chunks,
        )  # fmt: skip
        with closing(self._connect()) as db, db:
            db.execute("INSERT OR REPLACE INTO articles VALUES (?,?,?,?,?,?,?,?,?,?)", row)

    def delete(self, source_keys: Iterable[str]) -> None:
        with closing(self._connect()) as db, db:
            db.executemany("DELETE FROM articles WHERE source_key = ?", [(k,) for k in source_keys])

    def keys_under(self, paths: Iterable[Path]) -> list[tuple[str, str]]:
        """(source key, file) of the articles that were last loaded from these files or folders."""
        roots = [str(Path(p).resolve()) for p in paths]
        with closing(self._connect()) as db:
            rows = db.execute("SELECT source_key, path FROM articles").fetchall()
        return [(key, path) for key, path in rows if path and any(_is_under(path, root) for root in roots)]

    def get(self, article_id: str) -> Article | None:
        with closing(self._connect()) as db:
            row = db.execute(
                "SELECT id, text, title, date, source, url, path, source_key FROM articles WHERE id = ?",
                (article_id,),
            ).fetchone()
        return Article(*row) if row else None

    def stats(self) -> tuple[int, int, str | None, str | None, list[str]]:
        with closing(self._connect()) as db:
            articles, chunks, first, last = db.execute(
                "SELECT COUNT(*), COALESCE(SUM(chunks), 0), MIN(date), MAX(date) FROM articles"
            ).fetchone()
            sources = [
                s for (s,) in db.execute("SELECT DISTINCT source FROM articles WHERE source IS NOT NULL")
            ]
        return articles, chunks, first, last, sorted(sources)


def _is_under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


class KeywordIndex:
    """BM25 (bm25s) over every chunk, saved beside the catalog; rows map to Chroma chunk ids."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lock = threading.Lock()
        self._loaded: tuple[Any, list[str], np.ndarray, list[str]] | None = None
        self._stemmer = _stemmer()

    def tokenize(self, texts: list[str]):
        import bm25s

        return bm25s.tokenize(texts, stopwords="en", stemmer=self._stemmer, show_progress=False)

    def terms(self, text: str) -> set[str]:
        """The stemmed, stop-word-free terms BM25 matches on."""
        import bm25s

        tokens = bm25s.tokenize(
            [text], stopwords="en", stemmer=self._stemmer, return_ids=False, show_progress=False
        )
        return set(tokens[0])

    def rebuild(self, ids: list[str], texts: list[str], date_ints: list[int], sources: list[str]) -> None:
        import bm25s

        self.directory.mkdir(parents=True, exist_ok=True)
        retriever = bm25s.BM25()
        if texts:
            retriever.index(self.tokenize(texts), show_progress=False)
        tmp = self.directory.with_name(self.directory.name + ".tmp")
        tmp.mkdir(parents=True, exist_ok=True)
        if texts:
            retriever.save(str(tmp), show_progress=False)
        (tmp / "rows.json").write_text(json.dumps({"ids": ids, "date_int": date_ints, "source": sources}))
        # Swap in the new index in one rename, so a reader never sees half of it.
        old = self.directory.with_name(self.directory.name + ".old")
        if self.directory.exists():
            self.directory.rename(old)
        tmp.rename(self.directory)
        if old.exists():
            _remove_tree(old)
        with self._lock:
            self._loaded = None

    def _load(self):
        import bm25s

        with self._lock:
            if self._loaded is None:
                rows_file = self.directory / "rows.json"
                if not rows_file.exists():
                    return None
                rows = json.loads(rows_file.read_text())
                retriever = bm25s.BM25.load(str(self.directory), show_progress=False) if rows["ids"] else None
                self._loaded = (retriever, rows["ids"], np.array(rows["date_int"]), rows["source"])
            return self._loaded

    def search(
        self, query: str, k: int, *, since: int | None, until: int | None, sources: list[str] | None
    ) -> list[tuple[str, float]]:
        """Top-k (chunk id, BM25 score), the filters applied before ranking."""
        loaded = self._load()
        if loaded is None or loaded[0] is None:
            return []
        retriever, ids, date_ints, chunk_sources = loaded
        mask = np.ones(len(ids), dtype=bool)
        if since is not None:
            mask &= date_ints >= since
        if until is not None:
            mask &= date_ints <= until
        if sources:
            wanted = {s.lower() for s in sources}
            mask &= np.array([s.lower() in wanted for s in chunk_sources])
        tokens = self.tokenize([query])
        if not tokens.vocab or not mask.any():
            return []
        k = min(k, int(mask.sum()))
        docs, scores = retriever.retrieve(
            tokens, k=k, show_progress=False, weight_mask=mask.astype(np.float32), n_threads=1
        )
        return [(ids[int(i)], float(s)) for i, s in zip(docs[0], scores[0], strict=True) if s > 0]


def _stemmer():
    try:
        import Stemmer  # PyStemmer: a C Snowball stemmer; bm25s calls it per word

        return Stemmer.Stemmer("english")
    except ImportError:  # pragma: no cover - a hard dependency, but BM25 still works without stemming
        return None


def _remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def titled_text(title: str | None, text: str) -> str:
    """What gets embedded for a chunk: its article's title, then the chunk text."""
    return f"{title}\n{text}" if title else text


def _titled_chroma_class():
    from langchain_chroma import Chroma

    class TitledChroma(Chroma):
        """Chroma that embeds each chunk with its article's title in front, storing the chunk as is.

        A news chunk from the middle of an article often never names what the story is about; the
        title does. The stored text stays an exact slice of the article, for citations.
        """

        def add_documents(self, documents, **kwargs):
            ids = kwargs.get("ids") or [doc.id for doc in documents]
            vectors = self.embeddings.embed_documents(
                [titled_text(doc.metadata.get("title"), doc.page_content) for doc in documents]
            )
            self._collection.upsert(
                ids=ids,
                embeddings=vectors,
                documents=[doc.page_content for doc in documents],
                metadatas=[doc.metadata for doc in documents],
            )
            return ids

    return TitledChroma


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
        from langchain_chroma import Chroma
        from langchain_classic.indexes import SQLRecordManager

        store_class = _titled_chroma_class() if settings.embed_titles else Chroma

        self.settings = settings
        self.embeddings = build_embeddings(settings)
        self.client = chroma_client(settings)
        # Our own Embeddings object: Chroma's default function would try to download a model.
        self.vectorstore = store_class(
            client=self.client,
            collection_name=settings.collection,
            embedding_function=self.embeddings,
            collection_metadata={"hnsw:space": "cosine", "embedding": embedding_name(settings)},
        )
        store_dir = self._local_store_dir()
        store_dir.mkdir(parents=True, exist_ok=True)
        self.record_manager = SQLRecordManager(
            f"chroma/{settings.collection}", db_url=f"sqlite:///{store_dir / 'record_manager.sqlite'}"
        )
        self.record_manager.create_schema()
        self.catalog = Catalog(store_dir / "catalog.sqlite")
        self.keywords = KeywordIndex(store_dir / "bm25")
        self.chunker = Chunker.from_settings(settings)

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
        return self.vectorstore._collection

    # --- ingest -------------------------------------------------------------------------------------

    def _fingerprint(self, article: Article) -> str:
        s = self.settings
        return content_hash(article, f"{s.chunk_tokens}/{s.chunk_overlap_tokens}/titles={s.embed_titles}")

    def ingest(
        self, paths: list[Path], *, prune: bool = False, progress: ProgressCallback | None = None
    ) -> IngestReport:
        report = IngestReport()
        known = self.catalog.hashes()
        seen: set[str] = set()
        failed_files: set[str] = set()
        batch: list[Article] = []
        for item in iter_articles(paths, CorpusOptions.from_settings(self.settings)):
            if isinstance(item, LoadWarning):
                report.warnings.append(item)
                continue
            if isinstance(item, LoadFailure):
                report.failed.append(item)
                failed_files.add(str(Path(item.path).resolve()))
                _notify(progress, "article", 1)
                continue
            seen.add(item.source_key)
            if known.get(item.source_key) == self._fingerprint(item):
                report.unchanged += 1
                _notify(progress, "article", 1)
                continue
            if item.source_key in known:
                report.updated += 1
            else:
                report.added += 1
            batch.append(item)
            if len(batch) >= ARTICLES_PER_BATCH:
                self._index_articles(batch, report, progress)
                batch = []
        if batch:
            self._index_articles(batch, report, progress)
        if prune:
            self._prune(paths, seen, failed_files, report)
        if report.changed or not self.keywords.directory.exists():
            self.rebuild_keyword_index()
        return report

    def _index_articles(
        self, articles: list[Article], report: IngestReport, progress: ProgressCallback | None
    ) -> None:
        from langchain_core.indexing import index

        docs = []
        per_article: list[tuple[Article, int]] = []
        for article in articles:
            chunks = self.chunker.chunk(article)
            for doc in chunks:
                # Undated articles get 0: they pass an "until" filter and fail a "since" one.
                doc.metadata.setdefault("date_int", 0)
            docs.extend(chunks)
            per_article.append((article, len(chunks)))
        result = index(
            _counted(docs, progress),
            self.record_manager,
            self.vectorstore,
            cleanup="incremental",
            source_id_key="source_key",
            key_encoder="sha256",
            batch_size=64,
        )
        report.chunks_added += result["num_added"]
        report.chunks_deleted += result["num_deleted"]
        # The catalog is written after the chunks: an article missing here is simply redone.
        for article, count in per_article:
            self.catalog.save(article, self._fingerprint(article), count)
            _notify(progress, "article", 1)

    def _prune(self, paths: list[Path], seen: set[str], failed_files: set[str], report: IngestReport) -> None:
        gone = [
            key
            for key, path in self.catalog.keys_under(paths)
            if key not in seen and path not in failed_files  # a file that failed to load loses nothing
        ]
        for key in gone:
            chunk_ids = self.record_manager.list_keys(group_ids=[key])
            if chunk_ids:
                self.vectorstore.delete(chunk_ids)
                self.record_manager.delete_keys(chunk_ids)
            report.chunks_deleted += len(chunk_ids)
        self.catalog.delete(gone)
        report.removed += len(gone)

    def rebuild_keyword_index(self) -> None:
        ids, texts, date_ints, sources = [], [], [], []
        for chunk_id, text, meta in self.iter_chunks():
            ids.append(chunk_id)
            # The title is part of what a keyword search should match, as readers name stories by it.
            texts.append(f"{meta.get('title') or ''}\n{text}")
            date_ints.append(int(meta.get("date_int") or 0))
            sources.append(str(meta.get("source") or ""))
        self.keywords.rebuild(ids, texts, date_ints, sources)

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

    def stats(self) -> IndexStats:
        articles, _, first, last, sources = self.catalog.stats()
        return IndexStats(
            articles=articles,
            chunks=self.chunk_count(),
            first_date=first,
            last_date=last,
            sources=sources,
            location=self.location,
            embedding=embedding_name(self.settings),
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


def _notify(progress: ProgressCallback | None, event: str, amount: int) -> None:
    if progress is not None:
        progress(event, amount)


def _counted(chunks: list[Any], progress: ProgressCallback | None) -> Iterator[Any]:
    """The chunks, each reported as LangChain's index() takes it (a batch at a time, each batch
    embedded before the next is taken): a large article visibly moves while it is embedded."""
    for chunk in chunks:
        _notify(progress, "chunk", 1)
        yield chunk
