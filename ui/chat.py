"""The chat: each exchange on screen (its sources first, then the answer), a new question streamed in
with a Stop button, logged, rated with thumbs, copied with its sources, regenerated; and on an empty
chat, questions about the newest articles."""

from __future__ import annotations

import logging

import streamlit as st

from qa_bot.answering.answer import Answer, stream_display_text
from qa_bot.answering.local_llm import local_model_state
from qa_bot.service import Finished, QABot, Queued, Reading, Retrieved, Token
from qa_bot.settings import Settings, settings_snapshot
from qa_bot.team.answer_log import AnswerLog, LoggedAnswer, entry_from_answer
from ui import conversation
from ui.auth import signed_in_name
from ui.conversation import Exchange
from ui.export import article_markdown
from ui.render import (
    answer_html,
    as_displayed,
    caption_html,
    copy_text,
    notice_html,
    plain_html,
    quotes_html,
    reading_html,
    stopped_html,
    streaming_html,
    unverified_count,
)
from ui.sidebar import QuestionOptions
from ui.sources import show_citations, show_planted, show_retrieved

logger = logging.getLogger("qa_bot.ui")

UNEXPECTED_FAILURE = (
    "Something went wrong while answering, and the details are in the server log. "
    "The conversation is kept: ask again, or start a new conversation."
)


SUGGESTIONS = 3  # questions offered on an empty chat, one per recent article
RATED = {1: "Saved: rated helpful.", 0: "Saved: rated not helpful."}


def show_conversation(bot: QABot, log: AnswerLog) -> None:
    shown = conversation.exchanges()
    for number, exchange in enumerate(shown, start=1):
        with st.chat_message("user"):
            st.html(plain_html(exchange.question))
        with st.chat_message("assistant"):
            show_answer(bot, log, exchange, last=number == len(shown))


def show_suggestions(bot: QABot) -> None:
    """On an empty chat: a question about each of the newest articles, asked with one click."""
    try:
        titles = bot.recent_titles(SUGGESTIONS)
    except Exception:  # the catalog cannot be read: the chat works without suggestions
        logger.exception("Could not read the newest articles' titles")
        return
    if not titles:
        return
    st.caption("Or start from one of the newest articles:")
    for number, title in enumerate(titles):
        st.button(
            f"Ask about: {article_markdown(title)}",  # a button label is Markdown: neutralised
            key=f"suggestion-{number}",
            icon=":material/lightbulb:",
            on_click=conversation.ask_next,
            args=(suggested_question(title),),
        )


def suggested_question(title: str) -> str:
    return f"What happened: {title.rstrip(' .?!…')}?"


def ask(bot: QABot, log: AnswerLog, question: str, options: QuestionOptions) -> None:
    """Stream the answer to a new question with a Stop button, log it, then redraw the page: the
    verified answer with its sources, the chat input enabled again."""
    history = conversation.history()
    exchange = conversation.asked(question, history, options.as_record())  # kept even if stopped
    with st.chat_message("user"):
        st.html(plain_html(question))
    with st.chat_message("assistant"):
        st.button(
            "Stop",
            key="stop",
            icon=":material/stop_circle:",
            on_click=conversation.stop,
            help="End this answer here: what was written stays on the page, marked stopped.",
        )
        answer = _stream_answer(bot, exchange, question, history, options)
    conversation.answered(exchange, answer)
    _log(log, log_entry(bot.settings, exchange))
    st.rerun()


