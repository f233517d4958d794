"""Adding articles from the chat: uploads saved under the data directory, ingest with a progress bar.

Uploads are kept under their own names (Unicode included) in one folder, and a file never replaces
a different one: an upload whose name is taken gets a numbered name ("日本 (2).txt"), and one whose
bytes are already stored is not stored again. Each uploaded file's fate is shown.

The uploader (`article_uploader`) states the loader's own size limits (qa_bot/ingest/limits.py)
and takes no file bigger than the largest of them; a file over its type's limit is not stored,
with its reason, and the rest of the upload goes on.
"""

from __future__ import annotations

import hashlib
import html
import logging
import re
import threading
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import streamlit as st

from qa_bot.index.lock import WAITING_FOR_INGEST
from qa_bot.index.store import IngestReport
from qa_bot.ingest.articles import (
    SUPPORTED_SUFFIXES,
    CorpusOptions,
    SkippedFile,
    estimate_articles,
    file_size_problem,
)
from qa_bot.ingest.limits import largest_file_megabytes, limits_text
from qa_bot.missing_package import missing_package
from qa_bot.service import QABot
from ui.render import CAPTION_STYLE, failures_html

logger = logging.getLogger("qa_bot.ui")

UPLOAD_TYPES = sorted(suffix.lstrip(".") for suffix in SUPPORTED_SUFFIXES)
# Refused in a name by Windows, macOS or Linux, or invisible and confusing: control characters.
_FORBIDDEN_IN_NAMES = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]+')
# Bidirectional controls can make "evil\u202etxt.exe" display as "evilexe.txt".
_BIDI_CONTROLS = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_MAX_NAME_BYTES = 255  # one name on most file systems, in UTF-8 bytes
_MAX_NUMBERED_COPIES = 10_000


def uploads_dir(data_dir: Path) -> Path:
    return data_dir / "uploads"


# --- the uploader ----------------------------------------------------------------------------------


def upload_help(settings) -> str:
    """The uploader's help: the real size limits (QA_BOT_MAX_ARTICLE_MB), then the formats."""
    limit = CorpusOptions.from_settings(settings).max_article_bytes
    return (
        f"{limits_text(limit)}; .json/.jsonl up to {largest_file_megabytes(limit)} MB per file "
        "(a bigger archive: `qa-bot ingest`). Plain text may start with header lines such as "
        "`date 2023-04-16`; .json and .jsonl hold objects with `text` and optional `title`, `date`, "
        "`url`, `source`."
    )


def article_uploader(settings, *, key: str) -> list:
    """The chat's file uploader, limited to the biggest file the loader takes (not Streamlit's 200 MB)."""
    limit = CorpusOptions.from_settings(settings).max_article_bytes
    return st.file_uploader(
        "Article files",
        type=UPLOAD_TYPES,
        accept_multiple_files=True,
        key=key,
        max_upload_size=largest_file_megabytes(limit),
        help=upload_help(settings),
    )


# --- saving uploads --------------------------------------------------------------------------------


def safe_filename(name: str) -> str:
    """The uploaded file's own name: no folders, Unicode kept (NFC), characters file systems refuse as _.

    Leading dots go too: a hidden file would be left out of the next re-index.
    """
    base = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    base = _FORBIDDEN_IN_NAMES.sub("_", _BIDI_CONTROLS.sub("", base)).strip(" .")
    return _within_name_limit(base) or "upload.txt"


def _within_name_limit(name: str) -> str:
    stem, suffix = _split_suffix(name)
    while len((stem + suffix).encode("utf-8")) > _MAX_NAME_BYTES and stem:
        stem = stem[:-1]
    return (stem.rstrip(" .") + suffix) if stem else name[:_MAX_NAME_BYTES]


def _split_suffix(name: str) -> tuple[str, str]:
    suffix = Path(name).suffix
    return (name[: -len(suffix)], suffix) if suffix else (name, "")


@dataclass(frozen=True)
class SavedUpload:
    """What became of one uploaded file."""

    name: str  # as uploaded
    path: Path | None  # where it is stored; None when it was not stored
    fate: str  # for the user: "saved", "saved as 日本 (2).txt: ...", "not saved: ..."


