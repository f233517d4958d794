"""Articles and their loaders: .txt, .md, .html, .json, .jsonl, .pdf and .docx, with metadata headers.

`iter_articles` streams what it finds, so a corpus of any size is read one record at a time;
`load_corpus` collects the same stream. A bad file (or a bad record of a .jsonl file) becomes a
`LoadFailure` naming the file and what to do, never an exception, and the rest still loads.

Which files are read is `qa_bot.ingest.files`' job: folders recursively, regular files only, links
out of the given paths only when asked. What is left alone in a folder (another file type, a
link out of it, a FIFO) becomes a `SkippedFile`, a kind of warning: listed, never silent.

How each format becomes an `Article`:

- .txt / .md: the body is the file's text without its metadata. Metadata is either a front matter
  block (`---` lines around `key: value` YAML) or leading header lines such as `date 2023-04-16`,
  `title: Foo`, `source CNN`, `url https://...` (keys: date, published, title, source, url, author;
  the colon is optional). A `date` header may share its line with the start of the body, as in
  `date 2023-04-16 External Affairs Minister ...`: only the date is metadata. Other keys count as
  headers only as a whole short line. Without a title header, the body's first non-empty line is
  the title (Markdown `#` marks taken off, cut at a word boundary after 90 characters:
  `qa_bot.ingest.titles`); that line stays in the body, as an HTML <h1> stays in the visible text.
- .html / .htm: the visible text (scripts, styles, noscript, template, head and hidden elements
  dropped), one paragraph per block element. Title from <title>, else the first <h1>; date,
  site and URL from <meta> tags such as article:published_time, og:site_name and og:url.
- .pdf / .docx: the text (`qa_bot.ingest.document_text`); header lines at its top as in .txt, else the
  title and creation date from the file's properties.
- .json: one object with `text`, or a list of them. .jsonl: one such object per line. Optional
  fields: id, title, date, url, source; others are ignored.

Size: one article's text may be at most `CorpusOptions.max_article_bytes` (QA_BOT_MAX_ARTICLE_MB).
A one-article file is checked by its size before it is read (HTML, PDF and Word files may be ten
times bigger, for markup and images); .json and .jsonl records one by one. The limits by file
type are public in `qa_bot.ingest.limits`, which the chat's uploader shows and applies too. On 2
cores a megabyte of text is ~2,100 chunks and ~2 minutes of embedding: a 30 MB file would hold an
ingest for an hour.

Dates are normalised to ISO `YYYY-MM-DD`. A date that cannot be read does not lose the article:
it loads without a date and a `LoadWarning` says so (warnings are separate from failures, so a
count of failures is a count of things that did not load, though they should have).

Text files must be UTF-8 (a BOM is fine). Anything else is reported rather than guessed at,
because a wrong guess puts garbled text into answers and citations.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlparse

import yaml
from dateutil import parser as date_parser

from qa_bot.ingest.document_text import UnreadableDocument, docx_article, megabytes, pdf_article, too_large
from qa_bot.ingest.files import FileSkipped, FileToRead, FileUnusable, find_files, special_kind
from qa_bot.ingest.limits import DEFAULT_MAX_ARTICLE_BYTES
from qa_bot.ingest.limits import file_size_problem as _size_problem
from qa_bot.ingest.titles import title_from_text


@dataclass(frozen=True)
class Article:
    id: str  # explicit `id` of a JSON record, else derived from the content (stable across runs)
    text: str  # the body only: metadata header lines are removed
    title: str | None = None
    date: str | None = None  # ISO YYYY-MM-DD
    source: str | None = None  # publisher or site, e.g. "cnn.com"
    url: str | None = None
    path: str | None = None  # the file it came from
    source_key: str = ""  # what identifies it across ingests (path, id:<record id>, or path#<content id>)

    @property
    def date_int(self) -> int | None:
        """YYYYMMDD as an int: Chroma range filters ($gte/$lte) work on numbers only."""
        return int(self.date.replace("-", "")) if self.date else None


@dataclass(frozen=True)
class LoadFailure:
    path: str
    reason: str


@dataclass(frozen=True)
class LoadWarning:
    """Something the user should know that did not stop anything loading (e.g. an unreadable date)."""

    path: str
    reason: str


@dataclass(frozen=True)
class SkippedFile(LoadWarning):
    """A file in a folder left alone on purpose: another type, a link out of the folder, a FIFO.

    A warning, not a failure: nothing that should have loaded was lost. Summaries count and list
    these apart from other warnings.
    """


@dataclass(frozen=True)
class CorpusOptions:
    """How files are read: the size limit of one article, and whether links out of a folder count."""

    max_article_bytes: int = DEFAULT_MAX_ARTICLE_BYTES
    follow_links: bool = False

    @classmethod
    def from_settings(cls, settings: Any) -> CorpusOptions:
        """From the app's Settings (QA_BOT_MAX_ARTICLE_MB, QA_BOT_FOLLOW_LINKS)."""
        return cls(round(settings.max_article_mb * 1_000_000), settings.follow_links)


