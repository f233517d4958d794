"""Loading articles: every format, metadata headers, dates, ids, and clear failures for bad files."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from qa_bot.ingest.articles import (
    SUPPORTED_SUFFIXES,
    Article,
    LoadFailure,
    LoadWarning,
    SkippedFile,
    content_id,
    estimate_articles,
    iter_articles,
    load_corpus,
    normalise_date,
)
from tests.fixtures.article_files import load_one, write
from tests.fixtures.paths import SEEDS

DATED_SEED = SEEDS / "000_092cfdeac746b4f0.txt"
UNDATED_SEED = SEEDS / "003_0028640ed213d995.txt"

# --- the seeds ------------------------------------------------------------------------------------


def test_seed_date_header_sharing_the_first_line_becomes_metadata_not_body():
    # The file starts " date 2023-04-16 External Affairs Minister ..." on one line.
    article = load_one(DATED_SEED)

    assert article.date == "2023-04-16"
    assert article.date_int == 20230416
    assert article.text.startswith("External Affairs Minister S Jaishankar")
    assert "2023-04-16" not in article.text
    assert (
        article.title
        == "External Affairs Minister S Jaishankar had a conversation with the US Secretary of State…"
    )
    assert article.path == article.source_key == str(DATED_SEED)


def test_seed_without_header_keeps_its_whole_text():
    article = load_one(UNDATED_SEED)

    assert article.date is None
    assert article.date_int is None
    assert article.text == UNDATED_SEED.read_text(encoding="utf-8").strip()
    assert article.text.startswith("External affairs minister S Jaishankar and US secretary")
    assert (
        article.title == "External affairs minister S Jaishankar and US secretary of state Antony Blinken on…"
    )


def test_seed_folder_loads_both_articles_in_file_name_order():
    result = load_corpus([SEEDS])

    assert [Path(a.path).name for a in result.articles] == [DATED_SEED.name, UNDATED_SEED.name]
    assert result.failures == result.warnings == []


# --- plain text and markdown headers ---------------------------------------------------------------


HEADERS = [
    pytest.param(
        "budget.txt",
        "Title: Senate passes the budget\nsource CNN\nurl https://www.cnn.com/2023/04/16/budget\n"
        "DATE: April 16, 2023\nauthor Jane Doe\n\n"
        "The Senate passed the budget on Sunday.\nIt now goes to the House.\n",
        {
            "title": "Senate passes the budget",
            "source": "CNN",
            "url": "https://www.cnn.com/2023/04/16/budget",
            "date": "2023-04-16",
            "text": "The Senate passed the budget on Sunday.\nIt now goes to the House.",
        },
        id="text-header-lines",
    ),
    pytest.param(
        "story.md",
        "---\ntitle: Rivers flood the valley\ndate: 2022-06-16\nsource: cnn.com\n"
        "url: https://www.cnn.com/flood\ntags: [weather]\n---\n\n"
        "# Rivers flood the valley\n\nHeavy rain fell.\n",
        {
            "title": "Rivers flood the valley",
            "source": "cnn.com",
            "url": "https://www.cnn.com/flood",
            "date": "2022-06-16",
            "text": "# Rivers flood the valley\n\nHeavy rain fell.",
        },
        id="markdown-front-matter",
    ),
]


@pytest.mark.parametrize(("name", "content", "expected"), HEADERS)
def test_header_lines_and_front_matter_become_metadata_not_body(tmp_path, name, content, expected):
    article = load_one(write(tmp_path, name, content))

    assert {field: getattr(article, field) for field in expected} == expected


def test_source_defaults_to_the_url_host_without_www(tmp_path):
    path = write(tmp_path, "a.txt", "url: https://www.usatoday.com/story/news/x\n\nThe body of the story.")

    assert load_one(path).source == "usatoday.com"


@pytest.mark.parametrize(
    "text",
    [
        "Title IX was signed into law in 1972.\nIt changed college sports.",
        "Date night ideas for couples on a budget\nStart with a picnic in the park.",
        "Source code for the app leaked on Monday, the company said.\nIt was posted online.",
    ],
)
def test_prose_that_starts_with_a_header_word_stays_in_the_body(tmp_path, text):
    article = load_one(write(tmp_path, "prose.txt", text))

    assert article.text == text
    assert article.title == text.split("\n")[0]  # the first line as the title, not "IX was signed ..."
    assert article.date is None and article.source is None


def test_crlf_and_byte_order_mark_are_handled(tmp_path):
    path = write(
        tmp_path, "windows.txt", "\ufeffdate: 2023-04-16\r\n\r\nFirst line.\r\nSecond line.\r\n".encode()
    )

    article = load_one(path)

    assert article.date == "2023-04-16"
    assert article.text == "First line.\nSecond line."


@pytest.mark.parametrize(
    ("name", "content", "title"),
    [
        (
            "short.txt",
            "\n\n  Rivers flood the valley  \n\nHeavy rain fell all week.",
            "Rivers flood the valley",
        ),
        ("heading.md", "## Budget passes ##\n\nThe vote was 51 to 49.", "Budget passes"),
        ("bold.md", "**Budget passes**\n\nThe vote was 51 to 49.", "Budget passes"),
        (
            "long.txt",
            "date: 2023-04-16\n\nThe city council voted on Monday to close the old bridge to cars "
            "for good, after engineers found cracks in two of its piers.\nTraffic moves to the ring road.",
            "The city council voted on Monday to close the old bridge to cars for good, after…",
        ),
        ("one-word.txt", "x" * 120, "x" * 89 + "…"),
    ],
)
def test_without_a_title_header_the_first_line_is_the_title(tmp_path, name, content, title):
    article = load_one(write(tmp_path, name, content))

    assert article.title == title
    assert len(article.title) <= 90


def test_a_title_header_wins_over_the_first_line(tmp_path):
    article = load_one(write(tmp_path, "a.txt", "title: The real headline\n\nFirst line of the body.\nMore."))

    assert article.title == "The real headline"
    assert article.text == "First line of the body.\nMore."


def test_markdown_heading_is_the_title_and_stays_in_the_body(tmp_path):
    path = write(tmp_path, "story.md", "date 2023-01-02\n\n# Budget passes\n\nThe vote was 51 to 49.")

    article = load_one(path)

    assert article.title == "Budget passes"
    assert article.date == "2023-01-02"
    assert article.text == "# Budget passes\n\nThe vote was 51 to 49."


def test_markdown_with_invalid_front_matter_is_a_named_failure(tmp_path):
    path = write(tmp_path, "bad.md", "---\ntitle: [unclosed\ndate: 2023-01-01\n---\nBody text.")

    result = load_corpus([path])

    assert result.articles == []
    assert result.failures[0].path == str(path)
    assert "front matter" in result.failures[0].reason and "YAML" in result.failures[0].reason


# --- json and jsonl --------------------------------------------------------------------------------


def test_json_object_is_one_article_with_its_own_id(tmp_path):
    record = {
        "id": 42,
        "text": "Body of the story.",
        "title": "A title",
        "date": "16 April 2023",
        "extra": [1],
    }
    path = write(tmp_path, "one.json", json.dumps(record))

    article = load_one(path)

    assert (article.id, article.title, article.date) == ("42", "A title", "2023-04-16")
    assert article.source_key == "id:42"  # the record's own id identifies it, whichever file holds it


def test_json_list_gives_one_article_per_record(tmp_path):
    records = [{"text": "First story."}, {"text": "Second story.", "url": "https://edition.cnn.com/x"}]
    path = write(tmp_path, "many.json", json.dumps(records))

    articles = load_corpus([path]).articles

    assert [a.text for a in articles] == ["First story.", "Second story."]
    assert articles[0].id == content_id("First story.")
    assert articles[1].source == "edition.cnn.com"
    assert {a.source_key for a in articles} == {f"{path}#{a.id}" for a in articles}


def test_jsonl_reads_every_field_it_knows_and_ignores_the_rest(tmp_path):
    lines = [
        {"id": "a1", "url": "https://www.cnn.com/a", "title": "Flood", "date": "2022-06-16",
         "source": "cnn.com", "text": "Rivers rose.", "origin": ["gcs"], "weeks": ["2022-06-17"]},
        {"text": "No metadata at all."},
    ]  # fmt: skip
    path = write(tmp_path, "corpus.jsonl", "\n".join(json.dumps(line) for line in lines) + "\n\n")

    first, second = load_corpus([path]).articles

    assert first == Article(
        id="a1", text="Rivers rose.", title="Flood", date="2022-06-16", source="cnn.com",
        url="https://www.cnn.com/a", path=str(path), source_key="id:a1",
    )  # fmt: skip
    assert second.id == content_id("No metadata at all.")
    assert second.title is second.date is second.source is None


def test_one_bad_jsonl_line_does_not_drop_the_other_records(tmp_path):
    path = write(
        tmp_path,
        "mixed.jsonl",
        '{"id": "1", "text": "Good one."}\n{"id": "2", "text": \n{"id": "3", "title": "no text"}\n'
        '{"id": "4", "text": "   "}\n["not", "an", "object"]\n{"id": "5", "text": "Good two."}\n',
    )

    result = load_corpus([path])

    assert [a.id for a in result.articles] == ["1", "5"]
    reasons = [f.reason for f in result.failures]
    assert all(f.path == str(path) for f in result.failures)
    assert reasons[0].startswith("line 2: invalid JSON")
    assert reasons[1].startswith("line 3: no `text` field")
    assert reasons[2].startswith("line 4: field `text` is empty")
    assert reasons[3].startswith("line 5: is a JSON list")


def test_json_record_without_text_names_its_index(tmp_path):
    path = write(tmp_path, "list.json", json.dumps([{"text": "Fine."}, {"body": "wrong field"}]))

    result = load_corpus([path])

    assert [a.text for a in result.articles] == ["Fine."]
    assert result.failures == [
        LoadFailure(str(path), "record at index 1: no `text` field; every article needs its body in `text`")
    ]


def test_a_file_that_is_not_json_lines_gives_up_with_one_clear_failure(tmp_path):
    path = write(tmp_path, "notes.jsonl", "just some notes\n" * 100)

    failures = load_corpus([path]).failures

    assert len(failures) == 21
    assert "JSON Lines needs one JSON object per line" in failures[-1].reason


# --- bad input ---------------------------------------------------------------------------------------

BAD_FILES = [
    ("binary.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary data (NUL bytes)"),
    ("utf16.txt", "date 2023-01-01\nHello".encode("utf-16"), "binary data (NUL bytes)"),
    ("latin1.txt", "Caf\xe9 society".encode("latin-1"), "not UTF-8 text (byte 0xe9 at offset 3)"),
    ("empty.md", b"", "empty file (0 bytes)"),
    ("blank.txt", b"  \n\n  \n", "no article text"),
    ("only_header.txt", b"title: Nothing else\ndate: 2023-01-01\n", "no article text"),
    ("scripts.html", b"<html><script>var a = 1;</script><style>p{}</style></html>", "no visible text"),
    ("broken.json", b'{"text": "unterminated', "invalid JSON at line 1, column 10"),
    ("number.json", b"42", "expected an object with a `text` field"),
    ("empty_list.json", b"[]", "empty list"),
    ("empty.jsonl", b"\n\n", "empty file: no JSON lines"),
    ("binary.jsonl", b'{"text": "a"}\n\x00\x01\x02', "binary data (NUL bytes)"),
]


@pytest.mark.parametrize(("name", "content", "reason"), BAD_FILES, ids=[name for name, _, _ in BAD_FILES])
def test_bad_file_is_a_named_failure_and_the_good_files_still_load(tmp_path, name, content, reason):
    write(tmp_path, "good.txt", "A perfectly good article.")
    bad = write(tmp_path, name, content)

    result = load_corpus([tmp_path])

    assert [Path(a.path).name for a in result.articles] == ["good.txt"]
    assert len(result.failures) == 1
    assert result.failures[0].path == str(bad)
    assert reason in result.failures[0].reason


def test_unsupported_files_are_skipped_and_listed_in_a_folder_but_fail_when_named(tmp_path):
    write(tmp_path, "good.txt", "A perfectly good article.")
    old_word = write(tmp_path, "letter.doc", b"\xd0\xcf\x11\xe0")

    in_folder = load_corpus([tmp_path])
    named = load_corpus([old_word])

    assert len(in_folder.articles) == 1 and in_folder.failures == []
    assert [(w.path, type(w)) for w in in_folder.warnings] == [(str(old_word), SkippedFile)]
    assert "unsupported type '.doc'; skipped" in in_folder.warnings[0].reason
    assert named.articles == []
    assert "unsupported file type '.doc'" in named.failures[0].reason
    assert ".jsonl" in named.failures[0].reason


def test_missing_path_and_empty_folder_are_failures(tmp_path):
    (tmp_path / "empty").mkdir()

    result = load_corpus([tmp_path / "nope.txt", tmp_path / "empty"])

    assert result.articles == []
    assert [f.path for f in result.failures] == [str(tmp_path / "nope.txt"), str(tmp_path / "empty")]
    assert "no such file or folder" in result.failures[0].reason
    assert "folder has no article files" in result.failures[1].reason


def test_unreadable_date_keeps_the_article_and_warns(tmp_path):
    path = write(tmp_path, "a.txt", "date: sometime last spring\n\nThe body.")

    result = load_corpus([path])

    assert [(a.text, a.date) for a in result.articles] == [("The body.", None)]
    assert result.failures == []
    assert result.warnings == [
        LoadWarning(
            str(path),
            "date 'sometime last spring' not understood (use e.g. 2023-04-16 or April 16, 2023); "
            "loaded without a date, so date filters and recency ranking will not apply to it",
        )
    ]


def test_unreadable_date_in_a_record_names_the_line(tmp_path):
    path = write(tmp_path, "c.jsonl", '{"text": "Fine.", "date": "2023-13-45"}\n')

    result = load_corpus([path])

    assert result.articles[0].date is None
    assert result.warnings[0].reason.startswith("line 1: date '2023-13-45' not understood")


# --- ids, duplicates, order --------------------------------------------------------------------------


def test_content_ids_are_stable_and_follow_the_text(tmp_path):
    one = load_one(write(tmp_path / "a", "story.txt", "Same words here.\nSecond line."))
    same = load_one(write(tmp_path / "b", "copy.txt", "date 2023-01-01 Same words   here.\n\nSecond line.\n"))
    changed = load_one(write(tmp_path / "c", "story.txt", "Same words here.\nSecond line!"))

    # The documented rule, spelled out: ids must not change between releases.
    assert one.id == same.id == hashlib.sha1(b"Same words here. Second line.").hexdigest()[:16]
    assert changed.id != one.id


def test_duplicate_ids_keep_the_first_and_report_the_rest(tmp_path):
    first = write(tmp_path, "a.jsonl", '{"id": "x", "text": "First copy."}\n{"id": "x", "text": "Second."}\n')
    copy = write(tmp_path, "b.txt", "Identical text.")
    write(tmp_path, "c.txt", "Identical text.")

    result = load_corpus([tmp_path])

    assert [a.text for a in result.articles] == ["First copy.", "Identical text."]
    assert result.articles[1].path == str(copy)
    assert len(result.failures) == 2
    assert f"duplicate article id 'x' (first loaded from {first})" in result.failures[0].reason
    assert result.failures[1].path == str(tmp_path / "c.txt")


def test_folders_are_read_recursively_in_sorted_order_skipping_hidden_entries(tmp_path):
    for name in ["b/2.txt", "b/1.md", "a.txt", "c/d/e.txt", ".git/x.txt", ".hidden.txt", "b/.swp.txt"]:
        write(tmp_path, name, f"Article {name}")

    names = [Path(a.path).relative_to(tmp_path).as_posix() for a in load_corpus([tmp_path]).articles]

    assert names == ["a.txt", "b/1.md", "b/2.txt", "c/d/e.txt"]


def test_a_file_named_twice_loads_once_and_a_lone_path_is_accepted(tmp_path):
    path = write(tmp_path, "a.txt", "Only once.")

    assert len(load_corpus([tmp_path, path]).articles) == 1
    assert len(load_corpus(str(path)).articles) == 1


def test_iter_articles_streams_records_before_reading_the_rest(tmp_path):
    path = write(tmp_path, "big.jsonl", '{"text": "First."}\n{"text": "Second."}\n')
    stream = iter_articles([path])

    assert next(stream).text == "First."
    path.write_text('{"text": "First."}\n{"text": "Second."}\n{"text": "Third, appended."}\n')
    assert [item.text for item in stream] == ["Second.", "Third, appended."]


def test_supported_suffixes_cover_every_documented_format():
    assert {".txt", ".md", ".html", ".htm", ".json", ".jsonl", ".pdf", ".docx"} <= SUPPORTED_SUFFIXES


# --- dates -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "iso"),
    [
        ("2023-04-16", "2023-04-16"),
        ("2023-04-16T10:00:00Z", "2023-04-16"),
        ("2023-04-16T23:30:00-05:00", "2023-04-16"),
        ("April 16, 2023", "2023-04-16"),
        ("16 April 2023", "2023-04-16"),
        ("Apr. 16, 2023", "2023-04-16"),
        ("2023/04/16", "2023-04-16"),
        ("Sunday, April 16, 2023", "2023-04-16"),
        ("April 2023", None),
        ("Monday", None),
        ("2023-02-30", None),
        ("not a date", None),
        ("", None),
        (20230416, None),
    ],
)
def test_dates_are_normalised_to_iso(raw, iso):
    assert normalise_date(raw) == iso


@pytest.mark.parametrize("header", ["date 16 April 2023", "Date: April 16, 2023", "published 2023/04/16"])
def test_date_header_forms_share_the_line_with_the_body(tmp_path, header):
    article = load_one(write(tmp_path, "a.txt", f" {header} The minister spoke on Sunday."))

    assert (article.date, article.text) == ("2023-04-16", "The minister spoke on Sunday.")


def test_the_progress_bar_scale_counts_a_jsonl_line_per_article_and_a_file_per_other_article(tmp_path):
    (tmp_path / "a.txt").write_text("date 2024-01-02\nOne story.\n")
    (tmp_path / "b.md").write_text("Another story.\n")
    (tmp_path / "photo.png").write_bytes(b"\x89PNG")  # skipped by an ingest: not counted
    records = [json.dumps({"id": str(n), "text": f"story {n}"}) for n in range(3)]
    (tmp_path / "many.jsonl").write_text("\n".join(records) + "\n\n")

    assert estimate_articles([tmp_path]) == 5
