"""The conversation on screen, kept in Streamlit's session state (one per browser tab)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date

import streamlit as st

from qa_bot.answering.answer import Answer
from qa_bot.service import Turn

_KEY = "exchanges"

NOT_ANSWERED = (
    "Not answered: a newer question (or a click on the page) stopped this one before its answer was "
    "written. Ask it again if you still need the answer."
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


def exchanges() -> list[Exchange]:
    return st.session_state.setdefault(_KEY, [])


def add(exchange: Exchange) -> None:
    exchanges().append(exchange)


def asked(question: str, history: list[Turn], options: dict) -> Exchange:
    """The question joins the conversation as it is asked, marked not answered until its answer is set.

    A newer question (or a click) reruns the page, and Streamlit stops this run mid-answer, where its
    session state can no longer be written: the question stays, marked so, instead of vanishing.
    """
    answer = Answer(question, NOT_ANSWERED, refused=False, error=NOT_ANSWERED)
    exchange = Exchange(question, answer, date.today(), history, options)
    add(exchange)
    return exchange


def find(exchange_id: str) -> Exchange | None:
    return next((e for e in exchanges() if e.id == exchange_id), None)


def history() -> list[Turn]:
    """Earlier turns for a follow-up; a failed answer is no context to build on."""
    return [Turn(e.question, e.answer.text) for e in exchanges() if not e.answer.error]


def start_new() -> None:
    st.session_state[_KEY] = []
