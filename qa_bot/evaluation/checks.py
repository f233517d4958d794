"""Independent answer checks: grade an answer without the app's own rule for what supports it.

The app keeps a citation when qa_bot.answering.verify finds enough shared words between a sentence and a
passage; grading citations by that same rule (the "app's own" citation precision) can only agree
with it. These checks read a stored row (see runner._base_row) with their own small, deliberately
literal extraction, and import nothing from the answer stage:

- answer-bearing citation: a correct answer cites a passage whose TEXT (not its title, not its
  date) contains the acceptable answer the answer gave (the containment rule of answer accuracy);
- faithfulness by names and numbers: every number, month-name date and proper name of an answer
  sentence occurs in the text of a passage that sentence cites;
- staleness: a question with a time cue ("this week", "latest", ...) answered from an article more
  than STALE_AFTER_DAYS older than the question's as-of date.

The extraction is lexical on purpose: it cannot see a role swap ("X announced" where the passage
says Y did) or a paraphrased number ("1.5 million" for "1,500,000"), but what it reports missing
is plainly missing, and a reviewer can check each finding by eye.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from qa_bot.evaluation.metrics import CITATION_MARKER, answer_groups, contains_phrase, normalize

STALE_AFTER_DAYS = 30

# ------------------------------------------------------------------------------------------------
# Facts: numbers, month-name dates, proper names

_MONTH_NAMES = (  # noqa: SIM905 (a word list reads best as words)
    "January February March April May June July August September October November December"
).split()
_MONTH_NUMBER = {name.lower(): i for i, name in enumerate(_MONTH_NAMES, 1)}
_MONTH_NUMBER.update({name[:3].lower(): i for i, name in enumerate(_MONTH_NAMES, 1)})
_MONTH_NUMBER["sept"] = 9
_MONTH = r"(?:" + "|".join(_MONTH_NAMES) + r"|(?:Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)\.?)"
_DAY = r"\d{1,2}(?:st|nd|rd|th)?(?!\d)"
_DATE = re.compile(
    rf"\b(?:(?P<d1>{_DAY})\s+(?:of\s+)?(?P<m1>{_MONTH})(?:,?\s+(?P<y1>\d{{4}}))?"  # 12 March 2023
    rf"|(?P<m2>{_MONTH})\s+(?P<d2>{_DAY})(?:,?\s+(?P<y2>\d{{4}}))?"  # March 12, 2023
    rf"|(?P<m3>{_MONTH}),?\s+(?P<y3>\d{{4}})"  # March 2023
    rf"|(?P<iso>\d{{4}}-\d{{2}}-\d{{2}}))(?!\w)"  # 2023-03-12
)
# "1,200", "3.5", "2023", "21" of "21st": a thousands comma or a decimal point only between digits.
_NUMBER = re.compile(r"(?<![\w.,])\d+(?:[.,]\d+)*")
# Spelled-out numbers in a passage match digits in an answer ("three" = 3); not the other way round,
# since an answer's "one of them" is no claim about the number one.
_SMALL_NUMBERS = (  # noqa: SIM905 (a word list reads best as words)
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen twenty"
).split()
_TENS = "thirty forty fifty sixty seventy eighty ninety".split()  # noqa: SIM905
_NUMBER_WORDS = {word: str(value) for value, word in enumerate(_SMALL_NUMBERS)} | {
    word: str(10 * tens) for tens, word in enumerate(_TENS, 3)
}
# A word: letters and digits, with inner apostrophes, hyphens and dots ("O'Brien", "Jean-Pierre", "U.S").
_WORD = re.compile(r"[^\W_](?:[\w'’.\-]*[^\W_])?")
_POSSESSIVE = re.compile(r"['’]s?$")
# Capitalised for grammar, not because they name someone: never (part of) a proper name.
_NOT_NAMES = frozenset(
    (  # noqa: SIM905 (a word list reads best as words)
        "a an the this that these those there here i you he she it we they me him her us them my your "
        "his its our their mine yours hers ours theirs who whom whose what which when where why how "
        "whether if and but or nor so yet as at by for from in into of off on onto out over to up upon "
        "with within without after before during since until about above across against along among "
        "around behind below beneath beside between beyond despite except inside near outside through "
        "throughout toward towards under unlike via according also however meanwhile moreover "
        "therefore thus still then yes no not all any both each either every neither none some such "
        "other another many most much more several while although though because unless once do does "
        "did is are was were be been being has have had can could may might must shall should will "
        "would mr mrs ms dr sir madam president vice prime minister secretary senator sen rep "
        "representative governor gov mayor king queen prince princess pope chancellor general gen "
        "chief judge justice earlier later today yesterday tomorrow last next first then now instead "
        "separately additionally finally overall"
    ).split()
)


@dataclass(frozen=True)
class DateFact:
    """A date as written: any of its parts may be missing ("March 2023", "12 March")."""

    year: int | None
    month: int
    day: int | None

    def agrees_with(self, other: DateFact) -> bool:
        """The same date, where both say a part (a passage's "12 March" agrees with "12 March 2023")."""
        return (
            self.month == other.month
            and (self.day is None or other.day is None or self.day == other.day)
            and (self.year is None or other.year is None or self.year == other.year)
        )

    def __str__(self) -> str:
        parts = [str(self.day) if self.day else "", _MONTH_NAMES[self.month - 1], str(self.year or "")]
        return " ".join(part for part in parts if part)


@dataclass(frozen=True)
class Facts:
    """What a piece of text states that can be checked word for word."""

    numbers: tuple[str, ...] = ()
    dates: tuple[DateFact, ...] = ()
    names: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.numbers) + len(self.dates) + len(self.names)


