"""The app's own SQL tables, in one SQLAlchemy database: SQLite files by default, PostgreSQL for a team.

engine.py  the database of a data directory (or QA_BOT_DATABASE_URL), and its engine
lock.py    locks that hold across machines (PostgreSQL advisory locks)
"""
