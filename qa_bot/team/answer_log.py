"""The answer log: every answer the chat gives, its thumbs, and the reviewers' verdicts on it.

One row per answer: the question, the day it was asked ("as of"), the answer (or refusal, or error),
its sentences with the app's verified mark, the settings that produced it, who asked and when. One
row per citation: the passage text and offsets, the article's id, title, date and source, and
whether the app's verifier verified it. The citations are what the verifier judged: each passage
the answer cites (verified), and, for each sentence it could not verify, the passages the model had
cited for it (not verified; the answer no longer shows those numbers).

Reviewers mark each citation supports / partly / does not support, and each answer correct /
incorrect / should have refused, with an optional corrected answer; each verdict keeps the name of
whoever set it and when. What those verdicts are worth (the verifier's agreement with them, and
evaluation cases) is qa_bot.team.reviews.

The tables (qa_bot/database/tables.py) live in QA_BOT_DATABASE_URL when it is set, otherwise in
`feedback.sqlite` in the data directory, and rows of that file's older `feedback` table (thumbs from
before the log) are copied in once, by the log's migrations (qa_bot/database/migrations.py). Every
text is redacted before it is stored: an LLM error can quote the key the server was sent.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError

from qa_bot.answering.answer import Answer, AnswerSentence, Citation, Turn
from qa_bot.answering.verify import best_supporting_span
from qa_bot.database.engine import database_errors, database_url, get_engine
from qa_bot.database.migrations import ANSWER_LOG, OLD_FEEDBACK, MigrationContext, migrate
from qa_bot.database.tables import answers_table, citations_table
from qa_bot.index.search import Passage
from qa_bot.records import record_dict, record_values
from qa_bot.redaction import redact_data
from qa_bot.settings import Settings

FILE_NAME = "feedback.sqlite"  # the default SQLite file; the chat's ratings were kept in it before the log
THUMBS_UP = 1  # st.feedback("thumbs") gives 1 for up, 0 for down
THUMBS_DOWN = 0

# A reviewer's verdict on one citation: does the passage state the sentence that cites it?
SUPPORTS, PARTLY, NOT_SUPPORTED = "supports", "partly", "not_supported"
CITATION_VERDICTS = {SUPPORTS: "supports", PARTLY: "partly", NOT_SUPPORTED: "does not support"}
# A reviewer's verdict on a whole answer.
CORRECT, INCORRECT, SHOULD_REFUSE = "correct", "incorrect", "should_refuse"
ANSWER_VERDICTS = {CORRECT: "correct", INCORRECT: "incorrect", SHOULD_REFUSE: "should have refused"}


@dataclass
class LoggedCitation:
    n: int  # the passage's number in the answer
    article_id: str
    passage: str  # == the article's text[start:end] when it was cited
    start: int
    end: int
    verified: bool  # the app's own mark: its verifier found the citing sentence stated in the passage
    support: float = 0.0
    sentence: str = ""  # the answer sentence(s) that cite it
    reason: str = ""  # why the app did not verify it
    quote_start: int | None = None  # the supporting sentence, in article offsets
    quote_end: int | None = None
    title: str | None = None
    date: str | None = None
    source: str | None = None
    path: str | None = None
    url: str | None = None
    verdict: str | None = None  # a reviewer's: SUPPORTS, PARTLY, NOT_SUPPORTED
    comment: str = ""
    reviewer: str | None = None
    reviewed_at: datetime | None = None

    @classmethod
    def of(cls, citation: Citation, *, verified: bool, sentence: str, reason: str = "") -> LoggedCitation:
        """What the log keeps of a citation (Citation.to_dict's keys, the passage's text as `passage`)."""
        data = citation.to_dict()
        quote = data.pop("quote")
        data |= {"passage": data["text"], "quote_start": quote["start"], "quote_end": quote["end"]}
        data |= {"verified": verified, "support": round(citation.support, 3), "sentence": sentence}
        return cls(**record_values(cls, {**data, "reason": reason}))

    def as_citation(self) -> Citation:
        quote = {"start": self.quote_start, "end": self.quote_end}
        return Citation.from_dict({**record_dict(self), "text": self.passage, "quote": quote})

    def as_passage(self) -> Passage:
        return self.as_citation().passage


@dataclass
class LoggedAnswer:
    id: str  # one per answer in the chat (ui/conversation.Exchange.id)
    question: str
    answer: str
    refused: bool
    error: str | None = None
    citations: list[LoggedCitation] = field(default_factory=list)
    sentences: list[dict] = field(default_factory=list)  # [{"text", "citations", "supported", "reason"}]
    settings: dict = field(default_factory=dict)  # qa_bot.settings.settings_snapshot()
    history: list[dict] = field(default_factory=list)  # earlier turns: [{"question", "answer"}]
    asked_on: date | None = None  # the day it was asked: the evaluation's question date
    asked_at: datetime | None = None
    user: str | None = None  # who asked (and rated) it, when the chat has a login
    standalone_question: str | None = None
    rating: int | None = None  # THUMBS_UP, THUMBS_DOWN or None
    comment: str = ""
    rated_at: datetime | None = None
    verdict: str | None = None  # a reviewer's: CORRECT, INCORRECT, SHOULD_REFUSE
    corrected_answer: str = ""
    review_comment: str = ""
    reviewer: str | None = None
    reviewed_at: datetime | None = None

    @property
    def unverified(self) -> int:
        return sum(1 for s in self.sentences if not s.get("supported", True))

    def as_answer(self) -> Answer:
        """The answer as the chat showed it, for the same rendering (verified citations only)."""
        answer = Answer.from_dict(
            {
                "question": self.question,
                "answer": self.answer,
                "refused": self.refused,
                "sentences": self.sentences,
                "standalone_question": self.standalone_question,
                "error": self.error,
            }
        )
        answer.citations = [c.as_citation() for c in self.citations if c.verified]
        return answer


@dataclass(frozen=True)
class LogFilter:
    """Which logged answers to list; every condition set must hold."""

    not_reviewed: bool = False
    reviewed: bool = False
    thumbs_up: bool = False
    thumbs_down: bool = False
    refused: bool = False
    unverified: bool = False
    no_error: bool = False
    user: str | None = None
    since: date | None = None  # asked on or after
    until: date | None = None  # asked on or before
    text: str = ""  # in the question or the answer, any case


# --- building an entry from the chat's answer ------------------------------------------------------


def entry_from_answer(
    answer: Answer,
    *,
    id: str,  # noqa: A002 (the entry's field)
    asked_on: date,
    settings: dict,
    history: Sequence[Turn] = (),
    user: str | None = None,
) -> LoggedAnswer:
    """What the log keeps of an answer, as the chat got it from QABot."""
    citations = [_verified(c, answer.sentences) for c in answer.citations]
    seen: set[str] = set()
    for sentence in [*answer.sentences, *answer.rejected]:  # a refusal's rejected claims count too
        if sentence.supported or sentence.text in seen:
            continue
        seen.add(sentence.text)
        for n in sentence.cited:
            if 1 <= n <= len(answer.passages):
                citations.append(_unverified(n, answer.passages[n - 1], sentence))
    return LoggedAnswer(
        id=id,
        question=answer.question,
        answer=answer.text,
        refused=answer.refused,
        error=answer.error,
        citations=citations,
        sentences=[s.to_dict() for s in answer.sentences],
        settings=settings,
        history=[t.to_dict() for t in history],
        asked_on=asked_on,
        user=user,
        standalone_question=answer.standalone_question,
    )


def _verified(citation: Citation, sentences: Sequence[AnswerSentence]) -> LoggedCitation:
    citing = " ".join(s.text for s in sentences if citation.n in s.citations)
    return LoggedCitation.of(citation, verified=citation.support >= 1.0, sentence=citing)


def _unverified(n: int, passage: Passage, sentence: AnswerSentence) -> LoggedCitation:
    start, end, score = best_supporting_span(sentence.text, passage)
    return LoggedCitation.of(
        Citation(n, passage, start, end, score),
        verified=False,
        sentence=sentence.text,
        reason=sentence.reason,
    )


# --- the store -------------------------------------------------------------------------------------


class AnswerLog:
    """The log in one database (SQLite or PostgreSQL); each call is one short transaction."""

    def __init__(self, url: str, *, legacy_file: Path | None = None) -> None:
        with database_errors(url):  # unreachable: one message naming the database, never its password
            self.engine = get_engine(url)
            self._migrate(url, legacy_file)

    @classmethod
    def open(cls, settings: Settings) -> AnswerLog:
        path = settings.data_dir / FILE_NAME
        return cls(database_url(settings, path), legacy_file=path)

    # writing

    def log(self, entry: LoggedAnswer) -> bool:
        """Keep an answer (once: a second call with the same id changes nothing); True when added."""
        entry.asked_at = entry.asked_at or _now()
        answer_row, citation_rows = _rows(entry)
        try:
            with self.engine.begin() as db:
                if db.execute(select(answers_table.c.id).where(answers_table.c.id == entry.id)).first():
                    return False
                db.execute(answers_table.insert(), [answer_row])
                if citation_rows:
                    db.execute(citations_table.insert(), citation_rows)
        except IntegrityError:  # another session logged the same answer at the same moment
            return False
        return True

    def rate(self, answer_id: str, rating: int | None, comment: str) -> bool:
        """Thumbs and comment from the chat; False when the answer is not in the log."""
        values = {"rating": rating, "comment": redact_data(comment), "rated_at": _now()}
        with self.engine.begin() as db:
            done = db.execute(update(answers_table).where(answers_table.c.id == answer_id).values(values))
        return done.rowcount > 0

    def review_answer(
        self,
        answer_id: str,
        verdict: str | None,
        *,
        corrected: str = "",
        comment: str = "",
        reviewer: str | None = None,
    ) -> None:
        if verdict is not None and verdict not in ANSWER_VERDICTS:
            raise ValueError(f"unknown answer verdict {verdict!r}: one of {', '.join(ANSWER_VERDICTS)}")
        values = {
            "verdict": verdict,
            "corrected_answer": corrected.strip(),
            "review_comment": comment.strip(),
            "reviewer": reviewer,
            "reviewed_at": _now(),
        }
        with self.engine.begin() as db:
            db.execute(
                update(answers_table).where(answers_table.c.id == answer_id).values(redact_data(values))
            )

    def review_citation(
        self,
        answer_id: str,
        position: int,
        verdict: str | None,
        *,
        comment: str = "",
        reviewer: str | None = None,
    ) -> None:
        if verdict is not None and verdict not in CITATION_VERDICTS:
            raise ValueError(f"unknown citation verdict {verdict!r}: one of {', '.join(CITATION_VERDICTS)}")
        values = {"verdict": verdict, "comment": comment.strip(), "reviewer": reviewer, "reviewed_at": _now()}
        where = (citations_table.c.answer_id == answer_id) & (citations_table.c.position == position)
        with self.engine.begin() as db:
            db.execute(update(citations_table).where(where).values(redact_data(values)))

    # reading

    def get(self, answer_id: str) -> LoggedAnswer | None:
        found = self._entries(select(answers_table).where(answers_table.c.id == answer_id))
        return found[0] if found else None

    def find(self, what: LogFilter | None = None, *, limit: int | None = None) -> list[LoggedAnswer]:
        """The answers the filter selects (all without one), newest first."""
        query = _filtered(select(answers_table), what or LogFilter()).order_by(
            answers_table.c.asked_at.desc(), answers_table.c.id
        )
        return self._entries(query.limit(limit) if limit else query)

    def count(self, what: LogFilter | None = None) -> int:
        query = _filtered(select(func.count()).select_from(answers_table), what or LogFilter())
        with self.engine.connect() as db:
            return db.execute(query).scalar_one()

    def users(self) -> list[str]:
        column = answers_table.c.user_name
        with self.engine.connect() as db:
            return list(
                db.execute(select(column).where(column.is_not(None)).distinct().order_by(column)).scalars()
            )

    def _entries(self, query) -> list[LoggedAnswer]:
        with self.engine.connect() as db:
            rows = db.execute(query).mappings().all()
            ids = [row["id"] for row in rows]
            cited: dict[str, list[LoggedCitation]] = {i: [] for i in ids}
            for start in range(0, len(ids), 500):  # bound the IN list
                chunk = ids[start : start + 500]
                for c in db.execute(
                    select(citations_table)
                    .where(citations_table.c.answer_id.in_(chunk))
                    .order_by(citations_table.c.answer_id, citations_table.c.position)
                ).mappings():
                    cited[c["answer_id"]].append(_citation(c))
        return [_entry(row, cited[row["id"]]) for row in rows]

    # the tables, and the feedback table of qa-bot before the log

    def _migrate(self, url: str, legacy_file: Path | None) -> None:
        """Creates or upgrades the log's tables, and copies in the chat's old `feedback` table once.

        That table is in a SQLite file in the data directory: without QA_BOT_DATABASE_URL the log's own
        database, which records the copy with the log's migrations. With a shared database, each
        machine's old file is a database of its own that records its copy into the shared log, so no
        machine's thumbs are left out and none is copied twice."""
        context = MigrationContext(feedback_rows=_legacy_rows, answer_log=self.engine)
        legacy_url = f"sqlite:///{legacy_file.resolve()}" if legacy_file is not None else None
        if legacy_url == url:
            migrate(self.engine, [ANSWER_LOG, OLD_FEEDBACK], context)
            return
        migrate(self.engine, [ANSWER_LOG])
        if legacy_url is not None and legacy_file.is_file():
            with database_errors(legacy_url):
                migrate(get_engine(legacy_url), [OLD_FEEDBACK], context)


