"""The independent answer checks on hand-made rows: each rewards the right answer and catches a wrong one."""

from __future__ import annotations

import pytest

from qa_bot.evaluation.checks import (
    answer_bearing_citation,
    faithfulness,
    has_time_cue,
    independent_checks,
    sentence_facts,
    staleness,
)
from qa_bot.evaluation.metrics import aggregate

CITATION_COUNTS = ("pairs", "supported_pairs", "sentences", "cited_sentences", "supported_sentences")
KENYA = "King Charles and Queen Camilla began a four-day state visit to Kenya on 31 October 2023."


def citation(n: int, passage: str, *, title: str = "A title", date: str = "2023-11-01") -> dict:
    return {
        "n": n,
        "article_id": f"article-{n}",
        "stem": None,
        "title": title,
        "date": date,
        "text": passage,
    }


def row(
    sentences: list[tuple[str, list[int]]],
    citations: list[dict],
    *,
    question: str = "Which country did King Charles visit?",
    answers: list = ("Kenya",),
    all_required: bool = False,
    correct: bool | None = True,
    as_of: str | None = "2023-11-03",
    refused: bool = False,
) -> dict:
    return {
        "question": question,
        "date": as_of,
        "answer": " ".join(text for text, _ in sentences),
        "refused": refused,
        "error": None,
        "gold": {"answers": list(answers), "all": all_required, "unanswerable": False, "articles": []},
        "sentences": [{"text": text, "citations": ns, "supported": bool(ns)} for text, ns in sentences],
        "citations": citations,
        "metrics": {"correct": correct, "citations": dict.fromkeys(CITATION_COUNTS, 0)},
        "passed": bool(correct),
    }


# --- answer-bearing citation ----------------------------------------------------------------------


def test_a_correct_answer_citing_a_passage_that_holds_the_answer_is_answer_bearing():
    assert answer_bearing_citation(row([("They visited Kenya", [1])], [citation(1, KENYA)])) is True


def test_an_answer_only_the_cited_articles_title_holds_is_not_answer_bearing():
    cited = citation(1, "The royal couple landed in Nairobi for a state visit.", title="Charles in Kenya")
    assert answer_bearing_citation(row([("They visited Kenya", [1])], [cited])) is False


def test_every_required_answer_must_be_in_a_cited_passage():
    cited = [citation(1, "The ministers discussed regional issues."), citation(2, "They met in Delhi.")]
    answer = [("They discussed regional and global issues", [1, 2])]
    assert (
        answer_bearing_citation(row(answer, cited, answers=["regional", "global"], all_required=True))
        is False
    )
    cited.append(citation(3, "Global issues came up too."))
    assert (
        answer_bearing_citation(row(answer, cited, answers=["regional", "global"], all_required=True)) is True
    )


def test_only_correct_answers_are_checked_for_an_answer_bearing_citation():
    assert (
        answer_bearing_citation(row([("They visited Uganda", [1])], [citation(1, KENYA)], correct=False))
        is None
    )


# --- faithfulness by names, numbers and dates -----------------------------------------------------


def test_facts_are_numbers_dates_and_names_but_not_a_sentences_first_word():
    facts = sentence_facts("Kenya welcomed 1,200 guests and President William Ruto on 31 October 2023 [1].")
    assert facts.numbers == ("1200",)
    assert [str(date) for date in facts.dates] == ["31 October 2023"]
    assert facts.names == ("William Ruto",)  # "Kenya" opens the sentence; "President" is a title


def test_a_sentence_whose_names_numbers_and_dates_are_in_its_passage_is_faithful():
    result = faithfulness(
        row([("Charles began a four-day visit to Kenya on October 31, 2023", [1])], [citation(1, KENYA)])
    )
    assert result["sentences_checked"] == 1 and result["sentences_faithful"] == 1
    assert result["facts_found"] == result["facts_total"] == 2  # Kenya and the date ("Charles" opens it)


def test_a_sentence_naming_a_person_absent_from_the_passage_is_unfaithful():
    result = faithfulness(row([("The visit was led by Prince William", [1])], [citation(1, KENYA)]))
    assert result["sentences_faithful"] == 0
    assert result["missing"] == ["William"]


def test_a_number_that_differs_from_the_passage_is_caught_and_thousands_separators_do_not_matter():
    passage = citation(1, "Officials said 1200 people attended the state banquet.")
    assert faithfulness(row([("The banquet had 1,200 guests", [1])], [passage]))["sentences_faithful"] == 1
    wrong = faithfulness(row([("The banquet had 1,300 guests", [1])], [passage]))
    assert wrong["sentences_faithful"] == 0 and wrong["missing"] == ["1300"]


def test_a_fact_found_only_in_the_title_or_date_of_the_cited_article_does_not_count():
    cited = citation(1, "The royal couple landed for a state visit.", title="Charles in Kenya 2023")
    result = faithfulness(row([("The couple landed in Kenya in 2023", [1])], [cited]))
    assert result["missing"] == ["2023", "Kenya"]


def test_a_fact_must_be_in_a_passage_the_sentence_itself_cites():
    cited = [citation(1, KENYA), citation(2, "Rain fell in London.")]
    assert faithfulness(row([("The visit went to Kenya", [2])], cited))["sentences_faithful"] == 0


def test_an_uncited_sentence_with_a_fact_is_unfaithful_and_one_without_facts_is_not_checked():
    result = faithfulness(row([("They went to Kenya", []), ("it was a visit", [])], [citation(1, KENYA)]))
    assert result["sentences_checked"] == 1 and result["sentences_faithful"] == 0


