"""What the reviewers' verdicts are worth: the verifier's agreement with them, and evaluation cases.

Agreement. The app's verifier marks each citation verified or not
(qa_bot.answering.answer, qa_bot.answering.verify);
reviewers mark the same citations supports / partly / does not support. A reviewer's "supports" is a
positive; "partly" and "does not support" are negatives, because a verified mark tells the reader
that the passage states the sentence, and partly is not that. So precision is the share of verified
citations that reviewers say support their sentence, recall the share of citations reviewers say
support their sentence that the app verified, and agreement the share where both say the same.
`lenient_precision` counts "partly" as support, for the looser reading.

Each figure has its own sample: precision the verified citations reviewers marked, recall the
citations they said support their sentence, agreement every citation they marked. Under
MIN_SAMPLE a figure is shown with its sample and "too few to judge": with 20 marks, a 95%
interval around a share of 80% still runs from about 58% to 92%; with 5, from 38% to 96%.

Export. Reviewed answers become cases of the `qa-bot eval` dataset format
(qa_bot.evaluation.datasets): a correct answer keeps its text, a corrected one its correction, one
that should have been refused becomes an unanswerable question.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import and_, func, or_, select

from qa_bot.database.tables import answers_table, citations_table
from qa_bot.redaction import redact_data
from qa_bot.team.answer_log import (
    ANSWER_VERDICTS,
    CITATION_VERDICTS,
    CORRECT,
    INCORRECT,
    NOT_SUPPORTED,
    PARTLY,
    SHOULD_REFUSE,
    SUPPORTS,
    THUMBS_UP,
    AnswerLog,
    LogFilter,
    LoggedAnswer,
)

_MARKERS = re.compile(r"\s*\[\d+\]")
MIN_SAMPLE = 20  # marks a figure needs before it says anything (see above)


@dataclass(frozen=True)
class Agreement:
    """The verifier as a classifier of citations, graded by reviewers (the rules are above)."""

    verified: dict[str, int] = field(default_factory=dict)  # reviewer verdict -> citations the app verified
    unverified: dict[str, int] = field(default_factory=dict)  # ... -> citations it did not verify

    @classmethod
    def from_counts(cls, counts: dict[tuple[bool, str], int]) -> Agreement:
        verified = {v: counts.get((True, v), 0) for v in CITATION_VERDICTS}
        unverified = {v: counts.get((False, v), 0) for v in CITATION_VERDICTS}
        return cls(verified, unverified)

    @property
    def true_positives(self) -> int:
        return self.verified.get(SUPPORTS, 0)

    @property
    def false_positives(self) -> int:
        return self.verified.get(PARTLY, 0) + self.verified.get(NOT_SUPPORTED, 0)

    @property
    def false_negatives(self) -> int:
        return self.unverified.get(SUPPORTS, 0)

    @property
    def true_negatives(self) -> int:
        return self.unverified.get(PARTLY, 0) + self.unverified.get(NOT_SUPPORTED, 0)

    @property
    def reviewed(self) -> int:
        return sum(self.verified.values()) + sum(self.unverified.values())

    @property
    def precision_sample(self) -> int:
        """The verified citations reviewers marked: what precision is measured on."""
        return sum(self.verified.values())

    @property
    def recall_sample(self) -> int:
        """The citations reviewers say support their sentence: what recall is measured on."""
        return self.true_positives + self.false_negatives

    @property
    def precision(self) -> float | None:
        return _ratio(self.true_positives, self.true_positives + self.false_positives)

    @property
    def lenient_precision(self) -> float | None:
        return _ratio(self.true_positives + self.verified.get(PARTLY, 0), sum(self.verified.values()))

    @property
    def recall(self) -> float | None:
        return _ratio(self.true_positives, self.true_positives + self.false_negatives)

    @property
    def agreement(self) -> float | None:
        return _ratio(self.true_positives + self.true_negatives, self.reviewed)

    def as_dict(self) -> dict:
        return {
            "reviewed_citations": self.reviewed,
            "precision": self.precision,
            "recall": self.recall,
            "agreement": self.agreement,
            "lenient_precision": self.lenient_precision,
            "true_positives": self.true_positives,
            "false_positives": self.false_positives,
            "false_negatives": self.false_negatives,
            "true_negatives": self.true_negatives,
            "verified": dict(self.verified),
            "not_verified": dict(self.unverified),
        }


def sample_note(sample: int, what: str) -> str:
    """What a figure stands on: "of 1 verified citation marked: too few to judge, mark at least 20"."""
    counted = f"of {sample} {what}{'s' if sample != 1 else ''} marked"
    if sample >= MIN_SAMPLE:
        return counted
    return f"{counted}: too few to judge, mark at least {MIN_SAMPLE}"


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


@dataclass(frozen=True)
class ReviewStats:
    answers: int  # logged
    verdicts: dict[str, int]  # answer verdict -> reviewed answers
    corrected: int  # reviewed answers with a corrected answer
    exportable: int  # reviewed answers that become evaluation cases (`evaluation_case`)
    agreement: Agreement

    @property
    def reviewed(self) -> int:
        return sum(self.verdicts.values())

    def as_dict(self) -> dict:
        return {
            "answers": {
                "logged": self.answers,
                "reviewed": self.reviewed,
                **{v: self.verdicts.get(v, 0) for v in ANSWER_VERDICTS},
                "corrected": self.corrected,
                "exportable": self.exportable,
            },
            "citations": self.agreement.as_dict(),
        }


def review_stats(log: AnswerLog) -> ReviewStats:
    """Answers logged and reviewed, and the verifier's agreement with the reviewers' citation verdicts."""
    answers, citations = answers_table.c, citations_table.c
    with log.engine.connect() as db:
        logged = db.execute(select(func.count()).select_from(answers_table)).scalar_one()
        verdicts = db.execute(
            select(answers.verdict, func.count())
            .where(answers.verdict.is_not(None))
            .group_by(answers.verdict)
        ).all()
        corrected = db.execute(
            select(func.count()).where(answers.verdict.is_not(None), answers.corrected_answer != "")
        ).scalar_one()
        exportable = db.execute(select(func.count()).where(_becomes_a_case())).scalar_one()
        marks = db.execute(
            select(citations.verified, citations.verdict, func.count())
            .where(citations.verdict.is_not(None))
            .group_by(citations.verified, citations.verdict)
        ).all()
    agreement = Agreement.from_counts({(bool(v), verdict): n for v, verdict, n in marks})
    return ReviewStats(logged, dict(verdicts), corrected, exportable, agreement)


def _becomes_a_case():
    """Which reviewed answers `evaluation_case` turns into a case, as SQL (counted without loading them)."""
    answers = answers_table.c
    return or_(
        answers.verdict == SHOULD_REFUSE,
        and_(answers.verdict.in_([CORRECT, INCORRECT]), answers.corrected_answer != ""),
        and_(answers.verdict == CORRECT, or_(answers.refused.is_(True), answers.error.is_(None))),
    )


# --- export: reviewed answers as evaluation cases --------------------------------------------------


def evaluation_case(entry: LoggedAnswer) -> dict | None:
    """The answer as a `qa-bot eval` case, or None when nothing says what the right answer is.

    A reviewer's verdict decides: correct keeps the answer (a correct refusal stays unanswerable),
    a corrected answer replaces it, should-have-refused makes the question unanswerable, incorrect
    without a correction is no case. Without a verdict, a thumbs-up answer counts as correct.
    """
    corrected = entry.corrected_answer.strip()
    verdict = entry.verdict or (CORRECT if entry.rating == THUMBS_UP else None)
    if verdict == SHOULD_REFUSE or (verdict == CORRECT and entry.refused and not corrected):
        unanswerable, answers = True, []
    elif corrected and verdict in {CORRECT, INCORRECT}:
        unanswerable, answers = False, [corrected]
    elif verdict == CORRECT and not entry.error:
        unanswerable, answers = False, [without_markers(entry.answer)]
    else:
        return None
    case = {
        "id": f"answer-{entry.id}",
        "question": entry.question,
        "answers": answers,
        "all": False,
        "unanswerable": unanswerable,
        "articles": [] if unanswerable else _supporting_articles(entry),
        "date": entry.asked_on.isoformat() if entry.asked_on else None,
        "history": entry.history,
    }
    if entry.verdict:
        case["notes"] = _review_note(entry)
    return redact_data(case)


def without_markers(answer: str) -> str:
    """The answer's text without its `[n]` citation markers."""
    return _MARKERS.sub("", answer).strip()


