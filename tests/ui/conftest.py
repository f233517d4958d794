"""Fixtures for the chat UI tests: the environment the app reads its settings from.

The app builds its settings from the environment (as under `qa-bot ui`), so a test sets the
environment: a fresh data directory, a real LLM server, and the current directory moved to the
test's folder so that a developer's `.env` cannot leak in.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from qa_bot.settings import PROJECT_ROOT


@pytest.fixture
def app_env(tmp_path, monkeypatch, clean_settings_env) -> Callable[..., dict[str, str]]:
    """`app_env(base_url, **extra) -> env`: the environment the app runs under, applied to os.environ."""
    monkeypatch.chdir(tmp_path)

    def apply(base_url: str, **extra: str) -> dict[str, str]:
        env = {
            "QA_BOT_DATA_DIR": str(tmp_path / "data"),
            "QA_BOT_CORPUS": json.dumps([str(PROJECT_ROOT / "seeds")]),
            "QA_BOT_LLM": "openai-compatible",
            "OPENAI_BASE_URL": base_url,
            "QA_BOT_MODEL": "test",
            "QA_BOT_LLM_MAX_RETRIES": "0",
            "QA_BOT_LLM_TIMEOUT": "20",
            **extra,
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return env

    return apply


@pytest.fixture(autouse=True)
def _release_cached_bots():
    """Each test's settings build a QABot cached for the process; let it go when the test ends."""
    yield
    import gc

    import streamlit as st

    st.cache_resource.clear()
    st.cache_data.clear()
    gc.collect()
