"""How many word-pieces qa-bot embeds per word-piece of article text, for each chunking.

    .venv/bin/python benchmarks/bench_embedding_work.py [--articles 300] [--chunks 120/24+t,200/0+t]

Tokenizes only (no model runs): the first N articles of ../shared/data/realtimeqa/corpus.jsonl are
split as `qa-bot ingest` splits them, and for each chunk the model's input is counted as the
embedding pass builds it ([CLS], the title when "+t", the chunk's word-pieces, [SEP], cut at 256).
The ratio embedded / article word-pieces is the embedding work per unit of text: overlap, titles and
the two special tokens per chunk are what push it above 1. Results go to docs/performance.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.report import machine_description, write_section  # noqa: E402
from qa_bot.index.chunking import Chunker, token_count, token_ids  # noqa: E402
from qa_bot.index.model_files import wrap_for_model  # noqa: E402
from qa_bot.ingest.articles import Article, load_corpus  # noqa: E402

REALTIMEQA = ROOT.parent / "shared" / "data" / "realtimeqa"
PERFORMANCE_MD = ROOT / "docs" / "performance.md"


def load_articles(n: int, folder: Path) -> list[Article]:
    """The first n articles, read by qa-bot's own loader (titles and text as ingest sees them)."""
    sample = folder / "sample.jsonl"
    with open(REALTIMEQA / "corpus.jsonl", encoding="utf-8") as src:
        sample.write_text("".join(line for _, line in zip(range(n), src, strict=False)), encoding="utf-8")
    return load_corpus([sample]).articles


def embedding_work(articles: list[Article], spec: str) -> dict[str, float]:
    titles = spec.endswith("+t")
    size, overlap = map(int, spec.removesuffix("+t").split("/"))
    chunker = Chunker(size, overlap)
    article_pieces = embedded = chunks = 0
    for article, split in zip(articles, chunker.split_many(articles), strict=True):
        if isinstance(split, Exception):
            raise split
        article_pieces += token_count(article.text)
        title_ids = token_ids(article.title) if titles and article.title else []
        embedded += sum(len(wrap_for_model(title_ids, chunk.token_ids)) for chunk in split)
        chunks += len(split)
    return {
        "chunks": chunks,
        "article": article_pieces,
        "embedded": embedded,
        "ratio": embedded / article_pieces,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--articles", type=int, default=300)
    parser.add_argument("--chunks", default="120/24+t,120/0+t,160/0+t,200/0+t,250/0+t,200/0")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        articles = load_articles(args.articles, Path(tmp))
    rows = []
    for spec in args.chunks.split(","):
        work = embedding_work(articles, spec)
        rows.append((spec, work))
        print(f"{spec:10} {work}", flush=True)
    lines = [
        f"Command: `.venv/bin/python benchmarks/bench_embedding_work.py --articles {args.articles} "
        f"--chunks {args.chunks}` ({date.today()}), the first {len(articles)} RealTime QA articles. "
        f"Machine: {machine_description()} (tokenizing only: the figures do not depend on it)\n",
        "| chunks (word-pieces/overlap, +t: title in front) | chunks | article word-pieces | embedded | "
        "embedded per article word-piece |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {spec} | {w['chunks']:,} | {w['article']:,} | {w['embedded']:,} | {w['ratio']:.2f} |"
        for spec, w in rows
    ]
    write_section("embedding_work", "Embedding work per article", "\n".join(lines), PERFORMANCE_MD)


if __name__ == "__main__":
    main()
