"""A package missing from the user's environment, as a newcomer meets it: the import check names it,
the CLI says what to install (no traceback), and a question on the index that failed to build says
so instead of "The articles don't say".

Each runs qa-bot in a subprocess with a package made uninstalled (tests/first_run/without_package.py),
as in a venv that lacks it. `scripts/smoke_first_run.py` (run by .ci/run in the base install) checks
the other half: that the base install does hold everything.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from qa_bot.index.store import Index
from qa_bot.settings import PROJECT_ROOT, Settings

pytestmark = pytest.mark.integration  # starts processes or servers: outside the fast subset

WITHOUT = Path(__file__).with_name("without_package.py")
CHECK_IMPORTS = PROJECT_ROOT / "scripts" / "check_imports.py"
# A package that only the ingest's lazy imports need (the chunker's text splitter).
WANTING = "langchain_text_splitters"
CALL_QUESTION = "On which day did Jaishankar and Blinken speak on the telephone?"


@pytest.fixture
def env(tmp_path, clean_settings_env) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("QA_BOT_", "OPENAI_"))},
        "QA_BOT_DATA_DIR": str(tmp_path / "data"),
        "QA_BOT_LLM": "extractive",
    }


def qa_bot(env, *args: str, without: str | None = None) -> subprocess.CompletedProcess:
    runner = [sys.executable, str(WITHOUT), without] if without else [sys.executable]
    command = [*runner, "-m", "qa_bot.cli", *args]
    return subprocess.run(command, env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)


def test_the_import_check_passes_in_this_environment():
    done = subprocess.run([sys.executable, str(CHECK_IMPORTS)], capture_output=True, text=True, timeout=300)

    assert done.returncode == 0, done.stderr[-3000:]
    assert "0 failed" in done.stdout


def test_the_import_check_finds_a_package_that_only_a_lazy_import_needs():
    # The text splitter is needed only by the chunker, which qa_bot.index.store imports inside methods.
    command = [sys.executable, str(WITHOUT), "langchain_text_splitters", str(CHECK_IMPORTS)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)

    assert done.returncode == 1
    assert (
        "FAILED import langchain_text_splitters (in qa_bot/index/chunking.py) needs langchain-text-splitters"
        in done.stderr
    )
    assert "pip install 'langchain-text-splitters==" in done.stderr  # the version pyproject.toml pins


def test_ingest_without_a_needed_package_names_it_and_exits_6(env):
    done = qa_bot(env, "ingest", "seeds", without=WANTING)

    assert done.returncode == 6, done.stdout + done.stderr
    assert "The Python package 'langchain-text-splitters' is missing" in done.stderr
    assert "-m pip install 'langchain-text-splitters==" in " ".join(done.stderr.split())
    assert "Traceback" not in done.stderr


def test_a_question_after_an_ingest_stopped_by_a_missing_package_says_to_ingest_and_exits_7(env):
    assert qa_bot(env, "ingest", "seeds", without=WANTING).returncode == 6

    done = qa_bot(env, "ask", "--json", CALL_QUESTION)

    assert done.returncode == 7, done.stdout + done.stderr
    answer = json.loads(done.stdout)
    assert answer["refused"] and answer["index_not_ready"]
    assert "qa-bot ingest" in answer["error"] and "The articles don't say" not in answer["answer"]


def test_an_index_with_no_usable_article_says_the_ingest_did_not_finish_and_exits_7(env):
    # An ingest stopped while it removed articles (--prune) leaves rows that are not indexed.
    assert qa_bot(env, "ingest", "seeds").returncode == 0
    index = Index(Settings(_env_file=None, data_dir=Path(env["QA_BOT_DATA_DIR"])))
    index.catalog.begin_removing(list(index.catalog.states()))

    done = qa_bot(env, "ask", "--json", CALL_QUESTION)

    assert done.returncode == 7, done.stdout + done.stderr
    answer = json.loads(done.stdout)
    assert answer["refused"] and answer["index_not_ready"]
    assert "did not finish" in answer["error"] and "qa-bot ingest" in answer["error"]
    assert "The articles don't say" not in answer["answer"]


def test_once_the_package_is_back_the_same_index_answers(env):
    qa_bot(env, "ingest", "seeds", without=WANTING)

    assert qa_bot(env, "ingest", "seeds").returncode == 0
    done = qa_bot(env, "ask", "--json", CALL_QUESTION)

    assert done.returncode == 0, done.stdout + done.stderr
    answer = json.loads(done.stdout)
    assert not answer["refused"] and "Sunday" in answer["answer"]


def test_a_question_on_an_empty_index_says_to_ingest_first(env):
    done = qa_bot(env, "ask", CALL_QUESTION)

    assert done.returncode == 7, done.stdout + done.stderr
    assert "The index is empty" in done.stdout and "qa-bot ingest" in done.stdout
