"""Fixtures of the reliability tests: the misbehaving servers of tests/fixtures/misbehaving_llms.py,
a one-article corpus, and the CLI under test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qa_bot.cli import app
from qa_bot.settings import get_settings
from tests.fixtures.misbehaving_llms import (
    ARTICLE,
    OUTER_GUARD_S,
    _EchoesTheKey,
    _NeverFinishes,
    _OnlyKeepsAlive,
    _RateLimited,
    serve,
)


@pytest.fixture(scope="session")
def key_echoing_llm_url() -> Iterator[str]:
    with serve(_EchoesTheKey) as url:
        yield url


@pytest.fixture
def keepalive_llm_url() -> Iterator[str]:
    with serve(_OnlyKeepsAlive) as url:
        yield url


@pytest.fixture
def endless_llm_url() -> Iterator[str]:
    with serve(_NeverFinishes) as url:
        yield url


@pytest.fixture
def rate_limited_llm_url() -> Iterator[str]:
    with serve(_RateLimited) as url:
        yield url


# --- a corpus and the CLI ----------------------------------------------------------------------


@pytest.fixture
def corpus(tmp_path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "harbour.txt").write_text(ARTICLE, encoding="utf-8")
    return folder


@pytest.fixture
def llm_env(app_env) -> Iterator[Callable[..., None]]:
    """`llm_env(base_url, **VARIABLES)`: the environment `qa-bot` reads, for an OpenAI-compatible server."""

    def apply(base_url: str, **extra: str) -> None:
        app_env(base_url, **extra)
        get_settings.cache_clear()

    yield apply
    get_settings.cache_clear()


@pytest.fixture
def qa_bot() -> Callable[..., object]:
    """`qa_bot(*args)`: runs the `qa-bot` command in this process; fails if it has not returned in
    OUTER_GUARD_S (a hang, not a slow machine)."""
    runner = CliRunner()
    pool = ThreadPoolExecutor(max_workers=1)

    def invoke(*args: str):
        get_settings.cache_clear()
        future = pool.submit(runner.invoke, app, list(args), catch_exceptions=False)
        try:
            return future.result(timeout=OUTER_GUARD_S)
        except FutureTimeout:
            pytest.fail(f"`qa-bot {' '.join(args)}` had not returned after {OUTER_GUARD_S} s")

    yield invoke
    pool.shutdown(wait=False)
