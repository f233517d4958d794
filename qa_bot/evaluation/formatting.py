"""How a report's figures read: shared by report.md, report.html and the terminal summary.

One home for the wording, so the three renderings agree: a metric's value and change as text, its
label (the app's self-graded citation figures say that they are), which metrics are the
independent answer checks and what each one means, and the expected answer as text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

Item = TypeVar("Item")

# These grade each citation with qa_bot.answering.verify, the rule the app itself used to keep it: they
# can only agree with the app, so a reader must know whose rule it is (checks.py grades on its own).
APP_GRADED_LABELS = {
    "citation_precision": "citation precision (app's own rule)",
    "citation_recall": "citation recall (app's own rule)",
    "citation_precision_text_only": "citation precision, passage text only (app's own rule)",
}

# Graded by qa_bot.evaluation.checks, which shares no code with the app's answer verification.
INDEPENDENT_CHECKS = {
    "answer_bearing_citation": (
        "Of the correct answers, the share citing a passage whose text (not its title, not its date) "
        "holds the answer."
    ),
    "faithfulness": (
        "Of the answer sentences that state a number, date or proper name, the share whose every "
        "such fact occurs in the text of a passage the sentence cites (the app's own "
        '"As of <date>, " lead-in is not counted).'
    ),
    "faithfulness_facts": "The same, counted per number, date and name instead of per sentence.",
    "stale_answer_rate": (
        'Of the answered questions with a time cue ("this week", "latest", "recently", ...), the share '
        "whose newest cited article is more than 30 days older than the question's date. Lower is better."
    ),
}

INDEPENDENT_INTRO = (
    "Graded without the app's own support rule (qa_bot/evaluation/checks.py); "
    "docs/evaluation.md says how each one is computed."
)


# What each of the other metrics means, in one line an editor can read (docs/evaluation.md has the
# exact computations). Scores run from 0 to 1: 0.75 is three in four.
METRIC_MEANINGS = {
    "pass_rate": "Share of all questions the run passed: answered correctly, or refused when it should.",
    "answer_accuracy": "Share of the answerable questions whose answer contains an expected answer.",
    "token_f1": "How many words the answer shares with the expected answer (1 = the same words).",
    "mc_accuracy": "Of the multiple-choice questions, the share whose answer names the right choice.",
    "mrr": (
        "Mean reciprocal rank: how high the right article comes in the search results, on average "
        "(1 = always first, 0.5 = second, 0 = not found)."
    ),
    "citation_precision": "Of the answer's citations, the share whose passage backs its sentence.",
    "citation_recall": "Of the answer's sentences, the share backed by a passage they cite.",
    "citation_precision_text_only": (
        "Citation precision counting the passage's text only, not its title or date."
    ),
    "cited_sentence_rate": "Of the answer sentences, the share that cite a source at all.",
    "gold_citation_rate": "Of the answered questions, the share citing an article known to hold the answer.",
    "refusal_rate": "Of the questions the articles cannot answer, the share refused, as they should be.",
    "false_refusal_rate": "Of the questions the articles can answer, the share refused all the same.",
    "error_rate": "Share of questions that failed with an error, e.g. the model down (lower is better).",
    "short_answer_rate": "Of the answered questions, the share given a short answer quoted from an article.",
    "judge_faithfulness": "A second model's grade of how faithful the answers are to their sources (0 to 1).",
}
_FUNNEL_MEANINGS = {
    "retrieved": "found by the search",
    "in_evidence": "in the sentences the answerer was given to read",
    "in_output": "in what the answerer wrote",
    "shown": "in the answer shown to the reader",
}


def metric_meaning(metric: str) -> str | None:
    """One plain line saying what a metric means; None for a metric this list does not know."""
    if metric in METRIC_MEANINGS:
        return METRIC_MEANINGS[metric]
    name, _, k = metric.partition("@")
    if name == "hit" and k.isdigit():
        return f"Share of questions with a right article among the first {k} search results."
    if name == "recall" and k.isdigit():
        return f"Share of the right articles found among the first {k} search results, on average."
    if metric.startswith("funnel_") and metric.removeprefix("funnel_") in _FUNNEL_MEANINGS:
        where = _FUNNEL_MEANINGS[metric.removeprefix("funnel_")]
        return f"Of the answerable questions, the share whose expected answer is still {where}."
    if metric.startswith("latency."):
        _, stage, percentile = (metric.split(".") + ["", ""])[:3]
        share = {"p50": "half", "p95": "95 in 100"}.get(percentile)
        if share:
            return f"Seconds the {stage} step took: {share} of the questions took at most this long."
    return None


GLOSSARY_TITLE = "What the metrics mean"


def metric_glossary(tables: Iterable[MetricTable]) -> list[tuple[str, str]]:
    """(label, meaning) for each metric the tables show that has one, in their order; the independent
    checks are left out, as their own table says what each one measures."""
    shown = [row.metric for table in tables for row in table.rows if row.meaning is None]
    return [(metric_label(m), meaning) for m in shown if (meaning := metric_meaning(m)) is not None]


def metric_label(metric: str) -> str:
    """The name a reader sees: the metric's key, or what it is when the key alone would mislead."""
    return APP_GRADED_LABELS.get(metric, metric)


