"""Which package a failed import needs, said so that a user can install it.

An import can fail at run time in a user's own environment (a venv made with `pip install` by hand,
an extra left out). The traceback then names a module (`yaml`), or only says so in words ("requires
that the Python 'greenlet' library is installed"); what the user needs is the name pip knows and the
version this release was tested with.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from importlib import metadata

# Import names whose package on PyPI is called something else.
_PACKAGE_OF_MODULE = {
    "yaml": "PyYAML",
    "docx": "python-docx",
    "bs4": "beautifulsoup4",
    "dateutil": "python-dateutil",
    "Stemmer": "PyStemmer",
    "pydantic_settings": "pydantic-settings",
    "langchain_classic": "langchain-classic",
    "langchain_chroma": "langchain-chroma",
    "langchain_core": "langchain-core",
    "langchain_openai": "langchain-openai",
    "langchain_text_splitters": "langchain-text-splitters",
    "psycopg": "psycopg[binary]",
    "authlib": "Authlib",
    "sqlalchemy": "SQLAlchemy",
}
# Libraries that check for an optional dependency themselves say so in words, e.g. SQLAlchemy:
# "The SQLAlchemy asyncio module requires that the Python 'greenlet' library is installed".
_NAMED_IN_WORDS = re.compile(r"""['"](?P<name>[A-Za-z0-9_.-]+)['"] (?:library|package|module)\b""")
_OWN_MODULES = ("qa_bot", "ui", "benchmarks", "tests")
_REQUIREMENT_NAME = re.compile(r"^\s*(?P<name>[A-Za-z0-9_.-]+)(?:\[[^\]]*\])?\s*(?P<spec>[^;]*)")


@dataclass(frozen=True)
class MissingPackage:
    """A package that an import needed and this environment lacks."""

    package: str  # as pip installs it, e.g. "greenlet" or "PyYAML"
    requirement: str  # with the version qa-bot pins, when it pins one: "greenlet==3.5.6"

    def message(self) -> str:
        return (
            f"The Python package '{self.package}' is missing from this environment ({sys.prefix}). "
            f"Install it with: {sys.executable} -m pip install '{self.requirement}' "
            "(or run `bash scripts/setup.sh` again, which installs everything qa-bot needs)."
        )


def missing_package(exc: BaseException) -> MissingPackage | None:
    """The package behind an ImportError anywhere in `exc`'s chain; None when none is to blame (or
    the module missing is one of qa-bot's own, which no pip install would fix)."""
    for error in _chain(exc):
        if not isinstance(error, ImportError):
            continue
        module = _missing_module(error)
        if module and module.split(".")[0] not in _OWN_MODULES:
            package = _PACKAGE_OF_MODULE.get(module.split(".")[0], module.split(".")[0])
            return MissingPackage(package, _pinned(package))
    return None


def _missing_module(error: ImportError) -> str | None:
    named = _NAMED_IN_WORDS.search(str(error))
    if named:
        return named.group("name")
    if isinstance(error, ModuleNotFoundError) and error.name:
        return error.name
    return None


def _chain(exc: BaseException):
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _pinned(package: str) -> str:
    """`package` as qa-bot's own metadata requires it (its pin), or the bare name."""
    wanted = _normalise(package.split("[")[0])
    try:
        requirements = metadata.requires("qa-bot") or []
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return package
    for requirement in requirements:
        match = _REQUIREMENT_NAME.match(requirement)
        if match and _normalise(match.group("name")) == wanted:
            return f"{package}{match.group('spec').strip()}"
    return package


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()
