"""The review queue (/review): every answer the chat gave, found with filters, checked against its
sources, and exported as evaluation cases.

For each answer a reviewer marks every citation supports / partly / does not support (with a
comment), reading the passage and, in a dialog, the whole article with the cited span marked; and
the answer correct / incorrect / should have refused, with an optional corrected answer. Each mark
is saved as it is made, with the reviewer's name and the time: no name, no mark (the name is the
signed-in one, or typed under Reviewer and kept in the page's address, so a reload keeps it). An
answer stays open after a mark and says what was saved. Rendering only: the log is
qa_bot/team/answer_log.py, agreement and export are qa_bot/team/reviews.py. Every text from the log (the
question, the answer, the article) is shown escaped, as in the chat (ui/render.py).
"""

from __future__ import annotations

import logging
from datetime import date

import streamlit as st

from qa_bot.service import QABot
from qa_bot.team.answer_log import (
    ANSWER_VERDICTS,
    CITATION_VERDICTS,
    CORRECT,
    THUMBS_DOWN,
    THUMBS_UP,
    AnswerLog,
    LogFilter,
    LoggedAnswer,
    LoggedCitation,
)
from qa_bot.team.reviews import Agreement, review_stats, reviewed_jsonl, sample_note, without_markers
from ui import auth, runtime
from ui.export import cases_download, neutralise_markdown
from ui.render import answer_html, caption_html, notice_html, passage_heading_html, passage_html, plain_html
from ui.render import quote_in_article as quote_of
from ui.sources import open_article_button

logger = logging.getLogger("qa_bot.ui")

PAGE_SIZE = 20  # answers listed at first; "Show more" adds as many again
_SHOWN_KEY = "review_shown"
_REVIEWER_KEY = "reviewer"  # also the query parameter that keeps the name: /review?reviewer=erin
_OPENED_KEY = "review_opened"  # answers marked in this session: they stay open
_ANSWER_WORDS = 8  # of the answer, in its list item: tells apart the same question asked twice
EVERYONE = "Everyone"
REVIEW_FAILURE = (
    "The review page could not start: the settings, the index or the answer log could not be opened. "
    "The details are in the server log."
)
PRECISION_HELP = "Of the citations the app marked verified, the share reviewers say support the sentence."
RECALL_HELP = "Of the citations reviewers say support the sentence, the share the app verified."
AGREEMENT_HELP = "Of the citations reviewers marked, the share where the app's mark and theirs agree."
EXPORT_HELP = (
    "Correct answers keep their text, corrected ones the correction, should-have-refused ones become "
    "unanswerable questions (incorrect ones without a correction are left out). Run them with "
    "`qa-bot eval FILE`; `qa-bot review-export FILE` writes the same."
)
SAVE_FAILED = "Your review could not be saved; the details are in the server log."
NAME_NEEDED = "Type your name under **Reviewer** in the sidebar to mark answers: each mark is saved with it."
NOT_SAVED_WITHOUT_NAME = "Nothing saved: type your name under Reviewer in the sidebar first."


def show_review_page() -> None:
    try:
        settings = runtime.load_settings()
        bot = runtime.get_bot(settings)
        log = runtime.get_answer_log(settings)
    except Exception:  # a bad setting, an unreadable index or database: a message, never a traceback
        logger.exception("The review page could not start")
        st.error(REVIEW_FAILURE, icon=":material/error:")
        return
    with st.sidebar:
        what = _filters(log)
        _reviewer_field()
        auth.show_sign_out(settings)
    st.markdown("### Review answers")
    _summary(log)
    _answers(bot, log, what)


# --- filters and the reviewer ----------------------------------------------------------------------


def _filters(log: AnswerLog) -> LogFilter:
    st.subheader("Show answers")
    not_reviewed = st.toggle("Not reviewed yet", key="review_not_reviewed")
    thumbs_down = st.toggle("Rated thumbs down", key="review_thumbs_down")
    refused = st.toggle("Refused", key="review_refused")
    unverified = st.toggle("With unverified sentences", key="review_unverified")
    user = st.selectbox("Asked by", [EVERYONE, *_users(log)], key="review_user")
    since, until = _date_range()
    text = st.text_input("Search questions and answers", key="review_text")
    return LogFilter(
        not_reviewed=not_reviewed,
        thumbs_down=thumbs_down,
        refused=refused,
        unverified=unverified,
        user=None if user == EVERYONE else user,
        since=since,
        until=until,
        text=text,
    )


