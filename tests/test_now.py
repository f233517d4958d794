"""What "now" means (qa_bot/now.py): one vocabulary for retrieval, dating an answer, and the verifier."""

import pytest

from qa_bot.now import STALE_DAYS, WEEK_DAYS, asks_about_now, asks_about_time, claim_now_cue


@pytest.mark.parametrize(
    "question",
    [
        "Who won the election this week?",
        "What is the latest on the strike?",
        "Who is the new prime minister?",
        "Which team has just been promoted?",
        "Who leads the race so far?",
    ],
)
def test_a_question_about_the_newest_state_of_things_asks_about_now(question):
    assert asks_about_now(question)


@pytest.mark.parametrize(
    "question",
    ["Who is the foreign minister of India?", "What happened in New Delhi?", "What did Just Stop Oil do?"],
)
def test_names_and_timeless_questions_do_not(question):
    assert not asks_about_now(question)


def test_a_question_about_when_asks_about_time_and_so_does_one_about_now():
    assert asks_about_time("When did the talks end?")
    assert asks_about_time("On which day did they speak?")
    assert asks_about_time("Who won the election this week?")
    assert not asks_about_time("Who is the foreign minister of India?")


def test_a_claims_now_cue_comes_with_how_old_an_article_may_be_to_say_it():
    assert claim_now_cue("The talks ended this week.") == ("this week", WEEK_DAYS)
    assert claim_now_cue("Prices are currently rising.") == ("currently", STALE_DAYS)
    assert claim_now_cue("He spoke Today in Paris.") == ("Today", WEEK_DAYS)
    # "last month" in a copied sentence is relative to its own article, not to today.
    assert claim_now_cue("The talks ended last month.") is None
    assert claim_now_cue("The match this weekend was cancelled.") == ("this weekend", WEEK_DAYS)
