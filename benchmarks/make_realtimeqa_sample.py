"""Rebuild evals/realtimeqa_sample/ (a small RealTime QA question set with its articles) from the full set.

    .venv/bin/python benchmarks/make_realtimeqa_sample.py [--source /work/shared/data/realtimeqa]

Deterministic: the same source gives byte-identical files. Lines are copied verbatim from the source
qa.jsonl and corpus.jsonl (same fields), so the sample loads with the same RealTime QA adapter.
How questions and articles are chosen is described in evals/realtimeqa_sample/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = Path("/work/shared/data/realtimeqa")
DEFAULT_OUT = ROOT / "evals" / "realtimeqa_sample"
# Five weeks spread over the source's span (late and end 2022, spring 2023, early and mid 2024).
WEEKS = ("2022-09-30", "2022-12-16", "2023-04-28", "2024-01-12", "2024-05-24")
PER_WEEK = 8
MAX_GOLD_PER_QUESTION = 6  # a few questions list 10-16 gold articles; they would crowd out distractors
MAX_ARTICLES = 300
MAX_BYTES = 3_000_000
MAX_DISTRACTOR_BYTES = 40_000  # one long distractor would cost the room of several typical ones


def has_timely_gold(question: dict) -> bool:
    """A gold article that contains the answer and was published near the question's week.

    The source's heuristic gold rules sometimes match an old article on another event; requiring
    the answer in the text and a date from 180 days before to 7 days after the week keeps the
    sample's gold trustworthy (the same window the source used for its own rule 3).
    """
    week = dt.date.fromisoformat(question["week"])
    for gold in question["gold"]:
        days = (dt.date.fromisoformat(gold["date"]) - week).days
        if gold["answer_in_text"] and -180 <= days <= 7:
            return True
    return False


def select_questions(qa_lines: list[str]) -> list[str]:
    chosen = []
    for week in WEEKS:
        in_week = [line for line in qa_lines if json.loads(line)["week"] == week]
        eligible = [
            line
            for line in in_week
            if has_timely_gold(json.loads(line))
            and len(json.loads(line)["gold_ids"]) <= MAX_GOLD_PER_QUESTION
        ]
        chosen += eligible[:PER_WEEK]
    return chosen


def select_articles(questions: list[dict], sizes: dict[str, int]) -> list[str]:
    """Every gold article, then the questions' other search results, rank by rank, up to the caps."""
    chosen: dict[str, None] = {}
    for question in questions:
        for article_id in question["gold_ids"]:
            chosen.setdefault(article_id)
    total = sum(sizes[article_id] for article_id in chosen)
    depth = max(len(q["search_result_ids"]) for q in questions)
    for rank in range(depth):
        for question in questions:
            results = question["search_result_ids"]
            if rank >= len(results) or results[rank] in chosen or results[rank] not in sizes:
                continue
            size = sizes[results[rank]]
            if size > MAX_DISTRACTOR_BYTES or total + size > MAX_BYTES or len(chosen) >= MAX_ARTICLES:
                continue
            chosen.setdefault(results[rank])
            total += size
    return list(chosen)


def parse_args(doc: str, default_out: Path) -> argparse.Namespace:
    """--source (the RealTime QA folder) and --out: what both set builders take."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument(
        "--source", type=Path, default=DEFAULT_SOURCE, help="folder with qa.jsonl and corpus.jsonl"
    )
    parser.add_argument("--out", type=Path, default=default_out)
    return parser.parse_args()


def main() -> None:
    args = parse_args(__doc__, DEFAULT_OUT)

    qa_lines = (args.source / "qa.jsonl").read_text(encoding="utf-8").splitlines()
    question_lines = select_questions(qa_lines)
    questions = [json.loads(line) for line in question_lines]

    corpus_lines: dict[str, str] = {}
    with (args.source / "corpus.jsonl").open(encoding="utf-8") as corpus:
        for line in corpus:
            corpus_lines[json.loads(line)["id"]] = line.rstrip("\n")
    sizes = {article_id: len(line.encode()) + 1 for article_id, line in corpus_lines.items()}
    wanted = set(select_articles(questions, sizes))

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "qa.jsonl").write_text("".join(line + "\n" for line in question_lines), encoding="utf-8")
    # Source order, not selection order: a stable file whatever the selection loop's details.
    kept = [line for article_id, line in corpus_lines.items() if article_id in wanted]
    (args.out / "corpus.jsonl").write_text("".join(line + "\n" for line in kept), encoding="utf-8")
    gold = {article_id for q in questions for article_id in q["gold_ids"]}
    print(
        f"{len(question_lines)} questions from {len(WEEKS)} weeks; {len(kept)} articles "
        f"({len(gold)} gold, {len(kept) - len(gold)} distractors), "
        f"{sum(sizes[a] for a in wanted):,} bytes -> {args.out}"
    )


if __name__ == "__main__":
    main()
