"""Writing article files into a test folder and loading them back: shared by the loader tests."""

from __future__ import annotations

from pathlib import Path

from qa_bot.corpus import Article, load_corpus


def load_one(path: Path) -> Article:
    result = load_corpus([path])
    assert result.failures == []
    assert len(result.articles) == 1
    return result.articles[0]


def write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path
