"""The article catalog (SQLite): each article's text and metadata, whether its chunks are all stored, and
the corpus version that tells derived indexes (the BM25 keyword index) when they are out of date.

An article's row is written *before* its chunks go to Chroma, marked as not yet indexed, and marked
indexed once they are all stored. So an answer never cites an article the catalog lacks, `status`
counts what is really in the index, and an ingest killed half-way leaves rows that the next ingest
recognises as unfinished and redoes.

The corpus version goes up with every committed change to the articles table (SQLite triggers, so no
write can forget it). Since every change to Chroma is preceded by such a change, an index built from
version N is current exactly while the catalog is still at N.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from qa_bot.corpus import Article
from qa_bot.sqlite_store import SQLiteStore, add_columns

_BUMP_VERSION = "UPDATE corpus_version SET version = version + 1;"


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


class Catalog(SQLiteStore):
    """Articles by source key: text and metadata for display, hashes for re-ingest, the corpus version."""

    SCHEMA = f"""
    CREATE TABLE IF NOT EXISTS articles (
        source_key TEXT PRIMARY KEY, id TEXT NOT NULL, path TEXT, title TEXT, date TEXT, source TEXT,
        url TEXT, text TEXT NOT NULL, content_hash TEXT NOT NULL, chunks INTEGER NOT NULL,
        indexed_hash TEXT);
    CREATE INDEX IF NOT EXISTS articles_id ON articles(id);
    CREATE TABLE IF NOT EXISTS corpus_version (
        one_row INTEGER PRIMARY KEY CHECK (one_row = 1), version INTEGER NOT NULL);
    INSERT OR IGNORE INTO corpus_version VALUES (1, 0);
    CREATE TRIGGER IF NOT EXISTS article_inserted AFTER INSERT ON articles BEGIN {_BUMP_VERSION} END;
    CREATE TRIGGER IF NOT EXISTS article_updated AFTER UPDATE ON articles BEGIN {_BUMP_VERSION} END;
    CREATE TRIGGER IF NOT EXISTS article_deleted AFTER DELETE ON articles BEGIN {_BUMP_VERSION} END;
    """

    def _upgrade(self, db: sqlite3.Connection) -> None:
        if add_columns(db, "articles", {"indexed_hash": "TEXT"}):
            # Before this column, a row was written only after all of its chunks were stored.
            db.execute("UPDATE articles SET indexed_hash = content_hash")

    def version(self) -> int:
        with closing(self._connect()) as db:
            return db.execute("SELECT version FROM corpus_version").fetchone()[0]

    def states(self) -> dict[str, ArticleState]:
        with closing(self._connect()) as db:
            rows = db.execute("SELECT source_key, content_hash, indexed_hash FROM articles")
            return {key: ArticleState(content, indexed) for key, content, indexed in rows}

    def begin_indexing(self, articles: Iterable[tuple[Article, str, int]]) -> None:
        """Writes (article, fingerprint, chunk count) rows whose chunks are about to be stored.

        A changed article keeps its `indexed_hash` (the old version's) until `finish_indexing`.
        """
        rows = [
            (
                article.source_key,
                article.id,
                article.path,
                article.title,
                article.date,
                article.source,
                article.url,
                article.text,
                fingerprint,
                chunks,
            )  # fmt: skip
            for article, fingerprint, chunks in articles
        ]
        with closing(self._connect()) as db, db:
            db.executemany(
                """INSERT INTO articles VALUES (?,?,?,?,?,?,?,?,?,?,NULL)
                ON CONFLICT(source_key) DO UPDATE SET id = excluded.id, path = excluded.path,
                    title = excluded.title, date = excluded.date, source = excluded.source,
                    url = excluded.url, text = excluded.text, content_hash = excluded.content_hash,
                    chunks = excluded.chunks""",
                rows,
            )

    def finish_indexing(self, source_key: str, fingerprint: str) -> None:
        """All chunks of this version of the article are stored."""
        with closing(self._connect()) as db, db:
            db.execute(
                "UPDATE articles SET indexed_hash = content_hash WHERE source_key = ? AND content_hash = ?",
                (source_key, fingerprint),
            )

    def begin_removing(self, source_keys: list[str]) -> None:
        """These articles' chunks are about to be deleted: until `delete`, they count as unfinished."""
        with closing(self._connect()) as db, db:
            db.executemany(
                "UPDATE articles SET indexed_hash = NULL WHERE source_key = ?", [(k,) for k in source_keys]
            )

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

    def stats(self) -> CatalogStats:
        with closing(self._connect()) as db:
            # One read transaction: the counts and the version describe the same moment.
            db.execute("BEGIN")
            articles, not_indexed, first, last = db.execute(
                """SELECT COUNT(*), COALESCE(SUM(indexed_hash IS NOT content_hash), 0), MIN(date), MAX(date)
                FROM articles"""
            ).fetchone()
            sources = [
                s for (s,) in db.execute("SELECT DISTINCT source FROM articles WHERE source IS NOT NULL")
            ]
            version = db.execute("SELECT version FROM corpus_version").fetchone()[0]
        return CatalogStats(articles, not_indexed, first, last, sorted(sources), version)


def _is_under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")
