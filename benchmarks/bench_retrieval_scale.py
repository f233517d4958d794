"""Retrieval latency as the corpus grows: p50/p95 at 25k, 100k and full-corpus chunk counts, with and
without filters, next to Chroma's own `where` filter, and how often both give the same neighbours.

    flock /tmp/qa-bench.lock .venv/bin/python benchmarks/bench_retrieval_scale.py \\
        [--index eval-runs/dev-index] [--sizes 25000,100000,full] [--questions 100] [--where-questions 15]

The chunks are real: every chunk of the ingested RealTime QA dev index (--index, 71,056 chunks of
3,209 articles; opened read-only), with its stored embedding, text and metadata. A size at or below
that is a seeded random sample of them. A larger size adds perturbed copies of them, because embedding
a quarter of a million chunks takes hours on 2 cores: copy c of a chunk has its embedding plus
Gaussian noise (sigma 0.02 a dimension, cosine ~0.93 to the original, renormalised), its date moved
by c x 400 days (forward for odd c, back for even c, so the as-of cut-off removes some copies and
keeps others), and the next source in the list. "full" is the whole RealTime QA corpus
(../shared/data/realtimeqa, 11,671 articles) at the dev index's chunks per article: ~258k chunks.
Each size is written once into its own data dir under --work (Chroma, then the BM25 index built by
qa-bot from it) and reused by later runs.

The query side is qa-bot's own: `QABot.retrieve` with the dev set's 217 questions (evals/realtimeqa_dev),
each asked as of its date (so with the as-of cut-off and the recency boost, the default), and:
- no filter at all (no as-of), the floor;
- as of its date (the default);
- as of its date, only cnn.com (a source filter);
- as of its date, since 7 days before it (a narrow explicit --since).
"where" rows run the same retrieval with the dense search filtered inside Chroma (its metadata
`where`, as before issue 10), on the first --where-questions questions (they take ~1 s each at 258k).
"same top-k" compares the dense search's fetch_k neighbours of both routes on those questions: the
share of questions with the same ids in the same order, the mean recall of the `where` route's ids,
and each route's recall of the exact filtered neighbours (brute force over every chunk's vector), since
both routes search an approximate (HNSW) index.
The narrow-window table times the dense step alone by route: `where`, the allowed ids, and what
qa-bot picks. Results go to docs/performance.md, section "Retrieval at scale".
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.report import machine_description, write_section  # noqa: E402
from qa_bot.index.catalog import ChunkRow  # noqa: E402
from qa_bot.index.embeddings import embedding_name  # noqa: E402
from qa_bot.index.search import Filters, HybridRetriever, Query, date_bounds  # noqa: E402
from qa_bot.index.store import chroma_client  # noqa: E402
from qa_bot.ingest.articles import Article  # noqa: E402
from qa_bot.service import QABot  # noqa: E402
from qa_bot.settings import Settings  # noqa: E402

QUESTIONS = ROOT / "evals" / "realtimeqa_dev" / "qa.jsonl"
FULL_CORPUS = ROOT.parent / "shared" / "data" / "realtimeqa" / "corpus.jsonl"
NOISE_SIGMA = 0.02
SHIFT_DAYS = 400
ADD_BATCH = 5000
NARROW_DAYS = 7
SOURCE = "cnn.com"


@dataclass
class Chunks:
    ids: list[str]
    documents: list[str]
    metadatas: list[dict]
    embeddings: np.ndarray


def settings_for(data_dir: Path) -> Settings:
    return Settings(_env_file=None, data_dir=data_dir, llm="extractive", chroma_host=None)


def read_chunks(collection) -> Chunks:
    ids, documents, metadatas, vectors = [], [], [], []
    offset = 0
    while page := collection.get(
        include=["documents", "metadatas", "embeddings"], limit=ADD_BATCH, offset=offset
    ):
        if not page["ids"]:
            break
        ids += page["ids"]
        documents += page["documents"]
        metadatas += page["metadatas"]
        vectors.append(np.asarray(page["embeddings"], dtype=np.float32))
        offset += len(page["ids"])
    return Chunks(ids, documents, metadatas, np.concatenate(vectors))


def full_corpus_size(chunks: Chunks, articles_here: int) -> int:
    with open(FULL_CORPUS, encoding="utf-8") as lines:
        articles_full = sum(1 for _ in lines)
    return round(len(chunks.ids) * articles_full / articles_here)


def shifted(meta: dict, copy: int, sources: list[str]) -> dict:
    meta = dict(meta)
    days = SHIFT_DAYS * copy * (1 if copy % 2 else -1)
    if meta.get("date"):
        day = date.fromisoformat(meta["date"]) + timedelta(days=days)
        meta["date"], meta["date_int"] = day.isoformat(), int(day.strftime("%Y%m%d"))
    if meta.get("source") in sources:
        meta["source"] = sources[(sources.index(meta["source"]) + copy) % len(sources)]
    return meta


def scaled(chunks: Chunks, size: int, seed: int = 0) -> Chunks:
    """`size` chunks: a sample of the real ones, or all of them plus perturbed copies."""
    rng = np.random.default_rng(seed)
    n = len(chunks.ids)
    if size <= n:
        pick = np.sort(rng.choice(n, size, replace=False))
        return Chunks(
            [chunks.ids[i] for i in pick],
            [chunks.documents[i] for i in pick],
            [chunks.metadatas[i] for i in pick],
            chunks.embeddings[pick],
        )
    sources = sorted({m.get("source") for m in chunks.metadatas if m.get("source")})
    out = Chunks(list(chunks.ids), list(chunks.documents), list(chunks.metadatas), [chunks.embeddings])
    copy = 0
    while len(out.ids) < size:
        copy += 1
        take = min(n, size - len(out.ids))
        noisy = chunks.embeddings[:take] + rng.normal(0, NOISE_SIGMA, (take, chunks.embeddings.shape[1]))
        out.embeddings.append((noisy / np.linalg.norm(noisy, axis=1, keepdims=True)).astype(np.float32))
        out.ids += [f"{cid}~copy{copy}" for cid in chunks.ids[:take]]
        out.documents += chunks.documents[:take]
        out.metadatas += [shifted(m, copy, sources) for m in chunks.metadatas[:take]]
    out.embeddings = np.concatenate(out.embeddings)
    return out


def build(data_dir: Path, chunks: Chunks) -> None:
    """A data dir holding these chunks in Chroma, and qa-bot's keyword index built from them."""
    if (data_dir / "built").exists():
        return
    shutil.rmtree(data_dir, ignore_errors=True)
    settings = settings_for(data_dir)
    collection = chroma_client(settings).create_collection(
        settings.collection,
        metadata={"hnsw:space": "cosine", "embedding": embedding_name(settings)},
        embedding_function=None,
    )
    for start in range(0, len(chunks.ids), ADD_BATCH):
        end = start + ADD_BATCH
        collection.add(
            ids=chunks.ids[start:end],
            embeddings=chunks.embeddings[start:end],
            documents=chunks.documents[start:end],
            metadatas=chunks.metadatas[start:end],
        )
    index = QABot(settings).index
    # The keyword index is built from the catalog's chunks: each chunk goes there as an article of its
    # own (its text, title, date and source; what search reads), already embedded.
    for start in range(0, len(chunks.ids), ADD_BATCH):
        rows = [
            (
                Article(
                    id=str(meta.get("article_id", cid)),
                    text=text,
                    title=meta.get("title"),
                    date=meta.get("date"),
                    source=meta.get("source"),
                    url=meta.get("url"),
                    path=meta.get("path"),
                    source_key=cid,
                ),
                f"bench-{cid}",
                [ChunkRow(cid, 0, 0, len(text))],
            )
            for cid, text, meta in zip(
                chunks.ids[start : start + ADD_BATCH],
                chunks.documents[start : start + ADD_BATCH],
                chunks.metadatas[start : start + ADD_BATCH],
                strict=True,
            )
        ]
        index.catalog.write_articles(rows)
        index.catalog.mark_embedded((article.source_key, fingerprint) for article, fingerprint, _ in rows)
    with index.ingest_lock.hold():
        index.keywords.refresh()
    (data_dir / "built").touch()


