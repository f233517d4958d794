"""Fixtures for the chat UI tests (the environment the app reads, `app_env`, is in tests/fixtures/settings.py:
the reliability tests use it too)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _release_cached_bots():
    """Each test's settings build a QABot cached for the process; let it go when the test ends."""
    yield
    import gc

    import streamlit as st

    st.cache_resource.clear()
    st.cache_data.clear()
    gc.collect()
