"""Question sets for evaluation: the qa-bot JSONL format, the RealTime QA adapter, auto-detection.

qa-bot format, one JSON object a line (`evals/seed_qa.jsonl` is an example):

    {"id": "seed-01", "question": "On which day did they speak?", "answers": ["Sunday"],
     "all": false, "unanswerable": false, "articles": ["000_092cfdeac746b4f0"],
     "date": "2023-04-16", "history": [{"question": "...", "answer": "..."}]}

- `answers`: acceptable answers; a correct answer must contain one of them (normalised), or every
  one of them when `all` is true. An entry may itself be a list of variants of one fact
  (`[["defence", "defense"], "technology"]`).
- `unanswerable`: the articles don't answer it; the right response is a refusal.
- `articles`: ids, or file stems, of the articles that hold the answer (for retrieval metrics).
- `date`: the day the question is asked ("as of"), YYYY-MM-DD. `history`: earlier turns.
- Optional: `choices` + `correct_choice` (multiple choice), `notes` (free text for people).
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

from qa_bot.answering.answer import Turn

DatasetFormat = Literal["qa-bot", "realtimeqa"]

FIELDS = {
    "id",
    "question",
    "answers",
    "all",
    "unanswerable",
    "articles",
    "date",
    "history",
    "choices",
    "correct_choice",
    "notes",
}
REALTIMEQA_REQUIRED = ("id", "question", "choices", "answer", "week", "gold_ids")


class DatasetError(ValueError):
    """A dataset row that can't be used: the message names the file, line and field."""


@dataclass(frozen=True)
class EvalItem:
    id: str
    question: str
    answers: list[str | list[str]] = field(default_factory=list)
    all_required: bool = False  # JSON field "all"
    unanswerable: bool = False
    articles: list[str] = field(default_factory=list)
    date: date | None = None
    history: list[Turn] = field(default_factory=list)
    choices: list[str] = field(default_factory=list)
    correct_choice: str | None = None
    source: str = ""  # file:line, for messages
    meta: dict[str, Any] = field(default_factory=dict)  # format-specific extras, copied into reports

    def gold(self) -> dict[str, Any]:
        """What the reports show as the expected answer."""
        gold: dict[str, Any] = {
            "answers": self.answers,
            "all": self.all_required,
            "unanswerable": self.unanswerable,
            "articles": self.articles,
        }
        if self.choices:
            gold["choices"] = self.choices
            gold["correct_choice"] = self.correct_choice
        return gold


# ------------------------------------------------------------------------------------------------
# Reading JSONL


def _records(path: Path):
    """(line number, object) for every non-blank line; a line that isn't a JSON object is an error."""
    if not path.is_file():
        raise DatasetError(f"{path}: no such dataset file. Give the path of a .jsonl question set.")
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DatasetError(
                    f"{path}:{number}: not valid JSON ({exc.msg}, column {exc.colno})."
                ) from None
            if not isinstance(record, dict):
                raise DatasetError(f"{path}:{number}: each line must be a JSON object {{...}}.")
            yield number, record


def detect_format(path: Path) -> DatasetFormat:
    """Which format the file is in, from the fields of its first record."""
    for number, record in _records(Path(path)):
        if "answers" in record or "unanswerable" in record:
            return "qa-bot"
        if "answer" in record and "choices" in record and "gold_ids" in record:
            return "realtimeqa"
        raise DatasetError(
            f"{path}:{number}: unknown dataset format. A qa-bot dataset line has "
            '"id", "question" and "answers"; a RealTime QA line has "choices", "answer" and "gold_ids".'
        )
    raise DatasetError(f"{path}: the dataset is empty.")


def load_eval_items(path: Path, limit: int | None = None) -> list[EvalItem]:
    """Load a question set in either format (detected from its fields)."""
    path = Path(path)
    if detect_format(path) == "realtimeqa":
        return load_realtimeqa(path, limit=limit)
    return load_dataset(path, limit=limit)


# ------------------------------------------------------------------------------------------------
# qa-bot format


