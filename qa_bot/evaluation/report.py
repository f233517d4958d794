"""An evaluation's results: the report and its JSON form, comparison with an older run, CI gates, the
terminal summary. report.md and report.html are rendered by markdown.py and html.py."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qa_bot.evaluation.formatting import INDEPENDENT_CHECKS, MetricTable, format_value, metric_tables
from qa_bot.evaluation.metrics import lower_is_better

# A quality metric must drop by more than this (absolute, on a 0..1 scale) to count as a regression:
# on a 30-question set one question is 0.033, so a single changed answer is already flagged.
QUALITY_TOLERANCE = 0.02
# A latency must grow by more than this share AND by more than LATENCY_FLOOR_S seconds: small
# timings jitter by tens of percent between runs of the same code.
LATENCY_TOLERANCE = 0.20
LATENCY_FLOOR_S = 0.05


@dataclass
class Delta:
    metric: str
    old: float | None
    new: float | None
    lower_is_better: bool
    regression: bool = False

    @property
    def change(self) -> float | None:
        return None if self.old is None or self.new is None else self.new - self.old

    @property
    def kind(self) -> str:
        return "latency" if self.metric.startswith("latency.") else "quality"

    @property
    def improved(self) -> bool:
        change = self.change
        if change is None or change == 0:
            return False
        return (change < 0) if self.lower_is_better else (change > 0)


@dataclass
class EvalReport:
    config: dict[str, Any]  # settings used, dataset, date, git commit, ...
    metrics: dict[str, float | None]
    counts: dict[str, int]
    rows: list[dict[str, Any]]
    curve: list[tuple[int, float, float]] = field(default_factory=list)  # (k, hit@k, recall@k)
    deltas: list[Delta] = field(default_factory=list)
    compared_with: str | None = None
    gate_failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    paths: dict[str, Path] = field(default_factory=dict)  # written files: json, md, html, rows

    @property
    def regressions(self) -> list[Delta]:
        return [delta for delta in self.deltas if delta.regression]

    def to_json(self) -> dict[str, Any]:
        return {
            "config": self.config,
            "metrics": self.metrics,
            "counts": self.counts,
            "curve": [{"k": k, "hit": hit, "recall": recall} for k, hit, recall in self.curve],
            "compared_with": self.compared_with,
            "deltas": [
                {
                    "metric": d.metric,
                    "old": d.old,
                    "new": d.new,
                    "change": d.change,
                    "kind": d.kind,
                    "lower_is_better": d.lower_is_better,
                    "regression": d.regression,
                }
                for d in self.deltas
            ],
            "gate_failures": self.gate_failures,
            "warnings": self.warnings,
            # The same figures as in "metrics", apart and explained: graded without the app's own rule.
            "independent_checks": {
                name: {"value": self.metrics.get(name), "meaning": meaning}
                for name, meaning in INDEPENDENT_CHECKS.items()
            },
            "rows": self.rows,
        }


def load_report(path: Path) -> dict[str, Any]:
    """A report.json written earlier (or the folder holding one)."""
    path = Path(path)
    if path.is_dir():
        path = path / "report.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{path}: no such report. Give the report.json of an earlier `qa-bot eval`."
        ) from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not a report.json ({exc.msg} at line {exc.lineno}).") from None
    if not isinstance(data, dict) or not isinstance(data.get("metrics"), dict):
        raise ValueError(f'{path}: not a report.json of `qa-bot eval` (no "metrics" object).')
    return data


# ------------------------------------------------------------------------------------------------
# Comparison and gates


def _metrics_of(report: EvalReport | Mapping[str, Any]) -> Mapping[str, float | None]:
    if isinstance(report, EvalReport):
        return report.metrics
    return report.get("metrics", report)


def compare_reports(
    new: EvalReport | Mapping[str, Any],
    old: EvalReport | Mapping[str, Any],
    *,
    tolerance: float = QUALITY_TOLERANCE,
    latency_tolerance: float = LATENCY_TOLERANCE,
    latency_floor_s: float = LATENCY_FLOOR_S,
) -> list[Delta]:
    """Every metric of either run, old vs new, with regressions flagged.

    Quality metrics regress when they get worse by more than `tolerance` (absolute); latencies
    (higher is worse) when they grow by more than `latency_tolerance` (relative) and `latency_floor_s`.
    A metric only one run measured is listed, never flagged.
    """
    new_metrics, old_metrics = _metrics_of(new), _metrics_of(old)
    names = list(new_metrics) + [name for name in old_metrics if name not in new_metrics]
    deltas = []
    for name in names:
        if old_metrics.get(name) is None and new_metrics.get(name) is None:
            continue
        delta = Delta(name, old_metrics.get(name), new_metrics.get(name), lower_is_better(name))
        change = delta.change
        if change is not None:
            worse_by = change if delta.lower_is_better else -change
            if delta.kind == "latency":
                delta.regression = worse_by > latency_floor_s and worse_by > latency_tolerance * abs(
                    delta.old
                )
            else:
                delta.regression = worse_by > tolerance + 1e-12
        deltas.append(delta)
    return deltas


def load_thresholds(path: Path) -> dict[str, Any]:
    """Gate thresholds from .toml or .json: {"hit@5": 0.9, ...} or {"min": {...}, "max": {...}}."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: can't read the thresholds ({exc}).") from None
    _threshold_pairs(data, str(path))  # fail now, with the file's name, rather than at gate time
    return data


