"""The conversation on screen, kept in Streamlit's session state (one per browser tab)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date

import streamlit as st

from qa_bot.answer import Answer
from qa_bot.service import Turn

_KEY = "exchanges"


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


def find(exchange_id: str) -> Exchange | None:
    return next((e for e in exchanges() if e.id == exchange_id), None)


def history() -> list[Turn]:
    """Earlier turns for a follow-up; a failed answer is no context to build on."""
    return [Turn(e.question, e.answer.text) for e in exchanges() if not e.answer.error]


def start_new() -> None:
    st.session_state[_KEY] = []