def _users(log: AnswerLog) -> list[str]:
    try:
        return log.users()
    except Exception:
        logger.exception("Could not read the answer log's users")
        return []


def _date_range() -> tuple[date | None, date | None]:
    if not st.toggle("Only answers asked between", key="review_by_date"):
        return None, None
    today = date.today()
    picked = st.date_input(
        "Asked between",
        value=(today, today),
        format="YYYY-MM-DD",
        key="review_dates",
        label_visibility="collapsed",
    )
    picked = tuple(picked) if isinstance(picked, list | tuple) else (picked,)
    return (picked[0], picked[1]) if len(picked) == 2 else (picked[0] if picked else None, None)


def _reviewer_field() -> None:
    """Who the marks are saved as: the signed-in name, or (without a login) the name typed here.

    The typed name is bound to the page's address (?reviewer=NAME): a reload, or a bookmark of the
    page, brings it back, and it is kept while the reviewer visits the chat.
    """
    st.subheader("Reviewer")
    signed_in = auth.signed_in_name()
    if signed_in is not None:
        st.caption(f"Your marks are saved as {neutralise_markdown(signed_in)} (signed in).")
        return
    st.text_input(
        "Your name (saved with your reviews)",
        key=_REVIEWER_KEY,
        bind="query-params",
        persist_state="session",
        placeholder="needed to mark answers",
    )


def reviewer_name() -> str | None:
    return auth.signed_in_name() or (st.session_state.get(_REVIEWER_KEY) or "").strip() or None


# --- summary: agreement and export -----------------------------------------------------------------


def _summary(log: AnswerLog) -> None:
    try:
        stats = review_stats(log)
    except Exception:
        logger.exception("Could not read the answer log")
        st.error("The answer log could not be read; the details are in the server log.")
        return
    agreement = stats.agreement
    answers, precision, recall, agreeing = st.columns(4)
    answers.metric("Answers reviewed", f"{stats.reviewed} of {stats.answers}")
    for column, label, value, sample, what, help_text in (
        (
            precision,
            "Verifier precision",
            agreement.precision,
            agreement.precision_sample,
            "verified citation",
            PRECISION_HELP,
        ),
        (
            recall,
            "Verifier recall",
            agreement.recall,
            agreement.recall_sample,
            "supporting citation",
            RECALL_HELP,
        ),
        (agreeing, "Agreement", agreement.agreement, agreement.reviewed, "marked citation", AGREEMENT_HELP),
    ):
        column.metric(label, _percent(value), help=help_text)
        column.caption(sample_note(sample, what))
    st.caption(
        f"From {agreement.reviewed} citation{'s' if agreement.reviewed != 1 else ''} marked by reviewers. "
        "A citation counts as supported only when a reviewer says it supports its sentence; "
        "'partly' counts as not supported."
    )
    if agreement.reviewed:
        with st.expander("How the app's marks compare with the reviewers'"):
            st.markdown(_agreement_table(agreement))
    cases_download(
        "Download reviewed answers as evaluation cases",
        lambda: reviewed_jsonl(log),
        count=stats.exportable,
        file_name="qa-bot-reviewed.jsonl",
        icon=":material/download:",
        help=EXPORT_HELP,
    )


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def _agreement_table(agreement: Agreement) -> str:
    """Counts only (numbers and our own words): safe as Markdown."""
    header = "| | " + " | ".join(CITATION_VERDICTS.values()) + " |"
    rows = [header, "|---|" + "---:|" * len(CITATION_VERDICTS)]
    for label, counts in (
        ("verified by the app", agreement.verified),
        ("not verified", agreement.unverified),
    ):
        rows.append(f"| {label} | " + " | ".join(str(counts.get(v, 0)) for v in CITATION_VERDICTS) + " |")
    return "\n".join(rows)


# --- the answers -----------------------------------------------------------------------------------


