"""One time limit for a whole answer: connecting, the first token, the whole stream, and retries.

The openai client's timeouts apply per socket read and per attempt, so on their own a server that
keeps a stream alive with SSE comments (`: ping`) never times out, and a silent one is given up
only after every retry has waited the full timeout. Here the service opens an `AnswerDeadline` for
each question, and the HTTP client the chat models use (`DeadlineHttpClient`) holds every request
made under it to the time left:

- each attempt's connect/read/write/pool timeouts are cut to the time left, so the openai client
  still retries a failed attempt, but only inside the deadline;
- an attempt that would start after the deadline, or a timeout that the deadline caused, raises
  `AnswerDeadlineExceeded`, which the openai client passes on without retrying;
- the response body is checked against the clock at every chunk of bytes, keep-alive comments
  included, which never reach the caller as tokens;
- a server's Retry-After longer than the time left is not waited for.

The embedded local model is served over the same HTTP API, so its answers get the same limit.
"""

from __future__ import annotations

import contextlib
import contextvars
import email.utils
import time
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

import httpx2
import openai

T = TypeVar("T")

_CURRENT: contextvars.ContextVar[AnswerDeadline | None] = contextvars.ContextVar(
    "qa_bot_answer_deadline", default=None
)
_PHASE_OF_TIMEOUT = {
    httpx2.ConnectTimeout: "connect",
    httpx2.ReadTimeout: "read",
    httpx2.WriteTimeout: "write",
    httpx2.PoolTimeout: "pool",
}


class AnswerDeadlineExceeded(openai.APITimeoutError):
    """The answer took longer than its deadline (an openai error, so the client does not retry it)."""

    def __init__(self, request: httpx2.Request, seconds: float) -> None:
        super().__init__(request=request)
        self.seconds = seconds


class AnswerDeadline:
    """`seconds` for every model request made while it is applied; the clock starts at first use."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._ends: float | None = None

    def remaining(self) -> float:
        if self._ends is None:
            self._ends = time.monotonic() + self.seconds
        return self._ends - time.monotonic()

    def expired(self) -> bool:
        return self.remaining() <= 0

    def postpone(self, seconds: float) -> None:
        """Time the question spent without the model (waiting in line) is not counted against it."""
        if self._ends is not None:  # a clock not started yet has nothing to give back
            self._ends += seconds

    @contextlib.contextmanager
    def applied(self) -> Iterator[AnswerDeadline]:
        """Model requests made inside the block (in this thread or task) are held to this deadline."""
        self.remaining()  # starts the clock
        token = _CURRENT.set(self)
        try:
            yield self
        finally:
            _CURRENT.reset(token)

    def iterate(self, items: Iterable[T]) -> Iterator[T]:
        """`items` (a model's stream), each step taken under this deadline.

        The deadline is applied around each `next()` only, never across a `yield`, so the code that
        consumes the stream runs without it and the context is always reset where it was set.
        """
        iterator = iter(items)
        while True:
            with self.applied():
                try:
                    item = next(iterator)
                except StopIteration:
                    return
            yield item


def current_deadline() -> AnswerDeadline | None:
    return _CURRENT.get()


class DeadlineHttpClient(openai.DefaultHttpxClient):
    """The openai client's default HTTP client, holding requests to the current AnswerDeadline.

    Overrides `send` rather than the transport, so proxies from the environment keep working (a
    custom transport switches httpx's proxy detection off). Without a deadline it changes nothing.
    """

    def send(self, request: httpx2.Request, *, stream: bool = False, **kwargs: Any) -> httpx2.Response:
        deadline = current_deadline()
        if deadline is None:
            return super().send(request, stream=stream, **kwargs)
        clamped = _hold_to_deadline(request, deadline, default=self.timeout.as_dict())
        try:
            response = super().send(request, stream=True, **kwargs)
        except httpx2.TimeoutException as exc:
            if _PHASE_OF_TIMEOUT.get(type(exc)) in clamped:
                raise AnswerDeadlineExceeded(request, deadline.seconds) from exc
            raise
        response.stream = _DeadlineStream(response.stream, deadline, request, "read" in clamped)
        _no_retry_past_deadline(response, deadline)
        if not stream:
            try:
                response.read()
            except BaseException:
                response.close()
                raise
        return response


def _hold_to_deadline(request: httpx2.Request, deadline: AnswerDeadline, default: dict) -> set[str]:
    """Cut the request's timeouts to the time left; returns the phases the deadline now limits."""
    left = deadline.remaining()
    if left <= 0:
        raise AnswerDeadlineExceeded(request, deadline.seconds)
    timeouts = dict(request.extensions.get("timeout") or default)
    clamped = {phase for phase, limit in timeouts.items() if limit is None or limit >= left}
    request.extensions["timeout"] = {
        phase: left if phase in clamped else limit for phase, limit in timeouts.items()
    }
    return clamped


def _no_retry_past_deadline(response: httpx2.Response, deadline: AnswerDeadline) -> None:
    """A server asking to wait longer than the time left gets its error now, not after the wait.

    `x-should-retry` is the openai client's documented switch for this; the default backoff without
    Retry-After is short (0.5 s, then 1 s), and an attempt that starts too late fails at once.
    """
    if response.status_code < 400:
        return
    wait = _retry_after_seconds(response.headers)
    if wait is not None and wait >= deadline.remaining():
        response.headers["x-should-retry"] = "false"


def _retry_after_seconds(headers: httpx2.Headers) -> float | None:
    if "retry-after-ms" in headers:
        with contextlib.suppress(ValueError):
            return float(headers["retry-after-ms"]) / 1000
    value = headers.get("retry-after")
    if value is None:
        return None
    with contextlib.suppress(ValueError):
        return float(value)
    with contextlib.suppress(TypeError, ValueError):
        return email.utils.parsedate_to_datetime(value).timestamp() - time.time()
    return None


class _DeadlineStream(httpx2.SyncByteStream):
    """A response body that stops at the deadline, even while only keep-alive bytes arrive."""

    def __init__(self, inner, deadline: AnswerDeadline, request: httpx2.Request, read_clamped: bool) -> None:
        self._inner = inner
        self._deadline = deadline
        self._request = request
        self._read_clamped = read_clamped

    def __iter__(self) -> Iterator[bytes]:
        try:
            for chunk in self._inner:
                if self._deadline.expired():
                    raise AnswerDeadlineExceeded(self._request, self._deadline.seconds)
                yield chunk
        except httpx2.ReadTimeout as exc:
            if self._read_clamped:
                raise AnswerDeadlineExceeded(self._request, self._deadline.seconds) from exc
            raise

    def close(self) -> None:
        self._inner.close()
