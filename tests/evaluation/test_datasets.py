"""Loading question sets: the shipped sets load, bad rows fail with the file, line and field."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from qa_bot.evaluation.datasets import (
    DatasetError,
    default_corpus,
    detect_format,
    load_dataset,
    load_eval_items,
    load_realtimeqa,
)
from qa_bot.evaluation.metrics import answer_correct

ROOT = Path(__file__).resolve().parents[2]
SEED_QA = ROOT / "evals" / "seed_qa.jsonl"
SAMPLE = ROOT / "evals" / "realtimeqa_sample"


def _write(tmp_path: Path, *records, name="set.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in records) + "\n")
    return path


GOOD = {"id": "q1", "question": "When?", "answers": ["Sunday"]}


def test_seed_set_has_the_required_kinds_of_questions():
    items = load_dataset(SEED_QA)
    assert len(items) >= 25
    assert sum(item.unanswerable for item in items) >= 5
    assert sum(item.all_required for item in items) >= 3
    assert sum(bool(item.history) for item in items) >= 3


def test_every_seed_answer_is_in_the_articles_it_names():
    # The hand-written gold is checked against the text: a typo in an answer would show up here.
    texts = {path.stem: path.read_text() for path in (ROOT / "seeds").glob("*.txt")}
    for item in load_dataset(SEED_QA):
        if item.unanswerable:
            assert not item.articles
            continue
        combined = " ".join(texts[stem] for stem in item.articles)
        assert answer_correct(combined, item.answers, item.all_required), item.id


def test_fields_are_read_with_defaults(tmp_path):
    path = _write(
        tmp_path,
        GOOD,
        {
            "id": "q2",
            "question": "And?",
            "answers": ["a", ["b", "c"]],
            "all": True,
            "date": "2023-04-16",
            "history": [{"question": "Who?", "answer": "Blinken [1]."}],
            "articles": ["000_x"],
        },
    )
    first, second = load_dataset(path)
    assert (first.all_required, first.unanswerable, first.date, first.history) == (False, False, None, [])
    assert second.all_required and second.date == date(2023, 4, 16)
    assert second.history[0].answer == "Blinken [1]."
    assert second.source == f"{path}:2"


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"id": "q", "question": "Q?"}, 'field "answers" must list at least one'),
        ({"id": "q", "question": "", "answers": ["x"]}, 'field "question" must be a non-empty string'),
        ({"id": "q", "question": "Q?", "answers": "Sunday"}, 'field "answers" must be a list'),
        ({"id": "q", "question": "Q?", "answers": ["x"], "all": "yes"}, 'field "all" must be true or false'),
        (
            {"id": "q", "question": "Q?", "answers": ["x"], "date": "16/04/2023"},
            'field "date" must be a date',
        ),
        ({"id": "q", "question": "Q?", "answers": ["x"], "history": [{"q": "?"}]}, 'field "history"'),
        ({"id": "q", "question": "Q?", "answer": ["x"]}, 'unknown field "answer". Did you mean "answers"?'),
        (
            {"id": "q", "question": "Q?", "answers": ["x"], "choices": ["a"], "correct_choice": "b"},
            "correct_choice",
        ),
    ],
)
def test_bad_rows_name_file_line_and_field(tmp_path, record, message):
    path = _write(tmp_path, GOOD, record)
    with pytest.raises(DatasetError) as error:
        load_dataset(path)
    assert f"{path}:2" in str(error.value)
    assert message in str(error.value)


def test_invalid_json_and_duplicate_ids_are_reported_with_their_line(tmp_path):
    with pytest.raises(DatasetError, match=r":2: not valid JSON"):
        load_dataset(_write(tmp_path, GOOD, '{"id": "q2", "question": '))
    with pytest.raises(DatasetError, match=r':3: field "id": "q1" is already used on line 1'):
        load_dataset(_write(tmp_path, GOOD, "", GOOD))


def test_unanswerable_questions_need_no_answers(tmp_path):
    (item,) = load_dataset(_write(tmp_path, {"id": "u", "question": "Q?", "unanswerable": True}))
    assert item.unanswerable and item.answers == []


def test_missing_and_empty_files_are_clear_errors(tmp_path):
    with pytest.raises(DatasetError, match="no such dataset file"):
        load_eval_items(tmp_path / "nope.jsonl")
    with pytest.raises(DatasetError, match="empty"):
        load_eval_items(_write(tmp_path, ""))


def test_realtimeqa_rows_are_adapted_with_the_week_as_date():
    items = load_realtimeqa(SAMPLE / "qa.jsonl", limit=3)
    record = json.loads((SAMPLE / "qa.jsonl").read_text().splitlines()[0])
    first = items[0]
    assert len(items) == 3
    assert first.answers == [record["answer"]] and first.correct_choice == record["answer"]
    assert first.choices == record["choices"]
    assert first.articles == record["gold_ids"]
    assert first.date == date.fromisoformat(record["week"])
    assert not first.unanswerable


def test_format_is_detected_from_the_fields():
    assert detect_format(SEED_QA) == "qa-bot"
    assert detect_format(SAMPLE / "qa.jsonl") == "realtimeqa"
    assert load_eval_items(SAMPLE / "qa.jsonl", limit=2)[0].choices


def test_unknown_format_is_an_error(tmp_path):
    with pytest.raises(DatasetError, match="unknown dataset format"):
        detect_format(_write(tmp_path, {"q": "x"}))


def test_realtimeqa_row_missing_a_field_is_named(tmp_path):
    record = json.loads((SAMPLE / "qa.jsonl").read_text().splitlines()[0])
    del record["gold_ids"]
    path = _write(tmp_path, record)
    with pytest.raises(DatasetError, match=r":1: RealTime QA line without field\(s\) gold_ids"):
        load_realtimeqa(path)


def test_default_corpus_for_realtimeqa_is_the_articles_of_the_chosen_questions(tmp_path):
    items = load_eval_items(SAMPLE / "qa.jsonl", limit=2)
    (subset,) = default_corpus(SAMPLE / "qa.jsonl", items, tmp_path)
    ids = {json.loads(line)["id"] for line in subset.read_text().splitlines()}
    assert set(items[0].articles) <= ids
    assert len(ids) < sum(1 for _ in (SAMPLE / "corpus.jsonl").open())
    assert default_corpus(SEED_QA, load_eval_items(SEED_QA), tmp_path) is None


def test_realtimeqa_sample_is_small_and_holds_every_gold_article():
    corpus_ids = [json.loads(line)["id"] for line in (SAMPLE / "corpus.jsonl").read_text().splitlines()]
    items = load_realtimeqa(SAMPLE / "qa.jsonl")
    assert len(corpus_ids) == len(set(corpus_ids)) <= 300
    assert (SAMPLE / "corpus.jsonl").stat().st_size <= 3_200_000
    assert all(set(item.articles) <= set(corpus_ids) for item in items)
