"""The review queue at /review through Streamlit's AppTest: the real app over the seed articles, with
the extractive answerer (no LLM). Questions are asked in the chat, and more answers are put in the
log directly (tests/fixtures/logged_answers.py); a reviewer filters, marks and exports them."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from typer.testing import CliRunner

from qa_bot.answering.answer import REFUSAL_MESSAGE
from qa_bot.cli import app as cli
from qa_bot.settings import PROJECT_ROOT, Settings, get_settings
from qa_bot.team.answer_log import THUMBS_DOWN, AnswerLog
from qa_bot.team.reviews import MIN_SAMPLE, reviewed_jsonl
from qa_bot.team.users import UsersFile
from tests.fixtures.logged_answers import logged

pytestmark = pytest.mark.integration  # starts processes or servers: outside the fast subset

APP = str(PROJECT_ROOT / "ui" / "app.py")
RUN_TIMEOUT_S = 120  # the first run indexes the seeds on 2 shared cores
NO_LLM = "http://127.0.0.1:9/v1"  # the extractive answerer calls no server

DAY_QUESTION = "On which day did Jaishankar and Blinken speak on the telephone?"
BREAKFAST_QUESTION = "What did Blinken eat for breakfast in New Delhi?"  # answered, wrongly
NGO_QUESTION = "What did Blinken say about NGOs?"
LUNCH_QUESTION = "Where did they have lunch?"  # logged directly (tests/fixtures/logged_answers.py)


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


def captions(element) -> list[str]:
    return [c.value for c in element.caption]


def reviewer(app: AppTest, name: str) -> AppTest:
    app.sidebar.text_input(key="reviewer").set_value(name).run()
    assert not app.exception, app.exception
    return app


def one_answer_to_review(start, name: str | None = None) -> tuple[AppTest, dict[str, str]]:
    """The review page with one logged answer (LUNCH_QUESTION), the reviewer's name typed if given."""
    app, env = start()
    log_of(env).log(logged("a1", LUNCH_QUESTION))
    review_page(app)
    return (reviewer(app, name) if name else app), env


def mark_answer(app: AppTest, question: str, verdict: str) -> AppTest:
    """The reviewer's verdict on the whole answer (its last radio)."""
    entry(app, question).radio[-1].set_value(verdict).run()
    assert not app.exception, app.exception
    return app


def saved_verdicts(env: dict[str, str]) -> list[tuple]:
    with sqlite3.connect(Path(env["QA_BOT_DATA_DIR"]) / "feedback.sqlite") as db:
        return db.execute("SELECT id, verdict, reviewer FROM answer_log ORDER BY id").fetchall()


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

    reviewer(app, "erin")
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
    assert "✔ marked correct by erin" in entry(app, "Where did they have lunch?").label
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
        c.startswith("Saved: ✔ marked correct by erin, ")
        for c in captions(entry(again, "Where did they have lunch?"))
    )


def test_reviewed_answers_export_and_qa_bot_eval_runs_them_as_they_are(start, tmp_path):
    app, env = start(DAY_QUESTION, BREAKFAST_QUESTION, NGO_QUESTION)
    reviewer(review_page(app), "erin")
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


def test_a_mark_without_a_reviewer_name_is_not_saved_and_the_page_says_what_is_missing(start):
    app, env = one_answer_to_review(start)

    item = entry(app, LUNCH_QUESTION)
    assert [i.value for i in item.info] == [
        "Type your name under **Reviewer** in the sidebar to mark answers: each mark is saved with it."
    ]
    assert all(r.disabled for r in item.radio)  # nothing to click until there is a name
    reviewer(app, "  ")  # blanks are no name
    assert all(r.disabled for r in entry(app, LUNCH_QUESTION).radio)

    # A name cleared and a mark clicked before the page caught up: the mark is refused, said so.
    reviewer(app, "erin")
    app.sidebar.text_input(key="reviewer").set_value("")
    mark_answer(app, LUNCH_QUESTION, "correct")
    assert not app.exception, app.exception
    assert "Nothing saved: type your name under Reviewer in the sidebar first." in [
        t.value for t in app.toast
    ]
    assert saved_verdicts(env) == [("a1", None, None)]

    reviewer(app, "erin")
    assert not entry(app, LUNCH_QUESTION).info
    mark_answer(app, LUNCH_QUESTION, "correct")
    assert saved_verdicts(env) == [("a1", "correct", "erin")]


