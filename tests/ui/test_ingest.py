"""Adding articles from the chat (ui/ingest.py): the uploader states the loader's real size limits
and takes no file bigger than the largest, and a file over its type's limit is named and left out
while the rest of the upload is added."""

from __future__ import annotations

import tomllib

import pytest
from streamlit.testing.v1 import AppTest

from qa_bot.ingest.limits import largest_file_megabytes
from qa_bot.settings import PROJECT_ROOT
from tests.fixtures.chat_app import htmls, sidebar_metrics, upload

pytestmark = pytest.mark.integration  # the chat test indexes the seeds: outside the fast subset

APP = str(PROJECT_ROOT / "ui" / "app.py")


def uploader_page(max_article_mb: float) -> None:
    """A page holding the chat's uploader only, under the given QA_BOT_MAX_ARTICLE_MB."""
    from qa_bot.settings import Settings
    from ui.ingest import article_uploader

    article_uploader(Settings(_env_file=None, max_article_mb=max_article_mb), key="uploads")


@pytest.mark.parametrize(
    ("max_article_mb", "help_starts", "ceiling_mb"),
    [
        (1.0, "Up to 1 MB per .txt/.md article, 10 MB per .html/.pdf/.docx;", 10),
        (2.5, "Up to 2.5 MB per .txt/.md article, 25 MB per .html/.pdf/.docx;", 25),
    ],
)
def test_the_uploader_states_the_loaders_limits_not_streamlits_200_mb(
    clean_settings_env, max_article_mb, help_starts, ceiling_mb
):
    app = AppTest.from_function(uploader_page, args=(max_article_mb,), default_timeout=30).run()

    assert not app.exception, app.exception
    [uploader] = app.get("file_uploader")
    assert uploader.proto.help.startswith(help_starts)
    assert "`date 2023-04-16`" in uploader.proto.help  # the formats' help is still there
    assert uploader.proto.max_upload_size_mb == ceiling_mb  # what "Limit … per file" says, not 200MB


def test_streamlit_takes_no_upload_bigger_than_the_largest_file_the_loader_reads():
    config = tomllib.loads((PROJECT_ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))

    assert config["server"]["maxUploadSize"] == largest_file_megabytes() == 10


def test_an_upload_over_its_limit_is_named_and_the_rest_is_added(app_env, down_llm_url):
    app_env(down_llm_url, QA_BOT_LLM="extractive")
    app = AppTest.from_file(APP, default_timeout=120).run()
    big = b"The harbour reopened on Monday. " * 40_000  # 1.3 MB: over a .txt article's 1 MB
    small = b"Tokyo officials opened the new rail line on Monday."

    upload(app, ("big.txt", big, "text/plain"), ("tokyo.txt", small, "text/plain"))

    assert not app.exception, app.exception
    assert [w.value for w in app.sidebar.warning if "Adding" in w.value] == [
        "Adding 2 files: 1 added, 0 updated, 0 unchanged."
    ]
    [fates] = htmls(app.sidebar, "qa-uploads")
    assert "<strong>big.txt</strong>: not saved: file is 1.3 MB, over the 1 MB limit for one article" in fates
    assert "<strong>tokyo.txt</strong>: saved</li>" in fates
    assert sidebar_metrics(app)["Articles"] == "3"  # 2 seeds + tokyo.txt
