"""Safe rendering of untrusted text: article passages, whole articles, model answers, error messages.

Article text and model output may contain HTML, Markdown links or images planted to run script or
to call a remote server from a reader's browser. So untrusted text never goes through Markdown
(Streamlit's Markdown turns any bare URL into a link, escaped or not): it goes through
`html.escape` into `st.html`, and the only tags in the output are the ones built here (`div`, `span`,
`mark`, `strong`, `ul`, `li`, and `a` for a validated http(s) article URL). `st.html` also runs
DOMPurify over it, which is a second line, not the first. Messages, captions and the streamed answer
are also redacted (`_text`): an LLM error can quote the key the server was sent.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from qa_bot.answering.answer import Answer, AnswerSentence, Citation
from qa_bot.answering.injection import is_planted_address
from qa_bot.index.search import Passage
from qa_bot.records import display_date
from qa_bot.redaction import redact_known

_MARKER = re.compile(r"\[(\d+)\]")
_SPACED_MARKER = re.compile(r"(\s?)\[(\d+)\]")
_END_PUNCTUATION = re.compile(r"[.!?]+$")
_SENTENCE_TAIL = re.compile(r"(?:\s*\[\d+\])*[.!?\"'”’)]*")

# Inline styles: DOMPurify keeps them, and translucent colours read well in light and dark themes.
QUOTE_STYLE = "background: rgba(255, 196, 0, 0.55); color: inherit; padding: 0 2px; border-radius: 3px;"
CONTEXT_STYLE = "background: rgba(80, 140, 255, 0.14); border-radius: 3px;"
UNVERIFIED_STYLE = (
    "text-decoration: underline dotted rgba(230, 120, 0, 0.95); text-underline-offset: 3px; "
    "background: rgba(230, 120, 0, 0.12);"
)
BADGE_STYLE = "font-size: 0.8em; color: rgba(200, 100, 0, 1); white-space: nowrap;"
MARKER_STYLE = "font-size: 0.8em; font-weight: 600; color: rgba(60, 110, 230, 1);"
TEXT_STYLE = "white-space: pre-wrap; line-height: 1.6;"
CURSOR = "▌"
# Boxes like st.error / st.info, for messages that carry untrusted text (server errors, file names).
NOTICE_STYLES = {
    "error": "background: rgba(255, 43, 43, 0.09); border-left: 4px solid rgba(255, 43, 43, 0.75);",
    "warning": "background: rgba(255, 170, 0, 0.12); border-left: 4px solid rgba(230, 150, 0, 0.85);",
    "info": "background: rgba(28, 131, 225, 0.10); border-left: 4px solid rgba(28, 131, 225, 0.75);",
}
NOTICE_BOX = "padding: 0.75rem 1rem; border-radius: 0.5rem; white-space: pre-wrap; line-height: 1.5;"
CAPTION_STYLE = "font-size: 0.875rem; opacity: 0.7;"


def _text(text: str) -> str:
    """Untrusted text for the page: secrets blanked, then HTML-escaped (escaping could split a secret)."""
    return html.escape(redact_known(text))


def _span(text: str, style: str, **attributes: str) -> str:
    extra = "".join(f' {name}="{html.escape(value)}"' for name, value in attributes.items())
    return f'<span style="{style}"{extra}>{text}</span>'


def _block(inner: str, *, css_class: str) -> str:
    return f'<div class="{css_class}" style="{TEXT_STYLE}">{inner}</div>'


# --- highlighted passages and articles -------------------------------------------------------------


@dataclass(frozen=True)
class Highlight:
    """A span [start, end) of a text to show marked: the quote, or the passage around it."""

    start: int
    end: int
    kind: str  # "quote" (a <mark>) or "context" (a shaded span)


def highlighted_html(text: str, highlights: Sequence[Highlight] = (), *, css_class: str = "qa-text") -> str:
    """The text, escaped, with each highlight wrapped in our own tags (quote inside context)."""
    spans = [h for h in (_clamp(h, len(text)) for h in highlights) if h.end > h.start]
    cuts = sorted({0, len(text), *(h.start for h in spans), *(h.end for h in spans)})
    pieces = []
    for start, end in zip(cuts, cuts[1:], strict=False):
        piece = html.escape(text[start:end])
        kinds = {h.kind for h in spans if h.start <= start and end <= h.end}
        if "quote" in kinds:
            piece = f'<mark class="qa-quote" style="{QUOTE_STYLE}">{piece}</mark>'
        if "context" in kinds:
            piece = _span(piece, CONTEXT_STYLE, **{"class": "qa-context"})
        pieces.append(piece)
    return _block("".join(pieces), css_class=css_class)


def _clamp(highlight: Highlight, length: int) -> Highlight:
    return Highlight(max(0, min(highlight.start, length)), max(0, min(highlight.end, length)), highlight.kind)


def quote_in_passage(citation: Citation) -> Highlight:
    """The supporting sentence, moved from article offsets to offsets into the passage text."""
    offset = citation.passage.start
    return Highlight(citation.quote_start - offset, citation.quote_end - offset, "quote")


def quoted_text(citation: Citation) -> str:
    """The supporting sentence itself (empty when the offsets fall outside the passage)."""
    quote = _clamp(quote_in_passage(citation), len(citation.passage.text))
    return citation.passage.text[quote.start : quote.end]


def passage_html(citation: Citation) -> str:
    """The cited passage with the supporting sentence marked."""
    return highlighted_html(citation.passage.text, [quote_in_passage(citation)], css_class="qa-passage")


def article_html(article_text: str, passage: Passage, quote: Highlight | None = None) -> str:
    """The whole article: the cited passage shaded, the supporting sentence (article offsets) marked."""
    highlights = [Highlight(passage.start, passage.end, "context")]
    if quote is not None:
        highlights.append(quote)
    return highlighted_html(article_text, highlights, css_class="qa-article")


def quote_in_article(citation: Citation) -> Highlight:
    return Highlight(citation.quote_start, citation.quote_end, "quote")


def plain_html(text: str) -> str:
    """Untrusted text shown as it is, line breaks kept."""
    return highlighted_html(text, css_class="qa-plain")


def notice_html(text: str, kind: str) -> str:
    """A message box (kind: error, warning or info) around untrusted text."""
    style = f"{NOTICE_STYLES[kind]} {NOTICE_BOX}"
    return f'<div class="qa-notice qa-{kind}" style="{style}">{_text(text)}</div>'


def caption_html(text: str) -> str:
    return f'<div class="qa-caption" style="{CAPTION_STYLE}">{_text(text)}</div>'


def failures_html(failures: Sequence[tuple[str, str]]) -> str:
    """Files that could not be read, each with its reason: [(file name, reason)]."""
    items = "".join(f"<li><strong>{_text(name)}</strong>: {_text(reason)}</li>" for name, reason in failures)
    return f'<ul class="qa-failures" style="{CAPTION_STYLE} padding-left: 1.2rem;">{items}</ul>'


def model_html(provider: str, model: str) -> str:
    return f'<div class="qa-model"><strong>{_text(provider)}</strong> · {_text(model)}</div>'


# --- answers ---------------------------------------------------------------------------------------


def reading_html(passages: Sequence[Passage]) -> str:
    """While the model reads: the evidence it reads, each sentence with its [n], title and date."""
    items = "".join(
        f'<li style="margin-bottom: 0.25rem">{_span(f"[{n}]", MARKER_STYLE)} '
        + _text(" ".join(p.text.split()))
        + " "
        + _span(_text(", ".join(x for x in (p.title, display_date(p.date)) if x)), CAPTION_STYLE)
        + "</li>"
        for n, p in enumerate(passages, start=1)
    )
    heading = f'<div style="{CAPTION_STYLE}">Reading {len(passages)} sentences from the articles…</div>'
    return f'<div class="qa-reading">{heading}<ul style="{CAPTION_STYLE}">{items}</ul></div>'


def streaming_html(partial_text: str) -> str:
    """The answer as the tokens arrive, with a cursor."""
    return _block(_text(partial_text) + CURSOR, css_class="qa-streaming")


def stopped_html(partial_text: str) -> str:
    """What a stopped answer had written: plain text, not checked, markers as the model wrote them."""
    return _block(_text(partial_text), css_class="qa-stopped")


def answer_html(answer: Answer, *, anchor: str | None = None) -> str:
    """The verified answer: [n] markers styled, sentences no passage supports marked "unverified".
    With `anchor`, each [n] is a link to its source card (`source_anchor(anchor, n)`)."""
    text = answer.text
    unverified = _unverified_spans(text, answer.sentences)
    cuts = sorted({0, len(text), *unverified, *(e for e, _ in unverified.values())})
    pieces = []
    for start, end in zip(cuts, cuts[1:], strict=False):
        piece = _MARKER.sub(lambda m: _marker(m, anchor), html.escape(text[start:end]))
        if unverified.get(start, (None,))[0] == end:
            why = unverified[start][1] or "no passage states it"
            piece = (
                _span(piece, UNVERIFIED_STYLE, title=f"Not verified: {why}")
                + " "
                + _span("⚠ unverified", BADGE_STYLE, **{"class": "qa-unverified"})
            )
        pieces.append(piece)
    return _block("".join(pieces), css_class="qa-answer")


def source_anchor(anchor: str, n: int) -> str:
    """The id of an exchange's source card [n]: what its [n] markers link to."""
    return f"qa-source-{anchor}-{n}"


