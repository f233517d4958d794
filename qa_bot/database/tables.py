"""The app's own SQL tables, one MetaData: the article catalog's, the answer log's, and the record of
which migrations each database has had.

The stores that read and write them are qa_bot/index/catalog.py and qa_bot/team/answer_log.py; the
tables are defined here, below both, so that the one list of migrations (migrations.py) can create
and upgrade them without importing a later stage.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

# --- the record of migrations (migrations.py) -------------------------------------------------------

applied_migrations = Table(
    "qa_bot_migrations",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("applied_at", DateTime(timezone=True), nullable=False),
)

# --- the article catalog (qa_bot/index/catalog.py) --------------------------------------------------

articles = Table(
    "catalog_articles",
    metadata,
    Column("collection", Text, primary_key=True),
    Column("source_key", Text, primary_key=True),
    Column("id", Text, nullable=False),
    Column("path", Text),
    Column("title", Text),
    Column("date", Text),
    Column("source", Text),
    Column("url", Text),
    Column("text", Text, nullable=False),
    Column("content_hash", Text, nullable=False),
    Column("chunks", Integer, nullable=False),
    # The version whose chunks are all in `catalog_chunks` (keyword-searchable); NULL: none yet.
    Column("indexed_hash", Text),
    # The version whose chunks all have their vectors in Chroma (searchable by meaning), and when
    # they were written (seconds since the epoch: the embedding rate, for `qa-bot status`'s ETA).
    Column("embedded_hash", Text),
    Column("embedded_at", Float),
    Index("catalog_articles_id", "collection", "id"),
)
# Everything `stats()` reads, so that it scans this small index and not the articles' text (a full
# RealTime QA corpus is ~120 MB of rows): `qa-bot status` and every sidebar redraw read it.
figures_index = Index(
    "catalog_articles_figures",
    articles.c.collection,
    articles.c.source,
    articles.c.date,
    articles.c.chunks,
    articles.c.content_hash,
    articles.c.indexed_hash,
)

# Each article's chunks: a chunk's text is its article's text[start_char:end_char], and its id is the
# id of its vector in Chroma (written by the embedding pass, which may come much later).
chunks_table = Table(
    "catalog_chunks",
    metadata,
    Column("collection", Text, primary_key=True),
    Column("chunk_id", Text, primary_key=True),
    Column("source_key", Text, nullable=False),
    Column("chunk_index", Integer, nullable=False),
    Column("start_char", Integer, nullable=False),
    Column("end_char", Integer, nullable=False),
    Index("catalog_chunks_article", "collection", "source_key", "chunk_index"),
)
# Everything `stats()` reads once articles are embedded, led by when (the embedding rate's window).
embedding_index = Index(
    "catalog_articles_embedding",
    articles.c.collection,
    articles.c.embedded_at,
    articles.c.source,
    articles.c.date,
    articles.c.chunks,
    articles.c.content_hash,
    articles.c.indexed_hash,
    articles.c.embedded_hash,
)

corpus_versions = Table(
    "catalog_versions",
    metadata,
    Column("collection", Text, primary_key=True),
    Column("version", Integer, nullable=False),
)

# --- the answer log (qa_bot/team/answer_log.py) -----------------------------------------------------

answers_table = Table(
    "answer_log",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("asked_at", DateTime(timezone=True), nullable=False, index=True),
    Column("asked_on", Date, index=True),
    Column("user_name", String(200), index=True),
    Column("question", Text, nullable=False),
    Column("standalone_question", Text),
    Column("answer", Text, nullable=False),
    Column("refused", Boolean, nullable=False),
    Column("error", Text),
    Column("unverified", Integer, nullable=False),
    Column("sentences", JSON, nullable=False),
    Column("settings", JSON, nullable=False),
    Column("history", JSON, nullable=False),
    Column("rating", Integer),
    Column("comment", Text, nullable=False),
    Column("rated_at", DateTime(timezone=True)),
    Column("verdict", String(20), index=True),
    Column("corrected_answer", Text, nullable=False),
    Column("review_comment", Text, nullable=False),
    Column("reviewer", String(200)),
    Column("reviewed_at", DateTime(timezone=True)),
)
citations_table = Table(
    "answer_log_citations",
    metadata,
    Column("answer_id", String(64), ForeignKey("answer_log.id", ondelete="CASCADE"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("n", Integer, nullable=False),
    Column("article_id", Text, nullable=False),
    Column("title", Text),
    Column("article_date", String(10)),
    Column("source", Text),
    Column("path", Text),
    Column("url", Text),
    Column("passage", Text, nullable=False),
    Column("passage_start", Integer, nullable=False),
    Column("passage_end", Integer, nullable=False),
    Column("quote_start", Integer),
    Column("quote_end", Integer),
    Column("verified", Boolean, nullable=False),
    Column("support", Float, nullable=False),
    Column("sentence", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("verdict", String(20)),
    Column("comment", Text, nullable=False),
    Column("reviewer", String(200)),
    Column("reviewed_at", DateTime(timezone=True)),
)
