"""What leaves the app as JSON: the records' one serialised form.

Each record that leaves the app (qa_bot.index.search.Passage, qa_bot.answering.quoting.Quote, and
in qa_bot.answering.answer Citation, AnswerSentence, Turn and Answer) has `to_dict()` and
`from_dict()`, and `from_dict(to_dict(x)) == x`. The CLI's `--json`, the answer log, the evaluation
rows and `--reverify` all use them, so an answer has one set of keys wherever it is read. These two
helpers keep a record's keys its field names.

`display_date` is how a record's date reads wherever people see it (the CLI, the chat's source
cards, the review page): the ISO date, or "undated" when the article has none.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any


def record_dict(record: Any) -> dict[str, Any]:
    """A dataclass's fields by name; lists and dicts copied, so the dict never aliases the record."""
    return {f.name: _copied(getattr(record, f.name)) for f in fields(record)}


def record_values(cls: type, data: Mapping[str, Any]) -> dict[str, Any]:
    """The values in `data` of `cls`'s fields (keys of other records, e.g. a list's "n", are left)."""
    return {f.name: _copied(data[f.name]) for f in fields(cls) if f.name in data}


def _copied(value: Any) -> Any:
    if isinstance(value, list):
        return list(value)
    return dict(value) if isinstance(value, dict) else value


UNDATED = "undated"


def display_date(value: str | None) -> str:
    """An article's date for people: `2023-04-16` as it is, "undated" for none (never nothing)."""
    text = " ".join(str(value).split()) if value is not None else ""
    return text or UNDATED
