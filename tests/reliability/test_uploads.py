"""Uploads from the chat: each file keeps its own name and bytes, none replaces another, each fate is shown.

Most tests call `save_uploads` with Streamlit's own `UploadedFile`; the last drives the real chat
page (AppTest), where the user sees the summary and one line per uploaded file.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
from streamlit.proto.Common_pb2 import FileURLs
from streamlit.runtime.uploaded_file_manager import UploadedFile, UploadedFileRec
from streamlit.testing.v1 import AppTest

from qa_bot.ingest.articles import CorpusOptions, load_corpus
from qa_bot.settings import PROJECT_ROOT
from ui.ingest import safe_filename, save_uploads

TOKYO = b"Tokyo officials opened the new rail line on Monday."
BEIJING = b"Beijing announced new air quality rules on Tuesday."
MOSCOW = b"The Moscow metro added three stations on Wednesday."
OSAKA = b"Osaka opened a new harbour bridge on Thursday."


def uploaded(name: str, data: bytes) -> UploadedFile:
    return UploadedFile(UploadedFileRec(file_id=name, name=name, type="text/plain", data=data), FileURLs())


def stored(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def test_non_latin_names_are_kept_and_no_upload_replaces_another(tmp_path):
    folder = tmp_path / "uploads"

    saved = save_uploads(
        [uploaded("日本.txt", TOKYO), uploaded("中国.txt", BEIJING), uploaded("Новости.txt", MOSCOW)], folder
    )

    assert stored(folder) == {"日本.txt": TOKYO, "中国.txt": BEIJING, "Новости.txt": MOSCOW}
    assert [(s.name, s.path.name, s.fate) for s in saved] == [
        ("日本.txt", "日本.txt", "saved"),
        ("中国.txt", "中国.txt", "saved"),
        ("Новости.txt", "Новости.txt", "saved"),
    ]
    assert len(load_corpus([folder]).articles) == 3


def test_a_different_file_under_a_taken_name_gets_a_number_and_says_so(tmp_path):
    folder = tmp_path / "uploads"
    save_uploads([uploaded("日本.txt", TOKYO)], folder)

    [again] = save_uploads([uploaded("日本.txt", BEIJING)], folder)
    [third] = save_uploads([uploaded("日本.txt", MOSCOW)], folder)

    assert stored(folder) == {"日本.txt": TOKYO, "日本 (2).txt": BEIJING, "日本 (3).txt": MOSCOW}
    assert again.fate == "saved as 日本 (2).txt: another file was uploaded as 日本.txt"
    assert third.path == folder / "日本 (3).txt"


def test_the_same_bytes_uploaded_twice_are_stored_once_under_any_name(tmp_path):
    folder = tmp_path / "uploads"

    saved = save_uploads(
        [uploaded("日本.txt", TOKYO), uploaded("日本.txt", TOKYO), uploaded("tokyo copy.txt", TOKYO)], folder
    )

    assert stored(folder) == {"日本.txt": TOKYO}
    assert [s.path.name for s in saved] == ["日本.txt"] * 3
    assert [s.fate for s in saved[1:]] == ["already uploaded as 日本.txt; not stored twice"] * 2
    result = load_corpus([folder])
    assert len(result.articles) == 1 and result.failures == []  # no "duplicate article id" failure


@pytest.mark.parametrize(
    ("name", "kept_as"),
    [
        ("../../etc/passwd.txt", "passwd.txt"),
        ("..\\..\\evil.txt", "evil.txt"),
        ("/abs/path/日本.txt", "日本.txt"),
        ("..", "upload.txt"),
        (".hidden.txt", "hidden.txt"),  # a hidden file would be left out of the next re-index
        ('a<b>:"c"|d?*.txt', "a_b_c_d_.txt"),
        ("evil\u202etxt.exe.md", "eviltxt.exe.md"),  # no right-to-left override to disguise the type
        ("tab\there.txt", "tab_here.txt"),
    ],
)
def test_names_cannot_leave_the_uploads_folder_or_hide_or_disguise_themselves(tmp_path, name, kept_as):
    folder = tmp_path / "uploads"

    [saved] = save_uploads([uploaded(name, TOKYO)], folder)

    assert saved.path == folder / kept_as and saved.path.read_bytes() == TOKYO
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == [kept_as]


def test_names_are_stored_composed_so_one_name_is_one_file(tmp_path):
    folder = tmp_path / "uploads"
    decomposed = unicodedata.normalize("NFD", "Café.txt")  # as macOS writes it

    save_uploads([uploaded(decomposed, TOKYO), uploaded("Café.txt", BEIJING)], folder)

    assert stored(folder) == {"Café.txt": TOKYO, "Café (2).txt": BEIJING}
    assert all(unicodedata.is_normalized("NFC", name) for name in stored(folder))


def test_a_very_long_name_is_shortened_keeping_its_type(tmp_path):
    name = "報道" * 100 + ".md"  # 603 bytes in UTF-8; a file system allows 255

    kept = safe_filename(name)

    assert kept.endswith(".md") and len(kept.encode()) <= 255 and kept.startswith("報道報道")


def test_a_file_over_the_size_limit_is_not_stored_and_says_why(tmp_path):
    folder = tmp_path / "uploads"

    [saved] = save_uploads(
        [uploaded("huge.txt", b"word " * 400)], folder, CorpusOptions(max_article_bytes=1000)
    )

    assert saved.path is None and not folder.joinpath("huge.txt").exists()
    assert saved.fate.startswith("not saved: file is 2 KB, over the 1 KB limit for one article")


def test_the_chat_adds_every_upload_and_lists_each_files_fate(tmp_path, app_env, down_llm_url):
    app_env(down_llm_url, QA_BOT_LLM="extractive")
    app = AppTest.from_file(str(PROJECT_ROOT / "ui" / "app.py"), default_timeout=120)
    app.run()
    files = [
        ("日本.txt", TOKYO),
        ("中国.txt", BEIJING),
        ("Новости.txt", MOSCOW),
        ("日本.txt", OSAKA),
        ("中国.txt", BEIJING),
    ]

    app.sidebar.file_uploader[0].set_value([(name, data, "text/plain") for name, data in files]).run()
    [button] = [b for b in app.sidebar.button if b.label == "Add to the index"]
    button.click().run()

    assert not app.exception, app.exception
    assert [s.value for s in app.sidebar.success if "Adding" in s.value] == [
        "Adding 5 files: 4 added, 0 updated, 0 unchanged."
    ]
    [fates] = [h.value for h in app.sidebar.html if 'class="qa-uploads"' in h.value]
    assert fates.count("</li>") == 5
    assert "<strong>Новости.txt</strong>: saved</li>" in fates
    assert "<strong>日本.txt</strong>: saved as 日本 (2).txt: another file was uploaded as 日本.txt" in fates
    assert "<strong>中国.txt</strong>: already uploaded as 中国.txt; not stored twice" in fates
    assert {m.label: m.value for m in app.sidebar.metric}["Articles"] == "6"  # 2 seeds + 4
