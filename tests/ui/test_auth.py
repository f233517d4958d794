"""Who may use the chat (ui/auth.py), through Streamlit's AppTest: the sign-in form, the brake on
guessing, the name on ratings, and the refusal to open beyond this machine without a login."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from streamlit import config as streamlit_config
from streamlit.testing.v1 import AppTest

from qa_bot.settings import PROJECT_ROOT
from qa_bot.team.users import MAX_FAILURES, UsersFile
from tests.fixtures.chat_app import DAY_QUESTION, RULES, ask, last_answer

pytestmark = pytest.mark.integration  # starts processes or servers: outside the fast subset

APP = str(PROJECT_ROOT / "ui" / "app.py")
PASSWORD = "correct horse battery"


@pytest.fixture
def password_app(app_env, fakellm, tmp_path):
    users_file = tmp_path / "users.json"
    UsersFile(users_file).add("alice", PASSWORD)
    env = app_env(fakellm(RULES), QA_BOT_AUTH="password", QA_BOT_USERS_FILE=str(users_file))
    app = AppTest.from_file(APP, default_timeout=120)
    app.run()
    assert not app.exception, app.exception
    return app, env


def sign_in(app: AppTest, name: str, password: str) -> AppTest:
    app.text_input[0].set_value(name)
    app.text_input[1].set_value(password)
    app.button[0].click().run()  # the form's submit button
    assert not app.exception, app.exception
    return app


def test_with_a_password_login_nothing_of_the_chat_shows_before_signing_in(password_app):
    app, _ = password_app

    assert [t.label for t in app.text_input] == ["User name", "Password"]
    assert not app.chat_input and not app.sidebar.metric


def test_a_wrong_password_is_refused_and_the_right_one_opens_the_chat(password_app):
    app, _ = password_app

    sign_in(app, "alice", "wrong password!")
    assert [e.value for e in app.error] == ["Wrong user name or password."] and not app.chat_input

    sign_in(app, "alice", PASSWORD)
    assert app.chat_input and "Signed in as alice" in [c.value for c in app.sidebar.caption]


def test_a_removed_user_is_signed_out_at_the_next_click(password_app, tmp_path):
    app, _ = password_app
    sign_in(app, "alice", PASSWORD)
    UsersFile(tmp_path / "users.json").remove("alice")
    UsersFile(tmp_path / "users.json").add("bob", PASSWORD)

    app.run()

    assert not app.chat_input and [t.label for t in app.text_input] == ["User name", "Password"]


def test_ratings_carry_the_signed_in_name(password_app):
    app, env = password_app
    sign_in(app, "alice", PASSWORD)
    ask(app, DAY_QUESTION)
    last_answer(app).feedback[0].set_value(1).run()

    with sqlite3.connect(Path(env["QA_BOT_DATA_DIR"]) / "feedback.sqlite") as db:
        assert db.execute("SELECT user_name, rating FROM answer_log").fetchall() == [("alice", 1)]


def test_after_five_wrong_passwords_even_the_right_one_waits(password_app):
    app, _ = password_app
    for _ in range(MAX_FAILURES):
        sign_in(app, "alice", "wrong password!")

    sign_in(app, "alice", PASSWORD)

    assert app.error[0].value == "Too many wrong passwords for alice: try again in 15 min."
    assert not app.chat_input


@pytest.fixture
def served_on_every_address(request):
    served_on = streamlit_config.get_option("server.address")
    request.addfinalizer(lambda: streamlit_config.set_option("server.address", served_on))

    def serve() -> None:
        streamlit_config.set_option("server.address", "0.0.0.0")

    return serve


def test_served_beyond_this_machine_without_a_login_the_chat_does_not_open(
    app_env, down_llm_url, served_on_every_address
):
    app_env(down_llm_url)
    served_on_every_address()
    app = AppTest.from_file(APP, default_timeout=120)
    app.run()

    assert "without a login, so it will not open" in app.error[0].value
    assert not app.chat_input and not app.sidebar.metric


def test_no_auth_opens_it_anyway_with_a_warning_on_the_page(app_env, down_llm_url, served_on_every_address):
    app_env(down_llm_url, QA_BOT_NO_AUTH="true")
    served_on_every_address()
    app = AppTest.from_file(APP, default_timeout=120)
    app.run()

    assert "without a login (--no-auth)" in app.warning[0].value
    assert app.chat_input
