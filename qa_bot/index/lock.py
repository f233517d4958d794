"""One writer per index, across processes: a file lock beside the keyword index, and with a shared
PostgreSQL database an advisory lock there too, so that processes on other machines wait as well.

An ingest holds it from start to end (a second one waits, and says so); a search that finds the
keyword index out of date rebuilds it only if it can take the lock at once. The operating system
releases the file lock, and PostgreSQL the advisory lock, when its holder dies, even by kill -9, so a
crashed ingest never blocks the next.

The database lock is taken first, then the file lock, always in that order, so two holders never wait
for each other. The file lock still matters with a shared database: it guards this machine's keyword
index folder, which the database lock does not name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from qa_bot.database.lock import DatabaseLock

# What the CLI and the chat show while an ingest waits for another one into the same index.
WAITING_FOR_INGEST = "Another ingest into this index is running: waiting for it to finish..."


class IngestLock:
    def __init__(self, path: Path, database: DatabaseLock | None = None) -> None:
        self.path = path
        self.database = database

    @contextmanager
    def hold(self, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
        """Holds the lock; when another process (or thread) has it, calls `on_wait` once and waits."""
        waited = False

        def waiting() -> None:
            nonlocal waited
            if not waited and on_wait is not None:
                on_wait()
            waited = True

        with ExitStack() as held:
            if self.database is not None:
                held.enter_context(self.database.hold(on_wait=waiting))
            lock = self._new_lock()
            if not _acquired_at_once(lock):
                waiting()
                lock.acquire()
            held.callback(lock.release)
            yield

    @contextmanager
    def try_hold(self) -> Iterator[bool]:
        """Holds the lock if it is free now; yields whether it does."""
        with ExitStack() as held:
            if self.database is not None and not held.enter_context(self.database.try_hold()):
                yield False
                return
            lock = self._new_lock()
            if not _acquired_at_once(lock):
                yield False
                return
            held.callback(lock.release)
            yield True

    def _new_lock(self) -> FileLock:
        # A lock object per holder: two holders in one process must exclude each other too.
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return FileLock(self.path)


def _acquired_at_once(lock: FileLock) -> bool:
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return False
    return True
