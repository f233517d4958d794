"""One shared store: app processes with data directories of their own, over one `chroma run` server and
one PostgreSQL (QA_BOT_DATABASE_URL), serve the same corpus.

- A chat process opened before an article is ingested through another process answers from that
  article at its next question, without a restart.
- Two ingests started at once from two processes run one after the other (PostgreSQL advisory lock)
  and leave the record manager, the catalog and Chroma agreeing: the same chunk ids, the same chunk
  counts per article; an ingest waits for a lock held from elsewhere, and says so.
- The answer log and its reviews are shared too: what one process logged and a reviewer marked is in
  another process's `review-stats` and `review-export`.
- A database that cannot be used is named without its password.

The cluster is a throwaway one (initdb into a temporary folder, on a free port of 127.0.0.1); CI
installs Debian's postgresql for it (.ci/run). Every qa-bot here is a real subprocess answering
extractively (no LLM), with the packaged embedding model.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from qa_bot.database.lock import DatabaseLock
from qa_bot.database.tables import chunks_table
from qa_bot.index.catalog import Catalog, ChunkRow, articles
from qa_bot.index.lock import WAITING_FOR_INGEST
from qa_bot.ingest.articles import Article
from tests.fixtures.ingest_runs import cli_env, qa_bot_command, summary_count, write_article
from tests.fixtures.paths import SEEDS
from tests.fixtures.servers import free_port, postgres_bin_dir, running_chroma, running_postgres, stop

PASSWORD = "pg-Secret-4711"  # a value only the URL holds: found anywhere in output, it leaked
COLLECTION = "team_news"
NEW_TITLE = "Lighthouse keepers vote to strike over night pay"
NEW_ARTICLE = f"""title: {NEW_TITLE}
date 2023-04-18
source coastnews.example

The lighthouse keepers' union voted on Wednesday to strike from the first of May over night-shift pay.
The union said 212 keepers along the northern coast took part in the ballot.
"""
QUESTION = "When did the lighthouse keepers' union vote to strike?"
_GUARD_S = 300  # how long to wait for a process before failing: a hang guard, not a speed limit

pytestmark = [
    pytest.mark.integration,  # starts servers: outside the fast subset
    pytest.mark.skipif(
        postgres_bin_dir() is None,
        reason="PostgreSQL's initdb/pg_ctl not found: `apt-get install -y postgresql` (.ci/run does)",
    ),
]


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    with running_postgres("qa", PASSWORD, "qa_bot") as url:
        yield url


@pytest.fixture(scope="module")
def chroma_port(tmp_path_factory) -> Iterator[int]:
    with running_chroma(tmp_path_factory.mktemp("chroma-server")) as port:
        yield port


@pytest.fixture(scope="module")
def place(tmp_path_factory) -> Path:
    """Where the app processes' data directories and the corpus folders go."""
    return tmp_path_factory.mktemp("team")


def env_for(data_dir: Path, database_url: str, chroma_port: int, collection: str = COLLECTION) -> dict:
    env = cli_env(data_dir)
    env.update(
        QA_BOT_DATABASE_URL=database_url,
        CHROMA_HOST="127.0.0.1",
        CHROMA_PORT=str(chroma_port),
        QA_BOT_COLLECTION=collection,
        PYTHONUNBUFFERED="1",
        COLUMNS="200",  # rich wraps at 80 columns when not on a terminal: keep titles on one line
    )
    return env


def start_qa_bot(env: dict, *args: str, **popen) -> subprocess.Popen:
    popen.setdefault("stdout", subprocess.PIPE)
    return subprocess.Popen(
        qa_bot_command(*args),
        env=env,
        cwd=Path(env["QA_BOT_DATA_DIR"]).parent,  # no .env there
        stderr=subprocess.STDOUT,
        text=True,
        **popen,
    )


def run_qa_bot(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        qa_bot_command(*args),
        env=env,
        cwd=Path(env["QA_BOT_DATA_DIR"]).parent,
        capture_output=True,
        text=True,
        timeout=_GUARD_S,
    )


@pytest.fixture(scope="module")
def concurrent_ingests(place, database_url, chroma_port) -> list[str]:
    """Two processes, each with its own data directory, ingest the same two folders at the same time
    (in opposite orders); returns their outputs."""
    first, second = place / "corpus" / "first", place / "corpus" / "second"
    shutil.copytree(SEEDS, first)
    for number in range(2):
        write_article(first / f"story_{number:02d}.txt", number)
        write_article(second / f"story_{number + 2:02d}.txt", number + 2)
    ingests = [
        start_qa_bot(env_for(place / name, database_url, chroma_port), "ingest", *map(str, folders))
        for name, folders in (("ingest-a", (first, second)), ("ingest-b", (second, first)))
    ]
    outputs = [process.communicate(timeout=_GUARD_S)[0] for process in ingests]
    assert [process.returncode for process in ingests] == [0, 0], "\n".join(outputs)
    return outputs


