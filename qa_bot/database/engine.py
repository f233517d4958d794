"""Where the app's own tables live: one SQLAlchemy database, SQLite files by default, PostgreSQL for a team.

Unset, `QA_BOT_DATABASE_URL` keeps each store in its own SQLite file in the data directory, as before
it existed (so an existing data directory keeps working). Set, every store (the article catalog with its
chunks, the answer log, feedback and reviews) goes to that one database, so that
several app processes, on one machine or several, see the same corpus and the same reviews.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, InterfaceError, OperationalError

from qa_bot.redaction import redact
from qa_bot.settings import Settings

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def database_url(settings: Settings, sqlite_file: Path) -> str:
    """The configured shared database, or the SQLite file a store uses when none is configured."""
    if settings.database_url:
        return settings.database_url.get_secret_value()
    sqlite_file.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{sqlite_file.resolve()}"


def get_engine(url: str) -> Engine:
    """One engine (and its connection pool) per database URL for the whole process."""
    with _engines_lock:
        if url not in _engines:
            _engines[url] = _create_engine(url)
        return _engines[url]


def _create_engine(url: str) -> Engine:
    if url.startswith(("postgresql://", "postgres://")):
        # The usual spelling (libpq's, most hosting panels'): SQLAlchemy would pick psycopg2, which
        # qa-bot does not install; psycopg 3 is the `postgres` extra.
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    if url.startswith("sqlite"):
        # Another process or thread may be writing (an ingest, a second UI session): wait for its lock.
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_foreign_keys)
        return engine
    # A server closes idle connections (restarts, proxies): test each one before use.
    return create_engine(url, pool_pre_ping=True, future=True)


def _sqlite_foreign_keys(dbapi_connection, _record) -> None:
    dbapi_connection.execute("PRAGMA foreign_keys = ON")


def is_shared(settings: Settings) -> bool:
    return settings.database_url is not None


# --- when it cannot be used ----------------------------------------------------------------------------


class DatabaseUnavailable(RuntimeError):
    """The app's database cannot be used; the message names it (password blanked) and says why."""


def shown_url(url: str) -> str:
    """The URL as messages and `qa-bot status` show it: any password as ***."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL SQLAlchemy reads: blank what the secrets registry knows
        return redact(url)


@contextmanager
def database_errors(url: str) -> Iterator[None]:
    """Turns a failure to connect to (or open) the database into DatabaseUnavailable, with a message
    that names `QA_BOT_DATABASE_URL` or the SQLite file and never the password."""
    try:
        yield
    except (OperationalError, InterfaceError) as exc:
        raise DatabaseUnavailable(describe_database_error(exc, url)) from None
    except (ArgumentError, ImportError) as exc:  # not a URL SQLAlchemy reads, or its driver is missing
        raise DatabaseUnavailable(
            f"Cannot use the database at {shown_url(url)} (QA_BOT_DATABASE_URL): {redact(str(exc))}. "
            "qa-bot supports PostgreSQL (postgresql+psycopg://USER:PASSWORD@HOST:5432/DATABASE, "
            "pip install 'qa-bot[postgres]') and SQLite (sqlite:////path/to/file.sqlite)."
        ) from None


def describe_database_error(exc: Exception, url: str) -> str:
    reason = error_reason(exc)
    if url.startswith("sqlite"):
        return f"Cannot open the database file {make_url(url).database}: {reason}."
    return (
        f"Cannot use the database at {shown_url(url)} (QA_BOT_DATABASE_URL): {reason}. "
        "Check that the database server runs and that the URL's host, port, database, user and "
        "password are right."
    )


def error_reason(exc: Exception) -> str:
    """What went wrong, in the words of the driver where there is one (no SQL, no background link),
    with any secret blanked."""
    original = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(original).strip().splitlines() if line.strip()]
    return redact(" ".join(lines[:2]) or type(original).__name__).rstrip(".?!")
