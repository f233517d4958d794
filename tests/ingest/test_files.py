"""Which files a load reads: links inside and outside the folders, loops, pipes; each skip named."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from qa_bot.ingest.articles import CorpusOptions, SkippedFile, load_corpus
from tests.fixtures.article_files import write

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs and symlinks (POSIX)")


def skips(result) -> dict[str, str]:
    return {Path(w.path).name: w.reason for w in result.warnings if isinstance(w, SkippedFile)}


def test_a_link_inside_the_folder_is_read_once_under_the_files_own_path(tmp_path):
    story = write(tmp_path / "news", "2023/story.txt", "The harbour reopened on Thursday.")
    (tmp_path / "news" / "latest.txt").symlink_to(story)

    result = load_corpus([tmp_path / "news"])

    assert [a.path for a in result.articles] == [str(story)]
    assert result.failures == [] and result.warnings == []


def test_a_link_to_a_file_of_another_type_is_listed_not_dropped(tmp_path):
    write(tmp_path, "good.txt", "The harbour reopened on Thursday.")
    write(tmp_path, "data.bin", b"\x00\x01")
    (tmp_path / "story.txt").symlink_to("data.bin")

    result = load_corpus([tmp_path])

    assert skips(result) == {
        "data.bin": "file of unsupported type '.bin'; skipped (supported: .docx, .htm, .html, .json, "
        ".jsonl, .markdown, .md, .pdf, .txt)",
        "story.txt": "link to data.bin, a file of unsupported type '.bin'; skipped (supported: .docx, "
        ".htm, .html, .json, .jsonl, .markdown, .md, .pdf, .txt)",
    }


def test_followed_links_are_read_under_the_link_and_a_loop_back_is_cut(tmp_path):
    news = tmp_path / "news"
    write(news, "local.txt", "The harbour reopened on Thursday.")
    write(tmp_path, "wire.txt", "The wire service reported a storm on Friday.")
    (news / "up").symlink_to("..")  # out of the folder, to a folder that holds it

    followed = load_corpus([news], CorpusOptions(follow_links=True))
    default = load_corpus([news])

    assert [a.path for a in followed.articles] == [str(news / "local.txt"), str(news / "up" / "wire.txt")]
    assert skips(followed) == {"news": f"link to {news}, a folder that contains it (a loop); skipped"}
    assert [a.path for a in default.articles] == [str(news / "local.txt")]
    assert skips(default)["up"].startswith(f"link to {tmp_path}, outside the folders being ingested; skipped")


def test_two_folders_linked_into_each_other_never_hang_the_walk(tmp_path):
    write(tmp_path, "a/story.txt", "The harbour reopened on Thursday.")
    write(tmp_path, "b/wire.txt", "The wire service reported a storm on Friday.")
    (tmp_path / "a" / "to_b").symlink_to(tmp_path / "b")
    (tmp_path / "b" / "to_a").symlink_to(tmp_path / "a")

    both = load_corpus([tmp_path], CorpusOptions(follow_links=True))
    one = load_corpus([tmp_path / "a"], CorpusOptions(follow_links=True))

    # Given both, each folder is read once and the links add nothing.
    assert sorted(Path(a.path).name for a in both.articles) == ["story.txt", "wire.txt"]
    assert both.warnings == []
    # Given one, the link out is followed and the link back is a loop.
    assert [a.path for a in one.articles] == [
        str(tmp_path / "a" / "story.txt"),
        str(tmp_path / "a" / "to_b" / "wire.txt"),
    ]
    assert skips(one) == {"to_a": f"link to {tmp_path / 'a'}, a folder that contains it (a loop); skipped"}


def test_a_pipe_or_broken_link_named_on_the_command_line_is_a_failure_at_once(tmp_path):
    os.mkfifo(tmp_path / "pipe.txt")
    (tmp_path / "gone.txt").symlink_to("nowhere.txt")

    result = load_corpus([tmp_path / "pipe.txt", tmp_path / "gone.txt"])

    assert [(Path(f.path).name, f.reason) for f in result.failures] == [
        ("pipe.txt", "a named pipe (FIFO), not a regular file or folder; give a file or a folder"),
        ("gone.txt", "broken link: it points to nowhere.txt, which does not exist; check the path"),
    ]
