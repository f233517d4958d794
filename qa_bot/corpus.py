"""Articles and their loaders: .txt, .md, .html, .json and .jsonl, with metadata headers."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Article:
    id: str  # explicit `id` of a JSON record, else derived from the content (stable across runs)
    text: str  # the body only: metadata header lines are removed
    title: str | None = None
    date: str | None = None  # ISO YYYY-MM-DD
    source: str | None = None  # publisher or site, e.g. "cnn.com"
    url: str | None = None
    path: str | None = None  # the file it came from
    source_key: str = ""  # where it came from (path, or path#record): the unit of replace/prune

    @property
    def date_int(self) -> int | None:
        """YYYYMMDD as an int: Chroma range filters ($gte/$lte) work on numbers only."""
        return int(self.date.replace("-", "")) if self.date else None


@dataclass(frozen=True)
class LoadFailure:
    path: str
    reason: str


@dataclass
class LoadResult:
    articles: list[Article]
    failures: list[LoadFailure]
