"""Optional LLM-as-judge: is the answer faithful to the passages it was given? Off by default.

Lexical support (metrics.citation_counts) misses paraphrase and negation; a judge model catches
those, at the cost of an LLM call per answer. Prompt: prompts/judge.md.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from qa_bot.answering.prompts import format_passages, load_prompt
from qa_bot.index.search import Passage

VERDICT_SCORES = {"FAITHFUL": 1.0, "PARTIAL": 0.5, "UNFAITHFUL": 0.0}
_VERDICT = re.compile(r"\b(UNFAITHFUL|PARTIAL|FAITHFUL)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Verdict:
    label: str  # FAITHFUL, PARTIAL, UNFAITHFUL, or UNPARSED when the reply names none
    score: float | None  # 1, 0.5, 0; None when unparsed
    reason: str


def parse_verdict(reply: str) -> Verdict:
    """The first verdict word in the reply (small models sometimes add a preamble)."""
    match = _VERDICT.search(reply)
    if match is None:
        return Verdict("UNPARSED", None, reply.strip()[:300])
    label = match.group(1).upper()
    reason = reply[match.end() :].strip(" \t\n-–—:.").strip()
    return Verdict(label, VERDICT_SCORES[label], reason[:300])


def judge_faithfulness(
    chat_model, question: str, answer_text: str, passages: Sequence[Passage], prompts_dir: Path | None = None
) -> Verdict:
    """Ask the judge model (a LangChain chat model) whether the answer is supported by the passages."""
    messages = load_prompt("judge", prompts_dir).to_messages(
        passages=format_passages(passages), question=question.strip(), answer=answer_text.strip()
    )
    return parse_verdict(str(chat_model.invoke(messages).content))


def judge_name(chat_model) -> str:
    """What identifies the judge in the report and the resume fingerprint."""
    name = getattr(chat_model, "model_name", None) or getattr(chat_model, "model", None)
    return f"{type(chat_model).__name__}({name})" if name else type(chat_model).__name__
