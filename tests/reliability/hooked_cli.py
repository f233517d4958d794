"""`qa-bot`, with one function of the ingest patched to kill the process (kill -9) or to pause it at a
named point. Test-only: production code has no hooks; this wrapper monkeypatches it, then runs the CLI.

    python -m tests.reliability.hooked_cli kill  POINT          ingest FOLDER...
    python -m tests.reliability.hooked_cli pause POINT HANDSHAKE ingest FOLDER...

`pause` creates HANDSHAKE/paused on reaching the point, then waits until HANDSHAKE/resume exists.
"""

from __future__ import annotations

import functools
import os
import signal
import sys
import time
from pathlib import Path

from chromadb.api.models.Collection import Collection

from qa_bot.index.catalog import Catalog
from qa_bot.index.keyword_index import KeywordIndex

# Where an ingest can die, in the order it passes them: (class, method, "before" or "after" the call).
POINTS = {
    # The keyword pass: articles and chunks into the catalog, then the keyword index.
    "catalog_rows_written": (Catalog, "write_articles", "after"),  # the first 32 articles, no keyword index
    "catalog_complete": (KeywordIndex, "rebuild", "before"),  # every article catalogued, no keyword index
    "keyword_build_written": (KeywordIndex, "_point_at", "before"),  # new build folder, not swapped in
    # The embedding pass, behind it: everything is searchable by keyword from here on.
    "first_chunks_stored": (Collection, "upsert", "after"),  # a batch's vectors in Chroma, not marked
    "first_articles_embedded": (Catalog, "mark_embedded", "after"),  # a batch marked, the rest not
    "pruned_chunks_deleted": (Catalog, "delete", "before"),  # --prune: chunks gone, catalog rows not
}


def kill_self() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def pause(handshake: Path) -> None:
    (handshake / "paused").touch()
    while not (handshake / "resume").exists():
        time.sleep(0.05)


def patch(point: str, action) -> None:
    owner, name, when = POINTS[point]
    original = getattr(owner, name)

    @functools.wraps(original)
    def hooked(*args, **kwargs):
        if when == "before":
            action()
        result = original(*args, **kwargs)
        if when == "after":
            action()
        return result

    setattr(owner, name, hooked)


def main(argv: list[str]) -> None:
    mode, point, *rest = argv
    if mode == "kill":
        patch(point, kill_self)
    else:
        handshake, *rest = rest
        patch(point, functools.partial(pause, Path(handshake)))
    from qa_bot.cli import app

    app(rest, prog_name="qa-bot")


if __name__ == "__main__":
    main(sys.argv[1:])