def _answers(bot: QABot, log: AnswerLog, what: LogFilter) -> None:
    shown = st.session_state.setdefault(_SHOWN_KEY, PAGE_SIZE)
    try:
        total = log.count(what)
        entries = log.find(what, limit=shown)
    except Exception:
        logger.exception("Could not read the answer log")
        st.error("The answer log could not be read; the details are in the server log.")
        return
    if not total:
        nothing = (
            "No answer matches these filters."
            if log.count()
            else "No answers yet: questions asked in the chat appear here."
        )
        st.info(nothing, icon=":material/inbox:")
        return
    more = f", the newest {len(entries)} shown" if total > len(entries) else ", newest first"
    st.caption(f"{total} answer{'s' if total != 1 else ''} match{'es' if total == 1 else ''}{more}.")
    opened = st.session_state.setdefault(_OPENED_KEY, set())
    for entry in entries:
        # Keyed, an expander keeps its place (and stays open) when its label changes with a mark.
        with st.expander(entry_label(entry), expanded=entry.id in opened, key=f"review-item-{entry.id}"):
            _entry(bot, log, entry)
    if total > len(entries):
        st.button("Show more", on_click=_show_more, icon=":material/expand_more:")


def _show_more() -> None:
    st.session_state[_SHOWN_KEY] += PAGE_SIZE


def entry_label(entry: LoggedAnswer) -> str:
    """The expander's label: the question, when and by whom it was asked, the answer's first words
    (so the same question asked twice can be told apart) and the marks. Streamlit reads labels as
    Markdown: every text from the log is neutralised."""
    marks = [verdict_mark(entry.verdict, entry.reviewer) if entry.verdict else "○ not reviewed"]
    if entry.rating == THUMBS_DOWN:
        marks.append("👎")
    if entry.error:
        marks.append("failed")
    elif entry.refused:
        marks.append("refused")
    if entry.unverified:
        marks.append(f"⚠ {entry.unverified} unverified")
    question = " ".join(entry.question.split())
    question = question if len(question) <= 90 else question[:89] + "…"
    asked = [
        entry.asked_at.strftime("%Y-%m-%d %H:%M UTC") if entry.asked_at else "",
        entry.user or "no login",
        _first_words(entry.answer),
    ]
    return " · ".join(neutralise_markdown(part) for part in [question, *asked, *marks] if part)


def _first_words(answer: str) -> str:
    words = without_markers(answer).split()
    if not words:
        return ""
    shown = " ".join(words[:_ANSWER_WORDS])
    return f"“{shown}…”" if len(words) > _ANSWER_WORDS else f"“{shown}”"


def verdict_mark(verdict: str, reviewer: str | None) -> str:
    """ "✔ marked correct by erin", "✗ marked incorrect by erin": a check mark only for correct."""
    sign = "✔" if verdict == CORRECT else "✗"
    return f"{sign} marked {ANSWER_VERDICTS[verdict]}" + (f" by {reviewer}" if reviewer else "")


def _entry(bot: QABot, log: AnswerLog, entry: LoggedAnswer) -> None:
    st.html(caption_html(_about(entry)))
    st.html(plain_html(entry.question))
    if entry.standalone_question:
        st.html(caption_html(f"Searched for: {entry.standalone_question}"))
    if entry.error:
        st.html(notice_html(entry.error, "error"))
    elif entry.refused:
        st.html(notice_html(entry.answer, "info"))
    else:
        st.html(answer_html(entry.as_answer()))
    if entry.citations:
        st.markdown("**Citations**")
    for position, citation in enumerate(entry.citations):
        with st.container(border=True):
            _citation(bot, log, entry, position, citation)
    _answer_verdict(log, entry)


def _about(entry: LoggedAnswer) -> str:
    asked = entry.asked_at.strftime("%Y-%m-%d %H:%M UTC") if entry.asked_at else "?"
    settings = entry.settings or {}
    parts = [
        f"Asked {asked} by {entry.user or 'someone without a login'}",
        f"as of {entry.asked_on.isoformat() if entry.asked_on else '?'}",
        f"{settings.get('llm', '?')} {settings.get('model') or ''}".strip() + f", k={settings.get('k', '?')}",
    ]
    if entry.rating is not None:
        thumb = "👍" if entry.rating == THUMBS_UP else "👎"
        parts.append(f"rated {thumb}" + (f": {entry.comment}" if entry.comment else ""))
    elif entry.comment:
        parts.append(f"comment: {entry.comment}")
    return " · ".join(parts)


