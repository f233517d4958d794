"""Reviewers' thumbs up/down and comments on answers, kept in SQLite in the data directory.

Each row keeps what is needed to judge the answer later (question, answer, citations, the settings
that produced it, the conversation before it) and never a secret: every text in it is redacted as it
is saved (an LLM error can quote the key the server was sent). Approved answers export as JSONL
in the evaluation dataset format, so that a reviewed answer becomes a regression test:
    {"id", "question", "answers", "all", "unanswerable", "articles", "date", "history"}
"""

from __future__ import annotations

import json
import re
from contextlib import closing
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from qa_bot.redaction import redact_data
from qa_bot.settings import Settings
from qa_bot.sqlite_store import SQLiteStore, add_columns

THUMBS_UP = 1  # st.feedback("thumbs") gives 1 for up, 0 for down
THUMBS_DOWN = 0
_MARKERS = re.compile(r"\s*\[\d+\]")


@dataclass
class FeedbackRecord:
    id: str  # one per answer in the chat: a second rating of the same answer replaces the first
    question: str
    answer: str
    refused: bool
    error: str | None
    citations: list[dict]
    settings: dict
    history: list[dict] = field(default_factory=list)  # earlier turns: [{"question", "answer"}]
    asked_on: str | None = None  # ISO date the question was asked (the evaluation's question date)
    rating: int | None = None  # THUMBS_UP, THUMBS_DOWN or None
    comment: str = ""
    updated_at: str = ""
    user: str | None = None  # who rated it, when the chat has a login (ui/auth.py)


class FeedbackStore(SQLiteStore):
    SCHEMA = """
    CREATE TABLE IF NOT EXISTS feedback (
        id TEXT PRIMARY KEY, question TEXT NOT NULL, answer TEXT NOT NULL, refused INTEGER NOT NULL,
        error TEXT, citations TEXT NOT NULL, settings TEXT NOT NULL, history TEXT NOT NULL,
        asked_on TEXT, rating INTEGER, comment TEXT NOT NULL, updated_at TEXT NOT NULL, user TEXT);
    """
    _COLUMNS = ", ".join(
        ["id", "question", "answer", "refused", "error", "citations", "settings", "history", "asked_on",
         "rating", "comment", "updated_at", "user"]
    )  # fmt: skip

    def save(self, record: FeedbackRecord) -> None:
        """Insert or replace the feedback on one answer."""
        record.updated_at = datetime.now(UTC).isoformat(timespec="seconds")
        safe = FeedbackRecord(**redact_data(asdict(record)))
        row = (
            safe.id, safe.question, safe.answer, int(safe.refused), safe.error,
            json.dumps(safe.citations, ensure_ascii=False), json.dumps(safe.settings, ensure_ascii=False),
            json.dumps(safe.history, ensure_ascii=False), safe.asked_on, safe.rating, safe.comment,
            safe.updated_at, safe.user,
        )  # fmt: skip
        with closing(self._connect()) as db, db:
            db.execute(
                f"INSERT OR REPLACE INTO feedback ({self._COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", row
            )

    def _upgrade(self, db) -> None:
        add_columns(db, "feedback", {"user": "TEXT"})  # files from before the chat had a login

    def records(self) -> list[FeedbackRecord]:
        with closing(self._connect()) as db:
            rows = db.execute(f"SELECT {self._COLUMNS} FROM feedback ORDER BY updated_at, id").fetchall()
        return [_record(row) for row in rows]


def _record(row: tuple) -> FeedbackRecord:
    (
        id_,
        question,
        answer,
        refused,
        error,
        citations,
        settings,
        history,
        asked_on,
        rating,
        comment,
        updated,
        user,
    ) = row
    return FeedbackRecord(
        id=id_, question=question, answer=answer, refused=bool(refused), error=error,
        citations=json.loads(citations), settings=json.loads(settings), history=json.loads(history),
        asked_on=asked_on, rating=rating, comment=comment, updated_at=updated, user=user,
    )  # fmt: skip


def settings_snapshot(settings: Settings, **question_options) -> dict:
    """The settings that shaped an answer, by an explicit list: keys and URLs never go in."""
    snapshot = {
        "llm": settings.llm,
        "model": settings.model,
        "embedding": settings.embedding,
        "collection": settings.collection,
        "top_k": settings.top_k,
        "search_mode": settings.search_mode,
        "relevance_floor": settings.relevance_floor,
        "chunk_tokens": settings.chunk_tokens,
        "chunk_overlap_tokens": settings.chunk_overlap_tokens,
        "temperature": settings.temperature,
    }
    snapshot.update({name: _jsonable(value) for name, value in question_options.items()})
    return snapshot


def _jsonable(value):
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


# --- export ----------------------------------------------------------------------------------------


def evaluation_case(record: FeedbackRecord) -> dict:
    """An approved answer as a test case: a refusal becomes an unanswerable question."""
    articles = sorted({c["article_id"] for c in record.citations if c.get("article_id")})
    return {
        "id": f"feedback-{record.id}",
        "question": record.question,
        "answers": [] if record.refused else [_MARKERS.sub("", record.answer).strip()],
        "all": False,
        "unanswerable": record.refused,
        "articles": [] if record.refused else articles,
        "date": record.asked_on,
        "history": record.history,
    }


def approved(records: list[FeedbackRecord]) -> list[FeedbackRecord]:
    """Thumbs-up answers that came from the pipeline (an LLM failure is no answer to keep)."""
    return [r for r in records if r.rating == THUMBS_UP and not r.error]


def evaluation_jsonl(records: list[FeedbackRecord]) -> str:
    """One evaluation case per approved answer, one JSON object per line."""
    lines = [json.dumps(evaluation_case(r), ensure_ascii=False) for r in approved(records)]
    return "".join(line + "\n" for line in lines)