def _marker(match: re.Match[str], anchor: str | None) -> str:
    if anchor is None:
        return _span(match.group(0), MARKER_STYLE)
    target = source_anchor(anchor, int(match.group(1)))
    return (
        f'<a class="qa-marker" href="#{target}" style="{MARKER_STYLE} text-decoration: none;" '
        f'title="Go to source {match.group(1)}">{match.group(0)}</a>'
    )


# --- numbering as shown ----------------------------------------------------------------------------


def display_numbers(answer: Answer) -> dict[int, int]:
    """The stored numbers of an answer's sources ({stored n: shown n}), renumbered 1, 2, 3 without
    gaps: in the order the answer's text first cites them, then any other cited source."""
    cited = {c.n for c in answer.citations}
    order = [int(m.group(1)) for m in _MARKER.finditer(answer.text)]
    order += [q.n for q in answer.quotes] + sorted(cited)
    shown: dict[int, int] = {}
    for n in order:
        if n in cited and n not in shown:
            shown[n] = len(shown) + 1
    return shown


def as_displayed(answer: Answer) -> Answer:
    """A copy of the answer for the page, its sources numbered as `display_numbers` shows them:
    markers, citations and quotes alike, citations in the order shown. The stored answer (the log,
    the evaluation) keeps the numbers the model saw. A marker of no cited source loses its number."""
    shown = display_numbers(answer)

    def renumber(match: re.Match[str]) -> str:
        n = shown.get(int(match.group(2)))
        return "" if n is None else f"{match.group(1)}[{n}]"

    text = _SPACED_MARKER.sub(renumber, answer.text)
    citations = sorted((replace(c, n=shown[c.n]) for c in answer.citations), key=lambda c: c.n)
    sentences = [
        replace(s, citations=[shown[n] for n in s.citations if n in shown]) for s in answer.sentences
    ]
    quotes = [replace(q, n=shown.get(q.n, q.n)) for q in answer.quotes]
    return replace(answer, text=text, citations=citations, sentences=sentences, quotes=quotes)