def test_case_accents_and_punctuation_do_not_matter():
    cited = citation(1, "The summit took place in ZURICH, where Francois Hollande spoke.")
    result = faithfulness(row([("The summit was held in Zürich with François Hollande", [1])], [cited]))
    assert result["sentences_faithful"] == 1


def test_the_apps_as_of_lead_in_is_ignored_but_a_wrong_date_in_the_sentence_is_caught():
    # The lead-in's date is the article's publication date, added by the app: not in the text.
    lead_in = "As of 1 November 2023, Charles began a visit to Kenya on 31 October 2023"
    assert faithfulness(row([(lead_in, [1])], [citation(1, KENYA)]))["sentences_faithful"] == 1
    wrong = "As of 1 November 2023, Charles began a visit to Kenya on 30 October 2023"
    result = faithfulness(row([(wrong, [1])], [citation(1, KENYA)]))
    assert result["sentences_faithful"] == 0 and result["missing"] == ["30 October 2023"]


def test_after_the_lead_in_a_name_is_no_longer_the_sentences_first_word():
    result = faithfulness(row([("As of 1 November 2023, Uganda hosted the king", [1])], [citation(1, KENYA)]))
    assert result["missing"] == ["Uganda"]


def test_refusals_are_not_checked_for_faithfulness():
    assert faithfulness(row([], [], refused=True, correct=False)) is None


# --- staleness -------------------------------------------------------------------------------------


def test_time_cues_include_this_week_latest_and_lower_case_new_but_not_new_york():
    assert has_time_cue("Which country did King Charles visit this week?")
    assert has_time_cue("What is the latest on the strike?") and has_time_cue("Which new law passed?")
    assert not has_time_cue("What happened in New York on 9 June?")


def test_a_this_week_question_answered_from_an_old_article_is_stale():
    old = citation(1, KENYA, date="2021-02-01")
    result = staleness(row([("They visited Kenya", [1])], [old], question="Where did Charles go this week?"))
    assert result["stale"] is True and result["cited_age_days"] == 1005
    assert result["dated_first"] is False


def test_the_newest_cited_article_decides_and_a_recent_one_is_not_stale():
    cited = [citation(1, KENYA, date="2021-02-01"), citation(2, KENYA, date="2023-11-01")]
    result = staleness(
        row([("They visited Kenya", [1, 2])], cited, question="Where did Charles go this week?")
    )
    assert result["stale"] is False and result["cited_age_days"] == 2


def test_a_stale_answer_that_gives_the_articles_date_first_is_counted_as_dated():
    old = citation(1, KENYA, date="2021-02-01")
    answer = [("As of 1 February 2021, they had visited Kenya", [1]), ("It was a state visit", [1])]
    result = staleness(row(answer, [old], question="Where did Charles go this week?"))
    assert result["stale"] is True and result["dated_first"] is True


def test_staleness_is_only_measured_for_answered_time_cued_questions():
    old = [citation(1, KENYA, date="2021-02-01")]
    assert staleness(row([("Kenya", [1])], old, question="Where did Charles go?"))["stale"] is None
    refused = row([], old, question="Where did Charles go this week?", refused=True)
    assert staleness(refused)["stale"] is None


# --- aggregates ------------------------------------------------------------------------------------


def _scored(r: dict) -> dict:
    r["metrics"].update(independent_checks(r))
    return r


def test_aggregate_reports_each_independent_check_over_the_rows_it_applies_to():
    week = "Where did Charles go this week?"
    rows = [
        _scored(row([("They visited Kenya", [1])], [citation(1, KENYA)], question=week)),
        _scored(row([("They visited Kenya with William", [1])], [citation(1, "A visit.", title="Kenya")])),
        _scored(
            row(
                [("They visited Uganda", [1])],
                [citation(1, KENYA, date="2021-02-01")],
                question=week,
                correct=False,
            )
        ),
    ]
    metrics, counts = aggregate(rows)
    assert metrics["answer_bearing_citation"] == 0.5  # 2 correct answers, one cites only a title
    assert metrics["faithfulness"] == pytest.approx(1 / 3)  # Kenya found; Kenya+William and Uganda not
    assert metrics["faithfulness_facts"] == pytest.approx(1 / 4)
    assert metrics["stale_answer_rate"] == 0.5
    assert counts["time_cued"] == 2 and counts["stale"] == 1 and counts["stale_dated_first"] == 0


def test_rows_scored_before_the_checks_existed_leave_them_unmeasured():
    metrics, _ = aggregate([row([("They visited Kenya", [1])], [citation(1, KENYA)])])
    assert metrics["answer_bearing_citation"] is None
    assert metrics["faithfulness"] is None and metrics["stale_answer_rate"] is None


def test_the_checks_import_nothing_from_the_answer_stage():
    import ast
    from pathlib import Path

    import qa_bot.evaluation.checks as checks

    tree = ast.parse(Path(checks.__file__).read_text())
    modules = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    modules |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert {module for module in modules if module and module.startswith("qa_bot")} == {
        "qa_bot.evaluation.metrics"
    }


def test_possessives_and_hyphens_do_not_hide_a_name_the_passage_holds():
    cited = citation(1, "They discussed “Russia’s illegal war in Ukraine” and the Indo-Pacific.")
    result = faithfulness(row([("They discussed Russia and the Indo Pacific", [1])], [cited]))
    assert result["sentences_faithful"] == 1
