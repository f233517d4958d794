"""Run a question set through the bot, one scored row per question, resumable, then write the reports.

Each finished question is appended to `out_dir/rows.jsonl` at once, so a crash or Ctrl-C loses at most
the question in flight; the next run with the same configuration skips the questions already there.
Rows and reports are redacted before they are written: an LLM error can quote the key it was sent.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import re
import subprocess
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import asdict, is_dataclass, replace
from pathlib import Path
from typing import Any

from qa_bot.answering.verify import source_text
from qa_bot.evaluation.checks import independent_checks
from qa_bot.evaluation.datasets import EvalItem
from qa_bot.evaluation.html import render_html
from qa_bot.evaluation.markdown import render_markdown
from qa_bot.evaluation.metrics import (
    ArticleRef,
    SupportChecker,
    aggregate,
    answer_correct,
    article_refs,
    choice_correct,
    citation_counts,
    cites_gold,
    gold_ranks,
    hit_curve,
    load_support_checker,
    token_f1,
)
from qa_bot.evaluation.report import EvalReport, check_thresholds, compare_reports, load_report
from qa_bot.index.search import Passage
from qa_bot.redaction import redact_data, redact_known
from qa_bot.settings import settings_snapshot

ROWS_FILE = "rows.jsonl"
# The ranking scored by hit@k / recall@k / MRR goes this many articles deep when the bot can retrieve
# on its own. An article comes back as several passages, so that many articles take more passages.
DEFAULT_RETRIEVAL_DEPTH = 10
PASSAGES_PER_ARTICLE = 3

Progress = Callable[[int, int, dict[str, Any]], None]  # (done, total, the row just finished)


def run_eval(
    bot,
    items: list[EvalItem],
    out_dir: Path,
    *,
    corpus: list[Path] | None = None,
    limit: int | None = None,
    compare: Path | None = None,
    k: int | None = None,
    progress: Progress | None = None,
    config: Mapping[str, Any] | None = None,
    thresholds: Mapping[str, Any] | None = None,
    retrieval_depth: int | None = DEFAULT_RETRIEVAL_DEPTH,
    support: SupportChecker | None = None,
    judge=None,
) -> EvalReport:
    """Ask every item, score it, and write report.json/.md/.html to out_dir.

    bot: a QABot, or anything with `ask(question, *, history, as_of[, k]) -> Answer`; `ingest(paths)`
        when a corpus is given; `retrieve(question, *, as_of, k) -> list[Passage]` (optional) to score
        retrieval `retrieval_depth` articles deep instead of only on the passages the answer saw
        (the bot's relevance floor may still return fewer).
    k: passages per answer (passed to ask); None keeps the bot's setting.
    config: what identifies the run (settings, dataset, answerer; see `eval_config`). Rows from an
        earlier run resume only when it, k, the corpus and the retrieval depth are unchanged.
    compare: an older report.json (or its folder): deltas and regressions go into the report.
    thresholds: gate limits (see report.check_thresholds); failures go into the report.
    support: how citations are checked; default: qa_bot.answering.verify's support_score and threshold.
    judge: an optional LangChain chat model that grades each answer's faithfulness to its passages
        (prompts/judge.md); off by default, as it costs one LLM call per answer.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    previous = (
        load_report(compare) if compare is not None else None
    )  # a wrong path fails now, not after the run
    items = items[:limit] if limit is not None else list(items)
    identity = {
        **dict(config or {}),
        "k": k,
        "corpus": [str(path) for path in corpus or []],
        "retrieval_depth": retrieval_depth,
    }
    if judge is not None:
        from qa_bot.evaluation.judge import judge_name

        identity["judge"] = judge_name(judge)
    fingerprint = config_fingerprint(identity)
    report_warnings: list[str] = []
    rows_path = out_dir / ROWS_FILE
    finished = load_finished_rows(rows_path, fingerprint, report_warnings)
    pending = [item for item in items if not _still_valid(finished.get(item.id), item)]

    ingest_summary = None
    if corpus and pending:
        ingest_summary = _summarize_ingest(bot.ingest([Path(path) for path in corpus]))
        if ingest_summary and ingest_summary.get("failed"):
            report_warnings.append(
                f"{len(ingest_summary['failed'])} corpus file(s) failed to load; see config.ingest.failed."
            )
    support = support or load_support_checker()

    done = len(items) - len(pending)
    with rows_path.open("a", encoding="utf-8") as rows_file:
        for item in pending:
            row = evaluate_item(bot, item, k=k, retrieval_depth=retrieval_depth, support=support, judge=judge)
            row = redact_data(row)
            row["fingerprint"] = fingerprint
            rows_file.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
            rows_file.flush()
            os.fsync(rows_file.fileno())
            finished[item.id] = row
            done += 1
            if progress:
                progress(done, len(items), row)

    rows = [finished[item.id] for item in items]
    metrics, counts = aggregate(rows)
    report = EvalReport(
        config={
            **identity,
            "fingerprint": fingerprint,
            "created": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "git_commit": git_commit(),
            "limit": limit,
            "ingest": ingest_summary,
        },
        metrics=metrics,
        counts=counts,
        rows=rows,
        curve=hit_curve(rows),
        warnings=report_warnings,
    )
    return _finish(report, out_dir, previous, compare, thresholds)


def rescore_run(
    items: list[EvalItem],
    out_dir: Path,
    *,
    compare: Path | None = None,
    thresholds: Mapping[str, Any] | None = None,
    reverify: bool = False,
) -> EvalReport:
    """Grade the answers of an earlier run in out_dir again with today's checks, asking nothing.

    For when the measures change (a new check, a fixed grader) and the answers took an hour of
    model time: rows.jsonl is re-scored in place and the reports are rewritten. The run keeps its
    own configuration and commit; `config.rescored` says when and at which commit it was re-graded.

    reverify: also put each row's saved model output (`raw_answer`) through today's answer check
    again (`finalize_answer`, then the dating), over the evidence the model read, as the app would:
    a verifier change measured on the very same model answers, paired, with no model run.
    """
    out_dir = Path(out_dir)
    rows_path = out_dir / ROWS_FILE
    if not rows_path.is_file():
        raise FileNotFoundError(f"{rows_path} does not exist: run `qa-bot eval` into {out_dir} first.")
    previous = load_report(compare) if compare is not None else None
    by_id: dict[str, dict[str, Any]] = {}
    for line in rows_path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:  # a torn last line of an interrupted run
            continue
        by_id[row["id"]] = upgraded_row(row)  # the last answer to a question wins, as when resuming
    support = load_support_checker()
    rows = []
    for item in items:
        if item.id in by_id:
            if reverify:
                _reverify(by_id[item.id], item)
            _score(by_id[item.id], item, support)
            rows.append(by_id[item.id])
    if not rows:
        raise ValueError(f"{rows_path} holds no answer to any question of this dataset.")
    rows = redact_data(rows)
    rows_path.write_text("".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in rows))
    old_config = load_report(out_dir)["config"] if (out_dir / "report.json").is_file() else {}
    metrics, counts = aggregate(rows)
    report = EvalReport(
        config={
            **old_config,
            "rescored": {
                "at": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
                "git_commit": git_commit(),
                "reverified": reverify,
            },
        },
        metrics=metrics,
        counts=counts,
        rows=rows,
        curve=hit_curve(rows),
        warnings=[]
        if len(rows) == len(items)
        else [f"Only {len(rows)} of {len(items)} questions were answered."],
    )
    return _finish(report, out_dir, previous, compare, thresholds)


