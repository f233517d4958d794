"""Who may use the chat: nobody is asked on this machine; beyond it, a login or an explicit "no".

QA_BOT_AUTH picks the login:
- "none" (default): no login. Served on a loopback address that is fine; served on any other
  address the chat refuses to open unless QA_BOT_NO_AUTH=true (`qa-bot ui --no-auth`) says it is
  meant, and then every page carries a warning.
- "password": names and scrypt hashes in the users file (`qa-bot users add NAME`), a sign-in form,
  and a brake on guessing (qa_bot/team/users.py).
- "oidc": Streamlit's built-in login (st.login) against the provider configured in
  .streamlit/secrets.toml ([auth]); see docs/deployment.md.

The signed-in name goes on questions, ratings and reviews (qa_bot/team/answer_log.py). Streamlit reruns
this script on every click, so each check is a read of the session state after the first sign-in.
"""

from __future__ import annotations

import streamlit as st

from qa_bot.settings import Settings
from qa_bot.team.users import (
    OPEN_WITHOUT_LOGIN,
    REFUSED_WITHOUT_LOGIN,
    LoginThrottle,
    UsersFile,
    UsersFileError,
    is_loopback,
)

_USER_KEY = "signed_in_user"

NO_USERS = "No one can sign in yet: add a user with `qa-bot users add NAME` on the server, then reload."
WRONG_LOGIN = "Wrong user name or password."
TOO_MANY_TRIES = "Too many wrong passwords for {name}: try again in {minutes} min."


def served_address() -> str | None:
    return st.get_option("server.address")


def require_user(settings: Settings) -> str | None:
    """The signed-in user's name, None when no login is used; stops the page until one is allowed."""
    if settings.auth == "password":
        return _password_user(settings)
    if settings.auth == "oidc":
        return _oidc_user()
    address = served_address()
    if is_loopback(address):
        return None
    shown = address or "every address of this machine"
    if settings.no_auth:
        st.warning(OPEN_WITHOUT_LOGIN.format(address=shown), icon=":material/lock_open:")
        return None
    st.error(REFUSED_WITHOUT_LOGIN.format(address=shown), icon=":material/lock:")
    st.stop()


def signed_in_name() -> str | None:
    return st.session_state.get(_USER_KEY)


def show_sign_out(settings: Settings) -> None:
    """In the sidebar: who is signed in, and the way out."""
    name = signed_in_name()
    if name is None:
        return
    st.caption(f"Signed in as {name}")
    if st.button("Sign out", key="sign_out"):
        del st.session_state[_USER_KEY]
        if settings.auth == "oidc":
            st.logout()
        st.rerun()


# --- password --------------------------------------------------------------------------------------


@st.cache_resource
def _throttle() -> LoginThrottle:
    """One per server process: wrong guesses count across browser sessions."""
    return LoginThrottle()


def _password_user(settings: Settings) -> str:
    users = UsersFile(settings.users_path)
    try:
        names = users.names()
    except UsersFileError as exc:
        st.error(str(exc))
        st.stop()
    name = signed_in_name()
    if name is not None and name in names:  # a user removed with `qa-bot users remove` is out at once
        return name
    st.session_state.pop(_USER_KEY, None)
    if not names:
        st.error(NO_USERS)
        st.stop()
    with st.form("sign_in"):
        st.markdown("#### Sign in to ask the articles")
        name = st.text_input("User name").strip()
        password = st.text_input("Password", type="password")
        submitted = st.form_submit_button("Sign in")
    if submitted:
        problem = _sign_in(users, name, password)
        if problem is None:
            st.session_state[_USER_KEY] = name
            st.rerun()
        st.error(problem)
    st.stop()


def _sign_in(users: UsersFile, name: str, password: str) -> str | None:
    """None when the name and password are right; otherwise what to tell the person."""
    throttle = _throttle()
    wait = throttle.wait_seconds(name)
    if wait:
        return TOO_MANY_TRIES.format(name=name, minutes=-(-wait // 60))
    if users.check(name, password):
        throttle.succeeded(name)
        return None
    throttle.failed(name)
    return WRONG_LOGIN


# --- OIDC ------------------------------------------------------------------------------------------


def _oidc_user() -> str:
    if not st.user.is_logged_in:
        st.markdown("#### Sign in to ask the articles")
        st.button("Sign in", on_click=st.login, key="oidc_sign_in")
        st.stop()
    name = st.user.get("email") or st.user.get("name") or st.user.get("sub")
    st.session_state[_USER_KEY] = str(name)
    return str(name)
