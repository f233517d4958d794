"""The LLM stage: which model answers, and what users are told when it fails."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from qa_bot.answering.llm import LLMConfigError, build_chat_model, describe_llm_error, llm_status
from tests.fixtures.llm_messages import SEED_QUESTION, rag_messages

FAKE_KEY = "sk-test-DO-NOT-LEAK-0123456789abcdef"
SEED_ANSWER = "The call took place on Sunday [1]."
# Answers scripted for the failure tests: each phrase appears only in its test's question.
FAILING_RULES = [
    {
        "name": "bad_key",
        "when": {"messages_contain": "trigger-401"},
        "respond": {"status": 401, "error": f"Incorrect API key provided: {FAKE_KEY}"},
    },
    {
        "name": "rate_limited",
        "when": {"messages_contain": "trigger-429"},
        "respond": {"status": 429, "error": "Rate limit reached for requests"},
    },
    {
        "name": "no_model",
        "when": {"messages_contain": "trigger-404"},
        "respond": {"status": 404, "error": "The model does not exist"},
    },
    {
        "name": "server_error",
        "when": {"messages_contain": "trigger-500"},
        "respond": {"status": 500, "error": "boom"},
    },
]


@pytest.fixture
def compatible_settings(settings_factory):
    """Settings for an OpenAI-compatible server, failing fast (no retries, short timeout)."""

    def make(base_url: str, **overrides):
        values = {
            "llm": "openai-compatible",
            "openai_base_url": base_url,
            "model": "test-model",
            "openai_api_key": FAKE_KEY,
            "llm_max_retries": 0,
            "llm_timeout": 5.0,
            **overrides,
        }
        return settings_factory(**values)

    return make


def error_message_from(settings, question: str = SEED_QUESTION) -> str:
    with pytest.raises(Exception) as caught:
        build_chat_model(settings).invoke(rag_messages(question))
    return describe_llm_error(caught.value, settings)


# --- choosing the model ------------------------------------------------------------------------


def test_extractive_answers_without_an_llm(settings_factory):
    assert build_chat_model(settings_factory(llm="extractive")) is None


def test_openai_without_a_key_says_to_set_OPENAI_API_KEY(settings_factory):
    with pytest.raises(LLMConfigError, match="OPENAI_API_KEY"):
        build_chat_model(settings_factory(llm="openai"))


def test_openai_compatible_without_an_address_says_to_set_OPENAI_BASE_URL(settings_factory):
    with pytest.raises(LLMConfigError, match="OPENAI_BASE_URL"):
        build_chat_model(settings_factory(llm="openai-compatible", model="llama3.1:8b"))


def test_openai_compatible_without_a_model_says_to_set_QA_BOT_MODEL(settings_factory):
    with pytest.raises(LLMConfigError, match="QA_BOT_MODEL"):
        build_chat_model(settings_factory(llm="openai-compatible", openai_base_url="http://127.0.0.1:1/v1"))


def test_openai_defaults_to_gpt_4o_mini_and_keeps_the_key_out_of_its_repr(settings_factory):
    chat = build_chat_model(settings_factory(llm="openai", openai_api_key=FAKE_KEY))
    assert chat.model_name == "gpt-4o-mini"
    assert FAKE_KEY not in repr(chat)
    assert FAKE_KEY not in str(chat.__dict__)


def test_the_answer_limits_come_from_settings(compatible_settings, fakellm_url):
    chat = build_chat_model(
        compatible_settings(
            fakellm_url, max_answer_tokens=99, llm_timeout=7.5, llm_max_retries=3, temperature=0.3
        )
    )
    assert (chat.max_tokens, chat.max_retries, chat.temperature) == (99, 3, 0.3)
    # Per attempt; under the service's deadline the HTTP client cuts them to the time left.
    assert (chat.request_timeout.read, chat.request_timeout.connect) == (7.5, 7.5)


def test_openai_compatible_answers_through_a_real_server(compatible_settings, fakellm_url):
    answer = build_chat_model(compatible_settings(fakellm_url)).invoke(rag_messages())
    assert answer.content == SEED_ANSWER


def test_openai_compatible_streams_the_answer_piece_by_piece(compatible_settings, fakellm_url):
    chunks = [
        chunk.content for chunk in build_chat_model(compatible_settings(fakellm_url)).stream(rag_messages())
    ]
    assert len([c for c in chunks if c]) > 1
    assert "".join(chunks) == SEED_ANSWER


def test_a_server_without_a_key_gets_a_placeholder_key(compatible_settings, fakellm_url):
    chat = build_chat_model(compatible_settings(fakellm_url, openai_api_key=None))
    assert chat.invoke(rag_messages()).content == SEED_ANSWER


# --- telling users what went wrong -------------------------------------------------------------


def test_a_server_that_is_down_is_named_with_the_setting_to_check(compatible_settings, down_llm_url):
    message = error_message_from(compatible_settings(down_llm_url))
    assert urlsplit(down_llm_url).netloc in message
    assert "OPENAI_BASE_URL" in message
    assert FAKE_KEY not in message


def test_a_server_that_never_answers_reports_the_timeout_and_its_setting(compatible_settings, slow_llm_url):
    with pytest.raises(Exception) as caught:
        build_chat_model(compatible_settings(slow_llm_url, llm_timeout=0.5)).invoke(rag_messages())
    message = describe_llm_error(caught.value)  # without settings: the timeout is read off the request
    assert "did not answer within 0.5 s" in message
    assert "QA_BOT_LLM_TIMEOUT" in message
    assert FAKE_KEY not in message


@pytest.mark.parametrize(
    ("trigger", "expected"),
    [
        ("trigger-401", "Check OPENAI_API_KEY"),
        ("trigger-429", "rate-limiting"),
        ("trigger-404", "'test-model' was not found"),
        ("trigger-500", "HTTP 500: boom"),
    ],
)
def test_server_errors_become_one_clear_sentence(compatible_settings, fakellm, trigger, expected):
    message = error_message_from(compatible_settings(fakellm(FAILING_RULES)), f"{trigger}: which day?")
    assert expected in message
    assert FAKE_KEY not in message


def test_keys_echoed_by_a_server_are_scrubbed_even_without_settings(compatible_settings, fakellm):
    rules = [
        {
            "name": "echo_key",
            "when": {"messages_contain": "trigger-400"},
            "respond": {"status": 400, "error": f"bad request from key {FAKE_KEY}"},
        }
    ]
    settings = compatible_settings(fakellm(rules))
    with pytest.raises(Exception) as caught:
        build_chat_model(settings).invoke("trigger-400")
    message = describe_llm_error(caught.value)
    assert "HTTP 400" in message
    assert FAKE_KEY not in message and "sk-test" not in message


def test_configuration_errors_pass_through_unchanged(settings_factory):
    with pytest.raises(LLMConfigError) as caught:
        build_chat_model(settings_factory(llm="openai"))
    assert describe_llm_error(caught.value) == str(caught.value)


# --- status for the CLI and the sidebar --------------------------------------------------------


def test_status_of_a_reachable_server_is_ready(compatible_settings, fakellm_url):
    status = llm_status(compatible_settings(fakellm_url))
    assert (status.provider, status.model, status.state) == ("openai-compatible", "test-model", "ready")
    assert status.endpoint == f"http://{urlsplit(fakellm_url).netloc}"


def test_status_of_a_server_that_is_down_says_unreachable_and_where(compatible_settings, down_llm_url):
    status = llm_status(compatible_settings(down_llm_url))
    assert status.state.startswith("unreachable:")
    assert urlsplit(down_llm_url).netloc in status.state
    assert not status.ready


def test_status_names_the_missing_setting(settings_factory):
    assert llm_status(settings_factory(llm="openai")).state == "not configured: set OPENAI_API_KEY"
    assert (
        llm_status(settings_factory(llm="openai-compatible")).state == "not configured: set OPENAI_BASE_URL"
    )
    no_model = settings_factory(llm="openai-compatible", openai_base_url="http://127.0.0.1:1/v1")
    assert llm_status(no_model).state == "not configured: set QA_BOT_MODEL"
    assert llm_status(settings_factory(llm="extractive")).ready


def test_status_never_shows_the_key(settings_factory, down_llm_url):
    status = llm_status(settings_factory(llm="openai", openai_api_key=FAKE_KEY, openai_base_url=down_llm_url))
    assert FAKE_KEY not in repr(status)
