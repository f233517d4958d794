"""The BM25 keyword index (bm25s) over every chunk, saved beside the catalog, stamped with the corpus
version it was built from.

It is derived data: rebuilt from the chunks in the catalog (written before any is embedded, so an
archive is searchable by keyword while its vectors are still being written) whenever the catalog's
corpus version (or the number of chunks) differs from its stamp, at the end of every ingest's
keyword pass and on the first search after a change. So an ingest killed before the rebuild, or a
build from an older qa-bot, is repaired by the next search or ingest instead of missing articles for
ever.

On disk, `bm25` is a symbolic link to the current build, a sibling folder `bm25.build-<unique>`. A
rebuild writes a new build folder of its own (two processes never share one), then replaces the link
in one rename: a reader sees the old index or the new one, never half of one, and a crash at any point
leaves the current index intact. Builds happen only under the ingest lock, so the builder may delete
every other build and any leftover (`bm25.old`, `bm25.tmp` of older versions, folders of killed builds).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

STAMP_FILE = "built_from.json"
ROWS_FILE = "rows.json"


@dataclass(frozen=True)
class BuildStamp:
    """What a keyword index was built from."""

    corpus_version: int
    chunks: int


@dataclass
class KeywordRows:
    """One row per chunk: its Chroma id, the text BM25 matches, and the filter fields."""

    ids: list[str]
    texts: list[str]
    date_ints: list[int]
    sources: list[str]


class KeywordSource(Protocol):
    """What the keyword index is derived from (the Index: the catalog's chunks and the ingest lock)."""

    def corpus_version(self) -> int: ...

    def searchable_chunks(self) -> int: ...

    def keyword_rows(self) -> KeywordRows: ...

    def try_ingest_lock(self) -> AbstractContextManager[bool]: ...


@dataclass(frozen=True)
class _Loaded:
    stamp: BuildStamp | None
    retriever: Any  # bm25s.BM25, or None for an empty corpus
    ids: list[str]
    date_ints: np.ndarray
    sources: np.ndarray  # as stored (str)
    # The source filter ignores case; comparing small integer codes is ~10x faster than strings.
    source_names: np.ndarray  # the distinct sources, lower case, sorted
    source_codes: np.ndarray  # per row, its source's position in source_names
    rows: dict[str, int]  # chunk id -> row, for filtering the dense search's neighbours


@dataclass(frozen=True)
class FilterMask:
    """Which chunks pass a date and source filter, computed from the keyword index's rows in memory.

    Chroma's own `where` scans the whole collection for every question (hundreds of ms at tens of
    thousands of chunks); this is a few numpy comparisons. The dense search uses it to filter its
    neighbours and BM25 to mask its scores, so both see the same build of the rows.
    """

    loaded: _Loaded
    allowed: np.ndarray  # bool per row
    current: bool  # built from the corpus as it is now (False while an ingest runs)

    @property
    def rows(self) -> int:
        return len(self.allowed)

    def count(self) -> int:
        return int(self.allowed.sum())

    def passes(self, chunk_id: str) -> bool | None:
        """Whether a chunk passes; None for a chunk this build has not seen (ingested since)."""
        row = self.loaded.rows.get(chunk_id)
        return None if row is None else bool(self.allowed[row])

    def allowed_ids(self) -> list[str]:
        return [self.loaded.ids[i] for i in np.flatnonzero(self.allowed)]

    def stored_spellings(self, sources: list[str]) -> list[str]:
        """The sources as stored that the (case-blind) filter matches: what a Chroma `where` needs."""
        wanted = {s.lower() for s in sources}
        return sorted({str(s) for s in set(self.loaded.sources.tolist()) if s.lower() in wanted})


class KeywordIndex:
    def __init__(self, directory: Path, source: KeywordSource) -> None:
        self.directory = directory
        self.source = source
        self._lock = threading.Lock()
        self._loaded: _Loaded | None = None
        self._stemmer = _stemmer()

    # --- consistency --------------------------------------------------------------------------------

    def stamp(self) -> BuildStamp | None:
        """What the saved index was built from; None when there is none, or it predates stamps."""
        return _read_stamp(self.directory)

    def is_current(self, corpus_version: int, chunks: int) -> bool:
        return self.stamp() == BuildStamp(corpus_version, chunks)

    def refresh(self) -> bool:
        """Rebuilds unless current; the caller holds the ingest lock. Returns whether it rebuilt."""
        if self.is_current(self.source.corpus_version(), self.source.searchable_chunks()):
            return False
        self.rebuild()
        return True

    def rebuild(self) -> None:
        """Builds from every chunk into a folder of its own, then swaps it in. Hold the ingest lock."""
        version = self.source.corpus_version()  # read first: the rows can only be as new as this
        rows = self.source.keyword_rows()
        build = self._write_build(rows, BuildStamp(version, len(rows.ids)))
        self._point_at(build)
        self._remove_leftovers(keep=build)
        self._loaded = None  # this process's searches load the new build

    # --- building -----------------------------------------------------------------------------------

    def _write_build(self, rows: KeywordRows, stamp: BuildStamp) -> Path:
        import bm25s

        self.directory.parent.mkdir(parents=True, exist_ok=True)
        build = Path(tempfile.mkdtemp(prefix=f"{self.directory.name}.build-", dir=self.directory.parent))
        if rows.texts:
            retriever = bm25s.BM25()
            retriever.index(self.tokenize(rows.texts), show_progress=False)
            retriever.save(str(build), show_progress=False)
        (build / ROWS_FILE).write_text(
            json.dumps({"ids": rows.ids, "date_int": rows.date_ints, "source": rows.sources})
        )
        # The stamp is written last: a build folder without one is never trusted.
        (build / STAMP_FILE).write_text(json.dumps(stamp.__dict__))
        return build

    def _point_at(self, build: Path) -> None:
        """Makes `directory` the new build in one rename (a relative link, so the data dir can move)."""
        link = build.with_name(build.name + ".link")
        link.symlink_to(build.name)
        if self.directory.is_dir() and not self.directory.is_symlink():
            # A plain folder, from before builds were stamped: it cannot be swapped atomically, once.
            self.directory.rename(build.with_name(build.name + ".replaced"))
        os.replace(link, self.directory)

    def _remove_leftovers(self, keep: Path) -> None:
        for path in self._siblings():
            if path != keep:
                _remove(path)

    def _siblings(self) -> Iterator[Path]:
        yield from self.directory.parent.glob(f"{self.directory.name}.*")

    # --- searching ----------------------------------------------------------------------------------

    def tokenize(self, texts: list[str]):
        import bm25s

        return bm25s.tokenize(texts, stopwords="en", stemmer=self._stemmer, show_progress=False)

    def words(self, texts: list[str]) -> list[list[str]]:
        """Each text's stemmed, stop-word-free words, in order, as BM25 reads them."""
        import bm25s

        return bm25s.tokenize(
            texts, stopwords="en", stemmer=self._stemmer, return_ids=False, show_progress=False
        )

    def terms(self, text: str) -> set[str]:
        """The stemmed, stop-word-free terms BM25 matches on."""
        return set(self.words([text])[0])

    def terms_of_each(self, texts: list[str]) -> list[set[str]]:
        """`terms` of many texts in one tokenizer call (one call per text costs ~0.3 ms of overhead)."""
        return [set(words) for words in self.words(texts)] if texts else []

    def search(
        self, query: str, k: int, *, since: int | None, until: int | None, sources: list[str] | None
    ) -> list[tuple[str, float]]:
        """Top-k (chunk id, BM25 score), the filters applied before ranking."""
        mask = self.mask(since=since, until=until, sources=sources)
        return self.search_masked(query, k, mask) if mask is not None else []

    def mask(self, *, since: int | None, until: int | None, sources: list[str] | None) -> FilterMask | None:
        """The chunks that pass the filters; None when there is no keyword index (no chunks yet)."""
        loaded = self._current()
        if loaded is None:
            return None
        allowed = np.ones(len(loaded.ids), dtype=bool)
        if since is not None:
            allowed &= loaded.date_ints >= since
        if until is not None:
            allowed &= loaded.date_ints <= until
        if sources:
            wanted = np.flatnonzero(np.isin(loaded.source_names, [s.lower() for s in sources]))
            allowed &= np.isin(loaded.source_codes, wanted)
        current = loaded.stamp is not None and loaded.stamp.corpus_version == self.source.corpus_version()
        return FilterMask(loaded, allowed, current)

    def search_masked(self, query: str, k: int, mask: FilterMask) -> list[tuple[str, float]]:
        """Top-k (chunk id, BM25 score) among the chunks the mask allows."""
        loaded = mask.loaded
        if loaded.retriever is None or not mask.allowed.any():
            return []
        words = self.words([query])[0]
        if not words:
            return []
        scores = loaded.retriever.get_scores(words, weight_mask=mask.allowed.astype(np.float32))
        return [(loaded.ids[row], float(scores[row])) for row in top_scoring(scores, k)]

    def _current(self) -> _Loaded | None:
        """The index for the corpus as it is now: kept in memory, reloaded when another process rebuilt
        it, rebuilt here when it is out of date and no ingest is running (a running one rebuilds when it
        ends; until then the last build serves)."""
        version = self.source.corpus_version()
        with self._lock:
            loaded = self._loaded
            if loaded is not None and loaded.stamp is not None and loaded.stamp.corpus_version == version:
                return loaded
            if not self.is_current(version, self.source.searchable_chunks()):
                self._rebuild_unless_an_ingest_runs()
            # A local: an ingest in another thread may reset self._loaded at any moment.
            loaded = self._loaded
            if loaded is None or self.stamp() != loaded.stamp:
                loaded = self._loaded = self._load()
            return loaded

    def _rebuild_unless_an_ingest_runs(self) -> None:
        with self.source.try_ingest_lock() as locked:
            if locked:
                self.refresh()  # again under the lock: another process may have rebuilt meanwhile

    def _load(self) -> _Loaded | None:
        # Resolve the link once, so the stamp and the rows come from the same build; a build removed by
        # a newer one between resolving and reading is simply resolved again.
        for _attempt in range(3):
            build = self.directory.resolve()
            try:
                return _load_build(build)
            except FileNotFoundError:
                if not self.directory.exists():
                    return None
        return _load_build(self.directory.resolve())


def top_scoring(scores: np.ndarray, k: int) -> list[int]:
    """The rows of the k highest positive scores, best first (ties: lower row first).

    Only the few chunks that hold a question word score above 0, so ranking just those is much
    cheaper than bm25s's partition of every chunk's score (8 ms at 258k chunks).
    """
    rows = np.flatnonzero(scores > 0)
    if len(rows) > k:
        kth_best = -np.partition(-scores[rows], k - 1)[k - 1]
        rows = rows[scores[rows] >= kth_best]  # every row tied with the k-th, so ties break by row
    return [int(row) for row in sorted(rows, key=lambda row: (-scores[row], row))][:k]


def _load_build(build: Path) -> _Loaded:
    import bm25s

    rows = json.loads((build / ROWS_FILE).read_text())
    retriever = bm25s.BM25.load(str(build), show_progress=False) if rows["ids"] else None
    sources = np.array(rows["source"], dtype=str)
    source_names, source_codes = np.unique(np.char.lower(sources), return_inverse=True)
    return _Loaded(
        _read_stamp(build),
        retriever,
        rows["ids"],
        np.array(rows["date_int"], dtype=np.int64),
        sources,
        source_names,
        source_codes,
        {chunk_id: row for row, chunk_id in enumerate(rows["ids"])},
    )


def _read_stamp(build: Path) -> BuildStamp | None:
    try:
        return BuildStamp(**json.loads((build / STAMP_FILE).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    else:
        shutil.rmtree(path, ignore_errors=True)


def _stemmer():
    try:
        import Stemmer  # PyStemmer: a C Snowball stemmer; bm25s calls it per word

        return Stemmer.Stemmer("english")
    except ImportError:  # pragma: no cover - a hard dependency, but BM25 still works without stemming
        return None
