"""The LLM stage: which model answers, what users are told when it fails, and the embedded model."""

from __future__ import annotations

import hashlib
import sys
from urllib.parse import urlsplit

import httpx
import pytest
from langchain_core.messages import HumanMessage, SystemMessage

from qa_bot import llm
from qa_bot.llm import (
    LLMConfigError,
    LocalModelError,
    assemble_gguf,
    build_chat_model,
    describe_llm_error,
    ensure_local_model,
    llm_status,
    local_model_state,
    packaged_model_parts,
    start_local_model_async,
    stop_local_model,
)

FAKE_KEY = "sk-test-DO-NOT-LEAK-0123456789abcdef"
SEED_QUESTION = "On which day did the call between Jaishankar and Blinken take place?"
SEED_ANSWER = "The call took place on Sunday [1]."
PASSAGES = (
    "[1] External Affairs Minister S Jaishankar had a conversation with the US Secretary of State "
    "Antony Blinken on the telephone, on Sunday. Both diplomats discussed regional and global issues.\n"
    "[2] Earlier in March, Jaishankar hosted Blinken in New Delhi on the sidelines of the G20 "
    "Foreign Ministers' Meeting."
)
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


def rag_messages(question: str = SEED_QUESTION) -> list:
    return [
        # "in one sentence" matters: without it the 1.5B local model answers with a bare "[1]".
        SystemMessage(
            "Answer the question in one sentence, using only the numbered passages. End the "
            "sentence with the passage number in square brackets, e.g. [2]."
        ),
        HumanMessage(f"Passages:\n{PASSAGES}\n\nQuestion: {question}"),
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
    assert (chat.max_tokens, chat.request_timeout, chat.max_retries, chat.temperature) == (99, 7.5, 3, 0.3)


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


# --- the packaged model file -------------------------------------------------------------------


def write_parts(folder, contents: list[bytes]):
    folder.mkdir(parents=True, exist_ok=True)
    parts = []
    for number, content in enumerate(contents, start=1):
        part = folder / f"part{number:02d}.bin"
        part.write_bytes(content)
        parts.append(part)
    return parts


PART_BYTES = [b"GGUF-first-piece|", b"second-piece|", b"third"]
JOINED = b"".join(PART_BYTES)
JOINED_SHA = hashlib.sha256(JOINED).hexdigest()


def test_parts_are_joined_in_order_and_verified(tmp_path):
    target = tmp_path / "models" / "model.gguf"
    assemble_gguf(
        write_parts(tmp_path / "parts", PART_BYTES),
        target,
        expected_sha256=JOINED_SHA,
        expected_size=len(JOINED),
    )
    assert target.read_bytes() == JOINED
    assert sorted(p.name for p in target.parent.iterdir()) == ["model.gguf", "model.gguf.sha256-ok"]


def test_a_verified_model_is_reused_without_its_parts(tmp_path):
    parts = write_parts(tmp_path / "parts", PART_BYTES)
    target = tmp_path / "model.gguf"
    assemble_gguf(parts, target, expected_sha256=JOINED_SHA, expected_size=len(JOINED))
    for part in parts:
        part.unlink()
    assert assemble_gguf(parts, target, expected_sha256=JOINED_SHA, expected_size=len(JOINED)) == target


def test_a_verified_model_is_not_hashed_again_on_the_next_start(tmp_path, monkeypatch):
    parts = write_parts(tmp_path / "parts", PART_BYTES)
    target = tmp_path / "model.gguf"
    assemble_gguf(parts, target, expected_sha256=JOINED_SHA, expected_size=len(JOINED))
    hashed = []
    monkeypatch.setattr(llm, "_sha256_of", lambda path: hashed.append(path) or JOINED_SHA)
    assemble_gguf(parts, target, expected_sha256=JOINED_SHA, expected_size=len(JOINED))
    assert hashed == []


def test_a_model_changed_after_verification_is_rebuilt(tmp_path):
    parts = write_parts(tmp_path / "parts", PART_BYTES)
    target = tmp_path / "model.gguf"
    assemble_gguf(parts, target, expected_sha256=JOINED_SHA, expected_size=len(JOINED))
    target.write_bytes(b"X" * len(JOINED))
    assemble_gguf(parts, target, expected_sha256=JOINED_SHA, expected_size=len(JOINED))
    assert target.read_bytes() == JOINED


def test_a_corrupt_part_is_refused_and_leaves_no_file(tmp_path):
    corrupt = [PART_BYTES[0], b"SECOND-PIECE|", PART_BYTES[2]]  # same size, different bytes
    target = tmp_path / "models" / "model.gguf"
    with pytest.raises(LocalModelError, match="corrupt.*pip install --force-reinstall"):
        assemble_gguf(
            write_parts(tmp_path / "parts", corrupt),
            target,
            expected_sha256=JOINED_SHA,
            expected_size=len(JOINED),
        )
    assert list(target.parent.iterdir()) == []


def test_a_truncated_part_is_refused_before_writing_anything(tmp_path):
    target = tmp_path / "models" / "model.gguf"
    with pytest.raises(LocalModelError, match="add up to"):
        assemble_gguf(
            write_parts(tmp_path / "parts", PART_BYTES[:2]),
            target,
            expected_sha256=JOINED_SHA,
            expected_size=len(JOINED),
        )
    assert not target.parent.exists()


def test_a_missing_part_is_named(tmp_path):
    parts = write_parts(tmp_path / "parts", PART_BYTES)
    parts[1].unlink()
    with pytest.raises(LocalModelError, match="part02.bin"):
        assemble_gguf(parts, tmp_path / "model.gguf", expected_sha256=JOINED_SHA, expected_size=len(JOINED))


def test_a_custom_model_path_must_exist(settings_factory, tmp_path):
    settings = settings_factory(local_model_path=tmp_path / "nowhere.gguf")
    with pytest.raises(LocalModelError, match="QA_BOT_LOCAL_MODEL_PATH.*nowhere.gguf"):
        ensure_local_model(settings)
    assert local_model_state().startswith("failed: QA_BOT_LOCAL_MODEL_PATH")


def test_a_custom_model_path_must_be_a_gguf_file(settings_factory, tmp_path):
    not_a_model = tmp_path / "notes.txt"
    not_a_model.write_text("hello")
    with pytest.raises(LocalModelError, match="not a GGUF"):
        ensure_local_model(settings_factory(local_model_path=not_a_model))


def test_without_llama_cpp_the_error_says_which_extra_to_install(settings_factory, tmp_path, monkeypatch):
    model = tmp_path / "tiny.gguf"
    model.write_bytes(b"GGUF" + b"\0" * 64)
    monkeypatch.setitem(sys.modules, "xllamacpp", None)  # makes `import xllamacpp` fail
    with pytest.raises(LocalModelError, match=r"pip install -e '\.\[local\]'"):
        build_chat_model(settings_factory(local_model_path=model))


def test_a_damaged_gguf_fails_with_a_clear_message(settings_factory, tmp_path):
    model = tmp_path / "damaged.gguf"
    model.write_bytes(b"GGUF\x03\x00\x00\x00" + b"not really a model" * 8)
    with pytest.raises(LocalModelError, match="llama.cpp could not load .*damaged.gguf"):
        ensure_local_model(settings_factory(local_model_path=model))
    assert local_model_state().startswith("failed: llama.cpp could not load")


# --- the real embedded model (slow) ------------------------------------------------------------


@pytest.fixture(scope="module")
def packaged_data_dir(tmp_path_factory):
    """A data dir holding the packaged GGUF, joined from the installed parts once per session."""
    data_dir = tmp_path_factory.mktemp("llm-data")
    target = data_dir / "models" / llm.MODEL_FILENAME
    assemble_gguf(packaged_model_parts(), target)
    yield data_dir
    stop_local_model()


@pytest.mark.slow
def test_the_installed_parts_join_into_the_published_model(packaged_data_dir):
    target = packaged_data_dir / "models" / llm.MODEL_FILENAME
    assert target.stat().st_size == llm.MODEL_SIZE
    digest = hashlib.sha256()
    with open(target, "rb") as model:
        while chunk := model.read(8 << 20):
            digest.update(chunk)
    assert digest.hexdigest() == llm.MODEL_SHA256


@pytest.mark.slow
def test_the_embedded_model_answers_privately_on_localhost(settings_factory, packaged_data_dir):
    settings = settings_factory(data_dir=packaged_data_dir, max_answer_tokens=32)
    start_local_model_async(settings)
    assert local_model_state() == "loading"
    base_url, api_key = ensure_local_model(settings)  # waits for the background load; no second server
    assert local_model_state() == "ready"
    assert ensure_local_model(settings) == (base_url, api_key)

    answer = build_chat_model(settings).invoke(rag_messages())
    assert "sunday" in answer.content.lower()

    assert urlsplit(base_url).hostname == "127.0.0.1"
    assert api_key.get_secret_value() not in repr(llm._LOCAL_SERVER) + repr(api_key)
    request = {"model": "local", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1}
    assert httpx.post(f"{base_url}/chat/completions", json=request, timeout=30).status_code == 401
    wrong_key = {"Authorization": "Bearer not-the-key"}
    assert (
        httpx.post(f"{base_url}/chat/completions", json=request, headers=wrong_key, timeout=30).status_code
        == 401
    )
    assert llm_status(settings).ready
