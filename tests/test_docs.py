"""The docs against the code: every setting is in .env.example, every command is named, every link leads
somewhere. Pure file reading, no network.

Each check is a function over text, so the tests at the bottom can show it failing on a broken input:
a check that cannot fail would keep the docs honest in name only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from urllib.parse import unquote

import typer

from tests.fixtures.paths import REPO
from tests.fixtures.settings import settings_env_names

README = REPO / "README.md"
DOCS = REPO / "docs"
ENV_EXAMPLE = REPO / ".env.example"


def doc_files() -> list[Path]:
    return [README, *sorted(DOCS.rglob("*.md"))]


# --- settings ------------------------------------------------------------------------------------

# `NAME=value`, commented out or not: .env.example shows the optional settings commented.
_ASSIGNMENT = re.compile(r"^[ \t]*#?[ \t]*([A-Z][A-Z0-9_]*)=", re.MULTILINE)


def example_names(env_text: str) -> set[str]:
    return set(_ASSIGNMENT.findall(env_text))


def undocumented_settings(read: Iterable[str], env_text: str) -> set[str]:
    """The settings the app reads that .env.example does not show as `NAME=`."""
    return set(read) - example_names(env_text)


# --- commands ------------------------------------------------------------------------------------


def cli_commands(group, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every command a user can type, sub-commands as ("users", "add"). A group is whatever has
    `commands`: typer builds its groups on a click of its own, not on the `click` package's Group."""
    for name, command in sorted(group.commands.items()):
        if getattr(command, "hidden", False):
            continue
        path = (*prefix, name)
        if getattr(command, "commands", None) is not None:
            yield from cli_commands(command, path)
        else:
            yield path


def unnamed_commands(app: typer.Typer, docs_text: str) -> list[str]:
    """The commands that no doc names as `qa-bot <command>` (`qa-bot review` is not `review-stats`)."""
    missing = []
    for words in cli_commands(typer.main.get_command(app)):
        named = re.compile(r"qa-bot\s+" + r"\s+".join(map(re.escape, words)) + r"(?![\w-])")
        if not named.search(docs_text):
            missing.append(" ".join(words))
    return missing


# --- links ---------------------------------------------------------------------------------------

_FENCE = re.compile(r"^[ \t]*(```|~~~)")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1")
_INLINE_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE_LINK = re.compile(r"^[ \t]{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)")
_HEADING = re.compile(r"^[ \t]{0,3}(#{1,6})[ \t]+(.*?)[ \t]*#*[ \t]*$")
_HTML_ANCHOR = re.compile(r"""<a\s[^>]*(?:id|name)=["']([^"']+)["']""")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def prose_lines(text: str) -> Iterator[str]:
    """The lines of a Markdown text outside fenced and indented code blocks and HTML comments."""
    text = re.sub(r"<!--.*?-->", "", text, flags=re.DOTALL)
    in_fence = False
    previous_blank = True
    in_indented = False
    for line in text.splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        blank = not line.strip()
        # An indented block starts after a blank line and runs until a line that is not indented.
        in_indented = (line.startswith(("    ", "\t")) and (previous_blank or in_indented)) or (
            blank and in_indented
        )
        if not in_indented and not blank:
            yield line
        previous_blank = blank


def heading_slug(heading: str) -> str:
    """GitHub's anchor for a heading: its text lower-cased, punctuation dropped, spaces as hyphens."""
    text = _CODE_SPAN.sub(lambda m: m.group(2), heading)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """The anchors a Markdown file offers: its headings' slugs (repeats get -1, -2, …) and HTML ids."""
    found: set[str] = set()
    seen: dict[str, int] = {}
    for line in prose_lines(path.read_text(encoding="utf-8")):
        if match := _HEADING.match(line):
            slug = heading_slug(match.group(2))
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            found.add(slug if count == 0 else f"{slug}-{count}")
        found.update(_HTML_ANCHOR.findall(line))
    return found


def link_targets(text: str) -> Iterator[str]:
    for line in prose_lines(text):
        line = _CODE_SPAN.sub("", line)  # `[x](y)` in code is an example, not a link
        yield from _INLINE_LINK.findall(line)
        yield from _REFERENCE_LINK.findall(line)


def _shown(path: Path) -> str:
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else path.name


