"""`qa-bot status` over a newsroom-sized catalog: the whole RealTime QA corpus, as a fresh process.

    flock /tmp/qa-bench.lock .venv/bin/python benchmarks/bench_status.py [--repeat 10]

`qa-bot status` reads the article catalog and the keyword index's stamp; it does not open Chroma or
load a model (`--check` does, to count Chroma's chunks). So what its time depends on is the process
start, the imports and the catalog's size. This writes a catalog (under --work, reused by later runs)
holding every article of ../shared/data/realtimeqa/corpus.jsonl (11,671), each with the dev index's
mean of 22 chunk rows per article (about 258k chunks in all) and marked embedded, without embedding
anything, then times `qa-bot status` and `qa-bot status --json` as fresh processes, as a user runs
them. Results go to docs/performance.md (section "bench_status").
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.report import machine_description, write_section  # noqa: E402
from qa_bot.index.catalog import ChunkRow  # noqa: E402
from qa_bot.index.store import Index, content_hash  # noqa: E402
from qa_bot.ingest.articles import Article  # noqa: E402
from qa_bot.settings import Settings  # noqa: E402

CORPUS = ROOT.parent / "shared" / "data" / "realtimeqa" / "corpus.jsonl"
CHUNKS_PER_ARTICLE = 22  # the dev index: 71,056 chunks of 3,209 articles


def write_catalog(data_dir: Path) -> int:
    """Every corpus article in the catalog, marked indexed; returns how many there are."""
    index = Index(Settings(_env_file=None, data_dir=data_dir, llm="extractive"))
    if (count := index.catalog.stats().articles) > 0:
        return count
    rows = []
    with CORPUS.open() as lines:
        for line in lines:
            record = json.loads(line)
            article = Article(
                id=record["id"],
                text=record["text"],
                title=record.get("title"),
                date=record.get("date"),
                source=record.get("source"),
                url=record.get("url"),
                path=None,
                source_key=f"realtimeqa:{record['id']}",
            )
            chunks = [
                ChunkRow(f"{article.id}-{n}", n, 0, min(len(article.text), 500))
                for n in range(CHUNKS_PER_ARTICLE)
            ]
            rows.append((article, content_hash(article), chunks))
    for start in range(0, len(rows), 1000):
        batch = rows[start : start + 1000]
        index.catalog.write_articles(batch)
        index.catalog.mark_embedded((article.source_key, fingerprint) for article, fingerprint, _ in batch)
    return len(rows)


def time_fresh_process(data_dir: Path, *args: str) -> tuple[float, float]:
    """(wall, CPU) seconds of one `qa-bot status` process. The CPU time (user + system) is what the
    wall time would be on an idle core: it says less about other load on the machine."""
    env = {**os.environ, "QA_BOT_DATA_DIR": str(data_dir), "QA_BOT_LLM": "extractive"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "qa_bot.cli", "status", *args],
        env=env,
        cwd=data_dir.parent,
        check=True,
        capture_output=True,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--work", type=Path, default=Path("/tmp/qa-bench-status"))
    args = parser.parse_args()

    data_dir = args.work / "data"
    articles = write_catalog(data_dir)
    time_fresh_process(data_dir)  # the first run also compiles .pyc files: not counted
    rows = []
    for label, extra in (("`qa-bot status`", ()), ("`qa-bot status --json`", ("--json",))):
        runs = [time_fresh_process(data_dir, *extra) for _ in range(args.repeat)]
        walls, cpus = [wall for wall, _ in runs], [cpu for _, cpu in runs]
        rows.append(
            f"| {label} | {statistics.median(walls):.2f} | {max(walls):.2f} | {statistics.median(cpus):.2f} |"
        )
        print(rows[-1])
    body = "\n".join(
        [
            f"Command: `flock /tmp/qa-bench.lock .venv/bin/python benchmarks/bench_status.py --repeat "
            f"{args.repeat}` ({date.today().isoformat()})  ",
            f"Catalog: {articles:,} articles (the whole RealTime QA corpus), "
            f"{articles * CHUNKS_PER_ARTICLE:,} chunks by the catalog. Machine: {machine_description()}; "
            f"1-minute load average at the end {os.getloadavg()[0]:.1f} (other work on the machine "
            "raises the wall time, not the CPU time).",
            "",
            f"| command, a fresh process | wall p50 s | wall max s ({args.repeat} runs) | CPU p50 s |",
            "|---|---|---|---|",
            *rows,
            "",
            "Status reads the catalog (one SQL aggregate) and the keyword index's stamp; Chroma and the "
            "embedding model are opened only by `qa-bot status --check`, which counts Chroma's chunks "
            "against the catalog (seconds: importing chromadb and opening the collection).",
        ]
    )
    write_section("bench_status", "`qa-bot status` at full-corpus size", body)


if __name__ == "__main__":
    main()