def save_uploads(files: Sequence, folder: Path, options: CorpusOptions | None = None) -> list[SavedUpload]:
    """Store each uploaded file in `folder` without ever replacing a different file.

    A name already taken by other bytes gets a number ("name (2).txt"); bytes already stored, under
    any name, are not stored twice; a file over the size limit of one article is not stored at all.
    """
    folder.mkdir(parents=True, exist_ok=True)
    return [_save_upload(upload.name, upload.getvalue(), folder, options) for upload in files]


def _save_upload(name: str, data: bytes, folder: Path, options: CorpusOptions | None) -> SavedUpload:
    wanted = safe_filename(name)
    too_big = file_size_problem(wanted, len(data), options)
    if too_big:
        return SavedUpload(name, None, f"not saved: {too_big}")
    stored = _stored_copy_of(data, folder)
    if stored is not None:
        return SavedUpload(name, stored, f"already uploaded as {stored.name}; not stored twice")
    for candidate in _numbered_names(wanted):
        if _write_new_file(folder / candidate, data):
            if candidate == wanted:
                return SavedUpload(name, folder / candidate, "saved")
            return SavedUpload(
                name, folder / candidate, f"saved as {candidate}: another file was uploaded as {wanted}"
            )
    return SavedUpload(name, None, f"not saved: {_MAX_NUMBERED_COPIES} files are already named like {wanted}")


def _stored_copy_of(data: bytes, folder: Path) -> Path | None:
    digest = hashlib.sha256(data).digest()
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.stat().st_size == len(data) and _sha256(path) == digest:
            return path
    return None


def _sha256(path: Path) -> bytes:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").digest()


def _numbered_names(name: str) -> Iterator[str]:
    yield name
    stem, suffix = _split_suffix(name)
    for number in range(2, _MAX_NUMBERED_COPIES + 1):
        yield _within_name_limit(f"{stem} ({number}){suffix}")


def _write_new_file(path: Path, data: bytes) -> bool:
    """Writes `data` to `path` unless something is there already (checked and created in one step)."""
    try:
        handle = path.open("xb")
    except FileExistsError:
        return False
    try:
        with handle:
            handle.write(data)
    except BaseException:
        path.unlink(missing_ok=True)  # no half-written article for the next re-index to read
        raise
    return True


# --- ingesting -------------------------------------------------------------------------------------


@dataclass
class IngestOutcome:
    """What the last ingest did, kept in the session so that it stays visible after a rerun."""

    label: str
    report: IngestReport | None  # None: the ingest itself failed (the details are in the server log)
    # Why it failed, in our own words, when the user can act on it (a package to install).
    reason: str | None = None
    uploads: list[SavedUpload] = field(default_factory=list)  # each uploaded file's fate, if any
    waited: bool = False  # another ingest into the same index ran first (one at a time per index)


def ingest_uploads(bot: QABot, files: Sequence) -> IngestOutcome:
    """Save the uploaded files, then ingest the ones stored, keeping each file's fate."""
    options = CorpusOptions.from_settings(bot.settings)
    try:
        saved = save_uploads(files, uploads_dir(bot.settings.data_dir), options)
    except OSError:
        logger.exception("Could not save the uploaded files")
        return IngestOutcome("Saving the uploaded files", None)
    label = f"Adding {len(saved)} file{'s' if len(saved) != 1 else ''}"
    stored = list(dict.fromkeys(upload.path for upload in saved if upload.path is not None))
    outcome = (
        ingest_with_progress(bot, stored, label=label) if stored else IngestOutcome(label, IngestReport())
    )
    outcome.uploads = saved
    return outcome


