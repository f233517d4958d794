"""report.md: the run's facts, its metrics (the independent answer checks apart) and every question.

Answers and questions are untrusted text: every table cell goes through `_md`, so no line break,
pipe or raw HTML from an answer can change the document around it.
"""

from __future__ import annotations

from typing import Any

from qa_bot.evaluation.formatting import (
    GLOSSARY_TITLE,
    MetricTable,
    gold_text,
    metric_glossary,
    metric_tables,
)
from qa_bot.evaluation.report import EvalReport


def _md(text: Any) -> str:
    """A table cell: no line breaks, no pipes, no raw HTML (answers are untrusted text)."""
    text = " ".join(str(text).split())
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    return lines + ["| " + " | ".join(_md(cell) for cell in row) + " |" for row in rows]


def _metrics_section(table: MetricTable) -> list[str]:
    lines = ["", f"## {table.title}", ""] + ([table.intro, ""] if table.intro else [])
    lines += _table(list(table.header), [list(row.cells) for row in table.rows])
    return lines + (["", table.note] if table.note else [])


def _glossary_lines(tables: list[MetricTable]) -> list[str]:
    glossary = metric_glossary(tables)
    if not glossary:
        return []
    return ["", f"## {GLOSSARY_TITLE}", ""] + [
        f"- **{_md(label)}**: {_md(meaning)}" for label, meaning in glossary
    ]


def _expected(gold: dict[str, Any]) -> str:
    return "(unanswerable: should refuse)" if gold["unanswerable"] else gold_text(gold)


def _question_lines(report: EvalReport) -> list[str]:
    rows = []
    for row in report.rows:
        result = "ERROR" if row.get("error") else ("pass" if row["passed"] else "FAIL")
        cited = ", ".join(dict.fromkeys(c["article_id"] for c in row["citations"]))
        answer = row.get("error") or row["answer"]
        rows.append([row["id"], result, row["question"], _expected(row["gold"]), answer, cited])
    return _table(["id", "result", "question", "expected", "answer", "cited articles"], rows)


def render_markdown(report: EvalReport) -> str:
    config = report.config
    lines = [
        "# qa-bot evaluation",
        "",
        f"- dataset: `{_md(config.get('dataset', '?'))}`",
        f"- date: {_md(config.get('created', '?'))}",
        f"- git commit: `{_md(config.get('git_commit') or 'unknown')}`",
        f"- answerer: {_md(config.get('llm', '?'))}; questions: {report.counts.get('questions', 0)} "
        f"({report.counts.get('passed', 0)} passed, {report.counts.get('errors', 0)} errors)",
        "",
    ]
    lines += [f"> warning: {_md(warning)}" for warning in report.warnings]
    if report.gate_failures:
        lines += ["", "## Gate failures", ""] + [f"- {_md(failure)}" for failure in report.gate_failures]
    if report.deltas:
        lines += ["", f"Compared with `{_md(report.compared_with)}`."]
    tables = metric_tables(report.metrics, report.deltas, report.counts)
    for table in tables:
        lines += _metrics_section(table)
    lines += _glossary_lines(tables)
    lines += ["", "## Questions", ""]
    lines += _question_lines(report)
    return "\n".join(lines) + "\n"