@dataclass
class LoadResult:
    articles: list[Article]
    failures: list[LoadFailure]
    warnings: list[LoadWarning] = field(default_factory=list)


LoadEvent = Article | LoadFailure | LoadWarning

SUPPORTED_SUFFIXES = frozenset(
    {".txt", ".md", ".markdown", ".html", ".htm", ".json", ".jsonl", ".pdf", ".docx"}
)

# A `key value` header line longer than this is prose that happens to start with a key word.
_MAX_HEADER_LINE = 200
# A .jsonl file whose first lines are all bad is probably not JSON Lines: one failure, not millions.
_MAX_BAD_LINES_BEFORE_GIVING_UP = 20

_HEADER_KEYS = {
    "date": "date",
    "published": "date",
    "title": "title",
    "source": "source",
    "url": "url",
    "author": None,  # recognised so it stays out of the body, but not kept
}
_HEADER_LINE = re.compile(
    r"(?P<key>" + "|".join(_HEADER_KEYS) + r")(?:(?P<colon>\s*:)\s*|\s+)(?P<value>.*)",
    re.IGNORECASE,
)
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
# The date forms a header may carry, so that a date followed by body text on the same line can be
# cut exactly where the date ends.
_DATE_TOKEN = re.compile(
    r"(?:\d{4}-\d{1,2}-\d{1,2}(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
    r"|\d{4}/\d{1,2}/\d{1,2}"
    rf"|{_MONTH}\s+\d{{1,2}},?\s+\d{{4}}"
    rf"|\d{{1,2}}\s+{_MONTH},?\s+\d{{4}})"
    r"(?=\s|$)",
    re.IGNORECASE,
)
_FRONT_MATTER = re.compile(r"---[ \t]*\n(?P<yaml>.*?\n)?(?:---|\.\.\.)[ \t]*(?:\n|$)", re.DOTALL)


class _BadFile(Exception):
    """A file that cannot become an article; the message is the reason shown to the user."""


# --- public API -----------------------------------------------------------------------------------


def load_corpus(paths: Iterable[str | Path], options: CorpusOptions | None = None) -> LoadResult:
    """Load every article under `paths` (files or folders); bad files are reported, not raised."""
    result = LoadResult(articles=[], failures=[], warnings=[])
    for item in iter_articles(paths, options):
        if isinstance(item, Article):
            result.articles.append(item)
        elif isinstance(item, LoadWarning):
            result.warnings.append(item)
        else:
            result.failures.append(item)
    return result


def iter_articles(paths: Iterable[str | Path], options: CorpusOptions | None = None) -> Iterator[LoadEvent]:
    """Stream articles, failures and warnings from files and folders, in a deterministic order.

    Folders are read recursively in sorted order, leaving out hidden entries; files of other types,
    links out of the folders and anything but a regular file are skipped with a `SkippedFile`
    (see `qa_bot.ingest.files`). An id seen before in the same call is reported as a duplicate and
    the later copy is skipped.
    """
    options = options or CorpusOptions()
    first_source_of: dict[str, str] = {}
    for item in _iter_all_files(paths, options):
        if isinstance(item, Article):
            earlier = first_source_of.get(item.id)
            if earlier is not None:
                yield LoadFailure(
                    item.path or item.source_key,
                    f"duplicate article id {item.id!r} (first loaded from {earlier}); this copy was "
                    "skipped. Give it a different `id`, or remove one of the copies.",
                )
                continue
            first_source_of[item.id] = item.path or item.source_key
        yield item


