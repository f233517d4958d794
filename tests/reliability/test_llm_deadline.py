"""An answer has one time limit, QA_BOT_LLM_TIMEOUT, whatever the server does: keeps the stream alive
with comments, stays silent through every retry, or never stops writing. The user is told that
limit, and still gets the passages that were found."""

from __future__ import annotations

import pytest

from qa_bot.service import QABot, Retrieved, Token
from tests.fixtures.misbehaving_llms import AS_OF, QUESTION

pytestmark = pytest.mark.integration  # starts processes or servers: outside the fast subset

DEADLINE_S = "3"
LIMIT_MESSAGE = "did not answer within 3 s, the limit for a whole answer (QA_BOT_LLM_TIMEOUT)"


@pytest.fixture
def ingested(qa_bot, corpus, llm_env):
    """The one-article corpus indexed for an OpenAI-compatible server given later."""

    def ingest(base_url: str, **extra: str) -> None:
        llm_env(base_url, QA_BOT_LLM_TIMEOUT=DEADLINE_S, **extra)
        assert qa_bot("ingest", str(corpus)).exit_code == 0

    return ingest


def assert_gave_up_with_the_limit_and_the_passages(result) -> None:
    assert result.exit_code == 3, result.output
    assert LIMIT_MESSAGE in " ".join(result.output.split())
    assert "Retrieved passages" in result.output
    assert "Northern pier reopens after storm repairs" in result.output
    assert "reopened the northern pier on Thursday" in result.output


def test_a_stream_kept_alive_with_comments_is_cut_at_the_deadline(qa_bot, ingested, keepalive_llm_url):
    ingested(keepalive_llm_url)

    result = qa_bot("ask", QUESTION, "--as-of", AS_OF)

    assert_gave_up_with_the_limit_and_the_passages(result)


def test_a_silent_server_is_given_up_at_the_deadline_with_retries_inside_it(qa_bot, ingested, slow_llm_url):
    # Three attempts, as by default: the deadline is for all of them together.
    ingested(slow_llm_url, QA_BOT_LLM_MAX_RETRIES="2")

    result = qa_bot("ask", QUESTION, "--as-of", AS_OF)

    assert_gave_up_with_the_limit_and_the_passages(result)


def test_an_answer_that_never_ends_stops_at_the_deadline(qa_bot, ingested, endless_llm_url):
    ingested(endless_llm_url)

    result = qa_bot("ask", QUESTION, "--as-of", AS_OF, "--json")

    assert result.exit_code == 3
    assert LIMIT_MESSAGE in result.output
    assert "Northern pier reopens" in result.output  # the passages, in the JSON too


def test_a_retry_after_longer_than_the_time_left_is_not_waited_for(qa_bot, ingested, rate_limited_llm_url):
    ingested(rate_limited_llm_url, QA_BOT_LLM_MAX_RETRIES="2")

    result = qa_bot("ask", QUESTION, "--as-of", AS_OF)

    assert result.exit_code == 3
    assert "is rate-limiting requests (HTTP 429" in " ".join(result.output.split())
    assert "Northern pier reopens" in result.output


def test_the_tokens_that_arrived_before_the_deadline_were_streamed(corpus, settings_factory, endless_llm_url):
    bot = QABot(settings_factory(llm="openai-compatible", openai_base_url=endless_llm_url, model="test",
                                 llm_timeout=2.0, llm_max_retries=0))  # fmt: skip
    bot.ingest([corpus])

    events = list(bot.ask_stream(QUESTION))

    assert isinstance(events[0], Retrieved) and events[0].passages
    assert any(isinstance(event, Token) for event in events)  # the stream ran until the limit
    answer = events[-1].answer
    assert answer.error and "did not answer within 2 s" in answer.error
    assert answer.passages and answer.citations == []


@pytest.mark.slow
def test_the_embedded_local_model_is_held_to_the_same_deadline(corpus, settings_factory, tmp_path_factory):
    from qa_bot.answering import local_llm

    model = tmp_path_factory.mktemp("local-model") / local_llm.MODEL_FILENAME
    local_llm.assemble_gguf(local_llm.packaged_model_parts(), model)
    # On 2 cores the first token takes seconds longer than this (docs/performance.md).
    bot = QABot(settings_factory(llm="local", local_model_path=model, llm_timeout=1.0))
    bot.ingest([corpus])
    try:
        answer = bot.ask(QUESTION)
    finally:
        local_llm.stop_local_model()

    assert answer.error and answer.error.startswith("The embedded local model did not answer within 1 s")
    assert answer.passages
