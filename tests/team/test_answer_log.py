"""The answer log (qa_bot/team/answer_log.py) and what reviews are worth (qa_bot/team/reviews.py):
every answer
kept once with the citations the verifier judged, thumbs and verdicts on the same row, the old
feedback table copied in, no secret stored, the verifier's agreement with reviewers, and reviewed
answers as `qa-bot eval` cases."""

from __future__ import annotations

import json
from datetime import date

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from qa_bot.cli import app
from qa_bot.database.migrations import applied
from qa_bot.evaluation.datasets import load_dataset
from qa_bot.settings import get_settings, settings_snapshot
from qa_bot.team.answer_log import (
    CORRECT,
    INCORRECT,
    NOT_SUPPORTED,
    PARTLY,
    SHOULD_REFUSE,
    SUPPORTS,
    THUMBS_DOWN,
    THUMBS_UP,
    AnswerLog,
    LogFilter,
)
from qa_bot.team.reviews import MIN_SAMPLE, approved_cases, cases_jsonl, review_stats, reviewed_cases
from tests.fixtures.logged_answers import ASKED_ON, CALL, logged
from tests.fixtures.older_qa_bot import old_feedback_row, write_old_feedback


@pytest.fixture
def settings(settings_factory):
    return settings_factory()


@pytest.fixture
def log(settings) -> AnswerLog:
    return AnswerLog.open(settings)


def test_an_answer_is_logged_once_with_every_citation_the_verifier_judged(log, settings):
    entry = logged("a1", user="alice", unverified=True)
    assert log.log(entry) is True
    assert log.log(logged("a1", "Another question?")) is False  # an answer is logged once

    [stored] = AnswerLog.open(settings).find()  # as another process sees it
    assert (stored.question, stored.user, stored.asked_on, stored.refused) == (
        "Which day did they speak?",
        "alice",
        ASKED_ON,
        False,
    )
    assert stored.answer == "They spoke on Sunday [1]. They had lunch on Friday." and stored.unverified == 1
    assert stored.asked_at is not None and stored.rating is None and stored.verdict is None
    assert stored.history == [{"question": "Who called?", "answer": "Jaishankar [1]."}]
    assert stored.settings == {"llm": "local", "model": "qwen", "k": 6}
    verified, rejected = stored.citations
    assert (verified.n, verified.article_id, verified.verified, verified.sentence) == (
        1,
        "art-call",
        True,
        "They spoke on Sunday.",
    )
    assert (verified.passage, verified.date, verified.title) == (
        CALL,
        "2023-04-16",
        "Jaishankar, Blinken talk",
    )
    # The sentence the verifier rejected keeps the passage the model cited for it, marked not verified.
    assert (rejected.n, rejected.article_id, rejected.verified, rejected.sentence, rejected.reason) == (
        2,
        "art-meeting",
        False,
        "They had lunch on Friday.",
        "[2]: 'Friday' is absent",
    )


def test_a_refusal_keeps_the_claims_the_verifier_rejected_as_unverified_citations(log):
    log.log(logged("r1", refused=True))

    [stored] = log.find()
    assert stored.refused and stored.unverified == 0
    [citation] = stored.citations
    assert (citation.article_id, citation.verified, citation.sentence) == (
        "art-meeting",
        False,
        "They had lunch on Friday.",
    )


def test_thumbs_and_a_comment_update_the_logged_row_and_a_second_rating_replaces_the_first(log):
    log.log(logged("a1"))
    assert log.rate("a1", THUMBS_UP, "")
    assert log.rate("a1", THUMBS_DOWN, "Wrong day")

    [stored] = log.find()
    assert (stored.rating, stored.comment) == (THUMBS_DOWN, "Wrong day") and stored.rated_at is not None
    assert not log.rate("never-logged", THUMBS_UP, "")


def test_filters_select_by_review_thumbs_refusal_unverified_user_day_and_text(log):
    log.log(logged("plain", "Which day did they speak?", user="alice"))
    log.log(logged("down", "Who met in New Delhi?", user="bob", rating=THUMBS_DOWN))
    log.log(logged("refused", "What did Blinken eat?", refused=True, asked_on=date(2026, 11, 20)))
    log.log(logged("unverified", "Where did they have lunch?", unverified=True, user="bob"))
    log.log(logged("percent", "Did 100% of them agree?", asked_on=date(2026, 11, 25)))
    log.review_answer("plain", CORRECT)

    def ids(**what) -> set[str]:
        return {e.id for e in log.find(LogFilter(**what))}

    assert ids(not_reviewed=True) == {"down", "refused", "unverified", "percent"}
    assert ids(reviewed=True) == {"plain"}
    assert ids(thumbs_down=True) == {"down"}
    assert ids(refused=True) == {"refused"}
    assert ids(unverified=True) == {"unverified"}
    assert ids(user="bob") == {"down", "unverified"} and log.users() == ["alice", "bob"]
    assert ids(since=date(2026, 11, 21), until=date(2026, 11, 24)) == {"plain", "down", "unverified"}
    assert ids(text="NEW DELHI") == {"down"}
    assert ids(text="100%") == {"percent"}  # the wildcard is a character, not a pattern
    assert ids(text="lunch on friday") == {"unverified"}  # the answer is searched too
    assert log.count(LogFilter(user="bob", thumbs_down=True)) == 1


