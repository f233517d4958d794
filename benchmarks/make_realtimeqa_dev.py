"""Rebuild evals/realtimeqa_dev/ (the answer-stage dev set: a newsroom-sized archive) from RealTime QA.

    .venv/bin/python -m benchmarks.make_realtimeqa_dev [--source /work/shared/data/realtimeqa]

Writes `qa.jsonl` (qa-bot format: answerable and unanswerable questions, committed) and
`corpus.jsonl` (every article of the chosen weeks, copied verbatim from the source; about 30 MB,
kept out of git and rebuilt by this script). Deterministic: the same source gives byte-identical
files. The rules are in evals/realtimeqa_dev/README.md.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import defaultdict
from pathlib import Path

from benchmarks.make_realtimeqa_sample import has_timely_gold, parse_args

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "evals" / "realtimeqa_dev"
WEEKS = 20  # the weeks with the smallest corpora: the index embeds in about 30 minutes on 2 cores
MIN_ARTICLES_PER_WEEK = 50  # a week without search results is not an archive
MIN_QUESTIONS_PER_WEEK = 6
PER_WEEK = 8  # answerable questions per week, in the source's order
UNANSWERABLE = 60


def normalize(text: str) -> str:
    """Lower case, accents and punctuation dropped, single spaces: how answer text is looked up."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if unicodedata.category(c) != "Mn").lower()
    return " ".join(re.sub(r"[^\w\s]|_", " ", text).split())


def week_sizes(corpus: list[dict]) -> tuple[dict[str, int], dict[str, int]]:
    articles: dict[str, int] = defaultdict(int)
    chars: dict[str, int] = defaultdict(int)
    for article in corpus:
        for week in article["weeks"]:
            articles[week] += 1
            chars[week] += len(article["text"])
    return articles, chars


def choose_weeks(questions: list[dict], corpus: list[dict]) -> list[str]:
    """The WEEKS weeks with the fewest article characters among those that make a real archive."""
    articles, chars = week_sizes(corpus)
    answerable = defaultdict(int)
    for question in questions:
        answerable[question["week"]] += has_timely_gold(question)
    eligible = [
        week
        for week in articles
        if articles[week] >= MIN_ARTICLES_PER_WEEK and answerable[week] >= MIN_QUESTIONS_PER_WEEK
    ]
    return sorted(sorted(eligible, key=lambda week: (chars[week], week))[:WEEKS])


def answerable_questions(questions: list[dict], weeks: list[str]) -> list[dict]:
    chosen = []
    for week in weeks:
        in_week = [q for q in questions if q["week"] == week and has_timely_gold(q)]
        chosen += in_week[:PER_WEEK]
    return chosen


def unanswerable_questions(questions: list[dict], weeks: list[str], corpus: list[dict]) -> list[dict]:
    """Questions of other weeks with no gold article in the corpus and an answer no article contains.

    Taken round-robin over the other weeks (each week's first eligible question, then each week's
    second, ...), so they spread over the whole span like the answerable ones.
    """
    in_corpus = {article["id"] for article in corpus}
    texts = [f" {normalize(article['text'])} " for article in corpus]
    by_week: dict[str, list[dict]] = defaultdict(list)
    for question in questions:
        if question["week"] in weeks or in_corpus & set(question["gold_ids"]):
            continue
        by_week[question["week"]].append(question)
    chosen: list[dict] = []
    depth = max((len(qs) for qs in by_week.values()), default=0)
    for rank in range(depth):
        for week in sorted(by_week):
            if rank < len(by_week[week]) and len(chosen) < UNANSWERABLE:
                question = by_week[week][rank]
                answer = f" {normalize(question['answer'])} "
                if answer.strip() and not any(answer in text for text in texts):
                    chosen.append(question)
    return chosen


def as_item(question: dict, unanswerable: bool) -> dict:
    item = {
        "id": question["id"],
        "question": question["question"],
        "date": question["week"],
        "choices": question["choices"],
        "correct_choice": question["answer"],
    }
    if unanswerable:
        item |= {
            "answers": [],
            "unanswerable": True,
            "notes": f"not answerable: its answer is {question['answer']!r}",
        }
        del item["choices"], item["correct_choice"]  # the right response is a refusal, not a choice
    else:
        item |= {"answers": [question["answer"]], "articles": question["gold_ids"]}
    return item


def main() -> None:
    args = parse_args(__doc__, DEFAULT_OUT)

    questions = [json.loads(line) for line in (args.source / "qa.jsonl").open(encoding="utf-8")]
    corpus_lines = (args.source / "corpus.jsonl").read_text(encoding="utf-8").splitlines()
    articles = [json.loads(line) for line in corpus_lines]

    weeks = choose_weeks(questions, articles)
    kept = [
        line
        for line, article in zip(corpus_lines, articles, strict=True)
        if set(article["weeks"]) & set(weeks)
    ]
    corpus = [article for article in articles if set(article["weeks"]) & set(weeks)]
    answerable = answerable_questions(questions, weeks)
    unanswerable = unanswerable_questions(questions, weeks, corpus)

    args.out.mkdir(parents=True, exist_ok=True)
    items = [as_item(q, False) for q in answerable] + [as_item(q, True) for q in unanswerable]
    (args.out / "qa.jsonl").write_text(
        "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items), encoding="utf-8"
    )
    (args.out / "corpus.jsonl").write_text("".join(line + "\n" for line in kept), encoding="utf-8")
    print(
        f"{len(answerable)} answerable questions over {len(weeks)} weeks ({weeks[0]} .. {weeks[-1]}), "
        f"{len(unanswerable)} unanswerable; {len(kept)} articles, "
        f"{sum(len(a['text']) for a in corpus):,} characters -> {args.out}"
    )
    print("weeks: " + ", ".join(weeks))


if __name__ == "__main__":
    main()
