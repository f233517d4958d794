"""report.html: one self-contained page (inline CSS, inline SVG charts, no scripts, nothing fetched).

Answers, passages and questions are untrusted text: every piece of text goes through `_e` (html.escape),
and the page's Content-Security-Policy forbids scripts and remote loads as a second line of defence.
"""

from __future__ import annotations

import html
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from qa_bot.evaluation.formatting import (
    GLOSSARY_TITLE,
    MetricTable,
    gold_text,
    metric_glossary,
    metric_tables,
)
from qa_bot.evaluation.metrics import STANDARD_KS, latency_by_stage, lower_is_better, percentile
from qa_bot.evaluation.report import EvalReport

CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1200px; padding: 0 1em; }
body { color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid #ddd; padding: 4px 6px; vertical-align: top; }
th { background: #f4f4f4; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.pass { color: #176d2c; font-weight: 600; } .fail { color: #b3261e; font-weight: 600; }
.regression { background: #fde7e7; } .better { background: #e6f4ea; }
.warn { background: #fff4ce; padding: .5em 1em; border-left: 4px solid #e0b000; }
.gate { background: #fde7e7; padding: .5em 1em; border-left: 4px solid #b3261e; }
details summary { cursor: pointer; }
blockquote { margin: .3em 0 .6em 1em; color: #444; white-space: pre-wrap; }
mark { background: #fff59d; } .gold { font-weight: 700; color: #176d2c; } .muted { color: #777; }
.charts { display: flex; flex-wrap: wrap; gap: 2em; } figure { margin: 0; } figcaption { font-weight: 600; }
svg text { font: 11px system-ui, sans-serif; fill: #333; }
.glossary dt { font-weight: 600; } .glossary dd { margin: 0 0 .4em 1.5em; }
"""

# No scripts, no remote anything: the page stays inert even if some text escaped its escaping.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

BLUE, ORANGE, GREY = "#3b6fb6", "#e07b39", "#999"


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


# ------------------------------------------------------------------------------------------------
# Charts


def _svg(width: int, height: int, label: str, body: list[str]) -> str:
    return (
        f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{_e(label)}">' + "".join(body) + "</svg>"
    )


def _nice_ceiling(value: float) -> float:
    """The axis end: 1, 2 or 5 times a power of ten, at or above value."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= value)


def metric_bars_svg(
    metrics: Mapping[str, float | None], old: Mapping[str, float | None] | None = None
) -> str:
    """Horizontal bars for the 0..1 quality metrics; the old run's value as a grey tick."""
    names = [
        name
        for name, value in metrics.items()
        if value is not None and not name.startswith("latency.") and 0 <= value <= 1
    ]
    label_w, bar_w, row_h, top = 170, 380, 20, 8
    height = top + row_h * len(names) + 24
    body = []
    for i, name in enumerate(names):
        y = top + i * row_h
        value = metrics[name]
        color = ORANGE if lower_is_better(name) else BLUE
        body.append(f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end">{_e(name)}</text>')
        body.append(f'<rect x="{label_w}" y="{y + 3}" width="{bar_w}" height="{row_h - 6}" fill="#eee"/>')
        body.append(
            f'<rect x="{label_w}" y="{y + 3}" width="{_num(bar_w * value)}" height="{row_h - 6}" '
            f'fill="{color}">'
            f"<title>{_e(name)}: {value:.3f}</title></rect>"
        )
        if old and old.get(name) is not None:
            x = label_w + bar_w * old[name]
            body.append(
                f'<line x1="{_num(x)}" x2="{_num(x)}" y1="{y + 1}" y2="{y + row_h - 1}" stroke="#222" '
                f'stroke-width="2"><title>previous: {old[name]:.3f}</title></line>'
            )
        body.append(f'<text x="{label_w + bar_w + 6}" y="{y + 13}">{value:.3f}</text>')
    axis_y = top + row_h * len(names) + 14
    for tick in (0, 0.25, 0.5, 0.75, 1):
        body.append(
            f'<text x="{_num(label_w + bar_w * tick)}" y="{axis_y}" text-anchor="middle">{tick:g}</text>'
        )
    return _svg(label_w + bar_w + 60, height, "quality metrics", body)


def hit_curve_svg(curve: Sequence[tuple[int, float, float]]) -> str:
    """hit@k and recall@k against k."""
    width, height, left, right, top, bottom = 420, 260, 40, 90, 10, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    depth = max(len(curve), 2)

    def x(k: int) -> float:
        return left + plot_w * (k - 1) / (depth - 1)

    def y(v: float) -> float:
        return top + plot_h * (1 - v)

    body = []
    for tick in (0, 0.25, 0.5, 0.75, 1):
        body.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{_num(y(tick))}" y2="{_num(y(tick))}" '
            'stroke="#eee"/>'
        )
        body.append(f'<text x="{left - 4}" y="{_num(y(tick) + 4)}" text-anchor="end">{tick:g}</text>')
    for k, _, _ in curve:
        body.append(f'<text x="{_num(x(k))}" y="{top + plot_h + 14}" text-anchor="middle">{k}</text>')
    body.append(
        f'<text x="{left + plot_w / 2}" y="{height - 4}" text-anchor="middle">k (articles retrieved)</text>'
    )
    for index, (name, color) in enumerate((("hit@k", BLUE), ("recall@k", ORANGE)), start=1):
        points = [(x(point[0]), y(point[index])) for point in curve]
        body.append(
            f'<polyline fill="none" stroke="{color}" stroke-width="2" '
            f'points="{" ".join(f"{_num(px)},{_num(py)}" for px, py in points)}"/>'
        )
        for point, (px, py) in zip(curve, points, strict=True):
            body.append(
                f'<circle cx="{_num(px)}" cy="{_num(py)}" r="3" fill="{color}">'
                f"<title>{name[:-1]}{point[0]}: "
                f"{point[index]:.3f}</title></circle>"
            )
        body.append(
            f'<text x="{left + plot_w + 8}" y="{top + 14 * index}" style="fill:{color}">{name}</text>'
        )
    return _svg(width, height, "hit@k and recall@k curve", body)


def latency_svg(rows: Sequence[Mapping[str, Any]]) -> str:
    """A box plot per stage: box from p25 to p75, median line, whiskers to min and max, p95 tick."""
    stages = latency_by_stage(row.get("timings", {}) for row in rows if not row.get("error"))
    if not stages:
        return "<p class='muted'>No timings recorded.</p>"
    names = sorted(stages, key=lambda stage: (stage == "total", stage))
    label_w, plot_w, row_h, top = 110, 420, 30, 8
    scale_max = _nice_ceiling(max(max(values) for values in stages.values()))

    def x(seconds: float) -> float:
        return label_w + plot_w * seconds / scale_max

    body = []
    for i, stage in enumerate(names):
        values = stages[stage]
        low, q1, med, q3, p95, high = (percentile(values, q) for q in (0, 25, 50, 75, 95, 100))
        mid = top + i * row_h + row_h / 2
        tip = f"{stage}: n={len(values)}, p50={med:.3f} s, p95={p95:.3f} s, max={high:.3f} s"
        body.append(f'<text x="{label_w - 6}" y="{_num(mid + 4)}" text-anchor="end">{_e(stage)}</text>')
        body.append(f'<line x1="{_num(x(low))}" x2="{_num(x(high))}" y1="{mid}" y2="{mid}" stroke="{GREY}"/>')
        body.append(
            f'<rect x="{_num(x(q1))}" y="{_num(mid - 8)}" width="{_num(max(x(q3) - x(q1), 1))}" height="16" '
            f'fill="#dce6f4" stroke="{BLUE}"><title>{_e(tip)}</title></rect>'
        )
        body.append(
            f'<line x1="{_num(x(med))}" x2="{_num(x(med))}" y1="{_num(mid - 8)}" y2="{_num(mid + 8)}" '
            f'stroke="{BLUE}" stroke-width="2"/>'
        )
        body.append(
            f'<line x1="{_num(x(p95))}" x2="{_num(x(p95))}" y1="{_num(mid - 5)}" y2="{_num(mid + 5)}" '
            f'stroke="{ORANGE}" stroke-width="2"><title>p95 {p95:.3f} s</title></line>'
        )
    axis_y = top + row_h * len(names) + 14
    for step in range(5):
        seconds = scale_max * step / 4
        body.append(f'<text x="{_num(x(seconds))}" y="{axis_y}" text-anchor="middle">{seconds:g}</text>')
    body.append(
        f'<text x="{label_w + plot_w / 2}" y="{axis_y + 16}" text-anchor="middle">seconds '
        "(box p25–p75, bar median, orange p95)</text>"
    )
    return _svg(label_w + plot_w + 30, axis_y + 22, "latency per stage", body)


# ------------------------------------------------------------------------------------------------
# Page sections


def _header(report: EvalReport) -> str:
    config, counts = report.config, report.counts
    facts = [
        ("dataset", config.get("dataset", "?")),
        ("date", config.get("created", "?")),
        ("git commit", config.get("git_commit") or "unknown"),
        ("answerer", config.get("llm", "?")),
        (
            "questions",
            f"{counts.get('questions', 0)} ({counts.get('passed', 0)} passed, "
            f"{counts.get('refused', 0)} refused, {counts.get('errors', 0)} errors)",
        ),
    ]
    if report.compared_with:
        facts.append(("compared with", report.compared_with))
    items = "".join(f"<li><b>{_e(name)}</b>: {_e(value)}</li>" for name, value in facts)
    parts = [f"<h1>qa-bot evaluation</h1><ul>{items}</ul>"]
    parts += [f'<p class="gate">Gate: {_e(failure)}</p>' for failure in report.gate_failures]
    if report.regressions:
        names = ", ".join(d.metric for d in report.regressions)
        parts.append(f'<p class="gate">Regressions against the previous run: {_e(names)}</p>')
    parts += [f'<p class="warn">{_e(warning)}</p>' for warning in report.warnings]
    return "".join(parts)


def _metrics_section(table: MetricTable) -> str:
    """A section's table; numbers right-aligned, a regression's line red and an improvement's green."""
    lines = []
    for row in table.rows:
        values = "".join(f'<td class="num">{_e(value)}</td>' for value in row.values)
        extra = "".join(f"<td>{_e(cell)}</td>" for cell in (row.flag, row.meaning) if cell is not None)
        css = {"REGRESSION": "regression", "better": "better"}.get(row.flag or "", "")
        lines.append(f'<tr class="{css}"><td>{_e(row.label)}</td>{values}{extra}</tr>')
    head = "".join(f"<th>{_e(name)}</th>" for name in table.header)
    intro = f"<p>{_e(table.intro)}</p>" if table.intro else ""
    note = f"<p class='muted'>{_e(table.note)}</p>" if table.note else ""
    return f"<h2>{_e(table.title)}</h2>{intro}<table><tr>{head}</tr>{''.join(lines)}</table>{note}"


def _glossary(tables: list[MetricTable]) -> str:
    """One line per metric name, for a reader who does not know what "MRR" or "hit@3" means."""
    glossary = metric_glossary(tables)
    if not glossary:
        return ""
    items = "".join(f"<dt>{_e(label)}</dt><dd>{_e(meaning)}</dd>" for label, meaning in glossary)
    return f"<h2>{_e(GLOSSARY_TITLE)}</h2><dl class='glossary'>{items}</dl>"


def _expected(gold: Mapping[str, Any]) -> str:
    if gold["unanswerable"]:
        return '<span class="muted">unanswerable: should refuse</span>'
    text = _e(gold_text(gold))
    if gold.get("choices"):
        text += '<br><span class="muted">choices: ' + _e(" | ".join(gold["choices"])) + "</span>"
    return text


def _passage_with_quote(citation: Mapping[str, Any]) -> str:
    passage = citation.get("text", "")
    quote, offset = citation.get("quote") or {}, citation.get("start") or 0
    if quote.get("start") is None or quote.get("end") is None:
        return _e(passage)
    # The quote's offsets are into the article: marked only when it lies inside the passage.
    start, end = quote["start"] - offset, quote["end"] - offset
    if not 0 <= start <= end <= len(passage):
        return _e(passage)
    return f"{_e(passage[:start])}<mark>{_e(passage[start:end])}</mark>{_e(passage[end:])}"


def _citations(row: Mapping[str, Any]) -> str:
    parts = []
    for citation in row.get("citations", []):
        title = citation.get("title") or citation.get("stem") or citation["article_id"]
        support = citation.get("support")
        summary = f"[{citation['n']}] {title} ({citation['article_id']}"
        summary += f", {citation['date']})" if citation.get("date") else ")"
        if support is not None:
            summary += f" support {support:.2f}"
        parts.append(
            f"<details><summary>{_e(summary)}</summary><blockquote>{_passage_with_quote(citation)}</blockquote></details>"
        )
    return "".join(parts) or '<span class="muted">none</span>'


def _retrieved(row: Mapping[str, Any]) -> str:
    gold = row["gold"].get("articles", [])
    refs = row.get("retrieved", [])[: max(STANDARD_KS)]
    # A file stem names an article only when the file holds one (seeds/000_x.txt), not a corpus.jsonl.
    stem_counts = Counter(ref.get("stem") for ref in refs)
    names = []
    for ref in refs:
        stem = ref.get("stem")
        name = stem if stem and stem_counts[stem] == 1 else ref["article_id"]
        is_gold = ref["article_id"] in gold or (stem is not None and stem in gold)
        names.append(f'<span class="gold">{_e(name)}</span>' if is_gold else _e(name))
    return ", ".join(names) or '<span class="muted">none</span>'


def _question_cell(row: Mapping[str, Any]) -> str:
    parts = []
    for turn in row.get("history", []):
        parts.append(f'<div class="muted">Q: {_e(turn["question"])}<br>A: {_e(turn["answer"])}</div>')
    parts.append(_e(row["question"]))
    if row.get("date"):
        parts.append(f'<br><span class="muted">as of {_e(row["date"])}</span>')
    if row.get("standalone_question"):
        parts.append(f'<br><span class="muted">rewritten: {_e(row["standalone_question"])}</span>')
    return "".join(parts)


def _check_findings(metrics: Mapping[str, Any]) -> str:
    """What the independent checks found wrong with one answer, for a reviewer to verify by eye."""
    findings = []
    missing = (metrics.get("faithfulness") or {}).get("missing")
    if missing:
        findings.append("not in the cited passages' text: " + ", ".join(missing))
    if metrics.get("answer_bearing_citation") is False:
        findings.append("no cited passage's text holds the answer")
    if metrics.get("stale"):
        age = metrics["cited_age_days"]
        dated = "" if metrics.get("stale_dated_first") else ", without saying so first"
        findings.append(f"relies on an article {age} days older than the question{dated}")
    return "".join(f'<br><span class="fail">{_e(finding)}</span>' for finding in findings)


def _question_rows(report: EvalReport) -> str:
    out = []
    for row in report.rows:
        if row.get("error"):
            result, answer = (
                '<span class="fail">ERROR</span>',
                f'<span class="fail">{_e(row["error"])}</span>',
            )
        else:
            result = '<span class="pass">pass</span>' if row["passed"] else '<span class="fail">FAIL</span>'
            answer = _e(row["answer"]) + (' <span class="muted">(refused)</span>' if row["refused"] else "")
            answer += _check_findings(row.get("metrics", {}))
            if row.get("judge"):
                verdict = row["judge"]
                answer += (
                    f'<br><span class="muted">judge: {_e(verdict["label"])} {_e(verdict["reason"])}</span>'
                )
        total = row.get("timings", {}).get("total")
        out.append(
            f"<tr><td>{_e(row['id'])}</td><td>{result}</td><td>{_question_cell(row)}</td>"
            f"<td>{_expected(row['gold'])}</td><td>{answer}</td><td>{_citations(row)}</td>"
            f"<td>{_retrieved(row)}</td><td class='num'>{'' if total is None else f'{total:.2f}'}</td></tr>"
        )
    header = (
        "<tr><th>id</th><th>result</th><th>question</th><th>expected</th><th>answer</th>"
        "<th>citations (click for the passage)</th><th>retrieved articles (gold in bold)</th>"
        "<th>total s</th></tr>"
    )
    return f"<table>{header}{''.join(out)}</table>"


def render_html(report: EvalReport) -> str:
    old = {d.metric: d.old for d in report.deltas} if report.deltas else None
    charts = [f"<figure><figcaption>Metrics</figcaption>{metric_bars_svg(report.metrics, old)}</figure>"]
    if report.curve:
        charts.append(
            "<figure><figcaption>Retrieval: hit@k and recall@k</figcaption>"
            f"{hit_curve_svg(report.curve)}</figure>"
        )
    charts.append(f"<figure><figcaption>Latency per stage</figcaption>{latency_svg(report.rows)}</figure>")
    tables = metric_tables(report.metrics, report.deltas, report.counts)
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        f"<title>qa-bot evaluation: {_e(report.config.get('dataset', ''))}</title>"
        f"<style>{CSS}</style></head><body>"
        + _header(report)
        + "<h2>Charts</h2><div class='charts'>"
        + "".join(charts)
        + "</div>"
        + "".join(_metrics_section(table) for table in tables)
        + _glossary(tables)
        + "<h2>Questions</h2>"
        + _question_rows(report)
        + "</body></html>\n"
    )
