"""The keyword index follows the corpus: `qa-bot status` says whether it does, a stale one is rebuilt
by the next ingest or search, leftovers and older layouts do not break an ingest, and two ingests
into one index run one after the other."""

from __future__ import annotations

import json
import shutil
import signal
import sqlite3
import subprocess
import time
from contextlib import closing
from pathlib import Path

import pytest

from qa_bot.index.lock import WAITING_FOR_INGEST
from qa_bot.service import QABot
from tests.fixtures.ingest_runs import (
    BASE_ARTICLES,
    MORE_ARTICLES,
    cli_env,
    keyword_hits,
    marker,
    qa_bot_command,
    run_qa_bot,
    status_json,
    summary_count,
    write_corpus,
)

pytestmark = pytest.mark.integration  # starts processes or servers: outside the fast subset

ALL_ARTICLES = BASE_ARTICLES + MORE_ARTICLES
NEW_ARTICLE = BASE_ARTICLES + 1  # one of corpus/more
LEFTOVERS = ("bm25.old", "bm25.tmp", "bm25.build-killed")  # what crashed runs of older and newer code left
_HANG_GUARD_S = 300  # how long to wait for a subprocess to reach a point before failing, not a timing check


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return write_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture
def data(tmp_path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def bot_at(settings_factory):
    """`bot_at(data_dir)`: a QABot in this process (open it only once no subprocess writes there)."""

    def open_at(data_dir: Path) -> QABot:
        return QABot(settings_factory(data_dir=data_dir, llm="extractive", search_mode="keyword"))

    return open_at


def store_dir(data: Path) -> Path:
    return data / "index" / "local" / "qa_bot"


def ingest_base_then_die_before_the_keyword_rebuild(data: Path, corpus: Path) -> None:
    assert run_qa_bot(data, "ingest", str(corpus / "base")).returncode == 0
    killed = run_qa_bot(data, "ingest", str(corpus), hook=("kill", "catalog_complete"))
    assert killed.returncode == -signal.SIGKILL, killed.stderr


# --- status --------------------------------------------------------------------------------------


def test_status_says_the_indexes_agree_after_an_ingest_and_check_counts_chromas_chunks(data, corpus):
    assert run_qa_bot(data, "ingest", str(corpus)).returncode == 0

    text = run_qa_bot(data, "status").stdout
    consistency = status_json(data)["consistency"]

    assert "consistency" in text and "consistent (corpus version" in text
    assert consistency["ok"] is True and consistency["problems"] == []
    assert consistency["keyword_index"]["current"] is True
    assert consistency["keyword_index"]["built_from_version"] == consistency["corpus_version"]
    assert consistency["articles_not_fully_indexed"] == 0

    # `status` reads the catalog only; `status --check` also counts the chunks in Chroma against it.
    checked = json.loads(run_qa_bot(data, "status", "--check", "--json").stdout)
    assert checked["consistency"]["ok"] is True
    assert checked["consistency"]["vectors_in_chroma"] == checked["chunks"] > 0

    removed = delete_some_chunks_behind_qa_bots_back(data, count=3)
    text = run_qa_bot(data, "status", "--check").stdout
    after = json.loads(run_qa_bot(data, "status", "--check", "--json").stdout)

    assert after["consistency"]["ok"] is False
    assert after["consistency"]["vectors_in_chroma"] == checked["chunks"] - removed
    assert "NOT consistent" in text
    expected = f"Chroma holds {checked['chunks'] - removed} chunks where the catalog lists"
    assert expected in " ".join(text.split())


def delete_some_chunks_behind_qa_bots_back(data: Path, count: int) -> int:
    import chromadb

    client = chromadb.PersistentClient(path=str(data / "chroma"))
    collection = client.get_collection("qa_bot")
    ids = collection.get(limit=count)["ids"]
    collection.delete(ids=ids)
    return len(ids)


def test_a_keyword_index_a_kill_left_stale_is_shown_and_rebuilt_by_the_next_ingest(data, corpus, bot_at):
    ingest_base_then_die_before_the_keyword_rebuild(data, corpus)

    stale_text = run_qa_bot(data, "status").stdout
    stale = status_json(data)
    rerun = run_qa_bot(data, "ingest", str(corpus))
    after = status_json(data)

    assert "NOT consistent" in stale_text
    assert "keyword index out of date" in stale_text
    assert "rebuilt on the next question or ingest" in stale_text
    assert stale["articles"] == ALL_ARTICLES  # the catalog rows were all written before the kill
    assert stale["consistency"]["keyword_index"]["current"] is False
    assert rerun.returncode == 0 and summary_count(rerun.stdout, "unchanged") == ALL_ARTICLES
    assert after["consistency"]["ok"] is True and after["chunks"] == stale["chunks"]
    assert keyword_hits(bot_at(data), [NEW_ARTICLE]) == {NEW_ARTICLE: {f"story_{NEW_ARTICLE:02d}.txt"}}


def test_a_stale_keyword_index_is_rebuilt_on_the_first_search(data, corpus, bot_at):
    ingest_base_then_die_before_the_keyword_rebuild(data, corpus)
    bot = bot_at(data)
    assert not bot.index_stats().consistency.keyword_index_current

    hits = keyword_hits(bot, [NEW_ARTICLE])

    assert hits == {NEW_ARTICLE: {f"story_{NEW_ARTICLE:02d}.txt"}}
    consistency = status_json(data)["consistency"]
    assert consistency["keyword_index"]["current"] is True  # rebuilt for every process, not in memory
    assert consistency["articles_not_embedded"] == MORE_ARTICLES  # the next ingest embeds them


# --- leftovers and older layouts -----------------------------------------------------------------


def test_leftover_bm25_old_and_tmp_folders_do_not_break_the_next_ingest(data, corpus, bot_at):
    bot = bot_at(data)
    bot.ingest([corpus / "base"])
    for leftover in LEFTOVERS:
        (store_dir(data) / leftover).mkdir()
        (store_dir(data) / leftover / "rows.json").write_text("{}")

    report = bot.ingest([corpus])

    assert report.added == MORE_ARTICLES and bot.index_stats().consistency.ok
    assert not any((store_dir(data) / name).exists() for name in LEFTOVERS)
    assert keyword_hits(bot, [NEW_ARTICLE]) == {NEW_ARTICLE: {f"story_{NEW_ARTICLE:02d}.txt"}}


def test_an_index_saved_by_an_older_qa_bot_is_upgraded_without_re_embedding(data, corpus, bot_at):
    assert run_qa_bot(data, "ingest", str(corpus / "base")).returncode == 0
    make_it_look_like_an_older_qa_bot_saved_it(store_dir(data))

    before = status_json(data)
    rerun = run_qa_bot(data, "ingest", str(corpus / "base"))

    assert before["consistency"]["ok"] is False
    assert any("older qa-bot" in problem for problem in before["consistency"]["problems"])
    # Old rows were complete rows, but the catalog did not keep their chunks: the rerun writes them
    # (the same chunk ids), and embeds nothing again.
    assert before["consistency"]["articles_not_fully_indexed"] == BASE_ARTICLES
    assert before["searchable_by_meaning"]["embedded"] == BASE_ARTICLES
    assert summary_count(rerun.stdout, "unchanged") == BASE_ARTICLES
    assert summary_count(rerun.stdout, "chunks added") == 0
    assert status_json(data)["consistency"]["ok"] is True
    assert keyword_hits(bot_at(data), [0]) == {0: {"story_00.txt"}}


def make_it_look_like_an_older_qa_bot_saved_it(store: Path) -> None:
    """The layout before corpus versions: a plain bm25 folder without a stamp, and a catalog of one
    `articles` table without the indexed_hash column (and no version, no collection column)."""
    build = (store / "bm25").resolve()
    (store / "bm25").unlink()
    shutil.copytree(build, store / "bm25")
    (store / "bm25" / "built_from.json").unlink()
    shutil.rmtree(build)
    with closing(sqlite3.connect(store / "catalog.sqlite")) as db, db:
        db.execute(
            """CREATE TABLE articles (
                source_key TEXT PRIMARY KEY, id TEXT NOT NULL, path TEXT, title TEXT, date TEXT, source TEXT,
                url TEXT, text TEXT NOT NULL, content_hash TEXT NOT NULL, chunks INTEGER NOT NULL)"""
        )
        db.execute(
            """INSERT INTO articles SELECT source_key, id, path, title, date, source, url, text,
                content_hash, chunks FROM catalog_articles"""
        )
        db.execute("DROP TABLE catalog_articles")
        db.execute("DROP TABLE catalog_versions")
        db.execute("DROP TABLE catalog_chunks")


# --- two ingests at once -------------------------------------------------------------------------


@pytest.fixture
def start_qa_bot(tmp_path):
    """`start_qa_bot(data, log, *args, hook=())`: a running `qa-bot`, its output going to `log`; killed
    at the end of the test if it is still running (a failed test must not leave a paused ingest)."""
    started: list[subprocess.Popen] = []

    def start(data: Path, log: Path, *args: str, hook: tuple[str, ...] = ()) -> subprocess.Popen:
        data.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "w") as output:
            process = subprocess.Popen(
                qa_bot_command(*args, hook=hook),
                env=cli_env(data),
                cwd=data.parent,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_a_second_ingest_waits_for_the_first_and_says_so(data, corpus, bot_at, tmp_path, start_qa_bot):
    handshake = tmp_path / "handshake"
    handshake.mkdir()
    first = start_qa_bot(
        data, tmp_path / "first.log", "ingest", str(corpus / "base"),
        hook=("pause", "catalog_rows_written", str(handshake)),
    )  # fmt: skip
    wait_until(lambda: (handshake / "paused").exists(), first, "the first ingest to hold the lock")
    second = start_qa_bot(data, tmp_path / "second.log", "ingest", str(corpus / "more"))
    second_log = tmp_path / "second.log"
    wait_until(lambda: WAITING_FOR_INGEST in second_log.read_text(), second, "the second ingest to wait")

    (handshake / "resume").touch()
    first_rc, second_rc = first.wait(timeout=_HANG_GUARD_S), second.wait(timeout=_HANG_GUARD_S)

    first_output, second_output = (tmp_path / "first.log").read_text(), second_log.read_text()
    assert (first_rc, second_rc) == (0, 0), first_output + second_output
    assert WAITING_FOR_INGEST not in first_output
    assert summary_count(first_output, "added") == BASE_ARTICLES
    assert summary_count(second_output, "added") == MORE_ARTICLES
    status = status_json(data)
    assert status["articles"] == ALL_ARTICLES and status["consistency"]["ok"] is True
    assert keyword_hits(bot_at(data), [0, NEW_ARTICLE]) == {
        0: {"story_00.txt"},
        NEW_ARTICLE: {f"story_{NEW_ARTICLE:02d}.txt"},
    }


def wait_until(condition, process: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + _HANG_GUARD_S
    while not condition():
        if process.poll() is not None:
            pytest.fail(f"the process ended (exit {process.returncode}) before {what}")
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.1)


def test_an_empty_index_is_consistent(data):
    payload = status_json(data)

    assert payload["articles"] == payload["chunks"] == 0
    assert payload["consistency"]["ok"] is True


def test_questions_asked_while_another_process_ingests_are_answered_from_catalogued_articles(
    data, corpus, tmp_path, start_qa_bot, bot_at
):
    assert run_qa_bot(data, "ingest", str(corpus / "base")).returncode == 0
    ingest = start_qa_bot(data, tmp_path / "ingest.log", "ingest", str(corpus / "more"))

    answers = []
    while ingest.poll() is None or len(answers) < 2:
        asked = run_qa_bot(data, "ask", "--json", f"What did officials call the plan {marker(NEW_ARTICLE)}?")
        assert asked.returncode == 0, asked.stdout + asked.stderr
        answers.append(json.loads(asked.stdout))
    assert ingest.wait(timeout=_HANG_GUARD_S) == 0, (tmp_path / "ingest.log").read_text()

    bot = bot_at(data)
    cited = {c["article_id"] for answer in answers for c in answer["citations"]}
    shown = {p["article_id"] for answer in answers for p in answer["passages"]}
    assert all(bot.article(article_id) is not None for article_id in cited | shown)
    # Once the ingest has finished, the new article is found (the last question came after it).
    assert marker(NEW_ARTICLE) in answers[-1]["answer"] or any(
        marker(NEW_ARTICLE) in p["text"] for p in answers[-1]["passages"]
    )


# --- searchable at once, embedded behind ---------------------------------------------------------


def test_a_question_asked_while_an_ingest_embeds_is_answered_by_keyword_and_says_indexing_goes_on(
    data, corpus, tmp_path, start_qa_bot
):
    assert run_qa_bot(data, "ingest", str(corpus / "base")).returncode == 0
    handshake = tmp_path / "handshake"
    handshake.mkdir()
    ingest = start_qa_bot(
        data, tmp_path / "ingest.log", "ingest", str(corpus),
        hook=("pause", "first_articles_embedded", str(handshake)),
    )  # fmt: skip
    wait_until(lambda: (handshake / "paused").exists(), ingest, "the ingest to embed its first articles")
    # The oldest new article comes last in the embedding (newest first): it has no vector yet.
    oldest_new = BASE_ARTICLES
    question = f"What did officials call the plan {marker(oldest_new)}?"

    asked = run_qa_bot(data, "ask", "--json", question)
    printed = run_qa_bot(data, "ask", question)
    status, status_text = status_json(data), run_qa_bot(data, "status").stdout

    assert asked.returncode == 0, asked.stdout + asked.stderr
    answer = json.loads(asked.stdout)
    # Found by its words, before it has a vector: its passage is among those the answer was read from.
    assert f"story_{oldest_new:02d}.txt" in {Path(p["path"]).name for p in answer["passages"]}
    assert "The archive is still being indexed" in answer["indexing_notice"]
    assert "articles searchable by meaning" in answer["indexing_notice"]
    assert "The archive is still being indexed" in printed.stdout + printed.stderr
    meaning = status["searchable_by_meaning"]
    assert meaning["running"] is True and 0 < meaning["embedded"] < meaning["articles"] == ALL_ARTICLES
    assert status["consistency"]["keyword_index"]["current"] is True
    assert f"of {ALL_ARTICLES} articles searchable by meaning (embedding" in status_text
    assert "embedding under way" in status_text

    (handshake / "resume").touch()
    assert ingest.wait(timeout=_HANG_GUARD_S) == 0, (tmp_path / "ingest.log").read_text()
    done = status_json(data)
    assert done["searchable_by_meaning"]["embedded"] == ALL_ARTICLES and done["consistency"]["ok"]
    after = json.loads(run_qa_bot(data, "ask", "--json", question).stdout)
    assert after["indexing_notice"] is None


def test_ingest_no_wait_returns_searchable_by_keyword_and_embeds_in_the_background(data, corpus, bot_at):
    result = run_qa_bot(data, "ingest", "--no-wait", str(corpus))

    assert result.returncode == 0, result.stderr
    assert summary_count(result.stdout, "not yet embedded") == ALL_ARTICLES
    assert "being embedded in the background" in result.stdout
    deadline = time.monotonic() + _HANG_GUARD_S  # a hang guard: the background embed must end
    while status_json(data)["searchable_by_meaning"]["embedded"] < ALL_ARTICLES:
        assert time.monotonic() < deadline, (data / "embed.log").read_text()
        time.sleep(0.5)
    while not status_json(data)["consistency"]["ok"]:  # its lock is released as it ends
        assert time.monotonic() < deadline, (data / "embed.log").read_text()
        time.sleep(0.5)
    assert "Embedded 16 article(s)" in (data / "embed.log").read_text()
    assert keyword_hits(bot_at(data), [0, NEW_ARTICLE]) == {
        0: {"story_00.txt"},
        NEW_ARTICLE: {f"story_{NEW_ARTICLE:02d}.txt"},
    }