def normalise_date(value: Any) -> str | None:
    """An ISO `YYYY-MM-DD` for a date in any common form, or None when it is not a full date.

    Accepts 2023-04-16, 2023-04-16T10:00:00Z, 2023/04/16, April 16, 2023, 16 April 2023, Apr. 16
    2023, and date/datetime objects (YAML front matter gives those).
    """
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        return datetime.fromisoformat(text).date().isoformat()
    except ValueError:
        pass
    # dateutil fills a missing year, month or day from a default date; a date needs all three.
    if not re.search(r"\d{4}", text):
        return None
    try:
        one = date_parser.parse(text, default=datetime(2000, 1, 1))
        other = date_parser.parse(text, default=datetime(2001, 2, 2))
    except (ValueError, OverflowError):
        return None
    return one.date().isoformat() if one.date() == other.date() else None


def content_id(text: str) -> str:
    """A stable id for an article without one: 16 hex digits of the SHA-1 of its normalised text.

    Whitespace is collapsed and Unicode normalised first, so re-wrapping a file keeps its id.
    """
    normalised = " ".join(unicodedata.normalize("NFC", text).split())
    return hashlib.sha1(normalised.encode("utf-8")).hexdigest()[:16]


# --- finding and opening files ------------------------------------------------------------------


def find_article_files(paths: Iterable[str | Path], options: CorpusOptions | None = None) -> Iterator[Path]:
    """The files an ingest of `paths` would read, unread (e.g. for the scale of a progress bar)."""
    options = options or CorpusOptions()
    for found in find_files(paths, SUPPORTED_SUFFIXES, follow_links=options.follow_links):
        if isinstance(found, FileToRead) and found.path.suffix.lower() in _LOADERS:
            yield found.path


def estimate_articles(paths: Iterable[str | Path], options: CorpusOptions | None = None) -> int:
    """About how many articles the paths hold (a .jsonl line each, one per other file), for the scale
    of a progress bar and its time remaining; counting lines reads ~100 MB/s, parsing none."""
    total = 0
    for file in find_article_files(paths, options):
        if file.suffix.lower() == ".jsonl":
            with file.open("rb") as handle:
                total += sum(1 for line in handle if line.strip())
        else:
            total += 1
    return max(total, 1)


def file_size_problem(name: str | Path, size: int, options: CorpusOptions | None = None) -> str | None:
    """Why a file of this name and size would not be read, checked before reading it; else None.

    The limits by file type are `qa_bot.ingest.limits` (a .txt/.md file as big as one article, an
    HTML, PDF or Word file ten times that, a .json/.jsonl file's records one by one).
    """
    return _size_problem(name, size, (options or CorpusOptions()).max_article_bytes)


def _iter_all_files(paths: Iterable[str | Path], options: CorpusOptions) -> Iterator[LoadEvent]:
    for found in find_files(paths, SUPPORTED_SUFFIXES, follow_links=options.follow_links):
        if isinstance(found, FileSkipped):
            yield SkippedFile(found.path, found.reason)
        elif isinstance(found, FileUnusable):
            yield LoadFailure(found.path, found.reason)
        else:
            yield from _load_file(found.path, found.named_explicitly, options)


def _load_file(path: Path, named_explicitly: bool, options: CorpusOptions) -> Iterator[LoadEvent]:
    loader = _LOADERS.get(path.suffix.lower())
    if loader is None:
        if named_explicitly:
            yield LoadFailure(
                str(path),
                f"unsupported file type {path.suffix or '(no suffix)'!r}; supported: "
                f"{', '.join(sorted(SUPPORTED_SUFFIXES))}. Convert it to one of these first.",
            )
        return
    try:
        with _open_regular_file(path) as handle:
            problem = file_size_problem(path, os.fstat(handle.fileno()).st_size, options)
            if problem:
                raise _BadFile(problem)
            yield from loader(handle, path, options.max_article_bytes)
    except (_BadFile, UnreadableDocument) as bad:
        yield LoadFailure(str(path), str(bad))
    except OSError as exc:
        yield LoadFailure(str(path), f"cannot read the file: {exc.strerror or exc}")
    except Exception as exc:  # hostile input reaches parsers we do not own: one file, one failure
        yield LoadFailure(str(path), _unexpected(exc))


def _unexpected(exc: Exception) -> str:
    """The reason for a file (or record) that broke a parser in a way no check above foresaw."""
    detail = " ".join(str(exc).split())[:160]
    return (
        f"could not be read ({type(exc).__name__}{': ' + detail if detail else ''}); the rest of the "
        "corpus was read. Check that the file is a complete, ordinary article file"
    )


def _open_regular_file(path: Path) -> BinaryIO:
    """The file, opened for reading only if it is a regular file.

    Opened without blocking and checked on the open descriptor: a FIFO put in a file's place after
    the folder was listed is refused at once instead of waiting for a writer for ever.
    """
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            raise _BadFile(f"{special_kind(mode)}, not a regular file; only regular files are read")
        return os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise


