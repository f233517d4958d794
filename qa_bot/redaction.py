"""Secrets are blanked from every text that leaves the app: messages, logs, stored rows, reports.

Secrets are known by value, whatever their shape (`sk-...`, `ollama-...`, a password): every
Settings registers its SecretStr fields when it is built, and the embedded model registers the key
it makes per start.

- `redact_known` / `redact_data` blank the known values and change nothing else: for what the app
  shows and stores (answers, passages, rows, reports, exports), where a word like "bearer" is news.
  Data is redacted before it is serialised, so JSON or HTML escaping cannot hide a secret.
- `redact` also blanks what merely looks like a key (`sk-...`, `Bearer ...`, `api_key=...`): for
  error messages and logs, where a server may echo a key we were never told about.

Logging is covered once for the whole process: see `install_log_redaction`.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from pydantic import SecretStr

MASK = "***"
# Shorter values would blank ordinary letters and digits from every text, and cannot be real keys.
MIN_SECRET_LENGTH = 4

_KEY_SHAPES = [
    re.compile(r"sk-[A-Za-z0-9_\-*]{4,}"),
    re.compile(r"(Bearer\s+)\S+", re.IGNORECASE),
    re.compile(r"((?:api[_-]?key|authorization)[\"']?\s*[:=]\s*[\"']?)[^\s\"',}]+", re.IGNORECASE),
]

_known: set[str] = set()
_known_lock = threading.Lock()
# Longest first, so that a secret containing another is blanked whole.
_ordered: tuple[str, ...] = ()

T = TypeVar("T")


def register_secret(value: str | SecretStr | None) -> None:
    """Remember a secret value: from now on `redact` blanks it everywhere in this process."""
    global _ordered
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if not value or len(value) < MIN_SECRET_LENGTH or value in _known:
        return
    with _known_lock:
        _known.add(value)
        _ordered = tuple(sorted(_known, key=len, reverse=True))


def redact(text: str, extra: Iterable[str | SecretStr | None] = ()) -> str:
    """A message with every registered secret (and `extra`) and anything shaped like a key blanked."""
    text = redact_known(text, extra)
    for pattern in _KEY_SHAPES:
        text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + MASK, text)
    return text


def redact_known(text: str, extra: Iterable[str | SecretStr | None] = ()) -> str:
    """The text with every registered secret (and `extra`) blanked, and nothing else changed.

    Also for whole serialised documents (a report's JSON, HTML or Markdown), where the key shapes
    would match their syntax (`"api_key": null`).
    """
    if not text:
        return text
    for secret in (*_plain(extra), *_ordered):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def redact_data(value: T, extra: Iterable[str | SecretStr | None] = ()) -> T:
    """A copy of JSON-like data (dicts, lists, strings) with the known secrets blanked in every string."""
    extra = tuple(_plain(extra))
    if isinstance(value, str):
        return redact_known(value, extra)
    if isinstance(value, dict):
        return {redact_data(k, extra): redact_data(v, extra) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact_data(item, extra) for item in value)
    return value


def _plain(values: Iterable[str | SecretStr | None]) -> list[str]:
    plain = [v.get_secret_value() if isinstance(v, SecretStr) else v for v in values]
    return [v for v in plain if v and len(v) >= MIN_SECRET_LENGTH]


# --- logging -------------------------------------------------------------------------------------


def _redact_record(record: logging.LogRecord) -> logging.LogRecord:
    try:
        message = record.getMessage()
    except Exception:  # a malformed call: logging itself reports it when the record is emitted
        return record
    record.msg, record.args = redact(message), ()
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    return record


def install_log_redaction() -> None:
    """Redact every log record of the process as it is made, whichever logger and handler it takes.

    A record factory rather than a logging.Filter: a filter on the `qa_bot` logger is not consulted
    for records of its children (`qa_bot.ui`, ...), and the handlers belong to whoever hosts us
    (Streamlit, pytest, a user's logging config). Tracebacks are formatted here, so the secret in
    an exception's message is gone before any handler sees it.
    """
    current = logging.getLogRecordFactory()
    if getattr(current, "redacts_secrets", False):
        return

    def make_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return _redact_record(current(*args, **kwargs))

    make_record.redacts_secrets = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(make_record)


install_log_redaction()


def server_endpoint(url: str | None) -> str | None:
    """scheme://host:port of a server's URL: enough to find the server in a message, never a path,
    a user or a password it may hold."""
    if not url:
        return None
    try:
        parts = urlsplit(url)
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:  # not a URL: nothing of it is shown
        return None
    if not parts.scheme or not parts.hostname:
        return None
    return f"{parts.scheme}://{parts.hostname}:{port}"
