"""Half of the RealTime QA dev set, for answer-stage comparisons that must fit in an hour on 2 cores.

    .venv/bin/python -m benchmarks.make_realtimeqa_dev_half
    QA_BOT_DATA_DIR=eval-runs/dev-half-index .venv/bin/qa-bot ingest eval-runs/dev-half/corpus.jsonl

Reads `evals/realtimeqa_dev/corpus.jsonl` (rebuilt by `benchmarks.make_realtimeqa_dev`) and
`qa.jsonl`, and writes to `eval-runs/dev-half/` (not in git: the corpus is the publishers' text):

- `corpus.jsonl`: every article of every other dev week (the 1st, 3rd, ..., 19th in date order);
- `qa.jsonl`: every answerable question of those weeks (78) and all 60 unanswerable questions,
  alternating (each kind in its file order), so that a run stopped early still holds both kinds.
  An unanswerable question stays unanswerable: its answer occurs in no article of the whole dev
  corpus, so in none of this half either.

The rule looks at weeks only, never at answers. About 30 minutes to embed on 2 cores (half of the
full set's hour), and about 25 minutes per answer run of the embedded model.
"""

from __future__ import annotations

import json
from pathlib import Path

DEV = Path("evals/realtimeqa_dev")
OUT = Path("eval-runs/dev-half")


def main() -> None:
    questions = [json.loads(line) for line in (DEV / "qa.jsonl").read_text().splitlines() if line]
    weeks = sorted({q["date"] for q in questions if not q.get("unanswerable")})[::2]
    OUT.mkdir(parents=True, exist_ok=True)
    kept = 0
    with (DEV / "corpus.jsonl").open() as source, (OUT / "corpus.jsonl").open("w") as target:
        for line in source:
            if set(json.loads(line)["weeks"]) & set(weeks):
                target.write(line)
                kept += 1
    answerable = [q for q in questions if not q.get("unanswerable") and q["date"] in weeks]
    unanswerable = [q for q in questions if q.get("unanswerable")]
    # Alternating, in file order, so that a run stopped early still holds both kinds.
    alternating = [q for pair in zip(answerable, unanswerable, strict=False) for q in pair]
    rest = answerable[len(unanswerable) :] + unanswerable[len(answerable) :]
    with (OUT / "qa.jsonl").open("w") as target:
        for question in alternating + rest:
            target.write(json.dumps(question, ensure_ascii=False) + "\n")
    print(f"weeks: {', '.join(weeks)}")
    print(
        f"{kept} articles; {len(answerable)} answerable + {len(unanswerable)} unanswerable questions -> {OUT}"
    )


if __name__ == "__main__":
    main()
