"""End-to-end answer latency with the embedded local model, through QABot as the chat uses it.

    .venv/bin/python benchmarks/bench_answer.py [--questions 6]

Ingests seeds/ into a temporary index, loads the local model once, then asks seed questions from
evals/seed_qa.jsonl (each a fresh prompt: nothing cached but the system prompt) and reports per
question: retrieval time, time to the first streamed token, total time, passage words sent.
Results go to docs/performance.md (section "bench_answer"). Run it on a quiet machine: any other
CPU work on the 2 cores slows the model several times.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.report import machine_description, write_section  # noqa: E402
from qa_bot.service import Finished, QABot, Retrieved, Token  # noqa: E402
from qa_bot.settings import Settings  # noqa: E402


def seed_questions(count: int) -> list[dict]:
    with open(ROOT / "evals" / "seed_qa.jsonl", encoding="utf-8") as lines:
        items = [json.loads(line) for line in lines]
    return [i for i in items if not i.get("history") and not i.get("unanswerable")][:count]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--questions", type=int, default=6)
    args = parser.parse_args()
    models_dir = ROOT / "data"  # reuse the joined GGUF of the default data dir, if there is one
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(_env_file=None, data_dir=Path(tmp), llm="local")
        if (models_dir / "models").is_dir():
            os.symlink(models_dir / "models", Path(tmp) / "models")
        bot = QABot(settings)
        bot.ingest([ROOT / "seeds"])
        started = time.perf_counter()
        bot.chat_model().invoke("Say OK.")  # load the model outside the per-question timings
        load_seconds = time.perf_counter() - started

        rows = []
        for item in seed_questions(args.questions):
            started = time.perf_counter()
            first_token = None
            words = 0
            as_of = date.fromisoformat(item["date"]) if item.get("date") else None
            for event in bot.ask_stream(item["question"], as_of=as_of):
                if isinstance(event, Retrieved):
                    words = sum(len(p.text.split()) for p in event.passages)
                elif isinstance(event, Token) and first_token is None:
                    first_token = time.perf_counter() - started
                elif isinstance(event, Finished):
                    answer = event.answer
            total = time.perf_counter() - started
            correct = any(a.lower() in answer.text.lower() for a in item["answers"] if isinstance(a, str))
            rows.append(
                (item["question"], words, answer.timings.get("retrieve", 0), first_token, total, correct)
            )
            print(rows[-1], flush=True)

    table = "\n".join(
        f"| {q[:60]} | {w} | {r * 1000:.0f} ms | {ft:.1f} s | {t:.1f} s | {'yes' if ok else 'no'} |"
        for q, w, r, ft, t, ok in rows
    )
    first_tokens = [r[3] for r in rows if r[3] is not None]
    body = (
        f"Command: `.venv/bin/python benchmarks/bench_answer.py --questions {args.questions}` "
        f"({date.today()})  \n"
        f"Machine: {machine_description()}. Default settings (k={settings.top_k}, chunks of "
        f"{settings.chunk_tokens} word-pieces), local model loaded in {load_seconds:.1f} s.\n\n"
        f"Median time to first token {statistics.median(first_tokens):.1f} s, median total "
        f"{statistics.median(r[4] for r in rows):.1f} s.\n\n"
        "| question | passage words sent | retrieval | first token | total | answer contains the expected |\n"
        "|---|---|---|---|---|---|\n" + table
    )
    print(body)
    write_section("bench_answer", "Answer latency through QABot (local model)", body)


if __name__ == "__main__":
    main()
