"""PDF and Word articles: their text, title and date, and a named reason for each file that can't be read."""

from __future__ import annotations

from datetime import UTC, datetime

from qa_bot.ingest.articles import CorpusOptions, load_corpus
from tests.fixtures.article_files import load_one, write
from tests.fixtures.documents import make_docx, make_pdf

CALL = ["Jaishankar and Blinken spoke by telephone on Sunday.", "They discussed trade (and visas)."]


def test_pdf_text_title_and_date_come_from_the_page_and_its_properties(tmp_path):
    pdf = make_pdf(tmp_path / "call.pdf", CALL, title="A call on Sunday", created="D:20230416100000Z")

    article = load_one(pdf)

    assert article.text == "\n".join(CALL)
    assert (article.title, article.date, article.path) == ("A call on Sunday", "2023-04-16", str(pdf))


def test_docx_paragraphs_and_tables_in_order_with_title_and_date(tmp_path):
    docx = make_docx(
        tmp_path / "memo.docx",
        CALL,
        title="Memo",
        created=datetime(2023, 4, 17, 9, 30, tzinfo=UTC),
        table=[["Minister", "Country"], ["Jaishankar", "India"]],
    )

    article = load_one(docx)

    assert article.text == "\n\n".join([*CALL, "Minister | Country", "Jaishankar | India"])
    assert (article.title, article.date) == ("Memo", "2023-04-17")


def test_a_date_line_at_the_top_wins_over_the_file_properties(tmp_path):
    pdf = make_pdf(tmp_path / "dated.pdf", ["date 2023-04-16", *CALL], created="D:20240101000000Z")

    article = load_one(pdf)

    assert article.date == "2023-04-16" and article.text.startswith("Jaishankar")


def test_a_docx_left_with_its_templates_creation_date_is_undated(tmp_path):
    # python-docx's blank template says December 2013; that is not when the article was written.
    article = load_one(make_docx(tmp_path / "plain.docx", CALL))

    assert article.date is None and article.title is None


def test_unreadable_documents_are_named_failures_with_what_to_do(tmp_path):
    make_pdf(tmp_path / "scan.pdf", [])
    make_pdf(tmp_path / "locked.pdf", CALL, password="s3cret")
    write(tmp_path, "cut.pdf", (make_pdf(tmp_path / "whole.pdf", CALL).read_bytes())[:200])
    write(tmp_path, "old.docx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1 an old binary .doc renamed")

    result = load_corpus([tmp_path])

    reasons = {f.path.rsplit("/", 1)[-1]: f.reason for f in result.failures}
    assert [a.path.rsplit("/", 1)[-1] for a in result.articles] == ["whole.pdf"]
    assert "no text layer (a scan or images only); run OCR" in reasons["scan.pdf"]
    assert "protected by a password" in reasons["locked.pdf"]
    assert reasons["cut.pdf"].startswith("not a readable PDF (")
    assert "an old .doc must be saved as .docx first" in reasons["old.docx"]


def test_a_document_with_more_text_than_one_article_may_have_stops_at_the_limit(tmp_path):
    long_lines = [f"Line {n:03} of a very long report about the budget." for n in range(100)]
    pdf = make_pdf(tmp_path / "long.pdf", long_lines)
    docx = make_docx(tmp_path / "long.docx", long_lines)

    # An empty .docx is ~37 KB of styles: 10 times a 4 KB limit lets the file itself be read.
    result = load_corpus([pdf, docx], CorpusOptions(max_article_bytes=4000))

    assert result.articles == []
    assert (
        "the text passes 4.9 KB by page 1, over the 4 KB limit for one article" in result.failures[0].reason
    )
    assert "article text is 5 KB, over the 4 KB limit for one article" in result.failures[1].reason
    assert all("QA_BOT_MAX_ARTICLE_MB" in f.reason for f in result.failures)
