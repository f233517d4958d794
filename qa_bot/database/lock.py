"""Locks that hold across machines: PostgreSQL advisory locks, one holder per name in the whole database.

A file lock (qa_bot/index/lock.py) excludes the processes of one machine. With a shared database
(`QA_BOT_DATABASE_URL` on PostgreSQL) app processes on several machines write the same catalog, so
an ingest also takes `pg_advisory_lock` on a key made from its collection's name.

The lock belongs to one database session: a connection is held open for as long as the lock is held,
and the server releases the lock when that connection ends, even when its process is killed (kill -9,
a machine that goes away), as the operating system does for the file lock. It is taken in autocommit
mode, so holding it never keeps a transaction open.

SQLite files are local to one machine, where the file lock is enough: `DatabaseLock.of` gives None.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext

from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.exc import DBAPIError


def lock_key(name: str) -> int:
    """The signed 64-bit key PostgreSQL's advisory locks take, made from a name."""
    digest = hashlib.sha256(f"qa-bot:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class DatabaseLock:
    """An advisory lock named `name` in the database behind `engine` (PostgreSQL)."""

    def __init__(self, engine: Engine, name: str) -> None:
        self.engine = engine
        self.name = name
        self.key = lock_key(name)

    @classmethod
    def of(cls, engine: Engine, name: str) -> DatabaseLock | None:
        """The lock, where the database can hold one for several machines; None for SQLite."""
        return cls(engine, name) if engine.dialect.name == "postgresql" else None

    @contextmanager
    def hold(self, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
        """Holds the lock; when another session has it, calls `on_wait` once and waits."""
        with self._session() as db:
            if not self._try(db):
                if on_wait is not None:
                    on_wait()
                db.execute(select(func.pg_advisory_lock(self.key)))
            try:
                yield
            finally:
                self._release(db)

    @contextmanager
    def try_hold(self) -> Iterator[bool]:
        """Holds the lock if it is free now; yields whether it does."""
        with self._session() as db:
            if not self._try(db):
                yield False
                return
            try:
                yield True
            finally:
                self._release(db)

    def _session(self) -> AbstractContextManager[Connection]:
        return self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")

    def _try(self, db: Connection) -> bool:
        return bool(db.execute(select(func.pg_try_advisory_lock(self.key))).scalar())

    def _release(self, db: Connection) -> None:
        try:
            db.execute(select(func.pg_advisory_unlock(self.key)))
        except DBAPIError:
            # The connection broke (and the lock went with its session): never pool a connection that
            # might still hold it.
            db.invalidate()


def creating_schema(engine: Engine) -> AbstractContextManager:
    """Held while a store creates its tables: two processes starting at once on an empty PostgreSQL
    database would otherwise both see a table missing and both create it (one fails). SQLite files
    create theirs in a write transaction of their own."""
    lock = DatabaseLock.of(engine, "schema")
    return lock.hold() if lock is not None else nullcontext()
