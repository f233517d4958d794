"""Scoring: answer correctness, retrieval ranking, citations, refusals, latency. Pure functions.

Per-question values are computed once, when a question is answered, and stored in its row
(`score_row`); the aggregate metrics are computed from the stored rows only (`aggregate`), so a
resumed run and a report read back from disk give the same numbers.
"""

from __future__ import annotations

import re
import statistics
import string
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

# ------------------------------------------------------------------------------------------------
# Text normalisation

# "[1]", "[2, 3]", "[1][2]": the bot's citation markers are not part of the answer's words.
CITATION_MARKER = re.compile(r"\[\s*\d+(?:\s*[,;]\s*\d+)*\s*\]")
_ARTICLES = re.compile(r"\b(a|an|the)\b")
# Hyphens and apostrophes join the parts of one word ("counter-narcotics", "women's"), so they are
# deleted; every other punctuation mark or symbol separates words ("Delhi—the", "1/2").
_JOINERS = {"-", "\u2010", "\u2011", "'", "\u2019", "\u02bc", "."}
# A possessive names the thing itself: "Italy's new prime minister" answers "Which country?" with Italy.
_POSSESSIVE = re.compile(r"(?<=\w)['\u2019\u02bc]s\b")


def normalize(text: str) -> str:
    """Lower case, no accents, citation markers, possessive 's, punctuation or articles; single spaces."""
    text = CITATION_MARKER.sub(" ", text)
    text = _POSSESSIVE.sub("", text)
    text = unicodedata.normalize("NFKD", text)
    chars = []
    for char in text:
        category = unicodedata.category(char)
        if category == "Mn":  # combining accent left over from NFKD
            continue
        if char in _JOINERS:
            continue
        if category[0] in "PS" or char in string.punctuation:
            chars.append(" ")
        else:
            chars.append(char)
    text = "".join(chars).lower()
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def contains_phrase(text: str, phrase: str) -> bool:
    """Whether the normalised phrase occurs in the normalised text as whole words."""
    needle = normalize(phrase)
    if not needle:
        return False
    return f" {needle} " in f" {normalize(text)} "


# ------------------------------------------------------------------------------------------------
# Answers

AcceptableAnswers = Sequence[str | Sequence[str]]


def answer_groups(answers: AcceptableAnswers) -> list[tuple[str, ...]]:
    """Each acceptable answer as a group of variants: "Price" -> ("Price",); ["a", "b"] stays a group."""
    return [(answer,) if isinstance(answer, str) else tuple(answer) for answer in answers]


def answer_correct(text: str, answers: AcceptableAnswers, all_required: bool = False) -> bool:
    """Normalised containment: any acceptable answer occurs in the text, or every one if all_required.

    An entry that is itself a list holds variants of one fact (["defence", "defense"]): it counts
    as present when any variant is.
    """
    groups = answer_groups(answers)
    if not groups:
        return False
    found = (any(contains_phrase(text, variant) for variant in group) for group in groups)
    return all(found) if all_required else any(found)


def token_f1(prediction: str, answers: AcceptableAnswers, all_required: bool = False) -> float:
    """SQuAD-style token F1, best over the acceptable answers.

    With all_required, the reference is every fact together (each fact's first variant), so an
    answer that names only one of two facts cannot reach 1.
    """
    groups = answer_groups(answers)
    if not groups:
        return 0.0
    if all_required:
        references = [" ".join(group[0] for group in groups)]
    else:
        references = [variant for group in groups for variant in group]
    predicted = normalize(prediction).split()
    return max(_f1(predicted, normalize(reference).split()) for reference in references)


def _f1(predicted: list[str], reference: list[str]) -> float:
    common = Counter(predicted) & Counter(reference)
    overlap = sum(common.values())
    if not overlap:
        return 0.0
    precision = overlap / len(predicted)
    recall = overlap / len(reference)
    return 2 * precision * recall / (precision + recall)


def choice_correct(text: str, choices: Sequence[str], correct: str) -> bool:
    """Multiple choice: the answer names the right choice and none of the others.

    Longer choices are matched first and taken out of the text, so "Joe Biden" is not also read as
    the choice "Biden".
    """
    remaining = f" {normalize(text)} "
    named = set()
    for choice in sorted({normalize(c) for c in choices}, key=len, reverse=True):
        if choice and f" {choice} " in remaining:
            named.add(choice)
            remaining = remaining.replace(f" {choice} ", " | ")
    return named == {normalize(correct)}


