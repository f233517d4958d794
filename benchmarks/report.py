"""Shared by the benchmarks: describe the machine, and rewrite one section of docs/performance.md."""

from __future__ import annotations

import os
import platform
import re
from pathlib import Path

PERFORMANCE_MD = Path(__file__).resolve().parent.parent / "docs" / "performance.md"


def machine_description() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{os.cpu_count()} cores ({cpu}), {memory_gb:.0f} GiB RAM, {platform.system()} {platform.machine()}"
    )


def write_section(key: str, title: str, body: str, document: Path = PERFORMANCE_MD) -> None:
    """Replace (or append) the section between <!-- key --> markers, leaving the others alone."""
    start, end = f"<!-- {key} -->", f"<!-- /{key} -->"
    section = f"{start}\n## {title}\n\n{body.strip()}\n{end}"
    text = document.read_text() if document.exists() else f"# {document.stem.title()}\n"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    text = (
        pattern.sub(lambda _: section, text)
        if pattern.search(text)
        else text.rstrip() + "\n\n" + section + "\n"
    )
    document.parent.mkdir(parents=True, exist_ok=True)
    document.write_text(text)
