"""HTML pages as article text: the visible text, one paragraph per block, and the page's metadata.

Kept apart from `qa_bot.ingest.articles` because reading a browser's idea of "visible" out of markup is its
own problem, with its own tag lists; the corpus loader only needs (metadata, text) back.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from bs4 import BeautifulSoup, Tag

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
    paragraphs = []
    for block in "".join(_text_with_breaks(root)).split(_PARAGRAPH_BREAK):
        lines = (" ".join(line.split()) for line in block.split(_LINE_BREAK))
        paragraph = "\n".join(line for line in lines if line)
        if paragraph:
            paragraphs.append(paragraph)
    return "\n\n".join(paragraphs)


def _text_with_breaks(root: Any) -> Iterator[str]:
    """The strings under `root` in document order, a paragraph mark around each block element and a
    line mark for each <br>. Walked with a stack of its own: pages nested 100,000 tags deep exist
    (hostile or broken ones), and marking them in the tree costs time of the depth for each mark."""
    shown = root.interesting_string_types
    stack: list[Any] = [root]
    while stack:
        node = stack.pop()
        if node is _END_OF_BLOCK:
            yield _PARAGRAPH_BREAK
        elif isinstance(node, Tag):
            if node.name == "br":
                yield _LINE_BREAK
            elif node.name in _BLOCK_SET and node is not root:
                yield _PARAGRAPH_BREAK
                stack.append(_END_OF_BLOCK)
            stack.extend(reversed(node.contents))
        elif type(node) in shown:
            yield str(node)


_BLOCK_SET = frozenset(_BLOCK_TAGS)
_END_OF_BLOCK = object()  # on the stack: the block element above it ends here
