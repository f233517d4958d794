"""The app: the chat at / (ask about the articles, watch the answer stream in, check it against its
sources) and the review queue at /review (ui/review.py), behind one login.

Started by `qa-bot ui` (or `streamlit run ui/app.py` where qa-bot is installed: `ui` is imported as the
installed package). Rendering and session state only: every answer, ingest and article comes from
QABot, the same service the CLI and the evaluation use.
"""

from __future__ import annotations

import logging
from pathlib import Path

import streamlit as st

from qa_bot.service import QABot
from qa_bot.settings import Settings
from ui import auth, chat, conversation, runtime
from ui.ingest import ingest_with_progress, show_outcome
from ui.sidebar import show_conversation_controls, show_sidebar

logger = logging.getLogger("qa_bot.ui")

# The review queue (/review), a page of its own: Streamlit runs the file when the page is open.
REVIEW_PAGE = Path(__file__).resolve().parent / "review_page.py"
QUESTION_KEY = "question"
STARTUP_FAILURE = (
    "The chat could not start: the settings or the index could not be loaded. "
    "The details are in the server log; `qa-bot status` shows the settings in use."
)


def main() -> None:
    st.set_page_config(page_title="qa-bot: ask the articles", page_icon="📰", layout="centered")
    # Also set here, not only in .streamlit/config.toml, which is read only when started from the project
    # root: an error that slips through shows no traceback, and there is no "Deploy" button.
    st.set_option("client.showErrorDetails", "none")
    st.set_option("client.toolbarMode", "minimal")
    settings = _settings()
    if settings is None:
        return
    auth.require_user(settings)  # stops here until the person may use the app: both pages
    chat_page = st.Page(
        lambda: _chat(settings), title="Ask the articles", icon=":material/chat:", url_path="", default=True
    )
    review_page = st.Page(
        REVIEW_PAGE, title="Review answers", icon=":material/fact_check:", url_path="review"
    )
    st.navigation([chat_page, review_page]).run()


def _chat(settings: Settings) -> None:
    bot = _start(settings)
    if bot is None:
        return
    _seed_once(bot)
    try:
        log = runtime.get_answer_log(bot.settings)
    except Exception:  # its database cannot be reached: a message, never a traceback
        logger.exception("The chat UI could not open the answer log")
        st.error(STARTUP_FAILURE, icon=":material/error:")
        return
    conversation.settle()  # an answer this rerun stopped mid-way (Stop, or a click) stays, marked stopped
    options = show_sidebar(bot)
    with st.sidebar:
        auth.show_sign_out(settings)
    _intro(bot)
    chat.show_conversation(bot, log)
    # Disabled while an answer is written (Stop ends it): a new question never cancels one silently.
    st.chat_input(
        "Ask a question about the articles",
        key=QUESTION_KEY,
        on_submit=_submitted,
        disabled=conversation.waiting(),
        submit_mode="disable",
    )
    question = conversation.next_question()
    if question:
        chat.ask(bot, log, question, options)
    show_conversation_controls(log)


def _submitted() -> None:
    conversation.ask_next(st.session_state.get(QUESTION_KEY) or "")


def _settings() -> Settings | None:
    try:
        return runtime.load_settings()
    except Exception:  # a bad setting: a message, never a traceback
        logger.exception("The chat UI could not read its settings")
        st.error(STARTUP_FAILURE, icon=":material/error:")
        return None


def _start(settings: Settings) -> QABot | None:
    from qa_bot.index.embeddings import EmbeddingConfigError
    from qa_bot.index.store import EmbeddingModelMismatch

    try:
        with st.spinner("Opening the index…"):
            return runtime.get_bot(settings)
    except (EmbeddingConfigError, EmbeddingModelMismatch) as exc:  # names settings only: safe to show
        logger.error("The chat UI could not start: %s", exc)
        st.error(f"The chat could not start. {exc}", icon=":material/error:")
        return None
    except Exception:  # an unreadable index: a message, never a traceback
        logger.exception("The chat UI could not start")
        st.error(STARTUP_FAILURE, icon=":material/error:")
        return None


def _seed_once(bot: QABot) -> None:
    """On first start with an empty index, ingest the configured corpus (the seed articles); also when
    an earlier first start's ingest failed and left no article indexed."""
    gate = runtime.seed_gate(runtime.settings_key(bot.settings))
    if gate.done:
        return
    with gate.lock:  # a second session waits here until the first has finished
        if gate.done:
            return
        if _index_is_empty(bot):
            _ingest_corpus(bot)
        gate.done = True


def _index_is_empty(bot: QABot) -> bool:
    try:
        return bot.index_stats().indexed_articles == 0
    except Exception:
        logger.exception("Could not read the index statistics")
        return False


def _ingest_corpus(bot: QABot) -> None:
    with st.status("First start: indexing the articles…", expanded=True) as status:
        outcome = ingest_with_progress(bot, list(bot.settings.corpus), label="Indexing the articles")
        show_outcome(outcome)
        done = outcome.report is not None and not outcome.report.failed
        status.update(
            label="The articles are indexed", state="complete" if done else "error", expanded=not done
        )


def _intro(bot: QABot) -> None:
    if conversation.exchanges() or conversation.waiting():
        return
    # One container: the first question's message takes its place on the page at once (elements
    # of the last run that this one has not redrawn stay, faded, until it ends).
    with st.container():
        st.markdown("### Ask the articles")
        st.caption(
            "Each answer comes under the sources it cites, where the supporting sentence is marked; its "
            "numbers like [1] link to them. Sentences that no passage supports are marked ⚠ unverified. "
            "Rate the answers (thumbs up or down) so that good ones become test cases."
        )
        chat.show_suggestions(bot)


main()
