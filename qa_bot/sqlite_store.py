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

    def _connect(self) -> sqlite3.Connection:
        # Another process or thread may be writing (an ingest, a second UI session): wait for its lock.
        return sqlite3.connect(self.path, timeout=30)