# --- reading bytes as text ------------------------------------------------------------------------


def _decode(raw: bytes, what: str = "the file") -> str:
    if b"\x00" in raw:
        raise _BadFile(_binary_reason(what))
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _BadFile(
            f"{what} is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
            "re-save it as UTF-8."
        ) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _binary_reason(what: str) -> str:
    return f"{what} holds binary data (NUL bytes), not text; if it is UTF-16 text, re-save it as UTF-8"


def _read_text(handle: BinaryIO) -> str:
    raw = handle.read()
    if not raw:
        raise _BadFile("empty file (0 bytes); add the article text or remove the file")
    return _decode(raw)


# --- building an Article --------------------------------------------------------------------------


def _source_key(path: Path, article_id: str, record_id: str | None, where: str | None) -> str:
    if record_id:
        return f"id:{record_id}"
    return f"{path}#{article_id}" if where else str(path)


def _build_article(
    body: str,
    meta: dict[str, Any],
    path: Path,
    max_bytes: int,
    *,
    record_id: str | None = None,
    where: str | None = None,
) -> Iterator[LoadEvent]:
    """One Article from a body and its metadata, plus a warning if its date could not be read.

    `where` locates a record inside a .json/.jsonl file. A record with its own id is known by that id
    wherever it is read from (so a moved or re-exported corpus replaces, never duplicates it); one
    without is known by its file and content id.
    """
    text = body.replace("\r\n", "\n").replace("\r", "\n").strip()
    in_file = f"{where}: " if where else ""
    size = len(text.encode("utf-8"))
    if size > max_bytes:
        yield LoadFailure(str(path), in_file + too_large(f"article text is {megabytes(size)}", max_bytes))
        return
    article_id = record_id or content_id(text)
    raw_date = meta.get("date")
    iso_date = normalise_date(raw_date)
    url = _clean(meta.get("url"))
    if raw_date not in (None, "") and iso_date is None:
        yield LoadWarning(
            str(path),
            f"{in_file}date {str(raw_date)!r} not understood (use e.g. 2023-04-16 or April 16, 2023); "
            "loaded without a date, so date filters and recency ranking will not apply to it",
        )
    yield Article(
        id=article_id,
        text=text,
        title=_clean(meta.get("title")),
        date=iso_date,
        source=_clean(meta.get("source")) or _host_of(url),
        url=url,
        path=str(path),
        source_key=_source_key(path, article_id, record_id, where),
    )


def _clean(value: Any) -> str | None:
    """A metadata value as one line of text, or None when empty."""
    if value is None or isinstance(value, dict | list):
        return None
    text = " ".join(str(value).split())
    return text or None


def _host_of(url: str | None) -> str | None:
    if not url:
        return None
    host = urlparse(url).hostname
    if not host:
        return None
    return host.removeprefix("www.")


# --- .txt and .md ---------------------------------------------------------------------------------


def _load_plain_text(handle: BinaryIO, path: Path, max_bytes: int) -> Iterator[LoadEvent]:
    """A .txt or .md article; without a `title` header its first line is the title (`title_from_text`:
    a Markdown `# Heading` loses its marks)."""
    meta, body = _split_metadata(_read_text(handle))
    if not body.strip():
        raise _BadFile("no article text after the metadata lines; add the body text")
    if not _clean(meta.get("title")):
        meta["title"] = title_from_text(body)
    yield from _build_article(body, meta, path, max_bytes)


def _split_metadata(text: str) -> tuple[dict[str, Any], str]:
    """(metadata, body) from a front matter block or, failing that, leading header lines."""
    front_matter = _FRONT_MATTER.match(text.lstrip())
    if front_matter:
        meta = _parse_front_matter(front_matter["yaml"] or "")
        if meta is not None:
            return meta, text.lstrip()[front_matter.end() :]
    return _split_header_lines(text)


