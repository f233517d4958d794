"""`qa-bot`: ingest articles, ask questions, chat, check status, evaluate, review, start the chat UI."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.live import Live
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from qa_bot.answering.answer import Answer
from qa_bot.index.lock import WAITING_FOR_INGEST
from qa_bot.records import display_date
from qa_bot.settings import get_settings
from qa_bot.team.users import OPEN_WITHOUT_LOGIN, UsersFile, UsersFileError, is_loopback, login_problem
from qa_bot.terminal import TerminalConsole, json_for_terminal

EXIT_LLM_FAILED = 3
EXIT_FILES_FAILED = 4  # ingest: some files or records could not be read
EXIT_DATABASE_UNAVAILABLE = 5  # the catalog's database (QA_BOT_DATABASE_URL) cannot be reached
EXIT_MISSING_PACKAGE = 6  # a Python package qa-bot needs is not installed (the message names it)
EXIT_INDEX_NOT_READY = 7  # ask: the index holds no fully indexed article (none ingested, or it failed)
# The embedding route cannot be used: a setting is missing, the index holds another model's vectors,
# or the embedding server failed (ingest/embed: what was embedded before is kept; `qa-bot embed` resumes)
EXIT_EMBEDDING_FAILED = 8


class _CommandLine(typer.Typer):
    """The app; a database that cannot be reached, or a package missing from the user's environment,
    ends any command with one line that says why (and what to install), not a traceback."""

    def __call__(self, *args, **kwargs):
        try:
            return super().__call__(*args, **kwargs)
        except Exception as exc:
            from qa_bot.database.engine import DatabaseUnavailable
            from qa_bot.index.embeddings import EmbeddingConfigError
            from qa_bot.index.store import EmbeddingModelMismatch
            from qa_bot.missing_package import missing_package

            if isinstance(exc, DatabaseUnavailable):
                err_console.print(f"[red]{escape(str(exc))}[/red]", soft_wrap=True)
                sys.exit(EXIT_DATABASE_UNAVAILABLE)
            if isinstance(exc, EmbeddingConfigError | EmbeddingModelMismatch):
                err_console.print(f"[red]{escape(str(exc))}[/red]", soft_wrap=True)
                sys.exit(EXIT_EMBEDDING_FAILED)
            if missing := missing_package(exc):
                err_console.print(f"[red]{escape(missing.message())}[/red]", soft_wrap=True)
                sys.exit(EXIT_MISSING_PACKAGE)
            raise


app = _CommandLine(
    help="Answers questions about a corpus of news articles, citing the passages it used.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals can hold API keys
)
# Article text and model output are printed: these consoles let no control character through.
console = TerminalConsole()
err_console = TerminalConsole(stderr=True)


def _bot(*, open_vectors: bool = True):
    from qa_bot.service import QABot

    return QABot(get_settings(), open_vectors=open_vectors)


def _parse_date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date: use YYYY-MM-DD", param_hint=option) from None


# --- ingest -------------------------------------------------------------------------------------------


@app.command()
def ingest(
    paths: Annotated[
        list[Path],
        typer.Argument(help="Files or folders of .txt, .md, .html, .json, .jsonl, .pdf and .docx articles."),
    ],
    prune: Annotated[
        bool, typer.Option(help="Remove indexed articles that are gone from these paths.")
    ] = False,
    follow_links: Annotated[
        bool,
        typer.Option(
            "--follow-links",
            help="Also read files that links in the folders point to outside them (default: skip them, "
            "with a warning; or set QA_BOT_FOLLOW_LINKS=true).",
        ),
    ] = False,
    wait: Annotated[
        bool,
        typer.Option(
            "--wait/--no-wait",
            help="--wait (the default): return once every article is searchable by meaning too. "
            "--no-wait: return as soon as every article is searchable by keyword, and leave the "
            "embedding to a background `qa-bot embed` (its log: DATA_DIR/embed.log).",
        ),
    ] = True,
) -> None:
    """Add articles to the index. Unchanged articles are skipped; changed ones are replaced.

    Two passes: first every article's text and chunks go to the catalog and the keyword index (the
    whole archive is searchable by keyword within minutes), then the chunks are embedded behind it,
    newest articles first. Questions asked meanwhile are answered from keyword search and the vectors
    written so far, and say so. A stopped or killed ingest resumes where it stopped when run again.

    Each file that failed is listed with its reason.
    Files left alone on purpose are listed as skipped, not failed:
    other file types, links out of the folders, pipes and other special files.

    Exit codes:
    0  nothing failed (skipped files do not count)
    4  some files or records failed; each is listed, and the rest was still ingested
    5  the catalog's database (QA_BOT_DATABASE_URL) cannot be reached
    6  a Python package qa-bot needs is missing: the message names it and how to install it
    2  wrong usage, e.g. an unknown option
    """
    from qa_bot.ingest.articles import CorpusOptions, estimate_articles
    from qa_bot.service import QABot

    settings = get_settings()
    if follow_links:
        settings = settings.model_copy(update={"follow_links": True})
    bot = QABot(settings)
    expected = estimate_articles(paths, CorpusOptions.from_settings(settings))
    with _ingest_progress(expected) as advance:
        report = bot.ingest(paths, prune=prune, progress=advance, embed=wait)
    _print_ingest_report(report)
    _stop_if_embedding_failed(report)
    if not wait and report.not_embedded:
        log = _embed_in_background(settings)
        console.print(
            f"{report.not_embedded} article(s) are searchable by keyword and are being embedded in the "
            f"background (log: {escape(str(log))}); `qa-bot status` shows how far it got.",
            soft_wrap=True,
        )
    if report.failed:
        err_console.print(
            f"{len(report.failed)} failed (listed above); everything else was ingested. "
            f"Exit code {EXIT_FILES_FAILED}."
        )
        raise typer.Exit(EXIT_FILES_FAILED)


@app.command()
def embed() -> None:
    """Embed the articles an ingest left searchable by keyword only (stopped, killed, or --no-wait).

    `qa-bot ingest` does this itself; this resumes it without reading the article files again.
    """
    bot = _bot()
    with _ingest_progress(0) as advance:
        report = bot.embed(progress=advance)
    console.print(
        f"Embedded {report.embedded} article(s), {report.chunks_added} chunk(s), in {report.seconds:.1f} s.",
        soft_wrap=True,
    )
    _stop_if_embedding_failed(report)


def _stop_if_embedding_failed(report) -> None:
    """The embedding server failed: say so, how far it got, and how to resume; exit non-zero."""
    if report.embedding_error is None:
        return
    err_console.print(
        f"[red]Embedding stopped: {escape(report.embedding_error)}.[/red] What was embedded before is "
        f"kept; {report.not_embedded} article(s) are searchable by keyword only until it resumes: "
        "`qa-bot embed` carries on where it stopped, embedding nothing twice. "
        f"Exit code {EXIT_EMBEDDING_FAILED}.",
        soft_wrap=True,
    )
    raise typer.Exit(EXIT_EMBEDDING_FAILED)


def _embed_in_background(settings) -> Path:
    """Starts `qa-bot embed` in a session of its own (it outlives this command); its log file."""
    import subprocess

    log = settings.data_dir / "embed.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a", encoding="utf-8") as out:
        subprocess.Popen(
            [sys.executable, "-m", "qa_bot.cli", "embed"],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return log


# Seconds between the plain progress lines an ingest writes to a log file or a pipe; read at each
# ingest, so that a test can shorten it.
PLAIN_PROGRESS_EVERY_S = 5.0


@dataclass
class _IngestCount:
    """What an ingest has done so far: articles read (of about `expected`), then articles and chunks
    embedded (of `to_embed` articles), with the time the keyword pass ended."""

    expected: int
    articles: int = 0
    chunks: int = 0
    searchable_at: float | None = None  # time.monotonic() when everything was searchable by keyword
    to_embed: int = 0
    embedded: int = 0
    embedding_since: float | None = None

    def add(self, event: str, n: int) -> None:
        if event == "waiting":
            err_console.print(WAITING_FOR_INGEST)
        elif event == "chunk":
            self.chunks += n
        elif event == "searchable":
            self.searchable_at = time.monotonic()
        elif event == "embedding":
            self.to_embed, self.embedding_since = n, time.monotonic()
        elif event == "embedded":
            self.embedded += n
        else:
            self.articles += n

    def embedding_eta(self) -> str:
        if not self.embedded or self.embedding_since is None:
            return "-:--:--"
        elapsed = time.monotonic() - self.embedding_since
        return _clock((self.to_embed - self.embedded) * elapsed / self.embedded)

    def line(self) -> str:
        if self.embedding_since is None:
            return f"{self.articles} of ~{self.expected} articles"
        return (
            f"searchable by keyword; embedded {self.embedded} of {self.to_embed} articles "
            f"({self.chunks} chunks), ETA {self.embedding_eta()}"
        )


def _ingest_progress(expected: int):
    """Progress on stderr: a live bar on a terminal; plain lines in a log file or a pipe, where a
    bar would show nothing until the end (an ingest of 300 articles printed nothing for 8 minutes)."""
    count = _IngestCount(expected)
    return _progress_bar(count) if err_console.is_terminal else _progress_lines(count)


@contextmanager
def _progress_bar(count: _IngestCount) -> Iterator[Callable[[str, int], None]]:
    """A progress line counting articles and chunks, with the time elapsed and the time remaining;
    the chunk count moves while a large article is embedded."""
    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]Ingesting[/]"),
        BarColumn(),
        TextColumn("{task.fields[line]}"),
        TimeElapsedColumn(),
        _AverageTimeRemaining(),
        console=err_console,
        transient=True,
    ) as progress:
        task = progress.add_task("ingest", total=count.expected, line=count.line())

        def advance(event: str, n: int) -> None:
            count.add(event, n)
            if event == "embedding":  # the bar starts again, for the embedding pass
                progress.reset(task, total=n, line=count.line())
            done = count.embedded if count.embedding_since is not None else count.articles
            progress.update(task, completed=done, line=count.line())

        yield advance


@contextmanager
def _progress_lines(count: _IngestCount) -> Iterator[Callable[[str, int], None]]:
    """Every PLAIN_PROGRESS_EVERY_S seconds a line of text, no escapes: "Ingesting: 40 of ~300
    articles, 0:01:10 elapsed", then "Ingesting: searchable by keyword; embedded 12 of 300 articles
    (501 chunks), ETA 0:20:00, 0:02:10 elapsed". A clock of its own writes it, so that the lines go on
    while the embedding model loads or a large article is embedded."""
    started = time.monotonic()
    stop = threading.Event()

    def report() -> None:
        elapsed = _clock(time.monotonic() - started)
        err_console.print(
            f"Ingesting: {count.line()}, {elapsed} elapsed",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )

    def tick() -> None:
        while not stop.wait(PLAIN_PROGRESS_EVERY_S):
            report()

    clock = threading.Thread(target=tick, name="ingest-progress", daemon=True)
    clock.start()
    try:
        yield count.add
    finally:
        stop.set()
        clock.join()


def _clock(seconds: float) -> str:
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


class _AverageTimeRemaining(ProgressColumn):
    """Time left at the average rate since the start. Articles finish a batch at a time, so rich's own
    column (the rate over the last seconds) saw 32 articles in a few milliseconds and promised seconds."""

    def render(self, task) -> Text:
        if not task.completed or not task.total or task.elapsed is None:
            return Text("ETA -:--:--", style="progress.remaining")
        left = max(task.total - task.completed, 0) * task.elapsed / task.completed
        return Text(f"ETA {_clock(left)}", style="progress.remaining")


def _print_ingest_report(report) -> None:
    from qa_bot.ingest.articles import SkippedFile

    skipped = [w for w in report.warnings if isinstance(w, SkippedFile)]
    warnings = [w for w in report.warnings if not isinstance(w, SkippedFile)]
    table = Table(title=f"Ingest summary ({report.seconds:.1f} s)", show_header=False)
    for label, value in [
        ("added", report.added),
        ("updated", report.updated),
        ("unchanged", report.unchanged),
        ("removed", report.removed),
        ("failed", len(report.failed)),
        ("skipped", len(skipped)),
        ("chunks added", report.chunks_added),
        ("chunks deleted", report.chunks_deleted),
        ("articles embedded", report.embedded),
        ("not yet embedded", report.not_embedded),
    ]:
        table.add_row(label, str(value))
    console.print(table)
    if report.searchable_after is not None:
        console.print(f"Searchable by keyword after {report.searchable_after:.1f} s.")
    for kind, items in (("[red]failed[/]", report.failed), ("[yellow]skipped[/]", skipped)):
        for item in items:
            console.print(f"{kind} {escape(item.path)}: {escape(item.reason)}", soft_wrap=True)
    for warning in warnings:
        console.print(f"[yellow]warning[/] {escape(warning.path)}: {escape(warning.reason)}", soft_wrap=True)


# --- ask / chat ---------------------------------------------------------------------------------------


# The options `ask` and `chat` share: which passages a question may be answered from, and the date
# it is answered as of (an archive is asked about as of its own time).
KOption = Annotated[int | None, typer.Option("--k", min=1, max=50, help="Passages to retrieve.")]
SinceOption = Annotated[str | None, typer.Option(help="Only articles from this date (YYYY-MM-DD).")]
UntilOption = Annotated[str | None, typer.Option(help="Only articles up to this date (YYYY-MM-DD).")]
SourceOption = Annotated[list[str] | None, typer.Option(help="Only articles from this source (repeatable).")]
AsOfOption = Annotated[str | None, typer.Option(help="Answer as of this date (default: today).")]


def _question_options(k, since, until, source, as_of) -> dict:
    """The shared options as QABot.ask_stream takes them; a malformed date is a usage error (exit 2)."""
    return dict(
        k=k,
        since=_parse_date(since, "--since"),
        until=_parse_date(until, "--until"),
        sources=source or None,
        as_of=_parse_date(as_of, "--as-of") or date.today(),
    )


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question, in quotes.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    k: KOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    source: SourceOption = None,
    as_of: AsOfOption = None,
) -> None:
    """Answer one question from the articles, with numbered citations.

    Exit codes: 0 answered or refused; 3 the language model failed; 6 a Python package is missing;
    7 the index holds no indexed article (nothing ingested yet, or the ingest failed: run `qa-bot ingest`).
    """
    options = _question_options(k, since, until, source, as_of)
    bot = _bot()
    answer = _run_question(bot, question, options, stream=not as_json and console.is_terminal)
    _log_answer(_open_answer_log(bot), bot, answer, options)
    if as_json:
        print(json_for_terminal(answer.to_dict(passage_text=False)))
    else:
        print_answer(answer)
    if answer.index_not_ready:
        raise typer.Exit(EXIT_INDEX_NOT_READY)
    if answer.error:
        raise typer.Exit(EXIT_LLM_FAILED)


@app.command()
def chat(
    k: KOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    source: SourceOption = None,
    as_of: AsOfOption = None,
) -> None:
    """A conversation in the terminal; follow-up questions may refer to earlier answers.

    --since, --until, --source and --as-of hold for every question of the conversation, as in `qa-bot ask`.
    """
    from qa_bot.service import Turn

    asked = _question_options(k, since, until, source, as_of)
    bot = _bot()
    log = _open_answer_log(bot)
    history: list[Turn] = []
    console.print("[dim]Ask about the articles. An empty line or Ctrl-D ends the chat.[/]")
    while True:
        try:
            question = console.input("[bold cyan]you>[/] ").strip()
        except (EOFError, KeyboardInterrupt):
            break
        if not question:
            break
        options = dict(asked, history=list(history))
        answer = _run_question(bot, question, options, stream=console.is_terminal)
        _log_answer(log, bot, answer, options)
        print_answer(answer)
        if not answer.error:
            history.append(Turn(question, answer.text))


def _run_question(bot, question: str, options: dict, *, stream: bool) -> Answer:
    """Runs the question, showing tokens live on a terminal; returns the verified answer."""
    from qa_bot.answering.answer import stream_display_text
    from qa_bot.service import Finished, Reading, Token

    answer = None
    reading = Text()
    received = ""
    with Live(reading, console=err_console, transient=True, auto_refresh=stream) as live:
        for event in bot.ask_stream(question, **options):
            if isinstance(event, Reading) and stream:  # what the model reads, while it reads
                reading = _reading_text(event.passages)
                live.update(reading)
            elif isinstance(event, Token) and stream:
                received += event.text
                live.update(Text.assemble(Text(stream_display_text(received), style="bold"), "\n\n", reading))
            elif isinstance(event, Finished):
                answer = event.answer
    assert answer is not None
    return answer


def _reading_text(passages) -> Text:
    lines = Text(f"Reading {len(passages)} sentences from the articles…\n", style="dim")
    for n, passage in enumerate(passages, start=1):
        meta = ", ".join(x for x in (passage.title, display_date(passage.date)) if x)
        lines.append(f"[{n}] {' '.join(passage.text.split())[:200]} ", style="dim")
        lines.append(f"({meta})\n" if meta else "\n", style="dim italic")
    return lines


def _open_answer_log(bot):
    """The team's answer log, opened once per command; None (with a warning) when it cannot be."""
    from qa_bot.team.answer_log import AnswerLog

    try:
        return AnswerLog.open(bot.settings)
    except Exception as exc:  # the database is down, the disk full: say so, keep the answers
        err_console.print(Text(f"Answers will not be written to the answer log: {exc}", style="yellow"))
        return None


