"""From the model's pointer to what the reader sees: the short answer, checked mechanically against
the sentence it points at, and that sentence quoted word for word from the article.

Nothing the model wrote is shown but the few words of its answer, and only when the evidence
sentence it points to (or, re-cited, another evidence sentence) holds every one of those words:
case, accents, apostrophes, thousands separators and counts written as words ("five" = "5") aside.
So the check needs no rule about the model's phrasing. A quote is `article.text[start:end]`
exactly. What the check refuses, it refuses with a reason, kept for the evaluation's funnel:

- `model`: the model said no passage answers;
- `not in evidence`: its answer's words are in no evidence sentence (invented, or from memory);
- `unrelated sentence`: the sentence holds the answer's words but no other word of the question;
- `off subject`: the sentence's article never names the question's subject (its capitalised
  names, e.g. "International Olympic Committee"): a name found in an article about something else.

Questions whose answer is not a few words ("Why ...", "What did they discuss?") get the pointed
sentences themselves, at most three, as the answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from qa_bot.answering.injection import withheld_spans
from qa_bot.answering.pointer import Pointer
from qa_bot.index.search import Passage
from qa_bot.records import record_dict, record_values
from qa_bot.text import WordBag, content_terms, split_sentences

MAX_QUOTES = 3
# A short answer longer than this is a sentence of the model's own: its pointed sentences are shown.
MAX_SHORT_ANSWER_WORDS = 12
# Questions answered by a statement, not a name, a number or a day.
_NOT_FACTOID = re.compile(
    r"^\s*(why|how(?! (many|much|old|long|far|big|often|tall|large))|"
    r"what (did|does|do|has|have|is|was|were) .+ "
    r"(say|said|discuss|discussed|talk about|mean|announce|propose|promise|want|plan|agree)\b)",
    re.IGNORECASE,
)
_THOUSANDS = re.compile(r"(?<=\d)[,\u202f\u00a0](?=\d{3}\b)")
# Capitalised words that are not a subject: question words, pronouns, months and days name nothing.
_NOT_SUBJECT = frozenset(
    (  # noqa: SIM905 (a word list reads best as words)
        "what which who whom whose when where why how the a an in on of for this that these those last "
        "first new according us u.s is are was were did does do has have"
    ).split()
)
ArticleText = Callable[[str], str | None]
UNRELATED, OFF_SUBJECT = "unrelated sentence", "off subject"
QUESTION_RULES = frozenset({UNRELATED, OFF_SUBJECT})


@dataclass(frozen=True)
class Quote:
    """An evidence sentence shown to the reader: `text == article.text[start:end]`."""

    n: int  # the evidence passage it stands in (its [n])
    article_id: str
    start: int
    end: int
    text: str

    def to_dict(self) -> dict[str, Any]:
        return record_dict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Quote:
        return cls(**record_values(cls, data))


@dataclass
class Quoted:
    """The checked answer: what to show, or why nothing is."""

    short_answer: str | None
    quotes: list[Quote] = field(default_factory=list)
    refusal: str | None = None  # "model", "not in evidence", "off subject"; None: answered
    recited: bool = False  # the model pointed elsewhere; the quote is where its answer is stated

    @property
    def answered(self) -> bool:
        return self.refusal is None


def quote_answer(
    question: str,
    pointer: Pointer,
    passages: Sequence[Passage],
    article_text: ArticleText | None = None,
    *,
    statement: bool = False,
    rules: frozenset[str] = QUESTION_RULES,
) -> Quoted:
    """Check the pointer against the evidence and pick the sentence(s) to quote. `statement`: the
    answer is a sentence of the passages (the extractive answerer's), shown as its quote. `rules`:
    the refusals by the question and the article that apply (all by default; fewer, to measure
    each one's effect: benchmarks/pointer_rules.py)."""
    if pointer.answer is None:
        return Quoted(None, refusal="model")
    factoid = not statement and _is_factoid(question, pointer.answer)
    shown = pointer.answer
    if factoid:
        quotes, shown = _stating(pointer, passages)
    else:
        quotes = _statements(pointer, passages)
    if not quotes:
        return Quoted(None, refusal="not in evidence")
    unrelated = factoid and not _about_the_question(question, pointer.answer, quotes[0])
    if UNRELATED in rules and unrelated:
        return Quoted(None, refusal=UNRELATED)
    if OFF_SUBJECT in rules and not _on_subject(question, quotes[0], passages, article_text):
        return Quoted(None, refusal=OFF_SUBJECT)
    recited = not any(q.n in pointer.passages for q in quotes)
    return Quoted(shown if factoid else None, quotes, recited=recited)


def _is_factoid(question: str, answer: str) -> bool:
    return not _NOT_FACTOID.search(question) and len(answer.split()) <= MAX_SHORT_ANSWER_WORDS


def sentences_of(n: int, passage: Passage) -> list[Quote]:
    """The passage's sentences that may be quoted (offsets into the article): never one that holds
    withheld text (qa_bot.answering.injection), whatever the model pointed at or its words match."""
    withheld = set(withheld_spans(passage.text))
    return [
        Quote(n, passage.article_id, passage.start + start, passage.start + end, passage.text[start:end])
        for start, end in split_sentences(passage.text)
        if (start, end) not in withheld
    ]


def _stating(pointer: Pointer, passages: Sequence[Passage]) -> tuple[list[Quote], str | None]:
    """The first sentence that holds every word of the answer: in the passages pointed at first,
    then in the rest of the evidence in its order (re-cited). With it, the answer to show."""
    answer = pointer.answer or ""
    terms = content_terms(_plain_numbers(answer))
    if not terms:  # "yes", "two": nothing to look for but the pointed sentence itself
        return _statements(pointer, passages)[:1], answer
    day = calendar_date(answer)
    order = list(pointer.passages) + [n for n in range(1, len(passages) + 1) if n not in pointer.passages]
    for n in order:
        relative = _relative_day(day, passages[n - 1].date)
        for quote in sentences_of(n, passages[n - 1]):
            bag = WordBag.of(_plain_numbers(quote.text))
            if all(bag.has(term) for term in terms):
                return [quote], answer
            if relative and relative.search(quote.text):
                return [quote], f"{day:%A} {day.day} {day:%B %Y}"
    return [], None


# How a date the model wrote may read in full.
_DATE_FORMATS = ("%Y-%m-%d", "%d %B %Y", "%B %d %Y", "%A %d %B %Y", "%A %B %d %Y", "%d %b %Y", "%b %d %Y")


def calendar_date(answer: str) -> date | None:
    """The answer as a date, when it is one written in full ("2023-04-16", "Sunday, 16 April 2023")."""
    text = " ".join(answer.replace(",", " ").strip(" .").split())
    for form in _DATE_FORMATS:
        try:
            return datetime.strptime(text, form).date()
        except ValueError:
            continue
    return None


def _relative_day(day: date | None, published: str | None) -> re.Pattern[str] | None:
    """How an article published on `published` names `day` if it falls in the week before: "on
    Sunday", "yesterday", "today". News writes days that way; the model, given the article's date,
    often answers with the date itself, which no sentence of the article states."""
    try:
        since = (date.fromisoformat((published or "")[:10]) - day).days if day else None
    except ValueError:
        return None
    if since is None or not 0 <= since <= 6:
        return None
    words = [f"{day:%A}"] + (["today"] if since == 0 else ["yesterday"] if since == 1 else [])
    return re.compile(r"\b(?:" + "|".join(words) + r")\b", re.IGNORECASE)


def _statements(pointer: Pointer, passages: Sequence[Passage]) -> list[Quote]:
    """For an answer that is a statement: in each passage pointed at, the sentence sharing the most
    words with it (at least half of them)."""
    terms = content_terms(_plain_numbers(pointer.answer or ""))
    quotes = []
    for n in pointer.passages[:MAX_QUOTES]:
        scored = [(_share(terms, quote.text), quote) for quote in sentences_of(n, passages[n - 1])]
        share, best = max(scored, key=lambda pair: pair[0], default=(0.0, None))
        if best is not None and (not terms or share >= 0.5):
            quotes.append(best)
    return quotes


def _share(terms, text: str) -> float:
    if not terms:
        return 1.0
    bag = WordBag.of(_plain_numbers(text))
    return sum(bag.has(term) for term in terms) / len(terms)


def _plain_numbers(text: str) -> str:
    """ "1,000" and "1 000" as "1000", so that they match however the article writes them."""
    return _THOUSANDS.sub("", text)


def _about_the_question(question: str, answer: str, quote: Quote) -> bool:
    """The quoted sentence shares a content word with the question besides the answer's own: a day
    or a name found in a sentence about something else does not answer it."""
    own = {term.stem for term in content_terms(_plain_numbers(answer))}
    asked = [term for term in content_terms(question) if term.stem not in own]
    if not asked:
        return True
    bag = WordBag.of(_plain_numbers(quote.text))
    return any(bag.has(term) for term in asked)


def subject_names(question: str) -> list[str]:
    """The capitalised words of the question after its first: the names of what it is about."""
    words = re.findall(r"[^\W_][\w'’.-]*", question)
    return [
        word.strip(".'’")
        for word in words[1:]
        if word[0].isupper() and word.lower().strip(".") not in _NOT_SUBJECT and len(word) > 1
    ]


def _on_subject(
    question: str, quote: Quote, passages: Sequence[Passage], article_text: ArticleText | None
) -> bool:
    """At least half of the question's names occur in the quoted sentence's article (title or text)."""
    names = subject_names(question)
    if not names:
        return True
    passage = passages[quote.n - 1]
    whole = (article_text(passage.article_id) if article_text else None) or passage.text
    bag = WordBag.of(f"{passage.title or ''} {whole}")
    found = sum(all(bag.has(t) for t in content_terms(name)) for name in names)
    return found * 2 >= len(names)
