"""Lexical support: which passage sentence backs a claim, content words over stop words, sentences."""

from __future__ import annotations

from qa_bot.support import best_supporting_span, split_sentences, support_score
from tests.passages import CALL_TEXT, SEED_PASSAGES


def test_best_supporting_span_picks_the_sentence_with_the_claims_words():
    passage = next(p for p in SEED_PASSAGES if "Ned Price" in p.text and p.article_id == "000")
    start, end, score = best_supporting_span("Ned Price is the State Department spokesperson.", passage)

    assert "spokesperson Ned Price" in CALL_TEXT[start:end]
    assert score == 1.0


def test_support_score_counts_content_words_not_stop_words():
    assert support_score("The call was on Sunday.", "A telephone call on Sunday.") == 1.0
    assert support_score("The call was on Monday.", "A telephone call on Sunday.") < 0.5
    assert support_score("It was on the.", "Anything.") == 0.0


def test_a_claim_sharing_names_but_adding_its_own_day_is_not_supported():
    passage = "Jaishankar and Blinken spoke on Thursday about trade."
    assert support_score("Jaishankar and Blinken spoke on Thursday.", passage) == 1.0
    assert support_score("Jaishankar and Blinken spoke on Sunday.", passage) < 0.6


def test_sentences_do_not_split_at_abbreviations_initials_or_decimals():
    text = "Dr. Lee met U.S. officials and S. Jaishankar. The deal is worth $3.5 billion! Was it signed?\nNo"
    assert [text[s:e] for s, e in split_sentences(text)] == [
        "Dr. Lee met U.S. officials and S. Jaishankar.",
        "The deal is worth $3.5 billion!",
        "Was it signed?",
        "No",
    ]
