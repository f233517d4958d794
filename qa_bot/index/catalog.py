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

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from sqlalchemy import Connection, Engine, case, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from qa_bot.database.engine import DatabaseUnavailable
from qa_bot.database.migrations import CATALOG, MigrationContext, migrate
from qa_bot.database.tables import articles, corpus_versions
from qa_bot.ingest.articles import Article

_ARTICLE_FIELDS = ("id", "path", "title", "date", "source", "url", "text", "content_hash", "chunks")


class ArticleState(NamedTuple):
    content_hash: str  # the version of the article in the row
    indexed_hash: str | None  # the version whose chunks are all stored; None: none is complete yet

    def is_indexed(self, fingerprint: str) -> bool:
        return self.content_hash == self.indexed_hash == fingerprint


@dataclass(frozen=True)
class CatalogStats:
    articles: int
    not_indexed: int  # rows whose chunks an interrupted ingest left unfinished
    first_date: str | None
    last_date: str | None
    sources: list[str]
    version: int
    chunks: int = 0  # of the fully indexed articles: what Chroma holds when nothing is unfinished


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
        query = select(articles.c.source_key, articles.c.content_hash, articles.c.indexed_hash).where(
            self._mine
        )
        with self.engine.connect() as db:
            return {key: ArticleState(content, indexed) for key, content, indexed in db.execute(query)}

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
        with self._snapshot() as db:  # the counts and the version describe the same moment
            indexed_chunks = case((c.indexed_hash == c.content_hash, c.chunks), else_=0)
            figures = select(
                func.count(),
                func.coalesce(func.sum(unfinished), 0),
                func.min(c.date),
                func.max(c.date),
                func.coalesce(func.sum(indexed_chunks), 0),
            )
            count, not_indexed, first, last, chunks = db.execute(figures.where(self._mine)).one()
            sources = db.scalars(select(c.source).distinct().where(self._mine, c.source.is_not(None))).all()
            version = self._version(db)
        return CatalogStats(count, int(not_indexed), first, last, sorted(sources), version, int(chunks))

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

    def begin_indexing(self, rows: Iterable[tuple[Article, str, int]]) -> None:
        """Writes (article, fingerprint, chunk count) rows whose chunks are about to be stored.

        A changed article keeps its `indexed_hash` (the old version's) until `finish_indexing`.
        """
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
                "chunks": chunks,
                "indexed_hash": None,
            }
            for article, fingerprint, chunks in rows
        ]
        if not values:
            return
        upsert = self._insert(articles)
        upsert = upsert.on_conflict_do_update(
            index_elements=["collection", "source_key"],
            set_={name: upsert.excluded[name] for name in _ARTICLE_FIELDS},
        )
        with self._writing() as db:
            db.execute(upsert, values)

    def finish_indexing(self, source_key: str, fingerprint: str) -> None:
        """All chunks of this version of the article are stored."""
        c = articles.c
        with self._writing() as db:
            db.execute(
                update(articles)
                .where(self._mine, c.source_key == source_key, c.content_hash == fingerprint)
                .values(indexed_hash=c.content_hash)
            )

    def begin_removing(self, source_keys: list[str]) -> None:
        """These articles' chunks are about to be deleted: until `delete`, they count as unfinished."""
        if not source_keys:
            return
        with self._writing() as db:
            db.execute(
                update(articles)
                .where(self._mine, articles.c.source_key.in_(source_keys))
                .values(indexed_hash=None)
            )

    def delete(self, source_keys: Iterable[str]) -> None:
        keys = list(source_keys)
        if not keys:
            return
        with self._writing() as db:
            db.execute(delete(articles).where(self._mine, articles.c.source_key.in_(keys)))

    # --- transactions -------------------------------------------------------------------------------

    @property
    def _mine(self):
        return articles.c.collection == self.collection

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