class WhereRetriever(HybridRetriever):
    """The dense search filtered inside Chroma by its metadata `where`: the route before issue 10."""

    def _dense(self, vector, k, filters, mask):
        if not filters.active:
            return self._nearest(vector, k)
        return self._nearest(vector, k, where=filters.chroma_where(mask))


def percentiles(seconds: list[float]) -> str:
    ms = np.asarray(seconds) * 1000
    return f"{np.percentile(ms, 50):.0f} / {np.percentile(ms, 95):.0f}"


def scenarios(question: dict) -> dict[str, dict]:
    as_of = date.fromisoformat(question["date"])
    return {
        "no filter": {},
        "as-of + recency (default)": {"as_of": as_of},
        f"as-of + source {SOURCE}": {"as_of": as_of, "sources": [SOURCE]},
        f"as-of + --since {NARROW_DAYS} days before": {
            "as_of": as_of,
            "since": as_of - timedelta(days=NARROW_DAYS),
        },
    }


def timed_retrieval(bot: QABot, questions: list[dict], name: str) -> list[float]:
    seconds = []
    for question in questions:
        started = time.perf_counter()
        bot.retrieve(question["question"], **scenarios(question)[name])
        seconds.append(time.perf_counter() - started)
    return seconds


def dense_step(retriever: HybridRetriever, bot: QABot, question: dict, name: str):
    """The inputs of the dense step for one question and scenario, as `search` makes them."""
    options = scenarios(question)[name]
    query = Query(question["question"], bot.settings.top_k, **options)
    since, until = date_bounds(query)
    vector = np.asarray(bot.index.embeddings.embed_query(query.text))
    mask = bot.index.keywords.mask(since=since, until=until, sources=query.sources)
    return vector, Filters(since, until, query.sources), mask


