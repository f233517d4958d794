"""Each metric on hand-made answers and rows: it rewards the right thing and can fail."""

from __future__ import annotations

import pytest

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
    hit_at_k,
    hit_curve,
    latency_summary,
    load_support_checker,
    normalize,
    percentile,
    recall_at_k,
    reciprocal_rank,
    token_f1,
)
from qa_bot.index.search import Passage


def test_normalize_drops_case_accents_punctuation_articles_and_citation_markers():
    assert normalize("  The   Café—in  Zürich, [1][2, 3] an “Event”! ") == "cafe in zurich event"
    assert normalize("counter-narcotics and women’s U.S. policy") == "counternarcotics and women us policy"


def test_answer_containment_matches_whole_words_only():
    assert answer_correct("The call was on Sunday [1].", ["Sunday"])
    assert not answer_correct("The call was on Monday [1].", ["Sunday"])
    # "us" must not match inside "thus"
    assert not answer_correct("thus it went", ["US"])
    # a possessive names the thing itself
    assert answer_correct("Giorgia Meloni became Italy's new prime minister [1].", ["Italy"])
    assert not answer_correct("Giorgia Meloni became Italian prime minister [1].", ["Italy"])


def test_any_semantics_needs_one_answer_and_all_semantics_needs_every_one():
    text = "They discussed regional issues [1]."
    assert answer_correct(text, ["regional", "global"])
    assert not answer_correct(text, ["regional", "global"], all_required=True)
    assert answer_correct("Regional and global issues [1].", ["regional", "global"], all_required=True)


def test_a_list_entry_is_a_group_of_variants_of_one_fact():
    answers = ["technology", ["defence", "defense"]]
    assert answer_correct("technology and defense cooperation", answers, all_required=True)
    assert not answer_correct("technology cooperation", answers, all_required=True)


def test_empty_answer_list_is_never_correct():
    assert not answer_correct("anything", [])


def test_token_f1_is_best_over_answers_and_partial_for_partial_overlap():
    assert token_f1("Ned Price", ["Price", "Ned Price"]) == 1.0
    assert token_f1("spokesperson Price", ["Ned Price"]) == pytest.approx(0.5)
    assert token_f1("Jaishankar", ["Ned Price"]) == 0.0


def test_token_f1_with_all_required_penalises_a_missing_fact():
    assert token_f1("regional", ["regional", "global"], all_required=True) < 1.0
    assert token_f1("regional global", ["regional", "global"], all_required=True) == 1.0


def test_multiple_choice_needs_the_right_choice_and_no_other():
    choices = ["Uganda", "Kenya", "Zimbabwe", "Botswana"]
    assert choice_correct("They visited Kenya [1].", choices, "Kenya")
    assert not choice_correct("They visited Kenya and Uganda.", choices, "Kenya")
    assert not choice_correct("They visited Uganda.", choices, "Kenya")
    assert not choice_correct("I don't know.", choices, "Kenya")


def test_multiple_choice_does_not_read_a_longer_choice_as_a_shorter_one():
    choices = ["Joe Biden", "Biden Foundation", "Kamala Harris", "Jill Biden"]
    assert choice_correct("Joe Biden signed it.", choices, "Joe Biden")
    assert not choice_correct("Jill Biden signed it.", choices, "Joe Biden")


def _passage(article_id: str, path: str | None = None) -> Passage:
    return Passage(chunk_id=f"{article_id}-c", article_id=article_id, text="t", start=0, end=1, path=path)


def test_article_refs_keep_first_occurrence_order_and_file_stems():
    passages = [_passage("b", "/x/seeds/002_b.txt"), _passage("a"), _passage("b"), _passage("c")]
    assert article_refs(passages) == [ArticleRef("b", "002_b"), ArticleRef("a"), ArticleRef("c")]


def test_gold_matches_article_id_or_file_stem():
    retrieved = [ArticleRef("x1", "000_seed"), ArticleRef("x2"), ArticleRef("gold-id")]
    assert gold_ranks(retrieved, ["000_seed", "gold-id", "missing"]) == {
        "000_seed": 1,
        "gold-id": 3,
        "missing": None,
    }


def test_hit_recall_and_mrr_at_k():
    ranks = {"g1": 3, "g2": None}
    assert not hit_at_k(ranks, 2)
    assert hit_at_k(ranks, 3)
    assert recall_at_k(ranks, 3) == 0.5
    assert recall_at_k(ranks, 1) == 0.0
    assert reciprocal_rank(ranks) == pytest.approx(1 / 3)
    assert reciprocal_rank({"g": None}) == 0.0