def _citation(
    bot: QABot, log: AnswerLog, entry: LoggedAnswer, position: int, citation: LoggedCitation
) -> None:
    passage = citation.as_passage()
    st.html(passage_heading_html(citation.n, passage))
    if citation.verified:
        st.html(caption_html(f"✔ Verified by the app for: “{citation.sentence}”"))
    else:
        why = f": {citation.reason}" if citation.reason else ""
        st.html(notice_html(f"Not verified by the app for: “{citation.sentence}”{why}", "warning"))
    cited = citation.as_citation()
    st.html(passage_html(cited))
    open_article_button(bot, passage, quote_of(cited), key=f"review-{entry.id}-{position}")
    key = f"review-citation-{entry.id}-{position}"
    unnamed = reviewer_name() is None
    verdict, comment = st.columns([3, 2], vertical_alignment="bottom")
    verdict.radio(
        "Does the passage support the sentence?",
        list(CITATION_VERDICTS),
        format_func=CITATION_VERDICTS.get,
        index=_index(CITATION_VERDICTS, citation.verdict),
        horizontal=True,
        key=key,
        on_change=_save_citation,
        args=(log, entry.id, position),
        disabled=unnamed,
    )
    comment.text_input(
        "Comment on this citation",
        value=citation.comment,
        key=f"{key}-comment",
        on_change=_save_citation,
        args=(log, entry.id, position),
        disabled=unnamed,
    )
    if citation.verdict:
        saved = f"Saved: {CITATION_VERDICTS[citation.verdict]}, marked"
        st.caption(_marked_by(saved, citation.reviewer, citation.reviewed_at))


def _answer_verdict(log: AnswerLog, entry: LoggedAnswer) -> None:
    key = f"review-answer-{entry.id}"
    unnamed = reviewer_name() is None
    if unnamed:
        st.info(NAME_NEEDED, icon=":material/badge:")
    st.radio(
        "**Your verdict on the answer**",
        list(ANSWER_VERDICTS),
        format_func=ANSWER_VERDICTS.get,
        index=_index(ANSWER_VERDICTS, entry.verdict),
        horizontal=True,
        key=key,
        on_change=_save_answer,
        args=(log, entry.id),
        disabled=unnamed,
    )
    st.text_area(
        "Corrected answer (optional; exported instead of the answer)",
        value=entry.corrected_answer,
        key=f"{key}-corrected",
        height=80,
        on_change=_save_answer,
        args=(log, entry.id),
        disabled=unnamed,
    )
    st.text_input(
        "Note (optional)",
        value=entry.review_comment,
        key=f"{key}-note",
        on_change=_save_answer,
        args=(log, entry.id),
        disabled=unnamed,
    )
    if entry.verdict:
        saved = f"Saved: {verdict_mark(entry.verdict, None)}"
        st.caption(_marked_by(saved, entry.reviewer, entry.reviewed_at))


def _index(options: dict, value: str | None) -> int | None:
    return list(options).index(value) if value in options else None


def _marked_by(what: str, reviewer: str | None, when) -> str:
    """ "Saved: ✗ marked incorrect by erin, 2026-12-01 10:42 UTC" (a caption: Markdown, neutralised)."""
    stamp = when.strftime("%Y-%m-%d %H:%M UTC") if when else "?"
    return neutralise_markdown(f"{what} by {reviewer or 'someone without a name'}, {stamp}")


def _save_citation(log: AnswerLog, answer_id: str, position: int) -> None:
    key = f"review-citation-{answer_id}-{position}"
    verdict = st.session_state.get(key)
    comment = st.session_state.get(f"{key}-comment") or ""
    _saved(
        answer_id,
        lambda reviewer: log.review_citation(
            answer_id, position, verdict, comment=comment, reviewer=reviewer
        ),
    )


def _save_answer(log: AnswerLog, answer_id: str) -> None:
    key = f"review-answer-{answer_id}"
    _saved(
        answer_id,
        lambda reviewer: log.review_answer(
            answer_id,
            st.session_state.get(key),
            corrected=st.session_state.get(f"{key}-corrected") or "",
            comment=st.session_state.get(f"{key}-note") or "",
            reviewer=reviewer,
        ),
    )


def _saved(answer_id: str, save) -> None:
    """Saves a mark under the reviewer's name (none: nothing is saved); the answer stays open."""
    st.session_state.setdefault(_OPENED_KEY, set()).add(answer_id)
    reviewer = reviewer_name()
    if reviewer is None:  # the fields are disabled without a name; a race (a name just cleared) lands here
        st.toast(NOT_SAVED_WITHOUT_NAME, icon=":material/badge:")
        return
    try:
        save(reviewer)
    except Exception:
        logger.exception("Could not save a review")
        st.toast(SAVE_FAILED, icon=":material/error:")
        return
    st.toast("Review saved.", icon=":material/check:")
