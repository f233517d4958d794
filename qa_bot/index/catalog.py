"""The article catalog: each article's text and metadata, whether its chunks are all stored, and the
corpus version that tells derived indexes (the BM25 keyword index) when they are out of date.

An article's row is written *before* its chunks go to Chroma, marked as not yet indexed, and marked
indexed once they are all stored. So an answer never cites an article the catalog lacks, `status`
counts what is really in the index, and an ingest killed half-way leaves rows that the next ingest
recognises as unfinished and redoes.

The corpus version goes up in the same transaction as every write to an article row, so it moves
exactly when the articles do, as their changes commit. Since every change to Chroma is preceded by
such a change, an index built from version N is current exactly while the catalog is still at N.
(On PostgreSQL the `UPDATE ... SET version = version + 1` also row-locks the collection's version
until the write commits, so concurrent writers take turns.)

One database (SQLAlchemy Core, SQLite or PostgreSQL, qa_bot/database/engine.py) may hold the catalogs of
several Chroma collections: rows are keyed by collection, and each collection has its own version.
Without `QA_BOT_DATABASE_URL` it is the SQLite file `catalog.sqlite` beside the keyword index; a file
written by an older qa-bot (one `articles` table, versions kept by triggers, perhaps no
`indexed_hash`) is moved to these tables when it is first opened, keeping its version. The tables are
defined in qa_bot/database/tables.py and created and upgraded by qa_bot/database/migrations.py.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from sqlalchemy import Connection, Engine, case, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from qa_bot.database.engine import DatabaseUnavailable
from qa_bot.database.migrations import CATALOG, MigrationContext, migrate
from qa_bot.database.tables import articles, chunks_table, corpus_versions
from qa_bot.index.keyword_index import KeywordRows
from qa_bot.ingest.articles import Article

# Ids per IN (...) list: SQLite allows 32,766 bound parameters, PostgreSQL 65,535.
_IN_BATCH = 500

_ARTICLE_FIELDS = ("id", "path", "title", "date", "source", "url", "text", "content_hash", "chunks")


class ArticleState(NamedTuple):
    content_hash: str  # the version of the article in the row
    indexed_hash: str | None  # the version whose chunks are in the catalog; None: none yet
    embedded_hash: str | None = None  # the version whose vectors are all in Chroma; None: none yet

    def is_indexed(self, fingerprint: str) -> bool:
        """Its chunks of this version are in the catalog (keyword-searchable; vectors may follow)."""
        return self.content_hash == self.indexed_hash == fingerprint


class ChunkRow(NamedTuple):
    """Where one chunk of an article is: its text is the article's text[start:end]."""

    chunk_id: str
    chunk_index: int
    start: int
    end: int


@dataclass(frozen=True)
class Pending:
    """An article whose chunks are searchable by keyword and not yet all by meaning."""

    source_key: str
    fingerprint: str
    chunks: int


@dataclass(frozen=True)
class CatalogStats:
    articles: int
    not_indexed: int  # rows whose chunks are not in the catalog (an older qa-bot's, or being removed)
    first_date: str | None
    last_date: str | None
    sources: list[str]
    version: int
    chunks: int = 0  # of the indexed articles: what the keyword index holds
    embedded: int = 0  # articles whose vectors are all in Chroma (searchable by meaning)
    embedded_chunks: int = 0  # their chunks: what Chroma holds when no embedding is under way
    # Chunks embedded per second lately (the last EMBEDDING_RATE_WINDOW_S), None: too few to tell.
    embedding_rate: float | None = None

    not_embedded: int = 0  # indexed articles whose vectors are not all in Chroma yet

    @property
    def chunks_to_embed(self) -> int:
        return max(self.chunks - self.embedded_chunks, 0)


# The embedding rate behind `qa-bot status`'s ETA: over the articles embedded in the last 10 minutes.
EMBEDDING_RATE_WINDOW_S = 600.0


