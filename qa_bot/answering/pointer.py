"""What the model answers with: a short answer and the number(s) of the evidence passage that states
it, never a free sentence of its own (`qa_bot.answering.quoting` then quotes the passage word for word).

The prompt (prompts/point.md) asks for two lines:

    Answer: Sunday
    Passage: [1]

or `Answer: none` when no passage answers. A model served with structured output may send the same as
JSON (`{"answer": "Sunday", "passages": [1]}`, `{"answer": null}`). Small models wrap either in
chatter, code fences or bold labels, or stop early; the parser takes what it can and says None
for the answer only when the model said so or wrote nothing usable.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

# The JSON shape, for servers that enforce one (llama.cpp's json_schema, OpenAI's structured outputs).
POINTER_SCHEMA = {
    "type": "object",
    "properties": {
        "answer": {"type": ["string", "null"]},
        "passages": {"type": "array", "items": {"type": "integer"}, "maxItems": 3},
    },
    "required": ["answer", "passages"],
    "additionalProperties": False,
}
# As the OpenAI API (and llama.cpp's server, which turns the schema into a grammar) takes it.
POINTER_RESPONSE_FORMAT = {
    "type": "json_schema",
    "json_schema": {"name": "pointer", "schema": POINTER_SCHEMA, "strict": True},
}

_LABEL = r"[*_`#\s]*"
_ANSWER_LINE = re.compile(rf"^{_LABEL}(?:short\s+)?answer{_LABEL}[:：]{_LABEL}(?P<value>.*)$", re.I | re.M)
_PASSAGE_LINE = re.compile(
    rf"^{_LABEL}(?:passages?|sentences?|sources?|citations?|evidence){_LABEL}[:：](?P<value>.*)$", re.I | re.M
)
_NUMBER = re.compile(r"\d{1,3}")
_MARKER = re.compile(r"\[\s*(\d{1,3}(?:\s*[,;&]\s*\d{1,3})*)\s*\]")
_JSON_OBJECT = re.compile(r"\{.*\}", re.S)
_JSON_ANSWER = re.compile(r'"answer"\s*:\s*(?:"(?P<text>(?:[^"\\]|\\.)*)"?|(?P<null>null))', re.S)
_JSON_NUMBERS = re.compile(r'"(?:passages?|sentences?)"\s*:\s*\[?(?P<value>[\d\s,]*)')
# What "no passage answers" looks like, in the words small models use.
_NONE = re.compile(
    r"^(?:none|null|n/?a|nothing|unknown|"
    r"not (?:stated|given|mentioned|known|found|in (?:the )?passages?)\b.*|"
    r"no (?:passage|answer|information)\b.*|the passages do not\b.*|(?:it is )?not clear\b.*)$",
    re.I,
)


@dataclass(frozen=True)
class Pointer:
    """The model's answer: a few words (None: it says no passage answers) and where they stand."""

    answer: str | None
    passages: list[int] = field(default_factory=list)  # 1-based, in the model's order, each once


def parse_pointer(raw: str, n_passages: int) -> Pointer:
    """The model's output, well-formed or not, as a Pointer; numbers outside 1..n_passages are dropped."""
    text = raw.strip()
    parsed = _from_json(text) if "{" in text else None
    answer, numbers = parsed if parsed is not None else _from_lines(text)
    answer = _clean(answer)
    kept = list(dict.fromkeys(n for n in numbers if 1 <= n <= n_passages))
    return Pointer(answer, kept)


def _from_json(text: str) -> tuple[str | None, list[int]] | None:
    match = _JSON_OBJECT.search(text)
    if match:
        try:
            data = json.loads(match.group())
        except json.JSONDecodeError:
            data = None
        if isinstance(data, dict) and "answer" in data:
            value = data.get("answer")
            numbers = data.get("passages", data.get("sentences", data.get("passage", [])))
            if not isinstance(numbers, list):
                numbers = [numbers]
            return (str(value) if value is not None else None), [
                int(n) for n in numbers if isinstance(n, int | str) and str(n).strip().isdigit()
            ]
    # Cut off mid-object (the token limit): take the fields that did arrive.
    answer = _JSON_ANSWER.search(text)
    if not answer:
        return None
    value = None if answer.group("null") else json.loads(f'"{answer.group("text")}"'.replace("\n", " "))
    numbers = _JSON_NUMBERS.search(text)
    return value, [int(n) for n in _NUMBER.findall(numbers.group("value"))] if numbers else []


def _from_lines(text: str) -> tuple[str | None, list[int]]:
    answer_line = _ANSWER_LINE.search(text)
    passage_line = _PASSAGE_LINE.search(text)
    if answer_line:
        answer = answer_line.group("value")
    else:  # no label: the first line that is not the passage line
        lines = [line for line in text.splitlines() if line.strip() and not _PASSAGE_LINE.match(line)]
        answer = lines[0] if lines else None
    numbers = [int(n) for n in _NUMBER.findall(passage_line.group("value"))] if passage_line else []
    # "[2]" written in the answer itself counts as pointing there too.
    for group in _MARKER.findall(text if not passage_line else answer or ""):
        numbers += [int(n) for n in _NUMBER.findall(group)]
    return answer, numbers


def _clean(answer: str | None) -> str | None:
    if answer is None:
        return None
    answer = _MARKER.sub("", answer)
    answer = re.sub(r"^(?:the )?answer is:?\s+", "", answer.strip(), flags=re.I)
    answer = " ".join(answer.split()).strip(" *_`\"'“”‘’").rstrip(" .;,")
    if not answer or _NONE.match(answer):
        return None
    return answer


def extractive_pointer(raw: str, n_passages: int) -> Pointer:
    """The extractive answerer's output ("sentence [n] sentence [m]", or NOT IN PASSAGES) as a
    pointer whose answer is its sentences: they are the passages' own words."""
    numbers = [int(n) for group in _MARKER.findall(raw) for n in _NUMBER.findall(group)]
    if not numbers:
        return Pointer(None)
    return Pointer(
        _MARKER.sub("", raw).strip(), list(dict.fromkeys(n for n in numbers if 1 <= n <= n_passages))
    )


def partial_answer(raw: str) -> str:
    """The short answer as far as the model has written it, for the screen while tokens arrive:
    never the labels, the passage numbers or a "none" that is on its way to a refusal."""
    text = raw.lstrip()
    match = _ANSWER_LINE.search(text)
    if match:
        value = match.group("value")
    elif text.startswith("{"):
        found = re.search(r'"answer"\s*:\s*"(?P<text>[^"]*)', text)
        value = found.group("text") if found else ""
    else:
        value = "" if not text or looks_like_pointer(text) else text.splitlines()[0]
    value = _MARKER.sub("", value).strip(' *_`"')
    if not value or any(word.startswith(value.lower()) for word in ("none", "null")) or _NONE.match(value):
        return ""
    return value


def looks_like_pointer(partial: str) -> bool:
    """Whether text the model is still writing is (or is becoming) a pointer, not a sentence."""
    head = partial.lstrip(" *_`#").lower()
    return partial.lstrip().startswith("{") or head.startswith("answer") or "answer".startswith(head[:6])