# ------------------------------------------------------------------------------------------------
# Retrieval


@dataclass(frozen=True)
class ArticleRef:
    """A retrieved article, known by its id and by its file's stem (gold may be given as either)."""

    article_id: str
    stem: str | None = None

    def matches(self, gold: str) -> bool:
        return gold in (self.article_id, self.stem)


def article_refs(passages: Iterable[Any]) -> list[ArticleRef]:
    """The articles of a ranked list of passages, each at its first occurrence."""
    seen: set[str] = set()
    refs = []
    for passage in passages:
        if passage.article_id in seen:
            continue
        seen.add(passage.article_id)
        stem = PurePath(passage.path).stem if getattr(passage, "path", None) else None
        refs.append(ArticleRef(passage.article_id, stem))
    return refs


def gold_ranks(retrieved: Sequence[ArticleRef], gold: Iterable[str]) -> dict[str, int | None]:
    """For each gold article, the 1-based rank of the first retrieved article that is it (None: missed)."""
    ranks: dict[str, int | None] = {}
    for gold_id in gold:
        ranks[gold_id] = next((rank for rank, ref in enumerate(retrieved, 1) if ref.matches(gold_id)), None)
    return ranks


def hit_at_k(ranks: Mapping[str, int | None], k: int) -> bool:
    """Any gold article in the top k."""
    return any(rank is not None and rank <= k for rank in ranks.values())


def recall_at_k(ranks: Mapping[str, int | None], k: int) -> float:
    """Share of the gold articles found in the top k."""
    if not ranks:
        return 0.0
    return sum(rank is not None and rank <= k for rank in ranks.values()) / len(ranks)


def reciprocal_rank(ranks: Mapping[str, int | None]) -> float:
    """1 / rank of the first gold article; 0 when none was retrieved."""
    found = [rank for rank in ranks.values() if rank is not None]
    return 1 / min(found) if found else 0.0


# ------------------------------------------------------------------------------------------------
# Citations

SupportScore = Callable[[str, str], float]


@dataclass(frozen=True)
class SupportChecker:
    """Decides whether a passage supports a claim: qa_bot.text's scorer and threshold."""

    score: SupportScore
    threshold: float

    def supports(self, claim: str, passage_text: str) -> bool:
        return self.score(claim, passage_text) >= self.threshold


def load_support_checker() -> SupportChecker:
    """The support scorer and threshold the answer stage uses to keep or drop a citation."""
    from qa_bot.text import SUPPORT_THRESHOLD, support_score

    return SupportChecker(support_score, float(SUPPORT_THRESHOLD))


@dataclass(frozen=True)
class CitationCounts:
    """Per answer: how many (sentence, cited passage) pairs there are and how many really support."""

    pairs: int = 0
    supported_pairs: int = 0
    sentences: int = 0
    cited_sentences: int = 0  # with at least one citation
    supported_sentences: int = 0  # with at least one citation that supports it

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def citation_counts(
    sentences: Sequence[Mapping[str, Any]], passages_by_n: Mapping[int, str], checker: SupportChecker | None
) -> CitationCounts:
    """Count citations against the sentence they are attached to.

    `sentences`: [{"text", "citations": [n, ...]}]; `passages_by_n`: the cited passage text per n.
    Without a checker only the counts that need no judgement (sentences, cited sentences) are filled.
    """
    pairs = supported_pairs = cited = supported_sentences = 0
    for sentence in sentences:
        numbers = [n for n in sentence.get("citations", []) if n in passages_by_n]
        cited += bool(numbers)
        pairs += len(numbers)
        if checker is None:
            continue
        verdicts = [checker.supports(sentence["text"], passages_by_n[n]) for n in numbers]
        supported_pairs += sum(verdicts)
        supported_sentences += any(verdicts)
    return CitationCounts(pairs, supported_pairs, len(sentences), cited, supported_sentences)


def cites_gold(cited_articles: Iterable[ArticleRef], gold: Iterable[str]) -> bool:
    gold = list(gold)
    return any(ref.matches(gold_id) for ref in cited_articles for gold_id in gold)


