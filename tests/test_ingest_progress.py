"""`qa-bot ingest` writing to a log file or a pipe: plain progress lines while it works, not silence
until the summary (an ingest of 300 articles once printed nothing for 8 minutes)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.fixtures.ingest_runs import cli_env, write_corpus

pytestmark = pytest.mark.integration  # starts processes: outside the fast subset

# The keyword pass, then the embedding pass behind it.
READING_LINE = re.compile(r"^Ingesting: (\d+) of ~16 articles, \d+:\d\d:\d\d elapsed$")
EMBEDDING_LINE = re.compile(
    r"^Ingesting: searchable by keyword; embedded (\d+) of 16 articles \((\d+) chunks\), "
    r"ETA (\d+:\d\d:\d\d|-:--:--), \d+:\d\d:\d\d elapsed$"
)
# The real `qa-bot` app, with the seconds between progress lines shortened for the test.
SHORT_INTERVAL_CLI = "import qa_bot.cli as cli; cli.PLAIN_PROGRESS_EVERY_S = 0.05; cli.app()"


def test_ingest_into_a_pipe_prints_plain_progress_lines_then_the_summary(tmp_path):
    corpus = write_corpus(tmp_path / "corpus")

    result = subprocess.run(
        [sys.executable, "-c", SHORT_INTERVAL_CLI, "ingest", str(corpus)],
        env=cli_env(tmp_path / "data"),
        cwd=tmp_path,  # no .env there
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # as `qa-bot ingest ... > ingest.log 2>&1` writes them
        text=True,
        timeout=600,  # a hang guard, not a speed limit
    )

    assert result.returncode == 0, result.stdout
    assert "\x1b" not in result.stdout  # no colours, no cursor moves: a log reads as text
    lines = result.stdout.splitlines()
    progress = [line for line in lines if line.startswith("Ingesting")]
    reading = [READING_LINE.match(line) for line in progress if "searchable by keyword" not in line]
    embedding = [EMBEDDING_LINE.match(line) for line in progress if "searchable by keyword" in line]
    assert reading and all(reading) and embedding and all(embedding), lines
    assert progress.index(next(line for line in progress if "searchable" in line)) >= len(reading)  # in order
    chunks = [int(match.group(2)) for match in embedding]
    assert chunks == sorted(chunks) and chunks[-1] > 0  # the count moves while it works
    assert result.stdout.rindex("Ingesting: ") < result.stdout.index("Ingest summary")  # then the summary
