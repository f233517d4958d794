"""`qa-bot ingest` over a folder of everything that goes wrong in real corpora, as a user runs it.

The real command runs in a subprocess (with a timeout, so that a FIFO that hangs the ingest fails
the test instead of stalling the suite). What is asserted is what the user sees: one line per file
that failed or was skipped, with its reason; the counts; the exit code; and then, in the index,
that every good article is there and nothing stored before was lost.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from qa_bot.index.store import EMBED_CALL_CHUNKS
from qa_bot.ingest.articles import content_id
from qa_bot.service import QABot
from tests.fixtures.documents import make_docx, make_pdf

QA_BOT = str(Path(sys.executable).parent / "qa-bot")
LIMIT_MB = "0.01"  # 10 KB: an oversized file stays small enough for a test
OVERSIZED = "The river festival drew record crowds on Friday. " * 400  # 19.6 KB
CAFE = "Café society gathered in the old square on Thursday."
EXIT_FILES_FAILED = 4

pytestmark = [
    pytest.mark.integration,  # runs the CLI in processes: outside the fast subset
    pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs and symlinks (POSIX)"),
]


@pytest.fixture
def qa_bot(tmp_path, clean_settings_env):
    """`qa_bot(*args) -> CompletedProcess` of the installed command, with its own data dir and no .env."""
    env = {
        **os.environ,
        "QA_BOT_DATA_DIR": str(tmp_path / "data"),
        "QA_BOT_LLM": "extractive",
        "QA_BOT_MAX_ARTICLE_MB": LIMIT_MB,
        "COLUMNS": "200",
    }

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [QA_BOT, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
        )

    return run


def write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def good_corpus(folder: Path) -> None:
    folder.mkdir()
    write(folder, "good.txt", "date 2023-04-16\ntitle: Budget approved\n\nThe council approved the budget.")
    write(folder, "日本.txt", "date 2023-05-01\n\nTokyo officials opened the new rail line on Monday.")
    write(folder, "中国.txt", "Beijing announced new air quality rules on Tuesday.")
    write(folder, "Новости.md", "# Новости\n\nThe Moscow metro added three stations on Wednesday.")
    write(folder, "changes_later.txt", CAFE)
    write(folder, "grows_later.txt", "The river festival drew record crowds on Friday.")


def make_hostile(folder: Path, outside: Path) -> None:
    """Turns the good corpus into the hostile one: two stored articles go bad, and much is added."""
    write(folder, "changes_later.txt", CAFE.encode("latin-1"))
    write(folder, "grows_later.txt", OVERSIZED)
    write(folder, "空.txt", b"")
    write(folder, "binary.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    write(folder, "broken.json", '{"text": "unterminated')
    write(folder, "no_text.json", '{"title": "A title and nothing else"}')
    lines = [
        json.dumps({"text": "Lagos opened a new port on Monday."}),
        "{oops",
        json.dumps({"text": "Nairobi hosted a summit on Tuesday."}),
        json.dumps({"text": OVERSIZED}),
    ]
    write(folder, "mixed.jsonl", "\n".join(lines))
    write(folder, "scripts.html", "<html><script>var a = 1;</script><style>p {}</style></html>")
    make_pdf(
        folder / "report.pdf",
        ["Foreign ministers met in Delhi on Sunday.", "They agreed to expand the spice trade."],
        title="Talks in Delhi",
        created="D:20230416100000Z",
    )
    make_docx(
        folder / "memo.docx",
        ["The port of Mombasa handled a record tonnage in March."],
        title="Port record",
        created=datetime(2023, 4, 3, tzinfo=UTC),
    )
    write(folder, "한국.txt", "Seoul opened a new library on Saturday.")
    write(folder, "photo.png", b"\x89PNG\r\n\x1a\n")
    write(folder, "letter.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")
    os.mkfifo(folder / "pipe.txt")
    (folder / "loop.txt").symlink_to("loop.txt")
    (folder / "again").symlink_to(".")
    outside.mkdir()
    write(outside, "secret.txt", "Private notes that are not part of the corpus.")
    (folder / "secret.txt").symlink_to(outside / "secret.txt")


def reported(output: str) -> dict[str, list[tuple[str, str]]]:
    """{file name: [(failed|skipped|warning, reason), ...]} from the lines the command printed."""
    lines: dict[str, list[tuple[str, str]]] = {}
    for kind, path, reason in re.findall(r"^(failed|skipped|warning) (/.+?): (.+)$", output, re.MULTILINE):
        lines.setdefault(Path(path).name, []).append((kind, reason))
    return lines


def counts(output: str) -> dict[str, int]:
    rows = re.findall(
        r"^\W*(added|updated|unchanged|removed|failed|skipped)\W+(\d+)\W*$", output, re.MULTILINE
    )
    return {label: int(value) for label, value in rows}


def test_a_hostile_folder_reports_every_file_and_keeps_every_good_article(qa_bot, tmp_path, settings_factory):
    news = tmp_path / "news"
    good_corpus(news)
    first = qa_bot("ingest", str(news))
    assert first.returncode == 0, first.stdout + first.stderr
    assert counts(first.stdout)["added"] == 6

    make_hostile(news, outside=tmp_path / "private")
    second = qa_bot("ingest", str(news), "--prune")

    out = second.stdout
    assert second.returncode == EXIT_FILES_FAILED, out + second.stderr
    assert "Traceback" not in second.stderr
    assert "9 failed (listed above); everything else was ingested. Exit code 4." in second.stderr
    assert counts(out) == {"added": 5, "updated": 0, "unchanged": 4, "removed": 0, "failed": 9, "skipped": 6}
    lines = reported(out)
    expected = {
        "空.txt": [("failed", "empty file (0 bytes); add the article text or remove the file")],
        "binary.txt": [("failed", "binary data (NUL bytes)")],
        "changes_later.txt": [("failed", "not UTF-8 text (byte 0xe9 at offset 3); re-save it as UTF-8")],
        "broken.json": [("failed", "invalid JSON at line 1, column 10")],
        "no_text.json": [("failed", "the object: no `text` field")],
        "mixed.jsonl": [
            ("failed", "line 2: invalid JSON"),
            ("failed", "line 4 is 19.6 KB, over the 10 KB limit for one article (QA_BOT_MAX_ARTICLE_MB)"),
        ],
        "scripts.html": [("failed", "no visible text")],
        "grows_later.txt": [
            (
                "failed",
                "file is 19.6 KB, over the 10 KB limit for one article (QA_BOT_MAX_ARTICLE_MB); split it",
            )
        ],
        "photo.png": [("skipped", "file of unsupported type '.png'; skipped (supported: .docx, .htm")],
        "letter.doc": [("skipped", "file of unsupported type '.doc'; skipped")],
        "pipe.txt": [("skipped", "a named pipe (FIFO), not a regular file; skipped (only files are read)")],
        "loop.txt": [("skipped", "link loop: the link leads back to itself; skipped")],
        "again": [("skipped", f"link to {news}, a folder that contains it (a loop); skipped")],
        "secret.txt": [
            ("skipped", "outside the folders being ingested; skipped (to read it, ingest with --follow-links")
        ],
    }
    assert sorted(lines) == sorted(expected)
    for name, wanted in expected.items():
        got = lines[name]
        assert [kind for kind, _ in got] == [kind for kind, _ in wanted], name
        for (_, reason), (_, part) in zip(got, wanted, strict=True):
            assert part in reason, f"{name}: {reason!r} lacks {part!r}"

    index = QABot(settings_factory(llm="extractive")).index
    assert index.stats().articles == 6 + 5  # all good ones; the two that went bad keep their stored text
    kept = index.catalog.get(content_id(CAFE))
    assert kept is not None and kept.text == CAFE and kept.path == str(news / "changes_later.txt")


def test_pdf_and_word_articles_are_searchable_with_their_title_and_date(qa_bot, tmp_path):
    news = tmp_path / "news"
    news.mkdir()
    make_pdf(
        news / "report.pdf",
        ["Foreign ministers met in Delhi on Sunday.", "They agreed to expand the spice trade."],
        title="Talks in Delhi",
        created="D:20230416100000Z",
    )
    make_docx(
        news / "memo.docx", ["The port of Mombasa handled a record tonnage in March."], title="Port record"
    )
    assert qa_bot("ingest", str(news)).returncode == 0

    answer = qa_bot("ask", "Where did the foreign ministers meet to discuss the spice trade?", "--json")
    other = qa_bot("ask", "Which port handled a record tonnage?", "--json")

    [first, *_] = json.loads(answer.stdout)["passages"]
    assert (first["title"], first["date"]) == ("Talks in Delhi", "2023-04-16")
    assert json.loads(other.stdout)["passages"][0]["title"] == "Port record"


def test_links_out_of_the_folder_are_read_only_when_asked_and_then_belong_to_it(
    qa_bot, tmp_path, settings_factory
):
    news, elsewhere = tmp_path / "news", tmp_path / "elsewhere"
    news.mkdir()
    elsewhere.mkdir()
    write(news, "local.txt", "The harbour reopened on Thursday.")
    write(elsewhere, "wire.txt", "The wire service reported a storm on Friday.")
    (news / "wire.txt").symlink_to(elsewhere / "wire.txt")

    followed = qa_bot("ingest", str(news), "--follow-links")

    assert followed.returncode == 0, followed.stdout
    assert counts(followed.stdout)["added"] == 2 and "skipped" not in reported(followed.stdout)
    index = QABot(settings_factory(llm="extractive")).index
    stored = index.catalog.get(content_id("The wire service reported a storm on Friday."))
    assert stored.path == str(news / "wire.txt")  # under the link, inside the folder

    (elsewhere / "wire.txt").write_bytes(b"\x00\x01\x02 not text any more \xff\xfe")
    broken = qa_bot("ingest", str(news), "--prune", "--follow-links")

    assert broken.returncode == 4, broken.stdout
    assert counts(broken.stdout)["removed"] == 0  # a followed file that fails keeps what it had
    assert index.stats().articles == 2

    (news / "wire.txt").unlink()
    pruned = qa_bot("ingest", str(news), "--prune", "--follow-links")

    assert counts(pruned.stdout)["removed"] == 1
    assert index.stats().articles == 1


def test_a_large_article_moves_the_progress_by_chunks_before_it_is_marked_embedded(
    settings_factory, tmp_path
):
    news = tmp_path / "news"
    news.mkdir()
    write(news, "long.txt", " ".join(f"Paragraph {n} says the harbour grew again." for n in range(1200)))
    bot = QABot(settings_factory(llm="extractive"))
    events: list[tuple[str, int]] = []

    report = bot.ingest([news], progress=lambda event, amount: events.append((event, amount)))

    names = [event for event, _amount in events]
    steps = [amount for event, amount in events if event == "chunk" and amount]
    assert names.count("article") == 1 and names.count("embedded") == 1
    assert sum(steps) == report.chunks_added > EMBED_CALL_CHUNKS  # more than one call of the model
    # Counted as read in the keyword pass; then its chunks moved, step by step, before it was embedded.
    assert names.index("article") < names.index("chunk") and len(steps) > 1
    assert names.index("embedded") > max(i for i, (event, amount) in enumerate(events) if event == "chunk")