def _supporting_articles(entry: LoggedAnswer) -> list[str]:
    """Articles of the citations the reviewer kept (or, unreviewed, the ones the app verified)."""
    kept = {
        c.article_id
        for c in entry.citations
        if c.article_id and (c.verdict in {SUPPORTS, PARTLY} or (c.verdict is None and c.verified))
    }
    return sorted(kept)


def _review_note(entry: LoggedAnswer) -> str:
    when = entry.reviewed_at.date().isoformat() if entry.reviewed_at else "?"
    who = entry.reviewer or "someone without a login"
    note = f"Reviewed by {who} on {when}: {ANSWER_VERDICTS[entry.verdict]}."
    return f"{note} {entry.review_comment}" if entry.review_comment else note


def reviewed_cases(entries: Sequence[LoggedAnswer]) -> list[dict]:
    """One case per reviewed answer that says what the right answer is."""
    return [case for e in entries if e.verdict and (case := evaluation_case(e))]


def approved_cases(entries: Sequence[LoggedAnswer]) -> list[dict]:
    """One case per thumbs-up answer from the chat (a reviewer's verdict, if any, wins)."""
    return [case for e in entries if e.rating == THUMBS_UP and (case := evaluation_case(e))]


def cases_jsonl(cases: Sequence[dict]) -> str:
    return "".join(json.dumps(case, ensure_ascii=False) + "\n" for case in cases)


def reviewed_jsonl(log: AnswerLog) -> str:
    """Every reviewed answer that says what the right answer is, as a `qa-bot eval` dataset."""
    return cases_jsonl(reviewed_cases(log.find(LogFilter(reviewed=True))))


def approved_jsonl(log: AnswerLog) -> str:
    """The chat's thumbs-up answers as a `qa-bot eval` dataset."""
    return cases_jsonl(approved_cases(log.find(LogFilter(thumbs_up=True))))
