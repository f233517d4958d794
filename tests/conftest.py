"""Shared fixtures: real local servers to talk to, and Settings that ignore the developer's machine.

LLM doubles are real HTTP servers, because the openai 3.x client sends through its own HTTP stack
(httpx2), which respx and friends cannot intercept:

- `fakellm` / `fakellm_url`: the scripted OpenAI-compatible server `fakellm`, in a subprocess.
- `down_llm_url`: an address where nothing listens (connection refused).
- `slow_llm_url`: a server that accepts requests and never answers in time (timeouts).

`app_env` sets the environment the chat app and the CLI read their settings from.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import yaml

from qa_bot.settings import PROJECT_ROOT, Settings

# A helper module's asserts get pytest's rewriting (values shown on failure) only when registered.
pytest.register_assert_rewrite("tests.article_files")

TESTS_DIR = Path(__file__).parent
DEFAULT_FAKELLM_CONFIG = TESTS_DIR / "fakellm.yaml"
_SERVER_START_TIMEOUT_S = 30.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- fakellm -----------------------------------------------------------------------------------


class _FakeLLMServer:
    """One `fakellm serve` subprocess for one config file."""

    def __init__(self, config_path: Path, log_path: Path) -> None:
        self.config_path = config_path
        self.log_path = log_path
        self.process: subprocess.Popen | None = None
        self.base_url = ""

    def start(self) -> str:
        # A port picked here can be taken before fakellm binds it; a retry makes that harmless.
        for _attempt in range(3):
            port = free_port()
            command = [sys.executable, "-m", "fakellm.cli", "serve", "--host", "127.0.0.1"]
            command += ["--port", str(port), "--config", str(self.config_path)]
            with open(self.log_path, "wb") as log:
                self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
            if self._wait_until_answering(f"http://127.0.0.1:{port}"):
                self.base_url = f"http://127.0.0.1:{port}/v1"
                return self.base_url
            self.stop()
        raise RuntimeError(
            f"fakellm did not start; its log: {self.log_path}\n{self.log_path.read_text()[-2000:]}"
        )

    def _wait_until_answering(self, root: str) -> bool:
        deadline = time.monotonic() + _SERVER_START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                if httpx.get(f"{root}/_fakellm/stats", timeout=1.0).status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        return False

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="session")
def fakellm(tmp_path_factory) -> Iterator[Callable[..., str]]:
    """Factory: `fakellm(rules=None) -> base_url` ("http://127.0.0.1:PORT/v1") of a running fakellm.

    `rules` is a list of fakellm rules as dicts, e.g.
        {"name": "day", "when": {"messages_contain": "which day"},
         "respond": {"content": "The call took place on Sunday [1]."}}
    None means tests/fakellm.yaml. One server runs per distinct rule list for the whole session,
    so reuse a list (a module constant) rather than building new ones per test.

    How fakellm behaves (0.3.5, read from its source and checked here):
    - Rules are tried top to bottom; the first match wins. `messages_contain` is a case-insensitive
      substring of every message's text joined by spaces: system prompt, passages, history and the
      question all count, so choose a phrase only the question contains.
    - No match: the answer is `[mock response for <model>, fingerprint <8 hex>]`, a hash of the
      whole request (deterministic_echo), so it changes whenever the prompt does.
    - `stream=True` works with ChatOpenAI.stream(): the content arrives word by word (one chunk
      per space-separated word, 10 ms apart), with no usage. A rule's `status`/`error` applies
      only to non-streaming calls; a streamed call to such a rule gets the echo text with HTTP 200.
    - `respond: {status: 429, error: "..."}` answers `{"error": {"message": ...}}` with that status,
      which the openai client raises as RateLimitError / AuthenticationError (401) / NotFoundError.
    - There is no /v1/models (404) and no /v1/embeddings. GET /_fakellm/stats lists the rule each
      request matched ("<fallthrough>" for the echo).
    - It counts turns per conversation (keyed by the first user message) across the session, so
      avoid `turn:` rules unless the test sends its own X-Fakellm-Conversation-Id header.
    """
    servers: dict[str, _FakeLLMServer] = {}

    def start(rules: list[dict] | None = None) -> str:
        key = "default" if rules is None else json.dumps(rules, sort_keys=True)
        if key not in servers:
            folder = tmp_path_factory.mktemp("fakellm")
            if rules is None:
                config_path = DEFAULT_FAKELLM_CONFIG
            else:
                config = {"version": 1, "defaults": {"fallback": "deterministic_echo"}, "rules": rules}
                config_path = folder / "fakellm.yaml"
                config_path.write_text(yaml.safe_dump(config, sort_keys=False))
            server = _FakeLLMServer(config_path, log_path=folder / "fakellm.log")
            server.start()
            servers[key] = server
        return servers[key].base_url

    yield start
    for server in servers.values():
        server.stop()


@pytest.fixture(scope="session")
def fakellm_url(fakellm) -> str:
    """Base URL of a fakellm serving tests/fakellm.yaml (see `fakellm` for how it matches)."""
    return fakellm()


# --- servers that fail ---------------------------------------------------------------------------


@pytest.fixture
def down_llm_url() -> str:
    """An OpenAI-style base URL on 127.0.0.1 where nothing listens: connections are refused."""
    return f"http://127.0.0.1:{free_port()}/v1"


class _NeverAnswers(BaseHTTPRequestHandler):
    """Reads the request, then holds the connection open until the fixture ends."""

    def _hang(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.server.released.wait(timeout=120)
        with contextlib.suppress(OSError):  # the client gave up long ago: that was the point
            self.send_error(504, "fixture released")

    do_GET = do_POST = _hang

    def log_message(self, *args) -> None:  # keep pytest output clean
        pass


@pytest.fixture(scope="session")
def slow_llm_url() -> Iterator[str]:
    """An OpenAI-style base URL whose server accepts every request and never answers in time.

    Use with a short `llm_timeout` and `llm_max_retries=0`.
    """
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NeverAnswers)
    server.daemon_threads = True
    server.released = threading.Event()
    thread = threading.Thread(target=server.serve_forever, name="slow-llm-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.released.set()
    server.shutdown()
    server.server_close()


# --- settings ----------------------------------------------------------------------------------


def _settings_env_names() -> set[str]:
    """Every environment variable name Settings reads (upper-cased; pydantic-settings ignores case)."""
    names = set()
    for field in Settings.model_fields.values():
        alias = field.validation_alias
        for choice in getattr(alias, "choices", [alias]):
            if isinstance(choice, str):
                names.add(choice.upper())
    return names


@pytest.fixture
def clean_settings_env(request, monkeypatch) -> None:
    """Removes from os.environ, for the test, every variable Settings reads (OPENAI_API_KEY, QA_BOT_*, ...).

    So the developer's environment can't change what a test's Settings, app or subprocess sees.
    One is set: the tests scripted with the model's free sentences ("They spoke on Sunday [1].")
    check the sentence answer style (QA_BOT_ANSWER_STYLE=sentence, still a setting); tests marked
    `pointer` check the default, where the model points and the app quotes (tests/test_pointing.py).
    """
    env_names = _settings_env_names()
    for name in list(os.environ):
        if name.upper() in env_names:
            monkeypatch.delenv(name)
    if request.node.get_closest_marker("pointer") is None:
        monkeypatch.setenv("QA_BOT_ANSWER_STYLE", "sentence")


@pytest.fixture
def settings_factory(tmp_path, clean_settings_env) -> Callable[..., Settings]:
    """`settings_factory(**overrides) -> Settings` by field name, with data_dir under tmp_path.

    Neither a developer's .env nor their environment (OPENAI_API_KEY, QA_BOT_*, ...) leaks in.
    """

    def make(**overrides) -> Settings:
        values = {"data_dir": tmp_path / "data", **overrides}
        return Settings(_env_file=None, **values)

    return make


@pytest.fixture(scope="session")
def embeddings():
    """The packaged MiniLM, loaded once: real vectors for the tests that rank by meaning."""
    from qa_bot.embeddings import LocalMiniLMEmbeddings

    return LocalMiniLMEmbeddings()


@pytest.fixture
def app_env(request, tmp_path, monkeypatch, clean_settings_env) -> Callable[..., dict[str, str]]:
    """`app_env(base_url, **extra) -> env`: the environment the app runs under, applied to os.environ."""
    monkeypatch.chdir(tmp_path)
    # As `qa-bot ui` serves it: on this machine only (served beyond it, the chat asks for a login).
    from streamlit import config as streamlit_config

    served_on = streamlit_config.get_option("server.address")
    streamlit_config.set_option("server.address", "127.0.0.1")
    request.addfinalizer(lambda: streamlit_config.set_option("server.address", served_on))

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
