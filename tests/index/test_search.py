"""Retrieval over the seeds and small dated corpora: relevance, filters, the floor, recency."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from qa_bot.index.search import Query, date_bounds, recency_boost, reciprocal_rank_fusion
from qa_bot.service import QABot
from tests.fixtures.paths import SEEDS


@pytest.fixture
def seeded(settings_factory, tmp_path) -> QABot:
    bot = QABot(settings_factory(llm="extractive"))
    bot.ingest([SEEDS])
    return bot


def names(passages) -> list[str]:
    return [Path(p.path).name for p in passages]


def test_the_call_question_finds_the_passage_about_the_call(seeded):
    passages = seeded.retrieve("On which day did Jaishankar and Blinken speak on the telephone?")

    assert "000_092cfdeac746b4f0.txt" in names(passages)[:2]
    assert any("on the telephone, on Sunday" in p.text for p in passages)
    assert all(seeded.retriever._is_evidence(p) for p in passages)


def test_passages_are_exact_slices_of_their_articles(seeded):
    for passage in seeded.retrieve("Ned Price statement on strategic technology cooperation", k=6):
        article = seeded.article(passage.article_id)
        assert article.text[passage.start : passage.end] == passage.text


def test_top_k_limits_the_number_of_passages(seeded):
    assert len(seeded.retrieve("Blinken Jaishankar G20 meeting", k=2)) == 2


def test_an_off_topic_question_retrieves_nothing(seeded):
    assert seeded.retrieve("What is the best recipe for sourdough bread?") == []


def test_date_filters_exclude_articles_outside_the_range(seeded):
    assert seeded.retrieve("Jaishankar Blinken phone call", since=date(2024, 1, 1)) == []
    in_range = seeded.retrieve(
        "Jaishankar Blinken phone call", since=date(2023, 4, 1), until=date(2023, 4, 30)
    )
    assert names(in_range) and set(names(in_range)) == {"000_092cfdeac746b4f0.txt"}  # 003 has no date


def test_source_filter_keeps_only_that_source(settings_factory, tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(
        '{"id": "a1", "source": "cnn.com", "date": "2024-03-01", "text": "The city council approved the new '
        'stadium budget of 40 million dollars on Monday."}\n'
        '{"id": "b1", "source": "usatoday.com", "date": "2024-03-02", "text": "The city council rejected the '
        'stadium budget after a long debate on Tuesday."}\n'
    )
    bot = QABot(settings_factory(llm="extractive"))
    bot.ingest([corpus])

    both = bot.retrieve("city council stadium budget")
    only_usatoday = bot.retrieve("city council stadium budget", sources=["usatoday.com"])

    assert {p.article_id for p in both} == {"a1", "b1"}
    assert [p.article_id for p in only_usatoday] == ["b1"]


def test_questions_about_this_week_prefer_the_article_of_that_week(settings_factory, tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    story = "The governor announced a new {} plan for the state's water supply, with funding for reservoirs."
    corpus.write_text(
        f'{{"id": "old", "date": "2021-05-01", "text": "{story.format("drought")}"}}\n'
        f'{{"id": "new", "date": "2024-05-03", "text": "{story.format("drought relief")}"}}\n'
    )
    bot = QABot(settings_factory(llm="extractive"))
    bot.ingest([corpus])
    question = "What plan did the governor announce this week for the water supply?"

    as_of_2024 = bot.retrieve(question, as_of=date(2024, 5, 5))
    as_of_2021 = bot.retrieve(question, as_of=date(2021, 5, 3))

    assert as_of_2024[0].article_id == "new"
    assert [p.article_id for p in as_of_2021] == ["old"]  # the 2024 article did not exist yet


def test_the_keyword_index_is_saved_with_the_data_and_reused(settings_factory):
    settings = settings_factory(llm="extractive")
    QABot(settings).ingest([SEEDS])
    saved = QABot(settings).index.keywords.directory
    stamp = (saved / "rows.json").stat().st_mtime_ns

    fresh = QABot(settings)
    hits = fresh.index.keywords.search("Ned Price", 5, since=None, until=None, sources=None)

    assert hits and (saved / "rows.json").stat().st_mtime_ns == stamp


def test_fusion_rewards_agreement_between_retrievers():
    fused = reciprocal_rank_fusion(["a", "b", "c"], ["c", "a", "d"])
    assert max(fused, key=fused.get) == "a"
    assert fused["c"] > fused["b"] and fused["d"] < fused["b"]


def test_recency_boost_favours_the_newer_article():
    as_of = date(2024, 5, 10)
    assert recency_boost("2024-05-08", as_of, 0.5, cue=True) > recency_boost(
        "2024-01-08", as_of, 0.5, cue=True
    )
    assert recency_boost(None, as_of, 0.5, cue=True) == 1.0
    assert date_bounds(Query("q", 4, as_of=as_of)) == (None, 20240517)
    assert date_bounds(Query("q", 4, as_of=as_of, window_days=30)) == (20240410, 20240517)


def test_dates_are_filtered_after_the_vector_search_and_a_narrow_window_still_finds_its_articles(
    settings_factory, tmp_path
):
    # Thirty articles on one story, one a day: the window of two days holds too few of the nearest
    # neighbours, so the search falls back to Chroma's own filter and still finds both.
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(
        "".join(
            f'{{"id": "d{day}", "date": "2024-03-{day:02d}", "text": "Day {day} of the port strike: '
            f'dockers and the port authority met again about wages and shifts."}}\n'
            for day in range(1, 31)
        )
    )
    bot = QABot(settings_factory(llm="extractive", fetch_k=5))
    bot.ingest([corpus])
    question = "What happened in the port strike talks about wages?"

    window = bot.retrieve(question, since=date(2024, 3, 14), until=date(2024, 3, 15), k=10)
    as_of = bot.retrieve(question, as_of=date(2024, 3, 10), k=30)

    assert {p.article_id for p in window} == {"d14", "d15"}
    assert as_of and all(p.date <= "2024-03-17" for p in as_of)  # as-of plus its 7 days of slack


# --- the dense search filters dates and sources itself, exactly as Chroma's `where` would ----------

TOPICS = [
    "Dockers at the port went on strike over wages and night shifts; the port authority offered {n} percent.",
    "The city council debated the stadium budget again and cut {n} million dollars from the plan.",
    "Farmers asked the ministry for drought relief after {n} weeks without rain in the valley.",
]
SOURCES = ["cnn.com", "usatoday.com", "theweek.co.uk"]
K = 12


@pytest.fixture(scope="module")
def dated_dense_bot(tmp_path_factory) -> QABot:
    """48 one-chunk articles on three stories, one every 15 days of 2023-24, from three sources; a
    dense-only bot whose order is the vector search's own (no recency boost, no relevance floor)."""
    from datetime import timedelta

    from qa_bot.settings import Settings

    folder = tmp_path_factory.mktemp("dated")
    lines = []
    for i in range(48):
        day = date(2023, 1, 1) + timedelta(days=15 * i)
        text = f"Report {i}. " + TOPICS[i % 3].format(n=i + 2)
        record = {"id": f"a{i:02d}", "date": day.isoformat(), "source": SOURCES[(i // 3) % 3], "text": text}
        lines.append(json.dumps(record) + "\n")
    (folder / "corpus.jsonl").write_text("".join(lines))
    settings = Settings(
        _env_file=None,
        data_dir=folder / "data",
        llm="extractive",
        embedding="local",
        chroma_host=None,
        search_mode="dense",
        relevance_floor=-1,
        recency_weight=0,
        fetch_k=K,
    )
    bot = QABot(settings)
    bot.ingest([folder / "corpus.jsonl"])
    return bot


FILTERS = {
    "as-of cut-off": {"as_of": date(2023, 12, 1)},
    "as-of and a source": {"as_of": date(2024, 3, 1), "sources": ["usatoday.com"]},
    "two sources": {"sources": ["cnn.com", "theweek.co.uk"]},
    "a narrow window": {"since": date(2023, 5, 1), "until": date(2023, 6, 20)},
    "a window with nothing in it": {"since": date(2025, 6, 1)},
}
# How the filtered search gets its neighbours: the first over-fetch suffices; it must fetch again;
# the filter is narrow, so Chroma searches only the allowed chunks by id.
ROUTES = {
    "first fetch": {},
    "fetch again": {"OVERFETCH_MARGIN": 0.0},
    "allowed ids": {"MAX_UNFILTERED_FETCH": 0},
}


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("case", FILTERS)
def test_filtered_dense_search_returns_what_chromas_where_returns(dated_dense_bot, monkeypatch, route, case):
    from qa_bot.index import search as retrieval
    from qa_bot.index.search import chroma_where

    for constant, value in ROUTES[route].items():
        monkeypatch.setattr(retrieval, constant, value)
    bot, options = dated_dense_bot, FILTERS[case]
    question = "What did the port authority offer the striking dockers?"

    got = [p.article_id for p in bot.retrieve(question, k=K, **options)]

    since, until = date_bounds(Query(question, K, **options))
    expected = bot.index.collection.query(
        query_embeddings=[bot.index.embeddings.embed_query(question)],
        n_results=K,
        where=chroma_where(since, until, options.get("sources")),
        include=["metadatas"],
    )["metadatas"][0]
    assert got == [meta["article_id"] for meta in expected]
    if case != "a window with nothing in it":
        assert len(got) > 1


def test_the_source_filter_ignores_case_on_both_searches(dated_dense_bot):
    question = "stadium budget cut by the council"
    exact = dated_dense_bot.retrieve(question, k=K, sources=["theweek.co.uk"])
    shouted = dated_dense_bot.retrieve(question, k=K, sources=["TheWeek.co.uk"])

    assert exact and [p.chunk_id for p in shouted] == [p.chunk_id for p in exact]
    assert {p.source for p in shouted} == {"theweek.co.uk"}


def test_a_narrow_filter_searches_a_chroma_server_by_allowed_ids(
    settings_factory,
    tmp_path,
    monkeypatch,
    chroma_server,  # noqa: F811 - the fixture imported above
):
    # The allowed-ids route sends Chroma the ids themselves: a server must take them as the embedded
    # store does, and give what its own `where` gives.
    from qa_bot.index import search as retrieval
    from qa_bot.index.search import chroma_where

    monkeypatch.setattr(retrieval, "MAX_UNFILTERED_FETCH", 0)
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(
        "".join(
            json.dumps(
                {
                    "id": f"d{day:02d}",
                    "date": f"2024-03-{day:02d}",
                    "source": SOURCES[day % 3],
                    "text": f"Day {day} of the port strike: dockers met the port authority about wages.",
                }
            )
            + "\n"
            for day in range(1, 29)
        )
    )
    bot = QABot(
        settings_factory(
            llm="extractive",
            chroma_host="127.0.0.1",
            chroma_port=chroma_server,
            search_mode="dense",
            relevance_floor=-1,
            recency_weight=0,
            fetch_k=10,
        )
    )
    bot.ingest([corpus])
    question = "What did the dockers and the port authority discuss?"

    window = [p.article_id for p in bot.retrieve(question, since=date(2024, 3, 10), until=date(2024, 3, 13))]

    expected = bot.index.collection.query(
        query_embeddings=[bot.index.embeddings.embed_query(question)],
        n_results=10,
        where=chroma_where(20240310, 20240313, None),
        include=["metadatas"],
    )["metadatas"][0]
    assert sorted(window) == ["d10", "d11", "d12", "d13"]
    assert window == [meta["article_id"] for meta in expected]