def _log_answer(log, bot, answer: Answer, options: dict) -> None:
    """Answers asked in the terminal go to the team's answer log too, so that /review lists them with
    the chat's; a log that cannot be written costs a warning, never the answer."""
    import uuid

    from qa_bot.settings import settings_snapshot
    from qa_bot.team.answer_log import entry_from_answer

    if log is None:
        return
    asked = {name: value for name, value in options.items() if name not in ("history", "as_of")}
    try:
        entry = entry_from_answer(
            answer,
            id=f"cli-{uuid.uuid4().hex}",
            asked_on=options["as_of"],
            settings=settings_snapshot(bot.settings, **asked, asked_from="terminal"),
            history=options.get("history", ()),
            user=terminal_user(),
        )
        log.log(entry)
    except Exception as exc:
        err_console.print(Text(f"The answer was not written to the answer log: {exc}", style="yellow"))


def terminal_user() -> str | None:
    """Who asked from the terminal, as the review page lists them: the login name, marked as such."""
    import getpass

    try:
        return f"{getpass.getuser()} (terminal)"
    except (KeyError, OSError):  # a container user with no name
        return None


def print_answer(answer: Answer) -> None:
    if answer.indexing_notice:
        err_console.print(Text(answer.indexing_notice, style="yellow"), soft_wrap=True)
    if answer.standalone_question:
        console.print(f"[dim]Searched for: {escape(answer.standalone_question)}[/]")
    if answer.error:
        console.print(f"[bold red]{escape(answer.error)}[/]")
        _print_sources("Retrieved passages", [(i + 1, p) for i, p in enumerate(answer.passages)])
        return
    console.print(Text(answer.text, style="bold"))
    if answer.short_answer:  # the sentences that state it, word for word from the articles
        for quote in answer.quotes:
            console.print(Text(f"  “{' '.join(quote.text.split())}” [{quote.n}]", style="italic"))
    for sentence in answer.sentences:
        if not sentence.supported:
            why = f" ({sentence.reason})" if sentence.reason else ""
            console.print(Text("unverified: ", style="yellow"), Text(sentence.text + why))
    _print_sources("Sources", [(c.n, c.passage) for c in answer.citations])
    if answer.planted:
        console.print(
            Text(
                f"\nSuspicious: {len(answer.planted)} sentence(s) of the sources address an AI assistant "
                "(planted instructions); they were not used as evidence.",
                style="yellow",
            )
        )
        _print_sources("Suspicious sentences", [(i + 1, p) for i, p in enumerate(answer.planted)])