def _date_of(match: re.Match) -> DateFact | None:
    if match["iso"]:
        try:
            day = dt.date.fromisoformat(match["iso"])
        except ValueError:
            return None
        return DateFact(day.year, day.month, day.day)
    month = next(match[g] for g in ("m1", "m2", "m3") if match[g])
    day = match["d1"] or match["d2"]
    year = match["y1"] or match["y2"] or match["y3"]
    day_number = int(re.sub(r"\D", "", day)) if day else None
    if day_number is not None and not 1 <= day_number <= 31:
        return None
    return DateFact(int(year) if year else None, _MONTH_NUMBER[month.rstrip(".").lower()], day_number)


def find_dates(text: str) -> list[DateFact]:
    return [fact for match in _DATE.finditer(text) if (fact := _date_of(match))]


def _normalize_number(number: str) -> str:
    """ "1,200" -> "1200", "3.50" -> "3.5", "07" -> "7": the same quantity, the same text."""
    number = number.replace(",", "")
    whole, _, fraction = number.partition(".")
    fraction = fraction.rstrip("0")
    whole = whole.lstrip("0") or "0"
    return f"{whole}.{fraction}" if fraction else whole


def find_numbers(text: str) -> list[str]:
    return [_normalize_number(match.group()) for match in _NUMBER.finditer(text)]


def find_names(text: str, *, starts_sentence: bool = True) -> list[str]:
    """Proper names: runs of capitalised words, without grammar words and titles ("the", "President").

    A lone capitalised word that opens the sentence is left out (it is capitalised for grammar);
    a run of two or more is kept wherever it stands ("Antony Blinken spoke ...").
    """
    return [
        " ".join(run)
        for run, opens_sentence in _capitalised_runs(text, starts_sentence)
        if not (opens_sentence and len(run) == 1)
    ]


def _is_name_word(word: str) -> bool:
    return word[0].isupper() and word.lower() not in _NOT_NAMES


def _capitalised_runs(text: str, starts_sentence: bool) -> Iterator[tuple[list[str], bool]]:
    """(words, whether the run opens the sentence) for each run of name words parted by spaces only."""
    run: list[str] = []
    opens_sentence, previous_end = False, 0
    for index, match in enumerate(_WORD.finditer(text)):
        word = _POSSESSIVE.sub("", match.group())
        spaced_only = not text[previous_end : match.start()].strip()
        previous_end = match.end()
        if run and not (spaced_only and _is_name_word(word)):
            yield run, opens_sentence
            run = []
        if not _is_name_word(word):
            continue
        if not run:
            opens_sentence = starts_sentence and index == 0
        run.append(word)
        if word != match.group():  # a possessive ends the name: "NASA's DART mission" is two names
            yield run, opens_sentence
            run = []
    if run:
        yield run, opens_sentence


