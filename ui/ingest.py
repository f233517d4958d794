"""Adding articles from the chat: uploads saved under the data directory, ingest with a progress bar."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from qa_bot.corpus import SUPPORTED_SUFFIXES
from qa_bot.index import IngestReport
from qa_bot.service import QABot
from ui.render import failures_html

logger = logging.getLogger("qa_bot.ui")

UPLOAD_TYPES = sorted(suffix.lstrip(".") for suffix in SUPPORTED_SUFFIXES)
_UNSAFE_NAME_CHARACTERS = re.compile(r"[^A-Za-z0-9._ -]+")


def uploads_dir(data_dir: Path) -> Path:
    return data_dir / "uploads"


def safe_filename(name: str) -> str:
    """The uploaded file's own name, with no folders and no characters a file system might reject."""
    base = _UNSAFE_NAME_CHARACTERS.sub("_", Path(name.replace("\\", "/")).name).strip(" .")
    return base or "upload.txt"


def save_uploads(files: Sequence, folder: Path) -> list[Path]:
    """Write each uploaded file into `folder`; a file uploaded again under its name replaces the old one."""
    folder.mkdir(parents=True, exist_ok=True)
    saved = []
    for upload in files:
        target = folder / safe_filename(upload.name)
        target.write_bytes(upload.getvalue())
        saved.append(target)
    return saved


def estimate_articles(paths: Sequence[Path]) -> int:
    """About how many articles the paths hold (a .jsonl line each), for the progress bar's scale."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += [f for f in path.rglob("*") if f.is_file() and f.suffix.lower() in SUPPORTED_SUFFIXES]
        elif path.is_file():
            files.append(path)
    total = 0
    for file in files:
        if file.suffix.lower() == ".jsonl":
            with file.open("rb") as handle:
                total += sum(1 for line in handle if line.strip())
        else:
            total += 1
    return max(total, 1)


@dataclass
class IngestOutcome:
    """What the last ingest did, kept in the session so that it stays visible after a rerun."""

    label: str
    report: IngestReport | None  # None: the ingest itself failed (the reason is in the server log)


def ingest_with_progress(bot: QABot, paths: list[Path], *, label: str, prune: bool = False) -> IngestOutcome:
    total = estimate_articles(paths)
    bar = st.progress(0.0, text=f"{label}…")
    seen = 0

    def advance(_event: str, amount: int) -> None:
        nonlocal seen
        seen += amount
        bar.progress(min(seen / total, 1.0), text=f"{label}: {seen} of about {total} articles")

    try:
        report = bot.ingest(paths, prune=prune, progress=advance)
    except Exception:  # shown as a message; the traceback goes to the server log only
        logger.exception("Ingest failed: %s", label)
        return IngestOutcome(label, None)
    finally:
        bar.empty()
    return IngestOutcome(label, report)


def summary(report: IngestReport) -> str:
    parts = [f"{report.added} added", f"{report.updated} updated", f"{report.unchanged} unchanged"]
    if report.removed:
        parts.append(f"{report.removed} removed")
    if report.failed:
        parts.append(f"{len(report.failed)} failed")
    return ", ".join(parts)


def show_outcome(outcome: IngestOutcome) -> None:
    """The summary, and each file that failed with its reason (as HTML text: names are untrusted)."""
    if outcome.report is None:
        st.error(f"{outcome.label} failed. The details are in the server log.")
        return
    report = outcome.report
    message = f"{outcome.label}: {summary(report)}."  # our own words and numbers only
    (st.warning if report.failed else st.success)(message)
    if report.failed:
        st.html(failures_html([(Path(f.path).name, f.reason) for f in report.failed]))