def test_the_reviewer_name_is_kept_in_the_address_so_a_reload_keeps_it(start):
    app, env = one_answer_to_review(start, "erin")
    field = app.sidebar.text_input(key="reviewer")
    assert field.proto.query_param_key == "reviewer"  # the browser writes it into the URL: ?reviewer=erin

    reloaded = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT_S)
    reloaded.query_params["reviewer"] = "erin"  # the address the browser reloads
    reloaded.run()
    review_page(reloaded)

    assert reloaded.sidebar.text_input(key="reviewer").value == "erin"
    mark_answer(reloaded, LUNCH_QUESTION, "incorrect")
    assert saved_verdicts(env) == [("a1", "incorrect", "erin")]


def test_a_signed_in_reviewer_marks_under_the_sign_in_name(app_env, tmp_path):
    users_file = tmp_path / "users.json"
    UsersFile(users_file).add("ana", "correct horse battery")
    env = app_env(NO_LLM, QA_BOT_LLM="extractive", QA_BOT_AUTH="password", QA_BOT_USERS_FILE=str(users_file))
    log_of(env).log(logged("a1", LUNCH_QUESTION))
    app = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT_S).run()
    app.text_input[0].set_value("ana")
    app.text_input[1].set_value("correct horse battery")
    app.button[0].click().run()  # the sign-in form
    review_page(app)

    assert "Your marks are saved as ana (signed in)." in captions(app.sidebar)
    assert "reviewer" not in [t.key for t in app.sidebar.text_input]  # no name to type
    mark_answer(app, LUNCH_QUESTION, "correct")
    assert saved_verdicts(env) == [("a1", "correct", "ana")]


def test_a_marked_answer_stays_open_shows_what_was_saved_and_no_check_mark_for_incorrect(start):
    app, env = one_answer_to_review(start, "erin")
    assert entry(app, LUNCH_QUESTION).proto.expanded is False

    entry(app, LUNCH_QUESTION).radio[0].set_value("not_supported").run()
    mark_answer(app, LUNCH_QUESTION, "incorrect")

    item = entry(app, LUNCH_QUESTION)
    assert item.proto.expanded is True  # not collapsed under the reviewer after each mark
    assert "✗ marked incorrect by erin" in item.label and "✔" not in item.label
    shown = captions(item)
    assert any(c.startswith("Saved: does not support, marked by erin, ") for c in shown), shown
    assert any(c.startswith("Saved: ✗ marked incorrect by erin, ") for c in shown), shown
    assert [r.value for r in item.radio] == ["not_supported", "incorrect"]


def test_the_same_question_asked_twice_is_told_apart_by_time_asker_and_answer(start):
    app, env = start()
    log = log_of(env)
    for id_, user, refused, hour in (("a1", "alice", False, 9), ("a2", "bob", True, 14)):
        answer = logged(id_, "Which day did they speak?", user=user, refused=refused)
        answer.asked_at = datetime(2026, 11, 23, hour, 5, tzinfo=UTC)
        log.log(answer)
    review_page(app)

    labels = [e.label for e in app.expander if e.label.startswith("Which day did they speak?")]
    assert labels == [
        f"Which day did they speak? · 2026-11-23 14:05 UTC · bob · “{REFUSAL_MESSAGE}” · ○ not reviewed"
        " · refused",
        "Which day did they speak? · 2026-11-23 09:05 UTC · alice · “They spoke on Sunday.” · ○ not reviewed",
    ]


def test_the_verifier_figures_give_their_sample_and_say_when_it_is_too_few(start):
    app, env = start()
    log = log_of(env)
    log.log(logged("a1", LUNCH_QUESTION))
    reviewer(review_page(app), "erin")
    entry(app, LUNCH_QUESTION).radio[0].set_value("not_supported").run()

    assert metrics(app)["Verifier precision"] == "0%"
    assert f"of 1 verified citation marked: too few to judge, mark at least {MIN_SAMPLE}" in captions(app)
    assert f"of 0 supporting citations marked: too few to judge, mark at least {MIN_SAMPLE}" in captions(app)

    for n in range(2, MIN_SAMPLE + 1):
        log.log(logged(f"a{n}", f"Question {n}?"))
        log.review_citation(f"a{n}", 0, "supports", reviewer="erin")
    app.run()
    assert metrics(app)["Verifier precision"] == "95%"
    assert f"of {MIN_SAMPLE} verified citations marked" in captions(app)