def split_independent(items: Iterable[Item], name: Callable[[Item], str]) -> tuple[list[Item], list[Item]]:
    """(the other metrics, the independent checks), each in the order given; `name` gives an item's metric."""
    general, independent = [], []
    for item in items:
        (independent if name(item) in INDEPENDENT_CHECKS else general).append(item)
    return general, independent


def format_value(metric: str, value: float | None) -> str:
    if value is None:
        return "–"
    if metric.startswith("latency."):
        return f"{value:.2f} s"
    return f"{value:.3f}"


def format_change(metric: str, old: float | None, new: float | None) -> str:
    """The change from old to new, signed; "new" or "gone" when only one run measured it."""
    if old is None or new is None:
        return "new" if old is None else "gone"
    unit = " s" if metric.startswith("latency.") else ""
    return f"{new - old:+.3f}{unit}"


def delta_flag(regression: bool, improved: bool) -> str:
    return "REGRESSION" if regression else ("better" if improved else "")


def gold_text(gold: Mapping[str, Any]) -> str:
    """The acceptable answers: variants of one fact joined by "/", facts by AND (all needed) or OR."""
    groups = [entry if isinstance(entry, str) else " / ".join(entry) for entry in gold["answers"]]
    return (" AND " if gold["all"] else " OR ").join(groups)


@dataclass(frozen=True)
class MetricRow:
    """One line of a metrics table, as text: label, values (value, or old / new / change), flag, meaning."""

    metric: str
    label: str
    values: tuple[str, ...]
    flag: str | None  # "REGRESSION", "better" or "" with a comparison; None (no column) without
    meaning: str | None  # what an independent check measures; None (no column) for the other metrics

    @property
    def cells(self) -> tuple[str, ...]:
        """Every cell of the line, in the order of MetricTable.header."""
        optional = tuple(cell for cell in (self.flag, self.meaning) if cell is not None)
        return (self.label, *self.values, *optional)


@dataclass(frozen=True)
class MetricTable:
    """One section of a report's metrics: a title, a sentence above and below, a header and rows."""

    title: str
    intro: str
    header: tuple[str, ...]
    rows: list[MetricRow]
    note: str


def metric_tables(
    metrics: Mapping[str, float | None], deltas: Sequence[Any], counts: Mapping[str, int]
) -> list[MetricTable]:
    """The report's two sections: every other metric, then the independent checks with their meaning.

    `deltas` (report.Delta, possibly none): with a comparison, each metric is shown old, new, change.
    """
    compared = bool(deltas)
    header = ("metric", *(("old", "new", "change", "") if compared else ("value",)))
    return [
        MetricTable("Metrics", "", header, _metric_rows(metrics, deltas, independent=False), ""),
        MetricTable(
            "Independent answer checks",
            INDEPENDENT_INTRO,
            (*header, "what it measures"),
            _metric_rows(metrics, deltas, independent=True),
            independent_counts_text(counts),
        ),
    ]


def _metric_rows(
    metrics: Mapping[str, float | None], deltas: Sequence[Any], *, independent: bool
) -> list[MetricRow]:
    if deltas:
        rows = []
        for d in split_independent(deltas, lambda delta: delta.metric)[independent]:
            values = (format_value(d.metric, d.old), format_value(d.metric, d.new))
            values += (format_change(d.metric, d.old, d.new),)
            rows.append(_row(d.metric, values, delta_flag(d.regression, d.improved)))
        return rows
    names = split_independent(metrics, str)[independent]
    return [_row(name, (format_value(name, metrics[name]),), None) for name in names]


def _row(metric: str, values: tuple[str, ...], flag: str | None) -> MetricRow:
    return MetricRow(metric, metric_label(metric), values, flag, INDEPENDENT_CHECKS.get(metric))


def independent_counts_text(counts: Mapping[str, int]) -> str:
    """What the independent checks were measured on, in one sentence."""
    return (
        f"Measured on {counts.get('answer_bearing_checked', 0)} correct answers, "
        f"{counts.get('faithfulness_sentences', 0)} answer sentences holding "
        f"{counts.get('faithfulness_facts', 0)} names, numbers and dates, and "
        f"{counts.get('staleness_checked', 0)} answers to time-cued questions "
        f"({counts.get('stale', 0)} stale, {counts.get('stale_dated_first', 0)} of them giving the "
        "article's date in their first sentence)."
    )
