"""A seeded sample of malformed .json, .jsonl, .html, .txt (front matter), .pdf and .docx files
(tests/fixtures/malformed_files.py): none may raise out of the loader, each is loaded or named, none
holds the ingest for long, and a folder of them beside good articles still ingests the good ones.
benchmarks/fuzz_loaders.py runs thousands of the same (figures in docs/security.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa_bot.ingest.articles import content_id
from qa_bot.service import QABot
from tests.fixtures.malformed_files import load_one, malformed_files, write_all

SEED, COUNT = 20261206, 90  # 15 of each format; a different seed replays other files
# The slowest file of the benchmark's thousands took under a second: this is a hang, not a slow machine.
MAX_SECONDS_PER_FILE = 10
GOOD = "The Nairobi council opened a new market hall on Friday."


def test_no_malformed_file_escapes_the_loader_or_holds_it(tmp_path):
    folder = tmp_path / "fuzz"
    files = write_all(folder, malformed_files(SEED, COUNT))

    outcomes = [load_one(folder / name) for name in files]

    assert [(o.name, files[o.name].how, o.broken) for o in outcomes if o.broken] == []
    slow = [
        (o.name, files[o.name].how, round(o.seconds, 1)) for o in outcomes if o.seconds > MAX_SECONDS_PER_FILE
    ]
    assert slow == []
    assert sum(o.failures > 0 for o in outcomes) > COUNT / 2  # mostly named failures: the sample bites


def test_a_folder_of_malformed_files_still_ingests_its_good_articles(tmp_path, settings_factory):
    folder = tmp_path / "fuzz"
    # This seed holds two articles of the repetitive text below, which used to abort the ingest.
    write_all(folder, malformed_files(SEED + 1, 36))
    (folder / "good.txt").write_text(GOOD, encoding="utf-8")
    bot = QABot(settings_factory(llm="extractive"))

    report = bot.ingest([Path(folder)])

    assert report.failed and bot.index.catalog.get(content_id(GOOD)) is not None
    assert bot.index.stats().articles == report.added


@pytest.mark.parametrize(
    "text", ["---\n" + "date: 2023-04-16\n" * 1000 + GOOD, "x" * 5000], ids=["lines", "word"]
)
def test_very_repetitive_article_text_is_chunked_into_slices_of_itself(text):
    # Found by this fuzz: placing the chunks of such text used to fail and abort the whole ingest.
    from qa_bot.index.chunking import chunk_article
    from qa_bot.ingest.articles import Article

    docs = chunk_article(Article("repeated", text), 200, 40)
    assert docs
    for doc in docs:
        assert text[doc.metadata["start"] : doc.metadata["end"]] == doc.page_content
