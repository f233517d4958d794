"""The app's own SQL tables, in one SQLAlchemy database: SQLite files by default, PostgreSQL for a team.

engine.py      the database of a data directory (or QA_BOT_DATABASE_URL), and its engine
tables.py      the tables: the article catalog's, the answer log's, the record of migrations
migrations.py  one ordered list of migrations, each applied once per database when a store opens it
lock.py        locks that hold across machines (PostgreSQL advisory locks)
"""