def test_two_ingests_at_once_leave_catalog_and_chroma_agreeing(concurrent_ingests, database_url, chroma_port):
    import chromadb

    engine = create_engine(database_url)
    chroma = chromadb.HttpClient(host="127.0.0.1", port=chroma_port).get_collection(COLLECTION)
    stored = chroma.get(include=["metadatas"])
    chunks_in_chroma = Counter(meta["source_key"] for meta in stored["metadatas"])
    with engine.connect() as db:
        records = db.execute(  # the catalog's chunks: (chunk id, its article's source key)
            select(chunks_table.c.chunk_id, chunks_table.c.source_key).where(
                chunks_table.c.collection == COLLECTION
            )
        ).all()
        rows = db.execute(
            select(
                articles.c.source_key, articles.c.chunks, articles.c.content_hash, articles.c.embedded_hash
            ).where(articles.c.collection == COLLECTION)
        ).all()

    assert len(rows) == 6  # 2 seeds + 4 generated articles, each once
    assert {key for key, _group in records} == set(stored["ids"])  # the same chunk ids, none missing
    assert Counter(group for _key, group in records) == chunks_in_chroma
    assert {key: chunks for key, chunks, _c, _i in rows} == dict(chunks_in_chroma)
    assert all(content == embedded for _k, _n, content, embedded in rows)  # every article embedded
    # One after the other: whichever came second found every article already indexed.
    added = [summary_count(output, "added") for output in concurrent_ingests]
    unchanged = [summary_count(output, "unchanged") for output in concurrent_ingests]
    assert sorted(added) == [0, 6] and sorted(unchanged) == [0, 6], concurrent_ingests
    assert sum(summary_count(output, "chunks added") for output in concurrent_ingests) == chroma.count()


class ChatProcess:
    """`qa-bot chat` in a subprocess: questions go to its stdin, its output is collected by a thread."""

    PROMPT = "you> "

    def __init__(self, env: dict) -> None:
        self.process = start_qa_bot(env, "chat", stdin=subprocess.PIPE)
        self._output = ""
        self._lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()
        self._wait_for_prompt(0)

    def ask(self, question: str) -> str:
        """The chat's answer to `question`: what it printed before its next prompt."""
        start = len(self.output)
        self.process.stdin.write(question + "\n")
        self.process.stdin.flush()
        return self._wait_for_prompt(start)

    @property
    def output(self) -> str:
        with self._lock:
            return self._output

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()  # an empty line or end of input ends the chat
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                stop(self.process)

    def _read(self) -> None:
        while chunk := os.read(self.process.stdout.fileno(), 4096):
            with self._lock:
                self._output += chunk.decode("utf-8", errors="replace")

    def _wait_for_prompt(self, start: int) -> str:
        deadline = time.monotonic() + _GUARD_S
        while self.PROMPT not in self.output[start:]:
            if self.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"qa-bot chat ended or hung (exit {self.process.poll()}):\n{self.output}")
            time.sleep(0.05)
        return self.output[start:].split(self.PROMPT)[0]


def test_an_article_ingested_through_one_process_is_answered_by_another_without_restart(
    concurrent_ingests, place, database_url, chroma_port
):
    chat = ChatProcess(env_for(place / "chat-b", database_url, chroma_port))
    try:
        before = chat.ask(QUESTION)
        folder = place / "corpus" / "new"
        folder.mkdir()
        (folder / "lighthouse.txt").write_text(NEW_ARTICLE, encoding="utf-8")
        ingest = run_qa_bot(env_for(place / "ingest-c", database_url, chroma_port), "ingest", str(folder))
        assert ingest.returncode == 0 and summary_count(ingest.stdout, "added") == 1, ingest.stdout
        ingested_at = time.monotonic()

        after = chat.ask(QUESTION)
        # "Within seconds": a Chroma server may take a moment to make new vectors searchable (once, in
        # CI, the first question after the ingest found nothing); ask again while the 30 s allow it.
        while "\nSources\n" not in after and time.monotonic() - ingested_at < 20:
            time.sleep(2)
            after = chat.ask(QUESTION)
        answered_in = time.monotonic() - ingested_at
    finally:
        chat.close()

    assert NEW_TITLE not in before  # the chat was open, and answering, before the article existed
    assert "\nSources\n" in after, f"no sources after the ingest; the chat printed:\n{chat.output}"
    answer, sources = after.split("\nSources\n")
    cited = re.search(r"on Wednesday to strike[^\n]*\[(\d+)\]", answer)
    assert cited, after
    assert f"[{cited.group(1)}] {NEW_TITLE}" in sources, after  # the source it cites is the new article
    assert answered_in < 30  # its next question, seconds later: no restart, no waiting for a timer