# The app opens an answer that relies on an older article with that article's date ("As of
# 12 March 2023, Kenya won."). The date is the cited article's, added by the app from its metadata,
# not a claim of the model: the check leaves exactly this lead-in out.
_AS_OF_LEAD_IN = re.compile(
    rf"^\s*As of (?:\d{{1,2}} {_MONTH} \d{{4}}|{_MONTH} \d{{1,2}}, \d{{4}}|\d{{4}}-\d{{2}}-\d{{2}})[,:]\s*"
)


def without_as_of_lead_in(sentence: str) -> tuple[str, bool]:
    """(the sentence without the app's "As of <date>, " lead-in, whether it had one)."""
    body = _AS_OF_LEAD_IN.sub("", sentence, count=1)
    return body, body != sentence


def sentence_facts(sentence: str) -> Facts:
    """The numbers, dates and names an answer sentence states (the app's As-of lead-in excluded)."""
    body, had_lead_in = without_as_of_lead_in(CITATION_MARKER.sub(" ", sentence))
    dates = find_dates(body)
    # A date's numbers and month are checked as the date, not once more as a number and a name.
    rest = _DATE.sub(" ; ", body)
    return Facts(
        tuple(find_numbers(rest)), tuple(dates), tuple(find_names(rest, starts_sentence=not had_lead_in))
    )


@dataclass(frozen=True)
class PassageFacts:
    """A cited passage's text, read once for the lookups of missing_facts."""

    words: str  # name_words() of the text, between spaces, for whole-word lookups of names
    numbers: frozenset[str]
    dates: tuple[DateFact, ...]

    @classmethod
    def of(cls, text: str) -> PassageFacts:
        spelled = {_NUMBER_WORDS[word] for word in normalize(text).split() if word in _NUMBER_WORDS}
        numbers = frozenset(find_numbers(text)) | spelled
        return cls(f" {name_words(text)} ", numbers, tuple(find_dates(text)))


_INNER_POSSESSIVE = re.compile(r"(?<=\w)['’]s\b")


def name_words(text: str) -> str:
    """Text normalised for comparing names: "Russia's" reads "Russia", "Indo-Pacific" "Indo Pacific"."""
    return normalize(_INNER_POSSESSIVE.sub("", text).replace("-", " "))


def number_found(number: str, passage: PassageFacts) -> bool:
    return number in passage.numbers


def date_found(date: DateFact, passage: PassageFacts) -> bool:
    """A date the passage gives too; a year the passage's date leaves out must occur in it elsewhere."""
    year_said = date.year is None or str(date.year) in passage.numbers
    return any(date.agrees_with(written) and (written.year or year_said) for written in passage.dates)


def name_found(name: str, passage: PassageFacts) -> bool:
    """The whole name, or each of its words ("Joe Biden" in "Biden ... Joe"), as words of the text."""
    words = name_words(name)
    return bool(words) and (
        f" {words} " in passage.words or all(f" {word} " in passage.words for word in words.split())
    )


def missing_facts(facts: Facts, passages: Sequence[PassageFacts]) -> list[str]:
    """The facts no passage holds, as written ("1200", "12 March 2023", "Berlin")."""
    missing = [n for n in facts.numbers if not any(number_found(n, p) for p in passages)]
    missing += [str(d) for d in facts.dates if not any(date_found(d, p) for p in passages)]
    missing += [n for n in facts.names if not any(name_found(n, p) for p in passages)]
    return missing


# ------------------------------------------------------------------------------------------------
# The three checks on one row


def _answered(row: Mapping[str, Any]) -> bool:
    return not row.get("refused") and not row.get("error")


def answer_bearing_citation(row: Mapping[str, Any]) -> bool | None:
    """For a correct answer: a cited passage's text holds the acceptable answer the answer gave.

    Only the answers the answer text names count: with several acceptable answers, the one given
    must be in a passage; when every answer is required, each one must be in some cited passage.
    None when the answer is not correct (nothing to check).
    """
    if not row.get("metrics", {}).get("correct"):
        return None
    texts = [citation.get("text", "") for citation in row.get("citations", [])]
    given = [
        group
        for group in answer_groups(row["gold"]["answers"])
        if any(contains_phrase(row["answer"], variant) for variant in group)
    ]
    borne = [any(contains_phrase(text, v) for text in texts for v in group) for group in given]
    return bool(borne) and (all(borne) if row["gold"].get("all") else any(borne))


