"""Under each answer: the passages it cites, and the whole article with the quote marked in context."""

from __future__ import annotations

import logging

import streamlit as st

from qa_bot.answering.answer import Citation
from qa_bot.index.search import Passage
from qa_bot.ingest.articles import Article
from qa_bot.service import QABot
from ui.render import (
    Highlight,
    article_html,
    file_name,
    linkable_url,
    notice_html,
    passage_heading_html,
    passage_html,
    plain_html,
    quote_in_article,
    source_heading_html,
)

logger = logging.getLogger("qa_bot.ui")


def show_citations(bot: QABot, citations: list[Citation], *, key: str) -> None:
    """The sources an answer cites, numbered as shown; each card's heading is where the answer's [n]
    links to (`key` is the exchange's id, which makes the anchors unique on the page)."""
    if not citations:
        return
    st.markdown("**Sources**")
    for citation in citations:
        with st.container(border=True):
            st.html(passage_heading_html(citation.n, citation.passage, anchor=key))
            st.html(passage_html(citation))
            open_article_button(bot, citation.passage, quote_in_article(citation), key=f"{key}-{citation.n}")


def show_planted(planted: list[Passage]) -> None:
    """Sentences of the sources that address an AI assistant: never evidence, shown so people know."""
    if not planted:
        return
    count = len(planted)
    st.html(
        notice_html(
            f"Suspicious text in the sources: {count} sentence{'s' if count > 1 else ''} of the articles "
            "found for this question address an AI assistant instead of the reader (a planted "
            "instruction). They were not used as evidence.",
            "warning",
        )
    )
    with st.expander("Show the suspicious sentences"):
        for passage in planted:
            st.html(passage_heading_html(None, passage))
            st.html(plain_html(passage.text))


def show_retrieved(bot: QABot, passages: list[Passage], *, key: str) -> None:
    """The passages found for a question whose answer failed: the reporter can still read them."""
    if not passages:
        return
    st.markdown("**Retrieved passages** (not checked against an answer)")
    for n, passage in enumerate(passages, start=1):
        with st.container(border=True):
            st.html(passage_heading_html(n, passage))
            st.html(plain_html(passage.text))
            open_article_button(bot, passage, None, key=f"{key}-{n}")


@st.fragment
def open_article_button(bot: QABot, passage: Passage, quote: Highlight | None, *, key: str) -> None:
    # A fragment, as the chat's feedback controls are: opening an article while the next answer is
    # being written must not stop that answer (a full rerun would).
    if st.button("Open the whole article", key=f"article-{key}", icon=":material/article:", type="tertiary"):
        _article_dialog(bot, passage, quote)


@st.dialog("Article", width="large")
def _article_dialog(bot: QABot, passage: Passage, quote: Highlight | None) -> None:
    article = _load_article(bot, passage.article_id)
    if article is None:
        st.warning("This article is no longer in the index (it was removed or re-indexed).")
        return
    st.html(
        source_heading_html(
            None,
            article.title or file_name(article.path) or article.id,
            date=article.date,
            source=article.source,
            url=article.url,
            path=article.path,
        )
    )
    original = linkable_url(article.url)
    if original:  # never a planted address (render.linkable_url)
        st.link_button("Read it on the original site", original, icon=":material/open_in_new:")
    if article.text[passage.start : passage.end] != passage.text:
        st.caption("The article changed after this answer was given, so nothing is marked.")
        st.html(plain_html(article.text))
        return
    st.caption("The cited sentence is marked in yellow; the passage the answer drew on is shaded.")
    st.html(article_html(article.text, passage, quote))


def _load_article(bot: QABot, article_id: str) -> Article | None:
    try:
        return bot.article(article_id)
    except Exception:
        logger.exception("Could not load article %s", article_id)
        return None