class Catalog:
    """One collection's articles by source key: text and metadata for display, hashes for re-ingest,
    and the corpus version.

    Each call takes a connection from the engine's pool for one transaction and gives it back, so
    threads (UI sessions) and processes never share a transaction.
    """

    def __init__(self, engine: Engine, collection: str) -> None:
        self.engine = engine
        self.collection = collection
        self._insert = _dialect_insert(engine)
        migrate(engine, [CATALOG], MigrationContext(collection=collection))
        with engine.begin() as db:
            db.execute(
                self._insert(corpus_versions)
                .values(collection=collection, version=0)
                .on_conflict_do_nothing(index_elements=["collection"])
            )

    # --- reading ------------------------------------------------------------------------------------

    def version(self) -> int:
        with self.engine.connect() as db:
            return self._version(db)

    def states(self) -> dict[str, ArticleState]:
        c = articles.c
        query = select(c.source_key, c.content_hash, c.indexed_hash, c.embedded_hash).where(self._mine)
        with self.engine.connect() as db:
            return {key: ArticleState(*hashes) for key, *hashes in db.execute(query)}

    def keys_under(self, paths: Iterable[Path]) -> list[tuple[str, str]]:
        """(source key, file) of the articles that were last loaded from these files or folders."""
        roots = [str(Path(p).resolve()) for p in paths]
        with self.engine.connect() as db:
            rows = db.execute(select(articles.c.source_key, articles.c.path).where(self._mine)).all()
        return [(key, path) for key, path in rows if path and any(_is_under(path, root) for root in roots)]

    def get(self, article_id: str) -> Article | None:
        c = articles.c
        query = (
            select(c.id, c.text, c.title, c.date, c.source, c.url, c.path, c.source_key)
            .where(self._mine, c.id == article_id)
            .limit(1)
        )
        with self.engine.connect() as db:
            row = db.execute(query).first()
        return Article(*row) if row else None

    def stats(self) -> CatalogStats:
        c = articles.c
        unfinished = case((c.indexed_hash.is_distinct_from(c.content_hash), 1), else_=0)
        embedded = case((c.embedded_hash == c.content_hash, 1), else_=0)
        pending = case(
            ((c.indexed_hash == c.content_hash) & c.embedded_hash.is_distinct_from(c.content_hash), 1),
            else_=0,
        )
        with self._snapshot() as db:  # the counts and the version describe the same moment
            indexed_chunks = case((c.indexed_hash == c.content_hash, c.chunks), else_=0)
            embedded_chunks = case((c.embedded_hash == c.content_hash, c.chunks), else_=0)
            figures = select(
                func.count(),
                func.coalesce(func.sum(unfinished), 0),
                func.min(c.date),
                func.max(c.date),
                func.coalesce(func.sum(indexed_chunks), 0),
                func.coalesce(func.sum(embedded), 0),
                func.coalesce(func.sum(embedded_chunks), 0),
                func.coalesce(func.sum(pending), 0),
            )
            count, not_indexed, first, last, chunks, done, done_chunks, behind = db.execute(
                figures.where(self._mine)
            ).one()
            sources = db.scalars(select(c.source).distinct().where(self._mine, c.source.is_not(None))).all()
            version = self._version(db)
            rate = self._embedding_rate(db) if behind else None
        return CatalogStats(
            count,
            int(not_indexed),
            first,
            last,
            sorted(sources),
            version,
            int(chunks),
            int(done),
            int(done_chunks),
            rate,
            int(behind),
        )

    def _embedding_rate(self, db: Connection) -> float | None:
        """Chunks per second over the articles embedded lately (one embedded alone tells nothing)."""
        c = articles.c
        recent = select(func.count(), func.sum(c.chunks), func.min(c.embedded_at), func.max(c.embedded_at))
        since = time.time() - EMBEDDING_RATE_WINDOW_S
        count, chunks, first, last = db.execute(recent.where(self._mine, c.embedded_at >= since)).one()
        if not count or count < 2 or not last or last <= first:
            return None
        return float(chunks) / (last - first)

    def chunk_count(self) -> int:
        """Chunks of the indexed articles: the rows `keyword_rows` gives."""
        with self.engine.connect() as db:
            query = select(func.count()).select_from(self._indexed_chunks()).where(self._indexed)
            return int(db.scalar(query) or 0)

    def keyword_rows(self) -> KeywordRows:
        """Every chunk of the indexed articles, as the keyword index reads it: title and text (readers
        name stories by their titles), date and source; in article and chunk order."""
        c, k = articles.c, chunks_table.c
        text = func.substr(c.text, k.start_char + 1, k.end_char - k.start_char)
        query = (
            select(k.chunk_id, c.title, text, c.date, c.source)
            .select_from(self._indexed_chunks())
            .where(self._indexed)
            .order_by(k.source_key, k.chunk_index)
        )
        rows = KeywordRows([], [], [], [])
        with self.engine.connect() as db:
            for chunk_id, title, chunk_text, day, source in db.execute(query):
                rows.ids.append(chunk_id)
                rows.texts.append(f"{title or ''}\n{chunk_text}")
                rows.date_ints.append(int(day.replace("-", "")) if day else 0)
                rows.sources.append(source or "")
        return rows

    def chunks(self, chunk_ids: Iterable[str]) -> dict[str, tuple[Article, ChunkRow]]:
        """These chunks (those of indexed articles), each with its article, the text left out: the
        article's text is sliced by `ChunkRow`'s offsets in SQL. Keyed by chunk id."""
        ids = list(chunk_ids)
        if not ids:
            return {}
        c, k = articles.c, chunks_table.c
        text = func.substr(c.text, k.start_char + 1, k.end_char - k.start_char)
        query = (
            select(
                k.chunk_id,
                k.chunk_index,
                k.start_char,
                k.end_char,
                text,
                c.id,
                c.title,
                c.date,
                c.source,
                c.url,
                c.path,
                c.source_key,
            )
            .select_from(self._indexed_chunks())
            .where(self._indexed)
        )
        found = {}
        with self.engine.connect() as db:
            for start in range(0, len(ids), _IN_BATCH):
                rows = db.execute(query.where(k.chunk_id.in_(ids[start : start + _IN_BATCH])))
                for chunk_id, index, begin, end, chunk_text, *meta in rows:
                    article_id, title, day, source, url, path, key = meta
                    article = Article(article_id, chunk_text, title, day, source, url, path, key)
                    found[chunk_id] = (article, ChunkRow(chunk_id, index, begin, end))
        return found

    def chunk_ids(self, source_keys: Iterable[str]) -> dict[str, list[str]]:
        """The chunk ids the catalog lists for each of these articles (any version), in chunk order."""
        keys = list(source_keys)
        found: dict[str, list[str]] = {key: [] for key in keys}
        k = chunks_table.c
        query = select(k.source_key, k.chunk_id).order_by(k.source_key, k.chunk_index)
        with self.engine.connect() as db:
            for start in range(0, len(keys), _IN_BATCH):
                batch = keys[start : start + _IN_BATCH]
                for key, chunk_id in db.execute(query.where(self._my_chunks, k.source_key.in_(batch))):
                    found[key].append(chunk_id)
        return found

    def pending_embedding(self) -> list[Pending]:
        """The indexed articles whose vectors are not all in Chroma: newest first (undated last), as
        questions about the news are most often about the latest."""
        c = articles.c
        query = (
            select(c.source_key, c.content_hash, c.chunks)
            .where(
                self._mine,
                c.indexed_hash == c.content_hash,
                c.embedded_hash.is_distinct_from(c.content_hash),
            )
            .order_by(c.date.desc().nulls_last(), c.source_key)
        )
        with self.engine.connect() as db:
            return [Pending(*row) for row in db.execute(query)]

    def articles_for_embedding(self, source_keys: Iterable[str]) -> dict[str, tuple[Article, list[ChunkRow]]]:
        """These articles (the text included) with their chunk rows, in chunk order, by source key."""
        keys = list(source_keys)
        c, k = articles.c, chunks_table.c
        found: dict[str, tuple[Article, list[ChunkRow]]] = {}
        with self.engine.connect() as db:
            for start in range(0, len(keys), _IN_BATCH):
                batch = keys[start : start + _IN_BATCH]
                query = select(c.id, c.text, c.title, c.date, c.source, c.url, c.path, c.source_key).where(
                    self._mine, c.source_key.in_(batch)
                )
                for row in db.execute(query):
                    found[row.source_key] = (Article(*row), [])
                chunk_query = (
                    select(k.source_key, k.chunk_id, k.chunk_index, k.start_char, k.end_char)
                    .where(self._my_chunks, k.source_key.in_(batch))
                    .order_by(k.source_key, k.chunk_index)
                )
                for key, *chunk in db.execute(chunk_query):
                    if key in found:
                        found[key][1].append(ChunkRow(*chunk))
        return found

    def newest_titles(self) -> Iterator[str]:
        """The titles of the indexed articles, newest first (undated ones last), as stored."""
        c = articles.c
        query = (
            select(c.title)
            .where(self._mine, c.title.is_not(None), c.indexed_hash == c.content_hash)
            .order_by(c.date.desc().nulls_last(), c.title)
        )
        with self.engine.connect() as db:
            yield from db.scalars(query)

    # --- writing: each in one transaction with the version's bump ------------------------------------

    def write_articles(self, rows: Iterable[tuple[Article, str, list[ChunkRow]]]) -> None:
        """Writes (article, fingerprint, chunks) rows, indexed at once: keyword-searchable from the next
        keyword build. The article's vectors stay marked as of the version they were made from (still
        valid when the fingerprint is unchanged: an older qa-bot's row, given its chunk rows)."""
        rows = list(rows)
        if not rows:
            return
        values = [
            {
                "collection": self.collection,
                "source_key": article.source_key,
                "id": article.id,
                "path": article.path,
                "title": article.title,
                "date": article.date,
                "source": article.source,
                "url": article.url,
                "text": article.text,
                "content_hash": fingerprint,
                "chunks": len(chunks),
                "indexed_hash": fingerprint,
                "embedded_hash": None,
                "embedded_at": None,
            }
            for article, fingerprint, chunks in rows
        ]
        chunk_values = [
            {
                "collection": self.collection,
                "chunk_id": chunk.chunk_id,
                "source_key": article.source_key,
                "chunk_index": chunk.chunk_index,
                "start_char": chunk.start,
                "end_char": chunk.end,
            }
            for article, _fingerprint, chunks in rows
            for chunk in chunks
        ]
        upsert = self._insert(articles)
        same_version = articles.c.content_hash == upsert.excluded.content_hash
        upsert = upsert.on_conflict_do_update(
            index_elements=["collection", "source_key"],
            set_={
                **{name: upsert.excluded[name] for name in (*_ARTICLE_FIELDS, "indexed_hash")},
                "embedded_hash": case((same_version, articles.c.embedded_hash), else_=None),
                "embedded_at": case((same_version, articles.c.embedded_at), else_=None),
            },
        )
        keys = [article.source_key for article, _fingerprint, _chunks in rows]
        with self._writing() as db:
            db.execute(upsert, values)
            db.execute(delete(chunks_table).where(self._my_chunks, chunks_table.c.source_key.in_(keys)))
            if chunk_values:
                # Two articles with the same text and metadata cannot share a chunk id: the source
                # key is part of what an id hashes. Replacing keeps a retried write harmless.
                db.execute(self._insert(chunks_table).on_conflict_do_nothing(), chunk_values)

    def forget_vectors(self, source_keys: Iterable[str]) -> None:
        """These articles' vectors are about to change (their chunks are replaced): not embedded."""
        self._set_embedded(list(source_keys), None)

    def mark_embedded(self, done: Iterable[tuple[str, str]]) -> None:
        """(source key, fingerprint): all vectors of this version of the article are in Chroma.

        The corpus version does not move: the keyword index is derived from the chunks, not from
        their vectors, and stays current while an ingest embeds behind it."""
        by_version: dict[str, list[str]] = {}
        for key, fingerprint in done:
            by_version.setdefault(fingerprint, []).append(key)
        c = articles.c
        now = time.time()
        with self.engine.begin() as db:
            for fingerprint, keys in by_version.items():
                db.execute(
                    update(articles)
                    .where(self._mine, c.source_key.in_(keys), c.content_hash == fingerprint)
                    .values(embedded_hash=c.content_hash, embedded_at=now)
                )

    def _set_embedded(self, keys: list[str], value: str | None) -> None:
        if not keys:
            return
        with self.engine.begin() as db:
            db.execute(
                update(articles)
                .where(self._mine, articles.c.source_key.in_(keys))
                .values(embedded_hash=value, embedded_at=None)
            )

    def begin_removing(self, source_keys: list[str]) -> None:
        """These articles' chunks are about to be deleted: until `delete`, they count as unfinished."""
        if not source_keys:
            return
        with self._writing() as db:
            db.execute(
                update(articles)
                .where(self._mine, articles.c.source_key.in_(source_keys))
                .values(indexed_hash=None, embedded_hash=None, embedded_at=None)
            )

    def delete(self, source_keys: Iterable[str]) -> None:
        keys = list(source_keys)
        if not keys:
            return
        with self._writing() as db:
            db.execute(delete(chunks_table).where(self._my_chunks, chunks_table.c.source_key.in_(keys)))
            db.execute(delete(articles).where(self._mine, articles.c.source_key.in_(keys)))

    # --- transactions -------------------------------------------------------------------------------

    @property
    def _mine(self):
        return articles.c.collection == self.collection

    @property
    def _my_chunks(self):
        return chunks_table.c.collection == self.collection

    def _indexed_chunks(self):
        """The chunk rows joined with their article (add `self._indexed` to keep this version's)."""
        c, k = articles.c, chunks_table.c
        return chunks_table.join(articles, (k.collection == c.collection) & (k.source_key == c.source_key))

    @property
    def _indexed(self):
        return self._my_chunks & (articles.c.indexed_hash == articles.c.content_hash)

    def _version(self, db: Connection) -> int:
        mine = corpus_versions.c.collection == self.collection
        return int(db.scalar(select(corpus_versions.c.version).where(mine)) or 0)

    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        """A write transaction that starts by moving the collection's version on, and commits both."""
        with self.engine.begin() as db:
            db.execute(
                update(corpus_versions)
                .where(corpus_versions.c.collection == self.collection)
                .values(version=corpus_versions.c.version + 1)
            )
            yield db

    @contextmanager
    def _snapshot(self) -> Iterator[Connection]:
        """A read transaction whose statements all see the same committed state."""
        if self.engine.dialect.name == "postgresql":
            with self.engine.connect().execution_options(isolation_level="REPEATABLE READ") as db, db.begin():
                yield db
        else:
            with self.engine.connect() as db:
                db.exec_driver_sql("BEGIN")  # pysqlite opens no transaction for a SELECT by itself
                try:
                    yield db
                finally:
                    db.rollback()


def _dialect_insert(engine: Engine):
    """INSERT with ON CONFLICT, as the database spells it."""
    if engine.dialect.name == "postgresql":
        return postgresql.insert
    if engine.dialect.name == "sqlite":
        return sqlite.insert
    raise DatabaseUnavailable(
        f"The article catalog needs PostgreSQL or SQLite, not {engine.dialect.name} (QA_BOT_DATABASE_URL)."
    )


def _is_under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")