def _stream_answer(
    bot: QABot, exchange: Exchange, question: str, history, options: QuestionOptions
) -> Answer:
    """The sources the model reads, then the tokens under them as they arrive; the verified answer
    replaces them. What has arrived is kept on the exchange, for a Stop."""
    status = st.empty()
    reading = st.empty()  # the sources the model reads, above its answer, until the answer replaces them
    body = st.empty()
    status.caption("Searching the articles…")
    received = ""
    passages = None  # until the search is done (a follow-up waits for the model before it searches)
    answer = None
    events = bot.ask_stream(question, history=history, **options.as_kwargs())
    try:
        for event in events:
            if isinstance(event, Retrieved):
                passages = exchange.found = event.passages
                status.caption(_waiting_message(bot.settings, len(passages)))
            elif isinstance(event, Reading):  # numbered as the model reads them: its [n] are these
                exchange.found = event.passages
                reading.html(reading_html(event.passages))
            elif isinstance(event, Queued):
                found = None if passages is None else len(passages)
                status.caption(queued_message(found, event.ahead, event.estimate_s))
            elif isinstance(event, Token):
                received += event.text
                shown = stream_display_text(received)
                if shown:
                    exchange.partial = shown
                    status.empty()
                    body.html(streaming_html(shown))
            elif isinstance(event, Finished):
                answer = event.answer
    except Exception:  # the user sees a plain message; the traceback goes to the server log only
        logger.exception("Answering failed for a question of %d characters", len(question))
    finally:
        # A rerun (Stop, another click) stops this script mid-answer: close the stream now, so that
        # its place at the model is given up at once, not whenever garbage is collected.
        events.close()
    if answer is None:  # kept in the conversation like any failed answer, with what was found
        failure = UNEXPECTED_FAILURE
        answer = Answer(question, failure, refused=False, passages=passages or [], error=failure)
    return answer


def queued_message(passages: int | None, ahead: int, estimate_s: float | None) -> str:
    """While other people's answers are written first (one model, first come, first served).
    `passages` is None for a follow-up, which needs the model to rewrite it before the search."""
    questions = "question" if ahead == 1 else "questions"
    wait = f", about {max(1, round(estimate_s))} s" if estimate_s is not None else ""
    found = (
        "A follow-up is rewritten by the model before the search."
        if passages is None
        else f"Found {passages} passages."
    )
    return f"{found} The model answers one question at a time: {ahead} {questions} ahead of yours{wait}."


def waited_message(answer: Answer) -> str | None:
    """Under an answer that waited in line: how long, so that a slow answer is not a mystery."""
    queued = (answer.timings or {}).get("queued", 0.0)
    return f"Waited {round(queued)} s in line for the model." if queued >= 1 else None


def _waiting_message(settings: Settings, passages: int) -> str:
    if not passages:
        return "No passage is relevant enough to answer from."
    if settings.llm == "local" and local_model_state() != "ready":
        return f"Found {passages} passages. Loading the local model (only the first question waits for this)…"
    return f"Found {passages} passages; writing the answer…"


def show_answer(bot: QABot, log: AnswerLog, exchange: Exchange, *, last: bool = False) -> None:
    """Sources first, then the answer (numbered 1, 2, 3 as shown), then what can be done with it."""
    answer = exchange.answer
    if answer.standalone_question:
        st.html(caption_html(f"Searched for: {answer.standalone_question}"))
    ratable = False
    if exchange.stopped:
        if answer.text:
            st.html(stopped_html(answer.text))
        st.html(notice_html(exchange.stopped, "warning"))
        if exchange.found:
            with st.expander(f"The {len(exchange.found)} passages it was written from"):
                show_retrieved(bot, exchange.found, key=exchange.id)
    elif answer.error:
        st.html(notice_html(answer.error, "error"))
        show_retrieved(bot, answer.passages, key=exchange.id)
    elif answer.refused:  # what was read, and why it was not enough; the passages, collapsed
        st.html(notice_html(answer.text, "info"))
        if answer.passages:
            with st.expander(f"The {len(answer.passages)} passages read"):
                show_retrieved(bot, answer.passages, key=exchange.id)
        show_planted(answer.planted)
    else:
        shown = as_displayed(answer)
        show_citations(bot, shown.citations, key=exchange.id)
        st.html(answer_html(shown, anchor=exchange.id) + quotes_html(shown))
        unverified = unverified_count(shown)
        if unverified:
            st.caption(
                f"⚠ {unverified} sentence{'s' if unverified > 1 else ''} could not be verified against the "
                "passages: check before you use it."
            )
        show_planted(answer.planted)
        with st.expander("Copy the answer with its sources", icon=":material/content_copy:"):
            st.code(copy_text(shown), language=None, wrap_lines=True)
        ratable = True
    waited = waited_message(answer)
    if waited:
        st.caption(waited)
    if answer.indexing_notice:  # the archive is still being embedded: this answer may miss some
        st.html(notice_html(answer.indexing_notice, "info"))
    if last and not conversation.waiting():
        st.button(
            "Regenerate",
            key=f"regenerate-{exchange.id}",
            icon=":material/refresh:",
            type="tertiary",
            on_click=conversation.regenerate,
            args=(exchange.id,),
            help="Ask this question again; the new answer replaces this one.",
        )
    if ratable:  # nothing to rate in a refusal, a failure or a stopped answer
        _feedback_controls(bot.settings, log, exchange)