def _print_sources(title: str, numbered) -> None:
    if not numbered:
        return
    console.print(f"\n[bold]{title}[/]")
    for n, passage in numbered:
        where = passage.url or passage.path or ""
        heading = f"[{n}] {passage.title or Path(passage.path or '').name or passage.article_id}"
        meta = ", ".join(x for x in (display_date(passage.date), passage.source) if x)
        console.print(Text(heading, style="cyan"), Text(f"({meta})" if meta else "", style="dim"))
        console.print(Text(f"    {where}  chars {passage.start}-{passage.end}", style="dim"))
        snippet = passage.text if len(passage.text) < 400 else passage.text[:400] + "..."
        console.print(Text("    " + snippet.replace("\n", " ")))


# --- eval ---------------------------------------------------------------------------------------------


@app.command(name="eval")
def evaluate(
    dataset: Annotated[Path, typer.Argument(help="Question set: qa-bot JSONL, or RealTime QA's qa.jsonl.")],
    corpus: Annotated[list[Path] | None, typer.Option(help="Articles to ingest first (repeatable).")] = None,
    index: Annotated[
        Path | None,
        typer.Option(
            help="Evaluate over this index folder (its data dir), kept between runs: nothing is "
            "re-embedded. With --corpus, the corpus is ingested into it first, skipping unchanged "
            "articles. Default: a fresh OUT/index when there is a corpus."
        ),
    ] = None,
    out: Annotated[Path, typer.Option(help="Folder for rows.jsonl and the reports.")] = Path("eval-out"),
    llm: Annotated[str | None, typer.Option(help="Answerer for this run: local, openai, ...")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N questions.")] = None,
    k: Annotated[int | None, typer.Option("--k", min=1, max=50, help="Passages per answer.")] = None,
    compare: Annotated[Path | None, typer.Option(help="An earlier report.json to compare with.")] = None,
    thresholds: Annotated[Path | None, typer.Option(help="Limits (.toml/.json); exit 1 when missed.")] = None,
    judge: Annotated[
        str | None, typer.Option(help="Grade faithfulness with this model (QA_BOT_JUDGE_MODEL).")
    ] = None,
    rescore: Annotated[
        bool,
        typer.Option(
            help="Ask nothing: grade the answers already in OUT/rows.jsonl again with today's checks "
            "and rewrite the reports (after the measures change)."
        ),
    ] = False,
    reverify: Annotated[
        bool,
        typer.Option(
            help="Like --rescore, and also check each saved model answer again with today's answer "
            "stage (citations, verifier, refusal), over the evidence it was given; asks no model."
        ),
    ] = False,
) -> None:
    """Run a fixed question set through the bot and write report.json, report.md and report.html.

    Resumable: finished questions are kept in OUT/rows.jsonl and skipped when run again. To try a
    prompt change without re-embedding, keep the index: --index eval-runs/dev-index --corpus FILE
    builds it on the first run and only checks it for changed articles on the next ones.
    """
    from qa_bot.answering.llm import LLMConfigError, build_judge_model
    from qa_bot.evaluation import (
        DatasetError,
        default_corpus,
        eval_config,
        gate_failures,
        load_eval_items,
        load_thresholds,
        print_summary,
        rescore_run,
        run_eval,
    )
    from qa_bot.service import QABot

    settings = get_settings()
    if llm:
        settings = settings.model_copy(update={"llm": llm})
    if judge:
        settings = settings.model_copy(update={"judge_model": judge})
    try:
        judge_model = build_judge_model(settings)
        items = load_eval_items(dataset, limit=limit)
        limits = load_thresholds(thresholds) if thresholds else None
    except (DatasetError, LLMConfigError, OSError, ValueError) as exc:
        err_console.print(f"[red]{escape(str(exc))}[/]")
        raise typer.Exit(2) from None
    if rescore or reverify:
        try:
            report = rescore_run(items, out, compare=compare, thresholds=limits, reverify=reverify)
        except (OSError, ValueError) as exc:
            err_console.print(f"[red]{escape(str(exc))}[/]")
            raise typer.Exit(2) from None
        print_summary(report, console)
        raise typer.Exit(1 if gate_failures(report) else 0)
    out.mkdir(parents=True, exist_ok=True)
    if index is not None:
        if not corpus and not _holds_an_index(index):
            err_console.print(
                f"[red]{escape(str(index))} holds no index yet: add --corpus to build it there.[/]"
            )
            raise typer.Exit(2)
        # A kept index: only an explicit --corpus is added to it, so reruns evaluate the same articles.
        settings = settings.model_copy(update={"data_dir": index})
    else:
        corpus = corpus or default_corpus(dataset, items, out)
        if corpus:
            # The evaluation gets its own index, so it never adds to or prunes the user's.
            settings = settings.model_copy(update={"data_dir": out / "index"})
    identity = {"index": str(index)} if index is not None else {}
    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]Evaluating[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as progress:
        task = progress.add_task("eval", total=len(items))
        report = run_eval(
            QABot(settings),
            items,
            out,
            corpus=[Path(p) for p in corpus] if corpus else None,
            limit=limit,
            compare=compare,
            k=k,
            progress=lambda done, total, _row: progress.update(task, completed=done, total=total),
            config=eval_config(settings, dataset=dataset, **identity),
            thresholds=limits,
            judge=judge_model,
        )
    print_summary(report, console)
    raise typer.Exit(1 if gate_failures(report) else 0)


def _holds_an_index(folder: Path) -> bool:
    """Whether a folder looks like a data dir something was ingested into (not missing, not empty)."""
    return folder.is_dir() and any(folder.iterdir())


# --- review -------------------------------------------------------------------------------------------


@app.command(name="review-stats")
def review_stats(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """How often the app's "verified" mark on a citation agrees with the reviewers (the /review page).

    A reviewer's "supports" counts as supported; "partly" and "does not support" do not. Precision:
    of the citations the app verified, the share reviewers say support their sentence. Recall: of
    those reviewers say support their sentence, the share the app verified.
    """
    from qa_bot.team.answer_log import ANSWER_VERDICTS, CITATION_VERDICTS, AnswerLog
    from qa_bot.team.reviews import MIN_SAMPLE
    from qa_bot.team.reviews import review_stats as compute

    stats = compute(AnswerLog.open(get_settings()))
    if as_json:
        print(json.dumps(stats.as_dict(), indent=2))
        return
    agreement = stats.agreement
    answers = Table(title="Answers", show_header=False)
    answers.add_row("logged", str(stats.answers))
    answers.add_row("reviewed", str(stats.reviewed))
    for verdict, label in ANSWER_VERDICTS.items():
        answers.add_row(f"  {label}", str(stats.verdicts.get(verdict, 0)))
    answers.add_row("  with a corrected answer", str(stats.corrected))
    answers.add_row("  exportable as evaluation cases", str(stats.exportable))
    console.print(answers)
    marked = f"{agreement.reviewed} citation{'' if agreement.reviewed == 1 else 's'} marked"
    marks = Table(title=f"{marked}: the app's mark, the reviewer's")
    marks.add_column("the app")
    for label in CITATION_VERDICTS.values():
        marks.add_column(label, justify="right")
    for label, counts in (("verified", agreement.verified), ("not verified", agreement.unverified)):
        marks.add_row(label, *(str(counts.get(v, 0)) for v in CITATION_VERDICTS))
    console.print(marks)
    figures = Table(title="The verifier against the reviewers", show_header=False)
    rows = [
        ("precision", agreement.precision, agreement.precision_sample),
        ("recall", agreement.recall, agreement.recall_sample),
        ("agreement", agreement.agreement, agreement.reviewed),
        ("precision, 'partly' counted as support", agreement.lenient_precision, agreement.precision_sample),
    ]
    for label, value, sample in rows:  # with what each stands on: one mark is no precision
        enough = sample >= MIN_SAMPLE
        figures.add_row(
            label, "-" if value is None else f"{value:.1%}", f"of {sample}" + ("" if enough else ", too few")
        )
    console.print(figures)
    console.print(f"A figure needs {MIN_SAMPLE} marks to judge by; under that it says 'too few'.")


@app.command(name="review-export")
def review_export(
    out: Annotated[Path, typer.Argument(help="The JSONL file to write (a qa-bot eval dataset).")],
) -> None:
    """Write the reviewed answers as evaluation cases: run them with `qa-bot eval OUT`.

    Correct answers keep their text, corrected ones the correction, answers that should have been
    refused become unanswerable questions; incorrect answers without a correction are left out.
    """
    from qa_bot.team.answer_log import AnswerLog, LogFilter
    from qa_bot.team.reviews import cases_jsonl, reviewed_cases

    log = AnswerLog.open(get_settings())
    reviewed = log.find(LogFilter(reviewed=True))
    cases = reviewed_cases(reviewed)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(cases_jsonl(cases), encoding="utf-8")
    unanswerable = sum(1 for c in cases if c["unanswerable"])
    left_out = len(reviewed) - len(cases)
    console.print(
        f"Wrote {len(cases)} evaluation cases to {escape(str(out))} ({unanswerable} unanswerable)"
        + (f"; {left_out} left out (incorrect, and no corrected answer)" if left_out else "")
        + f". Run them with: qa-bot eval {escape(str(out))}",
        soft_wrap=True,
    )


# --- status / ui --------------------------------------------------------------------------------------


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    check: Annotated[
        bool, typer.Option("--check", help="Also count the chunks in Chroma against the catalog (slower).")
    ] = False,
) -> None:
    """What is indexed, where it is stored, whether its indexes agree, and which models answer."""
    bot = _bot(open_vectors=check)  # the catalog alone answers the rest, in well under a second
    info = bot.status(count_vectors=check)
    consistency = info.index.consistency
    rows = {
        "articles": info.index.articles,
        "searchable by meaning": info.index.meaning_line(),
        "chunks": info.index.chunks,
        "consistency": consistency.summary(),
        "dates": f"{info.index.first_date or '-'} .. {info.index.last_date or '-'}",
        "sources": ", ".join(info.index.sources) or "-",
        "index": info.index.location,
        "database": info.index.database,
        "embedding model": info.index.embedding,
        "LLM provider": info.llm.provider,
        "LLM model": info.llm.model,
        "LLM state": info.llm.state,
    }
    if as_json:
        meaning = {
            "embedded": info.index.embedded,
            "articles": info.index.articles,
            "running": consistency.embedding_running,
            "eta_s": info.index.embedding_eta_s,
            "chunks_per_s": info.index.embedding_rate,
        }
        del rows["searchable by meaning"]
        print(
            json.dumps(
                {**rows, "searchable_by_meaning": meaning, "consistency": consistency.as_dict()}, indent=2
            )
        )
        return
    if consistency.vectors is not None:
        rows["chunks"] = f"{info.index.chunks} (Chroma holds {consistency.vectors})"
        # Opening the vectors compared their model with this one (another would have been refused).
        rows["embedding model"] = f"{info.index.embedding} (the index's vectors: the same)"
    else:  # the catalog alone does not know which model made the vectors
        rows["embedding model"] = f"{info.index.embedding} (set; `--check` compares the index's vectors)"
    rows["sources"] = _shortened(info.index.sources)
    table = Table(show_header=False)
    for key, value in rows.items():
        behind = key == "searchable by meaning" and info.index.embedding_behind
        style = "bold yellow" if (key == "consistency" and not consistency.ok) or behind else ""
        table.add_row(key, Text(str(value), style=style))
    console.print(table)
    for problem in consistency.problems():
        console.print(Text(problem, style="yellow"), soft_wrap=True)


def _shortened(names: list[str], shown: int = 8) -> str:
    """A newsroom archive has hundreds of sources: a table row names a few and counts the rest."""
    if len(names) <= shown:
        return ", ".join(names) or "-"
    return f"{len(names)} sources: {', '.join(names[:shown])}, … (`qa-bot status --json` lists all)"


@app.command()
def ui(
    port: Annotated[int, typer.Option(help="Port for the chat UI.")] = 8501,
    address: Annotated[
        str, typer.Option(help="Address to bind; 127.0.0.1 keeps it on this machine.")
    ] = "127.0.0.1",
    no_auth: Annotated[
        bool,
        typer.Option(
            "--no-auth",
            help="Serve beyond this machine without a login, on purpose (every page then says so).",
        ),
    ] = False,
) -> None:
    """Start the chat UI (Streamlit) on http://127.0.0.1:8501.

    On any address but a loopback one it needs a login (QA_BOT_AUTH=password with users from
    `qa-bot users add`, or QA_BOT_AUTH=oidc) or --no-auth; otherwise it refuses to start (exit 2).
    """
    settings = get_settings()
    problem = login_problem(settings, address, no_auth=no_auth)
    if problem:
        err_console.print(f"[red]{escape(problem)}[/red]")
        raise typer.Exit(2)
    if no_auth and not is_loopback(address):
        err_console.print(f"[yellow]Warning: {escape(OPEN_WITHOUT_LOGIN.format(address=address))}[/yellow]")
        os.environ["QA_BOT_NO_AUTH"] = "true"  # the page shows the same warning
    from importlib.resources import files

    from qa_bot.ingest.articles import CorpusOptions
    from qa_bot.ingest.limits import largest_file_megabytes

    # The installed `ui` package's page, so that a wheel install serves the chat from any folder.
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(files("ui") / "app.py"),
        "--server.headless",
        "true",
        "--server.address",
        address,
        "--server.port",
        str(port),
        "--browser.gatherUsageStats",
        "false",
        # Streamlit's 200 MB per upload, down to the biggest file the loader reads.
        "--server.maxUploadSize",
        str(largest_file_megabytes(CorpusOptions.from_settings(settings).max_article_bytes)),
    ]
    console.print(f"Chat UI on http://{address}:{port} (Ctrl-C stops it)")
    # Become Streamlit (no child process), so that signals that stop `qa-bot ui` stop the server.
    os.execv(sys.executable, command)


