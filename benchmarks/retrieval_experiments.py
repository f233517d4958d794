"""Retrieval experiments on RealTime QA: which search mode, chunk size, k and date handling to default to.

    .venv/bin/python benchmarks/retrieval_experiments.py [--weeks 4] [--chunks 200/40,120/24]
        [--chunking-only]

Takes the questions of N evenly spaced weeks of ../shared/data/realtimeqa and, as the corpus, every
article that any of those weeks' searches returned (the other questions' articles are realistic,
same-period distractors; older articles on the same topics are in the search results too). For
each chunking it builds one index, then scores every retrieval configuration on the same index:
hit@1, hit@5 and MRR@10 over articles (gold = the question's gold_ids). It also runs the plain
LangChain + Chroma baseline: the default RecursiveCharacterTextSplitter, dense top-k, no dates.
Results go to docs/evaluation.md (section "retrieval experiments"). `--chunking-only` compares
chunkings alone: the four configurations that show what a chunking changes (dense, keyword and
hybrid without dates, and the default), no LangChain baseline, into the section "chunking experiments".
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.report import machine_description, write_section  # noqa: E402
from qa_bot.evaluation.metrics import article_refs, gold_ranks, hit_at_k, reciprocal_rank  # noqa: E402
from qa_bot.service import QABot  # noqa: E402
from qa_bot.settings import Settings  # noqa: E402

REALTIMEQA = ROOT.parent / "shared" / "data" / "realtimeqa"
EVALUATION_MD = ROOT / "docs" / "evaluation.md"
DEPTH = 20  # passages retrieved per question, enough to rank ~10 articles


@dataclass(frozen=True)
class Config:
    name: str
    search_mode: str = "hybrid"
    use_as_of: bool = True
    recency_weight: float = 0.5
    window_days: int = 0
    relevance_floor: float = 0.25


# The default settings, plus the variants the defaults were chosen against.
CONFIGS = [
    Config("dense, no dates", search_mode="dense", use_as_of=False),
    Config("keyword (BM25), no dates", search_mode="keyword", use_as_of=False),
    Config("hybrid, no dates", use_as_of=False),
    Config("hybrid + as-of cut-off only", recency_weight=0.0),
    Config("hybrid + as-of + recency 0.5 (default)"),
    Config("hybrid + as-of + recency 1.0", recency_weight=1.0),
    Config("hybrid + as-of + recency 2.0", recency_weight=2.0),
    Config("hybrid + as-of + 180-day window", window_days=180),
    Config("hybrid + as-of + 30-day window", window_days=30),
    Config("dense + as-of + recency 0.5", search_mode="dense"),
    Config("hybrid, default, no relevance floor", relevance_floor=-1.0),
]
CHUNKING_CONFIGS = [CONFIGS[i] for i in (0, 1, 2, 4)]


def pick_weeks(questions: list[dict], count: int) -> list[str]:
    weeks = sorted({q["week"] for q in questions})
    step = len(weeks) / count
    return [weeks[int(i * step)] for i in range(count)]


def build_subset(folder: Path, weeks: list[str]) -> tuple[list[dict], Path]:
    with open(REALTIMEQA / "qa.jsonl", encoding="utf-8") as lines:
        questions = [q for q in map(json.loads, lines) if q["week"] in weeks]
    corpus = folder / "corpus.jsonl"
    wanted = set(weeks)
    with (
        open(REALTIMEQA / "corpus.jsonl", encoding="utf-8") as src,
        open(corpus, "w", encoding="utf-8") as dst,
    ):
        for line in src:
            if wanted & set(json.loads(line)["weeks"]):
                dst.write(line)
    return questions, corpus


def score(ranked_passages_per_question, questions) -> dict[str, float]:
    hits1 = hits5 = mrr = 0.0
    for passages, question in zip(ranked_passages_per_question, questions, strict=True):
        ranks = gold_ranks(article_refs(passages)[:10], question["gold_ids"])
        hits1 += hit_at_k(ranks, 1)
        hits5 += hit_at_k(ranks, 5)
        mrr += reciprocal_rank(ranks)
    n = len(questions)
    return {"hit@1": hits1 / n, "hit@5": hits5 / n, "MRR@10": mrr / n}


def run_config(bot: QABot, config: Config, questions: list[dict]) -> dict[str, float]:
    bot.settings.search_mode = config.search_mode
    bot.settings.recency_weight = config.recency_weight
    bot.settings.date_window_days = config.window_days
    bot.settings.relevance_floor = config.relevance_floor
    results = []
    for q in questions:
        as_of = date.fromisoformat(q["week"]) if config.use_as_of else None
        results.append(bot.retrieve(q["question"], as_of=as_of, k=DEPTH))
    return score(results, questions)


def langchain_baseline(corpus: Path, questions: list[dict]) -> dict[str, float]:
    """What a first LangChain tutorial builds: default splitter, Chroma, dense top-k, no dates."""
    import chromadb
    from langchain_chroma import Chroma
    from langchain_core.documents import Document
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from qa_bot.index.embeddings import LocalMiniLMEmbeddings

    with open(corpus, encoding="utf-8") as lines:
        articles = [json.loads(line) for line in lines]
    docs = RecursiveCharacterTextSplitter().split_documents(
        [Document(a["text"], metadata={"article_id": a["id"]}) for a in articles]
    )
    store = Chroma.from_documents(
        docs,
        LocalMiniLMEmbeddings(),
        client=chromadb.EphemeralClient(chromadb.config.Settings(anonymized_telemetry=False)),
        collection_name="baseline",
    )

    @dataclass
    class Hit:
        article_id: str
        path: None = None

    results = [
        [Hit(d.metadata["article_id"]) for d in store.similarity_search(q["question"], k=DEPTH)]
        for q in questions
    ]
    return score(results, questions) | {"chunks": len(docs)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--weeks", type=int, default=4)
    parser.add_argument(
        "--chunks", default="200/40,120/24,120/24+t", help="chunk/overlap word-pieces (+t: embed titles)"
    )
    parser.add_argument("--chunking-only", action="store_true", help="4 configurations, no baseline")
    args = parser.parse_args()
    with open(REALTIMEQA / "qa.jsonl", encoding="utf-8") as lines:
        weeks = pick_weeks([json.loads(line) for line in lines], args.weeks)

    lines_out = []
    with tempfile.TemporaryDirectory() as tmp:
        questions, corpus = build_subset(Path(tmp), weeks)
        with open(corpus, encoding="utf-8") as lines:
            n_articles = sum(1 for _ in lines)
        print(f"weeks {weeks}: {len(questions)} questions, {n_articles} articles", flush=True)
        rows = []
        for spec in args.chunks.split(","):
            titles = spec.endswith("+t")
            size, overlap = map(int, spec.removesuffix("+t").split("/"))
            settings = Settings(
                _env_file=None,
                data_dir=Path(tmp) / f"data-{spec.replace('/', '-')}",
                llm="extractive",
                chunk_tokens=size,
                chunk_overlap_tokens=overlap,
                embed_titles=titles,
            )
            bot = QABot(settings)
            started = time.perf_counter()
            report = bot.ingest([corpus])
            seconds = time.perf_counter() - started
            print(f"chunks {spec}: {report.chunks_added} chunks in {seconds:.0f} s", flush=True)
            label = f"{size}/{overlap}" + (" + titles" if titles else "")
            if args.chunking_only:
                label += f" ({report.chunks_added:,} chunks, ingest {seconds:.0f} s)"
            for config in CHUNKING_CONFIGS if args.chunking_only else CONFIGS:
                metrics = run_config(bot, config, questions)
                rows.append((label, config.name, metrics))
                print(f"  {config.name:45} {metrics}", flush=True)
        baseline = None if args.chunking_only else langchain_baseline(corpus, questions)
        print(f"baseline {baseline}", flush=True)

    lines_out.append(
        f"Command: `.venv/bin/python benchmarks/retrieval_experiments.py --weeks {args.weeks} "
        f"--chunks {args.chunks}{' --chunking-only' if args.chunking_only else ''}` ({date.today()})  \n"
        f"Weeks: {', '.join(weeks)}; {len(questions)} questions, "
        f"{n_articles} articles. Machine: {machine_description()}\n"
    )
    lines_out.append(
        "| chunks (tokens/overlap) | configuration | hit@1 | hit@5 | MRR@10 |\n|---|---|---|---|---|"
    )
    if baseline is not None:
        lines_out.append(
            f"| LangChain default splitter ({baseline['chunks']} chunks) "
            "| **baseline**: dense top-k, no dates | "
            f"{baseline['hit@1']:.3f} | {baseline['hit@5']:.3f} | {baseline['MRR@10']:.3f} |"
        )
    for chunking, name, m in rows:
        lines_out.append(f"| {chunking} | {name} | {m['hit@1']:.3f} | {m['hit@5']:.3f} | {m['MRR@10']:.3f} |")
    if args.chunking_only:
        write_section("chunking_experiments", "Chunking experiments", "\n".join(lines_out), EVALUATION_MD)
    else:
        write_section("retrieval_experiments", "Retrieval experiments", "\n".join(lines_out), EVALUATION_MD)


if __name__ == "__main__":
    main()
