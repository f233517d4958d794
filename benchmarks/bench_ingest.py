"""Ingest and retrieval speed: run by hand, results written to docs/performance.md.

    .venv/bin/python benchmarks/bench_ingest.py [--articles 150] [--queries 60]

Measures, on the same chunk texts:
- the raw embedding model (chunks/s), i.e. the ceiling for ingest;
- a full `QABot.ingest` into a fresh embedded Chroma (chunks/s, with loading, chunking, the
  the catalog, the BM25 build and the embedding pass), and a re-ingest of the unchanged corpus;
- retrieval latency p50/p95 (question embedding, dense + BM25, fusion), over RealTime QA questions;
- peak RSS.
The corpus is the first N articles of ../shared/data/realtimeqa/corpus.jsonl.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.report import machine_description, write_section  # noqa: E402
from qa_bot.index.chunk_store import titled_text  # noqa: E402
from qa_bot.index.chunking import Chunker  # noqa: E402
from qa_bot.index.embeddings import LocalMiniLMEmbeddings  # noqa: E402
from qa_bot.ingest.articles import Article, iter_articles  # noqa: E402
from qa_bot.service import QABot  # noqa: E402
from qa_bot.settings import Settings  # noqa: E402

REALTIMEQA = ROOT.parent / "shared" / "data" / "realtimeqa"


def sample_corpus(folder: Path, n: int) -> Path:
    target = folder / "sample.jsonl"
    with (
        open(REALTIMEQA / "corpus.jsonl", encoding="utf-8") as src,
        open(target, "w", encoding="utf-8") as dst,
    ):
        for _, line in zip(range(n), src, strict=False):
            dst.write(line)
    return target


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--articles", type=int, default=150)
    parser.add_argument("--queries", type=int, default=60)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        corpus = sample_corpus(Path(tmp), args.articles)
        settings = Settings(_env_file=None, data_dir=Path(tmp) / "data", llm="extractive")
        articles = [a for a in iter_articles([corpus]) if isinstance(a, Article)]
        chunker = Chunker(settings.chunk_tokens, settings.chunk_overlap_tokens)
        # What ingest embeds: each chunk with its article's title in front (QA_BOT_EMBED_TITLES).
        texts = [titled_text(a.title, doc.page_content) for a in articles for doc in chunker.chunk(a)]

        model = LocalMiniLMEmbeddings()
        model.embed_documents(texts[:32])  # load the model outside the timing
        started = time.perf_counter()
        model.embed_documents(texts)
        raw_rate = len(texts) / (time.perf_counter() - started)

        bot = QABot(settings)
        started = time.perf_counter()
        report = bot.ingest([corpus])
        ingest_seconds = time.perf_counter() - started
        started = time.perf_counter()
        bot.ingest([corpus])
        reingest_seconds = time.perf_counter() - started

        with open(REALTIMEQA / "qa.jsonl", encoding="utf-8") as lines:
            questions = [json.loads(line) for line in lines][: args.queries]
        latencies = []
        for item in questions:
            started = time.perf_counter()
            bot.retrieve(item["question"], as_of=date.fromisoformat(item["week"]))
            latencies.append((time.perf_counter() - started) * 1000)

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows = [
        (
            "articles / chunks",
            f"{len(articles)} / {len(texts)} (mean {statistics.mean(map(len, texts)):.0f} chars)",
        ),
        ("raw embedding model", f"{raw_rate:.1f} chunks/s"),
        (
            "full ingest (fresh index)",
            f"{report.chunks_added / ingest_seconds:.1f} chunks/s ({ingest_seconds:.1f} s)",
        ),
        ("ingest / raw model", f"{report.chunks_added / ingest_seconds / raw_rate:.0%}"),
        ("re-ingest, nothing changed", f"{reingest_seconds:.2f} s"),
        (
            "retrieval latency p50 / p95",
            f"{percentile(latencies, 0.5):.0f} / {percentile(latencies, 0.95):.0f} ms",
        ),
        ("peak RSS", f"{peak_mb:.0f} MB"),
    ]
    table = "| measure | value |\n|---|---|\n" + "\n".join(f"| {a} | {b} |" for a, b in rows)
    body = (
        f"Command: `.venv/bin/python benchmarks/bench_ingest.py --articles {args.articles} "
        f"--queries {args.queries}` ({date.today()}, Python {platform.python_version()})\n\n"
        f"Machine: {machine_description()}\n\n{table}\n"
    )
    print(body)
    write_section("bench_ingest", "Ingest and retrieval", body)


if __name__ == "__main__":
    main()
