"""Tests of qa_bot/ingest: reading article files into articles."""
