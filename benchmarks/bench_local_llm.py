"""How fast the embedded local model answers a typical question on this machine.

Measures, through the same path the app uses (build_chat_model -> ChatOpenAI -> llama.cpp server):
- model file ready: joining + verifying the packaged GGUF on the first run, a marker check after;
- load: starting the llama.cpp server until /health answers;
- per question, with four ~150-word passages from seeds/: time to first token and total time, once
  with a fresh prompt (nothing cached) and once repeating it (llama.cpp reuses the cached prefix).

Prints a table and rewrites its own section of docs/performance.md.

    .venv/bin/python benchmarks/bench_local_llm.py [--repeats 3] [--threads 2] [--no-write]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import resource
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from langchain_core.messages import HumanMessage, SystemMessage

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from benchmarks.report import PERFORMANCE_MD, write_section  # noqa: E402
from qa_bot.answering import (
    llm,  # noqa: E402
    local_llm,
)
from qa_bot.settings import PROJECT_ROOT, Settings  # noqa: E402

PASSAGE_WORDS = 150
PASSAGE_COUNT = 4
QUESTION = "On which day did Jaishankar and Blinken speak on the telephone?"
SYSTEM_PROMPT = (
    "Answer the question in one sentence, using only the numbered passages. End the sentence with the "
    "passage number in square brackets, e.g. [2]."
)


@dataclass
class Run:
    kind: str  # "fresh prompt" or "cached prefix"
    prompt_tokens: int | None
    output_tokens: int | None
    first_token_s: float
    total_s: float
    answer: str


def seed_passages(seeds_dir: Path = PROJECT_ROOT / "seeds") -> list[str]:
    """PASSAGE_COUNT passages of PASSAGE_WORDS words, cut from the seed articles in order."""
    passages = []
    for article in sorted(seeds_dir.glob("*.txt")):
        words = article.read_text(encoding="utf-8").split()
        for start in range(0, len(words) - PASSAGE_WORDS // 2, PASSAGE_WORDS):
            passages.append(" ".join(words[start : start + PASSAGE_WORDS]))
    if len(passages) < PASSAGE_COUNT:
        sys.exit(f"Need text for {PASSAGE_COUNT} passages of {PASSAGE_WORDS} words in {seeds_dir}.")
    return passages[:PASSAGE_COUNT]


def build_messages(passages: list[str], nonce: str) -> list:
    numbered = "\n\n".join(f"[{i}] {text}" for i, text in enumerate(passages, start=1))
    # The nonce leads the prompt so that a fresh run shares no cached prefix with earlier ones.
    return [
        SystemMessage(f"Session {nonce}. {SYSTEM_PROMPT}"),
        HumanMessage(f"Passages:\n{numbered}\n\nQuestion: {QUESTION}"),
    ]


def ask(chat, messages: list, kind: str) -> Run:
    started = time.perf_counter()
    first_token_s = None
    pieces, usage = [], None
    for chunk in chat.stream(messages, stream_usage=True):
        if chunk.content and first_token_s is None:
            first_token_s = time.perf_counter() - started
        pieces.append(chunk.content)
        usage = chunk.usage_metadata or usage
    total_s = time.perf_counter() - started
    return Run(
        kind=kind,
        prompt_tokens=usage.get("input_tokens") if usage else None,
        output_tokens=usage.get("output_tokens") if usage else None,
        first_token_s=first_token_s if first_token_s is not None else total_s,
        total_s=total_s,
        answer="".join(pieces).strip(),
    )


def machine() -> dict[str, str]:
    cpu = platform.processor() or "unknown"
    ram_gb = None
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
        cpu = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE).group(1).strip()
        meminfo = Path("/proc/meminfo").read_text()
        ram_gb = int(re.search(r"^MemTotal:\s*(\d+) kB", meminfo, re.MULTILINE).group(1)) / 1024**2
    except (OSError, AttributeError):
        pass
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "ram": f"{ram_gb:.1f} GB" if ram_gb else "unknown",
        "load_avg_before": " / ".join(f"{x:.2f}" for x in os.getloadavg()),
        "python": platform.python_version(),
    }


def fmt(value: float | int | None, spec: str = ".2f") -> str:
    return "-" if value is None else format(value, spec)


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def report(
    settings: Settings,
    prepare_s: float,
    load_s: float,
    runs: list[Run],
    info: dict,
    rss_gb: float,
    cpu_share: float,
) -> str:
    fresh = [r for r in runs if r.kind == "fresh prompt"]
    cached = [r for r in runs if r.kind == "cached prefix"]
    lines = [
        f"Run {datetime.date.today().isoformat()} on {info['nproc']} cores ({info['cpu']}), "
        f"{info['ram']} RAM; load average before the run {info['load_avg_before']}. "
        f"Model: {local_llm.LOCAL_MODEL_LABEL}, {settings.local_threads} threads, "
        f"context {settings.local_context}, max {settings.max_answer_tokens} answer tokens. "
        f"Prompt: {PASSAGE_COUNT} passages of ~{PASSAGE_WORDS} words from seeds/ plus a one-line question.",
        "",
        "| step | seconds |",
        "|---|---|",
        f"| model file ready (join + sha256 on first run, marker check after) | {prepare_s:.2f} |",
        f"| load (llama.cpp server up, /health 200) | {load_s:.2f} |",
        f"| time to first token, fresh prompt (median of {len(fresh)}) | "
        f"{fmt(median([r.first_token_s for r in fresh]))} |",
        f"| total answer time, fresh prompt (median) | {fmt(median([r.total_s for r in fresh]))} |",
        f"| time to first token, repeated prompt (cached prefix, median of {len(cached)}) | "
        f"{fmt(median([r.first_token_s for r in cached]))} |",
        "",
        "| # | prompt | prompt tokens | first token (s) | total (s) | answer tokens | answer tok/s |",
        "|---|---|---|---|---|---|---|",
    ]
    for number, run in enumerate(runs, start=1):
        generating_s = run.total_s - run.first_token_s
        rate = (run.output_tokens - 1) / generating_s if run.output_tokens and generating_s > 0 else None
        lines.append(
            f"| {number} | {run.kind} | {fmt(run.prompt_tokens, 'd')} | {run.first_token_s:.2f} | "
            f"{run.total_s:.2f} | {fmt(run.output_tokens, 'd')} | {fmt(rate, '.1f')} |"
        )
    lines += [
        "",
        f"While answering, this process got {cpu_share:.0%} of its {settings.local_threads} threads' CPU "
        "time (near 100% means nothing else competed for the cores); load average after the run "
        f"{' / '.join(f'{x:.2f}' for x in os.getloadavg())}.",
        f'Process RSS after the runs (model included): {rss_gb:.2f} GB. First answer: "{runs[0].answer}"',
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="questions per kind (fresh, cached)")
    parser.add_argument("--threads", type=int, help="llama.cpp threads (default: QA_BOT_LOCAL_THREADS)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/performance.md alone")
    args = parser.parse_args()

    info = machine()
    overrides = {"llm": "local"}
    if args.threads:
        overrides["local_threads"] = args.threads
    settings = Settings(**overrides)
    passages = seed_passages()

    started = time.perf_counter()
    local_llm.resolve_local_model_path(settings)
    prepare_s = time.perf_counter() - started
    started = time.perf_counter()
    chat = llm.build_chat_model(settings)
    load_s = time.perf_counter() - started

    runs = []
    wall_started, cpu_started = time.perf_counter(), cpu_seconds()
    for repeat in range(args.repeats):
        messages = build_messages(passages, nonce=f"{time.time_ns()}-{repeat}")
        runs.append(ask(chat, messages, "fresh prompt"))
        runs.append(ask(chat, messages, "cached prefix"))
    busy_s = cpu_seconds() - cpu_started
    cpu_share = busy_s / ((time.perf_counter() - wall_started) * settings.local_threads)
    rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    local_llm.stop_local_model()

    body = report(settings, prepare_s, load_s, runs, info, rss_gb, cpu_share)
    print(body)
    if not args.no_write:
        write_section("bench_local_llm", "Local LLM (embedded llama.cpp)", body)
        print(f"\nWrote the bench_local_llm section of {PERFORMANCE_MD}")


if __name__ == "__main__":
    main()
