"""A title for an article that names none: its first line, as readers scan a page.

Seed and plain-text articles often have no `title:` header; shown by their file name
(`000_092cfdeac746b4f0.txt`) they cannot be told apart. The first non-empty line of the body is
what a reader would call the story: its Markdown heading marks (`# `, `## ... ##`) and emphasis
around the whole line are taken off, and a line longer than TITLE_MAX_CHARS is cut at a word
boundary, ending with "…". The body itself is left as it is.
"""

from __future__ import annotations

import re

TITLE_MAX_CHARS = 90  # about a headline and a half; a source card shows it on one or two lines

_HEADING_MARKS = re.compile(r"^#{1,6}\s+(?P<title>.*?)(?:\s+#+)?$")
_EMPHASIS = re.compile(r"^(?P<mark>\*\*|__|\*|_)(?P<title>.+)(?P=mark)$")
_TRAILING_JOINERS = " ,;:-–—([{\"'“‘"


def title_from_text(text: str, max_chars: int = TITLE_MAX_CHARS) -> str | None:
    """The first non-empty line of `text` as a title, or None when there is no text."""
    for line in text.split("\n"):
        title = _without_marks(" ".join(line.split()))
        if title:
            return _shortened(title, max_chars)
    return None


def _without_marks(line: str) -> str:
    heading = _HEADING_MARKS.match(line)
    if heading:
        line = heading["title"].strip()
    emphasis = _EMPHASIS.match(line)
    return emphasis["title"].strip() if emphasis else line


def _shortened(title: str, max_chars: int) -> str:
    """The title within `max_chars` (the "…" included), cut after a whole word."""
    if len(title) <= max_chars:
        return title
    room = title[: max_chars - 1]
    if title[max_chars - 1] != " " and " " in room:
        room = room.rsplit(" ", 1)[0]  # the last word was cut: drop it
    return room.rstrip(_TRAILING_JOINERS) + "…"
