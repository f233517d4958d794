"""Helpers for the reliability tests: a small generated corpus, and `qa-bot` run as a real subprocess.

The subprocess sees none of the developer's QA_BOT_*/OPENAI_* variables and runs in a folder with no
`.env`; it answers extractively (no LLM) with the packaged embedding model, so everything is offline.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
from pathlib import Path

from qa_bot.service import QABot
from tests.conftest import _settings_env_names

ROOT = Path(__file__).resolve().parents[2]
BASE_ARTICLES = 4
MORE_ARTICLES = 12  # about 84 chunks: more than one batch of 64, so a kill can fall between batches
_RUN_TIMEOUT_S = 600  # a hang guard, not a speed limit

_WORDS = [
    "council", "budget", "harbour", "bridge", "election", "minister", "ferry", "drought", "reservoir",
    "tariff", "museum", "league", "festival", "hospital", "railway", "strike", "vaccine", "orchard",
    "glacier", "satellite", "parliament", "court", "verdict", "wildfire", "pipeline", "harvest",
]  # fmt: skip


def marker(number: int) -> str:
    """A word only article `number` contains, for keyword searches that must find exactly it."""
    return f"quillmark{number:02d}"


def write_article(path: Path, number: int, words: int = 600) -> None:
    rng = random.Random(number)
    sentences = []
    while sum(len(s.split()) for s in sentences) < words:
        subject, thing, other = rng.sample(_WORDS, 3)
        sentences.append(f"The {subject} report on the {thing} mentioned the {other} again.")
    sentences.insert(len(sentences) // 2, f"Officials called the plan {marker(number)} on Tuesday.")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"date 2024-02-{number + 1:02d}\ntitle: Story {number} about the {_WORDS[number]}\n\n"
        + " ".join(sentences)
        + "\n",
        encoding="utf-8",
    )


def write_corpus(folder: Path) -> Path:
    """`folder/base` (articles 0-3) and `folder/more` (articles 4-15)."""
    for number in range(BASE_ARTICLES):
        write_article(folder / "base" / f"story_{number:02d}.txt", number)
    for number in range(BASE_ARTICLES, BASE_ARTICLES + MORE_ARTICLES):
        write_article(folder / "more" / f"story_{number:02d}.txt", number)
    return folder


def cli_env(data_dir: Path) -> dict[str, str]:
    unwanted = _settings_env_names()
    env = {name: value for name, value in os.environ.items() if name.upper() not in unwanted}
    env.update(QA_BOT_DATA_DIR=str(data_dir), QA_BOT_LLM="extractive", PYTHONPATH=str(ROOT))
    return env


def qa_bot_command(*args: str, hook: tuple[str, ...] = ()) -> list[str]:
    """`qa-bot ARGS`, or through tests/reliability/hooked_cli.py when `hook` is given."""
    if hook:
        return [sys.executable, "-m", "tests.reliability.hooked_cli", *hook, *args]
    return [sys.executable, "-m", "qa_bot.cli", *args]


def run_qa_bot(data_dir: Path, *args: str, hook: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        qa_bot_command(*args, hook=hook),
        env=cli_env(data_dir),
        cwd=data_dir.parent,  # no .env there
        capture_output=True,
        text=True,
        timeout=_RUN_TIMEOUT_S,
    )


def status_json(data_dir: Path) -> dict:
    result = run_qa_bot(data_dir, "status", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def summary_count(output: str, label: str) -> int:
    """A number from the ingest summary table, e.g. summary_count(output, "unchanged")."""
    match = re.search(rf"\b{label}\b\W+(\d+)", output)
    assert match, f"no {label!r} in the ingest summary:\n{output}"
    return int(match.group(1))


# --- what a finished index looks like -------------------------------------------------------------


def chunk_ids(bot: QABot) -> set[str]:
    return {chunk_id for chunk_id, _text, _meta in bot.index.iter_chunks()}


def uncatalogued_articles(bot: QABot) -> set[str]:
    """Articles that chunks belong to but the catalog lacks (an answer citing one shows nothing)."""
    ids = {meta["article_id"] for _id, _text, meta in bot.index.iter_chunks()}
    return {article_id for article_id in ids if bot.article(article_id) is None}


def keyword_hits(bot: QABot, numbers) -> dict[int, set[str]]:
    """For each article number: the files whose passages a keyword search for its marker returns."""
    return {
        n: {Path(p.path).name for p in bot.retrieve(marker(n))}
        for n in numbers  # the bot's settings use search_mode="keyword"
    }
