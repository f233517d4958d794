"""The `qa-bot` command as a user runs it: ingest, ask (text and --json), status."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qa_bot.cli import app
from qa_bot.settings import get_settings
from tests.fixtures.paths import SEEDS

CALL_QUESTION = "On which day did Jaishankar and Blinken speak on the telephone?"


@pytest.fixture
def run(settings_factory, tmp_path, monkeypatch):
    settings_factory()  # clears the developer's QA_BOT_*/OPENAI_* variables
    monkeypatch.setenv("QA_BOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("QA_BOT_LLM", "extractive")
    monkeypatch.chdir(tmp_path)  # no .env from the developer's checkout
    get_settings.cache_clear()
    runner = CliRunner()

    def invoke(*args: str):
        get_settings.cache_clear()
        return runner.invoke(app, list(args), catch_exceptions=False)

    yield invoke
    get_settings.cache_clear()


def test_ingest_prints_a_summary_and_names_failed_files(run, tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(SEEDS, corpus)
    (corpus / "broken.jsonl").write_text('{"text": "fine article about budgets and taxes"}\n{oops\n')

    result = run("ingest", str(corpus))

    assert result.exit_code == 4, result.output  # some files failed: scripts can notice
    assert "added" in result.output and "3" in result.output  # two seeds + the good jsonl line
    assert "broken.jsonl" in result.output and "line 2" in result.output
    assert "1 failed (listed above); everything else was ingested. Exit code 4." in result.output


def test_ingest_exits_0_when_nothing_failed_even_with_files_skipped(run, tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(SEEDS, corpus)
    (corpus / "photo.png").write_bytes(b"\x89PNG")

    result = run("ingest", str(corpus))

    assert result.exit_code == 0, result.output
    assert "skipped" in result.output and "photo.png: file of unsupported type '.png'" in result.output


def test_ask_json_gives_the_answer_with_citations_to_the_article(run):
    run("ingest", str(SEEDS))

    result = run("ask", CALL_QUESTION, "--json")

    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert {"answer", "refused", "citations", "timings"} <= payload.keys()
    assert "Sunday" in payload["answer"] and payload["refused"] is False
    citation = payload["citations"][0]
    assert {
        "n",
        "article_id",
        "title",
        "date",
        "source",
        "path",
        "url",
        "text",
        "start",
        "end",
    } <= citation.keys()
    assert Path(citation["path"]).name == "000_092cfdeac746b4f0.txt" and citation["date"] == "2023-04-16"
    assert "retrieve" in payload["timings"] and "total" in payload["timings"]


def test_ask_names_a_source_without_a_title_by_its_first_line_and_says_undated(run):
    run("ingest", str(SEEDS))

    result = run("ask", "Which crisis dominated the G20 foreign ministers meeting?")

    assert result.exit_code == 0, result.output
    printed = " ".join(result.output.split())  # the terminal's width wraps long lines
    # The meeting seed has neither a `title:` nor a `date` header.
    assert (
        "External affairs minister S Jaishankar and US secretary of state Antony Blinken on… (undated)"
        in printed
    )


@pytest.mark.parametrize(("max_article_mb", "upload_mb"), [(None, "10"), ("2.5", "25")])
def test_ui_serves_uploads_up_to_the_largest_file_the_loader_reads(
    run, monkeypatch, max_article_mb, upload_mb
):
    if max_article_mb:
        monkeypatch.setenv("QA_BOT_MAX_ARTICLE_MB", max_article_mb)
    started = []
    # `qa-bot ui` becomes Streamlit with os.execv: the command it would run is what is checked.
    monkeypatch.setattr("qa_bot.cli.os.execv", lambda program, command: started.append(command))

    result = run("ui", "--port", "8599")

    assert result.exit_code == 0, result.output
    [command] = started
    assert command[command.index("--server.maxUploadSize") + 1] == upload_mb  # not Streamlit's 200


def test_ask_refuses_a_question_the_articles_cannot_answer(run):
    run("ingest", str(SEEDS))

    payload = json.loads(run("ask", "What is the best recipe for sourdough bread?", "--json").output)

    assert payload["refused"] is True and payload["citations"] == []


def test_answers_asked_in_the_terminal_are_in_the_review_queue_under_the_login_name(run):
    from qa_bot.cli import terminal_user
    from qa_bot.team.answer_log import AnswerLog

    run("ingest", str(SEEDS))
    run("ask", CALL_QUESTION, "--json")
    run("ask", "What is the best recipe for sourdough bread?")

    logged = {entry.question: entry for entry in AnswerLog.open(get_settings()).find()}
    bread, call = logged.pop("What is the best recipe for sourdough bread?"), logged.pop(CALL_QUESTION)
    assert logged == {} and bread.refused and not call.refused and "Sunday" in call.answer
    assert call.citations and call.citations[0].verified
    assert bread.user == call.user == terminal_user() and terminal_user().endswith("(terminal)")
    assert call.settings["asked_from"] == "terminal"


def test_ask_rejects_a_malformed_date(run):
    result = CliRunner().invoke(app, ["ask", "anything", "--since", "last tuesday"])
    assert result.exit_code != 0 and "YYYY-MM-DD" in result.output


def test_status_reports_the_corpus_and_the_models(run):
    run("ingest", str(SEEDS))

    payload = json.loads(run("status", "--json").output)

    assert payload["articles"] == 2 and payload["chunks"] > 2
    assert payload["dates"] == "2023-04-16 .. 2023-04-16"
    assert "MiniLM" in payload["embedding model"] and payload["LLM provider"] == "extractive"


def test_ask_json_the_answer_log_and_an_eval_row_keep_the_same_answer(run):
    from qa_bot.evaluation.datasets import EvalItem
    from qa_bot.evaluation.runner import evaluate_item
    from qa_bot.service import QABot
    from qa_bot.team.answer_log import AnswerLog

    run("ingest", str(SEEDS))
    payload = json.loads(run("ask", CALL_QUESTION, "--json", "--as-of", "2023-04-20").output)
    settings = get_settings()
    (logged,) = AnswerLog.open(settings).find()
    row = evaluate_item(QABot(settings), EvalItem(id="call", question=CALL_QUESTION, date=date(2023, 4, 20)))

    from_log = logged.as_answer().to_dict()
    for key in ("question", "answer", "refused", "error", "standalone_question", "sentences"):
        assert payload[key] == row[key] == from_log[key], key
    assert payload["sentences"] and "reason" in row["sentences"][0]  # the runner once dropped it
    for key in ("short_answer", "quotes", "refusal_reason", "raw_answer", "rejected"):
        assert payload[key] == row[key], key
    kept = (
        "n",
        "article_id",
        "text",
        "start",
        "end",
        "title",
        "date",
        "source",
        "path",
        "url",
        "quote",
        "support",
    )
    assert (
        [{k: c[k] for k in kept} for c in payload["citations"]]
        == [{k: c[k] for k in kept} for c in row["citations"]]
        == [{k: c[k] for k in kept} for c in from_log["citations"]]
        != []
    )


def chat(run, *lines: str, options: tuple[str, ...] = ()):
    """`qa-bot chat OPTIONS`, typing `lines` one by one, then an empty line to end it."""
    get_settings.cache_clear()
    return CliRunner().invoke(app, ["chat", *options], input="\n".join([*lines, ""]), catch_exceptions=False)


def test_chat_searches_a_stand_alone_question_alone_and_a_follow_up_with_its_predecessor(run):
    # Extractive mode has no model to rewrite follow-ups: only a question that leans on the last one
    # ("and ...", a pronoun) may borrow its words; one that stands alone was once glued on too.
    run("ingest", str(SEEDS))
    arrived = "Where did Blinken arrive late on Wednesday night?"

    result = chat(run, CALL_QUESTION, arrived, "And what did he discuss with Jaishankar?")

    assert result.exit_code == 0, result.output
    printed = " ".join(result.output.split())  # the terminal's width wraps long lines
    assert printed.count("Searched for:") == 1
    assert f"Searched for: {arrived} And what did he discuss with Jaishankar?" in printed
    assert "New Delhi" in printed


def test_chat_takes_the_archive_options_of_ask_for_the_whole_conversation(run):
    from qa_bot.team.answer_log import AnswerLog

    run("ingest", str(SEEDS))
    call_article = "000_092cfdeac746b4f0.txt"  # of 16 April 2023; the other seed is undated

    nowhere = chat(run, CALL_QUESTION, options=("--as-of", "2023-04-20", "--source", "nowhere.example"))
    after_the_call = chat(run, CALL_QUESTION, "And what did they discuss?", options=("--since", "2023-04-17"))

    assert nowhere.exit_code == after_the_call.exit_code == 0, nowhere.output + after_the_call.output
    assert call_article not in nowhere.output and "Sunday" not in nowhere.output
    assert call_article not in after_the_call.output and "Sunday" not in after_the_call.output
    logged = sorted(AnswerLog.open(get_settings()).find(), key=lambda entry: entry.asked_on)
    assert logged[0].asked_on == date(2023, 4, 20) and logged[0].refused
    assert logged[0].settings["sources"] == ["nowhere.example"]
    assert [entry.settings["since"] for entry in logged[1:]] == ["2023-04-17", "2023-04-17"]


def test_chat_rejects_a_malformed_date_as_ask_does(run):
    result = chat(run, CALL_QUESTION, options=("--as-of", "20 April"))
    assert result.exit_code == 2 and "YYYY-MM-DD" in result.output