def faithfulness(row: Mapping[str, Any]) -> dict[str, Any] | None:
    """Names, numbers and dates of each answer sentence, looked up in the passages it cites.

    A sentence with no such fact is not checked; one with facts but no citation is unfaithful.
    None for a refusal or an error.
    """
    if not _answered(row):
        return None
    passages = {c["n"]: PassageFacts.of(c.get("text", "")) for c in row.get("citations", [])}
    counts = {"facts_total": 0, "facts_found": 0, "sentences_checked": 0, "sentences_faithful": 0}
    missing: list[str] = []
    for sentence in row.get("sentences", []):
        facts = sentence_facts(sentence["text"])
        if not facts:
            continue
        cited = [passages[n] for n in sentence.get("citations", []) if n in passages]
        absent = missing_facts(facts, cited)
        counts["facts_total"] += len(facts)
        counts["facts_found"] += len(facts) - len(absent)
        counts["sentences_checked"] += 1
        counts["sentences_faithful"] += not absent
        missing += absent
    return {**counts, "missing": missing}


# Words that make a question about the present: its answer must come from recent news. "new" is
# matched in lower case only, so that "New York" or "New Zealand" is no cue.
_TIME_CUE = re.compile(
    r"\b(?:this (?:week|month|year)|latest|recent|recently|now|currently|today|yesterday|so far)\b",
    re.IGNORECASE,
)
_NEW = re.compile(r"\bnew\b")


def has_time_cue(question: str) -> bool:
    return bool(_TIME_CUE.search(question) or _NEW.search(question))


def _cited_dates(row: Mapping[str, Any]) -> list[dt.date]:
    dates = []
    for citation in row.get("citations", []):
        try:
            dates.append(dt.date.fromisoformat(str(citation.get("date") or "")[:10]))
        except ValueError:
            continue
    return dates


def staleness(row: Mapping[str, Any]) -> dict[str, Any]:
    """Whether an answer to a time-cued question relies on an article over STALE_AFTER_DAYS old.

    The cited article's age is that of the newest article the answer cites, against the row's as-of
    date. `stale` is None when the question has no time cue, was refused or failed, or when the
    row has no as-of date or no dated citation. `dated_first`: a stale answer's first sentence
    gives a cited article's date ("As of 12 March 2023, ...").
    """
    cue = has_time_cue(row.get("question", ""))
    result: dict[str, Any] = {"time_cue": cue, "stale": None, "cited_age_days": None, "dated_first": None}
    cited = _cited_dates(row)
    if not (cue and _answered(row) and row.get("date") and cited):
        return result
    age = (dt.date.fromisoformat(row["date"]) - max(cited)).days
    result["cited_age_days"] = age
    result["stale"] = age > STALE_AFTER_DAYS
    if result["stale"]:
        result["dated_first"] = first_sentence_gives_a_cited_date(row, cited)
    return result


def first_sentence_gives_a_cited_date(row: Mapping[str, Any], cited: Sequence[dt.date]) -> bool:
    """The answer's first sentence names the date of an article it cites (the day may be left out)."""
    sentences = row.get("sentences") or [{"text": row.get("answer", "")}]
    written = find_dates(sentences[0]["text"])
    return any(
        date.agrees_with(DateFact(day.year, day.month, day.day)) and date.year == day.year
        for date in written
        for day in cited
    )


def independent_checks(row: Mapping[str, Any]) -> dict[str, Any]:
    """The per-row values of every independent check, to be stored in row["metrics"]."""
    stale = staleness(row)
    return {
        "answer_bearing_citation": answer_bearing_citation(row),
        "faithfulness": faithfulness(row),
        "time_cue": stale["time_cue"],
        "stale": stale["stale"],
        "cited_age_days": stale["cited_age_days"],
        "stale_dated_first": stale["dated_first"],
    }
