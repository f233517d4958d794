"""The optional LLM judge, against a real scripted OpenAI-compatible server (fakellm)."""

from __future__ import annotations

import pytest
from langchain_openai import ChatOpenAI

from qa_bot.evaluation.datasets import load_dataset
from qa_bot.evaluation.judge import parse_verdict
from qa_bot.evaluation.runner import run_eval
from tests.fixtures.llm_servers import rule

JUDGE_RULES = [
    rule("answer: the call was on sunday", "FAITHFUL - passage 1 says the call was on Sunday."),
    rule(
        "answer: they discussed interest rates",
        "Verdict: UNFAITHFUL - the passage is about the Federal Reserve, not the call.",
    ),
]


def _judge(base_url: str) -> ChatOpenAI:
    return ChatOpenAI(base_url=base_url, api_key="test-key", model="judge-model", max_retries=0, timeout=10)


def test_verdicts_are_parsed_from_the_first_verdict_word():
    assert parse_verdict("FAITHFUL - all supported").score == 1.0
    assert parse_verdict("The answer is partial: PARTIAL - one claim lacks support").label == "PARTIAL"
    assert parse_verdict("unfaithful. The date is wrong.").score == 0.0
    unparsed = parse_verdict("I cannot tell.")
    assert unparsed.label == "UNPARSED" and unparsed.score is None


def test_judge_grades_each_answer_and_the_report_averages_the_scores(
    dataset_path, scripted_bot, fakellm, tmp_path
):
    report = run_eval(
        scripted_bot,
        load_dataset(dataset_path),
        tmp_path / "out",
        config={"dataset": "x"},
        judge=_judge(fakellm(JUDGE_RULES)),
    )

    rows = {row["id"]: row for row in report.rows}
    assert rows["day"]["judge"]["label"] == "FAITHFUL"
    reason = "the passage is about the Federal Reserve, not the call"
    assert rows["follow"]["judge"] == {"label": "UNFAITHFUL", "score": 0.0, "reason": reason}
    assert "judge" not in rows["none"]  # a refusal has nothing to judge
    assert rows["price"]["judge"]["label"] == "UNPARSED"  # fakellm's echo names no verdict
    assert report.metrics["judge_faithfulness"] == pytest.approx(0.5)
    assert report.counts["judged"] == 2
    assert "judge-model" in report.config["judge"]
    assert "judge: UNFAITHFUL" in (tmp_path / "out" / "report.html").read_text()


def test_an_unreachable_judge_leaves_the_answers_scored(dataset_path, scripted_bot, down_llm_url, tmp_path):
    report = run_eval(
        scripted_bot,
        load_dataset(dataset_path),
        tmp_path / "out",
        config={"dataset": "x"},
        judge=_judge(down_llm_url),
    )

    assert {row["judge"]["label"] for row in report.rows if "judge" in row} == {"ERROR"}
    assert "judge_faithfulness" not in report.metrics
    assert report.metrics["answer_accuracy"] == pytest.approx(3 / 4)