def load_dataset(path: Path, limit: int | None = None) -> list[EvalItem]:
    """Read a qa-bot JSONL question set, checking every field."""
    path = Path(path)
    items: list[EvalItem] = []
    seen: dict[str, int] = {}
    for number, record in _records(path):
        where = f"{path}:{number}"
        item = _parse_item(record, where)
        if item.id in seen:
            raise DatasetError(f'{where}: field "id": "{item.id}" is already used on line {seen[item.id]}.')
        seen[item.id] = number
        items.append(item)
        if limit is not None and len(items) >= limit:
            break
    if not items:
        raise DatasetError(f"{path}: the dataset has no questions.")
    return items


def _parse_item(record: dict[str, Any], where: str) -> EvalItem:
    for name in record:
        if name not in FIELDS:
            hint = difflib.get_close_matches(name, FIELDS, n=1)
            suggestion = (
                f' Did you mean "{hint[0]}"?' if hint else f" Known fields: {', '.join(sorted(FIELDS))}."
            )
            raise DatasetError(f'{where}: unknown field "{name}".{suggestion}')
    item_id = _text(record, "id", where)
    question = _text(record, "question", where)
    unanswerable = _flag(record, "unanswerable", where)
    answers = _answers(record.get("answers", []), where)
    if not answers and not unanswerable:
        raise DatasetError(
            f'{where}: field "answers" must list at least one acceptable answer '
            '(or set "unanswerable": true if the articles don\'t answer it).'
        )
    choices = _string_list(record, "choices", where)
    correct_choice = record.get("correct_choice")
    if choices and correct_choice not in choices:
        raise DatasetError(f'{where}: field "correct_choice" must be one of "choices" {choices}.')
    if correct_choice is not None and not choices:
        raise DatasetError(f'{where}: field "correct_choice" needs a "choices" list.')
    return EvalItem(
        id=item_id,
        question=question,
        answers=answers,
        all_required=_flag(record, "all", where),
        unanswerable=unanswerable,
        articles=_string_list(record, "articles", where),
        date=_date(record.get("date"), "date", where),
        history=_history(record.get("history", []), where),
        choices=choices,
        correct_choice=correct_choice,
        source=where,
    )


def _text(record: dict[str, Any], name: str, where: str) -> str:
    value = record.get(name)
    if isinstance(value, int) and not isinstance(value, bool) and name == "id":
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise DatasetError(f'{where}: field "{name}" must be a non-empty string (got {value!r}).')
    return value.strip()


def _flag(record: dict[str, Any], name: str, where: str) -> bool:
    value = record.get(name, False)
    if not isinstance(value, bool):
        raise DatasetError(f'{where}: field "{name}" must be true or false (got {value!r}).')
    return value


def _string_list(record: dict[str, Any], name: str, where: str) -> list[str]:
    value = record.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise DatasetError(f'{where}: field "{name}" must be a list of non-empty strings (got {value!r}).')
    return value


def _answers(value: Any, where: str) -> list[str | list[str]]:
    def is_text(v: Any) -> bool:
        return isinstance(v, str) and bool(v.strip())

    problem = f'{where}: field "answers" must be a list of strings (or of lists of variant strings)'
    if not isinstance(value, list):
        raise DatasetError(f"{problem}; got {value!r}.")
    for entry in value:
        if not (is_text(entry) or (isinstance(entry, list) and entry and all(is_text(v) for v in entry))):
            raise DatasetError(f"{problem}; bad entry {entry!r}.")
    return value


