"""The README's first command, checked as a new user meets it: in the venv `bash scripts/setup.sh`
made (no dev extras, no pytest), on a fresh data directory, with the embedded defaults.

    .venv/bin/python scripts/smoke_first_run.py              # from the repository's root
    VENV/bin/python scripts/smoke_first_run.py --elsewhere   # from a folder outside the repository

1. every module of qa_bot and ui imports (scripts/check_imports.py);
2. `qa-bot ingest seeds` indexes the two seed articles (--elsewhere: a copy of them, `articles/`);
3. `qa-bot ask --json` answers a seed question with a citation of the right article, with the
   extractive answerer and with the embedded local model;
4. `qa-bot ui` starts and answers its health check;
5. the chat page itself (Streamlit's AppTest, no browser): on first start it indexes the seed articles
   and answers a seed question with a source.

Exit code 0 when all of it works; otherwise 1, after saying which step failed and with what output.
`.ci/run` runs it (through scripts/smoke_wheel.py, --elsewhere, on qa-bot's wheel) before the dev
extras are installed, so that a dependency only they bring fails CI.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from importlib.resources import files
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
# As evals/seed_qa.jsonl asks it (the install is checked here, not the answer quality: `qa-bot eval`).
QUESTION = "On which day did Jaishankar and Antony Blinken speak on the telephone?"  # seed-01
CALL_ARTICLE = "000_092cfdeac746b4f0"  # seeds/000_092cfdeac746b4f0.txt: the phone call
UI_START_S = 60
APPTEST_TIMEOUT_S = 600  # the first run indexes the seeds and loads the local model on 2 cores


class StepFailed(Exception):
    pass


def run(step: str, command: list[str], env: dict[str, str], timeout: int = 900, cwd=None) -> str:
    """Runs a step, from the current folder unless `cwd` says otherwise; its output when it succeeds."""
    started = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    print(f"  {step}: exit {done.returncode} in {time.perf_counter() - started:.1f} s", flush=True)
    if done.returncode != 0:
        raise StepFailed(f"{step}: exit code {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done.stdout


def check_answer(step: str, output: str) -> None:
    answer = json.loads(output)
    if answer["refused"] or answer["error"]:
        raise StepFailed(f"{step}: no answer: {answer['answer']!r} (error: {answer['error']!r})")
    cited = {citation["path"] or "" for citation in answer["citations"]}
    if not any(CALL_ARTICLE in path for path in cited):
        raise StepFailed(f"{step}: {answer['answer']!r} cites {sorted(cited)}, not the call's article")
    print(f"    answer: {answer['answer']!r}", flush=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def check_ui_starts(env: dict[str, str]) -> None:
    port = free_port()
    server = subprocess.Popen(
        [str(VENV_BIN / "qa-bot"), "ui", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + UI_START_S
        while time.monotonic() < deadline:
            if server.poll() is not None:
                output = server.stdout.read()[-3000:]
                raise StepFailed(f"qa-bot ui exited with {server.returncode}:\n{output}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as reply:
                    if reply.read().strip() == b"ok":
                        print(f"  qa-bot ui: healthy on port {port}", flush=True)
                        return
            except OSError:
                time.sleep(0.5)
        raise StepFailed(f"qa-bot ui did not answer its health check within {UI_START_S} s")
    finally:
        server.terminate()
        server.wait(timeout=20)


def check_chat_page(env: dict[str, str]) -> None:
    """The chat as a user's browser would drive it: first start, then one question."""
    os.environ.update(env)
    from streamlit import config
    from streamlit.testing.v1 import AppTest

    # On 127.0.0.1, as `qa-bot ui` serves it (the checkout's .streamlit/config.toml says so too, but
    # is read only from the checkout): served on every address without a login, the chat refuses.
    config.set_option("server.address", "127.0.0.1")

    started = time.perf_counter()
    # The page `qa-bot ui` serves: the installed ui package's (the wheel's, in a wheel install).
    app = AppTest.from_file(str(files("ui") / "app.py"), default_timeout=APPTEST_TIMEOUT_S)
    app.run()
    if app.exception:
        raise StepFailed(f"the chat page failed to start: {app.exception}")
    articles = {m.label: m.value for m in app.sidebar.metric}.get("Articles")
    if articles != "2":
        raise StepFailed(f"the chat's first start indexed {articles!r} articles, not the 2 seed articles")
    app.chat_input[0].set_value(QUESTION).run()
    if app.exception:
        raise StepFailed(f"the chat page failed on a question: {app.exception}")
    answer = [m for m in app.chat_message if m.name == "assistant"][-1]
    html = " ".join(h.value for h in answer.html)
    if 'class="qa-answer"' not in html or 'class="qa-source-title"' not in html:
        raise StepFailed(f"the chat showed no answer with a source:\n{html[:3000]}")
    if CALL_ARTICLE not in html or "The articles don" in html:
        raise StepFailed(f"the chat's answer does not cite the call's article:\n{html[:3000]}")
    print(f"  chat page: answered with a source in {time.perf_counter() - started:.1f} s", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--elsewhere",
        action="store_true",
        help="run from a new folder outside the repository, on a copy of the seed articles",
    )
    elsewhere = parser.parse_args(argv).elsewhere
    qa_bot = str(VENV_BIN / "qa-bot")
    with tempfile.TemporaryDirectory(prefix="qa-bot-first-run-") as scratch:
        # Elsewhere, nothing of the checkout is at hand: not its seeds/, its .env or its .streamlit/.
        os.chdir(scratch if elsewhere else ROOT)
        articles = shutil.copytree(ROOT / "seeds", "articles") if elsewhere else "seeds"
        base = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("QA_BOT_", "OPENAI_"))  # the embedded defaults, as on a fresh machine
        }
        cli_env = {**base, "QA_BOT_DATA_DIR": str(Path(scratch) / "cli")}
        ui_env = {**base, "QA_BOT_DATA_DIR": str(Path(scratch) / "ui")}
        try:
            print(f"first run: the README's first command, in {sys.prefix}, from {os.getcwd()}", flush=True)
            run("imports", [sys.executable, str(ROOT / "scripts" / "check_imports.py")], base)
            run(f"qa-bot ingest {articles}", [qa_bot, "ingest", articles], cli_env)
            for llm in ("extractive", "local"):
                step = f"qa-bot ask --json (QA_BOT_LLM={llm})"
                asked = run(step, [qa_bot, "ask", "--json", QUESTION], {**cli_env, "QA_BOT_LLM": llm})
                check_answer(step, asked)
            check_ui_starts(ui_env)
            check_chat_page(ui_env)
        except (StepFailed, subprocess.TimeoutExpired) as failure:
            print(f"FIRST RUN FAILED: {failure}", file=sys.stderr)
            return 1
    print("first run: ok", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