def test_the_old_feedback_table_is_copied_in_once_when_the_log_opens(settings):
    path = settings.data_dir / "feedback.sqlite"
    old_citation = {
        "n": 1,
        "article_id": "art-call",
        "title": "Call",
        "date": "2023-04-16",
        "source": None,
        "path": "/seeds/a.txt",
        "url": None,
        "text": CALL,
        "start": 0,
        "end": len(CALL),
        "quote": {"start": 0, "end": 20},
        "support": 1.0,
    }
    write_old_feedback(path, [old_feedback_row("old1", citations=[old_citation])])

    AnswerLog.open(settings)
    reopened = AnswerLog.open(settings)
    [entry] = reopened.find()  # opened twice: copied once
    with reopened.engine.connect() as db:
        assert applied(db) == ["answer_log_tables", "answer_log_feedback_of_before_the_log"]

    assert (entry.id, entry.question, entry.rating, entry.comment, entry.user) == (
        "old1",
        "Which day?",
        THUMBS_DOWN,
        "Wrong",
        "carol",
    )
    assert entry.asked_on == date(2026, 11, 2) and entry.asked_at.isoformat() == "2026-11-02T09:30:00+00:00"
    [citation] = entry.citations
    assert (citation.passage, citation.verified, citation.quote_end) == (CALL, True, 20)


def test_a_configured_key_is_stored_nowhere_in_the_log(settings_factory):
    secret = "sk-live-secret-value-1234567890"
    settings = settings_factory(openai_api_key=SecretStr(secret))  # registers the key as a secret
    log = AnswerLog.open(settings)
    entry = logged("k1")
    entry.error = f"HTTP 400: Invalid token {secret}"
    entry.citations[0].passage = f"{CALL} {secret}"
    log.log(entry)
    log.rate("k1", THUMBS_DOWN, f"It said {secret}")
    log.review_answer("k1", INCORRECT, corrected=f"Not {secret}", comment=secret, reviewer="dana")
    log.review_citation("k1", 0, NOT_SUPPORTED, comment=f"quotes {secret}")

    [stored] = log.find()
    assert stored.error == "HTTP 400: Invalid token ***" and stored.comment == "It said ***"
    assert stored.corrected_answer == "Not ***" and stored.citations[0].comment == "quotes ***"
    stored_bytes = (settings.data_dir / "feedback.sqlite").read_bytes()
    assert secret.encode() not in stored_bytes and b"Invalid token ***" in stored_bytes


def test_agreement_counts_partly_as_not_supported_for_precision_and_recall(log):
    # The app verified 5 citations and did not verify 3; reviewers marked all 8.
    marks = [(True, SUPPORTS)] * 3 + [(True, PARTLY), (True, NOT_SUPPORTED)]
    marks += [(False, SUPPORTS), (False, NOT_SUPPORTED), (False, PARTLY)]
    for i, (verified, verdict) in enumerate(marks):
        entry = logged(f"a{i}", unverified=True)
        entry.citations = [c for c in entry.citations if c.verified == verified]
        log.log(entry)
        log.review_citation(f"a{i}", 0, verdict, reviewer="erin")
    log.log(logged("unmarked", unverified=True))  # citations nobody marked do not count
    log.review_answer("a0", CORRECT, reviewer="erin")
    log.review_answer("a1", INCORRECT, corrected="Sunday.", reviewer="erin")

    stats = review_stats(log)
    agreement = stats.agreement
    assert (agreement.true_positives, agreement.false_positives) == (3, 2)
    assert (agreement.false_negatives, agreement.true_negatives) == (1, 2)
    assert agreement.reviewed == 8
    assert agreement.precision == 0.6  # 3 of the 5 verified
    assert agreement.recall == 0.75  # 3 of the 4 that support
    assert agreement.agreement == 0.625  # 5 of 8
    assert agreement.lenient_precision == 0.8  # "partly" as support: 4 of 5
    # What each figure stands on: 5 verified, 4 that support, 8 marked; all under MIN_SAMPLE.
    samples = (agreement.precision_sample, agreement.recall_sample, agreement.reviewed)
    assert samples == (5, 4, 8) and max(samples) < MIN_SAMPLE
    assert stats.as_dict()["answers"] == {
        "logged": 9,
        "reviewed": 2,
        "correct": 1,
        "incorrect": 1,
        "should_refuse": 0,
        "corrected": 1,
        "exportable": 2,
    }


