"""Tests of qa_bot/database: the migrations of the app's tables."""
