"""One file that breaks a parser's limits never stops an ingest: `qa-bot ingest` over a folder where
two good articles sit beside JSON nested 100,000 deep, a .jsonl line of the same, an integer of
5,000 digits, front matter nested past YAML's recursion limit, a lone surrogate escape, and an HTML
page nested 60,000 tags deep. Each is a named failure (exit code 4), the rest is ingested, and the
deep page takes seconds, not the minutes that marking each of its blocks in the tree took."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from qa_bot.service import QABot
from tests.reliability.test_hostile_corpus import counts, reported

QA_BOT = str(Path(sys.executable).parent / "qa-bot")
EXIT_FILES_FAILED = 4
DEEP = "[" * 100_000 + "]" * 100_000

pytestmark = pytest.mark.integration  # runs the CLI in a process: outside the fast subset


def hostile_folder(folder: Path) -> None:
    folder.mkdir()
    (folder / "good.txt").write_text("title: Tram line\n\nPorto opened a new tram line on Tuesday.\n")
    (folder / "deep.json").write_text(DEEP)
    lines = [json.dumps({"id": "kept", "text": "Lagos opened a new container port on Monday."}), DEEP]
    (folder / "wire.jsonl").write_text("\n".join(lines) + "\n" + json.dumps({"text": "\ud800 x"}) + "\n")
    (folder / "digits.json").write_text('{"text": "A long number.", "id": ' + "7" * 5000 + "}")
    (folder / "front.txt").write_text("---\ntitle: " + "[" * 50_000 + "\n---\nThe body of it.\n")
    (folder / "deep.html").write_text("<html><body>" + "<div>" * 60_000 + "Buried text.</body></html>")


def test_files_nested_past_the_parsers_limits_are_named_and_the_rest_is_ingested(
    tmp_path, clean_settings_env, settings_factory
):
    news = tmp_path / "news"
    hostile_folder(news)
    data = str(tmp_path / "data")
    env = {**os.environ, "QA_BOT_DATA_DIR": data, "QA_BOT_LLM": "extractive", "COLUMNS": "200"}

    started = time.perf_counter()
    run = subprocess.run(
        [QA_BOT, "ingest", str(news)], env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    seconds = time.perf_counter() - started

    assert run.returncode == EXIT_FILES_FAILED, run.stdout + run.stderr
    assert "Traceback" not in run.stderr and "RecursionError" not in run.stdout + run.stderr
    lines = reported(run.stdout)
    assert lines["deep.json"] == [("failed", lines["deep.json"][0][1])]
    assert "nested too deeply" in lines["deep.json"][0][1]
    assert [reason[:6] for _, reason in lines["wire.jsonl"]] == ["line 2", "line 3"]
    assert "nested too deeply" in lines["wire.jsonl"][0][1] and "surrogate" in lines["wire.jsonl"][1][1]
    assert "4300 digits" in lines["digits.json"][0][1]
    assert "nested too deeply" in lines["front.txt"][0][1]
    assert counts(run.stdout)["added"] == 3  # good.txt, the good .jsonl line, and the deep page's text
    assert seconds < 120  # the deep page alone took ~3 minutes when each block was marked in the tree
    index = QABot(settings_factory(llm="extractive", data_dir=tmp_path / "data")).index
    assert index.stats().articles == 3
    assert index.catalog.get("kept") is not None