# ------------------------------------------------------------------------------------------------
# Latency


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), interpolated between the nearest ranks (as numpy's default)."""
    if not values:
        raise ValueError("percentile of no values")
    if len(values) == 1:
        return float(values[0])
    cuts = statistics.quantiles(values, n=100, method="inclusive")  # the 1st..99th percentiles
    if q <= 0:
        return float(min(values))
    if q >= 100:
        return float(max(values))
    if float(q).is_integer():
        return cuts[int(q) - 1]
    low, high = int(q), int(q) + 1
    below = cuts[low - 1] if low >= 1 else float(min(values))
    above = cuts[high - 1] if high <= 99 else float(max(values))
    return below + (above - below) * (q - low)


def latency_by_stage(timings: Iterable[Mapping[str, float]]) -> dict[str, list[float]]:
    """Seconds per stage, over every answer that timed that stage."""
    stages: dict[str, list[float]] = {}
    for row_timings in timings:
        for stage, seconds in row_timings.items():
            stages.setdefault(stage, []).append(float(seconds))
    return stages


def latency_summary(timings: Iterable[Mapping[str, float]]) -> dict[str, float]:
    """{"latency.<stage>.p50": s, "latency.<stage>.p95": s} for every stage."""
    summary = {}
    for stage, values in sorted(latency_by_stage(timings).items()):
        summary[f"latency.{stage}.p50"] = percentile(values, 50)
        summary[f"latency.{stage}.p95"] = percentile(values, 95)
    return summary


# ------------------------------------------------------------------------------------------------
# Aggregates over rows

STANDARD_KS = (1, 3, 5, 10)
# Everything else is higher-is-better; a rate of failures and every latency are lower-is-better.
LOWER_IS_BETTER = {"false_refusal_rate", "error_rate", "stale_answer_rate"}


def lower_is_better(metric: str) -> bool:
    return metric in LOWER_IS_BETTER or metric.startswith("latency.")


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _rate(flags: Sequence[bool]) -> float | None:
    return sum(flags) / len(flags) if flags else None


def retrieval_depth(rows: Sequence[Mapping[str, Any]]) -> int:
    """The longest ranking any row retrieved: hit@k beyond it would only repeat the last value."""
    return max((len(row.get("retrieved", [])) for row in rows), default=0)


def hit_curve(rows: Sequence[Mapping[str, Any]], depth: int | None = None) -> list[tuple[int, float, float]]:
    """[(k, hit@k, recall@k)] for k = 1..depth, over the answerable rows that have gold articles."""
    scored = _retrieval_rows(rows)
    depth = retrieval_depth(rows) if depth is None else depth
    if not scored:
        return []
    curve = []
    for k in range(1, depth + 1):
        hits = _rate([hit_at_k(row["metrics"]["gold_ranks"], k) for row in scored])
        recall = _mean([recall_at_k(row["metrics"]["gold_ranks"], k) for row in scored])
        curve.append((k, hits, recall))
    return curve


def _retrieval_rows(rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [
        row
        for row in rows
        if not row["gold"]["unanswerable"] and row["metrics"].get("gold_ranks") and not row.get("error")
    ]


def aggregate(rows: Sequence[Mapping[str, Any]]) -> tuple[dict[str, float | None], dict[str, int]]:
    """The run's metrics (None where no question could measure one) and the counts behind them."""
    answerable = [row for row in rows if not row["gold"]["unanswerable"]]
    unanswerable = [row for row in rows if row["gold"]["unanswerable"]]
    answered = [row for row in answerable if not row["refused"] and not row.get("error")]
    with_choices = [row for row in answerable if row["metrics"].get("mc_correct") is not None]
    retrieval = _retrieval_rows(rows)
    citations = [row["metrics"]["citations"] for row in rows if not row["refused"] and not row.get("error")]
    checked = [
        row["metrics"]["citations"]
        for row in rows
        if not row["refused"] and not row.get("error") and row["metrics"].get("support_checked")
    ]

    text_only = [
        row["metrics"]["citations_text_only"]
        for row in rows
        if not row["refused"] and not row.get("error") and "citations_text_only" in row["metrics"]
    ]
    metrics: dict[str, float | None] = {
        "pass_rate": _rate([row["passed"] for row in rows]),
        "answer_accuracy": _rate([bool(row["metrics"].get("correct")) for row in answerable]),
        "token_f1": _mean([row["metrics"].get("f1") or 0.0 for row in answerable]),
        "mc_accuracy": _rate([row["metrics"]["mc_correct"] for row in with_choices]),
        "mrr": _mean([reciprocal_rank(row["metrics"]["gold_ranks"]) for row in retrieval]),
        "citation_precision": _ratio(
            sum(c["supported_pairs"] for c in checked), sum(c["pairs"] for c in checked)
        ),
        "citation_recall": _ratio(
            sum(c["supported_sentences"] for c in checked), sum(c["sentences"] for c in checked)
        ),
        # Stricter: the passage body alone must support the claim (title and date don't count).
        "citation_precision_text_only": _ratio(
            sum(c["supported_pairs"] for c in text_only), sum(c["pairs"] for c in text_only)
        ),
        "cited_sentence_rate": _ratio(
            sum(c["cited_sentences"] for c in citations), sum(c["sentences"] for c in citations)
        ),
        "gold_citation_rate": _rate([bool(row["metrics"].get("cites_gold")) for row in answered]),
        "refusal_rate": _rate([row["refused"] for row in unanswerable]),
        "false_refusal_rate": _rate([row["refused"] for row in answerable]),
        "error_rate": _rate([bool(row.get("error")) for row in rows]),
    }
    # The loss funnel over answerable questions: each stage's share that still holds the gold answer.
    funnels = [row["metrics"]["funnel"] for row in answerable if row["metrics"].get("funnel")]
    for stage in ("retrieved", "in_evidence", "in_output", "shown"):
        known = [funnel[stage] for funnel in funnels if funnel.get(stage) is not None]
        metrics[f"funnel_{stage}"] = _rate(known)
    metrics["short_answer_rate"] = _rate([bool(row.get("short_answer")) for row in answered])
    independent, independent_counts = aggregate_independent_checks(rows)
    metrics.update(independent)
    judged = [row["judge"]["score"] for row in rows if (row.get("judge") or {}).get("score") is not None]
    if judged:
        metrics["judge_faithfulness"] = _mean(judged)
    depth = retrieval_depth(rows)
    for k in STANDARD_KS:
        if k <= depth:
            metrics[f"hit@{k}"] = _rate([hit_at_k(row["metrics"]["gold_ranks"], k) for row in retrieval])
            metrics[f"recall@{k}"] = _mean(
                [recall_at_k(row["metrics"]["gold_ranks"], k) for row in retrieval]
            )
    metrics.update(latency_summary(row.get("timings", {}) for row in rows if not row.get("error")))

    counts = {
        "questions": len(rows),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "with_gold_articles": len(retrieval),
        "with_choices": len(with_choices),
        "refused": sum(row["refused"] for row in rows),
        "errors": sum(bool(row.get("error")) for row in rows),
        "passed": sum(row["passed"] for row in rows),
        "support_checked": len(checked),
        "judged": len(judged),
        "retrieval_depth": depth,
        **independent_counts,
    }
    return metrics, counts


def aggregate_independent_checks(
    rows: Sequence[Mapping[str, Any]],
) -> tuple[dict[str, float | None], dict[str, int]]:
    """The run's figures for the independent answer checks (checks.py), from the rows' stored values.

    Rows scored before these checks existed have no values and are left out, not counted as failures.
    """
    per_row = [row["metrics"] for row in rows]
    bearing = [m["answer_bearing_citation"] for m in per_row if m.get("answer_bearing_citation") is not None]
    faithful = [m["faithfulness"] for m in per_row if m.get("faithfulness")]
    stale = [m for m in per_row if m.get("stale") is not None]
    metrics = {
        "answer_bearing_citation": _rate(bearing),
        "faithfulness": _ratio(
            sum(f["sentences_faithful"] for f in faithful), sum(f["sentences_checked"] for f in faithful)
        ),
        "faithfulness_facts": _ratio(
            sum(f["facts_found"] for f in faithful), sum(f["facts_total"] for f in faithful)
        ),
        "stale_answer_rate": _rate([m["stale"] for m in stale]),
    }
    counts = {
        "answer_bearing_checked": len(bearing),
        "faithfulness_sentences": sum(f["sentences_checked"] for f in faithful),
        "faithfulness_facts": sum(f["facts_total"] for f in faithful),
        "time_cued": sum(bool(m.get("time_cue")) for m in per_row),
        "staleness_checked": len(stale),
        "stale": sum(m["stale"] for m in stale),
        "stale_dated_first": sum(bool(m.get("stale_dated_first")) for m in stale),
    }
    return metrics, counts


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None
