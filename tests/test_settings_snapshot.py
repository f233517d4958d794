"""The settings an answer was made with, as the answer log and an evaluation's config record them."""

from __future__ import annotations

import json
from datetime import date

from pydantic import SecretStr

from qa_bot.evaluation.runner import eval_config
from qa_bot.settings import settings_snapshot

KEY = "sk-live-secret-1234"
DATABASE_PASSWORD = "dbpass-5678"


def test_no_snapshot_holds_a_key_or_a_password(settings_factory):
    settings = settings_factory(
        llm="openai",
        openai_api_key=SecretStr(KEY),
        openai_base_url="https://user:hunter2pass@llm.internal/v1",
        database_url=SecretStr(f"postgresql+psycopg://qa:{DATABASE_PASSWORD}@db-host/qa_bot"),
        judge_model=f"judge-{KEY}",  # a key pasted into the wrong setting
    )
    snapshots = {
        "answer log": settings_snapshot(settings, k=3, since=date(2023, 1, 1)),
        "evaluation": eval_config(settings, dataset="qa.jsonl")["settings"],
    }

    for name, snapshot in snapshots.items():
        dumped = json.dumps(snapshot)
        assert KEY not in dumped and "hunter2pass" not in dumped and DATABASE_PASSWORD not in dumped, name
        assert snapshot["llm"] == "openai" and snapshot["judge_model"] == "judge-***", name
    assert snapshots["evaluation"]["openai_base_url"] == "https://***@llm.internal/v1"
    assert "llm.internal" not in json.dumps(snapshots["answer log"])  # reviewers read the log


def test_both_snapshots_record_every_setting_and_the_log_the_question_options(settings_factory):
    settings = settings_factory()

    logged = settings_snapshot(settings, k=3, since=date(2023, 1, 1), sources=("cnn.com",))
    evaluated = eval_config(settings, dataset="qa.jsonl")["settings"]

    assert {"top_k", "evidence_tokens", "answer_style", "temperature", "data_dir"} <= logged.keys()
    assert logged.keys() - {"k", "since", "sources"} <= evaluated.keys()
    assert (logged["k"], logged["since"], logged["sources"]) == (3, "2023-01-01", ["cnn.com"])
