"""Article text and model output reach the terminal as text: no window-title change, no colours, no
hidden hyperlink, no 8-bit controls, and rich markup in them shows as the characters it is. The
CLI's own styling still works."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from qa_bot.settings import PROJECT_ROOT
from tests.fixtures.misbehaving_llms import OUTER_GUARD_S

pytestmark = pytest.mark.integration  # starts processes or servers: outside the fast subset

ESC, BEL = "\x1b", "\x07"
TITLE_CHANGE = f"{ESC}]0;pwned-window-title{BEL}"
RED = f"{ESC}[31mRED ALERT{ESC}[0m"
HIDDEN_LINK = f"{ESC}]8;;https://evil.example/steal{ESC}\\official statement{ESC}]8;;{ESC}\\"
EIGHT_BIT_CSI = "\x9b31m"
RICH_MARKUP = "[link=https://evil.example/markup]ministry notice[/link] [bold red]URGENT[/]"
QUESTION = "When did the harbour authority reopen the northern pier?"
HOSTILE_ARTICLE = f"""title: Northern pier reopens {TITLE_CHANGE}after storm repairs
date 2023-04-14
source harbourtimes.example

The harbour authority {TITLE_CHANGE}reopened the northern pier on Thursday {RED} after three weeks of
storm repairs, says the {HIDDEN_LINK} in the {RICH_MARKUP} of the {EIGHT_BIT_CSI}authority.
"""
# The model repeats hostile text too (its answer streams to the terminal as it arrives).
HOSTILE_ANSWER = f"The northern pier reopened on Thursday [1]. {TITLE_CHANGE}{RED} {RICH_MARKUP}"
RULES = [{"name": "pier", "when": {"messages_contain": "reopen the northern pier"},
          "respond": {"content": HOSTILE_ANSWER}}]  # fmt: skip

# What a terminal would act on: OSC (titles, hyperlinks), BEL, 8-bit CSI/OSC, and DEL.
COMMANDS = re.compile("\x1b\\]|\x07|[\x7f-\x9f]")
# The only escape sequences rich writes for the CLI: SGR styling and, for the live answer, cursor moves.
RICH_SEQUENCE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture
def hostile_corpus(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "harbour.txt").write_text(HOSTILE_ARTICLE, encoding="utf-8")
    return folder


def assert_only_text_reached_the_terminal(output: str) -> None:
    assert not COMMANDS.search(output), repr(COMMANDS.search(output))
    assert not RICH_SEQUENCE.sub("", output).count(ESC), "an escape that is not the CLI's own styling"
    assert f"{ESC}[31mRED ALERT" not in output


def test_ask_prints_hostile_article_text_as_plain_text(qa_bot, llm_env, hostile_corpus):
    llm_env("http://127.0.0.1:9/v1", QA_BOT_LLM="extractive")
    assert qa_bot("ingest", str(hostile_corpus)).exit_code == 0

    result = qa_bot("ask", QUESTION, "--as-of", "2023-04-20")

    assert result.exit_code == 0, result.output
    assert ESC not in result.output  # not a terminal: no styling either
    assert_only_text_reached_the_terminal(result.output)
    printed = " ".join(result.output.split())
    assert "reopened the northern pier on Thursday" in printed and "RED ALERT" in printed
    assert RICH_MARKUP in printed  # markup shown as the characters it is


def test_ask_json_is_terminal_safe_and_still_json(qa_bot, llm_env, hostile_corpus):
    llm_env("http://127.0.0.1:9/v1", QA_BOT_LLM="extractive")
    qa_bot("ingest", str(hostile_corpus))

    result = qa_bot("ask", QUESTION, "--as-of", "2023-04-20", "--json")

    assert_only_text_reached_the_terminal(result.output)
    [citation] = json.loads(result.output)["citations"]
    assert "RED ALERT" in citation["text"]


def test_on_a_colour_terminal_only_the_clis_own_styling_is_written(fakellm, qa_bot, llm_env, hostile_corpus):
    llm_env(fakellm(RULES))
    qa_bot("ingest", str(hostile_corpus))
    colour_terminal = {"TTY_COMPATIBLE": "1", "FORCE_COLOR": "1", "TERM": "xterm-256color", "COLUMNS": "100"}
    env = {**os.environ, **colour_terminal, "PYTHONPATH": str(PROJECT_ROOT)}

    # A real process, so rich sees a colour terminal (and streams the answer live on stderr).
    result = subprocess.run(
        [sys.executable, "-m", "qa_bot.cli", "ask", QUESTION, "--as-of", "2023-04-20"],
        capture_output=True, text=True, env=env, cwd=os.getcwd(), timeout=OUTER_GUARD_S,
    )  # fmt: skip

    output = result.stdout + result.stderr
    assert RICH_SEQUENCE.search(result.stdout), "the CLI's own colours are gone"
    assert_only_text_reached_the_terminal(output)
    assert "RED ALERT" in output and "ministry notice" in output  # the words stay, as words
