"""What the app builds once per process: the settings' QABot, the answer log, the seed ingest gate.

Settings are read fresh on every run (cheap), and everything built from them is cached under a key
derived from them, so a changed environment (or a test with another data directory) gets its own
bot, and the same settings always share one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from dataclasses import dataclass, field

import streamlit as st

from qa_bot.answering.llm import LLMStatus, llm_status
from qa_bot.answering.local_llm import start_local_model_async
from qa_bot.service import QABot
from qa_bot.settings import Settings
from qa_bot.team.answer_log import AnswerLog

logger = logging.getLogger("qa_bot.ui")


# How long a remote LLM's reachability (one HTTP request) is trusted before asking again.
REMOTE_STATUS_TTL_S = 15


def load_settings() -> Settings:
    return Settings()


def settings_key(settings: Settings) -> str:
    """A fingerprint of every setting; the API key enters only as a hash, and only here."""
    values = settings.model_dump(mode="json")
    secret = settings.openai_api_key.get_secret_value() if settings.openai_api_key else ""
    values["openai_api_key"] = hashlib.sha256(secret.encode()).hexdigest()
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()


@st.cache_resource(show_spinner=False)
def _bot(key: str, _settings: Settings) -> QABot:
    bot = QABot(_settings)
    if _settings.llm == "local":
        # Load the embedded model in the background now, so the first question waits less.
        start_local_model_async(_settings)
    return bot


def get_bot(settings: Settings) -> QABot:
    return _bot(settings_key(settings), settings)


@st.cache_resource(show_spinner=False)
def _answer_log(key: str, _settings: Settings) -> AnswerLog:
    return AnswerLog.open(_settings)


def get_answer_log(settings: Settings) -> AnswerLog:
    """Every answer of the chat, its thumbs and its reviews (qa_bot/team/answer_log.py)."""
    return _answer_log(settings_key(settings), settings)


@dataclass
class SeedGate:
    """Only one session ingests the seed corpus, once per process and settings."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    done: bool = False


@st.cache_resource(show_spinner=False)
def seed_gate(key: str) -> SeedGate:
    return SeedGate()


@st.cache_data(ttl=REMOTE_STATUS_TTL_S, show_spinner=False)
def _remote_llm_status(key: str, _settings: Settings) -> LLMStatus:
    return llm_status(_settings)


def model_status(settings: Settings) -> LLMStatus:
    """The LLM's provider, model and state; a remote server's reachability is checked now and then."""
    if settings.llm in {"local", "extractive"}:
        return llm_status(settings)  # no network: the local state is a field read
    return _remote_llm_status(settings_key(settings), settings)
