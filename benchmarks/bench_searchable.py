"""How soon a big archive is searchable: `qa-bot ingest` of the whole RealTime QA dev corpus.

    flock /tmp/qa-bench.lock .venv/bin/python benchmarks/bench_searchable.py [--embed-seconds 300]
        [--server BASE_URL MODEL]

Starts a real `qa-bot ingest CORPUS` (a fresh data dir under --work) and watches it from outside, as
a user would: every second it reads the catalog's figures and the keyword index's stamp (what
`qa-bot status` reads) and the ingest process's resident memory (/proc/PID/status). It notes when
every article is searchable by keyword (the keyword index is built from the catalog, and stamped with
its version), asks one question of the dev set with `qa-bot ask --json` (which must carry the "still
being indexed" notice), lets the embedding run for --embed-seconds more, takes `qa-bot status`'s own
"N of M articles searchable by meaning" line, then stops the ingest (SIGINT) and reports the
embedding rate, the ETA for the rest, and the peak RSS. The stopped ingest resumes when run again.
`--embed-seconds 0` lets the ingest finish instead, and reports when every article was searchable
by meaning. `--server` runs it with QA_BOT_EMBEDDING=openai-compatible against that /v1/embeddings
server (docs/deployment.md). Results go to docs/performance.md (section "bench_searchable", or
"bench_searchable_server" with --server). Run by hand, never in CI.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.report import machine_description, write_section  # noqa: E402
from qa_bot.index.store import Index, clock  # noqa: E402
from qa_bot.settings import Settings  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "realtimeqa"
POLL_S = 1.0


def peak_rss_mb(pid: int) -> float | None:
    """The process's peak resident set (VmHWM), in MB; None once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time the process has used (/proc/PID/stat), None once it is gone: on shared
    cores, what the wall time would be with a core to itself."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


SERVER_ENV: dict[str, str] = {}  # the embedding-server settings, with --server


def env_for(data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "QA_BOT_DATA_DIR": str(data_dir),
        "QA_BOT_LLM": "extractive",
        "COLUMNS": "300",
        **SERVER_ENV,
    }


def qa_bot(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "qa_bot.cli", *args],
        env=env_for(data_dir),
        cwd=data_dir.parent,
        capture_output=True,
        text=True,
        check=False,
    )


def first_question(qa_file: Path) -> dict:
    with qa_file.open() as lines:
        return json.loads(next(lines))


def corpus_of(corpus: Path, limit: int | None, work: Path) -> tuple[Path, int]:
    """The corpus file (its first `limit` records, for a quick trial) and how many records it holds."""
    with corpus.open() as lines:
        records = [line for _, line in zip(range(limit), lines, strict=False)] if limit else lines.readlines()
    if limit:
        corpus = work / f"corpus-{limit}.jsonl"
        corpus.write_text("".join(records))
    return corpus, len(records)