def broken_links(files: Iterable[Path]) -> list[str]:
    """Each relative link that leads to no file, or to no heading of the Markdown file it names."""
    broken = []
    for source in files:
        for target in link_targets(source.read_text(encoding="utf-8")):
            if _SCHEME.match(target):  # https:, mailto: — not this repository's to check
                continue
            path_part, _, anchor = target.partition("#")
            path = (source.parent / unquote(path_part)).resolve() if path_part else source
            where = f"{_shown(source)}: ({target})"
            if not path.exists():
                broken.append(f"{where} no such file")
            elif anchor and path.suffix == ".md" and unquote(anchor).lower() not in anchors(path):
                broken.append(f"{where} no heading #{anchor} in {path.name}")
    return broken


# --- the docs of this repository ------------------------------------------------------------------


def test_every_setting_the_app_reads_is_in_env_example():
    missing = undocumented_settings(settings_env_names(), ENV_EXAMPLE.read_text(encoding="utf-8"))
    assert not missing, f".env.example does not show these settings as NAME=...: {sorted(missing)}"


def test_env_example_shows_no_setting_the_app_does_not_read():
    unknown = example_names(ENV_EXAMPLE.read_text(encoding="utf-8")) - settings_env_names()
    assert not unknown, f".env.example shows settings Settings does not read: {sorted(unknown)}"


def test_every_command_is_named_in_the_readme_or_a_doc():
    from qa_bot.cli import app

    text = "\n".join(path.read_text(encoding="utf-8") for path in doc_files())
    missing = unnamed_commands(app, text)
    assert not missing, f"named in neither README.md nor docs/ as `qa-bot <command>`: {missing}"


def test_every_relative_link_in_the_docs_resolves():
    broken = broken_links(doc_files())
    assert not broken, "broken links:\n" + "\n".join(broken)


# --- each check fails on a broken input ------------------------------------------------------------


def test_a_setting_only_mentioned_in_prose_counts_as_missing():
    env_text = "# QA_BOT_TOP_K=6\nQA_BOT_LLM=local\n# QA_BOT_MODEL is the model's name\n"
    read = {"QA_BOT_TOP_K", "QA_BOT_LLM", "QA_BOT_MODEL"}
    assert undocumented_settings(read, env_text) == {"QA_BOT_MODEL"}


def test_a_command_no_doc_names_is_reported_sub_commands_included():
    app = typer.Typer()
    users = typer.Typer()
    app.add_typer(users, name="users")

    @app.command(name="review-stats")
    def review_stats() -> None: ...

    @app.command(name="review")
    def review() -> None: ...

    @users.command("add")
    def add() -> None: ...

    @users.command("list")
    def list_users() -> None: ...

    docs = "Run `qa-bot review-stats`, then `qa-bot users\nadd alice`; `qa-bot users` alone lists nothing."
    assert unnamed_commands(app, docs) == ["review", "users list"]


def test_a_broken_link_or_anchor_is_reported(tmp_path):
    (tmp_path / "guide").mkdir()
    (tmp_path / "guide" / "setup.md").write_text("# Setup\n\n## Serving beyond 127.0.0.1: a login\n")
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n\n"
        "[fine](guide/setup.md#serving-beyond-127001-a-login) and [here](#page), [web](https://example.org/x)\n"
        "[gone](guide/missing.md) and [wrong anchor](guide/setup.md#no-such-heading)\n"
        "[self](#nowhere)\n\n"
        "    [in a code block](not-checked.md)\n\n"
        "`[in a code span](not-checked.md)`\n"
    )
    broken = broken_links([page])
    assert len(broken) == 3, broken
    assert "(guide/missing.md) no such file" in broken[0]
    assert "no heading #no-such-heading in setup.md" in broken[1]
    assert "no heading #nowhere in page.md" in broken[2]


def test_heading_anchors_follow_github():
    assert heading_slug("Re-checking saved answers: `--rescore --reverify`") == (
        "re-checking-saved-answers---rescore---reverify"
    )
    assert heading_slug("The CI gate's figures, 2026-11-30") == "the-ci-gates-figures-2026-11-30"
    assert heading_slug("`qa-bot status` at full-corpus size") == "qa-bot-status-at-full-corpus-size"
