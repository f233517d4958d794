"""One writer per index, across processes: a file lock beside the catalog.

An ingest holds it from start to end (a second one waits, and says so); a search that finds the
keyword index out of date rebuilds it only if it can take the lock at once. The operating system
releases the lock when its holder dies, even by kill -9, so a crashed ingest never blocks the next.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

# What the CLI and the chat show while an ingest waits for another one into the same index.
WAITING_FOR_INGEST = "Another ingest into this index is running: waiting for it to finish..."


class IngestLock:
    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def hold(self, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
        """Holds the lock; when another process (or thread) has it, calls `on_wait` once and waits."""
        lock = self._new_lock()
        if not _acquired_at_once(lock):
            if on_wait is not None:
                on_wait()
            lock.acquire()
        try:
            yield
        finally:
            lock.release()

    @contextmanager
    def try_hold(self) -> Iterator[bool]:
        """Holds the lock if it is free now; yields whether it does."""
        lock = self._new_lock()
        if not _acquired_at_once(lock):
            yield False
            return
        try:
            yield True
        finally:
            lock.release()

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
