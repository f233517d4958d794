"""QABot: the one service that the CLI, the chat UI and the evaluation call.

ingest(paths)  load -> chunk -> catalog + keyword index (searchable) -> embed behind it
ask(question)  condense follow-up -> retrieve -> select evidence sentences -> answer (LLM or
               extractive) -> verify citations -> date the answer
ask_stream()   the same, yielding the passages first, then tokens, then the verified Answer
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from qa_bot.answering.answer import (
    Answer,
    Turn,
    date_the_answer,
    finalize_answer,
    pointed_answer,
    refusal_text,
)
from qa_bot.answering.evidence import Evidence, select_evidence
from qa_bot.answering.extractive import extractive_answer
from qa_bot.answering.llm import LLMStatus, build_chat_model, describe_llm_error, llm_status
from qa_bot.answering.pointer import POINTER_RESPONSE_FORMAT
from qa_bot.answering.queue import AnswerQueue, Ticket
from qa_bot.index.search import HybridRetriever, Passage, Query
from qa_bot.index.store import Index, IndexStats, IngestReport, ProgressCallback
from qa_bot.ingest.articles import Article
from qa_bot.settings import Settings, get_settings
from qa_bot.text import WORD, content_terms

if TYPE_CHECKING:
    from qa_bot.answering.deadline import AnswerDeadline

# qa_bot.answering.deadline (the openai client) and qa_bot.answering.prompts (LangChain's prompt
# templates) take about a second to import together: they are imported where a question is answered,
# so that `qa-bot status` and other commands that answer nothing start fast.


@dataclass(frozen=True)
class Retrieved:
    """Stream event: the passages the answer will be based on (shown even if the LLM fails)."""

    passages: list[Passage]
    standalone_question: str


@dataclass(frozen=True)
class Reading:
    """Stream event: the evidence the answerer is about to read, numbered as its answer will cite it:
    shown while the model reads, before its first token (seconds on 2 cores)."""

    passages: list[Passage]


@dataclass(frozen=True)
class Token:
    """Stream event: a piece of the model's raw answer text."""

    text: str


@dataclass(frozen=True)
class Queued:
    """Stream event: the model is writing other people's answers; `ahead` of this one, then it starts."""

    ahead: int
    estimate_s: float | None  # until this answer starts, from recent answer times; None: no history


@dataclass(frozen=True)
class Finished:
    """Stream event: the verified answer; replaces whatever the tokens showed."""

    answer: Answer


AnswerEvent = Retrieved | Reading | Queued | Token | Finished

# How often a question waiting in line checks its place (the line also wakes it when it moves).
_QUEUE_POLL_S = 1.0


@dataclass
class _Turn:
    """One question's place at the model: its ticket in the line, and how long the model worked on it
    (the line's estimates for later questions come from these)."""

    ticket: Ticket | None = None
    started: float | None = None
    answered_in: float | None = None

    def answered(self) -> None:
        if self.started is not None:
            self.answered_in = time.perf_counter() - self.started


@dataclass
class Status:
    index: IndexStats
    llm: LLMStatus


