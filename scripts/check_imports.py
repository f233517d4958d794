"""Imports everything qa-bot and its chat UI import, wherever the import statement hides.

    .venv/bin/python scripts/check_imports.py

Run in the venv that `bash scripts/setup.sh` makes (no dev extras): a package that only the dev
extras bring, and that some import needs, fails here instead of in a user's first ingest. The walk
reads every module of `qa_bot` and `ui` where this Python imports them from (the checkout in an
editable install, site-packages for a wheel) and imports what each one imports, the imports inside
functions included (many are lazy, to keep the CLI fast); it also checks that each package the
base install declares (and the `local` extra: the embedded model) is installed, which covers
modules loaded by name at run time (pypdf, python-docx, the model's parts).

Exit code 0: all imported; 1: each failure is listed, with the package to install.
"""

from __future__ import annotations

import ast
import importlib
import sys
from importlib import metadata
from importlib.resources import files
from pathlib import Path

from qa_bot.missing_package import missing_package

PACKAGES = ("qa_bot", "ui")
# The extras the README's first command installs (`bash scripts/setup.sh`).
BASE_EXTRAS = {"local"}


def installed_folder(package: str) -> Path:
    """The folder `package` is imported from, so that a wheel's own files are the ones checked."""
    return Path(str(files(package)))


def module_name(path: Path, base: Path) -> str:
    parts = path.relative_to(base).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_script(tree: ast.Module) -> bool:
    """A Streamlit page (`main()` at the bottom) runs when imported: its imports are walked instead."""
    return any(isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) for node in tree.body)


def imported_modules(tree: ast.Module, module: str, is_package: bool) -> set[str]:
    """Every module `tree` imports, at any depth, but for `if TYPE_CHECKING:` blocks (never run)."""
    found: set[str] = set()
    for node in _runtime_nodes(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, module, is_package)
            found.add(base)
            # `from package import name` may name a submodule: tried as one, see import_target.
            found.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    return found


def _runtime_nodes(tree: ast.AST):
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from (n for child in node.orelse for n in [child, *_runtime_nodes(child)])
            continue
        yield node
        yield from _runtime_nodes(node)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    parts = module.split(".")
    base = parts if is_package else parts[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def import_target(name: str) -> BaseException | None:
    """Imports `name`; a `package.attribute` that is not a module counts as imported when its
    package is (the attribute itself is checked by the package's own import)."""
    try:
        importlib.import_module(name)
        return None
    except ModuleNotFoundError as exc:
        parent = name.rpartition(".")[0]
        if parent and exc.name == name:
            return import_target(parent)
        return exc
    except Exception as exc:  # an ImportError in words (greenlet), or a failure at import time
        return exc


def declared_distributions() -> list[str]:
    """The packages qa-bot's metadata requires for the base install and its BASE_EXTRAS."""
    from packaging.requirements import Requirement

    wanted = []
    for line in metadata.requires("qa-bot") or []:
        requirement = Requirement(line)
        marker = requirement.marker
        if marker is None or any(marker.evaluate({"extra": extra}) for extra in BASE_EXTRAS):
            wanted.append(requirement.name)
    return wanted


def main() -> int:
    failures: list[str] = []
    targets: dict[str, str] = {}  # module -> the file that first imports it
    for package in PACKAGES:
        base = installed_folder(package).parent
        for path in sorted((base / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            module = module_name(path, base)
            shown = str(path.relative_to(base))
            if not is_script(tree):
                targets.setdefault(module, shown)
            for name in imported_modules(tree, module, path.name == "__init__.py"):
                targets.setdefault(name, shown)
    for name, where in sorted(targets.items()):
        error = import_target(name)
        if error is not None:
            failures.append(_describe(name, where, error))
    for distribution in declared_distributions():
        try:
            metadata.distribution(distribution)
        except metadata.PackageNotFoundError:
            failures.append(f"{distribution}: declared by pyproject.toml, not installed")
    for failure in failures:
        print(f"FAILED {failure}", file=sys.stderr)
    print(f"{len(targets)} modules imported, {len(failures)} failed ({sys.prefix})")
    return 1 if failures else 0


def _describe(name: str, where: str, error: BaseException) -> str:
    missing = missing_package(error)
    what = f"needs {missing.package}: pip install '{missing.requirement}'" if missing else repr(error)
    return f"import {name} (in {where}) {what}"


if __name__ == "__main__":
    sys.exit(main())
