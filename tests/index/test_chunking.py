"""Chunking: passages that fit the embedding model, with exact offsets into the article text."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from qa_bot.index.chunking import Chunker, chunk_article, token_count
from qa_bot.index.model_files import MAX_TOKENS, load_tokenizer
from qa_bot.ingest.articles import Article, load_corpus
from tests.fixtures.paths import SEEDS

REPEATED_PARAGRAPH = (
    "The minister met the secretary on Thursday. They discussed trade, defence and technology. "
    "Both sides said the talks went well."
)


def synthetic_article(text: str, **meta) -> Article:
    return Article(id="synthetic", text=text, source_key="mem://synthetic", **meta)


def seed_articles() -> list[Article]:
    return load_corpus([SEEDS]).articles


def long_articles() -> list[Article]:
    distinct = " ".join(
        f"Sentence {i} reports that event {i * 7} happened in Town{i} on day {i}." for i in range(120)
    )
    repeated = "\n\n".join([REPEATED_PARAGRAPH] * 30)
    repeated_within = " ".join([REPEATED_PARAGRAPH] * 30)
    return [synthetic_article(distinct), synthetic_article(repeated), synthetic_article(repeated_within)]


def model_tokens(text: str) -> int:
    """Word-pieces the embedding model sees, [CLS] and [SEP] included, counted without truncation."""
    tokenizer = load_tokenizer()
    tokenizer.no_truncation()
    return len(tokenizer.encode(text).ids)


ALL_ARTICLES = seed_articles() + long_articles()


@pytest.mark.parametrize("article", ALL_ARTICLES, ids=lambda a: Path(a.path).stem if a.path else "synthetic")
def test_every_chunk_is_exactly_the_article_text_at_its_offsets(article):
    docs = chunk_article(article, 200, 40)

    assert len(docs) >= 2
    for index, doc in enumerate(docs):
        assert doc.metadata["chunk_index"] == index
        assert article.text[doc.metadata["start"] : doc.metadata["end"]] == doc.page_content


@pytest.mark.parametrize("article", ALL_ARTICLES, ids=lambda a: Path(a.path).stem if a.path else "synthetic")
def test_chunks_follow_each_other_and_cover_every_word(article):
    docs = chunk_article(article, 200, 40)
    covered = [False] * len(article.text)
    previous_start, previous_end = -1, 0
    for doc in docs:
        start, end = doc.metadata["start"], doc.metadata["end"]
        gap = article.text[previous_end:start]
        # Each chunk starts after the previous one, overlapping it or after nothing but whitespace.
        assert start > previous_start
        assert start <= previous_end or not gap.strip()
        covered[start:end] = [True] * (end - start)
        previous_start, previous_end = start, end

    missed = "".join(char for char, seen in zip(article.text, covered, strict=True) if not seen)
    assert not missed.strip()


def test_repeated_paragraphs_get_their_own_offsets_not_the_first_copys():
    article = long_articles()[1]
    docs = chunk_article(article, 200, 40)

    starts = [doc.metadata["start"] for doc in docs]
    assert starts == sorted(set(starts))
    assert docs[-1].metadata["end"] == len(article.text)


@pytest.mark.parametrize("article", ALL_ARTICLES, ids=lambda a: Path(a.path).stem if a.path else "synthetic")
def test_no_chunk_is_longer_than_the_model_reads(article):
    for doc in chunk_article(article, 200, 40):
        assert token_count(doc.page_content) <= 200
        assert model_tokens(doc.page_content) <= MAX_TOKENS


def test_text_without_any_separator_is_cut_to_fit():
    # Punctuation makes every number its own word-piece; there is no space to split at.
    ticker = "-".join(str(i) for i in range(600))
    article = synthetic_article(f"Prices: {ticker} and more.")

    docs = chunk_article(article, 200, 40)

    assert len(docs) > 1
    assert all(model_tokens(doc.page_content) <= MAX_TOKENS for doc in docs)
    assert all(article.text[d.metadata["start"] : d.metadata["end"]] == d.page_content for d in docs)


def test_consecutive_chunks_of_a_long_paragraph_overlap_by_whole_sentences():
    article = long_articles()[0]
    docs = chunk_article(article, 200, 40)

    for before, after in zip(docs, docs[1:], strict=False):
        assert after.metadata["start"] < before.metadata["end"]
        shared = article.text[after.metadata["start"] : before.metadata["end"]]
        assert 0 < token_count(shared) <= 40
        assert re.fullmatch(r"(Sentence \d+ [^.]+\. ?)+", shared)


def test_sentences_stay_whole_when_a_paragraph_is_split():
    article = long_articles()[0]

    for doc in chunk_article(article, 200, 40):
        assert re.fullmatch(r"Sentence \d+ .*\.", doc.page_content, re.DOTALL)


def test_paragraphs_are_kept_together_when_they_fit():
    paragraphs = [f"Paragraph {i} says one short thing about topic {i}." for i in range(40)]
    article = synthetic_article("\n\n".join(paragraphs))

    for doc in chunk_article(article, 64, 0):
        assert doc.page_content.startswith("Paragraph ")
        assert doc.page_content.endswith(".")


def test_a_short_article_is_one_chunk_with_all_its_metadata():
    article = Article(
        id="a1",
        text="The Senate passed the budget on Sunday.",
        title="Budget passes",
        date="2023-04-16",
        source="cnn.com",
        url="https://www.cnn.com/budget",
        path="/corpus/a.jsonl",
        source_key="/corpus/a.jsonl#a1",
    )

    (doc,) = chunk_article(article, 200, 40)

    assert doc.page_content == article.text
    assert doc.metadata == {
        "article_id": "a1",
        "title": "Budget passes",
        "date": "2023-04-16",
        "date_int": 20230416,
        "source": "cnn.com",
        "path": "/corpus/a.jsonl",
        "url": "https://www.cnn.com/budget",
        "source_key": "/corpus/a.jsonl#a1",
        "start": 0,
        "end": len(article.text),
        "chunk_index": 0,
    }


def test_missing_metadata_is_left_out_rather_than_none():
    undated = next(a for a in seed_articles() if a.date is None)

    for doc in chunk_article(undated, 200, 40):
        assert None not in doc.metadata.values()
        assert {"date", "url", "source"}.isdisjoint(doc.metadata)  # its title is its first line
        assert doc.metadata["date_int"] == 0  # passes an "until" filter, fails a "since" one
        assert doc.metadata["path"] == undated.path


def test_smaller_chunks_give_more_passages_within_the_smaller_limit():
    article = seed_articles()[0]

    default = chunk_article(article, 200, 40)
    small = chunk_article(article, 64, 8)

    assert len(small) > len(default)
    assert all(token_count(doc.page_content) <= 64 for doc in small)


def test_token_count_sees_past_the_models_limit():
    assert token_count("budget " * 600) == 600


@pytest.mark.parametrize(("chunk_tokens", "overlap_tokens"), [(255, 40), (200, 200), (200, -1)])
def test_impossible_sizes_are_refused_with_the_setting_to_change(chunk_tokens, overlap_tokens):
    with pytest.raises(ValueError, match="QA_BOT_CHUNK"):
        Chunker(chunk_tokens, overlap_tokens)


def test_each_chunk_carries_the_word_pieces_of_its_own_text():
    article = seed_articles()[0]

    chunks = Chunker(64, 8).split(article)

    assert len(chunks) > 3
    tokenizer = load_tokenizer()
    tokenizer.no_truncation()
    for document, ids in chunks:
        assert ids == tokenizer.encode(document.page_content, add_special_tokens=False).ids


def test_a_chunk_cut_inside_a_word_still_carries_its_own_word_pieces():
    # Hyphenated words with no space: no separator fits, so the last-resort character split cuts
    # them wherever the budget ends, inside a word.
    article = synthetic_article("Intro sentence here. " + "-".join(["establishment", "arianism"] * 60))

    chunks = Chunker(48, 0).split(article)

    tokenizer = load_tokenizer()
    tokenizer.no_truncation()
    assert len(chunks) > 2
    for document, ids in chunks:
        assert ids == tokenizer.encode(document.page_content, add_special_tokens=False).ids
        assert len(ids) <= 48