def question_line(asked: dict | None) -> str:
    if not asked:
        return "No question was asked: the archive never became searchable by keyword."
    notice = f'"{asked["notice"]}"' if asked["notice"] else "none"
    return (
        f'The question, asked while the archive was still being embedded: "{asked["question"]}" '
        f'(expected {asked["expected"]}); answered "{asked["answer"]}", with the notice {notice}.'
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", type=Path, default=DATA / "corpus.jsonl")
    parser.add_argument("--questions", type=Path, default=DATA / "qa.jsonl")
    parser.add_argument("--limit", type=int, default=None, help="only the first N articles (a trial)")
    parser.add_argument("--embed-seconds", type=float, default=300.0)
    parser.add_argument("--work", type=Path, default=Path("/tmp/qa-bench-searchable"))
    parser.add_argument("--no-write", action="store_true", help="print, do not write docs/performance.md")
    parser.add_argument("--server", nargs=2, metavar=("BASE_URL", "MODEL"), help="embed through this server")
    args = parser.parse_args()
    if args.server:
        SERVER_ENV.update(
            QA_BOT_EMBEDDING="openai-compatible",
            QA_BOT_EMBEDDING_BASE_URL=args.server[0],
            QA_BOT_EMBEDDING_MODEL=args.server[1],
        )

    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    data_dir = args.work / "data"
    corpus, expected = corpus_of(args.corpus, args.limit, args.work)
    index = Index(Settings(_env_file=None, data_dir=data_dir, llm="extractive"))
    started_at = datetime.now().astimezone()
    started = time.monotonic()
    with (args.work / "ingest.log").open("w") as log:
        ingest = subprocess.Popen(
            [sys.executable, "-m", "qa_bot.cli", "ingest", str(corpus)],
            env=env_for(data_dir),
            cwd=args.work,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    peak = 0.0
    searchable_s = None
    searchable_cpu = None
    samples: list[tuple[float, int, int]] = []  # (seconds, embedded articles, chunks still to embed)
    stats = None
    asked = None
    while ingest.poll() is None:
        time.sleep(POLL_S)
        peak = max(peak, peak_rss_mb(ingest.pid) or 0.0)
        now = time.monotonic() - started
        stats = index.stats()
        keyword_ready = stats.chunks > 0 and stats.consistency.keyword_index_current
        if searchable_s is None:
            # During the keyword pass every catalog transaction moves the corpus version past the
            # keyword index's stamp: current (with chunks) means the pass is over and the index built.
            if keyword_ready:
                searchable_s, searchable_cpu = now, cpu_seconds(ingest.pid)
                print(
                    f"searchable by keyword after {now:.0f} s: "
                    f"{stats.articles} articles, {stats.chunks} chunks"
                )
                question = first_question(args.questions)
                ask_started = time.monotonic()
                result = qa_bot(
                    data_dir, "ask", "--json", question["question"], "--as-of", question["question_date"]
                )
                answer = json.loads(result.stdout) if result.returncode == 0 else {}
                asked = {
                    "question": question["question"],
                    "seconds": time.monotonic() - ask_started,
                    "rc": result.returncode,
                    "answer": answer.get("answer", result.stderr[-300:]),
                    "notice": answer.get("indexing_notice"),
                    "expected": question.get("answer"),
                }
                print(json.dumps(asked, indent=1))
            continue
        samples.append((now, stats.embedded, stats.chunks_to_embed))
        if args.embed_seconds and now - searchable_s >= args.embed_seconds:
            break
    ingest_seconds = time.monotonic() - started
    status_line = qa_bot(data_dir, "status").stdout  # COLUMNS (env_for): one row per line
    meaning = next((line for line in status_line.splitlines() if "searchable by meaning" in line), "")
    finished = ingest.poll() is not None
    if not finished:
        peak = max(peak, peak_rss_mb(ingest.pid) or 0.0)
        ingest.send_signal(signal.SIGINT)
        ingest.wait(timeout=120)
    stats = index.stats()
    first, last = samples[0], samples[-1]
    window = last[0] - first[0]
    chunk_rate = (first[2] - last[2]) / window if window > 0 else 0.0
    article_rate = (last[1] - first[1]) / window if window > 0 else 0.0
    eta = stats.chunks_to_embed / chunk_rate if chunk_rate else None
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    cpu = next(
        (line.split(":", 1)[1].strip() for line in lscpu.splitlines() if line.startswith("Model name")), "?"
    )
    command = (
        "flock /tmp/qa-bench.lock .venv/bin/python benchmarks/bench_searchable.py"
        + (f" --limit {args.limit}" if args.limit else "")
        + f" --embed-seconds {args.embed_seconds:.0f}"
        + (f" --server {args.server[0]} {args.server[1]}" if args.server else "")
    )
    rows = [
        ("articles in the corpus / catalogued", f"{expected:,} / {stats.articles:,}"),
        ("chunks (keyword-searchable)", f"{stats.chunks:,}"),
        (
            "searchable by keyword after",
            f"{searchable_s:.0f} s" if searchable_s is not None else "not reached",
        ),
        (
            "CPU time the ingest process had used by then",
            f"{searchable_cpu:.0f} s" if searchable_cpu else "-",
        ),
        (
            "a question asked then (`qa-bot ask --json`)",
            f"{asked['seconds']:.1f} s, notice: {'yes' if asked and asked['notice'] else 'no'}"
            if asked
            else "-",
        ),
        (
            "embedding rate (after the keyword pass)",
            f"{chunk_rate:.1f} chunks/s, {article_rate * 60:.1f} articles/min over {window:.0f} s",
        ),
        ("searchable by meaning when stopped", f"{stats.embedded:,} of {stats.articles:,} articles"),
        ("ETA for the rest at that rate", clock(eta) if eta else "-"),
        (
            "every article searchable by meaning after",
            f"{clock(ingest_seconds)} (the ingest's exit code {ingest.returncode})"
            if finished
            else "not yet",
        ),
        ("peak RSS of the ingest process", f"{peak:,.0f} MB"),
    ]
    body = "\n".join(
        [
            f"Command: `{command}` (`date` at the start: {started_at:%a %b %d %H:%M:%S %Z %Y})  ",
            f"Machine: {machine_description()}; `lscpu`: {cpu}; 1-minute load average at the end "
            f"{os.getloadavg()[0]:.1f}.  ",
            f"Corpus: `{args.corpus.name}`{f' (first {args.limit:,} records)' if args.limit else ''}, "
            "a fresh data dir, "
            + (
                f"embedding through the server `{args.server[1]}` at {args.server[0]}"
                if args.server
                else "the packaged int8 MiniLM"
            )
            + ", `QA_BOT_LLM=extractive`.",
            "",
            "| measure | value |",
            "|---|---|",
            *(f"| {label} | {value} |" for label, value in rows),
            "",
            f"`qa-bot status` while it embedded: `{' '.join(meaning.replace('│', ' ').split())}`",
            "",
            question_line(asked),
        ]
    )
    print(body)
    if not args.no_write:
        if args.server:
            write_section("bench_searchable_server", "A big archive through an embedding server", body)
        else:
            write_section("bench_searchable", "A big archive searchable at once", body)


if __name__ == "__main__":
    main()
