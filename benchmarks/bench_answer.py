"""Answer latency with the embedded local model, through QABot as the chat uses it.

    .venv/bin/python benchmarks/bench_answer.py [--questions 6]
    .venv/bin/python benchmarks/bench_answer.py --dataset evals/realtimeqa_dev/qa.jsonl \
        --index eval-runs/dev-index --questions 30

Loads the local model once, then asks each question (follow-ups skipped) and reports, per question
and as p50/p95: the prompt tokens the model read (counted by the model's own tokenizer through the
llama.cpp server's /tokenize), the evidence tokens, retrieval and evidence-selection time, time to
the first streamed token and total time, both measured from the moment the question is asked.
Without --index, the --corpus (default seeds/) is ingested into a temporary index first.
Results go to docs/performance.md (section "bench_answer"). Run it on a quiet machine: any other
CPU work on the 2 cores slows the model several times.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.report import machine_description, write_section  # noqa: E402
from qa_bot.answering.evidence import estimate_tokens  # noqa: E402
from qa_bot.answering.local_llm import local_model_secret, local_model_url  # noqa: E402
from qa_bot.answering.prompts import build_answer_messages  # noqa: E402
from qa_bot.evaluation.datasets import load_eval_items  # noqa: E402
from qa_bot.evaluation.metrics import answer_correct, percentile  # noqa: E402
from qa_bot.service import Finished, QABot, Token  # noqa: E402
from qa_bot.settings import Settings  # noqa: E402


def prompt_tokens(messages) -> int:
    """The answer prompt's length in the model's own tokens (the chat template adds a few more)."""
    root = local_model_url().removesuffix("/v1")
    text = "\n".join(str(m.content) for m in messages)
    response = httpx.post(
        f"{root}/tokenize",
        json={"content": text},
        headers={"Authorization": f"Bearer {local_model_secret()}"},
        timeout=30,
    )
    response.raise_for_status()
    return len(response.json()["tokens"])


def ask(bot: QABot, item) -> dict:
    started = time.perf_counter()
    first_token = None
    answer = None
    for event in bot.ask_stream(item.question, as_of=item.date):
        if isinstance(event, Token) and first_token is None:
            first_token = time.perf_counter() - started
        elif isinstance(event, Finished):
            answer = event.answer
    total = time.perf_counter() - started
    evidence = answer.passages
    messages = build_answer_messages(item.question, evidence, item.date, bot.settings.prompts_dir)
    return {
        "question": item.question,
        "prompt_tokens": prompt_tokens(messages),
        "evidence_tokens": sum(estimate_tokens(p.text) for p in evidence),
        "retrieve": answer.timings.get("retrieve", 0.0),
        "evidence": answer.timings.get("evidence", 0.0),
        "first_token": first_token,
        "total": total,
        "refused": answer.refused,
        "correct": None
        if item.unanswerable
        else answer_correct(answer.text, item.answers, item.all_required),
    }


def summary(rows: list[dict], key: str, unit: str = "s") -> str:
    values = [r[key] for r in rows if r[key] is not None]
    if not values:
        return f"{key}: -"
    p50, p95 = percentile(values, 50), percentile(values, 95)
    if unit == "s":
        return f"{p50:.2f} s / {p95:.2f} s"
    return f"{p50:.0f} / {p95:.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=ROOT / "evals" / "seed_qa.jsonl")
    parser.add_argument("--corpus", type=Path, default=ROOT / "seeds")
    parser.add_argument("--index", type=Path, help="an already-ingested index folder (no ingest)")
    parser.add_argument("--questions", type=int, default=6)
    args = parser.parse_args()
    items = [i for i in load_eval_items(args.dataset) if not i.history]
    # Spread over the set rather than its first weeks: every n-th question.
    step = max(1, len(items) // args.questions)
    items = items[::step][: args.questions]
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = args.index or Path(tmp)
        if args.index is None and (ROOT / "data" / "models").is_dir():
            os.symlink(ROOT / "data" / "models", Path(tmp) / "models")  # reuse the joined GGUF
        settings = Settings(_env_file=None, data_dir=data_dir, llm="local")
        bot = QABot(settings)
        if args.index is None:
            bot.ingest([args.corpus])
        started = time.perf_counter()
        bot.chat_model().invoke("Say OK.")  # load the model outside the per-question timings
        load_seconds = time.perf_counter() - started
        rows = []
        for item in items:
            rows.append(ask(bot, item))
            print({k: (round(v, 2) if isinstance(v, float) else v) for k, v in rows[-1].items()}, flush=True)

    command = " ".join(["benchmarks/bench_answer.py", *sys.argv[1:]])
    answered = [r for r in rows if r["correct"] is not None]
    body = (
        f"Command: `.venv/bin/python {command}` ({date.today()})  \n"
        f"Machine: {machine_description()}. Evidence budget {settings.evidence_tokens} tokens from "
        f"k={settings.top_k} passages; local model loaded in {load_seconds:.1f} s. Times are measured "
        "from the moment the question is asked (retrieval and evidence selection included).\n\n"
        "| p50 / p95 | value |\n|---|---|\n"
        f"| prompt tokens (model's tokenizer) | {summary(rows, 'prompt_tokens', 'n')} |\n"
        f"| evidence tokens (estimate) | {summary(rows, 'evidence_tokens', 'n')} |\n"
        f"| retrieval | {summary(rows, 'retrieve')} |\n"
        f"| evidence selection | {summary(rows, 'evidence')} |\n"
        f"| time to first token | {summary(rows, 'first_token')} |\n"
        f"| total | {summary(rows, 'total')} |\n\n"
        f"{len(rows)} questions, {len(answered)} answerable: "
        f"{sum(bool(r['correct']) for r in answered)} answered correctly, "
        f"{sum(r['refused'] for r in rows)} refused. "
        f"Median total {statistics.median(r['total'] for r in rows):.1f} s.\n"
    )
    print(body)
    write_section("bench_answer", "Answer latency through QABot (local model)", body)


if __name__ == "__main__":
    main()