def copy_text(answer: Answer) -> str:
    """The answer as plain text for the clipboard, its sources numbered as shown: "[1] title, date,
    URL" (the URL only when it may be linked). Secrets blanked, as everywhere on the page."""
    lines = [answer.text.strip(), ""]
    if answer.citations:
        lines.append("Sources:")
    for citation in answer.citations:
        passage = citation.passage
        parts = [passage_title(passage), display_date(passage.date), linkable_url(passage.url)]
        lines.append(f"[{citation.n}] " + ", ".join(p for p in parts if p))
    return redact_known("\n".join(lines).rstrip() + "\n")


QUOTE_BLOCK_STYLE = (
    "margin: 0.25rem 0 0.5rem; padding-left: 0.75rem; border-left: 3px solid #999; opacity: 0.9;"
)


def quotes_html(answer: Answer) -> str:
    """Under a short answer, the sentence(s) that state it, word for word from the article, each with
    its [n], title and date: what the reader checks the answer against. Article text: escaped."""
    if not answer.short_answer or not answer.quotes:
        return ""
    by_n = {c.n: c.passage for c in answer.citations}
    items = []
    for quote in answer.quotes:
        passage = by_n.get(quote.n)
        source = ", ".join(x for x in (passage.title, display_date(passage.date)) if x) if passage else ""
        items.append(
            f'<blockquote class="qa-quote-text" style="{QUOTE_BLOCK_STYLE}">“{_text(quote.text)}” '
            + _span(f"[{quote.n}]", MARKER_STYLE)
            + (f' <span style="{CAPTION_STYLE}">{_text(source)}</span>' if source else "")
            + "</blockquote>"
        )
    return "".join(items)