def _now() -> datetime:
    return datetime.now(UTC)


def _utc(value: datetime | None) -> datetime | None:
    """SQLite gives back naive datetimes (stored in UTC), PostgreSQL aware ones."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _filtered(query, what: LogFilter):
    c = answers_table.c
    conditions = []
    if what.not_reviewed:
        conditions.append(c.verdict.is_(None))
    if what.reviewed:
        conditions.append(c.verdict.is_not(None))
    if what.thumbs_up:
        conditions.append(c.rating == THUMBS_UP)
    if what.thumbs_down:
        conditions.append(c.rating == THUMBS_DOWN)
    if what.refused:
        conditions.append(c.refused.is_(True))
    if what.unverified:
        conditions.append(c.unverified > 0)
    if what.no_error:
        conditions.append(c.error.is_(None))
    if what.user:
        conditions.append(c.user_name == what.user)
    if what.since:
        conditions.append(c.asked_on >= what.since)
    if what.until:
        conditions.append(c.asked_on <= what.until)
    if what.text.strip():
        needle = what.text.strip().lower()
        conditions.append(
            or_(
                func.lower(c.question).contains(needle, autoescape=True),
                func.lower(c.answer).contains(needle, autoescape=True),
            )
        )
    return query.where(*conditions) if conditions else query


# Dataclass fields stored under another column name (words SQL reserves, or too vague in a table).
_ANSWER_COLUMNS = {"user": "user_name"}
_CITATION_COLUMNS = {"date": "article_date", "start": "passage_start", "end": "passage_end"}


def _rows(entry: LoggedAnswer) -> tuple[dict, list[dict]]:
    """The rows to insert, every text redacted (data is redacted before it is serialised)."""
    answer_row = _columns(entry, _ANSWER_COLUMNS, skip={"citations"})
    answer_row["unverified"] = entry.unverified
    citation_rows = [
        {"answer_id": entry.id, "position": position, **_columns(c, _CITATION_COLUMNS)}
        for position, c in enumerate(entry.citations)
    ]
    return redact_data(answer_row), redact_data(citation_rows)


def _columns(record, renamed: dict[str, str], skip: set[str] = frozenset()) -> dict:
    return {
        renamed.get(f.name, f.name): getattr(record, f.name) for f in fields(record) if f.name not in skip
    }


def _from_row(cls, row, renamed: dict[str, str], **values):
    for f in fields(cls):
        if f.name not in values:
            value = row[renamed.get(f.name, f.name)]
            values[f.name] = _utc(value) if isinstance(value, datetime) else value
    return cls(**values)


def _entry(row, citations: list[LoggedCitation]) -> LoggedAnswer:
    return _from_row(LoggedAnswer, row, _ANSWER_COLUMNS, citations=citations, refused=bool(row["refused"]))


def _citation(row) -> LoggedCitation:
    return _from_row(LoggedCitation, row, _CITATION_COLUMNS, verified=bool(row["verified"]))


def _legacy_rows(row) -> tuple[dict, list[dict]]:
    """A row of the old `feedback` table as the log's rows (answer, citations)."""
    return _rows(_legacy_entry(row))


def _legacy_entry(row) -> LoggedAnswer:
    """A row of the old `feedback` table (citations as `qa-bot ask --json` gives them)."""
    citations = [
        LoggedCitation.of(
            Citation.from_dict({"n": i + 1, **c}), verified=(c.get("support") or 0) >= 1.0, sentence=""
        )
        for i, c in enumerate(json.loads(row["citations"] or "[]"))
    ]
    stamp = _parse_time(row.get("updated_at"))
    return LoggedAnswer(
        id=row["id"],
        question=row["question"],
        answer=row["answer"],
        refused=bool(row["refused"]),
        error=row["error"],
        citations=citations,
        settings=json.loads(row["settings"] or "{}"),
        history=json.loads(row["history"] or "[]"),
        asked_on=_parse_day(row.get("asked_on")),
        asked_at=stamp or _now(),
        user=row.get("user"),
        rating=row["rating"],
        comment=row["comment"] or "",
        rated_at=stamp if row["rating"] is not None or row["comment"] else None,
    )


def _parse_time(value: str | None) -> datetime | None:
    try:
        return _utc(datetime.fromisoformat(value)) if value else None
    except ValueError:
        return None


def _parse_day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None
