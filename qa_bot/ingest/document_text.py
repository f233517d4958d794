"""PDF and Word (.docx) files as article text, with the title and date from the file's properties.

Kept apart from `qa_bot.ingest.articles`, like `html_text`: getting text out of a page-description format
is its own problem. The corpus loader only needs (metadata, text) back, or an `UnreadableDocument`
whose message is the reason shown to the user.

- PDF (pypdf): the text layer of every page, pages separated by a blank line; title and creation
  date from the document information. A scanned PDF has no text layer and is reported as such.
- DOCX (python-docx): paragraphs and table rows in document order; title and created date from
  the core properties.

Both formats are untrusted input from the outside: a parser may fail in many ways on a damaged
file, and a small file may unpack into a great deal of text. Text beyond `max_text_bytes` stops the
reading as soon as it is seen, rather than after all of it was extracted.
"""

from __future__ import annotations

import importlib
import zipfile
from collections.abc import Iterator
from datetime import datetime
from typing import Any, BinaryIO

# How much bigger than its text a .docx's XML may unpack to (run formatting, styles) before it is
# refused unread: a small zip can hold a huge XML part.
DOCX_XML_ALLOWANCE = 10
_DOCX_BODY = "word/document.xml"
# python-docx's blank template carries this creation time; a document made from it without setting
# one would otherwise be dated December 2013, which is worse than no date for news.
_PYTHON_DOCX_TEMPLATE_CREATED = datetime(2013, 12, 23, 23, 15)
_MAX_ERROR_DETAIL = 160


class UnreadableDocument(Exception):
    """The file cannot become an article; the message is the reason shown to the user."""


def megabytes(size: int) -> str:
    """A size as users read it: 30.1 MB, 1 MB, 2.5 KB."""
    value, unit = (size / 1_000_000, "MB") if size >= 999_950 else (size / 1000, "KB")
    return f"{value:.1f}".removesuffix(".0") + f" {unit}"


def too_large(what: str, limit: int) -> str:
    """The reason given for anything over the size limit of one article."""
    return (
        f"{what}, over the {megabytes(limit)} limit for one article (QA_BOT_MAX_ARTICLE_MB); "
        "split it into smaller articles, or raise the limit"
    )


# --- PDF ------------------------------------------------------------------------------------------


def pdf_article(handle: BinaryIO, max_text_bytes: int) -> tuple[dict[str, Any], str]:
    """(metadata, text) of a PDF: title and date (may be None) and the text of every page."""
    pypdf = _library("pypdf", "pypdf", ".pdf")
    try:
        reader = pypdf.PdfReader(handle)
        if reader.is_encrypted and not _opens_without_password(reader):
            raise UnreadableDocument(
                "the PDF is protected by a password; save an unprotected copy, or its text as .txt"
            )
        text = "\n\n".join(_pdf_pages(reader, max_text_bytes))
        meta = _pdf_metadata(reader)
    except UnreadableDocument:
        raise
    except Exception as exc:  # pypdf raises many kinds of error on a damaged file; each means the same
        raise UnreadableDocument(f"not a readable PDF ({_detail(exc)}); is the file complete?") from None
    if not text.strip():
        raise UnreadableDocument(
            "the PDF has no text layer (a scan or images only); run OCR on it, or save its text as .txt"
        )
    return meta, text


def _opens_without_password(reader: Any) -> bool:
    # Many PDFs are "encrypted" only against editing, with an empty password for reading.
    try:
        return bool(reader.decrypt(""))
    except Exception:  # an unsupported cipher (pypdf needs `cryptography` for AES) reads as locked
        return False


def _pdf_pages(reader: Any, max_text_bytes: int) -> Iterator[str]:
    seen = 0
    for number, page in enumerate(reader.pages, start=1):
        text = page.extract_text() or ""
        seen += len(text.encode("utf-8"))
        if seen > max_text_bytes:
            raise UnreadableDocument(
                too_large(f"the text passes {megabytes(seen)} by page {number}", max_text_bytes)
            )
        yield text


def _pdf_metadata(reader: Any) -> dict[str, Any]:
    info = reader.metadata
    if info is None:
        return {}
    try:
        created: Any = info.creation_date
    except ValueError:  # a malformed date: pass it on as written, so the article loads with a warning
        created = info.get("/CreationDate")
    return {"title": info.title, "date": created}


# --- DOCX -----------------------------------------------------------------------------------------


def docx_article(handle: BinaryIO, max_text_bytes: int) -> tuple[dict[str, Any], str]:
    """(metadata, text) of a Word document: title and date (may be None) and its paragraphs."""
    docx = _library("docx", "python-docx", ".docx")
    _check_docx_package(handle, max_text_bytes)
    try:
        document = docx.Document(handle)
        text = "\n\n".join(block for block in _docx_blocks(document) if block.strip())
        properties = document.core_properties
        meta = {"title": properties.title, "date": _docx_date(properties.created)}
    except Exception as exc:  # python-docx and lxml raise many kinds of error on a damaged file
        raise UnreadableDocument(
            f"not a readable Word document ({_detail(exc)}); is the file complete?"
        ) from None
    if not text.strip():
        raise UnreadableDocument("the document has no text; add the article text or remove the file")
    return meta, text


def _check_docx_package(handle: BinaryIO, max_text_bytes: int) -> None:
    try:
        with zipfile.ZipFile(handle) as package:
            body = package.getinfo(_DOCX_BODY)
    except zipfile.BadZipFile:
        raise UnreadableDocument(
            "not a Word document (.docx is a zip package; an old .doc must be saved as .docx first)"
        ) from None
    except KeyError:
        raise UnreadableDocument(f"not a Word document: the package has no {_DOCX_BODY}") from None
    finally:
        handle.seek(0)
    if body.file_size > max_text_bytes * DOCX_XML_ALLOWANCE:
        raise UnreadableDocument(
            too_large(
                f"the document unpacks to {megabytes(body.file_size)} of XML (more than "
                f"{DOCX_XML_ALLOWANCE} times the text it may hold)",
                max_text_bytes,
            )
        )


def _docx_blocks(document: Any) -> Iterator[str]:
    from docx.table import Table

    for block in document.iter_inner_content():
        if isinstance(block, Table):
            for row in block.rows:
                yield " | ".join(cell.text.strip() for cell in row.cells)
        else:
            yield block.text


def _docx_date(created: datetime | None) -> datetime | None:
    if created is None or created.replace(tzinfo=None) == _PYTHON_DOCX_TEMPLATE_CREATED:
        return None
    return created


# --- shared ---------------------------------------------------------------------------------------


def _library(module: str, package: str, suffix: str) -> Any:
    # Imported on first use: most corpora hold no PDF or Word files, and the CLI starts faster.
    try:
        return importlib.import_module(module)
    except ImportError:
        raise UnreadableDocument(
            f"reading {suffix} files needs the {package} package; run scripts/setup.sh again"
        ) from None


def _detail(exc: Exception) -> str:
    detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return detail if len(detail) <= _MAX_ERROR_DETAIL else detail[: _MAX_ERROR_DETAIL - 1] + "…"
