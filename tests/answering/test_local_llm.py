"""The embedded local model: joining the packaged GGUF, custom model files, and the llama.cpp server."""

from __future__ import annotations

import hashlib
import sys
from urllib.parse import urlsplit

import httpx
import pytest

from qa_bot.answering import local_llm
from qa_bot.answering.llm import build_chat_model, llm_status
from qa_bot.answering.local_llm import (
    LocalModelError,
    assemble_gguf,
    ensure_local_model,
    local_model_state,
    packaged_model_parts,
    start_local_model_async,
    stop_local_model,
)
from tests.fixtures.llm_messages import rag_messages

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
    monkeypatch.setattr(local_llm, "_sha256_of", lambda path: hashed.append(path) or JOINED_SHA)
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
    target = data_dir / "models" / local_llm.MODEL_FILENAME
    assemble_gguf(packaged_model_parts(), target)
    yield data_dir
    stop_local_model()


@pytest.mark.slow
def test_the_installed_parts_join_into_the_published_model(packaged_data_dir):
    target = packaged_data_dir / "models" / local_llm.MODEL_FILENAME
    assert target.stat().st_size == local_llm.MODEL_SIZE
    digest = hashlib.sha256()
    with open(target, "rb") as model:
        while chunk := model.read(8 << 20):
            digest.update(chunk)
    assert digest.hexdigest() == local_llm.MODEL_SHA256


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
    assert api_key.get_secret_value() not in repr(local_llm._LOCAL_SERVER) + repr(api_key)
    request = {"model": "local", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1}
    assert httpx.post(f"{base_url}/chat/completions", json=request, timeout=30).status_code == 401
    wrong_key = {"Authorization": "Bearer not-the-key"}
    assert (
        httpx.post(f"{base_url}/chat/completions", json=request, headers=wrong_key, timeout=30).status_code
        == 401
    )
    assert llm_status(settings).ready