class Exact:
    """Brute-force filtered nearest neighbours over every chunk: what both routes approximate."""

    def __init__(self, chunks: Chunks) -> None:
        self.ids = chunks.ids
        self.vectors = chunks.embeddings / np.linalg.norm(chunks.embeddings, axis=1, keepdims=True)
        self.date_ints = np.array([int(m.get("date_int") or 0) for m in chunks.metadatas])
        self.sources = np.array([str(m.get("source") or "").lower() for m in chunks.metadatas])

    def nearest(self, vector: np.ndarray, k: int, filters: Filters) -> list[str]:
        allowed = np.ones(len(self.ids), dtype=bool)
        if filters.since is not None:
            allowed &= self.date_ints >= filters.since
        if filters.until is not None:
            allowed &= self.date_ints <= filters.until
        if filters.sources:
            allowed &= np.isin(self.sources, [s.lower() for s in filters.sources])
        similarity = np.where(allowed, self.vectors @ (vector / np.linalg.norm(vector)), -np.inf)
        best = np.argsort(-similarity, kind="stable")[:k]
        return [self.ids[i] for i in best if allowed[i]]


def recall(found: list[str], truth: list[str]) -> float:
    return len(set(found) & set(truth)) / len(truth) if truth else 1.0


def same_neighbours(bot: QABot, questions: list[dict], name: str, exact: Exact) -> tuple[float, ...]:
    """Of the dense step's fetch_k neighbours: the share of questions where qa-bot's and the `where`
    route's are the same ids in the same order, the mean recall of the `where` ids, and each route's
    mean recall of the exact (brute-force) neighbours."""
    where = WhereRetriever(bot.index, bot.settings)
    k = bot.settings.fetch_k
    identical, of_where, ours_exact, where_exact = 0, [], [], []
    for question in questions:
        vector, filters, mask = dense_step(bot.retriever, bot, question, name)
        ours = [cid for cid, _ in bot.retriever._dense(vector, k, filters, mask)]
        theirs = [cid for cid, _ in where._dense(vector, k, filters, mask)]
        truth = exact.nearest(vector, k, filters)
        identical += ours == theirs
        of_where.append(recall(ours, theirs))
        ours_exact.append(recall(ours, truth))
        where_exact.append(recall(theirs, truth))
    return (identical / len(questions), *(float(np.mean(r)) for r in (of_where, ours_exact, where_exact)))


def narrow_routes(bot: QABot, questions: list[dict]) -> dict[str, list[float]]:
    name = f"as-of + --since {NARROW_DAYS} days before"
    k = bot.settings.fetch_k
    retriever = bot.retriever
    routes = {
        "Chroma `where`": lambda v, f, m: retriever._nearest(v, k, where=f.chroma_where(m)),
        "allowed ids (`ids=`)": lambda v, f, m: retriever._nearest(v, k, ids=m.allowed_ids()),
        "qa-bot's choice": lambda v, f, m: retriever._dense(v, k, f, m),
    }
    seconds: dict[str, list[float]] = {route: [] for route in routes}
    for question in questions:
        vector, filters, mask = dense_step(retriever, bot, question, name)
        for route, run in routes.items():
            started = time.perf_counter()
            run(vector, filters, mask)
            seconds[route].append(time.perf_counter() - started)
    return seconds


