"""Embedding through a server (QA_BOT_EMBEDDING=openai-compatible), against a real local one.

The server is tests/fixtures/embedding_server.py: a process of its own serving OpenAI's
`/v1/embeddings` over the packaged MiniLM, which can be told to fail after some requests.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from qa_bot.index.embeddings import EmbeddingConfigError, build_embeddings
from qa_bot.index.store import EmbeddingModelMismatch
from qa_bot.service import QABot
from tests.fixtures.embedding_server import MODEL, embedding_server
from tests.fixtures.ingest_runs import _WORDS, BASE_ARTICLES, MORE_ARTICLES, marker, run_qa_bot, write_corpus
from tests.fixtures.servers import free_port

pytestmark = pytest.mark.integration  # starts processes or servers: outside the fast subset

ALL_ARTICLES = BASE_ARTICLES + MORE_ARTICLES
KEY = "sk-embed-server-key-0042"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return write_corpus(tmp_path_factory.mktemp("corpus"))


def server_settings(settings_factory, base_url: str, **overrides):
    values = {
        "embedding": "openai-compatible",
        "embedding_base_url": base_url,
        "embedding_model": MODEL,
        "embedding_api_key": KEY,
        "embedding_batch_size": 4,
        "embedding_concurrency": 4,
        "llm": "extractive",
        "llm_max_retries": 0,
        **overrides,
    }
    return settings_factory(**values)


def vector_ids(bot: QABot) -> list[str]:
    return bot.index.collection.get(include=[])["ids"]


def catalog_chunk_ids(bot: QABot) -> set[str]:
    return {chunk_id for chunk_id, _text, _meta in bot.index.iter_chunks()}


def test_an_archive_embedded_by_a_server_is_searchable_by_meaning(tmp_path, settings_factory, corpus):
    with embedding_server(tmp_path) as server:
        bot = QABot(server_settings(settings_factory, server.base_url, search_mode="dense"))
        report = bot.ingest([corpus])
        stats = server.stats()
        found = bot.retrieve(f"Story 7 about the {_WORDS[7]}")

    assert report.embedding_error is None
    assert report.embedded == ALL_ARTICLES and report.not_embedded == 0
    assert sorted(vector_ids(bot)) == sorted(catalog_chunk_ids(bot))
    # Each chunk was sent once, in requests of 4 with several in flight at once.
    assert stats["texts"] == len(catalog_chunk_ids(bot))
    assert stats["most_in_flight"] >= 2
    assert Path(found[0].path).name == "story_07.txt"
    assert bot.status().index.embedding == f"openai-compatible:{MODEL}"


def test_a_server_that_fails_mid_ingest_leaves_keyword_search_and_embed_resumes(
    tmp_path, settings_factory, corpus
):
    data = tmp_path / "data"
    env = {
        "QA_BOT_EMBEDDING": "openai-compatible",
        "QA_BOT_EMBEDDING_MODEL": MODEL,
        "QA_BOT_EMBEDDING_API_KEY": KEY,
        "QA_BOT_EMBEDDING_BATCH_SIZE": "4",
        "QA_BOT_EMBEDDING_CONCURRENCY": "1",
        "QA_BOT_LLM_MAX_RETRIES": "0",
    }
    with embedding_server(tmp_path, fail_after=5) as failing:
        failed = run_qa_bot(
            data, "ingest", str(corpus), env={**env, "QA_BOT_EMBEDDING_BASE_URL": failing.base_url}
        )
        sent_before = failing.stats()["texts"]

    assert failed.returncode == 8, failed.stdout + failed.stderr
    assert "Embedding stopped: the embedding server at http://127.0.0.1" in failed.stderr
    assert "qa-bot embed" in failed.stderr
    assert KEY not in failed.stdout + failed.stderr

    # With the server down, a question is answered from keyword search, and says so.
    down = QABot(server_settings(settings_factory, f"http://127.0.0.1:{free_port()}/v1", data_dir=data))
    answer = down.ask(f"What was the plan called {marker(15)}?")
    assert Path(answer.passages[0].path).name == "story_15.txt"
    assert "Search by meaning is unavailable right now (the embedding server at" in answer.indexing_notice

    with embedding_server(tmp_path) as healthy:
        settings = server_settings(settings_factory, healthy.base_url, data_dir=data, search_mode="keyword")
        bot = QABot(settings)
        stats = bot.status().index
        # Searchable by keyword meanwhile: every article, embedded or not.
        assert stats.embedded < ALL_ARTICLES and stats.consistency.not_embedded > 0
        assert [Path(p.path).name for p in bot.retrieve(marker(15))][:1] == ["story_15.txt"]
        assert "still being indexed" in bot.ask(f"What was the plan called {marker(15)}?").indexing_notice

        # (Questions are embedded too, and so are the keyword hits without a vector, for that question.)
        asked = healthy.stats()["texts"]
        resumed = bot.embed()
        sent_after = healthy.stats()["texts"] - asked

    assert resumed.embedding_error is None and resumed.not_embedded == 0
    ids = vector_ids(bot)
    assert len(ids) == len(set(ids)) and set(ids) == catalog_chunk_ids(bot)
    # Nothing embedded twice: the resumed pass sent only what the failed one had not written.
    assert sent_before + sent_after == len(ids)
    assert bot.status().index.embedded == ALL_ARTICLES


def test_asking_with_another_model_than_made_the_vectors_is_refused_naming_both(
    tmp_path, settings_factory, corpus
):
    data = tmp_path / "data"
    QABot(settings_factory(data_dir=data, llm="extractive")).ingest([corpus / "base"])

    with pytest.raises(EmbeddingModelMismatch) as refused:
        QABot(server_settings(settings_factory, "http://127.0.0.1:9/v1", data_dir=data))
    message = str(refused.value)
    assert "all-MiniLM-L6-v2 (int8 ONNX, packaged)" in message and f"openai-compatible:{MODEL}" in message
    assert "QA_BOT_COLLECTION" in message

    asked = run_qa_bot(
        data,
        "ask",
        "What was the plan called?",
        env={
            "QA_BOT_EMBEDDING": "openai-compatible",
            "QA_BOT_EMBEDDING_MODEL": "nomic-embed-text",
            "QA_BOT_EMBEDDING_BASE_URL": "http://127.0.0.1:9/v1",
        },
    )
    assert asked.returncode == 8
    assert "openai-compatible:nomic-embed-text" in asked.stderr and "Traceback" not in asked.stderr
    # The index was not touched: the packaged model still answers from it.
    assert QABot(settings_factory(data_dir=data, llm="extractive")).retrieve(marker(2))


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"embedding_model": MODEL}, "QA_BOT_EMBEDDING_BASE_URL"),
        ({"embedding_base_url": "http://gpu-box:8080/v1"}, "QA_BOT_EMBEDDING_MODEL"),
    ],
)
def test_a_server_route_missing_a_setting_says_which(settings_factory, overrides, named):
    with pytest.raises(EmbeddingConfigError, match=named):
        build_embeddings(settings_factory(embedding="openai-compatible", **overrides))
