"""The article catalog on SQLite: each write moves the corpus version once, collections sharing one
database stay apart, and a catalog.sqlite written by an older qa-bot is moved to the new tables on open.
(The same catalog on PostgreSQL: tests/integration/test_shared_store.py.)"""

from __future__ import annotations

import sqlite3
from contextlib import closing

import pytest
from sqlalchemy import create_engine, inspect

from qa_bot.database.migrations import CATALOG, MIGRATIONS, applied
from qa_bot.index.catalog import Catalog
from qa_bot.ingest.articles import Article
from tests.fixtures.older_qa_bot import write_older_catalog


def article(n: int, text: str = "") -> Article:
    return Article(
        id=f"a{n}",
        text=text or f"Story {n} text.",
        title=f"Story {n}",
        date=f"2024-02-0{n}",
        source=f"paper{n}.example",
        path=f"/corpus/story_{n}.txt",
        source_key=f"/corpus/story_{n}.txt",
    )


@pytest.fixture
def database(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'catalog.sqlite'}"


@pytest.fixture
def catalog(database) -> Catalog:
    return Catalog(create_engine(database), "news")


def test_each_write_moves_the_version_once_and_stats_follow(catalog):
    assert catalog.version() == 0 and catalog.stats().articles == 0

    catalog.begin_indexing([(article(1), "h1", 3), (article(2), "h2", 4)])
    assert catalog.version() == 1
    assert catalog.stats().not_indexed == 2  # written before their chunks: unfinished

    catalog.finish_indexing(article(1).source_key, "h1")
    stats = catalog.stats()
    assert (stats.version, stats.articles, stats.not_indexed) == (2, 2, 1)
    assert (stats.first_date, stats.last_date) == ("2024-02-01", "2024-02-02")
    assert stats.sources == ["paper1.example", "paper2.example"]

    catalog.begin_removing([article(2).source_key])
    catalog.delete([article(2).source_key])
    assert catalog.version() == 4
    assert set(catalog.states()) == {article(1).source_key}
    assert catalog.get("a1").text == "Story 1 text." and catalog.get("a2") is None


def test_a_changed_article_keeps_its_indexed_version_until_its_chunks_are_stored(catalog):
    key = article(1).source_key
    catalog.begin_indexing([(article(1), "old", 3)])
    catalog.finish_indexing(key, "old")
    assert catalog.states()[key].is_indexed("old")

    catalog.begin_indexing([(article(1, "Story 1, corrected."), "new", 4)])

    state = catalog.states()[key]
    assert (state.content_hash, state.indexed_hash) == ("new", "old")
    assert catalog.get("a1").text == "Story 1, corrected."
    catalog.finish_indexing(key, "new")
    assert catalog.states()[key].is_indexed("new")


def test_collections_in_one_database_have_their_own_articles_and_versions(database):
    engine = create_engine(database)
    news, archive = Catalog(engine, "news"), Catalog(engine, "archive")

    news.begin_indexing([(article(1), "h1", 3)])
    archive.begin_indexing([(article(1), "other", 5), (article(2), "h2", 2)])
    archive.delete([article(2).source_key])

    assert news.states() == {article(1).source_key: ("h1", None)}
    assert archive.states() == {article(1).source_key: ("other", None)}
    assert (news.version(), archive.version()) == (1, 2)
    assert Catalog(engine, "news").version() == 1  # opening again keeps it


@pytest.mark.parametrize("layout", ["previous", "oldest"])
def test_a_catalog_file_of_an_older_qa_bot_is_moved_to_the_new_tables_on_open(tmp_path, layout):
    path = tmp_path / "catalog.sqlite"
    write_older_catalog(path, layout)

    catalog = Catalog(create_engine(f"sqlite:///{path}"), "qa_bot")

    states = catalog.states()
    if layout == "previous":
        assert catalog.version() == 3  # kept: a keyword index stamped with it stays current
        assert states == {"/corpus/story_1.txt": ("h1", "h1"), "/corpus/story_2.txt": ("h2", None)}
        assert catalog.stats().not_indexed == 1
    else:
        assert catalog.version() == 0
        assert states == {"/corpus/story_1.txt": ("h1", "h1"), "/corpus/story_2.txt": ("h2", "h2")}
    assert catalog.get("a2").title == "Story 2"
    with closing(sqlite3.connect(path)) as db:
        left = {
            name
            for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger')")
        }
    assert left == {"catalog_articles", "catalog_versions", "qa_bot_migrations"}  # old ones are gone
    with catalog.engine.connect() as db:
        assert applied(db) == [m.name for m in MIGRATIONS if m.store == CATALOG]
    before = catalog.version()
    catalog.begin_indexing([(article(3), "h3", 1)])
    assert catalog.version() == before + 1  # one bump per write now, no trigger left to add more
    assert Catalog(create_engine(f"sqlite:///{path}"), "qa_bot").version() == before + 1  # moved once


def test_the_new_tables_hold_the_collection_in_their_keys(catalog):
    columns = inspect(catalog.engine).get_pk_constraint("catalog_articles")["constrained_columns"]
    assert columns == ["collection", "source_key"]
