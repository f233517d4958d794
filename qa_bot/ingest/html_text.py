"""HTML pages as article text: the visible text, one paragraph per block, and the page's metadata.

Kept apart from `qa_bot.ingest.articles` because reading a browser's idea of "visible" out of markup is its
own problem, with its own tag lists; the corpus loader only needs (metadata, text) back.
"""

from __future__ import annotations

from typing import Any

from bs4 import BeautifulSoup

_INVISIBLE_TAGS = ["script", "style", "noscript", "template", "head", "svg", "iframe", "object", "canvas"]
_BLOCK_TAGS = (  # noqa: SIM905 (a word list reads best as words)
    "p div section article main header footer aside nav blockquote pre h1 h2 h3 h4 h5 h6 ul ol li dl dt "
    "dd table tr figure figcaption hr address details summary"
).split()
_HTML_META_KEYS = {
    "article:published_time": "date",
    "date": "date",
    "pubdate": "date",
    "publishdate": "date",
    "publish-date": "date",
    "datepublished": "date",
    "dc.date": "date",
    "og:site_name": "source",
    "og:url": "url",
    "og:title": "og_title",
}
# Markers put into the tree before extracting text; NUL bytes never reach here (the corpus loader
# rejects files that hold them).
_PARAGRAPH_BREAK = "\x00"
_LINE_BREAK = "\x01"


def parse_html(html: str) -> tuple[dict[str, Any], str]:
    """(metadata, visible text) of an HTML page; the text is empty when the page shows none.

    Title from <title>, else the first <h1>, else og:title; date, source and url from <meta> tags,
    the url else from the canonical link.
    """
    soup = BeautifulSoup(html, "html.parser")
    meta = _html_meta(soup)
    title = _one_line(soup.title.get_text()) if soup.title else None
    first_h1 = soup.find("h1")
    meta["title"] = title or (_one_line(first_h1.get_text(" ")) if first_h1 else None) or meta.get("og_title")
    return meta, _visible_text(soup)


def _one_line(text: str) -> str | None:
    return " ".join(text.split()) or None


def _html_meta(soup: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    for tag in soup.find_all("meta"):
        name = (tag.get("property") or tag.get("name") or tag.get("itemprop") or "").strip().lower()
        key = _HTML_META_KEYS.get(name)
        content = (tag.get("content") or "").strip()
        if key and content and key not in meta:
            meta[key] = content
    canonical = soup.find("link", rel="canonical")
    if "url" not in meta and canonical and canonical.get("href"):
        meta["url"] = canonical["href"].strip()
    return meta


def _visible_text(soup: Any) -> str:
    """The page's visible text: one paragraph per block element, whitespace collapsed as a browser does."""
    for tag in soup.find_all(_INVISIBLE_TAGS):
        tag.decompose()
    for tag in soup.find_all(attrs={"hidden": True}) + soup.find_all(attrs={"aria-hidden": "true"}):
        if not tag.decomposed:
            tag.decompose()
    root = soup.body or soup
    for tag in root.find_all(_BLOCK_TAGS):
        tag.insert_before(_PARAGRAPH_BREAK)
        tag.insert_after(_PARAGRAPH_BREAK)
    for tag in root.find_all("br"):
        tag.replace_with(_LINE_BREAK)
    paragraphs = []
    for block in root.get_text().split(_PARAGRAPH_BREAK):
        lines = (" ".join(line.split()) for line in block.split(_LINE_BREAK))
        paragraph = "\n".join(line for line in lines if line)
        if paragraph:
            paragraphs.append(paragraph)
    return "\n\n".join(paragraphs)
