"""Runs a module as if a package were not installed in this environment:

    python tests/first_run/without_package.py greenlet -m qa_bot.cli ingest seeds
    python tests/first_run/without_package.py greenlet scripts/check_imports.py

The package's import then fails as it does in a venv that lacks it (a ModuleNotFoundError), so that
whatever imports it takes the path a user's environment would.
"""

from __future__ import annotations

import runpy
import sys


class _Uninstalled:
    def __init__(self, package: str) -> None:
        self.package = package

    def find_spec(self, name, path=None, target=None):
        if name == self.package or name.startswith(f"{self.package}."):
            raise ModuleNotFoundError(f"No module named '{name}'", name=name)
        return None


def main() -> None:
    package, *rest = sys.argv[1:]
    sys.modules.pop(package, None)
    sys.meta_path.insert(0, _Uninstalled(package))
    if rest[0] == "-m":
        sys.argv = [rest[1], *rest[2:]]
        runpy.run_module(rest[1], run_name="__main__", alter_sys=True)
    else:
        sys.argv = rest
        runpy.run_path(rest[0], run_name="__main__")


if __name__ == "__main__":
    main()
