"""The API key never leaves the app, whatever its shape: a server that echoes it back in an error
("Invalid token <key>") gets its message shown, with the key blanked, in the CLI, the chat UI,
feedback, the Markdown export, the evaluation's rows and reports, and the logs."""

from __future__ import annotations

import io
import json
import logging
import sqlite3

import pytest
from streamlit.testing.v1 import AppTest

from qa_bot.answering.llm import build_chat_model
from tests.fixtures.chat_app import APP, RUN_TIMEOUT_S, ask, htmls, last_answer
from tests.fixtures.misbehaving_llms import AS_OF, QUESTION, SECRET_KEY

# The server's own words survive, so the user still learns why it refused.
SERVER_MESSAGE = "HTTP 400: Invalid token ***"


@pytest.fixture
def echoing(llm_env, key_echoing_llm_url) -> None:
    llm_env(key_echoing_llm_url, OPENAI_API_KEY=SECRET_KEY)


def test_qa_bot_ask_shows_the_servers_error_without_the_key(qa_bot, echoing, corpus):
    assert qa_bot("ingest", str(corpus)).exit_code == 0

    result = qa_bot("ask", QUESTION, "--as-of", AS_OF)
    as_json = qa_bot("ask", QUESTION, "--as-of", AS_OF, "--json")

    assert result.exit_code == 3 and as_json.exit_code == 3
    assert SERVER_MESSAGE in " ".join(result.output.split())
    assert SERVER_MESSAGE in json.loads(as_json.output)["error"]
    assert SECRET_KEY not in result.output + as_json.output
    assert "Northern pier reopens" in result.output  # the passages, as with any failure


@pytest.fixture
def release_cached_bots():
    """The app caches a QABot per settings for the process; let this test's go when it ends."""
    yield
    import streamlit as st

    st.cache_resource.clear()
    st.cache_data.clear()


def test_the_chat_ui_feedback_and_the_markdown_export_never_show_the_key(
    llm_env, key_echoing_llm_url, corpus, tmp_path, release_cached_bots
):
    llm_env(key_echoing_llm_url, OPENAI_API_KEY=SECRET_KEY, QA_BOT_CORPUS=json.dumps([str(corpus)]))
    app = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT_S)
    app.run()  # indexes the corpus on first start
    ask(app, QUESTION)

    [error] = htmls(last_answer(app), "qa-notice qa-error")
    assert SERVER_MESSAGE in error and SECRET_KEY not in error
    assert SECRET_KEY not in "".join(h.value for h in app.get("html"))

    assert not last_answer(app).feedback  # nothing to rate in a failure (comments: test_answer_log.py)
    database = tmp_path / "data" / "feedback.sqlite"
    with sqlite3.connect(database) as db:
        [error] = db.execute("SELECT error FROM answer_log").fetchone()
    assert SERVER_MESSAGE in error and SECRET_KEY not in error
    assert SECRET_KEY not in database.read_bytes().decode("utf-8", "replace")

    from ui.export import conversation_markdown

    markdown = conversation_markdown(app.session_state["exchanges"])
    assert "Invalid token ***" in markdown
    assert SECRET_KEY not in markdown


def test_an_evaluation_reports_the_error_without_the_key(qa_bot, echoing, corpus, tmp_path):
    dataset = tmp_path / "questions.jsonl"
    case = {"id": "pier", "question": QUESTION, "answers": ["Thursday"], "date": AS_OF}
    dataset.write_text(json.dumps(case) + "\n")
    out = tmp_path / "eval-out"

    result = qa_bot("eval", str(dataset), "--corpus", str(corpus), "--out", str(out))

    assert "1 errors" in result.output
    files = {name: (out / name).read_text(encoding="utf-8") for name in
             ("report.json", "report.md", "report.html", "rows.jsonl")}  # fmt: skip
    [row] = [json.loads(line) for line in files["rows.jsonl"].splitlines()]
    assert SERVER_MESSAGE in row["error"]
    for name, text in files.items():
        assert SECRET_KEY not in text, name
    assert SECRET_KEY not in result.output


def test_logs_carry_the_error_without_the_key(settings_factory, key_echoing_llm_url):
    settings = settings_factory(
        llm="openai-compatible", openai_base_url=key_echoing_llm_url, model="test",
        openai_api_key=SECRET_KEY, llm_max_retries=0,
    )  # fmt: skip
    logged = io.StringIO()
    handler = logging.StreamHandler(logged)
    logging.getLogger().addHandler(handler)
    try:
        try:
            build_chat_model(settings).invoke("Which day?")
        except Exception:
            # What the chat UI does with a failure it did not expect: the traceback goes to the log.
            logging.getLogger("qa_bot.ui").exception("Answering failed")
            logging.getLogger("some.library").warning("request failed with key %s", SECRET_KEY)
    finally:
        logging.getLogger().removeHandler(handler)

    text = logged.getvalue()
    assert "Invalid token ***" in text and "Traceback" in text
    assert SECRET_KEY not in text


def test_every_secret_setting_is_known_by_value(settings_factory):
    settings = settings_factory(openai_api_key="a-password-of-any-shape")
    assert settings.secret_values() == ["a-password-of-any-shape"]
    assert "a-password-of-any-shape" not in repr(settings)


def test_only_the_secret_is_blanked_from_what_the_app_shows(settings_factory):
    from datetime import date

    from qa_bot.answering.answer import Answer
    from ui.conversation import Exchange
    from ui.export import conversation_markdown

    settings_factory(openai_api_key=SECRET_KEY)
    text = f"Bearer bonds were sold; the api_key: field was empty; {SECRET_KEY} leaked."
    answer = Answer("Who sold bonds?", text, refused=False)
    exchange = Exchange("Who sold bonds?", answer, date(2023, 4, 20), [])

    markdown = conversation_markdown([exchange])

    assert "Bearer bonds were sold; the api_key: field was empty; *** leaked." in markdown
