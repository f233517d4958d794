"""Untrusted text (articles, model answers) reaches the page as text: no HTML, links or images."""

from __future__ import annotations

import html
from html.parser import HTMLParser

import pytest

from qa_bot.answering.answer import Answer, AnswerSentence, Citation
from qa_bot.index.search import Passage
from ui.render import (
    answer_html,
    article_html,
    as_displayed,
    caption_html,
    copy_text,
    failures_html,
    model_html,
    notice_html,
    passage_html,
    plain_html,
    quote_in_article,
    quoted_text,
    safe_link,
    source_heading_html,
    stopped_html,
    streaming_html,
)

HOSTILE = (
    "Officials met on Sunday. <script>alert(1)</script> and <img src=x onerror=alert(1)> then "
    '[click](javascript:alert(1)) and ![x](http://evil/x.png) <a href="http://evil">x</a> '
    "<iframe src=//evil></iframe> :red[styled] $x^2$ & &amp; \"quoted\" 'single' `code` *bold* _it_ \\"
)
# The tags our renderer writes; untrusted text must never add one.
OUR_TAGS = {"div", "span", "mark", "strong", "a", "ul", "li"}
OUR_ATTRIBUTES = {"class", "style", "title", "href", "target", "rel"}


class _Tags(HTMLParser):
    """Every tag (with attributes) and the text a browser would show."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.text = ""

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text += data


def parse(markup: str) -> _Tags:
    parser = _Tags()
    parser.feed(markup)
    parser.close()
    return parser


def assert_inert(markup: str, shown_text: str) -> None:
    parsed = parse(markup)
    for tag, attributes in parsed.tags:
        assert tag in OUR_TAGS, f"untrusted text produced <{tag}>"
        assert set(attributes) <= OUR_ATTRIBUTES, attributes
        assert tag != "a", "untrusted text produced a link"
        assert "javascript" not in attributes.get("style", "") + attributes.get("class", "")
    assert shown_text in parsed.text  # shown literally, every character of it


def passage_with(text: str, start: int = 100) -> Passage:
    return Passage(chunk_id="c1", article_id="a1", text=text, start=start, end=start + len(text), title="T")


def citation_for(passage: Passage, quote: str) -> Citation:
    offset = passage.text.index(quote)
    return Citation(1, passage, passage.start + offset, passage.start + offset + len(quote), 0.9)


# --- HTML --------------------------------------------------------------------------------------------


def test_a_hostile_passage_is_rendered_inertly_with_its_quote_marked():
    passage = passage_with(HOSTILE)
    markup = passage_html(citation_for(passage, "Officials met on Sunday."))

    assert_inert(markup, HOSTILE)
    assert '<mark class="qa-quote" style="' in markup
    assert markup.count("<mark") == 1
    assert parse(markup.split("<mark", 1)[1].split("</mark>", 1)[0].split(">", 1)[1]).text == (
        "Officials met on Sunday."
    )


def test_a_quote_that_is_itself_hostile_stays_text_inside_the_mark():
    passage = passage_with(HOSTILE)
    markup = passage_html(citation_for(passage, "<script>alert(1)</script>"))

    assert_inert(markup, HOSTILE)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;</mark>" in markup


def test_the_whole_article_shades_the_passage_and_marks_the_quote_by_article_offsets():
    article = "Header line. " * 10 + HOSTILE + " Later text."
    start = article.index("Officials")
    passage = passage_with(HOSTILE, start=start)
    citation = citation_for(passage, "Officials met on Sunday.")

    markup = article_html(article, passage, quote_in_article(citation))

    assert_inert(markup, article)
    marked = markup.split('<mark class="qa-quote"', 1)[1].split("</mark>", 1)[0]
    assert marked.endswith(">Officials met on Sunday.")
    before_context = markup.split('class="qa-context"', 1)[0]
    assert "Header line." in before_context and "Later text." not in before_context


def test_offsets_outside_the_passage_mark_nothing_and_lose_no_text():
    passage = passage_with("Short passage.")
    citation = Citation(1, passage, 0, 5, 0.5)  # points before the passage starts

    markup = passage_html(citation)
    assert "<mark" not in markup and parse(markup).text == "Short passage."
    assert quoted_text(citation) == ""


def test_streamed_stopped_and_plain_text_are_escaped():
    assert_inert(streaming_html(HOSTILE), HOSTILE)
    assert_inert(stopped_html(HOSTILE), HOSTILE)
    assert_inert(plain_html(HOSTILE), HOSTILE)


def test_a_highlighted_quote_is_marked_in_yellow_not_styled_as_a_block_quote():
    markup = passage_html(citation_for(passage_with("Officials met on Sunday."), "Officials met on Sunday."))
    style = markup.split('<mark class="qa-quote" style="', 1)[1].split('"', 1)[0]
    assert "background: rgba(255, 196, 0" in style and "border-left" not in style


# --- numbering as shown ------------------------------------------------------------------------------


def cited(n: int, title: str, **fields) -> Citation:
    passage = Passage(
        chunk_id=f"c{n}", article_id=f"a{n}", text="Text.", start=0, end=5, title=title, **fields
    )
    return Citation(n, passage, 0, 5, 1.0)


SENTENCES = [
    AnswerSentence("They met on Sunday.", [7], True),
    AnswerSentence("It rained.", [2, 7], True),
    AnswerSentence("A quote in the text.", [], False),
]
GAPPED = Answer(
    "q",
    "They met on Sunday [7]. It rained [2][7]. A quote [9] in the text.",
    False,
    SENTENCES,
    [
        cited(2, "Rain", date="2023-04-16", url="https://news.example/rain"),
        cited(7, "Meeting", url="javascript:alert(1)"),
    ],
)


def test_sources_are_numbered_1_2_in_the_order_the_answer_cites_them_and_the_stored_answer_keeps_its_own():
    shown = as_displayed(GAPPED)

    assert shown.text == "They met on Sunday [1]. It rained [2][1]. A quote in the text."  # [9] cites nothing
    assert [(c.n, c.passage.title) for c in shown.citations] == [(1, "Meeting"), (2, "Rain")]
    assert [s.citations for s in shown.sentences] == [[1], [2, 1], []]
    assert GAPPED.text.startswith("They met on Sunday [7].") and [c.n for c in GAPPED.citations] == [2, 7]


def test_each_marker_links_to_its_source_card():
    shown = as_displayed(GAPPED)
    markup = answer_html(shown, anchor="x1")
    heading = source_heading_html(1, "Meeting", date=None, source=None, url=None, path=None, anchor="x1")

    assert '<a class="qa-marker" href="#qa-source-x1-1"' in markup and 'href="#qa-source-x1-2"' in markup
    assert '<div class="qa-source-title" id="qa-source-x1-1">' in heading
    assert "<a " not in answer_html(shown)  # without an anchor (the review page): styled, not linked


def test_the_copied_answer_lists_its_sources_as_numbered_on_the_page():
    text = copy_text(as_displayed(GAPPED))

    assert text == (
        "They met on Sunday [1]. It rained [2][1]. A quote in the text.\n\n"
        "Sources:\n"
        "[1] Meeting, undated\n"  # a javascript: address is not a source's URL
        "[2] Rain, 2023-04-16, https://news.example/rain\n"
    )


def test_an_answer_marks_unverified_sentences_and_escapes_model_output():
    answer = Answer(
        question="q",
        text="They met on Sunday [1]. <img src=x onerror=alert(1)> They also ate cake.",
        refused=False,
        sentences=[
            AnswerSentence("They met on Sunday.", [1], True),
            AnswerSentence("<img src=x onerror=alert(1)> They also ate cake.", [], False, "'cake' is absent"),
        ],
    )
    markup = answer_html(answer)

    assert_inert(markup, "They met on Sunday")
    parsed = parse(markup)
    assert "<img src=x onerror=alert(1)> They also ate cake." in parsed.text
    assert parsed.text.count("⚠ unverified") == 1
    # The reason it is unverified is the tooltip, escaped like everything else.
    tooltip = 'title="Not verified: &#x27;cake&#x27; is absent">'
    unverified = markup.split(tooltip, 1)[1].split("</span>", 1)[0]
    assert html.unescape(unverified) == "<img src=x onerror=alert(1)> They also ate cake."
    assert ">[1]</span>" in markup  # the citation marker, styled


def test_an_article_url_is_linked_only_when_it_is_http():
    assert safe_link("javascript:alert(1)") is None
    assert safe_link("data:text/html,<script>alert(1)</script>") is None
    link = safe_link('https://example.com/a?b="c"<x>')
    assert link.startswith('<a href="https://example.com/a?b=&quot;c&quot;&lt;x&gt;"')
    assert 'rel="noopener noreferrer nofollow"' in link

    heading = source_heading_html(
        1, "<b>T</b>", date="2023-04-16", source=None, url="javascript:alert(1)", path=None
    )
    assert "<a" not in heading and "javascript:alert(1)" in parse(heading).text and "<b>" not in heading


# --- messages with untrusted text ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "render",
    [
        lambda text: notice_html(text, "error"),
        lambda text: notice_html(text, "info"),
        caption_html,
        lambda text: failures_html([(text, text)]),
        lambda text: model_html(text, text),
    ],
)
def test_messages_show_untrusted_text_literally_and_link_nothing(render):
    """Bare URLs too: Streamlit's Markdown would link them even when escaped, so none of this is Markdown."""
    text = HOSTILE + " see http://evil.example/x and www.evil.example and a@evil.example"
    assert_inert(render(text), text)
