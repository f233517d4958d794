"""Tests of qa_bot/answering: evidence, prompts, models, pointers, quotes and the verifier."""
