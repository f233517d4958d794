"""The conversation on screen, kept in Streamlit's session state (one per browser tab): the exchanges,
the question waiting to be answered, and the one being answered.

A question is queued before the run that answers it (`ask_next`: the chat input's callback, a
suggested question, Regenerate), so that the run draws the chat input disabled, and a Stop button,
before it starts answering. A click on Stop (or anywhere on the page
but the fragments) reruns the page, and Streamlit stops the run that writes the answer mid-answer,
where it can no longer write anything: the next run finds that exchange still marked as being
answered and marks it stopped, keeping what had been written (`settle`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date

import streamlit as st

from qa_bot.answering.answer import Answer
from qa_bot.index.search import Passage
from qa_bot.service import Turn

_KEY = "exchanges"
_NEXT = "next_question"  # asked, not yet being answered
_ANSWERING = "answering"  # the id of the exchange whose answer is being written

STOPPED = "Stopped before the answer was finished, so it was not checked against the sources."
STOPPED_BY_CLICK = (
    "Stopped: a click on the page ended this answer before it was finished, so it was not checked "
    "against the sources."
)


@dataclass
class Exchange:
    """One question and its verified answer, with what is needed to review it later."""

    question: str
    answer: Answer
    asked_on: date
    history: list[Turn]  # the turns the service saw before this question
    options: dict = field(default_factory=dict)  # filters and k that applied
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    # While the answer is written: what has arrived so far, and the passages found. Kept when it is
    # stopped (`stopped` then says why), shown marked as not checked.
    partial: str = ""
    found: list[Passage] = field(default_factory=list)
    stopped: str | None = None


def exchanges() -> list[Exchange]:
    return st.session_state.setdefault(_KEY, [])


def add(exchange: Exchange) -> None:
    exchanges().append(exchange)


def ask_next(question: str) -> None:
    """The question to answer in the next run (the chat input, a suggested question, Regenerate)."""
    question = question.strip()
    if question:
        st.session_state[_NEXT] = question


def next_question() -> str | None:
    """The question waiting to be answered, taken: asked once, even if its run is stopped."""
    return st.session_state.pop(_NEXT, None)


def waiting() -> bool:
    return _NEXT in st.session_state


def asked(question: str, history: list[Turn], options: dict) -> Exchange:
    """The question joins the conversation as it is asked, marked as being answered until its
    answer is set (`answered`) or it is stopped (`settle`)."""
    answer = Answer(question, "", refused=False)
    exchange = Exchange(question, answer, options.get("as_of") or date.today(), history, options)
    add(exchange)
    st.session_state[_ANSWERING] = exchange.id
    return exchange


def answered(exchange: Exchange, answer: Answer) -> None:
    exchange.answer = answer
    if st.session_state.get(_ANSWERING) == exchange.id:
        del st.session_state[_ANSWERING]


def answering() -> Exchange | None:
    """The exchange whose answer a run is writing now (seen from a fragment), if any."""
    exchange_id = st.session_state.get(_ANSWERING)
    return find(exchange_id) if exchange_id else None


def stop() -> None:
    """The Stop button's callback: the answer being written ends here, kept and marked stopped."""
    settle(STOPPED)


def settle(reason: str = STOPPED_BY_CLICK) -> None:
    """At the start of a run: an answer whose run was stopped mid-answer is kept, marked stopped."""
    exchange = answering()
    st.session_state.pop(_ANSWERING, None)
    if exchange is not None and exchange.stopped is None:
        exchange.stopped = reason
        # `error` too, so that what reads answers (the Markdown export, follow-ups) takes it as unfinished.
        exchange.answer = Answer(
            exchange.question, exchange.partial, refused=False, passages=exchange.found, error=reason
        )


def regenerate(exchange_id: str) -> None:
    """Regenerate's callback: the last exchange is taken off and its question asked again."""
    items = exchanges()
    if items and items[-1].id == exchange_id:
        ask_next(items.pop().question)


def find(exchange_id: str) -> Exchange | None:
    return next((e for e in exchanges() if e.id == exchange_id), None)


def history() -> list[Turn]:
    """Earlier turns for a follow-up; a failed or stopped answer is no context to build on."""
    return [Turn(e.question, e.answer.text) for e in exchanges() if not e.answer.error and e.stopped is None]


def start_new() -> None:
    st.session_state[_KEY] = []
    st.session_state.pop(_NEXT, None)
