"""`qa-bot eval --index DIR`: an index kept between runs, so trying a prompt change re-embeds nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qa_bot.cli import app
from qa_bot.settings import get_settings

pytestmark = pytest.mark.integration  # starts processes or servers: outside the fast subset

ROOT = Path(__file__).resolve().parents[2]
SEED_SET = ROOT / "evals" / "seed_qa.jsonl"


@pytest.fixture
def eval_cli(settings_factory, monkeypatch, tmp_path):
    """`eval_cli(*args) -> (exit code, output)`: `qa-bot eval` of 3 seed questions, extractive."""
    settings_factory()  # clears the developer's QA_BOT_*/OPENAI_* variables
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("QA_BOT_LLM", "extractive")

    def run(*args: str):
        get_settings.cache_clear()
        result = CliRunner().invoke(
            app, ["eval", str(SEED_SET), "--limit", "3", *args], catch_exceptions=False
        )
        get_settings.cache_clear()
        return result.exit_code, result.output

    return run


def _config(out: Path) -> dict:
    return json.loads((out / "report.json").read_text())["config"]


def test_an_index_folder_is_built_once_and_reused_without_re_embedding(eval_cli, tmp_path):
    index, seeds = tmp_path / "dev-index", str(ROOT / "seeds")

    first_code, first_output = eval_cli(
        "--corpus", seeds, "--index", str(index), "--out", str(tmp_path / "a")
    )
    second_code, _ = eval_cli("--corpus", seeds, "--index", str(index), "--out", str(tmp_path / "b"))

    assert first_code == 0, first_output
    assert second_code == 0
    first, second = _config(tmp_path / "a"), _config(tmp_path / "b")
    assert first["ingest"]["added"] == 2
    assert second["ingest"]["added"] == 0 and second["ingest"]["unchanged"] == 2
    assert second["settings"]["data_dir"] == str(index) and second["index"] == str(index)
    assert not (tmp_path / "a" / "index").exists()  # the run's own OUT/index is not made


def test_an_existing_index_is_evaluated_without_a_corpus(eval_cli, tmp_path):
    index = tmp_path / "dev-index"
    eval_cli("--corpus", str(ROOT / "seeds"), "--index", str(index), "--out", str(tmp_path / "a"))

    code, output = eval_cli("--index", str(index), "--out", str(tmp_path / "b"))

    assert code == 0, output
    config = _config(tmp_path / "b")
    assert config["ingest"] is None and config["corpus"] == []
    assert json.loads((tmp_path / "b" / "report.json").read_text())["metrics"]["hit@1"] is not None


def test_the_index_path_is_part_of_the_runs_identity(eval_cli, tmp_path):
    seeds, out = str(ROOT / "seeds"), str(tmp_path / "out")
    eval_cli("--corpus", seeds, "--index", str(tmp_path / "one"), "--out", out)
    fingerprint = _config(tmp_path / "out")["fingerprint"]

    with pytest.warns(UserWarning, match="another configuration"):  # the first index's rows move aside
        eval_cli("--corpus", seeds, "--index", str(tmp_path / "two"), "--out", out)

    assert _config(tmp_path / "out")["fingerprint"] != fingerprint


def test_an_empty_index_folder_without_a_corpus_is_refused_with_the_fix(eval_cli, tmp_path):
    code, output = eval_cli("--index", str(tmp_path / "nothing-here"), "--out", str(tmp_path / "out"))

    assert code == 2
    assert "holds no index yet: add --corpus" in " ".join(output.split())
