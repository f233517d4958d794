"""Servers that misbehave the way issue 9 describes, a one-article corpus, and the CLI under test.

The servers are real HTTP servers on 127.0.0.1 (the openai client cannot be intercepted, see
tests/conftest.py), each a few lines of `BaseHTTPRequestHandler`:

- `key_echoing_llm_url`: answers every request HTTP 400 "Invalid token <the key it was sent>".
- `keepalive_llm_url`: starts a stream and then only ever sends SSE keep-alive comments (`: ping`).
- `endless_llm_url`: streams a real answer, one word at a time, that never ends.
- `rate_limited_llm_url`: answers HTTP 429 with Retry-After: 60 (the openai client would wait it out, twice).
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qa_bot.cli import app
from qa_bot.settings import get_settings

SECRET_KEY = "ollama-SECRET123"  # shaped like no known key: only its value can find it
QUESTION = "When did the harbour authority reopen the northern pier?"
AS_OF = "2023-04-20"
ARTICLE = """title: Northern pier reopens after storm repairs
date 2023-04-14
source harbourtimes.example

The harbour authority reopened the northern pier on Thursday after three weeks of storm repairs.
Ferries to the islands resume their normal timetable on Monday, the authority said.
"""
# Far beyond any deadline the tests set: only a hang reaches it.
OUTER_GUARD_S = 90
KEEPALIVE_INTERVAL_S = 0.2


class _Quiet(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep pytest output clean
        pass

    def _read_body(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _start_event_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()

    def do_GET(self) -> None:  # /models, for the status line: any answer means "reachable"
        self.send_error(404)


class _EchoesTheKey(_Quiet):
    def do_POST(self) -> None:
        self._read_body()
        key = self.headers.get("Authorization", "").removeprefix("Bearer ")
        body = json.dumps({"error": {"message": f"Invalid token {key}", "type": "invalid_request_error"}})
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())


class _OnlyKeepsAlive(_Quiet):
    def do_POST(self) -> None:
        self._read_body()
        self._start_event_stream()
        while not self.server.released.wait(KEEPALIVE_INTERVAL_S):
            try:
                self.wfile.write(b": ping\n\n")
                self.wfile.flush()
            except OSError:  # the client hung up: what the test wants
                return


class _NeverFinishes(_Quiet):
    def do_POST(self) -> None:
        self._read_body()
        self._start_event_stream()
        while not self.server.released.wait(KEEPALIVE_INTERVAL_S):
            chunk = {
                "id": "endless",
                "object": "chat.completion.chunk",
                "model": "test",
                "choices": [{"index": 0, "delta": {"content": "and "}, "finish_reason": None}],
            }
            try:
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.flush()
            except OSError:
                return


class _RateLimited(_Quiet):
    def do_POST(self) -> None:
        self._read_body()
        body = json.dumps({"error": {"message": "Rate limit reached", "type": "requests"}})
        self.send_response(429)
        self.send_header("Retry-After", "60")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())


@contextlib.contextmanager
def serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """Runs `handler` on 127.0.0.1; yields the OpenAI-style base URL; releases held requests at the end."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    server.released = threading.Event()
    thread = threading.Thread(target=server.serve_forever, name=handler.__name__, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.released.set()
        server.shutdown()
        server.server_close()


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
