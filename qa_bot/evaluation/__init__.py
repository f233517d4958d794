"""Evaluation: fixed question sets run through the bot, scored, reported and compared.

datasets.py    question sets (qa-bot JSONL, RealTime QA) -> EvalItem
metrics.py     answer, retrieval, citation, refusal and latency metrics (pure functions)
checks.py      independent answer checks: answer-bearing citations, names-and-numbers
               faithfulness, staleness (graded without the app's own support rule)
runner.py      run_eval(): ask, score, resume, write the reports; rescore_run(): grade a run again
report.py      EvalReport and its JSON, comparison with an older run, threshold gate, terminal summary
formatting.py  the wording all renderings share: values, changes, labels, what each check means
markdown.py    report.md
html.py        report.html (self-contained, inline SVG charts)
"""

from qa_bot.evaluation.datasets import DatasetError, EvalItem, default_corpus, load_eval_items
from qa_bot.evaluation.report import (
    Delta,
    EvalReport,
    check_thresholds,
    compare_reports,
    gate_failures,
    load_thresholds,
    print_summary,
)
from qa_bot.evaluation.runner import eval_config, rescore_run, run_eval

__all__ = [
    "DatasetError",
    "Delta",
    "EvalItem",
    "EvalReport",
    "check_thresholds",
    "compare_reports",
    "default_corpus",
    "eval_config",
    "gate_failures",
    "load_eval_items",
    "load_thresholds",
    "print_summary",
    "rescore_run",
    "run_eval",
]
