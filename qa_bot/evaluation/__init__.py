"""Evaluation: fixed question sets run through the bot, scored, reported and compared.

datasets.py  question sets (qa-bot JSONL, RealTime QA) -> EvalItem
metrics.py   answer, retrieval, citation, refusal and latency metrics (pure functions)
runner.py    run_eval(): ask, score, resume, report
report.py    report.json / report.md, comparison with an older run, threshold gate, terminal summary
html.py      report.html (self-contained, inline SVG charts)
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
from qa_bot.evaluation.runner import eval_config, run_eval

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
    "run_eval",
]
