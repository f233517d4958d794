"""The review queue at /review through Streamlit's AppTest: the real app over the seed articles, with
the extractive answerer (no LLM). Questions are asked in the chat, and more answers are put in the
log directly (tests/fixtures/logged_answers.py); a reviewer filters, marks and exports them."""

from __future__ import annotations

import json
import sqlite3
from datetime import date
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from typer.testing import CliRunner

from qa_bot.cli import app as cli
from qa_bot.settings import PROJECT_ROOT, Settings, get_settings
from qa_bot.team.answer_log import THUMBS_DOWN, AnswerLog
from qa_bot.team.reviews import reviewed_jsonl
from tests.fixtures.logged_answers import logged

pytestmark = pytest.mark.integration  # starts processes or servers: outside the fast subset

APP = str(PROJECT_ROOT / "ui" / "app.py")
RUN_TIMEOUT_S = 120  # the first run indexes the seeds on 2 shared cores
NO_LLM = "http://127.0.0.1:9/v1"  # the extractive answerer calls no server

DAY_QUESTION = "On which day did Jaishankar and Blinken speak on the telephone?"
BREAKFAST_QUESTION = "What did Blinken eat for breakfast in New Delhi?"  # answered, wrongly
NGO_QUESTION = "What did Blinken say about NGOs?"


@pytest.fixture
def start(app_env):
    """`start(*questions) -> (app, env)`: the app on its chat page, each question asked there."""

    def open_app(*questions: str) -> tuple[AppTest, dict[str, str]]:
        env = app_env(NO_LLM, QA_BOT_LLM="extractive")
        app = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT_S)
        app.run()
        for question in questions:
            app.chat_input[0].set_value(question).run()
            assert not app.exception, app.exception
        return app, env

    return open_app


def review_page(app: AppTest) -> AppTest:
    app.switch_page("review_page.py").run()
    assert not app.exception, app.exception
    return app


def listed(app: AppTest) -> list[str]:
    """The questions listed, newest first (each answer is an expander labelled "question · marks")."""
    return [e.label.split(" · ")[0] for e in app.expander if " · " in e.label]


def entry(app: AppTest, question: str):
    [found] = [e for e in app.expander if e.label.startswith(question)]
    return found


def metrics(app: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in app.metric}


def log_of(env: dict[str, str]) -> AnswerLog:
    return AnswerLog.open(Settings(_env_file=None, data_dir=Path(env["QA_BOT_DATA_DIR"])))


def test_the_review_page_lists_what_was_asked_and_the_filters_narrow_it(start):
    app, env = start(DAY_QUESTION)
    log = log_of(env)
    log.log(logged("down", "Who met in New Delhi?", user="bob", rating=THUMBS_DOWN))
    log.log(logged("refused", "What did Blinken eat?", user="alice", refused=True, asked_on=date(2026, 1, 5)))
    log.log(logged("unverified", "Where did they have lunch?", user="bob", unverified=True))

    review_page(app)
    assert sorted(listed(app)) == sorted(
        [DAY_QUESTION, "Who met in New Delhi?", "What did Blinken eat?", "Where did they have lunch?"]
    )
    assert "○ not reviewed" in entry(app, DAY_QUESTION).label

    toggles = {t.label: t for t in app.sidebar.toggle}
    toggles["Rated thumbs down"].set_value(True).run()
    assert listed(app) == ["Who met in New Delhi?"]
    app.sidebar.toggle(key="review_thumbs_down").set_value(False).run()
    app.sidebar.toggle(key="review_refused").set_value(True).run()
    assert listed(app) == ["What did Blinken eat?"]
    app.sidebar.toggle(key="review_refused").set_value(False).run()
    app.sidebar.toggle(key="review_unverified").set_value(True).run()
    assert listed(app) == ["Where did they have lunch?"]
    assert "⚠ 1 unverified" in entry(app, "Where did they have lunch?").label
    app.sidebar.toggle(key="review_unverified").set_value(False).run()

    app.sidebar.selectbox(key="review_user").set_value("bob").run()
    assert sorted(listed(app)) == ["Where did they have lunch?", "Who met in New Delhi?"]
    app.sidebar.selectbox(key="review_user").set_value("Everyone").run()
    app.sidebar.toggle(key="review_by_date").set_value(True).run()  # today only
    assert DAY_QUESTION in listed(app) and "What did Blinken eat?" not in listed(app)
    app.sidebar.date_input(key="review_dates").set_value((date(2026, 1, 1), date(2026, 1, 31))).run()
    assert listed(app) == ["What did Blinken eat?"]
    app.sidebar.toggle(key="review_by_date").set_value(False).run()
    app.sidebar.text_input(key="review_text").set_value("telephone").run()
    assert listed(app) == [DAY_QUESTION]
    app.sidebar.text_input(key="review_text").set_value("nothing like this").run()
    assert not listed(app) and app.info[0].value == "No answer matches these filters."


