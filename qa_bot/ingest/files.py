"""Which files an ingest reads: folders walked in order, links checked, anything but a file skipped.

Kept apart from `qa_bot.ingest.articles`, which turns one file into articles; here the question is only which
files to open, and what to tell the user about the ones left alone. The rules:

- A folder is read recursively in sorted order (a folder's files before its subfolders), leaving
  out hidden entries (names starting with `.`, such as `.git`).
- Only regular files are read. A named pipe (FIFO), socket or device is skipped with a reason:
  opening a FIFO would wait for a writer for ever.
- A link whose target lies inside the paths being ingested is read under the target's own path,
  once. A link that leads out of them is skipped with a reason unless `follow_links` is set; then
  it is read under the link's path, so that it belongs to the folder (and `--prune` of the folder
  can remove it). A link into a folder that contains it (a loop), a broken link and a link loop
  are skipped with a reason, never followed.
- A file of a type no loader reads is skipped with a reason, so that a `.doc` or `.png` in a
  folder does not vanish without a word.

What is named explicitly (a path given by the user) is treated more strictly: a missing path, a
pipe or a broken link there is a failure, as the user asked for that very thing.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class FileToRead:
    path: Path  # where it is read from and what its articles are known by
    real: Path  # the file itself, links resolved: the same file is read once per ingest
    named_explicitly: bool


@dataclass(frozen=True)
class FileSkipped:
    """Left alone on purpose (another type, a link out of the folder, a pipe): not a failure."""

    path: str
    reason: str


@dataclass(frozen=True)
class FileUnusable:
    """A path that was meant to be read and cannot be: a failure."""

    path: str
    reason: str


Found = FileToRead | FileSkipped | FileUnusable


@dataclass(frozen=True)
class _Subfolder:
    path: Path
    real: Path


def find_files(
    paths: Iterable[str | Path], suffixes: Collection[str], *, follow_links: bool
) -> Iterator[Found]:
    """Every file to read under `paths` (each once), and what was skipped or unusable, in order.

    `suffixes` are the file types that can be read (lower case, with the dot).
    """
    given = [Path(p).expanduser() for p in ([paths] if isinstance(paths, str | Path) else paths)]
    roots = tuple(Path(os.path.realpath(p)) for p in given)
    read: set[Path] = set()
    for path in given:
        for found in _found_under(path, roots, suffixes, follow_links):
            if isinstance(found, FileToRead):
                if found.real in read:
                    continue
                read.add(found.real)
            yield found


def _found_under(
    path: Path, roots: tuple[Path, ...], suffixes: Collection[str], follow_links: bool
) -> Iterator[Found]:
    status = _stat(path)
    if isinstance(status, str):
        yield FileUnusable(str(path), f"{status}; check the path")
        return
    real = Path(os.path.realpath(path))
    if stat.S_ISDIR(status.st_mode):
        found_a_file = False
        for found in _walk(real, roots, suffixes, follow_links):
            found_a_file = found_a_file or isinstance(found, FileToRead)
            yield found
        if not found_a_file:
            yield FileUnusable(
                str(real), f"folder has no article files; supported types: {', '.join(sorted(suffixes))}"
            )
    elif stat.S_ISREG(status.st_mode):
        yield FileToRead(real, real, named_explicitly=True)
    else:
        yield FileUnusable(
            str(path),
            f"{special_kind(status.st_mode)}, not a regular file or folder; give a file or a folder",
        )


def _walk(
    top: Path, roots: tuple[Path, ...], suffixes: Collection[str], follow_links: bool
) -> Iterator[Found]:
    # An explicit stack rather than recursion: a deep tree cannot hit Python's recursion limit.
    stack: list[tuple[Path, tuple[Path, ...]]] = [(top, (top,))]  # (folder, real folders down to it)
    walked = {top}
    while stack:
        folder, ancestors = stack.pop()
        try:
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except OSError as exc:
            yield FileUnusable(str(folder), f"cannot list the folder: {exc.strerror or exc}")
            continue
        subfolders = []
        for entry in entries:
            name = entry.name
            if name.startswith("."):
                continue
            # Only a link needs resolving; anything else is where its folder really is.
            is_link = entry.is_symlink()
            real = Path(os.path.realpath(entry.path)) if is_link else ancestors[-1] / name
            found = _entry(folder / name, real, is_link, roots, suffixes, follow_links)
            if not isinstance(found, _Subfolder):
                yield found
            elif found.real in ancestors:
                yield FileSkipped(
                    str(folder / name), f"link to {found.real}, a folder that contains it (a loop); skipped"
                )
            elif found.real not in walked:  # else it was read already, through another link
                walked.add(found.real)
                subfolders.append((found.path, (*ancestors, found.real)))
        stack.extend(reversed(subfolders))


def _entry(
    path: Path,
    real: Path,
    is_link: bool,
    roots: tuple[Path, ...],
    suffixes: Collection[str],
    follow_links: bool,
) -> Found | _Subfolder:
    status = _stat(path)
    if isinstance(status, str):
        # A link may be broken or loop; for anything else this is a real problem (e.g. permissions).
        return FileSkipped(str(path), f"{status}; skipped") if is_link else FileUnusable(str(path), status)
    inside = any(real.is_relative_to(root) for root in roots)
    if is_link and not inside and not follow_links:
        return FileSkipped(
            str(path),
            f"link to {real}, outside the folders being ingested; skipped (to read it, ingest with "
            "--follow-links or set QA_BOT_FOLLOW_LINKS=true)",
        )
    # Inside: known by its own path, like any other file there. Outside (followed): by the link's.
    known_as = real if inside else path
    if stat.S_ISDIR(status.st_mode):
        return _Subfolder(known_as, real)
    if not stat.S_ISREG(status.st_mode):
        return FileSkipped(
            str(path), f"{special_kind(status.st_mode)}, not a regular file; skipped (only files are read)"
        )
    if known_as.suffix.lower() not in suffixes:
        what = f"link to {real.name}, a file of" if is_link else "file of"
        return FileSkipped(
            str(path),
            f"{what} unsupported type {known_as.suffix or '(no suffix)'!r}; skipped "
            f"(supported: {', '.join(sorted(suffixes))})",
        )
    return FileToRead(known_as, real, named_explicitly=False)


def _stat(path: Path) -> os.stat_result | str:
    """The path's status, links followed, or why there is none."""
    try:
        return path.stat()
    except FileNotFoundError:
        if path.is_symlink():
            return f"broken link: it points to {os.readlink(path)}, which does not exist"
        return "no such file or folder"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "link loop: the link leads back to itself"
        return f"cannot read it: {exc.strerror or exc}"


def special_kind(mode: int) -> str:
    """What a file that is not a regular file or folder is, in words."""
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a special file"