def _date(value: Any, name: str, where: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise DatasetError(f'{where}: field "{name}" must be a date as YYYY-MM-DD (got {value!r}).') from None


def _history(value: Any, where: str) -> list[Turn]:
    problem = f'{where}: field "history" must be a list of {{"question": "...", "answer": "..."}} turns'
    if not isinstance(value, list):
        raise DatasetError(f"{problem}; got {value!r}.")
    turns = []
    for turn in value:
        if not (
            isinstance(turn, dict)
            and isinstance(turn.get("question"), str)
            and isinstance(turn.get("answer"), str)
        ):
            raise DatasetError(f"{problem}; bad turn {turn!r}.")
        turns.append(Turn(turn["question"], turn["answer"]))
    return turns


# ------------------------------------------------------------------------------------------------
# RealTime QA (see /work/shared/data/realtimeqa/README.md for its fields)


def load_realtimeqa(
    qa_path: Path,
    limit: int | None = None,
    *,
    weeks: set[str] | None = None,
    ids: set[str] | None = None,
) -> list[EvalItem]:
    """Adapt RealTime QA questions: the correct choice is the acceptable answer, gold_ids the articles.

    The "as of" date is the question's `week` (its weekly release), which the source README says to
    prefer over `question_date` where the two disagree.
    """
    qa_path = Path(qa_path)
    items = []
    for number, record in _records(qa_path):
        where = f"{qa_path}:{number}"
        missing = [name for name in REALTIMEQA_REQUIRED if name not in record]
        if missing:
            raise DatasetError(f"{where}: RealTime QA line without field(s) {', '.join(missing)}.")
        if weeks is not None and record["week"] not in weeks:
            continue
        if ids is not None and record["id"] not in ids:
            continue
        choices = _string_list(record, "choices", where)
        answer = _text(record, "answer", where)
        if answer not in choices:
            raise DatasetError(f'{where}: field "answer" {answer!r} is not one of "choices" {choices}.')
        items.append(
            EvalItem(
                id=_text(record, "id", where),
                question=_text(record, "question", where),
                answers=[answer],
                articles=_string_list(record, "gold_ids", where),
                date=_date(record["week"], "week", where),
                choices=choices,
                correct_choice=answer,
                source=where,
                meta={
                    "question_date": record.get("question_date"),
                    "question_source": record.get("question_source"),
                    "source_url": record.get("source_url"),
                },
            )
        )
        if limit is not None and len(items) >= limit:
            break
    if not items:
        raise DatasetError(f"{qa_path}: no RealTime QA questions were selected.")
    return items


def realtimeqa_article_ids(qa_path: Path, item_ids: set[str]) -> list[str]:
    """The gold articles and search results of the given questions: the corpus they are asked over."""
    wanted: dict[str, None] = {}
    for _, record in _records(Path(qa_path)):
        if record.get("id") in item_ids:
            for article_id in [*record.get("gold_ids", []), *record.get("search_result_ids", [])]:
                wanted.setdefault(article_id)
    return list(wanted)


def write_corpus_subset(corpus_path: Path, article_ids: list[str], out_path: Path) -> int:
    """Copy the given articles (in corpus order) from a RealTime QA corpus.jsonl; returns how many."""
    wanted = set(article_ids)
    written = 0
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with Path(corpus_path).open(encoding="utf-8") as source, out_path.open("w", encoding="utf-8") as out:
        for line in source:
            # The id is the first field of every line; parsing 100 MB of JSON to find it is wasted work.
            article_id = line[8:24] if line.startswith('{"id": "') else json.loads(line)["id"]
            if article_id in wanted:
                out.write(line)
                written += 1
    return written


def default_corpus(dataset_path: Path, items: list[EvalItem], out_dir: Path) -> list[Path] | None:
    """The corpus to ingest when none is given: for RealTime QA, the articles of the chosen questions.

    A RealTime QA qa.jsonl with its corpus.jsonl beside it is evaluated over the gold articles and
    search results of the selected questions only (a few hundred articles for a --limit run, instead
    of embedding all 11,671). For other datasets: None (the bot's current index is used).
    """
    dataset_path = Path(dataset_path)
    corpus_path = dataset_path.with_name("corpus.jsonl")
    if detect_format(dataset_path) != "realtimeqa" or not corpus_path.is_file():
        return None
    subset = Path(out_dir) / "corpus.jsonl"
    ids = realtimeqa_article_ids(dataset_path, {item.id for item in items})
    write_corpus_subset(corpus_path, ids, subset)
    return [subset]