class QABot:
    def __init__(self, settings: Settings | None = None, *, open_vectors: bool = True) -> None:
        """`open_vectors=False` leaves Chroma and the embedding model to open on first use: what a
        command that only reads the catalog wants (`qa-bot status`); otherwise a Chroma that cannot
        be used fails here, at start."""
        self.settings = settings or get_settings()
        self.index = Index(self.settings)
        if open_vectors:
            self.index.open_vectors()
        self.retriever = HybridRetriever(self.index, self.settings)
        self._chat_model = None
        self._chat_model_lock = threading.Lock()
        slots = self.settings.answer_slots
        self.answer_queue = AnswerQueue(slots) if slots else None

    # --- ingest -------------------------------------------------------------------------------------

    def ingest(
        self,
        paths: list[Path],
        *,
        prune: bool = False,
        progress: ProgressCallback | None = None,
        embed: bool = True,
    ) -> IngestReport:
        """Keyword-searchable first, then embedded behind it (unless `embed=False`: `embed()` later)."""
        started = time.perf_counter()
        report = self.index.ingest([Path(p) for p in paths], prune=prune, progress=progress, embed=embed)
        report.seconds = time.perf_counter() - started
        return report

    def embed(self, progress: ProgressCallback | None = None) -> IngestReport:
        """Writes the vectors an ingest left unwritten (stopped, killed, or run with embed=False)."""
        started = time.perf_counter()
        report = self.index.embed(progress=progress)
        report.seconds = time.perf_counter() - started
        return report

    def status(self, *, count_vectors: bool = False) -> Status:
        """Corpus figures and the LLM's state (which may ask the LLM server: up to a few seconds).
        `count_vectors` also counts the chunks in Chroma against the catalog (opening Chroma)."""
        return Status(index=self.index.stats(count_vectors=count_vectors), llm=llm_status(self.settings))

    def index_stats(self) -> IndexStats:
        """Corpus figures only: cheap, for a UI that redraws often."""
        return self.index.stats()

    def article(self, article_id: str) -> Article | None:
        """The whole article, for showing a cited span in context."""
        return self.index.catalog.get(article_id)

    def recent_titles(self, limit: int = 3) -> list[str]:
        """The titles of the newest indexed articles, newest first (undated ones last), each once:
        what a chat offers to ask about before the first question. A title that addresses the
        assistant (a planted instruction) is left out, as an article without a title is."""
        from qa_bot.answering.injection import is_planted_instruction

        titles: list[str] = []
        for title in self.index.catalog.newest_titles():
            title = " ".join(title.split())
            if title and title not in titles and not is_planted_instruction(title):
                titles.append(title)
            if len(titles) == limit:
                break
        return titles

    # --- asking -------------------------------------------------------------------------------------

    def retrieve(
        self,
        question: str,
        *,
        as_of: date | None = None,
        k: int | None = None,
        since: date | None = None,
        until: date | None = None,
        sources: list[str] | None = None,
    ) -> list[Passage]:
        query = Query(
            question,
            k or self.settings.top_k,
            as_of=as_of,
            since=since,
            until=until,
            sources=sources,
            window_days=self.settings.date_window_days,
        )
        return self.retriever.search(query)

    def ask(self, question: str, **options) -> Answer:
        """Like ask_stream, returning only the verified answer."""
        answer = None
        for event in self.ask_stream(question, **options):
            if isinstance(event, Finished):
                answer = event.answer
        assert answer is not None
        return answer

    def ask_stream(
        self,
        question: str,
        *,
        history: list[Turn] | None = None,
        as_of: date | None = None,
        k: int | None = None,
        since: date | None = None,
        until: date | None = None,
        sources: list[str] | None = None,
    ) -> Iterator[AnswerEvent]:
        question = question.strip()
        if not question:
            raise ValueError("The question is empty: type a question about the articles.")
        timings: dict[str, float] = {}
        started = time.perf_counter()
        # One limit for all the model's work on this question (condensing and answering), from its
        # first request on: a model still loading is not counted, nor the wait for others' answers.
        from qa_bot.answering.deadline import AnswerDeadline

        deadline = AnswerDeadline(self.settings.llm_timeout)

        # The model writes one answer at a time (the line, when there is one). A follow-up needs it
        # before the search too, to rewrite the question: it waits in line first, and keeps its turn.
        turn = _Turn()
        try:
            if history and self.settings.llm != "extractive":
                yield from self._wait_in_line(turn, timings, deadline)
            standalone = self._standalone_question(question, history or [], timings, deadline)
            step = time.perf_counter()
            passages = self.retrieve(standalone, as_of=as_of, k=k, since=since, until=until, sources=sources)
            timings["retrieve"] = time.perf_counter() - step
            yield Retrieved(passages, standalone)

            as_of = as_of or date.today()
            step = time.perf_counter()
            evidence = self.select_evidence(standalone, passages, as_of)
            timings["evidence"] = time.perf_counter() - step
            if evidence.passages:
                yield Reading(evidence.passages)
            if not evidence.passages:
                answer = self._nothing_found(question, passages)
            elif self.settings.llm == "extractive":
                step = time.perf_counter()
                raw = extractive_answer(standalone, evidence.passages, relevance=evidence.scores)
                answer = self._check(question, standalone, raw, evidence, as_of, statement=True)
                timings["generate"] = time.perf_counter() - step
            else:
                yield from self._wait_in_line(turn, timings, deadline)
                answer = yield from self._generate(question, standalone, evidence, as_of, timings, deadline)
                turn.answered()
        finally:  # also when the asker goes away mid-answer (the stream is closed): the line moves on
            self._leave_line(turn)
        answer = date_the_answer(answer, as_of)
        answer.indexing_notice = self._indexing_notice()
        answer.planted = evidence.planted
        answer.standalone_question = standalone if standalone != question else None
        timings["total"] = time.perf_counter() - started
        answer.timings = timings
        yield Finished(answer)

    def _indexing_notice(self) -> str | None:
        """While the embedding is behind, or the embedding server is down, what an answer says about
        it (one catalog aggregate)."""
        if problem := self.index.embedding_unavailable:
            return (
                f"Search by meaning is unavailable right now ({problem}): this answer comes from keyword "
                "search alone, and may miss passages that say the same in other words."
            )
        try:
            return self.index_stats().indexing_notice()
        except Exception:  # a figure for the reader, never worth an answer
            return None

    def _nothing_found(self, question: str, passages: list[Passage]) -> Answer:
        """A refusal; but when the index itself is empty or its ingest failed, an answer that says
        so: "the articles don't say" would blame articles that were never indexed."""
        problem = index_not_ready_message(self.index_stats())
        if problem:
            return Answer(
                question=question,
                text=problem,
                refused=True,
                passages=passages,
                error=problem,
                index_not_ready=True,
            )
        return Answer(
            question=question, text=refusal_text(question, passages), refused=True, passages=passages
        )

    def select_evidence(self, question: str, passages: list[Passage], as_of: date) -> Evidence:
        """The sentences of the retrieved passages that the answerer reads (see qa_bot.answering.evidence)."""
        return select_evidence(
            question,
            passages,
            as_of=as_of,
            article_text=self._article_text,
            embed=self._sentence_vectors,
            budget_tokens=self.settings.evidence_tokens,
            max_sentences=self.settings.evidence_sentences,
            recency_weight=self.settings.recency_weight,
        )

    def _sentence_vectors(self, texts: list[str]) -> list[list[float]] | None:
        """The evidence sentences' vectors; None when the embedding server is down (the answer says
        so: `_indexing_notice`), so that a question is still answered from the words it shares."""
        from qa_bot.index.embeddings import EmbeddingServerError

        if self.index.embedding_unavailable:
            return None
        try:
            return self.index.embeddings.embed_documents(texts)
        except EmbeddingServerError as exc:
            self.index.embedding_unavailable = str(exc)
            return None

    def _article_text(self, article_id: str) -> str | None:
        article = self.index.catalog.get(article_id)
        return article.text if article else None

    def _wait_in_line(self, turn: _Turn, timings: dict[str, float], deadline: AnswerDeadline):
        """Until the questions asked before this one have their answers (`Queued` events meanwhile).
        Does nothing without a line, or when this question has its turn already."""
        line = self.answer_queue
        if line is None or turn.ticket is not None:
            return
        turn.ticket = line.join()
        step = time.perf_counter()
        ahead = line.ahead_of(turn.ticket)
        while ahead:
            yield Queued(ahead, line.estimate_s(ahead))
            ahead = line.wait_for_change(turn.ticket, timeout=_QUEUE_POLL_S)
        timings["queued"] = time.perf_counter() - step
        deadline.postpone(timings["queued"])  # the limit is for the model's work, not for the wait
        turn.started = time.perf_counter()

    def _leave_line(self, turn: _Turn) -> None:
        if self.answer_queue is not None and turn.ticket is not None:
            self.answer_queue.leave(turn.ticket, turn.answered_in)

    def _generate(
        self, question, standalone, evidence: Evidence, as_of, timings, deadline: AnswerDeadline
    ) -> Iterator[AnswerEvent]:
        """Streams the model's tokens; returns the verified answer (or the failure, with sources)."""
        passages = evidence.passages
        step = time.perf_counter()
        pieces: list[str] = []
        try:
            model = self.chat_model()
            from qa_bot.answering.prompts import build_answer_messages, build_point_messages

            build = build_point_messages if self.settings.answer_style == "pointer" else build_answer_messages
            messages = build(standalone, passages, as_of, self.settings.prompts_dir)
            if self.settings.answer_style == "pointer" and self.settings.answer_format == "json":
                model = model.bind(response_format=POINTER_RESPONSE_FORMAT)
            for chunk in deadline.iterate(model.stream(messages)):
                if chunk.content:
                    if not pieces:
                        timings["first_token"] = time.perf_counter() - step
                    pieces.append(chunk.content)
                    yield Token(chunk.content)
        except Exception as exc:  # the model is an edge we don't control: any failure becomes a message
            message = describe_llm_error(exc, self.settings)
            timings["generate"] = time.perf_counter() - step
            return Answer(question=question, text=message, refused=False, passages=passages, error=message)
        timings["generate"] = time.perf_counter() - step
        return self._check(question, standalone, "".join(pieces), evidence, as_of)

    def _check(
        self, question: str, standalone: str, raw: str, evidence: Evidence, as_of: date, statement=False
    ) -> Answer:
        """What the answerer wrote, checked against the evidence: a pointer is quoted
        (qa_bot.answering.quoting); a free sentence is verified (qa_bot.answering.verify)."""
        passages = evidence.passages
        if self.settings.answer_style == "sentence":
            return finalize_answer(question, raw, passages, as_of=as_of, planted=evidence.planted)
        # The extractive answerer writes the passages' own sentences, each with its [n].
        return pointed_answer(
            question, raw, passages, asked=standalone, article_text=self._article_text, statement=statement
        )

    def _standalone_question(
        self, question: str, history: list[Turn], timings: dict[str, float], deadline: AnswerDeadline
    ) -> str:
        """From the second turn on, rewrite a follow-up into a question that stands on its own."""
        if not history:
            return question
        step = time.perf_counter()
        try:
            if self.settings.llm == "extractive":
                return _borrowing_from_previous(question, history)
            from qa_bot.answering.prompts import build_condense_messages, parse_condensed_question

            messages = build_condense_messages(history, question, self.settings.prompts_dir)
            model = self.chat_model()
            with deadline.applied():
                reply = model.invoke(messages)
            return parse_condensed_question(str(reply.content), question)
        except Exception:
            # Condensing is an aid to retrieval; if the model fails here, the answer step reports it.
            return _concatenate_with_previous(question, history)
        finally:
            timings["condense"] = time.perf_counter() - step

    def chat_model(self):
        """The chat model, built once (the local model loads on first use)."""
        with self._chat_model_lock:
            if self._chat_model is None:
                self._chat_model = build_chat_model(self.settings)
            return self._chat_model


