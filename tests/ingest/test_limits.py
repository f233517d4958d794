"""How big a file of each type may be (qa_bot/ingest/limits.py): the limits the loader applies are
the ones the chat's uploader states, and a file over its type's limit is a named failure."""

from __future__ import annotations

import pytest

from qa_bot.ingest.articles import CorpusOptions, load_corpus
from qa_bot.ingest.limits import file_limit, largest_file_limit, largest_file_megabytes, limits_text
from tests.fixtures.article_files import load_one, write


@pytest.mark.parametrize(
    ("suffix", "limit"),
    [
        (".txt", 1_000_000),
        (".md", 1_000_000),
        (".markdown", 1_000_000),
        (".HTML", 10_000_000),
        (".htm", 10_000_000),
        (".pdf", 10_000_000),
        (".docx", 10_000_000),
        (".json", None),
        (".jsonl", None),
    ],
)
def test_each_file_type_has_its_limit(suffix, limit):
    assert file_limit(suffix) == limit


def test_the_limits_read_as_a_person_reads_them_and_follow_the_setting():
    assert limits_text() == "Up to 1 MB per .txt/.md article, 10 MB per .html/.pdf/.docx"
    assert (largest_file_limit(), largest_file_megabytes()) == (10_000_000, 10)
    assert limits_text(2_500_000) == "Up to 2.5 MB per .txt/.md article, 25 MB per .html/.pdf/.docx"
    assert largest_file_megabytes(2_500_000) == 25
    assert largest_file_megabytes(1000) == 1  # Streamlit takes whole megabytes, at least 1


def test_the_loader_refuses_a_file_over_its_types_limit_and_reads_the_rest(tmp_path):
    options = CorpusOptions(max_article_bytes=1000)
    write(tmp_path, "long.txt", "word " * 300)  # 1.5 KB: over a .txt file's 1 KB
    write(tmp_path, "ok.txt", "word " * 199)
    markup = "<html><body><p>Rivers rose in the valley.</p>" + "<div></div>" * 400 + "</body></html>"
    write(tmp_path, "page.html", markup)  # 4.4 KB of markup: within an HTML file's 10 KB

    result = load_corpus([tmp_path], options)

    assert sorted(a.path.rsplit("/", 1)[-1] for a in result.articles) == ["ok.txt", "page.html"]
    [failure] = result.failures
    assert failure.path.endswith("long.txt")
    assert failure.reason.startswith(
        "file is 1.5 KB, over the 1 KB limit for one article (QA_BOT_MAX_ARTICLE_MB)"
    )
    assert len(markup) > file_limit(".txt", 1000) and load_one(tmp_path / "page.html").text