class _FrontMatterLoader(yaml.SafeLoader):
    """YAML's safe loader without anchors and aliases (`&a`, `*a`): metadata never needs them, and
    aliases nested in aliases expand, when shown or walked, into more values than memory holds."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed in front matter", self.peek_event().start_mark
            )
        return super().compose_node(parent, index)


def _parse_front_matter(block: str) -> dict[str, Any] | None:
    """The front matter's metadata; None when the `---` block is not a mapping (e.g. prose)."""
    try:
        data = yaml.load(block, Loader=_FrontMatterLoader)  # noqa: S506 (a safe loader, without aliases)
    except RecursionError:
        raise _BadFile(
            "front matter (the block between the --- lines) is nested too deeply to read; "
            "write it as `key: value` lines"
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 2}" if mark is not None else ""
        raise _BadFile(
            f"front matter (the block between the --- lines) is not valid YAML{at}; "
            "write it as `key: value` lines"
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        return None
    meta: dict[str, Any] = {}
    for key, value in data.items():
        target = _HEADER_KEYS.get(str(key).strip().lower())
        if target and target not in meta:
            meta[target] = value
    return meta


def _split_header_lines(text: str) -> tuple[dict[str, Any], str]:
    meta: dict[str, Any] = {}
    rest = text.lstrip()
    while rest:
        line, newline, after = rest.partition("\n")
        header = _parse_header_line(line.strip(), body_follows=bool(after.strip()))
        if header is None:
            break
        key, value, same_line_body = header
        if key and key not in meta:
            meta[key] = value
        if same_line_body:
            return meta, same_line_body + newline + after
        rest = after.lstrip()
    return meta, rest


def _parse_header_line(line: str, *, body_follows: bool) -> tuple[str | None, str, str] | None:
    """(meta key or None to drop, value, body text sharing the line) for a header line, else None."""
    match = _HEADER_LINE.fullmatch(line)
    if match is None:
        return None
    key = _HEADER_KEYS[match["key"].lower()]
    value = match["value"].strip()
    has_colon = match["colon"] is not None
    if key == "date":
        token = _DATE_TOKEN.match(value)
        if token:
            return key, token.group(0), value[token.end() :].strip()
        # "Date night ideas ..." is prose; "date: unknown" is a header with an unreadable value.
        return (key, value, "") if has_colon and len(line) <= _MAX_HEADER_LINE else None
    if not body_follows or len(line) > _MAX_HEADER_LINE:
        return None
    if has_colon:
        return key, value, ""
    # Without a colon, `title`, `source` and `url` lines must not look like prose ("Title IX was ...").
    if key == "url" and not re.fullmatch(r"https?://\S+", value):
        return None
    if value.endswith((".", ",", ";")) or not value:
        return None
    return key, value, ""


# --- .html ----------------------------------------------------------------------------------------


def _load_html(handle: BinaryIO, path: Path, max_bytes: int) -> Iterator[LoadEvent]:
    from qa_bot.ingest.html_text import parse_html  # BeautifulSoup: imported when an HTML file is read

    meta, body = parse_html(_read_text(handle))
    if not body:
        raise _BadFile("no visible text (only scripts, styles or markup); is this the article page?")
    yield from _build_article(body, meta, path, max_bytes)


# --- .pdf and .docx -------------------------------------------------------------------------------


def _load_pdf(handle: BinaryIO, path: Path, max_bytes: int) -> Iterator[LoadEvent]:
    yield from _document_article(*pdf_article(handle, max_bytes), path, max_bytes)


def _load_docx(handle: BinaryIO, path: Path, max_bytes: int) -> Iterator[LoadEvent]:
    yield from _document_article(*docx_article(handle, max_bytes), path, max_bytes)


def _document_article(
    properties: dict[str, Any], text: str, path: Path, max_bytes: int
) -> Iterator[LoadEvent]:
    """Header lines at the top of the text (`date 2023-04-16`) win over the file's properties, which
    are often a template's or an export tool's rather than the article's."""
    meta, body = _split_metadata(text)
    for key, value in properties.items():
        if not meta.get(key) and value:
            meta[key] = value
    if not body.strip():
        raise _BadFile("no article text after the metadata lines; add the body text")
    yield from _build_article(body, meta, path, max_bytes)


# --- .json and .jsonl -----------------------------------------------------------------------------


def _parse_json(text: str, *, one_line: bool = False) -> Any:
    """The JSON value, or _BadFile naming what is wrong with it. Besides syntax errors, Python's
    parser fails on two shapes no article has: nesting deeper than its recursion limit (a
    `[[[[...` of 100,000 brackets) and integers of more than 4,300 digits."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        if one_line:  # a .jsonl line, named by its number already
            raise _BadFile(f"invalid JSON (column {exc.colno}: {exc.msg}); fix or remove the line") from None
        raise _BadFile(f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise _BadFile(
            "JSON nested too deeply to read (thousands of [ or { inside each other); an article is "
            "an object with a `text` field"
        ) from None
    except ValueError as exc:  # "Exceeds the limit (4300 digits) for integer string conversion"
        raise _BadFile(f"JSON that cannot be read: {' '.join(str(exc).split())[:120]}") from None


def _load_json(handle: BinaryIO, path: Path, max_bytes: int) -> Iterator[LoadEvent]:
    data = _parse_json(_read_text(handle))
    if isinstance(data, dict):
        yield from _article_from_record(data, path, max_bytes, "the object")
    elif isinstance(data, list):
        if not data:
            raise _BadFile("empty list: no articles; expected objects with a `text` field")
        for index, record in enumerate(data):
            yield from _article_from_record(record, path, max_bytes, f"record at index {index}")
    else:
        raise _BadFile("expected an object with a `text` field, or a list of them")


def _load_jsonl(lines: BinaryIO, path: Path, max_bytes: int) -> Iterator[LoadEvent]:
    good = bad = too_big = 0
    if b"\x00" in lines.read(8192):
        raise _BadFile(_binary_reason("the file"))
    lines.seek(0)
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        where = f"line {number}"
        if len(raw) > max_bytes:  # refused unparsed: the line alone is over the limit of one article
            too_big += 1
            yield LoadFailure(str(path), too_large(f"{where} is {megabytes(len(raw))}", max_bytes))
            continue
        try:
            record = _parse_json(_decode(raw, what="this line"), one_line=True)
        except _BadFile as exc:
            failure = f"{where}: {exc}"
        else:
            good += 1
            yield from _article_from_record(record, path, max_bytes, where)
            continue
        bad += 1
        yield LoadFailure(str(path), failure)
        if bad >= _MAX_BAD_LINES_BEFORE_GIVING_UP and good == 0:
            yield LoadFailure(
                str(path),
                f"stopped after {bad} bad lines and no good one: JSON Lines needs one JSON object "
                "per line (a single JSON document should be named .json)",
            )
            return
    if good == bad == too_big == 0:
        raise _BadFile("empty file: no JSON lines; add one article object per line")


def _article_from_record(record: Any, path: Path, max_bytes: int, where: str) -> Iterator[LoadEvent]:
    """The record's article (or failure); a record that breaks something unforeseen fails alone,
    and the file's other records still load."""
    try:
        yield from _record_article(record, path, max_bytes, where)
    except Exception as exc:  # e.g. a `date` nested too deeply to be shown in its warning
        yield LoadFailure(str(path), f"{where}: {_unexpected(exc)}")


def _record_article(record: Any, path: Path, max_bytes: int, where: str) -> Iterator[LoadEvent]:
    problem = _record_problem(record)
    if problem:
        yield LoadFailure(str(path), f"{where}: {problem}")
        return
    record_id = record.get("id")
    record_id = str(record_id).strip() if record_id is not None and str(record_id).strip() else None
    meta = {key: record.get(key) for key in ("title", "date", "url", "source")}
    yield from _build_article(record["text"], meta, path, max_bytes, record_id=record_id, where=where)


def _record_problem(record: Any) -> str | None:
    if not isinstance(record, dict):
        return f"is a JSON {type(record).__name__}, not an object with a `text` field"
    text = record.get("text")
    if text is None:
        return "no `text` field; every article needs its body in `text`"
    if not isinstance(text, str):
        return f"field `text` is a {type(text).__name__}; it must be a string"
    if not text.strip():
        return "field `text` is empty; add the article body or remove the record"
    for name in _RECORD_FIELDS:
        value = record.get(name)
        if isinstance(value, str) and _LONE_SURROGATE.search(value):
            return (
                f"field `{name}` holds a lone surrogate escape (e.g. \\ud800), which is no character and "
                "cannot be stored; fix the escape (a pair such as \\ud83d\\ude00 is fine)"
            )
    return None


_RECORD_FIELDS = ("text", "id", "title", "date", "url", "source")
# JSON's \uXXXX escapes can spell half of a UTF-16 pair; Python keeps it, and no encoder takes it.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


_LOADERS: dict[str, Callable[[BinaryIO, Path, int], Iterator[LoadEvent]]] = {
    ".txt": _load_plain_text,
    ".md": _load_plain_text,
    ".markdown": _load_plain_text,
    ".html": _load_html,
    ".htm": _load_html,
    ".json": _load_json,
    ".jsonl": _load_jsonl,
    ".pdf": _load_pdf,
    ".docx": _load_docx,
}
