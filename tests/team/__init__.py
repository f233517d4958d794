"""Tests of qa_bot/team: users, the answer log and reviews."""
