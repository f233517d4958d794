"""The article catalog on SQLite: each write moves the corpus version once, collections sharing one
database stay apart, and a catalog.sqlite written by an older qa-bot is moved to the new tables on open.
(The same catalog on PostgreSQL: tests/integration/test_shared_store.py.)"""

from __future__ import annotations

import sqlite3
from contextlib import closing

import pytest
from sqlalchemy import create_engine, inspect

from qa_bot.database.migrations import CATALOG, MIGRATIONS, applied
from qa_bot.index.catalog import Catalog, ChunkRow
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


def chunk_rows(n: int) -> list[ChunkRow]:
    return [ChunkRow(f"c{i}", i, 0, 5) for i in range(n)]


def test_each_write_moves_the_version_once_and_stats_follow(catalog):
    assert catalog.version() == 0 and catalog.stats().articles == 0

    catalog.write_articles([(article(1), "h1", chunk_rows(3)), (article(2), "h2", [])])
    stats = catalog.stats()
    assert (stats.version, stats.articles, stats.not_indexed, stats.chunks) == (1, 2, 0, 3)
    assert (stats.embedded, stats.not_embedded) == (0, 2)  # searchable by keyword, not yet by meaning
    assert (stats.first_date, stats.last_date) == ("2024-02-01", "2024-02-02")
    assert stats.sources == ["paper1.example", "paper2.example"]

    catalog.mark_embedded([(article(1).source_key, "h1")])
    stats = catalog.stats()
    assert stats.version == 1  # vectors do not make the keyword index out of date
    assert (stats.embedded, stats.embedded_chunks, stats.not_embedded) == (1, 3, 1)

    catalog.begin_removing([article(2).source_key])
    catalog.delete([article(2).source_key])
    assert catalog.version() == 3
    assert set(catalog.states()) == {article(1).source_key}
    assert catalog.get("a1").text == "Story 1 text." and catalog.get("a2") is None


def test_a_changed_article_has_its_new_chunks_at_once_and_its_vectors_made_again(catalog):
    key = article(1).source_key
    catalog.write_articles([(article(1), "old", chunk_rows(3))])
    catalog.mark_embedded([(key, "old")])
    assert catalog.states()[key] == ("old", "old", "old")

    catalog.write_articles([(article(1, "Story 1, corrected."), "new", chunk_rows(2))])

    assert catalog.states()[key] == ("new", "new", None)
    assert catalog.get("a1").text == "Story 1, corrected."
    assert catalog.chunk_ids([key]) == {key: ["c0", "c1"]}
    assert [p.source_key for p in catalog.pending_embedding()] == [key]
    catalog.mark_embedded([(key, "old")])  # a stale mark (the old version's) changes nothing
    assert catalog.states()[key].embedded_hash is None


def test_the_keyword_rows_and_passages_come_from_the_catalog(catalog):
    text = "First sentence here. Second sentence there."
    catalog.write_articles([(article(1, text), "h1", [ChunkRow("x", 0, 0, 20), ChunkRow("y", 1, 21, 43)])])

    rows = catalog.keyword_rows()

    assert rows.ids == ["x", "y"]
    assert rows.texts == ["Story 1\nFirst sentence here.", "Story 1\nSecond sentence there."]
    assert (rows.date_ints, rows.sources) == ([20240201] * 2, ["paper1.example"] * 2)
    assert catalog.chunk_count() == 2
    found = catalog.chunks(["y", "unknown"])
    assert set(found) == {"y"} and found["y"][0].text == "Second sentence there."


def test_collections_in_one_database_have_their_own_articles_and_versions(database):
    engine = create_engine(database)
    news, archive = Catalog(engine, "news"), Catalog(engine, "archive")

    news.write_articles([(article(1), "h1", chunk_rows(1))])
    archive.write_articles([(article(1), "other", chunk_rows(1)), (article(2), "h2", [])])
    archive.delete([article(2).source_key])

    assert news.states() == {article(1).source_key: ("h1", "h1", None)}
    assert archive.states() == {article(1).source_key: ("other", "other", None)}
    assert (news.version(), archive.version()) == (1, 2)
    assert news.chunk_count() == archive.chunk_count() == 1
    assert Catalog(engine, "news").version() == 1  # opening again keeps it


@pytest.mark.parametrize("layout", ["previous", "oldest"])
def test_a_catalog_file_of_an_older_qa_bot_is_moved_to_the_new_tables_on_open(tmp_path, layout):
    path = tmp_path / "catalog.sqlite"
    write_older_catalog(path, layout)

    catalog = Catalog(create_engine(f"sqlite:///{path}"), "qa_bot")

    states = catalog.states()
    if layout == "previous":
        assert catalog.version() == 3  # kept: a keyword index stamped with it stays current
        # Its vectors were complete: embedded; its chunks are not in the catalog yet (the next ingest
        # writes them, embedding nothing again).
        assert states == {
            "/corpus/story_1.txt": ("h1", None, "h1"),
            "/corpus/story_2.txt": ("h2", None, None),
        }
        assert catalog.stats().not_indexed == 2
    else:
        assert catalog.version() == 0
        assert states == {
            "/corpus/story_1.txt": ("h1", None, "h1"),
            "/corpus/story_2.txt": ("h2", None, "h2"),
        }
    assert catalog.get("a2").title == "Story 2"
    with closing(sqlite3.connect(path)) as db:
        left = {
            name
            for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger')")
        }
    assert left == {"catalog_articles", "catalog_chunks", "catalog_versions", "qa_bot_migrations"}
    with catalog.engine.connect() as db:
        assert applied(db) == [m.name for m in MIGRATIONS if m.store == CATALOG]
    before = catalog.version()
    catalog.write_articles([(article(3), "h3", chunk_rows(1))])
    assert catalog.version() == before + 1  # one bump per write now, no trigger left to add more
    assert Catalog(create_engine(f"sqlite:///{path}"), "qa_bot").version() == before + 1  # moved once


def test_the_new_tables_hold_the_collection_in_their_keys(catalog):
    columns = inspect(catalog.engine).get_pk_constraint("catalog_articles")["constrained_columns"]
    assert columns == ["collection", "source_key"]
