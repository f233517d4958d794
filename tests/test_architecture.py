"""The layout is the pipeline: a stage imports only earlier stages, and no modules import each other.

Read from the source with `ast` (imports inside functions count: they run too), so a newcomer can
trust the folder order in qa_bot/__init__.py: ingest -> index -> answering -> team -> evaluation ->
service -> cli -> ui, over a shared base (settings, redaction, text, database, ...).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.fixtures.paths import REPO

# Lower rank = earlier. A module may import modules of its own rank or lower, never higher.
STAGES = [
    (
        "base",
        [
            "qa_bot",  # the package's __init__ only: every module must be placed by name
            "qa_bot.settings",
            "qa_bot.redaction",
            "qa_bot.text",
            "qa_bot.now",
            "qa_bot.records",
            "qa_bot.terminal",
            "qa_bot.missing_package",
            "qa_bot.database",
        ],
    ),
    ("ingest", ["qa_bot.ingest"]),
    ("index", ["qa_bot.index"]),
    ("answering", ["qa_bot.answering"]),
    ("team", ["qa_bot.team"]),
    ("evaluation", ["qa_bot.evaluation"]),
    ("service", ["qa_bot.service"]),
    ("cli", ["qa_bot.cli"]),
    ("ui", ["ui"]),
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_modules() -> dict[str, Path]:
    files = [*(REPO / "qa_bot").rglob("*.py"), *(REPO / "ui").rglob("*.py")]
    return {module_name(path): path for path in files}


def imported_modules(path: Path, known: set[str]) -> set[str]:
    """The qa_bot/ui modules a file imports, anywhere in it: `from a.b import c` is a.b.c when c is a
    module, else a.b."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in known)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                if candidate in known:
                    found.add(candidate)
                elif node.module in known:
                    found.add(node.module)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = package_modules()
    known = set(modules)
    return {name: imported_modules(path, known) - {name} for name, path in modules.items()}


def stage_of(module: str) -> tuple[int, str]:
    """The stage a module belongs to: the longest prefix named in STAGES."""
    best = None
    for rank, (stage, prefixes) in enumerate(STAGES):
        for prefix in prefixes:
            within = module == prefix or (prefix != "qa_bot" and module.startswith(prefix + "."))
            if within and (best is None or len(prefix) > best[2]):
                best = (rank, stage, len(prefix))
    assert best is not None, f"{module} belongs to no stage: add it to STAGES"
    return best[0], best[1]


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every group of modules that import each other, directly or round a loop (Tarjan's SCC)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_every_module_belongs_to_a_stage():
    for module in import_graph():
        stage_of(module)


def test_no_stage_imports_a_later_stage():
    upward = [
        f"{module} ({stage_of(module)[1]}) imports {target} ({stage_of(target)[1]})"
        for module, targets in sorted(import_graph().items())
        for target in sorted(targets)
        if stage_of(target)[0] > stage_of(module)[0]
    ]
    assert upward == []


def test_no_import_circle():
    assert circles(import_graph()) == []


def test_the_checks_see_a_circle_and_an_upward_import():
    # The checks above pass on today's code; this shows they would fail on the two faults they guard.
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert stage_of("qa_bot.index.search")[0] > stage_of("qa_bot.ingest.articles")[0]
    with pytest.raises(AssertionError, match="belongs to no stage"):
        stage_of("qa_bot.somewhere_new")
    graph = import_graph()
    assert "qa_bot.index.search" in graph["qa_bot.answering.evidence"]  # lazy and top-level imports seen
    assert "qa_bot.index.onnx_minilm" in graph["qa_bot.index.embeddings"]  # an import inside a function