def _unverified_spans(text: str, sentences: Sequence[AnswerSentence]) -> dict[int, tuple[int, str]]:
    """Where each unsupported sentence sits in the answer text (markers may follow its last word):
    {start: (end, why it is unverified)}."""
    spans = {}
    cursor = 0
    for sentence in sentences:
        core = _END_PUNCTUATION.sub("", sentence.text).rstrip()
        if not core:
            continue
        found = text.find(core, cursor)
        if found < 0:
            continue
        cursor = found + len(core)
        cursor += _SENTENCE_TAIL.match(text, cursor).end() - cursor  # its markers and final punctuation
        if not sentence.supported:
            spans[found] = (cursor, sentence.reason)
    return spans


def unverified_count(answer: Answer) -> int:
    return sum(1 for s in answer.sentences if not s.supported)


# --- metadata --------------------------------------------------------------------------------------


def linkable_url(url: str | None) -> str | None:
    """The URL, stripped, when the page may link it: http(s) with a host, and not an address whose
    words address the assistant ("/ignore-all-previous-instructions"): the guard withholds such an
    address from the answer, and the page does not offer it as the article's source."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in {"http", "https"} or not parts.netloc:
        return None
    if is_planted_address(url):
        return None
    return url.strip()


def safe_link(url: str | None) -> str | None:
    """An http(s) URL as an escaped link (`linkable_url`); anything else (javascript:, data:,
    relative, planted) is not linked."""
    linkable = linkable_url(url)
    if linkable is None:
        return None
    safe = html.escape(linkable, quote=True)
    return f'<a href="{safe}" target="_blank" rel="noopener noreferrer nofollow">{safe}</a>'


def source_line_html(*parts: str | None, url: str | None = None) -> str:
    """ "2023-04-16 · cnn.com · https://..." with every part escaped; the URL linked if http(s)."""
    shown = [html.escape(p) for p in parts if p]
    if url:
        shown.append(safe_link(url) or html.escape(url))
    return f'<div class="qa-meta" style="font-size: 0.85em; opacity: 0.75;">{" · ".join(shown)}</div>'


def file_name(path: str | None) -> str | None:
    return path.replace("\\", "/").rsplit("/", 1)[-1] if path else None


def passage_title(passage: Passage) -> str:
    return passage.title or file_name(passage.path) or passage.article_id


def source_heading_html(
    n: int | None,
    title: str,
    *,
    date: str | None,
    source: str | None,
    url: str | None,
    path: str | None,
    anchor: str | None = None,
) -> str:
    """ "[1] Title" over "date · source · url (or file name)", all escaped; with `anchor`, the heading
    carries the id the answer's [n] markers link to."""
    number = f'<span style="{MARKER_STYLE}">[{n}]</span> ' if n is not None else ""
    target = f' id="{source_anchor(anchor, n)}"' if anchor is not None and n is not None else ""
    heading = f'<div class="qa-source-title"{target}>{number}<strong>{html.escape(title)}</strong></div>'
    name = file_name(path)
    where = None if url or name == title else name  # the file name, unless it already is the title
    return heading + source_line_html(display_date(date), source, where, url=url)


def passage_heading_html(n: int | None, passage: Passage, *, anchor: str | None = None) -> str:
    return source_heading_html(
        n,
        passage_title(passage),
        date=passage.date,
        source=passage.source,
        url=passage.url,
        path=passage.path,
        anchor=anchor,
    )