@st.fragment
def _feedback_controls(settings: Settings, log: AnswerLog, exchange: Exchange) -> None:
    # A fragment: rating an earlier answer reruns these controls only. A full rerun would stop an
    # answer that is being written at that moment (Streamlit stops the running script; a fragment's
    # rerun waits for it to end).
    rating_column, comment_column = st.columns([1, 5], vertical_alignment="center")
    with rating_column:
        st.feedback(
            "thumbs",
            key=f"rating-{exchange.id}",
            on_change=_save_feedback,
            args=(settings, log, exchange.id),
        )
    with comment_column:
        st.text_input(
            "Comment on this answer (optional)",
            key=f"comment-{exchange.id}",
            placeholder="Comment on this answer (optional): what is right or wrong?",
            label_visibility="collapsed",
            on_change=_save_feedback,
            args=(settings, log, exchange.id),
        )
    saved = st.session_state.get(f"saved-{exchange.id}")
    if saved:
        st.caption(saved)
    # The sidebar counts the approved answers: redraw the page for it at once, unless an answer is
    # being written (a full rerun would stop it; the page is redrawn when it is finished).
    if st.session_state.pop(f"refresh-{exchange.id}", False) and not (
        conversation.answering() or conversation.waiting()
    ):
        st.rerun()


def _save_feedback(settings: Settings, log: AnswerLog, exchange_id: str) -> None:
    exchange = conversation.find(exchange_id)
    if exchange is None:  # a new conversation was started meanwhile
        return
    rating = st.session_state.get(f"rating-{exchange_id}")
    comment = (st.session_state.get(f"comment-{exchange_id}") or "").strip()
    if rating is None and not comment:
        return
    try:
        if not log.rate(exchange_id, rating, comment):  # its logging had failed: log it now
            log.log(log_entry(settings, exchange))
            log.rate(exchange_id, rating, comment)
    except Exception:
        logger.exception("Could not save feedback")
        st.toast(
            "Your feedback could not be saved; the details are in the server log.", icon=":material/error:"
        )
        return
    st.session_state[f"saved-{exchange_id}"] = RATED.get(rating, "Saved: your comment.")
    st.session_state[f"refresh-{exchange_id}"] = True
    st.toast("Feedback saved. Thank you.", icon=":material/check:")


def _log(log: AnswerLog, entry: LoggedAnswer) -> None:
    """Every answer goes to the log as it finishes; a log that fails must not cost the reader the answer."""
    try:
        log.log(entry)
    except Exception:
        logger.exception("Could not log the answer")


def log_entry(settings: Settings, exchange: Exchange) -> LoggedAnswer:
    """What the answer log keeps of an exchange (qa_bot/team/answer_log.py)."""
    return entry_from_answer(
        exchange.answer,
        id=exchange.id,
        asked_on=exchange.asked_on,
        settings=settings_snapshot(settings, **exchange.options),
        history=exchange.history,
        user=signed_in_name(),
    )
