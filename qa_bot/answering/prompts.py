"""The prompts the LLM sees: loading prompts/*.md, and filling them with passages and history.

Every prompt is a file (see prompts/README.md) with a `## system` and a `## user` section; this module
reads them, checks their placeholders, and formats the numbered passages the model cites. Separate
from `qa_bot.answering.answer`, which reads what the model wrote back, because wording a request and checking
its answer change for different reasons.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from datetime import date
from functools import partial
from pathlib import Path
from typing import NamedTuple

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from langchain_core.prompts import PromptTemplate

from qa_bot.answering.answer import NOT_IN_PASSAGES, strip_markers
from qa_bot.index.search import Passage
from qa_bot.now import asks_about_now
from qa_bot.settings import packaged_folder

# settings.prompts_dir (QA_BOT_PROMPTS_DIR) overrides it; this is its default, the prompts/ folder.
DEFAULT_PROMPTS_DIR = packaged_folder("prompts")

_PLACEHOLDERS = {
    "answer": {"fence", "evidence", "question"},
    "point": {"fence", "evidence", "question"},
    "condense": {"history", "question"},
    "judge": {"passages", "question", "answer"},
}
# {sentinel} (NOT IN PASSAGES) may be offered to the model as its way to refuse; the default prompt
# doesn't, because the embedded model then refused answerable questions (docs/evaluation.md).
# {today} is "Today is Monday 7 December 2026." for a question about now and empty otherwise;
# {as_of} (the day, always) is kept for prompts written before it.
_OPTIONAL = {"answer": {"sentinel", "today", "as_of"}, "point": {"today", "as_of"}}
_SECTION = re.compile(r"^##[ \t]+(system|user)[ \t]*$", re.IGNORECASE | re.MULTILINE)


class PromptPair(NamedTuple):
    system: PromptTemplate
    user: PromptTemplate

    def to_messages(self, **values: str) -> list[BaseMessage]:
        # Values are substituted once and never re-parsed, so braces in article text are safe.
        return [SystemMessage(self.system.format(**values)), HumanMessage(self.user.format(**values))]


def load_prompt(name: str, prompts_dir: Path | None = None) -> PromptPair:
    """Read `<prompts_dir>/<name>.md`: a `## system` section and a `## user` section with {placeholders}."""
    path = Path(prompts_dir or DEFAULT_PROMPTS_DIR) / f"{name}.md"
    if not path.is_file():
        raise FileNotFoundError(
            f"Prompt file {path} is missing: restore it from the repository's prompts/ folder, "
            "or set QA_BOT_PROMPTS_DIR to a folder that has it."
        )
    sections = _split_sections(path.read_text(encoding="utf-8"), path)
    pair = PromptPair(*(PromptTemplate.from_template(sections[part]) for part in ("system", "user")))
    expected = _PLACEHOLDERS.get(name)
    found = set(pair.system.input_variables) | set(pair.user.input_variables)
    if expected is not None and found - _OPTIONAL.get(name, set()) != expected:
        raise ValueError(
            f"{path}: the prompt must use exactly the placeholders {sorted(expected)}"
            + (f" (and may use {sorted(_OPTIONAL[name])})" if name in _OPTIONAL else "")
            + f"; found {sorted(found)}. Write a literal brace as {{{{ or }}}}."
        )
    return pair


def _split_sections(text: str, path: Path) -> dict[str, str]:
    """Text before the first heading is a note for people and is not sent to the model."""
    headings = list(_SECTION.finditer(text))
    names = [m.group(1).lower() for m in headings]
    if sorted(names) != ["system", "user"]:
        raise ValueError(
            f"{path}: expected one '## system' heading and one '## user' heading, found {names}."
        )
    sections = {}
    for i, heading in enumerate(headings):
        end = headings[i + 1].start() if i + 1 < len(headings) else len(text)
        sections[heading.group(1).lower()] = text[heading.end() : end].strip()
    return sections


def format_passages(passages: Sequence[Passage]) -> str:
    """`[n] <title> (<date>, <source>)` then the passage text, verbatim."""
    blocks = []
    for n, passage in enumerate(passages, start=1):
        title = " ".join((passage.title or "Untitled").split())  # a newline in a title would fake a block
        details = ", ".join(x for x in (passage.date, passage.source) if x)
        header = f"[{n}] {title}" + (f" ({details})" if details else "")
        blocks.append(f"{header}\n{passage.text}")
    return "\n\n".join(blocks)


def format_evidence(passages: Sequence[Passage]) -> str:
    """Evidence spans as `[n] <title> (<date>, <source>)` then the span's text, one block each.

    This is the layout the embedded model answered best from (docs/evaluation.md): an article
    header above a group of spans made it refuse far more. Article text is made unable to pass for
    structure: line breaks are flattened, so it can never start a line of its own, and `[n]`-style
    markers inside it become `(n)`, so it cannot forge a passage number.
    """
    return "\n\n".join(
        f"{_passage_header(n, passage)}\n{_inert(passage.text)}"
        for n, passage in enumerate(passages, start=1)
    )


# Titles are often long ("5 things to know for June 24: Gun laws, January 6, Covid-19 ...") and
# every token of them costs prompt time on a CPU model; their first words say what the article is.
TITLE_WORDS = 10


def _passage_header(n: int, passage: Passage) -> str:
    words = _inert(passage.title or "Untitled").removesuffix(" ...").split()
    title = " ".join(words[:TITLE_WORDS]) + (" ..." if len(words) > TITLE_WORDS else "")
    details = ", ".join(x for x in (passage.date, passage.source) if x)
    return f"[{n}] {title}" + (f" ({details})" if details else "")


_FORGED_MARKER = re.compile(r"\[\s*(\d{1,3})\s*\]")


def _inert(text: str) -> str:
    return _FORGED_MARKER.sub(r"(\1)", " ".join(text.split()))


def new_fence() -> str:
    """A per-request random code that delimits the evidence: article text cannot guess it."""
    return secrets.token_hex(4)


def build_answer_messages(
    question: str,
    passages: Sequence[Passage],
    as_of: date | None = None,
    prompts_dir: Path | None = None,
    fence: str | None = None,
) -> list[BaseMessage]:
    """System + user messages asking for a short, cited answer from the numbered evidence only.

    `passages` are the selected evidence spans (`qa_bot.answering.evidence`); `as_of` resolves "this week" and
    "latest" (None: today).
    """
    return _evidence_messages("answer", question, passages, as_of, prompts_dir, fence)


def _evidence_messages(
    name: str, question: str, passages: Sequence[Passage], as_of=None, prompts_dir=None, fence=None
) -> list[BaseMessage]:
    as_of = as_of or date.today()
    day = f"{as_of:%A} {as_of.day} {as_of:%B %Y}"
    return load_prompt(name, prompts_dir).to_messages(
        sentinel=NOT_IN_PASSAGES,
        as_of=day,
        today=_today_line(question, day),
        fence=fence or new_fence(),
        evidence=format_evidence(passages),
        question=" ".join(question.split()),
    )


def _today_line(question: str, day: str) -> str:
    """The day asked, only for a question whose meaning depends on it ("this week", "latest").

    Given always, the embedded model answered "On which day did X and Y speak?" with today's date
    instead of the day the article names: the date was the one day written in the prompt's own voice.
    """
    return f"Today is {day}." if asks_about_now(question) else ""


# The same request for the pointer (prompts/point.md): the answer in a few words and the [n] that
# states it; qa_bot.answering.pointer reads the reply.
build_point_messages = partial(_evidence_messages, "point")


def build_condense_messages(
    history: Sequence[tuple[str, str] | object],
    question: str,
    prompts_dir: Path | None = None,
    max_turns: int = 3,
) -> list[BaseMessage]:
    """Messages asking to rewrite a follow-up into a standalone question.

    `history` holds (question, answer) pairs or objects with .question and .answer, oldest first.
    Only the last `max_turns` are sent: each turn costs prompt time on a CPU model.
    """
    lines = []
    for turn in list(history)[-max_turns:]:
        asked, answered = turn if isinstance(turn, tuple) else (turn.question, turn.answer)
        lines += [f"User: {asked.strip()}", f"Assistant: {_shorten(strip_markers(answered), 400)}"]
    return load_prompt("condense", prompts_dir).to_messages(
        history="\n".join(lines), question=question.strip()
    )


def parse_condensed_question(raw: str, original: str) -> str:
    """The model's rewrite, cleaned of labels and quotes; the original question when it gave nothing."""
    for line in raw.strip().splitlines():
        line = re.sub(r"^\s*(standalone question|question|rewritten question)\s*:\s*", "", line, flags=re.I)
        line = line.strip().strip("\"'`“”").strip()
        if line:
            return line
    return original


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
