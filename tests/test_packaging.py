"""The wheel carries everything that runs: every module, the chat UI, the prompts and the seed
articles, which the installed code finds inside itself (importlib.resources), not in a checkout.

The wheel is built as CI builds it (`scripts/smoke_wheel.py --wheel-only`: `pip wheel --no-deps`);
here it is unpacked onto PYTHONPATH instead of installed, which CI's scripts/smoke_wheel.py does in
an empty venv before running the CLI and the chat from another folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from qa_bot.answering.prompts import load_prompt
from qa_bot.settings import PROJECT_ROOT

pytestmark = pytest.mark.integration  # starts processes: outside the fast subset

SMOKE_WHEEL = PROJECT_ROOT / "scripts" / "smoke_wheel.py"
# What an installed qa-bot reads, as JSON: where its code, chat page and prompts are, which seed
# articles it would ingest first, and the pointer prompt it would send.
READ_BY_THE_WHEEL = """
import json
from importlib.resources import files

import qa_bot
from qa_bot.answering.prompts import load_prompt
from qa_bot.settings import Settings

settings = Settings()
print(json.dumps({
    "qa_bot": qa_bot.__file__,
    "chat page": str(files("ui") / "app.py"),
    "prompts": str(settings.prompts_dir),
    "seeds": sorted(path.name for path in settings.corpus[0].iterdir()),
    "point prompt": load_prompt("point", settings.prompts_dir).system.template,
}))
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    command = [sys.executable, str(SMOKE_WHEEL), "--wheel-only", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return Path(done.stdout.split()[-1])


@pytest.fixture(scope="module")
def unpacked(wheel, tmp_path_factory) -> Path:
    site = tmp_path_factory.mktemp("site-packages")
    zipfile.ZipFile(wheel).extractall(site)
    return site


def files_under(folder: str, pattern: str) -> set[str]:
    return {
        path.relative_to(PROJECT_ROOT).as_posix()
        for path in (PROJECT_ROOT / folder).rglob(pattern)
        if path.is_file() and "__pycache__" not in path.parts
    }


def read_by_the_wheel(site: Path, folder: Path, **env: str) -> dict:
    """Runs READ_BY_THE_WHEEL with the unpacked wheel first on the path, from a folder of its own."""
    folder.mkdir()
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("QA_BOT_", "OPENAI_"))}
    command = [sys.executable, "-c", READ_BY_THE_WHEEL]
    done = subprocess.run(
        command, env={**clean, **env, "PYTHONPATH": str(site)}, cwd=folder, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def test_the_wheel_holds_every_module_the_chat_page_the_prompts_and_the_seeds(wheel):
    in_wheel = set(zipfile.ZipFile(wheel).namelist())
    modules = files_under("qa_bot", "*.py") | files_under("ui", "*.py")
    data = {f"qa_bot/{name}" for name in files_under("prompts", "*.md") | files_under("seeds", "*")}
    tokenizer = files_under("qa_bot/index/models", "*")

    assert {"ui/app.py", "ui/review_page.py", "qa_bot/prompts/point.md"} <= modules | data
    assert sorted((modules | data | tokenizer) - in_wheel) == []


def test_the_installed_code_reads_the_prompts_and_seeds_the_wheel_carries(unpacked, tmp_path):
    read = read_by_the_wheel(unpacked, tmp_path / "elsewhere")

    for where in ("qa_bot", "chat page", "prompts"):
        assert Path(read[where]).is_relative_to(unpacked), (where, read[where])
    assert Path(read["chat page"]).is_file()
    assert read["seeds"] == sorted(path.name for path in (PROJECT_ROOT / "seeds").iterdir())
    assert read["point prompt"] == load_prompt("point", PROJECT_ROOT / "prompts").system.template


def test_qa_bot_prompts_dir_still_overrides_the_wheels_prompts(unpacked, tmp_path):
    mine = tmp_path / "my-prompts"
    mine.mkdir()
    point = (PROJECT_ROOT / "prompts" / "point.md").read_text(encoding="utf-8")
    (mine / "point.md").write_text(point.replace("## system\n", "## system\nAnswer in French.\n"))

    read = read_by_the_wheel(unpacked, tmp_path / "elsewhere", QA_BOT_PROMPTS_DIR=str(mine))

    assert read["prompts"] == str(mine)
    assert read["point prompt"].startswith("Answer in French.")
