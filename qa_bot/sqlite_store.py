"""A small SQLite file with its schema: what the article catalog and the reviewers' feedback store share."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path


class SQLiteStore:
    """A SQLite file at `path` whose tables `SCHEMA` (a subclass sets it) creates if they are missing.

    Each call opens a short connection of its own (`with closing(self._connect()) as db, db:` commits or
    rolls back and closes), so no connection is shared between threads.
    """

    SCHEMA = ""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db, db:
            db.executescript(self.SCHEMA)
            self._upgrade(db)

    def _upgrade(self, db: sqlite3.Connection) -> None:
        """Brings a file written by an older qa-bot up to SCHEMA: `CREATE ... IF NOT EXISTS` adds missing
        tables, not missing columns. A subclass whose tables grew overrides this (see `add_columns`)."""

    def _connect(self) -> sqlite3.Connection:
        # Another process or thread may be writing (an ingest, a second UI session): wait for its lock.
        return sqlite3.connect(self.path, timeout=30)


def add_columns(db: sqlite3.Connection, table: str, definitions: dict[str, str]) -> list[str]:
    """Adds the columns (name -> SQL type and default) that `table` lacks; returns the names added.

    Runs in a write transaction of its own, the check included, so that two processes opening an old
    file at once add each column once.
    """
    if set(definitions) <= _columns(db, table):
        return []
    db.execute("BEGIN IMMEDIATE")
    missing = [name for name in definitions if name not in _columns(db, table)]
    for name in missing:
        db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {definitions[name]}")
    return missing


def _columns(db: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
