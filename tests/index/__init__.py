"""Tests of qa_bot/index: chunks, vectors, the keyword index, the catalog and search."""
