"""How the chat page responds over a large index: the sidebar, a question, the article dialog, status.

    .venv/bin/python benchmarks/bench_ui_scale.py --index eval-runs/dev-index [--repeat 5]

Drives the real Streamlit app (AppTest, as the UI tests do) over an existing index, answering
extractively so that no LLM time is counted. Reports, as p50 and max over --repeat runs:

- cold start: the first run of the page in a fresh process state (opening Chroma, the catalog,
  the embedding model), what the first visitor after a restart waits for;
- rerun: any click or widget change reruns the page; this is the sidebar (counts, date range,
  source list) plus the page around it;
- question: retrieval, evidence selection and the extractive answer, with the sources rendered;
- article dialog: "Open the whole article" on the first source;
- `qa-bot status` as a fresh process, and the part of it that reads the index (without the
  process start and imports).

The index is only read. Results go to docs/performance.md (section "bench_ui_scale").
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.report import machine_description, write_section  # noqa: E402

QUESTION = "What did the Federal Reserve decide about interest rates?"


def timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def page_timings(index: Path) -> dict[str, float]:
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    st.cache_resource.clear()  # a cold start: nothing cached from the previous repeat
    app = AppTest.from_file(str(ROOT / "ui" / "app.py"), default_timeout=600)
    timings = {"cold start": timed(app.run)}
    timings["rerun (sidebar and page)"] = timed(app.run)
    ask = app.chat_input[0].set_value(QUESTION)
    timings["question (extractive, sources shown)"] = timed(ask.run)
    buttons = [b for b in app.button if b.label == "Open the whole article"]
    if buttons:
        timings["article dialog"] = timed(lambda: buttons[0].click().run())
    if app.exception:
        raise SystemExit(f"the page failed: {app.exception}")
    return timings


def status_timings() -> dict[str, float]:
    from qa_bot.service import QABot
    from qa_bot.settings import Settings

    command = [sys.executable, "-m", "qa_bot.cli", "status"]
    whole = timed(lambda: subprocess.run(command, check=True, capture_output=True))
    bot = QABot(Settings())
    work = timed(lambda: (bot.status(), bot.index_stats()))
    return {"qa-bot status (a fresh process)": whole, "status, reading the index only": work}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, required=True, help="a data directory holding an index")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    os.environ.update(QA_BOT_DATA_DIR=str(args.index.resolve()), QA_BOT_LLM="extractive")

    from qa_bot.service import QABot
    from qa_bot.settings import Settings

    stats = QABot(Settings()).index_stats()
    runs: dict[str, list[float]] = {}
    for _ in range(args.repeat):
        for name, seconds in {**page_timings(args.index), **status_timings()}.items():
            runs.setdefault(name, []).append(seconds)
    lines = [
        f"`.venv/bin/python benchmarks/bench_ui_scale.py --index {args.index} --repeat {args.repeat}`, "
        f"{date.today():%Y-%m-%d}, {machine_description()}.",
        "",
        f"Index: {stats.articles} articles, {stats.chunks} chunks, {len(stats.sources)} sources.",
        "",
        "| step | p50 s | max s |",
        "| --- | --- | --- |",
        *[f"| {name} | {statistics.median(v):.2f} | {max(v):.2f} |" for name, v in runs.items()],
    ]
    body = "\n".join(lines)
    print(body)
    if not args.no_write:
        write_section("bench_ui_scale", "The chat page over a large index", body)


if __name__ == "__main__":
    main()
