"""One ordered list of migrations for the app's SQL tables, each applied once per database.

A store migrates its database when it opens it (the article catalog, the answer log): the migrations
of its own tables (`Migration.store`) that the database has not had yet, in the list's order, each
in a transaction of its own that also records its name in `qa_bot_migrations(name, applied_at)`. So
a database opened again applies nothing, and a migration that fails is rolled back whole (an error
names it) and is tried again at the next open. Each store picks its own migrations because, without
`QA_BOT_DATABASE_URL`, each has a SQLite file of its own: a catalog.sqlite never gets answer-log
tables. With a shared database, every store's migrations are recorded in the same table.

A database from before this list (no `qa_bot_migrations`) is upgraded in place: the first migrations
create only the tables and indexes missing (an older qa-bot may have made them), and the later ones
move what an even older qa-bot left (an `articles` table, a `feedback` table) into today's tables.
A store whose tables are gone although recorded (dropped by hand) has its migrations applied again.

Two processes that open a database at once apply each migration once: PostgreSQL serialises them with
the schema's advisory lock (lock.creating_schema), SQLite with a write lock taken at the start of each
migration's transaction (`BEGIN IMMEDIATE`); whoever waited reads the record again and skips what the
other applied. Opening a database that is up to date reads the record and takes neither lock.

To change a table, append a migration (never edit one that has shipped: databases have recorded it).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Table, delete, insert, inspect, select, update
from sqlalchemy.dialects import sqlite

from qa_bot.database.engine import DatabaseUnavailable, error_reason
from qa_bot.database.lock import creating_schema
from qa_bot.database.tables import (
    answers_table,
    applied_migrations,
    articles,
    chunks_table,
    citations_table,
    corpus_versions,
    embedding_index,
    figures_index,
    metadata,
)

# Whose tables a migration changes: the store that applies it when it opens its database.
CATALOG = "catalog"
ANSWER_LOG = "answer_log"
OLD_FEEDBACK = "old_feedback"  # the chat's `feedback` table of before the answer log, in feedback.sqlite


@dataclass(frozen=True)
class MigrationContext:
    """What the store opening a database knows and a migration of older rows needs."""

    collection: str | None = None  # the catalog's: an older catalog.sqlite held one collection's rows
    # The answer log's: an old feedback row as the log's rows (answer, citations), and the database
    # the log is in (with a shared database, not the local file the old table is in).
    feedback_rows: Callable[[Mapping[str, Any]], tuple[dict, list[dict]]] | None = None
    answer_log: Engine | None = None


@dataclass(frozen=True)
class Migration:
    name: str
    store: str  # CATALOG, ANSWER_LOG or OLD_FEEDBACK
    apply: Callable[[Connection, MigrationContext], None]
    creates: tuple[Table, ...] = ()  # the tables it makes (see _forget_stores_whose_tables_are_gone)


class MigrationFailed(DatabaseUnavailable):
    """A migration raised; its transaction was rolled back, so the database is as it was before it."""


def migrate(
    engine: Engine,
    stores: Collection[str],
    context: MigrationContext | None = None,
    *,
    migrations: Sequence[Migration] | None = None,
) -> list[str]:
    """Applies the migrations of `stores` that this database has not had, in order; their names."""
    wanted = [m for m in (MIGRATIONS if migrations is None else migrations) if m.store in stores]
    with engine.connect() as db:
        if not _pending(db, wanted):
            return []
    done = []
    with creating_schema(engine):
        with _write_transaction(engine) as db:
            applied_migrations.create(db, checkfirst=True)
            _forget_stores_whose_tables_are_gone(db, wanted)
        for migration in wanted:
            with _write_transaction(engine) as db:
                if migration.name in applied(db):  # before, or by another process while this one waited
                    continue
                _apply(migration, db, context or MigrationContext())
                _record(db, migration)
            done.append(migration.name)
    return done


def applied(db: Connection) -> list[str]:
    """The names of the migrations this database has had, in the order they were applied."""
    if not inspect(db).has_table(applied_migrations.name):
        return []
    record = applied_migrations.c
    return list(db.scalars(select(record.name).order_by(record.applied_at)))


def _pending(db: Connection, migrations: Sequence[Migration]) -> bool:
    recorded = set(applied(db))
    gone = _stores_whose_tables_are_gone(db, migrations)
    return bool(gone) or any(m.name not in recorded for m in migrations)


def _stores_whose_tables_are_gone(db: Connection, migrations: Sequence[Migration]) -> set[str]:
    present = set(inspect(db).get_table_names())
    return {m.store for m in migrations for table in m.creates if table.name not in present}


def _forget_stores_whose_tables_are_gone(db: Connection, migrations: Sequence[Migration]) -> None:
    """A store whose tables are gone although its migrations are recorded (dropped by hand, or put
    back by an older qa-bot's copy of the file) has them all applied again, as before this record:
    they make its tables and move what an older qa-bot left in their place."""
    gone = _stores_whose_tables_are_gone(db, migrations)
    names = [m.name for m in migrations if m.store in gone]
    if names:
        db.execute(delete(applied_migrations).where(applied_migrations.c.name.in_(names)))


def _record(db: Connection, migration: Migration) -> None:
    db.execute(insert(applied_migrations).values(name=migration.name, applied_at=_now()))


def _apply(migration: Migration, db: Connection, context: MigrationContext) -> None:
    try:
        migration.apply(db, context)
    except Exception as exc:
        url = db.engine.url
        where = (
            f"the database file {url.database}"
            if db.dialect.name == "sqlite"
            else f"the database at {url.render_as_string(hide_password=True)}"
        )
        raise MigrationFailed(
            f"Cannot upgrade {where}: migration {migration.name} failed ({error_reason(exc)}). "
            "It was undone: the database is as it was before it."
        ) from exc


@contextmanager
def _write_transaction(engine: Engine) -> Iterator[Connection]:
    if engine.dialect.name != "sqlite":  # DDL is transactional on PostgreSQL; creating_schema excludes others
        with engine.begin() as db:
            yield db
        return
    with engine.connect() as db:
        # A write lock from the start: of two processes opening an old file at once, the second waits
        # here and then finds the migration recorded.
        db.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.rollback()
            raise
        db.commit()


def _now() -> datetime:
    return datetime.now(UTC)


# --- the migrations ---------------------------------------------------------------------------------


def _move_rows_of_a_one_collection_catalog(db: Connection, context: MigrationContext) -> None:
    """A catalog.sqlite from before collections shared a database: `articles` (perhaps without
    `indexed_hash`) and a one-row `corpus_version` bumped by triggers. Its rows move to the collection
    that opens it, its version too (so a keyword index built from it stays current), and the old tables
    and triggers go. (Only SQLite: on PostgreSQL an `articles` table is someone else's.)"""
    if db.dialect.name != "sqlite":
        return
    tables = set(inspect(db).get_table_names())
    if "articles" not in tables:
        return
    columns = {column["name"] for column in inspect(db).get_columns("articles")}
    # Before indexed_hash, a row was written only after all of its chunks were stored.
    indexed = "indexed_hash" if "indexed_hash" in columns else "content_hash"
    db.exec_driver_sql(
        f"""INSERT OR REPLACE INTO catalog_articles
            (collection, source_key, id, path, title, date, source, url, text, content_hash, chunks,
             indexed_hash)
        SELECT ?, source_key, id, path, title, date, source, url, text, content_hash, chunks, {indexed}
        FROM articles""",
        (context.collection,),
    )
    version = 0
    if "corpus_version" in tables:
        version = db.exec_driver_sql("SELECT version FROM corpus_version").scalar() or 0
        db.exec_driver_sql("DROP TABLE corpus_version")
    db.exec_driver_sql("DROP TABLE articles")  # its triggers go with it
    db.execute(
        sqlite.insert(corpus_versions)
        .values(collection=context.collection, version=version)
        .on_conflict_do_update(index_elements=["collection"], set_={"version": version})
    )


def _create_figures_index(db: Connection, _context: MigrationContext) -> None:
    """The index `Catalog.stats()` reads, added after the catalog's tables (new tables get it with them)."""
    figures_index.create(db, checkfirst=True)


def _keep_chunks_in_the_catalog(db: Connection, _context: MigrationContext) -> None:
    """Chunks in the catalog (keyword-searchable before they are embedded) and each article's embedded
    version. A row of an older qa-bot was indexed only once all its vectors were in Chroma: it becomes
    embedded, and unchunked (no `catalog_chunks` rows yet), so that the next `qa-bot ingest` of its
    file writes its chunk rows (the same chunk ids, so nothing is embedded again)."""
    columns = {column["name"] for column in inspect(db).get_columns(articles.name)}
    table = db.dialect.identifier_preparer.format_table(articles)
    for name, kind in (("embedded_hash", "TEXT"), ("embedded_at", "FLOAT")):
        if name not in columns:
            db.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")
    chunks_table.create(db, checkfirst=True)
    embedding_index.create(db, checkfirst=True)
    # A row indexed without chunk rows was indexed by an older qa-bot.
    k = chunks_table.c
    has_chunks = (
        select(k.chunk_id)
        .where(k.collection == articles.c.collection, k.source_key == articles.c.source_key)
        .exists()
    )
    db.execute(
        update(articles)
        .where(articles.c.indexed_hash.is_not(None), articles.c.embedded_hash.is_(None), ~has_chunks)
        .values(embedded_hash=articles.c.indexed_hash, indexed_hash=None)
    )


def _copy_feedback_of_before_the_log(db: Connection, context: MigrationContext) -> None:
    """The chat's thumbs of before the answer log, in a `feedback` table of this database, become
    logged answers (those the log lacks: a copy cut short is finished by the next one). The old table
    stays as it was."""
    if not inspect(db).has_table("feedback"):
        return
    rows = db.exec_driver_sql("SELECT * FROM feedback").mappings().all()
    with _answer_log_connection(db, context.answer_log) as log:
        for row in rows:
            if log.scalar(select(answers_table.c.id).where(answers_table.c.id == row["id"])) is not None:
                continue
            answer_row, citation_rows = context.feedback_rows(row)
            log.execute(insert(answers_table), [answer_row])
            if citation_rows:
                log.execute(insert(citations_table), citation_rows)


def _answer_log_connection(db: Connection, answer_log: Engine | None):
    """The migration's own transaction when the log is in this database; else one in the log's."""
    if answer_log is None or answer_log is db.engine:
        return nullcontext(db)
    return answer_log.begin()


def _tables(name: str, store: str, *tables: Table) -> Migration:
    """A migration that makes these tables, with their indexes, where they are missing."""
    return Migration(name, store, lambda db, _context: metadata.create_all(db, tables=tables), tables)


MIGRATIONS: list[Migration] = [
    _tables("catalog_tables", CATALOG, articles, corpus_versions),
    Migration("catalog_rows_of_a_one_collection_file", CATALOG, _move_rows_of_a_one_collection_catalog),
    Migration("catalog_figures_index", CATALOG, _create_figures_index),
    Migration("catalog_chunks_and_embedded_versions", CATALOG, _keep_chunks_in_the_catalog),
    _tables("answer_log_tables", ANSWER_LOG, answers_table, citations_table),
    Migration("answer_log_feedback_of_before_the_log", OLD_FEEDBACK, _copy_feedback_of_before_the_log),
]