users_app = typer.Typer(
    help="Users of the chat's password login (QA_BOT_AUTH=password).", no_args_is_help=True
)
app.add_typer(users_app, name="users")


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="The user name to sign in with.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input (for scripts).")
    ] = False,
) -> None:
    """Add a user, or set a new password for one (stored as an scrypt hash, never in clear)."""
    settings = get_settings()
    password = (
        sys.stdin.readline().rstrip("\n")
        if password_stdin
        else typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    )
    try:
        added = UsersFile(settings.users_path).add(name, password)
    except UsersFileError as exc:
        err_console.print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(2) from None
    what = "added" if added else "password changed"
    console.print(f"{escape(name)}: {what} in {escape(str(settings.users_path))}")


@users_app.command("remove")
def users_remove(name: Annotated[str, typer.Argument(help="The user to remove.")]) -> None:
    """Remove a user: they can no longer sign in, and an open session of theirs ends at its next click."""
    settings = get_settings()
    if not UsersFile(settings.users_path).remove(name):
        err_console.print(f"[red]No user {escape(name)!s} in {escape(str(settings.users_path))}.[/red]")
        raise typer.Exit(1)
    console.print(f"{escape(name)}: removed")


@users_app.command("list")
def users_list() -> None:
    """The user names (never the hashes)."""
    for name in UsersFile(get_settings().users_path).names():
        console.print(escape(name))


if __name__ == "__main__":  # pragma: no cover
    app()