def ingest_with_progress(bot: QABot, paths: list[Path], *, label: str, prune: bool = False) -> IngestOutcome:
    """The ingest with a progress bar. A few articles (up to INLINE_EMBED_ARTICLES) are embedded
    before it returns (seconds); for a big upload it returns once every article is searchable by
    keyword, and the vectors are written behind it in a thread of the server (`embed_in_background`),
    with "N of M articles searchable by meaning" in the sidebar."""
    total = estimate_articles(paths, CorpusOptions.from_settings(bot.settings))
    inline = total <= INLINE_EMBED_ARTICLES
    bar = st.progress(0.0, text=f"{label}…")
    articles = embedded = to_embed = 0
    waited = False

    def advance(event: str, amount: int) -> None:
        nonlocal articles, embedded, to_embed, waited
        if event == "waiting":
            waited = True
            bar.progress(0.0, text=WAITING_FOR_INGEST)
        elif event == "article":
            articles += amount
            bar.progress(min(articles / total, 1.0), text=f"{label}: {articles} of about {total} articles")
        elif event in ("embedding", "embedded"):
            to_embed, embedded = (amount, 0) if event == "embedding" else (to_embed, embedded + amount)
            bar.progress(
                min(embedded / max(to_embed, 1), 1.0), text=f"Embedding {embedded} of {to_embed} articles"
            )

    try:
        report = bot.ingest(paths, prune=prune, progress=advance, embed=inline)
    except Exception as exc:  # shown as a message; the traceback goes to the server log only
        logger.exception("Ingest failed: %s", label)
        missing = missing_package(exc)
        return IngestOutcome(label, None, reason=missing.message() if missing else None)
    finally:
        bar.empty()
    if report.embedding_error is not None:
        logger.warning("Embedding stopped during an upload's ingest: %s", report.embedding_error)
    elif report.not_embedded:
        embed_in_background(bot)
    return IngestOutcome(label, report, waited=waited)


# Up to this many articles an upload is embedded before the page goes on; more, behind it.
INLINE_EMBED_ARTICLES = 50
_embedding = threading.Lock()  # one embedding thread per server process is enough: it embeds them all


def embed_in_background(bot: QABot) -> bool:
    """Writes the vectors the keyword pass left, in a thread of the server, unless one is at it;
    a server that stops meanwhile leaves the rest to the next ingest (nothing is lost)."""
    if not _embedding.acquire(blocking=False):
        return False

    def run() -> None:
        try:
            bot.embed()
        except Exception:
            logger.exception("Embedding in the background failed; the next ingest resumes it")
        finally:
            _embedding.release()

    threading.Thread(target=run, name="qa-bot-embed", daemon=True).start()
    return True


# --- showing what happened -------------------------------------------------------------------------


def skipped_files(report: IngestReport) -> list[SkippedFile]:
    return [w for w in report.warnings if isinstance(w, SkippedFile)]


def summary(report: IngestReport) -> str:
    parts = [f"{report.added} added", f"{report.updated} updated", f"{report.unchanged} unchanged"]
    if report.removed:
        parts.append(f"{report.removed} removed")
    if report.failed:
        parts.append(f"{len(report.failed)} failed")
    if skipped := skipped_files(report):
        parts.append(f"{len(skipped)} skipped")
    return ", ".join(parts)


def show_outcome(outcome: IngestOutcome) -> None:
    """The summary, each upload's fate, and each file that failed or was skipped, with its reason.

    File names and reasons are shown as HTML text: names are untrusted.
    """
    if outcome.report is None:
        st.error(f"{outcome.label} failed. {outcome.reason or 'The details are in the server log.'}")
        return
    report = outcome.report
    message = f"{outcome.label}: {summary(report)}."  # our own words and numbers only
    if report.embedding_error:
        message += (
            " Searchable by keyword now, but the embedding server failed (the server log says how). "
            f"{report.not_embedded} article(s) wait to be searchable by meaning: the next upload, "
            "Re-index or `qa-bot embed` resumes it, embedding nothing twice."
        )
    elif report.not_embedded:
        message += (
            f" Searchable by keyword now; {report.not_embedded} article(s) are being embedded in the "
            "background (the sidebar shows how far)."
        )
    refused = any(upload.path is None for upload in outcome.uploads)
    (st.warning if report.failed or refused or report.embedding_error else st.success)(message)
    if outcome.waited:
        st.caption("It waited for another ingest into this index to finish first.")
    if outcome.uploads:
        st.html(_named_list_html("qa-uploads", [(upload.name, upload.fate) for upload in outcome.uploads]))
    if report.failed:
        st.html(failures_html([(Path(f.path).name, f.reason) for f in report.failed]))
    if skipped := skipped_files(report):
        st.html(_named_list_html("qa-skipped", [(Path(s.path).name, s.reason) for s in skipped]))


def _named_list_html(css_class: str, items: Sequence[tuple[str, str]]) -> str:
    """A list of (file name, what happened), both as text."""
    rows = "".join(
        f"<li><strong>{html.escape(name)}</strong>: {html.escape(text)}</li>" for name, text in items
    )
    return f'<ul class="{css_class}" style="{CAPTION_STYLE} padding-left: 1.2rem;">{rows}</ul>'
