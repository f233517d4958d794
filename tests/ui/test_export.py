"""The Markdown conversation export, and the names uploaded files are stored under.

The answer log (thumbs, reviews, evaluation cases) is tested in tests/team/test_answer_log.py."""

from __future__ import annotations

from datetime import date, datetime

from markdown_it import MarkdownIt

from qa_bot.answering.answer import Answer, AnswerSentence, Citation
from qa_bot.index.search import Passage
from qa_bot.service import Turn
from ui.conversation import Exchange
from ui.export import conversation_markdown
from ui.ingest import safe_filename

ARTICLE = (
    "External Affairs Minister S Jaishankar had a call with Antony Blinken on Sunday. They discussed ties."
)


def cited_answer() -> Answer:
    passage = Passage(
        "c1",
        "art-1",
        ARTICLE,
        0,
        len(ARTICLE),
        title="Jaishankar, Blinken talk",
        date="2023-04-16",
        path="/seeds/000_092cfdeac746b4f0.txt",
    )
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


def test_the_markdown_export_has_questions_answers_and_cited_quotes():
    exchange = Exchange("Which day?", cited_answer(), date(2026, 11, 23), [Turn("q", "a")])
    text = conversation_markdown([exchange], now=datetime(2026, 11, 23, 10, 30))

    assert text.startswith("# Conversation with qa-bot (2026-11-23 10:30)")
    assert "## 1. Which day?" in text
    assert "They spoke on Sunday [1]." in text
    assert "*Unverified (no passage supports it):* They also had lunch." in text
    assert "1. Jaishankar, Blinken talk (2023-04-16, /seeds/000_092cfdeac746b4f0.txt)" in text
    assert "   > External Affairs Minister S Jaishankar had a call with Antony Blinken on Sunday.\n" in text


def test_the_markdown_export_numbers_the_sources_1_2_as_the_page_does():
    # The model read seven passages and cited the 7th: the page shows it as [1], so must the export.
    answer = cited_answer()
    passage = answer.citations[0].passage
    answer.text = "They spoke on Sunday [7]."
    answer.sentences = [AnswerSentence("They spoke on Sunday.", [7], True)]
    answer.citations = [Citation(7, passage, 0, ARTICLE.index(" They"), 0.9)]
    exchange = Exchange("Which day?", answer, date(2026, 11, 23), [])

    text = conversation_markdown([exchange], now=datetime(2026, 11, 23, 10, 30))

    assert "They spoke on Sunday [1]." in text and "[7]" not in text
    assert "1. Jaishankar, Blinken talk (2023-04-16" in text


def test_the_markdown_export_shows_a_failure_with_the_retrieved_passages():
    failed = Answer(
        "Which day?",
        "cannot connect",
        refused=False,
        passages=cited_answer().passages,
        error="The LLM server at http://127.0.0.1:9 cannot be reached.",
    )
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