def _finish(report: EvalReport, out_dir: Path, previous, compare, thresholds) -> EvalReport:
    """Compare with the previous run, apply the gate, write the reports."""
    if previous is not None:
        report.deltas = compare_reports(report, previous)
        report.compared_with = str(compare)
        report.warnings += _comparability_warnings(report, previous)
    if thresholds:
        report.gate_failures = check_thresholds(report, thresholds)
    write_reports(report, out_dir)
    report.paths["rows"] = out_dir / ROWS_FILE
    return report


def write_reports(report: EvalReport, out_dir: Path) -> dict[str, Path]:
    """report.json, report.md and report.html in out_dir, secrets blanked; returns their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / "report.json", "md": out_dir / "report.md", "html": out_dir / "report.html"}
    safe = _redacted(report)
    as_json = json.dumps(safe.to_json(), indent=1, ensure_ascii=False, default=str) + "\n"
    paths["json"].write_text(redact_known(as_json), encoding="utf-8")
    paths["md"].write_text(redact_known(render_markdown(safe)), encoding="utf-8")
    paths["html"].write_text(redact_known(render_html(safe)), encoding="utf-8")
    report.paths.update(paths)
    return paths


def _redacted(report: EvalReport) -> EvalReport:
    """The report with every text from outside redacted before rendering, where escaping (JSON,
    HTML, Markdown) could split a secret that holds a special character."""
    return replace(
        report,
        config=redact_data(report.config),
        rows=redact_data(report.rows),
        warnings=redact_data(report.warnings),
        gate_failures=redact_data(report.gate_failures),
    )


def _comparability_warnings(report: EvalReport, previous: Mapping[str, Any]) -> list[str]:
    """Deltas between runs on different questions say little: say so next to them."""
    messages = []
    old_dataset = previous.get("config", {}).get("dataset")
    if old_dataset != report.config.get("dataset"):
        messages.append(
            f"The previous run used another dataset ({old_dataset}): deltas compare different questions."
        )
    old_count = previous.get("counts", {}).get("questions")
    if old_count is not None and old_count != report.counts["questions"]:
        messages.append(
            f"The previous run had {old_count} questions, this one {report.counts['questions']}: "
            "deltas partly reflect the different questions."
        )
    return messages


# ------------------------------------------------------------------------------------------------
# One question


def evaluate_item(
    bot,
    item: EvalItem,
    *,
    k: int | None = None,
    retrieval_depth: int | None = DEFAULT_RETRIEVAL_DEPTH,
    support: SupportChecker | None = None,
    judge=None,
) -> dict[str, Any]:
    """Ask one question and return its scored row; a failure becomes a row with `error`, not a crash."""
    row = _base_row(item)
    options: dict[str, Any] = {"history": item.history or None, "as_of": item.date}
    if k is not None:
        options["k"] = k
    started = time.perf_counter()
    try:
        answer = bot.ask(item.question, **options)
    except Exception as exc:  # the bot under test may fail in any way; the run goes on and reports it
        row["error"] = f"{type(exc).__name__}: {exc}"
        row["timings"] = {"total": time.perf_counter() - started}
        return row
    wall = time.perf_counter() - started
    ranking, row["ranking_from"] = article_refs(answer.passages), "answer passages"
    if retrieval_depth and hasattr(bot, "retrieve") and not answer.error:
        try:
            query = answer.standalone_question or item.question
            passages = bot.retrieve(query, as_of=item.date, k=retrieval_depth * PASSAGES_PER_ARTICLE)
            ranking = article_refs(passages)[:retrieval_depth]
            row["ranking_from"] = (
                f"retrieve(k={retrieval_depth * PASSAGES_PER_ARTICLE}), top {retrieval_depth} articles"
            )
        except Exception as exc:  # the answer is still worth scoring on the passages it saw
            row["ranking_error"] = f"{type(exc).__name__}: {exc}"
    _fill_answer(row, answer, wall)
    # What `--reverify` must check the saved output with: the pointer stage, or the free sentence.
    settings = getattr(bot, "settings", None)
    row["answer_style"] = getattr(settings, "answer_style", "sentence")
    row["statement"] = getattr(settings, "llm", None) == "extractive"  # the passages' own sentences
    row["retrieved"] = [{"article_id": ref.article_id, "stem": ref.stem} for ref in ranking]
    _score(row, item, support)
    if judge is not None and not row["refused"] and not row["error"]:
        row["judge"] = _judge(judge, answer, item)
    return row


def _judge(judge, answer, item: EvalItem) -> dict[str, Any]:
    from qa_bot.evaluation.judge import judge_faithfulness

    try:
        verdict = judge_faithfulness(
            judge, answer.standalone_question or item.question, answer.text, answer.passages
        )
    except Exception as exc:  # a failing judge must not lose the answer's own scores
        return {"label": "ERROR", "score": None, "reason": f"{type(exc).__name__}: {exc}"}
    return {"label": verdict.label, "score": verdict.score, "reason": verdict.reason}


def _base_row(item: EvalItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "question": item.question,
        "history": [turn.to_dict() for turn in item.history],
        "date": item.date.isoformat() if item.date else None,
        "gold": item.gold(),
        "meta": item.meta,
        "answer": "",
        "refused": False,
        "standalone_question": None,
        "sentences": [],
        "citations": [],
        "passages": [],
        "retrieved": [],
        "timings": {},
        "metrics": {},
        "passed": False,
        "error": None,
    }


def _fill_answer(row: dict[str, Any], answer, wall: float) -> None:
    """The answer's own record in the row (Answer.to_dict: what the model wrote and the sentences the
    check turned down, the passages it read with their text and offsets, for `rescore --reverify`).
    The row keeps its question; each citation also names its article's file `stem`, as gold
    articles may be given by file name."""
    record = answer.to_dict()
    del record["question"]
    row.update(record)
    row["timings"].setdefault("total", wall)
    for saved, citation in zip(row["citations"], answer.citations, strict=True):
        saved["stem"] = article_refs([citation.passage])[0].stem


def _reverify(row: dict[str, Any], item: EvalItem) -> None:
    """Check the row's saved model output again with today's answer stage, as `QABot.ask` does.

    Rows without `raw_answer` or evidence (an error, an older run) are left as they are.
    """
    from qa_bot.answering.answer import date_the_answer, finalize_answer, pointed_answer

    if row.get("error") or "raw_answer" not in row or not row.get("passages"):
        return
    as_of = item.date or datetime.date.today()
    passages = [Passage.from_dict(saved) for saved in row["passages"]]
    planted = [Passage.from_dict(saved) for saved in row.get("planted", [])]
    if row.get("answer_style") == "pointer":
        # The subject rule reads the evidence passages here: the whole articles are not in the row.
        answer = pointed_answer(
            item.question,
            row["raw_answer"],
            passages,
            asked=row.get("standalone_question"),
            statement=bool(row.get("statement")),
        )
    else:
        answer = finalize_answer(item.question, row["raw_answer"], passages, as_of=as_of, planted=planted)
    answer = date_the_answer(answer, as_of)
    answer.planted = planted
    timings, standalone = row["timings"], row["standalone_question"]
    _fill_answer(row, answer, timings.get("total", 0.0))
    row["timings"], row["standalone_question"] = timings, standalone


def _funnel(row: dict[str, Any], item: EvalItem, metrics: dict[str, Any]) -> dict[str, bool]:
    """Where a right answer is lost: the gold article retrieved, the gold answer in the evidence the
    answerer read, in what it wrote, and in what the app showed (graded as `correct`)."""
    ranks = metrics.get("gold_ranks")
    evidence = " ".join(saved.get("text", "") for saved in row.get("passages", []))
    return {
        "retrieved": bool(ranks and any(rank is not None for rank in ranks.values())) if ranks else None,
        "in_evidence": answer_correct(evidence, item.answers, item.all_required),
        "in_output": answer_correct(row.get("raw_answer") or "", item.answers, item.all_required),
        "shown": bool(metrics["correct"]),
    }


def _score(row: dict[str, Any], item: EvalItem, support: SupportChecker | None) -> None:
    """Per-question metrics, stored in the row so aggregates can be recomputed from rows alone."""
    answered = not row["refused"] and not row["error"]
    metrics: dict[str, Any] = {}
    if not item.unanswerable:
        metrics["correct"] = answered and answer_correct(row["answer"], item.answers, item.all_required)
        metrics["f1"] = token_f1(row["answer"], item.answers, item.all_required) if answered else 0.0
        if item.articles:
            refs = [ArticleRef(ref["article_id"], ref["stem"]) for ref in row["retrieved"]]
            metrics["gold_ranks"] = gold_ranks(refs, item.articles)
            cited = [ArticleRef(c["article_id"], c["stem"]) for c in row["citations"]]
            metrics["cites_gold"] = answered and cites_gold(cited, item.articles)
        metrics["funnel"] = _funnel(row, item, metrics)
        if item.choices and item.correct_choice:
            metrics["mc_correct"] = answered and choice_correct(
                row["answer"], item.choices, item.correct_choice
            )
    # A citation is checked against what the reader sees of it: passage, title and date.
    passages_by_n = {c["n"]: source_text(c["text"], c.get("title"), c.get("date")) for c in row["citations"]}
    metrics["citations"] = citation_counts(row["sentences"], passages_by_n, support).as_dict()
    if support is not None:
        bodies = {c["n"]: c["text"] for c in row["citations"]}
        metrics["citations_text_only"] = citation_counts(row["sentences"], bodies, support).as_dict()
    metrics["support_checked"] = support is not None
    row["metrics"] = metrics
    # Graded apart from the app's own support rule (checks.py), from the row alone.
    metrics.update(independent_checks(row))
    if row["error"]:
        row["passed"] = False
    elif item.unanswerable:
        row["passed"] = row["refused"]
    else:
        row["passed"] = bool(metrics["correct"])


# ------------------------------------------------------------------------------------------------
# Resuming


def config_fingerprint(identity: Mapping[str, Any]) -> str:
    """A short hash of what determines the answers: rows made under another configuration don't mix."""
    canonical = json.dumps(identity, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def load_finished_rows(rows_path: Path, fingerprint: str, messages: list[str]) -> dict[str, dict[str, Any]]:
    """Rows of an earlier, interrupted run with the same fingerprint, by question id.

    Rows from another configuration are moved aside (rows.<their fingerprint>.jsonl) and the run
    starts over, with a warning. A torn last line (a crash mid-write) is dropped.
    """
    if not rows_path.exists():
        return {}
    rows: dict[str, dict[str, Any]] = {}
    good_lines: list[str] = []
    other_fingerprints: set[str] = set()
    for line in rows_path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if not isinstance(row, dict) or "id" not in row:
            continue
        if row.get("fingerprint") != fingerprint:
            other_fingerprints.add(str(row.get("fingerprint")))
            continue
        rows[row["id"]] = upgraded_row(row)
        good_lines.append(line)
    if other_fingerprints:
        old = other_fingerprints.pop() if len(other_fingerprints) == 1 else "mixed"
        aside = rows_path.with_name(f"rows.{_safe(old)}.jsonl")
        os.replace(rows_path, aside)
        message = (
            f"{rows_path} held rows of a run with another configuration; moved them to {aside.name} "
            "and started over."
        )
        warnings.warn(message, stacklevel=3)
        messages.append(message)
        return {}
    # Rewrite without a torn line, so the next append starts on a line of its own.
    rows_path.write_text("".join(line + "\n" for line in good_lines), encoding="utf-8")
    return rows


def upgraded_row(row: dict[str, Any]) -> dict[str, Any]:
    """A row in today's form, whenever it was written. Rows from before answers had one JSON form
    (Answer.to_dict) called the passages read `evidence`, and a citation's passage text `passage`,
    without its offsets in the article, with the quote's offsets into the passage instead."""
    if "evidence" in row and "passages" not in row:
        row["passages"] = [_upgraded_passage(saved) for saved in row.pop("evidence")]
    read = {saved.get("n"): saved for saved in row.get("passages", [])}
    for citation in row.get("citations", []):
        if "passage" in citation and "text" not in citation:
            _upgrade_citation(citation, read.get(citation.get("n")))
    return row


def _upgraded_passage(saved: dict[str, Any]) -> dict[str, Any]:
    """An evidence passage of an older row: the chunk id it was checked under by `--reverify`."""
    start = saved.get("start") or 0
    return {"chunk_id": f"{saved['article_id']}@{start}", **saved, "start": start}


def _upgrade_citation(citation: dict[str, Any], read: dict[str, Any] | None) -> None:
    """A citation of an older row: its offsets from the passage read under its number (the same
    passage, as a citation's n is its place among them), the quote's moved into the article."""
    citation["text"] = citation.pop("passage")
    if read is not None and read.get("text") == citation["text"]:
        for key in ("chunk_id", "start", "end", "source"):
            citation.setdefault(key, read.get(key))
    citation.setdefault("start", 0)
    citation.setdefault("end", citation["start"] + len(citation["text"]))
    span = citation.pop("quote_in_passage", None)
    if span:
        citation["quote"] = {"start": citation["start"] + span[0], "end": citation["start"] + span[1]}


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", name)[:32]


def _still_valid(row: dict[str, Any] | None, item: EvalItem) -> bool:
    """A finished row counts if it has no error and its question and gold are still the dataset's."""
    if row is None or row.get("error"):
        return False
    fresh = _base_row(item)
    return all(row.get(key) == fresh[key] for key in ("question", "history", "date", "gold"))


# ------------------------------------------------------------------------------------------------
# Run description


def eval_config(
    settings=None, *, dataset: Path | str, llm: str | None = None, **extra: Any
) -> dict[str, Any]:
    """The `config` for run_eval: the dataset, the answerer, and every setting (secrets masked)."""
    config: dict[str, Any] = {"dataset": str(dataset)}
    if settings is not None:
        config["settings"] = settings_snapshot(settings, addresses=True)
        config["llm"] = llm or settings.llm
        if getattr(settings, "model", None):
            config["llm"] += f" ({settings.model})"
    elif llm:
        config["llm"] = llm
    config.update(extra)
    return config


def git_commit() -> str | None:
    """The checkout's commit (with "+dirty" for uncommitted changes), or None outside a git checkout."""
    try:
        commit = _git_output("rev-parse", "HEAD")
        dirty = _git_output("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty else "")


def _git_output(*args: str) -> str:
    """What `git ARGS` prints in this checkout, stripped; raises if git is missing or fails."""
    root = Path(__file__).resolve().parents[2]
    # Without optional locks `git status` never rewrites the index: the report only reads the checkout.
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}
    result = subprocess.run(
        ["git", *args], cwd=root, env=env, capture_output=True, text=True, timeout=10, check=True
    )
    return result.stdout.strip()


def _summarize_ingest(ingest_report) -> dict[str, Any] | None:
    if ingest_report is None:
        return None
    if is_dataclass(ingest_report):
        return json.loads(json.dumps(asdict(ingest_report), default=str))
    return {"result": str(ingest_report)}