def measure(data_dir: Path, questions: list[dict], where_questions: list[dict], exact: Exact) -> dict:
    bot = QABot(settings_for(data_dir))
    bot.retrieve("warm up: load the keyword index and the HNSW segment", as_of=date(2023, 1, 1))
    result = {"chunks": bot.index.chunk_count(), "rows": {}}
    for name in scenarios(questions[0]):
        ours = timed_retrieval(bot, questions, name)
        row = {"ours": percentiles(ours)}
        if name != "no filter":
            bot.retriever = WhereRetriever(bot.index, bot.settings)
            row["where"] = percentiles(timed_retrieval(bot, where_questions, name))
            bot.retriever = HybridRetriever(bot.index, bot.settings)
            row["same"] = same_neighbours(bot, where_questions, name, exact)
        result["rows"][name] = row
        print(f"  {name}: {row}", flush=True)
    result["narrow"] = {route: percentiles(s) for route, s in narrow_routes(bot, where_questions).items()}
    print(f"  narrow window, dense step: {result['narrow']}", flush=True)
    return result


def report(args, results: dict[int, dict], sizes_note: str, took: float) -> str:
    lines = [
        f"Command: `flock /tmp/qa-bench.lock .venv/bin/python benchmarks/bench_retrieval_scale.py "
        f"--sizes {args.sizes} --questions {args.questions} --where-questions {args.where_questions}` "
        f"({date.today()}, {took / 60:.0f} min)  ",
        f"Machine: {machine_description()}  ",
        f"Chunks: {sizes_note}. Latency of `QABot.retrieve` (question embedding, dense + BM25, fusion, "
        f"recency, relevance checks) in ms, p50 / p95, over the first {args.questions} dev questions; "
        f'the `where` column over the first {args.where_questions}. "same top-k": the dense search\'s '
        "30 neighbours on those questions: share of questions where qa-bot's and the `where` route's "
        "are identical in ids and order / mean recall of the `where` route's / recall of the exact "
        "(brute-force) filtered neighbours by qa-bot / by `where`.",
        "",
        "| chunks | search | qa-bot (ms) | Chroma `where` (ms) | same top-k: identical / recall of where / "
        "recall of exact, qa-bot / where |",
        "|---|---|---|---|---|",
    ]
    for size, result in results.items():
        for name, row in result["rows"].items():
            same = "{:.0%} / {:.3f} / {:.3f} / {:.3f}".format(*row["same"]) if "same" in row else "-"
            lines.append(f"| {size:,} | {name} | {row['ours']} | {row.get('where', '-')} | {same} |")
    lines += [
        "",
        f"A narrow window (since {NARROW_DAYS} days before the as-of date, which cuts it off 7 days "
        "after): the dense step alone by route, ms p50 / p95.",
        "",
        "| chunks | " + " | ".join(next(iter(results.values()))["narrow"]) + " |",
        "|---|" + "---|" * len(next(iter(results.values()))["narrow"]),
    ]
    for size, result in results.items():
        lines.append(f"| {size:,} | " + " | ".join(result["narrow"].values()) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--index", type=Path, default=ROOT / "eval-runs" / "dev-index")
    parser.add_argument("--sizes", default="25000,100000,full")
    parser.add_argument("--questions", type=int, default=100)
    parser.add_argument("--where-questions", type=int, default=15)
    parser.add_argument("--work", type=Path, default=Path("/tmp/qa-bench-retrieval-scale"))
    args = parser.parse_args()
    started = time.perf_counter()

    with open(QUESTIONS, encoding="utf-8") as lines:
        questions = [json.loads(line) for line in lines]
    source = QABot(settings_for(args.index)).index
    chunks = read_chunks(source.collection)
    full = full_corpus_size(chunks, source.catalog.stats().articles)
    del source
    sizes = [full if s == "full" else int(s) for s in args.sizes.split(",")]
    sizes_note = (
        f"the dev index's {len(chunks.ids):,} real chunks (sampled below that; perturbed copies "
        f"above it, see the script's docstring); full = {full:,}, the whole RealTime QA corpus"
    )
    print(sizes_note, flush=True)
    results = {}
    for size in sizes:
        data_dir = args.work / f"chunks-{size}"
        t0 = time.perf_counter()
        chunks_here = scaled(chunks, size)
        build(data_dir, chunks_here)
        print(f"{size} chunks ready in {time.perf_counter() - t0:.0f} s", flush=True)
        exact = Exact(chunks_here)
        asked, compared = questions[: args.questions], questions[: args.where_questions]
        results[size] = measure(data_dir, asked, compared, exact)
    body = report(args, results, sizes_note, time.perf_counter() - started)
    write_section("bench_retrieval_scale", "Retrieval at scale", body)
    print(body)


if __name__ == "__main__":
    main()
