"""Fuzz the article loaders with thousands of malformed files, then ingest them as one folder.

    .venv/bin/python benchmarks/fuzz_loaders.py                  # 3,000 files, seed 1
    .venv/bin/python benchmarks/fuzz_loaders.py --count 600 --seed 7 --no-write

The files come from tests/fixtures/malformed_files.py (a seeded generator: .json, .jsonl, .html,
.txt front matter, .pdf, .docx, each broken one of ~20 ways). Each file is loaded alone, timed, and
checked: no exception escapes the loader, it is loaded or named as a failure, and what it loads
can be stored. Then the folder, with two good articles, goes through a real ingest (extractive answerer, the
packaged embedding model): it must finish and keep the good articles.
Figures go to docs/security.md (section "loader_fuzz"); the test suite runs a sample of 90
(tests/reliability/test_loader_fuzz.py).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.report import write_section  # noqa: E402
from qa_bot.ingest.articles import content_id  # noqa: E402
from qa_bot.service import QABot  # noqa: E402
from qa_bot.settings import Settings  # noqa: E402
from tests.fixtures.malformed_files import load_one, malformed_files, write_all  # noqa: E402

SECURITY_MD = ROOT / "docs" / "security.md"
GOOD = ["The Nairobi council opened a new market hall on Friday.", "Lagos opened a new port on Monday."]


def cpu_model() -> str:
    """The CPU as `lscpu` names it, with the core count."""
    try:
        lines = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        return "unknown CPU"
    fields = dict(line.split(":", 1) for line in lines if ":" in line)
    return f"{fields.get('Model name', '?').strip()}, {fields.get('CPU(s)', '?').strip()} CPUs"


def fuzz(seed: int, count: int, folder: Path) -> dict:
    files = write_all(folder, malformed_files(seed, count))
    outcomes = [load_one(folder / name) for name in files]
    for text in GOOD:
        (folder / f"good-{content_id(text)}.txt").write_text(text, encoding="utf-8")
    bot = QABot(Settings(_env_file=None, data_dir=folder.parent / "data", llm="extractive"))
    started = time.perf_counter()
    try:
        report = bot.ingest([folder])
        ingest = f"finished: {report.added} added, {len(report.failed)} failed"
        kept = all(bot.index.catalog.get(content_id(text)) is not None for text in GOOD)
    except Exception as exc:  # what the benchmark is looking for: report it with the rest
        ingest, kept = f"ABORTED: {type(exc).__name__}: {str(exc)[:120]}", False
    return {
        "files": files,
        "outcomes": outcomes,
        "ingest": ingest,
        "ingest_seconds": time.perf_counter() - started,
        "good_kept": kept,
    }


def section(seed: int, count: int, result: dict) -> str:
    files, outcomes = result["files"], result["outcomes"]
    by_format = Counter(name.rsplit(".", 1)[1] for name in files)
    kinds = Counter(
        f"{name.rsplit('.', 1)[1]}: {file.how.split(' at byte')[0]}" for name, file in files.items()
    )
    broken = [o for o in outcomes if o.broken]
    slowest = sorted(outcomes, key=lambda o: -o.seconds)[:5]
    lines = [
        f"`.venv/bin/python benchmarks/fuzz_loaders.py --seed {seed} --count {count}`, "
        f"{date.today():%Y-%m-%d}, {cpu_model()} (`lscpu`).",
        "",
        "| measure | value |",
        "| --- | --- |",
        f"| malformed files | {len(files)} ({', '.join(f'{n} .{s}' for s, n in sorted(by_format.items()))})"
        " |",
        f"| an exception escaped the loader, nothing reported, or an unstorable article | {len(broken)} |",
        f"| files named as failed (at least one reason) | {sum(o.failures > 0 for o in outcomes)} |",
        f"| files that loaded at least one article | {sum(o.articles > 0 for o in outcomes)} |",
        f"| slowest file | {slowest[0].seconds:.2f} s ({files[slowest[0].name].how}) |",
        f"| all files, loaded one by one | {sum(o.seconds for o in outcomes):.1f} s |",
        f"| the whole folder ingested (with 2 good articles) | {result['ingest']}, "
        f"{result['ingest_seconds']:.0f} s; good articles kept: {'yes' if result['good_kept'] else 'NO'} |",
        "",
        "Slowest five: " + "; ".join(f"{files[o.name].how} {o.seconds:.2f} s" for o in slowest) + ".",
        "",
        "Mutations tried (files): " + "; ".join(f"{kind} {n}" for kind, n in sorted(kinds.items())) + ".",
    ]
    lines += [f"- BROKEN {o.name} ({files[o.name].how}): {o.broken}" for o in broken[:20]]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/security.md alone")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fuzz-loaders-") as scratch:
        result = fuzz(args.seed, args.count, Path(scratch) / "files")
    body = section(args.seed, args.count, result)
    print(body)
    if not args.no_write:
        write_section("loader_fuzz", "The loaders against malformed files", body, document=SECURITY_MD)


if __name__ == "__main__":
    main()
