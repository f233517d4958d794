"""The sidebar: the model and its state, the corpus, filters for the next question, adding articles,
and the conversation's controls (new, export, reviewed answers)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

import streamlit as st

from qa_bot.answering.llm import LLMStatus
from qa_bot.answering.local_llm import local_model_state
from qa_bot.index.store import IndexStats
from qa_bot.service import QABot
from qa_bot.team.answer_log import AnswerLog, LogFilter
from qa_bot.team.reviews import approved_jsonl
from ui import conversation
from ui.export import cases_download, conversation_markdown
from ui.ingest import article_uploader, ingest_uploads, ingest_with_progress, show_outcome, uploads_dir
from ui.render import model_html, notice_html
from ui.runtime import model_status

logger = logging.getLogger("qa_bot.ui")

MAX_TOP_K = 20
_OUTCOME_KEY = "last_ingest"
_UPLOADER_GENERATION = "uploader_generation"  # a new key empties the file uploader after an ingest


@dataclass(frozen=True)
class QuestionOptions:
    """What the sidebar sets for the next question."""

    k: int
    since: date | None = None
    until: date | None = None
    sources: tuple[str, ...] = ()
    as_of: date | None = None  # the day the question is asked on; None: today

    @property
    def asked_on(self) -> date:
        return self.as_of or date.today()

    def as_kwargs(self) -> dict:
        return {
            "k": self.k,
            "since": self.since,
            "until": self.until,
            "sources": list(self.sources) or None,
            "as_of": self.asked_on,
        }

    def as_record(self) -> dict:
        return {
            "k": self.k,
            "since": self.since,
            "until": self.until,
            "sources": list(self.sources),
            "as_of": self.asked_on,
        }


def show_sidebar(bot: QABot) -> QuestionOptions:
    with st.sidebar:
        st.title("qa-bot")
        _model_section(bot)
        stats = _corpus_section(bot)
        options = _filters_section(bot, stats)
        _articles_section(bot)
    return options


def show_conversation_controls(log: AnswerLog) -> None:
    """Rendered after the chat, so that they include an answer given in this run."""
    with st.sidebar:
        _conversation_section(log)


# --- model -----------------------------------------------------------------------------------------


def _model_section(bot: QABot) -> None:
    st.subheader("Model")
    status = _safe_model_status(bot)
    st.html(model_html(status.provider, status.model))
    if status.state == "loading":
        _watch_local_model()
    else:
        _show_state(status.state)


def _safe_model_status(bot: QABot) -> LLMStatus:
    try:
        return model_status(bot.settings)
    except Exception:
        logger.exception("Could not read the LLM status")
        return LLMStatus(bot.settings.llm, bot.settings.model or "?", "unknown: see the server log")


def _show_state(state: str) -> None:
    label = state.partition(": ")[0]
    if state == "ready":
        st.success("ready", icon=":material/check_circle:")
    elif state == "not started":
        st.info("not started: loads with the first question", icon=":material/hourglass_empty:")
    else:  # "unreachable: ...", "failed: ...", "not configured: ...": the detail names a server or a file
        st.html(notice_html(state, "error" if label in {"unreachable", "failed"} else "warning"))


@st.fragment(run_every=2)
def _watch_local_model() -> None:
    """While the local model loads, look again every 2 s; once it is done, refresh the whole page."""
    if local_model_state() != "loading":
        st.rerun()
    st.info("loading the local model…", icon=":material/hourglass_top:")


# --- corpus and filters ----------------------------------------------------------------------------


def _corpus_section(bot: QABot) -> IndexStats | None:
    st.subheader("Corpus")
    try:
        stats = bot.index_stats()
    except Exception:
        logger.exception("Could not read the index statistics")
        st.error("The index could not be read; the details are in the server log.")
        return None
    articles, chunks = st.columns(2)
    articles.metric("Articles", f"{stats.articles:,}")
    chunks.metric("Passages", f"{stats.chunks:,}")
    if stats.first_date:
        st.caption(f"Published {stats.first_date} to {stats.last_date}")
    else:
        st.caption("No dated articles yet")
    if stats.embedding_behind:
        _watch_embedding(bot)
    return stats


@st.fragment(run_every=10)
def _watch_embedding(bot: QABot) -> None:
    """While the archive is embedded behind its keyword index: "N of M articles searchable by
    meaning" with the time left, redrawn every 10 s. Once all are, it says so in place: redrawing the
    whole page would stop an answer being written."""
    try:
        stats = bot.index_stats()
    except Exception:
        logger.exception("Could not read the index statistics")
        return
    if not stats.embedding_behind:
        st.caption(f"All {stats.articles:,} articles are searchable by meaning.")
        return
    st.html(
        notice_html(
            f"{stats.meaning_line()}. Questions are answered meanwhile from keyword search "
            "and the vectors written so far.",
            "info",
        )
    )


def _filters_section(bot: QABot, stats: IndexStats | None) -> QuestionOptions:
    st.subheader("Filters")
    st.caption("They apply to the next question.")
    as_of = _as_of_picker(stats)
    since, until = _date_filter(stats)
    known_sources = stats.sources if stats else []
    sources = st.multiselect(
        "Sources",
        known_sources,
        key="filter_sources",
        placeholder="All sources" if known_sources else "No article names a source",
        disabled=not known_sources,
    )
    k = st.slider(
        "Passages per answer (top-k)", 1, MAX_TOP_K, value=min(bot.settings.top_k, MAX_TOP_K), key="top_k"
    )
    return QuestionOptions(k=k, since=since, until=until, sources=tuple(sources), as_of=as_of)


def _as_of_picker(stats: IndexStats | None) -> date | None:
    """An archive is asked about as of its own time: "this week" then means that week, and a
    refusal for old news (which names this control) can be answered by choosing the day."""
    if not st.toggle(
        "Ask as of an earlier date",
        key="ask_as_of",
        help="Questions about 'this week' or 'the latest' then mean that date; nothing published "
        "more than a week after it is searched.",
    ):
        return None
    newest = _parse(stats.last_date if stats else None) or date.today()
    return st.date_input(
        "Ask as of",
        value=min(newest, date.today()),
        min_value=date(1900, 1, 1),
        max_value=date.today(),
        format="YYYY-MM-DD",
        key="as_of_date",
    )


def _date_filter(stats: IndexStats | None) -> tuple[date | None, date | None]:
    if not st.toggle("Only articles published between", key="filter_by_date"):
        return None, None
    first = _parse(stats.first_date if stats else None) or date.today()
    last = _parse(stats.last_date if stats else None) or date.today()
    picked = st.date_input(
        "Published between",
        value=(first, last),
        min_value=date(1900, 1, 1),
        max_value=date(2100, 12, 31),
        format="YYYY-MM-DD",
        key="filter_dates",
        label_visibility="collapsed",
    )
    picked = tuple(picked) if isinstance(picked, list | tuple) else (picked,)
    if len(picked) == 2:
        return picked[0], picked[1]
    return (picked[0], None) if picked else (None, None)


def _parse(iso: str | None) -> date | None:
    try:
        return date.fromisoformat(iso) if iso else None
    except ValueError:
        return None


# --- adding articles -------------------------------------------------------------------------------


def _articles_section(bot: QABot) -> None:
    st.subheader("Add articles")
    generation = st.session_state.setdefault(_UPLOADER_GENERATION, 0)
    files = article_uploader(bot.settings, key=f"uploads-{generation}")
    if st.button("Add to the index", disabled=not files, icon=":material/upload_file:"):
        _ingest_uploads(bot, files)
    if st.button(
        "Re-index",
        icon=":material/refresh:",
        help="Read the corpus and the uploaded files again: changed articles are replaced, "
        "deleted ones removed.",
    ):
        _reindex(bot)
    outcome = st.session_state.get(_OUTCOME_KEY)
    if outcome is not None:
        show_outcome(outcome)


def _ingest_uploads(bot: QABot, files) -> None:
    st.session_state[_OUTCOME_KEY] = ingest_uploads(bot, files)
    st.session_state[_UPLOADER_GENERATION] += 1
    st.rerun()


def _reindex(bot: QABot) -> None:
    paths = list(bot.settings.corpus)
    uploads = uploads_dir(bot.settings.data_dir)
    if uploads.exists():
        paths.append(uploads)
    st.session_state[_OUTCOME_KEY] = ingest_with_progress(bot, paths, label="Re-indexing", prune=True)
    st.rerun()


# --- conversation ----------------------------------------------------------------------------------


def _conversation_section(log: AnswerLog) -> None:
    st.subheader("Conversation")
    exchanges = list(conversation.exchanges())
    st.button(
        "New conversation",
        icon=":material/add_comment:",
        on_click=conversation.start_new,
        disabled=not exchanges,
    )
    st.download_button(
        "Download conversation (Markdown)",
        data=lambda: conversation_markdown(exchanges),
        file_name="qa-bot-conversation.md",
        mime="text/markdown",
        icon=":material/download:",
        disabled=not exchanges,
        on_click="ignore",
    )
    _approved_answers(log)


def _approved_answers(log: AnswerLog) -> None:
    try:
        kept = log.count(LogFilter(thumbs_up=True, no_error=True))
    except Exception:
        logger.exception("Could not read the answer log")
        st.caption("The answer log could not be read; the details are in the server log.")
        return
    cases_download(
        "Download approved answers as test cases",
        lambda: approved_jsonl(log),
        count=kept,
        file_name="qa-bot-approved.jsonl",
        icon=":material/fact_check:",
        help="Answers rated 👍 in the evaluation dataset format: run them with `qa-bot eval`. "
        "Every answer, its rating and its reviews are on the Review answers page.",
    )
