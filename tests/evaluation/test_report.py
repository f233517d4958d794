"""Reports: files written, HTML self-contained and escaped, comparisons and gates that can fail."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest
from rich.console import Console

from qa_bot.evaluation.datasets import load_dataset
from qa_bot.evaluation.report import (
    check_thresholds,
    compare_reports,
    gate_failures,
    load_report,
    load_thresholds,
    print_summary,
)
from qa_bot.evaluation.runner import run_eval

CONFIG = {"dataset": "set.jsonl", "llm": "scripted"}


@pytest.fixture
def report(dataset_path, scripted_bot, tmp_path):
    return run_eval(scripted_bot, load_dataset(dataset_path), tmp_path / "out", config=CONFIG)


class _Resources(HTMLParser):
    """Every tag and every attribute that could load or run something."""

    def __init__(self):
        super().__init__()
        self.tags: list[str] = []
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.urls += [value or "" for name, value in attrs if name in ("src", "href", "xlink:href", "action")]


def test_all_three_reports_are_written(report, tmp_path):
    out = tmp_path / "out"
    saved = json.loads((out / "report.json").read_text())
    assert saved["metrics"]["answer_accuracy"] == report.metrics["answer_accuracy"]
    assert saved["config"]["dataset"] == "set.jsonl" and "created" in saved["config"]
    assert len(saved["rows"]) == 5 and saved["rows"][0]["citations"][0]["text"]
    markdown = (out / "report.md").read_text()
    assert "| answer_accuracy | 0.750 |" in markdown
    assert "| day | pass |" in markdown and "| follow | FAIL |" in markdown


def test_html_is_self_contained(report, tmp_path):
    page = (tmp_path / "out" / "report.html").read_text()
    resources = _Resources()
    resources.feed(page)
    assert not {"script", "link", "img", "iframe", "object"} & set(resources.tags)
    assert all(not url.startswith(("http", "//")) for url in resources.urls)
    assert "http" not in page.lower().replace("http-equiv", "")
    assert page.count("<svg") == 3  # metric bars, hit@k curve, latency per stage
    assert "Content-Security-Policy" in page


def test_html_escapes_untrusted_answer_text(report, tmp_path):
    page = (tmp_path / "out" / "report.html").read_text()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>" not in (tmp_path / "out" / "report.md").read_text()


def test_html_shows_each_question_with_its_cited_passage(report, tmp_path):
    page = (tmp_path / "out" / "report.html").read_text()
    assert "Which day was the call?" in page
    assert "<mark>Jaishankar</mark> spoke with Antony Blinken" in page  # the quoted span of the passage
    assert '<span class="gold">000_call</span>' in page  # a gold article named by its file stem
    assert page.count('class="fail">FAIL') == 1


def test_compare_flags_worse_quality_and_slower_stages_separately():
    old = {"metrics": {"hit@5": 0.9, "false_refusal_rate": 0.1, "latency.total.p95": 10.0, "mrr": 0.5}}
    new = {"metrics": {"hit@5": 0.8, "false_refusal_rate": 0.3, "latency.total.p95": 14.0, "mrr": 0.51}}
    deltas = {d.metric: d for d in compare_reports(new, old)}
    assert deltas["hit@5"].regression and deltas["hit@5"].kind == "quality"
    assert deltas["false_refusal_rate"].regression  # lower is better: going up is worse
    assert deltas["latency.total.p95"].regression and deltas["latency.total.p95"].kind == "latency"
    assert not deltas["mrr"].regression and deltas["mrr"].improved


def test_compare_tolerates_noise_and_lists_metrics_only_one_run_has():
    old = {"metrics": {"hit@5": 0.90, "latency.total.p50": 1.00, "hit@10": 0.95}}
    new = {"metrics": {"hit@5": 0.89, "latency.total.p50": 1.10, "mrr": 0.7}}
    deltas = {d.metric: d for d in compare_reports(new, old)}
    assert not any(d.regression for d in deltas.values())
    assert deltas["mrr"].old is None and deltas["hit@10"].new is None


def test_thresholds_use_each_metrics_direction(tmp_path):
    metrics = {
        "metrics": {
            "hit@5": 0.85,
            "citation_precision": 0.95,
            "false_refusal_rate": 0.3,
            "latency.total.p95": 5.0,
        }
    }
    failures = check_thresholds(
        metrics,
        {
            "hit@5": 0.9,
            "citation_precision": 0.8,
            "false_refusal_rate": 0.2,
            "refusal_rate": 0.8,
            "max": {"latency.total.p95": 10},
        },
    )
    assert failures == [
        "hit@5 = 0.850, below the minimum 0.9.",
        "false_refusal_rate = 0.300, above the maximum 0.2.",
        "refusal_rate: not measured in this run, but the gate requires min 0.8.",
    ]


def test_thresholds_load_from_toml_and_json_with_clear_errors(tmp_path):
    toml = tmp_path / "thresholds.toml"
    toml.write_text('"hit@5" = 0.9\n[max]\n"latency.total.p95" = 30\n')
    assert load_thresholds(toml) == {"hit@5": 0.9, "max": {"latency.total.p95": 30}}
    bad = tmp_path / "thresholds.json"
    bad.write_text('{"hit@5": "high"}')
    with pytest.raises(ValueError, match='thresholds.json: threshold for "hit@5" must be a number'):
        load_thresholds(bad)


def test_shipped_thresholds_file_loads():
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "evals" / "thresholds.toml"
    assert load_thresholds(path)


def test_load_report_explains_a_wrong_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such report"):
        load_report(tmp_path / "missing.json")
    (tmp_path / "x.json").write_text("[1]")
    with pytest.raises(ValueError, match='no "metrics" object'):
        load_report(tmp_path / "x.json")


def test_summary_prints_metrics_and_regressions(report, dataset_path, scripts, make_bot, tmp_path):
    from dataclasses import replace

    day = "Which day was the call?"
    worse = {**scripts, day: replace(scripts[day], sentences=[("The call was on Monday", [1])])}
    second = run_eval(
        make_bot(worse),
        load_dataset(dataset_path),
        tmp_path / "second",
        config=CONFIG,
        compare=tmp_path / "out",
    )
    console = Console(record=True, width=140)
    print_summary(second, console)
    text = console.export_text()
    assert "answer_accuracy" in text and "REGRESSION" in text
    assert "gate: answer_accuracy regressed: 0.750 -> 0.500." in text
    assert gate_failures(second) and not gate_failures(report)


def test_reports_show_the_independent_checks_apart_from_the_apps_own_grading(report, tmp_path):
    out = tmp_path / "out"
    saved = json.loads((out / "report.json").read_text())
    # 2 of 3 checked sentences: "alert(1)" in the <script> answer holds a 1 its passage doesn't
    assert saved["independent_checks"]["faithfulness"]["value"] == saved["metrics"]["faithfulness"] == 2 / 3
    assert "proper name" in saved["independent_checks"]["faithfulness"]["meaning"]
    general, independent = (out / "report.md").read_text().split("## Independent answer checks")
    assert "| citation precision (app's own rule) |" in general
    assert "| faithfulness | 0.667 | Of the answer sentences" in independent
    assert "| answer_bearing_citation | 1.000 |" in independent
    assert "| stale_answer_rate | – |" in independent  # no question with a time cue
    page = (out / "report.html").read_text()
    assert "<h2>Independent answer checks</h2>" in page and "citation precision (app&#x27;s own rule)" in page


def test_html_names_what_the_independent_checks_found_wrong_in_an_answer(
    dataset_path, scripts, make_bot, tmp_path
):
    from dataclasses import replace

    day = "Which day was the call?"
    wrong = {**scripts, day: replace(scripts[day], sentences=[("The call was on Monday", [1])])}
    run_eval(make_bot(wrong), load_dataset(dataset_path), tmp_path / "wrong", config=CONFIG)
    page = (tmp_path / "wrong" / "report.html").read_text()
    assert "not in the cited passages&#x27; text: Monday" in page


def test_summary_labels_the_apps_own_grading_and_shows_the_independent_checks(report):
    console = Console(record=True, width=140)
    print_summary(report, console)
    text = console.export_text()
    assert "citation precision (app's own rule)" in text
    assert "Independent answer checks" in text and "faithfulness" in text


def test_the_evaluation_modules_import_each_other_without_a_cycle():
    import ast
    from pathlib import Path

    package = Path(__file__).resolve().parents[2] / "qa_bot" / "evaluation"
    imports = {}
    for path in package.glob("*.py"):
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):  # imports inside functions count too
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("qa_bot.evaluation."):
                found.add(node.module.rsplit(".", 1)[1])
        imports[path.stem] = found

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(
            nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})) for nxt in imports[start]
        )

    assert [module for module in imports if reaches(module, module, set())] == []


def test_reports_say_in_one_plain_line_what_each_metric_means(report, tmp_path):
    # An editor reading the report meets "mrr" and "hit@3": each gets a line saying what it means.
    out = tmp_path / "out"
    markdown = (out / "report.md").read_text()
    glossary = markdown.split("## What the metrics mean")[1].split("## Questions")[0]
    assert "- **mrr**: Mean reciprocal rank: how high the right article comes" in glossary
    assert "- **hit@1**: Share of questions with a right article among the first 1 search results" in glossary
    assert "- **citation precision (app's own rule)**: Of the answer's citations" in glossary
    assert "- **refusal_rate**: Of the questions the articles cannot answer" in glossary
    assert "faithfulness" not in glossary  # its own table already says what it measures
    page = (out / "report.html").read_text()
    assert "<h2>What the metrics mean</h2>" in page
    assert "<dt>false_refusal_rate</dt><dd>Of the questions the articles can answer" in page


def test_every_metric_of_a_run_has_its_line_in_the_glossary(report, tmp_path):
    from qa_bot.evaluation.formatting import metric_glossary, metric_tables

    saved = json.loads((tmp_path / "out" / "report.json").read_text())
    tables = metric_tables(saved["metrics"], [], saved["counts"])
    explained = {label for label, _meaning in metric_glossary(tables)}
    assert {row.label for row in tables[0].rows} == explained
