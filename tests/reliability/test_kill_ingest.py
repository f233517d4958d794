"""An ingest killed with kill -9 at any point, then run again, ends exactly like one that never died.

Each test starts from a data dir holding 4 ingested articles, runs a real `qa-bot ingest` subprocess
that adds 12 more and kills itself at a named point of its keyword pass or of its embedding pass
(tests/reliability/hooked_cli.py), then ingests again and compares chunk ids, counts and keyword hits
with a clean ingest of all 16, and counts the vectors the rerun wrote: none of them twice.
"""

from __future__ import annotations

import shutil
import signal
from pathlib import Path

import pytest

from qa_bot.service import QABot
from tests.fixtures.ingest_runs import (
    BASE_ARTICLES,
    MORE_ARTICLES,
    chunk_ids,
    keyword_hits,
    run_qa_bot,
    status_json,
    uncatalogued_articles,
    write_corpus,
)

pytestmark = pytest.mark.integration  # starts processes or servers: outside the fast subset

ALL_ARTICLES = range(BASE_ARTICLES + MORE_ARTICLES)
NEW_ARTICLES = range(BASE_ARTICLES, BASE_ARTICLES + MORE_ARTICLES)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return write_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="module")
def base_data(tmp_path_factory, corpus) -> Path:
    """A data dir into which `corpus/base` was ingested (copy it before changing it)."""
    data = tmp_path_factory.mktemp("base") / "data"
    result = run_qa_bot(data, "ingest", str(corpus / "base"))
    assert result.returncode == 0, result.stderr
    return data


@pytest.fixture(scope="module")
def clean_data(tmp_path_factory, corpus) -> Path:
    """A data dir into which the whole corpus was ingested in one uninterrupted run."""
    data = tmp_path_factory.mktemp("clean") / "data"
    result = run_qa_bot(data, "ingest", str(corpus))
    assert result.returncode == 0, result.stderr
    return data


@pytest.fixture
def data(tmp_path, base_data) -> Path:
    copy = tmp_path / "data"
    shutil.copytree(base_data, copy, symlinks=True)
    return copy


@pytest.fixture
def open_bot(settings_factory):
    """`open_bot(data_dir)`: a QABot in this process (open it only once no subprocess writes there)."""

    def open_at(data_dir: Path) -> QABot:
        return QABot(settings_factory(data_dir=data_dir, llm="extractive", search_mode="keyword"))

    return open_at


def kill_ingest_at(point: str, data: Path, *paths: Path) -> None:
    result = run_qa_bot(data, "ingest", *map(str, paths), hook=("kill", point))
    assert result.returncode == -signal.SIGKILL, f"the ingest was not killed at {point}:\n{result.stderr}"


@pytest.mark.parametrize(
    ("point", "searchable"),
    [
        # The 12 new articles are one catalog transaction: every article is catalogued from here on.
        ("catalog_rows_written", False),
        ("catalog_complete", False),  # only the keyword index was missing
        ("keyword_build_written", False),
        ("first_chunks_stored", True),  # searchable by keyword, some vectors stored but not marked
        ("first_articles_embedded", True),  # some articles marked embedded, the rest not
    ],
)
def test_an_ingest_killed_and_run_again_matches_a_clean_ingest(
    point, searchable, data, corpus, clean_data, open_bot
):
    kill_ingest_at(point, data, corpus)

    bot = open_bot(data)
    assert uncatalogued_articles(bot) == set()  # even mid-way, every stored chunk's article is shown
    killed = bot.index.stats()
    assert not killed.consistency.ok  # status tells that something is left to finish
    assert killed.consistency.not_embedded > 0 and not killed.consistency.embedding_running
    if searchable:  # killed while embedding: the new articles were all searchable by keyword already
        assert killed.consistency.keyword_index_current
        assert all(keyword_hits(bot, [n])[n] == {f"story_{n:02d}.txt"} for n in NEW_ARTICLES)
    vectors_before = bot.index.chunk_count()
    rerun = bot.ingest([corpus])

    clean = open_bot(clean_data)
    # Every article was catalogued before the first kill point: the rerun only finishes the work.
    assert (rerun.added, rerun.unchanged, rerun.failed) == (0, len(ALL_ARTICLES), [])
    assert rerun.embedded == killed.consistency.not_embedded
    assert rerun.chunks_added == clean.index.chunk_count() - vectors_before  # none embedded twice
    stats, clean_stats = bot.index.stats(), clean.index.stats()
    assert stats.consistency.ok, stats.consistency.summary()  # repaired by the ingest, not by a search
    assert (stats.articles, stats.chunks) == (clean_stats.articles, clean_stats.chunks)
    assert clean_stats.articles == len(ALL_ARTICLES)
    assert chunk_ids(bot) == chunk_ids(clean)
    assert keyword_hits(bot, ALL_ARTICLES) == keyword_hits(clean, ALL_ARTICLES)
    assert all(keyword_hits(bot, [n])[n] == {f"story_{n:02d}.txt"} for n in NEW_ARTICLES)


def test_status_between_a_kill_and_the_rerun_counts_the_articles_its_chunks_belong_to(data, corpus):
    kill_ingest_at("first_chunks_stored", data, corpus)

    status = status_json(data)

    # Before the fix: "articles 4, chunks 92" - chunks of 12 articles the catalog did not know.
    assert status["articles"] == BASE_ARTICLES + MORE_ARTICLES
    assert status["consistency"]["articles_not_fully_indexed"] == MORE_ARTICLES
    assert status["consistency"]["ok"] is False
    assert "run the same `qa-bot ingest` again" in " ".join(status["consistency"]["problems"])


def test_a_prune_killed_between_deleting_chunks_and_catalog_rows_finishes_when_run_again(
    corpus, tmp_path, open_bot
):
    articles, data = tmp_path / "articles", tmp_path / "data"
    shutil.copytree(corpus / "base", articles)
    assert run_qa_bot(data, "ingest", str(articles)).returncode == 0
    (articles / "story_00.txt").unlink()

    result = run_qa_bot(data, "ingest", "--prune", str(articles), hook=("kill", "pruned_chunks_deleted"))
    assert result.returncode == -signal.SIGKILL
    assert status_json(data)["consistency"]["ok"] is False

    bot = open_bot(data)
    rerun = bot.ingest([articles], prune=True)

    assert rerun.removed == 1
    stats = bot.index.stats()
    assert stats.consistency.ok and stats.articles == BASE_ARTICLES - 1
    assert keyword_hits(bot, [0, 1]) == {0: set(), 1: {"story_01.txt"}}
