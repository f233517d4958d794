"""Downloads: the conversation as a Markdown document, each answer followed by the passages it
cites; answers as evaluation cases (`cases_download`, the JSONL of qa_bot/team/reviews.py).

Every text from outside (questions, answers, errors, articles) goes through `neutralise_markdown`,
which also blanks secrets: an LLM error can quote the key the server was sent. Text from the
articles, and answers drawn from them, also has its bare addresses defanged (`article_markdown`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

import streamlit as st

from qa_bot.answering.answer import Answer
from qa_bot.redaction import redact_known
from ui.conversation import Exchange
from ui.render import as_displayed, quoted_text

# What could turn untrusted text into a link, an image or HTML in a Markdown viewer: escaping these
# keeps the export readable while nothing in it can render as more than text.
_LINK_AND_HTML = re.compile(r"([\\`\[\]<>])")
# GitHub's Markdown (and Streamlit's) links a bare address by itself, escaped or not: "https://x.y"
# and "www.x.y" are written "https[:]//x.y" and "www[.]x.y", which no viewer links and a reader
# still reads (the usual way to quote an address nobody should follow).
_BARE_ADDRESS = re.compile(
    r"\b(?P<scheme>[a-z][a-z0-9+.-]{1,15}):(?=//)|\b(?P<www>www)\.(?=\S)", re.IGNORECASE
)


def neutralise_markdown(text: str) -> str:
    # Redacted before escaping, which could split a secret that holds one of those characters.
    return _LINK_AND_HTML.sub(r"\\\1", redact_known(text))


def article_markdown(text: str) -> str:
    """Text from the articles, or an answer drawn from them: neutralised, and no bare address in it
    left for a viewer to link (an address planted in an article must not be one click away)."""
    return _BARE_ADDRESS.sub(_defanged, neutralise_markdown(text))


def _defanged(match: re.Match[str]) -> str:
    if match["scheme"]:
        return f"{match['scheme']}\\[:\\]"  # escaped brackets: "[:]" as text, never a link's label
    return f"{match['www']}\\[.\\]"


def conversation_markdown(exchanges: Sequence[Exchange], *, now: datetime | None = None) -> str:
    stamp = (now or datetime.now()).strftime("%Y-%m-%d %H:%M")
    lines = [f"# Conversation with qa-bot ({stamp})", ""]
    for number, exchange in enumerate(exchanges, start=1):
        lines += [f"## {number}. {neutralise_markdown(exchange.question)}", ""]
        # Numbered as the page shows them (1, 2, 3), not as the model saw them ([1] then [7]).
        lines += _answer_lines(exchange.answer if exchange.answer.error else as_displayed(exchange.answer))
    return redact_known("\n".join(lines).rstrip() + "\n")


def _answer_lines(answer: Answer) -> list[str]:
    if answer.error:
        lines = [f"**The answer failed:** {neutralise_markdown(answer.error)}", ""]
        return lines + _passages_lines("Retrieved passages", answer)
    # Our own [n] markers survive the escaping as plain text, which is how they should read.
    lines = [_restore_markers(article_markdown(answer.text)), ""]
    if answer.refused:
        return lines
    unverified = [s.text for s in answer.sentences if not s.supported]
    for sentence in unverified:
        lines += [f"- *Unverified (no passage supports it):* {article_markdown(sentence)}"]
    if unverified:
        lines.append("")
    if answer.citations:
        lines += ["**Sources**", ""]
    for citation in answer.citations:
        lines.append(f"{citation.n}. {_describe(citation.passage)}")
        quote = quoted_text(citation) or citation.passage.text
        lines.append(f"   > {article_markdown(' '.join(quote.split()))}")
    return lines + [""]


def _passages_lines(title: str, answer: Answer) -> list[str]:
    if not answer.passages:
        return []
    lines = [f"**{title}**", ""]
    for n, passage in enumerate(answer.passages, start=1):
        lines.append(f"{n}. {_describe(passage)}")
        lines.append(f"   > {article_markdown(' '.join(passage.text.split()))}")
    return lines + [""]


def _describe(passage) -> str:
    title = passage.title or (Path(passage.path).name if passage.path else passage.article_id)
    parts = [p for p in (passage.date, passage.source, passage.url or passage.path) if p]
    details = f" ({article_markdown(', '.join(parts))})" if parts else ""
    return f"{article_markdown(title)}{details}, characters {passage.start}-{passage.end}"


def _restore_markers(escaped: str) -> str:
    """\\[1\\] back to [1], except right before "(" where it would start a link."""
    return re.sub(r"\\\[(\d+)\\\](?!\()", r"[\1]", escaped)


def cases_download(
    label: str, jsonl: Callable[[], str], *, count: int, file_name: str, icon: str, help: str
) -> None:
    """A button that downloads evaluation cases (`qa-bot eval` JSONL), built only when it is clicked."""
    st.download_button(
        f"{label} (JSONL, {count})",
        data=jsonl,
        file_name=file_name,
        mime="application/jsonl",
        icon=icon,
        disabled=not count,
        on_click="ignore",
        help=help,
    )
