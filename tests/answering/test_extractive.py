"""Extractive answers (no LLM): the passages' own sentences, verified like a model's answer."""

from __future__ import annotations

from qa_bot.answering.answer import NOT_IN_PASSAGES, REFUSAL_MESSAGE, finalize_answer
from qa_bot.answering.extractive import extractive_answer
from tests.fixtures.passages import CALL_TEXT, MEETING_TEXT, SEED_PASSAGES, make_passage


def _extractive(question: str):
    raw = extractive_answer(question, SEED_PASSAGES)
    return finalize_answer(question, raw, SEED_PASSAGES)


def test_extractive_answer_finds_the_day_of_the_call_in_the_call_article():
    answer = _extractive("On which day did Jaishankar and Blinken have their phone call?")

    assert not answer.refused
    assert "Sunday" in answer.text
    assert answer.citations and answer.citations[0].passage.article_id == "000"
    assert "Thursday" not in answer.text  # the meeting day from the other article stays out


def test_extractive_answer_finds_where_they_met_on_the_sidelines():
    answer = _extractive("Where did Jaishankar and Blinken meet on the sidelines?")

    assert "g20 foreign ministers" in answer.text.lower()
    assert all(s.supported for s in answer.sentences)


def test_extractive_answer_names_the_state_department_spokesperson():
    answer = _extractive("Who is the State Department spokesperson?")
    assert "Ned Price" in answer.text
    assert answer.citations


def test_extractive_answer_refuses_a_question_the_articles_do_not_cover():
    assert extractive_answer("Who won the 2022 FIFA World Cup?", SEED_PASSAGES) == NOT_IN_PASSAGES
    assert _extractive("Who won the 2022 FIFA World Cup?").text.startswith(REFUSAL_MESSAGE)


def test_extractive_answer_adds_a_second_sentence_only_when_it_matches_as_well():
    passages = [
        make_passage("Blinken met Jaishankar in New Delhi on Thursday. The weather was warm.", 1),
        make_passage("Jaishankar met Blinken again in Washington in April.", 2),
    ]
    question = "Where did Blinken meet Jaishankar?"

    assert extractive_answer(question, passages) == (
        "Blinken met Jaishankar in New Delhi on Thursday [1]. "
        "Jaishankar met Blinken again in Washington in April [2]."
    )
    assert extractive_answer(question, passages, max_sentences=1) == (
        "Blinken met Jaishankar in New Delhi on Thursday [1]."
    )


def test_extractive_answer_without_passages_refuses():
    assert extractive_answer("When was the call?", []) == NOT_IN_PASSAGES


def test_extractive_sentences_are_verbatim_from_the_article():
    answer = _extractive("On which day did Jaishankar and Blinken have their phone call?")
    for sentence in answer.sentences:
        assert sentence.text in CALL_TEXT or sentence.text in MEETING_TEXT
