"""Each refusal rule of the pointer stage, measured on saved model answers: no model is asked.

    .venv/bin/python -m benchmarks.pointer_rules eval-runs/h-local-pointer/rows.jsonl

Reads the rows of a `qa-bot eval` run made with QA_BOT_ANSWER_STYLE=pointer (their `raw_answer`
and `passages`), checks each saved answer again with every subset of the rules about the question
and the article (qa_bot/answering/quoting.py: QUESTION_RULES), and prints, per subset, the right answers and
the refusals of answerable questions, and the refusals of unanswerable ones: what each rule costs
and buys on each kind of question. The subject rule reads the saved evidence passages here, where
the app reads the whole article: it refuses a little more here than in the app.
"""

from __future__ import annotations

import json
import sys
from datetime import date
from itertools import combinations
from pathlib import Path

from qa_bot.answering.answer import date_the_answer, pointed_answer
from qa_bot.answering.quoting import QUESTION_RULES
from qa_bot.evaluation.metrics import answer_correct
from qa_bot.evaluation.runner import upgraded_row
from qa_bot.index.search import Passage


def evidence_of(row: dict) -> list[Passage]:
    return [Passage.from_dict(saved) for saved in row["passages"]]


def recheck(row: dict, rules: frozenset[str], statement: bool):
    answer = pointed_answer(
        row["question"],
        row["raw_answer"],
        evidence_of(row),
        asked=row.get("standalone_question"),
        statement=statement,
        rules=rules,
    )
    as_of = date.fromisoformat(row["date"]) if row.get("date") else None
    return date_the_answer(answer, as_of)


def main() -> None:
    path = Path(sys.argv[1])
    statement = "--extractive" in sys.argv
    rows = [upgraded_row(json.loads(line)) for line in path.read_text().splitlines() if line.strip()]
    rows = [r for r in rows if not r.get("error") and r.get("passages") and "raw_answer" in r]
    answerable = [r for r in rows if not r["gold"]["unanswerable"]]
    unanswerable = [r for r in rows if r["gold"]["unanswerable"]]
    print(f"{path}: {len(answerable)} answerable, {len(unanswerable)} unanswerable")
    print("rules\tright (answerable)\trefused (answerable)\trefused (unanswerable)")
    for size in range(len(QUESTION_RULES), -1, -1):
        for rules in combinations(sorted(QUESTION_RULES), size):
            right = refused = 0
            for row in answerable:
                answer = recheck(row, frozenset(rules), statement)
                refused += answer.refused
                gold = row["gold"]
                right += not answer.refused and answer_correct(
                    answer.text, gold["answers"], gold.get("all", False)
                )
            held = sum(recheck(row, frozenset(rules), statement).refused for row in unanswerable)
            name = " + ".join(rules) or "none"
            print(
                f"{name}\t{right}/{len(answerable)}\t{refused}/{len(answerable)}\t{held}/{len(unanswerable)}"
            )


if __name__ == "__main__":
    main()
