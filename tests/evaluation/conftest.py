"""Fixtures of the evaluation tests, over the scripted bot of tests/fixtures/scripted_bot.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.scripted_bot import SEED_ITEMS_JSONL, Script, ScriptedBot, seed_scripts


@pytest.fixture
def dataset_path(tmp_path) -> Path:
    import json

    path = tmp_path / "set.jsonl"
    path.write_text("".join(json.dumps(record) + "\n" for record in SEED_ITEMS_JSONL))
    return path


@pytest.fixture
def scripts() -> dict[str, Script]:
    """The scripted answers per question; change one with dataclasses.replace before make_bot()."""
    return seed_scripts()


@pytest.fixture
def make_bot(scripts):
    """`make_bot(scripts=None) -> ScriptedBot`: a fresh bot (default: the `scripts` fixture's answers)."""

    def make(custom: dict[str, Script] | None = None) -> ScriptedBot:
        return ScriptedBot(custom if custom is not None else scripts)

    return make


@pytest.fixture
def scripted_bot(make_bot) -> ScriptedBot:
    return make_bot()
