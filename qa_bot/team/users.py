"""The small-team login: users and their hashed passwords in one file, and a brake on guessing.

`qa-bot users add NAME` writes the file (QA_BOT_USERS_FILE, default DATA_DIR/users.json); the chat
asks for a name and password when QA_BOT_AUTH=password. Passwords are hashed with scrypt (the
standard library's, memory-hard: a stolen file is slow to attack), each with its own random salt,
and compared in constant time. Only the hash is stored; the file is readable by its owner only.

After MAX_FAILURES wrong passwords for one name within FAILURE_WINDOW_S, that name is refused for
the rest of the window, whatever is typed: guessing is slow even across browser sessions.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import ipaddress
import json
import os
import re
import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path

from qa_bot.settings import Settings

# scrypt's cost: 2**15 x 8 x 128 bytes = 32 MiB and about 0.1 s per check on one core.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**15, 8, 1
_SCRYPT_MAXMEM = 64 * 2**20
_SALT_BYTES = 16
MIN_PASSWORD_LENGTH = 10
MAX_FAILURES = 5
FAILURE_WINDOW_S = 15 * 60
_NAME = re.compile(r"[\w.@+-]{1,64}")


REFUSED_WITHOUT_LOGIN = (
    "This chat is served on {address}, beyond this machine, without a login, so it will not open. "
    "Set QA_BOT_AUTH=password (and add users with `qa-bot users add NAME`) or QA_BOT_AUTH=oidc, or "
    "serve it on 127.0.0.1. To open it to everyone who can reach it anyway, start it with "
    "`qa-bot ui --no-auth`."
)
OPEN_WITHOUT_LOGIN = (
    "This chat is served on {address} without a login (--no-auth): anyone who can reach it can ask "
    "questions, read the articles and rate answers."
)


class UsersFileError(ValueError):
    """The users file or a name or password given for it is unusable; the message says why."""


def hash_password(password: str) -> str:
    """`scrypt$N$r$p$salt$hash`, salt and hash in base64: the cost travels with the hash."""
    salt = secrets.token_bytes(_SALT_BYTES)
    digest = _scrypt(password, salt, _SCRYPT_N, _SCRYPT_R, _SCRYPT_P)
    return "$".join(["scrypt", str(_SCRYPT_N), str(_SCRYPT_R), str(_SCRYPT_P), _b64(salt), _b64(digest)])


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, expected = stored.split("$")
        if scheme != "scrypt":
            return False
        digest = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(digest, base64.b64decode(expected))


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=_SCRYPT_MAXMEM, dklen=32)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


class UsersFile:
    """{"users": {name: {"password": hash}}} in one JSON file, written atomically, mode 0600."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def names(self) -> list[str]:
        return sorted(self._load())

    def add(self, name: str, password: str) -> bool:
        """Adds the user, or sets a new password for an existing one; True when the name was new."""
        check_name(name)
        if len(password) < MIN_PASSWORD_LENGTH:
            raise UsersFileError(f"The password is too short: use at least {MIN_PASSWORD_LENGTH} characters.")
        users = self._load()
        is_new = name not in users
        users[name] = {"password": hash_password(password)}
        self._save(users)
        return is_new

    def remove(self, name: str) -> bool:
        users = self._load()
        if name not in users:
            return False
        del users[name]
        self._save(users)
        return True

    def check(self, name: str, password: str) -> bool:
        entry = self._load().get(name)
        if entry is None:
            # Spend the same time as for a real user, so timing does not tell which names exist.
            verify_password(password, _dummy_hash())
            return False
        return verify_password(password, entry.get("password", ""))

    def _load(self) -> dict[str, dict]:
        if not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            users = data["users"]
            if not isinstance(users, dict):
                raise TypeError
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise UsersFileError(
                f"{self.path}: not a qa-bot users file ({exc.__class__.__name__}). Fix or remove it, then "
                "add users again with `qa-bot users add NAME`."
            ) from None
        return users

    def _save(self, users: dict[str, dict]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            json.dump({"users": users}, out, indent=2, sort_keys=True)
        os.replace(temporary, self.path)


def check_name(name: str) -> None:
    if not _NAME.fullmatch(name):
        raise UsersFileError(
            f"{name!r} is not a usable user name: use 1-64 letters, digits and . @ + - _ (no spaces)."
        )


class LoginThrottle:
    """Counts wrong passwords per name; refuses a name that had MAX_FAILURES within the window."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def wait_seconds(self, name: str) -> int:
        """How long `name` is refused for (0: it may try now)."""
        with self._lock:
            recent = self._recent(name)
            if len(recent) < MAX_FAILURES:
                return 0
            return max(1, int(recent[0] + FAILURE_WINDOW_S - self._clock()))

    def failed(self, name: str) -> None:
        with self._lock:
            self._failures[name] = [*self._recent(name), self._clock()]

    def succeeded(self, name: str) -> None:
        with self._lock:
            self._failures.pop(name, None)

    def _recent(self, name: str) -> list[float]:
        cutoff = self._clock() - FAILURE_WINDOW_S
        return [t for t in self._failures.get(name, []) if t > cutoff]


@functools.cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


# --- serving: when the chat may start ------------------------------------------------------------


def is_loopback(address: str | None) -> bool:
    """Whether only this machine can connect. No address means every interface, as Streamlit binds."""
    if not address:
        return False
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def login_problem(settings: Settings, address: str, *, no_auth: bool) -> str | None:
    """Why the chat must not start as asked, or None."""
    if settings.auth == "password":
        try:
            if not UsersFile(settings.users_path).names():
                return (
                    f"QA_BOT_AUTH=password, but {settings.users_path} has no users: add one with "
                    "`qa-bot users add NAME`."
                )
        except UsersFileError as exc:
            return str(exc)
        return None
    if settings.auth == "oidc":
        # Where Streamlit reads st.login's configuration from.
        places = [Path(".streamlit") / "secrets.toml", Path.home() / ".streamlit" / "secrets.toml"]
        if not any(p.exists() and "[auth" in p.read_text(encoding="utf-8") for p in places):
            return (
                "QA_BOT_AUTH=oidc, but no .streamlit/secrets.toml (in this folder or your home) has an "
                "[auth] section: see docs/deployment.md for an example."
            )
        return None
    if is_loopback(address) or no_auth:
        return None
    return REFUSED_WITHOUT_LOGIN.format(address=address)