def test_citation_counts_check_each_cited_passage_against_its_own_sentence():
    # A plain word-overlap judge: the metric's logic is under test here, not the scorer.
    def overlap(claim: str, passage: str) -> float:
        words = set(normalize(claim).split())
        return len(words & set(normalize(passage).split())) / len(words)

    checker = SupportChecker(overlap, 0.5)
    sentences = [
        {"text": "They spoke on Sunday", "citations": [1, 2]},
        {"text": "Price made a statement", "citations": [2]},
        {"text": "Nothing backs this", "citations": []},
    ]
    passages = {1: "They spoke on Sunday morning.", 2: "A statement by Ned Price followed."}
    counts = citation_counts(sentences, passages, checker)
    # pairs: (s1, p1) yes, (s1, p2) no, (s2, p2) yes
    assert (counts.pairs, counts.supported_pairs) == (3, 2)
    assert (counts.sentences, counts.cited_sentences, counts.supported_sentences) == (3, 2, 2)


def test_citation_counts_without_a_checker_leave_support_unjudged():
    counts = citation_counts([{"text": "x", "citations": [1]}], {1: "x"}, None)
    assert (counts.pairs, counts.cited_sentences, counts.supported_pairs) == (1, 1, 0)


def test_real_support_score_separates_supporting_from_unrelated_passages():
    checker = load_support_checker()
    passage = "External Affairs Minister S Jaishankar had a conversation with Antony Blinken on Sunday."
    assert checker.supports("Jaishankar spoke with Blinken on Sunday.", passage)
    assert not checker.supports("The Federal Reserve raised interest rates by half a point.", passage)


def test_cites_gold_by_id_or_stem():
    assert cites_gold([ArticleRef("h", "000_seed")], ["000_seed"])
    assert not cites_gold([ArticleRef("other")], ["000_seed"])


def test_percentile_interpolates_like_numpy():
    values = [1.0, 2.0, 3.0, 4.0, 10.0]
    assert percentile(values, 50) == 3.0
    assert percentile(values, 95) == pytest.approx(8.8)
    assert percentile([7.0], 95) == 7.0
    with pytest.raises(ValueError):
        percentile([], 50)


def test_latency_summary_per_stage():
    summary = latency_summary([{"retrieve": 0.1, "total": 1.0}, {"retrieve": 0.3, "total": 3.0}])
    assert summary["latency.retrieve.p50"] == pytest.approx(0.2)
    assert summary["latency.total.p95"] == pytest.approx(2.9)


def _row(
    *, unanswerable=False, refused=False, correct=None, ranks=None, error=None, timings=None, cites=None
):
    metrics = {
        "citations": {
            "pairs": 0,
            "supported_pairs": 0,
            "sentences": 1,
            "cited_sentences": 1,
            "supported_sentences": 0,
        },
        "support_checked": False,
    }
    if not unanswerable:
        metrics.update(correct=correct, f1=1.0 if correct else 0.0, cites_gold=cites)
        if ranks is not None:
            metrics["gold_ranks"] = ranks
    passed = refused if unanswerable else bool(correct)
    return {
        "gold": {"unanswerable": unanswerable, "answers": [] if unanswerable else ["x"], "all": False},
        "refused": refused,
        "error": error,
        "passed": passed and not error,
        "metrics": metrics,
        "retrieved": [{"article_id": f"a{i}", "stem": None} for i in range(3)],
        "timings": timings or {"total": 1.0},
    }


def test_aggregate_refusal_rates_are_split_by_answerability():
    rows = [
        _row(unanswerable=True, refused=True),
        _row(unanswerable=True, refused=False),
        _row(correct=True, ranks={"g": 1}),
        _row(refused=True, correct=False, ranks={"g": None}),
    ]
    metrics, counts = aggregate(rows)
    assert metrics["refusal_rate"] == 0.5
    assert metrics["false_refusal_rate"] == 0.5
    assert metrics["answer_accuracy"] == 0.5
    assert metrics["pass_rate"] == 0.5
    assert counts["unanswerable"] == 2 and counts["answerable"] == 2


def test_aggregate_retrieval_metrics_only_up_to_the_depth_retrieved():
    rows = [
        _row(correct=True, ranks={"g": 1}),
        _row(correct=False, ranks={"g": 3}),
        _row(correct=False, ranks={"g": None}),
    ]
    metrics, counts = aggregate(rows)
    assert metrics["hit@1"] == pytest.approx(1 / 3)
    assert metrics["hit@3"] == pytest.approx(2 / 3)
    assert "hit@5" not in metrics  # only 3 articles were retrieved per question
    assert metrics["mrr"] == pytest.approx((1 + 1 / 3 + 0) / 3)
    assert counts["retrieval_depth"] == 3
    assert [round(hit, 3) for _, hit, _ in hit_curve(rows)] == [0.333, 0.333, 0.667]


def test_aggregate_counts_errors_and_leaves_unmeasurable_metrics_empty():
    rows = [_row(correct=False, error="LLM timed out")]
    metrics, counts = aggregate(rows)
    assert metrics["error_rate"] == 1.0
    assert metrics["refusal_rate"] is None  # no unanswerable question in the set
    assert metrics["citation_precision"] is None  # nothing was checked
    assert counts["errors"] == 1