def index_not_ready_message(stats: IndexStats) -> str | None:
    """Why no question can be answered yet, and what to run; None when articles are indexed."""
    if stats.indexed_articles > 0:
        return None
    if stats.articles and stats.embedded >= stats.articles:  # all embedded, none catalogued: the upgrade
        return (
            f"This index was built by an older qa-bot: its {stats.articles} article(s) have their vectors "
            "but not yet their passages in the catalog, which keyword search and answers now read. Run "
            "`qa-bot ingest` on the same files once: it takes minutes and embeds nothing again."
        )
    if stats.articles:
        return (
            f"The index holds no usable article: the ingest of {stats.articles} article(s) did not finish "
            "(it failed or was stopped). Run `qa-bot ingest` on the articles again: if it fails, its "
            "message says what to fix."
        )
    return (
        f"The index is empty ({stats.location}): no article has been ingested yet. "
        "Run `qa-bot ingest <files or folders>` first, e.g. `qa-bot ingest seeds`."
    )


# Without a model to rewrite follow-ups, these mark a question that needs the one before it: a word
# pointing back ("what did he say"), or a start that continues it ("and in 2022?", "what about China?").
_POINTING_BACK = frozenset(
    "he him his she her hers they them their theirs it its this that these those".split()  # noqa: SIM905
)
_CONTINUING_STARTS = ("and", "what about", "how about")


def needs_previous_question(question: str) -> bool:
    """Whether a question leans on its predecessor: it points back at it, continues it, or has no
    content word of its own ("why?"). A question that stands alone must be searched for alone:
    glued onto the last one, it is searched for words it never asked about."""
    words = [word.lower() for word in WORD.findall(question)]
    opening = " ".join(words[:2])
    if any(opening == start or opening.startswith(start + " ") for start in _CONTINUING_STARTS):
        return True
    return not content_terms(question) or any(word in _POINTING_BACK for word in words)


def _borrowing_from_previous(question: str, history: list[Turn]) -> str:
    """The follow-up with its predecessor when it needs it, else the question as asked."""
    return _concatenate_with_previous(question, history) if needs_previous_question(question) else question


def _concatenate_with_previous(question: str, history: list[Turn]) -> str:
    """Without an LLM to rewrite it, the previous question supplies the follow-up's missing subject."""
    return f"{history[-1].question} {question}"
