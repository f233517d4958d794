"""The one list of migrations (qa_bot/database/migrations.py): each applied once per database and
recorded in order, a database of a qa-bot from before the record upgraded with nothing lost, two
processes opening an old file at once moving it once, and a migration that fails undone whole, with an
error that names it. On SQLite files here; on PostgreSQL at the end, when its server is installed."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import create_engine, inspect, select, text

from qa_bot.database.migrations import (
    ANSWER_LOG,
    CATALOG,
    MIGRATIONS,
    OLD_FEEDBACK,
    Migration,
    MigrationFailed,
    applied,
    migrate,
)
from qa_bot.database.tables import applied_migrations
from qa_bot.index.catalog import Catalog, ChunkRow
from qa_bot.ingest.articles import Article
from qa_bot.team.answer_log import THUMBS_DOWN, AnswerLog
from tests.fixtures.logged_answers import logged
from tests.fixtures.older_qa_bot import (
    OLDEST_LAYOUT,
    old_feedback_row,
    write_old_feedback,
    write_older_catalog,
)
from tests.fixtures.servers import postgres_bin_dir, running_postgres

STORY = Article(
    id="a1", text="Story 1 text.", title="Story 1", date="2024-02-01", source_key="/corpus/a1.txt"
)


def record(engine) -> list[tuple]:
    """The migrations table as it is: (name, applied_at) in the order they were applied."""
    with engine.connect() as db:
        return list(db.execute(select(applied_migrations).order_by(applied_migrations.c.applied_at)))


def tables(path: Path) -> set[str]:
    with closing(sqlite3.connect(path)) as db:
        return {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def in_threads(count: int, work: Callable[[], object]) -> list[BaseException]:
    """Runs `work` in `count` threads released at the same moment; the errors they raised."""
    start, errors = threading.Barrier(count), []

    def run() -> None:
        start.wait()
        try:
            work()
        except BaseException as exc:  # noqa: BLE001 (reported by the test)
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


# --- once each, in order ----------------------------------------------------------------------------


def test_one_database_records_every_migration_once_in_the_lists_order(tmp_path):
    path = tmp_path / "shared.sqlite"  # as QA_BOT_DATABASE_URL=sqlite:///... puts every store in one file
    url = f"sqlite:///{path}"
    engine = create_engine(url)
    Catalog(engine, "news").write_articles([(STORY, "h1", [])])
    AnswerLog(url, legacy_file=path).log(logged("x1"))
    first = record(engine)

    Catalog(engine, "news")
    AnswerLog(url, legacy_file=path)

    assert [name for name, _ in first] == [m.name for m in MIGRATIONS]
    assert record(engine) == first  # opened again: nothing applied, nothing recorded again
    assert migrate(engine, [CATALOG, ANSWER_LOG, OLD_FEEDBACK]) == []
    assert Catalog(engine, "news").states() == {STORY.source_key: ("h1", "h1", None)}
    assert [e.id for e in AnswerLog(url).find()] == ["x1"]


def test_each_sqlite_file_gets_only_its_own_stores_tables_and_migrations(settings_factory, tmp_path):
    settings = settings_factory()
    log = AnswerLog.open(settings)
    catalog = Catalog(create_engine(f"sqlite:///{tmp_path / 'catalog.sqlite'}"), "news")

    assert tables(tmp_path / "catalog.sqlite") == {
        "catalog_articles",
        "catalog_chunks",
        "catalog_versions",
        "qa_bot_migrations",
    }
    assert tables(settings.data_dir / "feedback.sqlite") == {
        "answer_log",
        "answer_log_citations",
        "qa_bot_migrations",
    }
    with catalog.engine.connect() as db:
        assert applied(db) == [
            "catalog_tables",
            "catalog_rows_of_a_one_collection_file",
            "catalog_figures_index",
            "catalog_chunks_and_embedded_versions",
        ]
    with log.engine.connect() as db:
        assert applied(db) == ["answer_log_tables", "answer_log_feedback_of_before_the_log"]


# --- older databases ---------------------------------------------------------------------------------


def test_a_database_of_a_qa_bot_from_before_the_record_keeps_its_rows_and_is_recorded(tmp_path):
    path = tmp_path / "shared.sqlite"
    url = f"sqlite:///{path}"
    engine = create_engine(url)
    Catalog(engine, "news").write_articles([(STORY, "h1", [ChunkRow("c0", 0, 0, 5)])])
    AnswerLog(url).log(logged("x1"))
    with engine.begin() as db:  # as the qa-bot before this list left it: today's tables, no record
        db.execute(text("DROP TABLE qa_bot_migrations"))
        db.execute(text("DROP INDEX catalog_articles_figures"))  # the index came later than the tables

    catalog = Catalog(engine, "news")
    log = AnswerLog(url)

    assert (catalog.version(), catalog.states()) == (1, {STORY.source_key: ("h1", "h1", None)})
    assert [e.id for e in log.find()] == ["x1"] and log.get("x1").citations
    assert "catalog_articles_figures" in {i["name"] for i in inspect(engine).get_indexes("catalog_articles")}
    assert {name for name, _ in record(engine)} == {m.name for m in MIGRATIONS if m.store != OLD_FEEDBACK}


def test_a_store_whose_tables_were_dropped_by_hand_makes_them_again_at_its_next_open(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    Catalog(engine, "news").write_articles([(STORY, "h1", [])])
    with engine.begin() as db:
        db.execute(text("DROP TABLE catalog_articles"))

    catalog = Catalog(engine, "news")

    assert catalog.stats().articles == 0 and catalog.version() == 1  # the versions table was kept
    assert [name for name, _ in record(engine)] == [m.name for m in MIGRATIONS if m.store == CATALOG]


def test_four_openers_of_an_old_catalog_at_once_move_it_once(tmp_path):
    # Threads with connections of their own: SQLite locks them as it locks processes.
    for attempt in range(5):  # they must meet inside a migration: try a few fresh files
        path = tmp_path / f"catalog-{attempt}.sqlite"
        write_older_catalog(path, "previous")
        url = f"sqlite:///{path}"

        errors = in_threads(
            4, lambda url=url: Catalog(create_engine(url, connect_args={"timeout": 30}), "qa_bot")
        )

        assert errors == []
        catalog = Catalog(create_engine(url), "qa_bot")
        assert catalog.version() == 3  # the old file's version, moved once (not reset by a second move)
        assert catalog.stats().articles == 2
        assert [name for name, _ in record(catalog.engine)] == [
            m.name for m in MIGRATIONS if m.store == CATALOG
        ]


# --- a migration that fails ---------------------------------------------------------------------------


def test_an_old_catalog_whose_rows_cannot_move_stays_as_it_was_and_the_error_names_the_migration(tmp_path):
    path = tmp_path / "catalog.sqlite"
    with closing(sqlite3.connect(path)) as db, db:  # an old file with a row lacking its text (edited by hand)
        db.executescript(OLDEST_LAYOUT.replace("text TEXT NOT NULL", "text TEXT"))
        db.execute(
            "INSERT INTO articles VALUES ('/a1.txt', 'a1', NULL, 'A1', NULL, NULL, NULL, NULL, 'h1', 2)"
        )
    url = f"sqlite:///{path}"

    with pytest.raises(
        MigrationFailed, match="migration catalog_rows_of_a_one_collection_file failed"
    ) as failed:
        Catalog(create_engine(url), "qa_bot")

    assert str(path) in str(failed.value)
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("SELECT id FROM articles").fetchall() == [("a1",)]  # the old rows are all there
        assert db.execute("SELECT count(*) FROM catalog_articles").fetchone() == (0,)  # none half moved
    assert "catalog_rows_of_a_one_collection_file" not in [name for name, _ in record(create_engine(url))]
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("UPDATE articles SET text = 'Story 1 text.'")
    assert (
        Catalog(create_engine(url), "qa_bot").get("a1").text == "Story 1 text."
    )  # tried again at the next open


def test_what_a_failing_migration_did_is_rolled_back_with_it(tmp_path):
    assert_a_failing_migration_is_undone(create_engine(f"sqlite:///{tmp_path / 'db.sqlite'}"))


def assert_a_failing_migration_is_undone(engine) -> None:
    def half_done(db, _context) -> None:
        db.execute(text("CREATE TABLE half (n INTEGER)"))
        db.execute(text("INSERT INTO half VALUES (1)"))
        raise ValueError("the second step broke")

    def whole(db, _context) -> None:
        db.execute(text("CREATE TABLE whole (n INTEGER)"))

    steps = [
        Migration("makes_a_table", "test", whole),
        Migration("makes_another_then_fails", "test", half_done),
    ]
    with pytest.raises(MigrationFailed, match=r"makes_another_then_fails failed \(the second step broke\)"):
        migrate(engine, ["test"], migrations=steps)

    assert set(inspect(engine).get_table_names()) == {"whole", "qa_bot_migrations"}  # no trace of `half`
    assert [name for name, _ in record(engine)] == ["makes_a_table"]


# --- on PostgreSQL -------------------------------------------------------------------------------------

needs_postgres = pytest.mark.skipif(postgres_bin_dir() is None, reason="PostgreSQL's initdb/pg_ctl not found")


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    with running_postgres("qa", "pg-migrations-1", "qa_bot") as url:
        yield url


def fresh_database(server_url: str, name: str) -> str:
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as db:
        db.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return server_url.rsplit("/", 1)[0] + f"/{name}"


@pytest.mark.integration  # starts a server: outside the fast subset
@needs_postgres
def test_processes_opening_a_fresh_postgresql_database_at_once_migrate_it_once(postgres):
    url = fresh_database(postgres, "at_once")

    errors = in_threads(4, lambda: (Catalog(create_engine(url), "news"), AnswerLog(url)))

    assert errors == []
    names = [name for name, _ in record(create_engine(url))]
    assert sorted(names) == sorted(m.name for m in MIGRATIONS if m.store != OLD_FEEDBACK)


@pytest.mark.integration
@needs_postgres
def test_each_machines_old_feedback_file_is_copied_into_the_shared_log_once(
    postgres, settings_factory, tmp_path
):
    url = fresh_database(postgres, "two_machines")
    machines = [
        settings_factory(data_dir=tmp_path / name, database_url=SecretStr(url)) for name in ("a", "b")
    ]
    for name, settings in zip("ab", machines, strict=True):
        write_old_feedback(
            settings.data_dir / "feedback.sqlite", [old_feedback_row(f"old-{name}", user=name)]
        )

    for settings in [*machines, *machines]:  # each machine opens the shared log twice
        AnswerLog.open(settings)

    logged_rows = sorted((e.id, e.user, e.rating) for e in AnswerLog(url).find())
    assert logged_rows == [("old-a", "a", THUMBS_DOWN), ("old-b", "b", THUMBS_DOWN)]
    for settings in machines:  # each old file records its copy, and gets no log tables of its own
        local = create_engine(f"sqlite:///{settings.data_dir / 'feedback.sqlite'}")
        assert [name for name, _ in record(local)] == ["answer_log_feedback_of_before_the_log"]
        assert set(inspect(local).get_table_names()) == {"feedback", "qa_bot_migrations"}


@pytest.mark.integration
@needs_postgres
def test_what_a_failing_migration_did_on_postgresql_is_rolled_back_with_it(postgres):
    assert_a_failing_migration_is_undone(create_engine(fresh_database(postgres, "failing")))
