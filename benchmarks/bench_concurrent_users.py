"""Several people asking at once, with the embedded model: 4 browser sessions x 3 questions each.

    .venv/bin/python benchmarks/bench_concurrent_users.py [--sessions 4] [--questions 3]

    # the line's behaviour in a minute, with a scripted server (answers of ~3 s) instead of the model:
    .venv/bin/fakellm serve --host 127.0.0.1 --port 18999 --config benchmarks/fakellm_concurrent_users.yaml &
    .venv/bin/python benchmarks/bench_concurrent_users.py --llm-url http://127.0.0.1:18999/v1

Starts the chat (`streamlit run ui/app.py`) on the seed articles with the embedded local model, opens
--sessions browser contexts in Debian's Chromium (each a person with a Streamlit session of their
own), and has each ask --questions seed questions one after the other, all sessions at once. For
every question it records the time from pressing Enter to the verified answer, the time the page
said it waited in line ("Waited N s in line for the model"), and any error shown. Reports how many
were answered and p50/p95 of both times; results go to docs/performance.md (section
"bench_concurrent_users"). The model writes one answer at a time (qa_bot/answering/queue.py), so the
total is about questions x one answer's time; what the line adds is order and a visible place.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import date
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.report import machine_description, write_section  # noqa: E402
from qa_bot.evaluation.metrics import percentile  # noqa: E402

QUESTIONS = [
    "On which day did Jaishankar and Blinken speak on the telephone?",
    "Where did Blinken and Jaishankar meet in March?",
    "What did Blinken say about NGOs and civil society?",
    "Who is the US Secretary of State?",
    "What did Jaishankar call the conversation with Blinken?",
    "Which meeting were the foreign ministers attending in New Delhi?",
]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"]
THINK_TIME_MS = 3000
ANSWER_TIMEOUT_MS = int(os.environ.get("BENCH_ANSWER_TIMEOUT_MS", "600000"))
_WAITED = re.compile(r"Waited (\d+) s in line")
_OUTCOME = ".qa-answer, .qa-notice.qa-info, .qa-notice.qa-error"  # what ends a question on the page
_IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'  # no run of the page's script


def start_chat(data_dir: Path, port: int, llm_url: str | None) -> subprocess.Popen:
    env = dict(os.environ, QA_BOT_DATA_DIR=str(data_dir), QA_BOT_LLM="local")
    if llm_url:  # a scripted server: checks the line's behaviour in seconds instead of minutes
        env.update(QA_BOT_LLM="openai-compatible", OPENAI_BASE_URL=llm_url, QA_BOT_MODEL="scripted")
        env["QA_BOT_LLM_CONCURRENT_ANSWERS"] = "1"
    env["QA_BOT_CORPUS"] = json.dumps([str(ROOT / "seeds")])
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(ROOT / "ui" / "app.py"),
        "--server.headless",
        "true",
        "--server.address",
        "127.0.0.1",
        "--server.port",
        str(port),
        "--browser.gatherUsageStats",
        "false",
    ]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    for _ in range(600):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("the chat did not start")


async def one_person(browser, url: str, questions: list[str]) -> list[dict]:
    context = await browser.new_context(viewport={"width": 1200, "height": 900})
    page = await context.new_page()
    await page.goto(url)
    box = page.get_by_test_id("stChatInputTextArea")
    await box.wait_for(timeout=ANSWER_TIMEOUT_MS)
    results = []
    for question in questions:
        started = time.perf_counter()
        await submit(page, box, question)
        # The answer is complete when the run that writes it ends. Counting answers on the page before
        # that is wrong: Streamlit leaves the previous run's elements on screen (stale) until this run
        # replaces them, so the last answer, shifted down, passed for this one, and the next question
        # was sent while this one still waited in line, which stopped it.
        await page.locator(_IDLE).wait_for(timeout=ANSWER_TIMEOUT_MS)
        seconds = time.perf_counter() - started
        reply = page.get_by_test_id("stChatMessage").last
        text = await reply.inner_text()
        waited = _WAITED.search(text)
        # (Playwright locators: st.html puts its content in a shadow root, which querySelector skips.)
        notices = reply.locator(".qa-notice.qa-error")
        failed = None
        if await notices.count():
            failed = await notices.first.inner_text()
        elif not await reply.locator(_OUTCOME).count():
            failed = "no answer on the page"
        in_line = int(waited.group(1)) if waited else 0
        # A person reads the answer before asking again.
        await page.wait_for_timeout(THINK_TIME_MS)
        results.append({"question": question, "seconds": seconds, "waited": in_line, "error": failed})
    await context.close()
    return results


async def submit(page, box, question: str) -> None:
    await box.fill(question)
    await box.press("Enter")
    await page.get_by_test_id("stChatMessage").filter(has_text=question).first.wait_for(timeout=30_000)


async def run(url: str, sessions: int, per_session: int) -> list[dict]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        plans = [[QUESTIONS[(s + q) % len(QUESTIONS)] for q in range(per_session)] for s in range(sessions)]
        results = await asyncio.gather(*(one_person(browser, url, plan) for plan in plans))
        await browser.close()
    return [row for person in results for row in person]


def warm_up(url: str) -> None:
    """The first question loads the model (a few seconds): done once, so it is not counted."""
    asyncio.run(run(url, 1, 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=4)
    parser.add_argument("--questions", type=int, default=3)
    parser.add_argument("--llm-url", help="an OpenAI-compatible server instead of the embedded model")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    port = 8765
    chat = start_chat(Path(tempfile.mkdtemp(prefix="bench-users-")), port, args.llm_url)
    url = f"http://127.0.0.1:{port}"
    try:
        warm_up(url)
        started = time.perf_counter()
        rows = asyncio.run(run(url, args.sessions, args.questions))
        wall = time.perf_counter() - started
    finally:
        chat.terminate()
        try:
            chat.wait(timeout=30)
        except subprocess.TimeoutExpired:  # the embedded model's server can be slow to stop
            chat.kill()
            chat.wait()
    answered = [r for r in rows if not r["error"]]
    errors = Counter(r["error"] for r in rows if r["error"])
    seconds = sorted(r["seconds"] for r in rows)
    waits = sorted(r["waited"] for r in rows)
    body = "\n".join(
        [
            f"`.venv/bin/python benchmarks/bench_concurrent_users.py --sessions {args.sessions} --questions "
            f"{args.questions}{f' --llm-url {args.llm_url}' if args.llm_url else ''}`, "
            f"{date.today():%Y-%m-%d}, {machine_description()}, load average {os.getloadavg()[0]:.1f}, "
            f"{'a scripted server, one answer at a time' if args.llm_url else 'embedded local model'}.",
            "",
            f"{len(rows)} questions from {args.sessions} browser sessions at once: {len(answered)} answered, "
            f"{len(rows) - len(answered)} errors; {wall:.0f} s for all of them.",
            *(f"- {n} x {message}" for message, n in errors.most_common()),
            "",
            "| per question | p50 s | p95 s | max s |",
            "| --- | --- | --- | --- |",
            f"| Enter to verified answer | {statistics.median(seconds):.1f} | "
            f"{percentile(seconds, 95):.1f} | {seconds[-1]:.1f} |",
            f"| of which waiting in line (as the page said) | {statistics.median(waits):.0f} | "
            f"{percentile(waits, 95):.0f} | {waits[-1]} |",
        ]
    )
    print(body)
    if not args.no_write:
        write_section("bench_concurrent_users", "Several people at once (embedded model)", body)


if __name__ == "__main__":
    main()
