"""How big one file may be, by its type: checked before a file is read, and shown where files are
uploaded (ui/ingest.py), so the chat's uploader and the loader refuse the same files.

One article's text may be at most QA_BOT_MAX_ARTICLE_MB (`CorpusOptions.max_article_bytes`,
1 MB by default: on 2 cores a megabyte of text is ~2,100 chunks and ~2 minutes of embedding).

- .txt, .md, .markdown: the file is the article, so it may be as big as that limit (1 MB).
- .html, .htm, .pdf, .docx: CONTAINER_ALLOWANCE (10) times the limit (10 MB), for their markup,
  fonts and images; the text taken out of them must still be within the limit.
- .json, .jsonl hold many articles: no limit on the file, each record is checked on its own.
  The chat's uploader still takes at most the largest limit above (`largest_file_limit`) per
  file; a bigger archive is for `qa-bot ingest`.
"""

from __future__ import annotations

import math
from pathlib import Path

from qa_bot.ingest.document_text import megabytes, too_large

DEFAULT_MAX_ARTICLE_BYTES = 1_000_000  # QA_BOT_MAX_ARTICLE_MB's default, in bytes
TEXT_SUFFIXES = frozenset({".txt", ".md", ".markdown"})
# Files whose markup, fonts or images make them much bigger than their text: allowed this many
# times the limit on one article's text before they are refused unread.
CONTAINER_SUFFIXES = frozenset({".html", ".htm", ".pdf", ".docx"})
CONTAINER_ALLOWANCE = 10
# Files holding many articles: the size limit applies to each record, not to the file.
MANY_ARTICLE_SUFFIXES = frozenset({".json", ".jsonl"})


def file_limit(suffix: str, max_article_bytes: int = DEFAULT_MAX_ARTICLE_BYTES) -> int | None:
    """The most bytes a file of this type may have; None for .json/.jsonl (checked per record)."""
    suffix = suffix.lower()
    if suffix in MANY_ARTICLE_SUFFIXES:
        return None
    return max_article_bytes * (CONTAINER_ALLOWANCE if suffix in CONTAINER_SUFFIXES else 1)


def largest_file_limit(max_article_bytes: int = DEFAULT_MAX_ARTICLE_BYTES) -> int:
    """The biggest file any type may be (an HTML, PDF or Word file's): the uploader's ceiling."""
    return max_article_bytes * CONTAINER_ALLOWANCE


def largest_file_megabytes(max_article_bytes: int = DEFAULT_MAX_ARTICLE_BYTES) -> int:
    """`largest_file_limit` in whole megabytes, rounded up: Streamlit's server.maxUploadSize (and
    the uploader's max_upload_size) take an integer number of MB."""
    return max(1, math.ceil(largest_file_limit(max_article_bytes) / 1_000_000))


def limits_text(max_article_bytes: int = DEFAULT_MAX_ARTICLE_BYTES) -> str:
    """The limits as a person reads them: "Up to 1 MB per .txt/.md article, 10 MB per .html/.pdf/.docx"."""
    text = megabytes(file_limit(".txt", max_article_bytes))
    container = megabytes(file_limit(".html", max_article_bytes))
    return f"Up to {text} per .txt/.md article, {container} per .html/.pdf/.docx"


def file_size_problem(
    name: str | Path, size: int, max_article_bytes: int = DEFAULT_MAX_ARTICLE_BYTES
) -> str | None:
    """Why a file of this name and size would not be read, checked before reading it; else None."""
    suffix = Path(name).suffix.lower()
    limit = file_limit(suffix, max_article_bytes)
    if limit is None or size <= limit:
        return None
    if suffix not in CONTAINER_SUFFIXES:
        return too_large(f"file is {megabytes(size)}", max_article_bytes)
    return (
        f"file is {megabytes(size)}, over the {megabytes(limit)} limit for a {suffix} "
        f"file ({CONTAINER_ALLOWANCE} times QA_BOT_MAX_ARTICLE_MB, for markup and images); split it, or "
        "raise the limit"
    )