def test_an_ingest_waits_for_the_lock_held_from_another_machine_and_says_so(
    concurrent_ingests, place, database_url, chroma_port
):
    lock = DatabaseLock(create_engine(database_url), f"ingest:{COLLECTION}")
    env = env_for(place / "ingest-d", database_url, chroma_port)  # its own data dir: no file lock shared
    with lock.hold():
        ingest = start_qa_bot(env, "ingest", str(place / "corpus" / "second"))
        deadline = time.monotonic() + _GUARD_S
        waited = ""
        while WAITING_FOR_INGEST not in waited:
            line = ingest.stdout.readline()
            assert line or ingest.poll() is None, f"the ingest ended without waiting:\n{waited}"
            assert time.monotonic() < deadline, "gave up waiting for the ingest to wait"
            waited += line
        time.sleep(1)
        assert ingest.poll() is None  # still waiting while the lock is held
    output = waited + ingest.communicate(timeout=_GUARD_S)[0]

    assert ingest.returncode == 0, output
    assert summary_count(output, "unchanged") == 2


def test_status_shows_the_shared_database_without_its_password(
    concurrent_ingests, place, database_url, chroma_port
):
    status = run_qa_bot(env_for(place / "status-e", database_url, chroma_port), "status", "--json")

    assert status.returncode == 0, status.stderr
    shown = json.loads(status.stdout)
    assert shown["database"] == database_url.replace(PASSWORD, "***")
    assert shown["articles"] >= 6  # another process's ingests, from a data dir that never ingested
    assert PASSWORD not in status.stdout + status.stderr


def test_answers_logged_and_reviewed_in_one_process_are_seen_by_another(place, database_url, chroma_port):
    from qa_bot.team.answer_log import CORRECT, SUPPORTS, AnswerLog
    from tests.fixtures.logged_answers import logged

    log = AnswerLog(database_url)
    log.log(logged("team-1", "Which day did they speak?", user="ana"))
    log.review_citation("team-1", 0, SUPPORTS, reviewer="ben")
    log.review_answer("team-1", CORRECT, corrected="Sunday", reviewer="ben")
    env = env_for(place / "reviewer-f", database_url, chroma_port)
    exported = place / "reviewed.jsonl"

    stats = run_qa_bot(env, "review-stats", "--json")
    export = run_qa_bot(env, "review-export", str(exported))

    assert stats.returncode == 0, stats.stderr
    figures = json.loads(stats.stdout)
    assert figures["answers"]["reviewed"] >= 1 and figures["citations"]["precision"] == 1.0
    assert export.returncode == 0, export.stderr
    cases = [json.loads(line) for line in exported.read_text().splitlines()]
    assert {"question": "Which day did they speak?", "answers": ["Sunday"]}.items() <= cases[0].items()


@pytest.mark.parametrize("problem", ["wrong password", "nothing listening"])
def test_a_database_that_cannot_be_used_is_named_without_its_password(problem, place, database_url):
    wrong = "not-" + PASSWORD
    url = (
        database_url.replace(PASSWORD, wrong)
        if problem == "wrong password"
        else f"postgresql+psycopg://qa:{wrong}@127.0.0.1:{free_port()}/qa_bot"
    )
    # The database is opened before Chroma is asked anything: no Chroma server needed to fail.
    result = run_qa_bot(env_for(place / "status-f", url, chroma_port=free_port()), "status")

    output = result.stdout + result.stderr
    assert result.returncode == 5, output
    assert "QA_BOT_DATABASE_URL" in output and "qa:***@127.0.0.1" in output
    assert ("password authentication failed" if problem == "wrong password" else "refused") in output
    assert wrong not in output and "Traceback" not in output


def test_the_catalog_keeps_its_rules_on_postgresql(database_url):
    engine = create_engine(database_url)
    news, other = Catalog(engine, "catalog_rules"), Catalog(engine, "catalog_rules_other")
    story = Article(
        id="s1", text="Text.", title="T", date="2024-02-01", source="paper", path="/s", source_key="/s"
    )

    def chunks(n: int) -> list[ChunkRow]:
        return [ChunkRow(f"c{i}", i, 0, 4) for i in range(n)]

    news.write_articles([(story, "old", chunks(2))])
    news.mark_embedded([("/s", "old")])  # no version bump: the keyword index stays current
    news.write_articles([(story, "new", chunks(3))])  # a changed article's vectors are made again
    other.write_articles([(story, "elsewhere", chunks(1))])

    assert news.states() == {"/s": ("new", "new", None)}
    assert other.states() == {"/s": ("elsewhere", "elsewhere", None)}
    assert (news.version(), other.version()) == (2, 1)
    stats = news.stats()
    assert (stats.articles, stats.not_embedded, stats.chunks, stats.sources) == (1, 1, 3, ["paper"])
    assert news.keyword_rows().ids == ["c0", "c1", "c2"]
    news.delete(["/s"])
    assert news.states() == {} and news.version() == 3 and other.version() == 1
    assert news.chunk_count() == 0 and other.chunk_count() == 1