def _threshold_pairs(
    thresholds: Mapping[str, Any], where: str = "thresholds"
) -> list[tuple[str, str, float]]:
    """(metric, "min" | "max", limit): explicit min/max tables, else the metric's own direction."""
    pairs = []
    for key, value in thresholds.items():
        if key in ("min", "max") and isinstance(value, Mapping):
            pairs += [(metric, key, limit) for metric, limit in value.items()]
        else:
            pairs.append((key, "max" if lower_is_better(key) else "min", value))
    for metric, _, limit in pairs:
        if isinstance(limit, bool) or not isinstance(limit, int | float):
            raise ValueError(f'{where}: threshold for "{metric}" must be a number (got {limit!r}).')
    return pairs


def check_thresholds(report: EvalReport | Mapping[str, Any], thresholds: Mapping[str, Any]) -> list[str]:
    """One message per metric that misses its threshold (an empty list passes the gate)."""
    metrics = _metrics_of(report)
    failures = []
    for metric, bound, limit in _threshold_pairs(thresholds):
        value = metrics.get(metric)
        if value is None:
            failures.append(f"{metric}: not measured in this run, but the gate requires {bound} {limit:g}.")
        elif bound == "min" and value < limit:
            failures.append(f"{metric} = {value:.3f}, below the minimum {limit:g}.")
        elif bound == "max" and value > limit:
            failures.append(f"{metric} = {value:.3f}, above the maximum {limit:g}.")
    return failures


def gate_failures(report: EvalReport) -> list[str]:
    """What fails the CI build: threshold misses and flagged regressions."""
    regressions = [
        f"{d.metric} regressed: {format_value(d.metric, d.old)} -> {format_value(d.metric, d.new)}."
        for d in report.regressions
    ]
    return report.gate_failures + regressions


# ------------------------------------------------------------------------------------------------
# Terminal


def print_summary(report: EvalReport, console) -> None:
    """The metrics (with the comparison, if any), gate failures and the report files, for the terminal."""
    from rich.markup import escape

    counts = report.counts
    console.print(
        f"[bold]{counts.get('questions', 0)} questions[/]: {counts.get('passed', 0)} passed, "
        f"{counts.get('refused', 0)} refused, {counts.get('errors', 0)} errors"
    )
    for table in metric_tables(report.metrics, report.deltas, counts):
        console.print(_rich_table(table))
        if table.note:
            console.print(table.note, highlight=False)
    for warning in report.warnings:
        console.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)
    for failure in gate_failures(report):
        console.print(f"[bold red]gate:[/] {escape(failure)}", highlight=False)
    if report.paths:
        console.print("Reports: " + ", ".join(str(path) for path in report.paths.values()), highlight=False)


def _rich_table(table: MetricTable):
    """A section as a rich Table; a regression's change in bold red, an improvement's in green."""
    from rich.markup import escape
    from rich.table import Table

    shown = Table(title=table.title, show_lines=False)
    for name in table.header:
        shown.add_column(name, justify="right" if name in ("value", "old", "new", "change") else "left")
    for row in table.rows:
        cells = [escape(cell) for cell in row.cells]
        if row.flag:
            change = table.header.index("change")
            style = "bold red" if row.flag == "REGRESSION" else "green"
            cells[change] = f"[{style}]{cells[change]}[/]"
        shown.add_row(*cells)
    return shown