def test_verdicts_are_saved_with_the_reviewer_and_the_agreement_is_shown(start):
    app, env = start()
    log_of(env).log(logged("a1", "Where did they have lunch?", unverified=True))
    review_page(app)
    assert metrics(app)["Verifier precision"] == "–"

    app.sidebar.text_input(key="reviewer_name").set_value("erin").run()
    verified, rejected, answer = entry(app, "Where did they have lunch?").radio
    assert verified.options == ["supports", "partly", "does not support"]
    verified.set_value("supports").run()
    # The app did not verify the second citation; the reviewer says the passage does support it.
    entry(app, "Where did they have lunch?").radio[1].set_value("supports").run()
    entry(app, "Where did they have lunch?").radio[2].set_value("correct").run()
    assert not app.exception

    assert metrics(app) == {
        "Answers reviewed": "1 of 1",
        "Verifier precision": "100%",
        "Verifier recall": "50%",
        "Agreement": "50%",
    }
    assert "✔ correct" in entry(app, "Where did they have lunch?").label
    with sqlite3.connect(Path(env["QA_BOT_DATA_DIR"]) / "feedback.sqlite") as db:
        assert db.execute("SELECT verdict, reviewer FROM answer_log").fetchall() == [("correct", "erin")]
        marks = db.execute("SELECT verified, verdict, reviewer FROM answer_log_citations ORDER BY position")
        assert marks.fetchall() == [(1, "supports", "erin"), (0, "supports", "erin")]

    # Another session (another reviewer, or a reload) sees the verdicts as saved.
    again = review_page(AppTest.from_file(APP, default_timeout=RUN_TIMEOUT_S).run())
    assert [r.value for r in entry(again, "Where did they have lunch?").radio] == [
        "supports",
        "supports",
        "correct",
    ]
    assert any(
        c.value.startswith("Marked by erin, ") for c in entry(again, "Where did they have lunch?").caption
    )


def test_reviewed_answers_export_and_qa_bot_eval_runs_them_as_they_are(start, tmp_path):
    app, env = start(DAY_QUESTION, BREAKFAST_QUESTION, NGO_QUESTION)
    review_page(app)
    entry(app, DAY_QUESTION).radio[-1].set_value("correct").run()
    entry(app, BREAKFAST_QUESTION).radio[-1].set_value("should_refuse").run()
    entry(app, NGO_QUESTION).radio[-1].set_value("incorrect").run()
    entry(app, NGO_QUESTION).text_area[0].set_value("He said NGOs must be able to work freely.").run()
    assert not app.exception
    [download] = [b for b in app.get("download_button") if "evaluation cases" in b.proto.label]
    assert "(JSONL, 3)" in download.proto.label

    out, runner = tmp_path / "reviewed.jsonl", CliRunner()
    get_settings.cache_clear()
    exported = runner.invoke(cli, ["review-export", str(out)], catch_exceptions=False)
    assert "Wrote 3 evaluation cases" in exported.output
    assert out.read_text(encoding="utf-8") == reviewed_jsonl(log_of(env))  # what the page's button gives
    evaluated = runner.invoke(
        cli,
        ["eval", str(out), "--index", env["QA_BOT_DATA_DIR"], "--out", str(tmp_path / "eval")],
        catch_exceptions=False,
    )
    get_settings.cache_clear()

    assert evaluated.exit_code == 0, evaluated.output
    rows = {row["question"]: row for row in map(json.loads, (tmp_path / "eval" / "rows.jsonl").open())}
    assert set(rows) == {DAY_QUESTION, BREAKFAST_QUESTION, NGO_QUESTION} and not any(
        r["error"] for r in rows.values()
    )
    assert rows[DAY_QUESTION]["passed"] is True  # the same bot gives the same answer again
    assert rows[BREAKFAST_QUESTION]["gold"]["unanswerable"] is True
    assert rows[NGO_QUESTION]["gold"]["answers"] == ["He said NGOs must be able to work freely."]