def test_review_stats_prints_the_figures_and_json(log, settings, monkeypatch):
    log.log(logged("a1"))
    log.review_citation("a1", 0, PARTLY, reviewer="erin")
    monkeypatch.setenv("QA_BOT_DATA_DIR", str(settings.data_dir))
    monkeypatch.chdir(settings.data_dir)
    get_settings.cache_clear()
    runner = CliRunner()

    as_json = json.loads(runner.invoke(app, ["review-stats", "--json"], catch_exceptions=False).output)
    table = runner.invoke(app, ["review-stats"], catch_exceptions=False, env={"COLUMNS": "150"}).output
    get_settings.cache_clear()

    assert as_json["citations"]["precision"] == 0.0 and as_json["citations"]["recall"] is None
    assert as_json["citations"]["verified"] == {"supports": 0, "partly": 1, "not_supported": 0}
    assert as_json["answers"]["logged"] == 1
    assert "1 citation marked" in table and "precision, 'partly' counted as support" in table
    assert "100.0%" in table  # the lenient precision
    assert "of 1, too few" in table and "needs 20 marks" in table  # one mark is no precision


def test_reviewed_answers_become_evaluation_cases_that_qa_bot_eval_reads(log, tmp_path):
    for id_ in ("correct", "corrected", "refuse", "wrong", "right-refusal", "unreviewed"):
        log.log(logged(id_, f"Question {id_}?", refused=id_ == "right-refusal"))
    log.review_answer("correct", CORRECT, reviewer="erin", comment="Checked the article.")
    log.review_answer("corrected", INCORRECT, corrected="They spoke on Monday.", reviewer="erin")
    log.review_answer("refuse", SHOULD_REFUSE, reviewer="erin")
    log.review_answer("wrong", INCORRECT, reviewer="erin")  # no correction: nothing to test against
    log.review_answer("right-refusal", CORRECT, reviewer="erin")
    log.review_citation("corrected", 0, NOT_SUPPORTED, reviewer="erin")
    log.log(logged("failed", "Question failed?", error="cannot connect"))
    log.review_answer("failed", CORRECT, reviewer="erin")  # an error is no answer to keep

    cases = {c["id"]: c for c in reviewed_cases(log.find(LogFilter(reviewed=True)))}

    assert set(cases) == {"answer-correct", "answer-corrected", "answer-refuse", "answer-right-refusal"}
    assert review_stats(log).exportable == 4  # the count the page's button shows, made in SQL
    correct = cases["answer-correct"]
    assert correct["answers"] == ["They spoke on Sunday."] and correct["articles"] == ["art-call"]
    assert correct["date"] == ASKED_ON.isoformat() and correct["unanswerable"] is False
    assert correct["history"] == [{"question": "Who called?", "answer": "Jaishankar [1]."}]
    assert correct["notes"].startswith("Reviewed by erin on ") and correct["notes"].endswith(
        "Checked the article."
    )
    # The reviewer said its one citation does not support it: no article is expected.
    assert cases["answer-corrected"]["answers"] == ["They spoke on Monday."]
    assert cases["answer-corrected"]["articles"] == []
    for refusal in ("answer-refuse", "answer-right-refusal"):
        assert cases[refusal]["unanswerable"] is True and cases[refusal]["answers"] == []
    dataset = tmp_path / "reviewed.jsonl"
    dataset.write_text(cases_jsonl(list(cases.values())), encoding="utf-8")
    assert [item.id for item in load_dataset(dataset)] == list(cases)


def test_thumbs_up_answers_from_the_chat_export_unless_a_reviewer_says_otherwise(log):
    log.log(logged("up", rating=THUMBS_UP))
    log.log(logged("down", rating=THUMBS_DOWN))
    log.log(logged("failed", rating=THUMBS_UP, error="cannot connect"))
    log.log(logged("overruled", rating=THUMBS_UP))
    log.review_answer("overruled", INCORRECT)

    assert [c["id"] for c in approved_cases(log.find())] == ["answer-up"]


def test_the_settings_snapshot_keeps_no_key_and_no_server_address(settings_factory):
    settings = settings_factory(
        llm="openai",
        openai_api_key=SecretStr("sk-live-secret-1234"),
        openai_base_url="https://user:password@llm.internal/v1",
    )
    snapshot = settings_snapshot(settings, k=3, since=date(2023, 1, 1), until=None, sources=["cnn.com"])

    dumped = json.dumps(snapshot)
    assert "sk-live" not in dumped and "password" not in dumped and "llm.internal" not in dumped
    assert snapshot["llm"] == "openai" and snapshot["k"] == 3 and snapshot["since"] == "2023-01-01"
