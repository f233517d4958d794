"""Reviewers' feedback (SQLite, exported as evaluation cases) and the Markdown conversation export."""

from __future__ import annotations

import json
from datetime import date, datetime

from markdown_it import MarkdownIt
from pydantic import SecretStr

from qa_bot.answer import Answer, AnswerSentence, Citation
from qa_bot.retrieval import Passage
from qa_bot.service import Turn
from qa_bot.settings import Settings
from ui.conversation import Exchange
from ui.export import conversation_markdown
from ui.feedback import (
    THUMBS_DOWN,
    THUMBS_UP,
    FeedbackRecord,
    FeedbackStore,
    evaluation_jsonl,
    settings_snapshot,
)
from ui.ingest import safe_filename

ARTICLE = (
    "External Affairs Minister S Jaishankar had a call with Antony Blinken on Sunday. They discussed ties."
)


def cited_answer() -> Answer:
    passage = Passage(
        "c1", "art-1", ARTICLE, 0, len(ARTICLE),
        title="Jaishankar, Blinken talk", date="2023-04-16", path="/seeds/000_092cfdeac746b4f0.txt",
    )  # fmt: skip
    quote_end = ARTICLE.index(" They")
    return Answer(
        question="Which day?",
        text="They spoke on Sunday [1]. They also had lunch.",
        refused=False,
        sentences=[
            AnswerSentence("They spoke on Sunday.", [1], True),
            AnswerSentence("They also had lunch.", [], False),
        ],
        citations=[Citation(1, passage, 0, quote_end, 0.9)],
        passages=[passage],
    )


def record(**overrides) -> FeedbackRecord:
    values = dict(
        id="abc123", question="Which day?", answer="They spoke on Sunday [1].", refused=False, error=None,
        citations=[{"n": 1, "article_id": "art-1"}], settings={"llm": "local"},
        history=[{"question": "Who called?", "answer": "Jaishankar [1]."}], asked_on="2026-11-23",
        rating=THUMBS_UP,
    )  # fmt: skip
    values.update(overrides)
    return FeedbackRecord(**values)


def test_feedback_is_stored_and_a_second_rating_of_the_same_answer_replaces_the_first(tmp_path):
    store = FeedbackStore(tmp_path / "feedback.sqlite")
    store.save(record())
    store.save(record(rating=THUMBS_DOWN, comment="Wrong day"))
    store.save(record(id="other", rating=None, comment="Unclear"))

    rows = {r.id: r for r in store.records()}
    assert set(rows) == {"abc123", "other"}
    assert (rows["abc123"].rating, rows["abc123"].comment) == (THUMBS_DOWN, "Wrong day")
    assert rows["abc123"].history == [{"question": "Who called?", "answer": "Jaishankar [1]."}]
    assert FeedbackStore(tmp_path / "feedback.sqlite").records()[0].citations  # survives a reopen


def test_approved_answers_export_as_evaluation_cases():
    records = [
        record(),
        record(id="refused", answer="The articles don't say.", refused=True, citations=[]),
        record(id="down", rating=THUMBS_DOWN),
        record(id="failed", error="cannot connect"),
    ]
    cases = [json.loads(line) for line in evaluation_jsonl(records).splitlines()]

    assert [c["id"] for c in cases] == ["feedback-abc123", "feedback-refused"]
    answered, refused = cases
    assert answered == {
        "id": "feedback-abc123", "question": "Which day?", "answers": ["They spoke on Sunday."], "all": False,
        "unanswerable": False, "articles": ["art-1"], "date": "2026-11-23",
        "history": [{"question": "Who called?", "answer": "Jaishankar [1]."}],
    }  # fmt: skip
    assert refused["unanswerable"] is True and refused["answers"] == [] and refused["articles"] == []


def test_the_settings_snapshot_keeps_no_key_and_no_server_address():
    settings = Settings(
        _env_file=None, llm="openai", openai_api_key=SecretStr("sk-live-secret-1234"),
        openai_base_url="https://user:password@llm.internal/v1",
    )  # fmt: skip
    snapshot = settings_snapshot(settings, k=3, since=date(2023, 1, 1), until=None, sources=["cnn.com"])

    dumped = json.dumps(snapshot)
    assert "sk-live" not in dumped and "password" not in dumped and "llm.internal" not in dumped
    assert snapshot["llm"] == "openai" and snapshot["k"] == 3 and snapshot["since"] == "2023-01-01"


def test_the_markdown_export_has_questions_answers_and_cited_quotes():
    exchange = Exchange("Which day?", cited_answer(), date(2026, 11, 23), [Turn("q", "a")])
    text = conversation_markdown([exchange], now=datetime(2026, 11, 23, 10, 30))

    assert text.startswith("# Conversation with qa-bot (2026-11-23 10:30)")
    assert "## 1. Which day?" in text
    assert "They spoke on Sunday [1]." in text
    assert "*Unverified (no passage supports it):* They also had lunch." in text
    assert "1. Jaishankar, Blinken talk (2023-04-16, /seeds/000_092cfdeac746b4f0.txt)" in text
    assert "   > External Affairs Minister S Jaishankar had a call with Antony Blinken on Sunday.\n" in text


def test_the_markdown_export_shows_a_failure_with_the_retrieved_passages():
    failed = Answer("Which day?", "cannot connect", refused=False, passages=cited_answer().passages,
                    error="The LLM server at http://127.0.0.1:9 cannot be reached.")  # fmt: skip
    text = conversation_markdown([Exchange("Which day?", failed, date.today(), [])])

    assert "**The answer failed:** The LLM server at http://127.0.0.1:9 cannot be reached." in text
    assert "**Retrieved passages**" in text and "on Sunday" in text


def test_hostile_text_in_the_markdown_export_cannot_become_a_link_image_or_html():
    answer = cited_answer()
    hostile = "See [click](javascript:alert(1)) ![x](http://evil/x.png) <img src=x onerror=alert(1)>."
    answer.citations[0].passage.text = hostile + " " + ARTICLE
    answer.text = "They spoke on Sunday [1](http://evil). " + hostile
    exchange = Exchange("<script>alert(1)</script>", answer, date.today(), [])

    tokens = MarkdownIt("commonmark").parse(conversation_markdown([exchange]))
    kinds = {t.type for t in tokens} | {c.type for t in tokens for c in (t.children or [])}
    assert not kinds & {"link_open", "image", "html_inline", "html_block"}


def test_uploaded_file_names_cannot_leave_the_uploads_folder():
    assert safe_filename("../../etc/passwd") == "passwd"
    assert safe_filename("..\\..\\evil.txt") == "evil.txt"
    assert safe_filename("notes <1>.md") == "notes _1_.md"
    assert safe_filename("..") == "upload.txt"
