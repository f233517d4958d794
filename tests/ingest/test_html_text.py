"""HTML articles: visible text only, one paragraph per block, and metadata from the page's tags."""

from __future__ import annotations

from tests.fixtures.article_files import load_one, write

PAGE = """<!doctype html>
<html><head>
  <title>Storm closes the park | Example News</title>
  <meta property="article:published_time" content="2022-06-16T14:30:00Z">
  <meta property="og:site_name" content="Example News">
  <meta property="og:url" content="https://www.example.com/storm">
  <style>p { color: red }</style>
  <script>var tracking = "do not index me";</script>
</head>
<body>
  <nav><a href="/">Home</a></nav>
  <h1>Storm closes the park</h1>
  <p>The park closed on <b>Thursday</b> after
     record rain.</p>
  <script>document.write("hidden script text")</script>
  <noscript>Enable JavaScript please</noscript>
  <template><p>template text</p></template>
  <div hidden>hidden promo</div>
  <p>Officials expect to reopen<br>on Monday.</p>
  <!-- an HTML comment -->
</body></html>"""


def test_html_keeps_visible_text_only_and_reads_meta_tags(tmp_path):
    article = load_one(write(tmp_path, "storm.html", PAGE))

    assert article.title == "Storm closes the park | Example News"
    assert article.date == "2022-06-16"
    assert article.source == "Example News"
    assert article.url == "https://www.example.com/storm"
    assert article.text == (
        "Home\n\nStorm closes the park\n\nThe park closed on Thursday after record rain.\n\n"
        "Officials expect to reopen\non Monday."
    )
    for invisible in ("do not index", "hidden script", "Enable JavaScript", "template text", "hidden promo",
                      "color: red", "HTML comment"):  # fmt: skip
        assert invisible not in article.text


def test_html_title_falls_back_to_the_first_h1(tmp_path):
    page = "<html><body><h1>Main <i>headline</i></h1><h1>Second</h1><p>Text of the story.</p></body></html>"

    assert load_one(write(tmp_path, "page.htm", page)).title == "Main headline"
