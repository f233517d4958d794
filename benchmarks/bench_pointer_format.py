"""The pointer's two output formats on the embedded model, side by side: plain lines against the
JSON object the server enforces with a grammar (QA_BOT_ANSWER_FORMAT). Run by hand:

    QA_BOT_DATA_DIR=/tmp/seedidx .venv/bin/qa-bot ingest seeds
    .venv/bin/python -m benchmarks.bench_pointer_format /tmp/seedidx plain
    .venv/bin/python -m benchmarks.bench_pointer_format /tmp/seedidx json

Prints, per seed question, the seconds to the first token and to the whole answer, the model's raw
output and what the app showed. Results: docs/performance.md.
"""

from __future__ import annotations

import sys
import time
from datetime import date

from qa_bot.service import Finished, QABot, Token
from qa_bot.settings import Settings

QUESTIONS = [
    "On which day did Jaishankar and Antony Blinken speak on the telephone?",
    "Who did External Affairs Minister S Jaishankar have a telephone conversation with on Sunday?",
    "Where were the G20 foreign ministers meeting held?",
]


def main() -> None:
    data_dir, answer_format = sys.argv[1], sys.argv[2]
    bot = QABot(Settings(_env_file=None, data_dir=data_dir, answer_format=answer_format))
    bot.ask(QUESTIONS[0])  # loads the model: not counted
    for question in QUESTIONS:
        started, first, raw, answer = time.perf_counter(), None, "", None
        for event in bot.ask_stream(question, as_of=date(2023, 4, 20)):
            if isinstance(event, Token):
                first = first if first is not None else time.perf_counter() - started
                raw += event.text
            elif isinstance(event, Finished):
                answer = event.answer
        total = time.perf_counter() - started
        shown = answer.text[:80]
        print(f"{answer_format}\tfirst {first or 0:.1f} s\ttotal {total:.1f} s\t{raw!r} -> {shown!r}")


if __name__ == "__main__":
    main()
