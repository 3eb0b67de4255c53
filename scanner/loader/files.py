"""Find and read input files without ever leaving the scanned tree.

* Symbolic links found while walking are never followed: a link to a file that
  is scanned anyway (inside the tree) is redundant, and every other link (out of
  the tree, broken, looping, to a directory's outside, to something we would
  not scan) is reported as ``INPUT004``.  A path named on the command line is
  the user's explicit choice and is read even if it is a link.
* ``.git`` is skipped.  Directories that cannot be listed and files that cannot
  be read are reported (``INPUT001``), never silently dropped.
* Only regular files are read (a FIFO or device named ``x.yaml`` would block or
  never end), with ``O_NOFOLLOW`` so a file swapped for a link after the walk is
  not followed either, and never more than ``MAX_FILE_BYTES``.
* Bytes are decoded honouring byte-order marks (UTF-8/16/32); anything else
  must be UTF-8.  Undecodable file *names* are shown with escapes, so reports
  can always be written.
"""

from __future__ import annotations

import codecs
import errno
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..findings import Finding
from ..located import Loc
from .exclude import excluded

EXTENSIONS = (".yaml", ".yml", ".json")
SKIP_DIRS = frozenset({".git"})
# A manifest larger than this is almost certainly not a manifest; reading it
# would only slow the scan.  It is reported, not silently dropped.
MAX_FILE_BYTES = 16 * 1024 * 1024

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_O_BINARY = getattr(os, "O_BINARY", 0)


@dataclass(frozen=True, slots=True)
class InputFile:
    real_path: Path
    display: str  # repo-relative POSIX path used in every report
    follow: bool = True  # False for files found by walking: never follow a link there


@dataclass(slots=True)
class Discovery:
    files: list[InputFile]
    problems: list[Finding]
    excluded: list[str] = field(default_factory=list)  # display paths left out on purpose (--exclude)


def printable_path(text: str) -> str:
    """A path as it can be written to any report: undecodable bytes of the file
    name (surrogate escapes) and control characters become escapes."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = os.fsencode(text).decode("utf-8", "backslashreplace")
    if not text.isprintable():
        text = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)
    return text


def display_path(path: Path, root: Path, cwd: Path) -> str:
    """Report paths relative to the working directory (the repository root in CI),
    falling back to the scanned root for trees outside it."""
    for base in (cwd, root.parent if root.is_file() else root):
        try:
            return printable_path(path.relative_to(base).as_posix())
        except ValueError:
            continue
    return printable_path(path.as_posix())


def _inside(target: str, root: str) -> bool:
    return target == root or target.startswith(root.rstrip(os.sep) + os.sep)


def _scannable_name(name: str) -> bool:
    return name.lower().endswith(EXTENSIONS)


def _walk(root: Path, unreadable) -> Iterator[tuple[Path, list[os.DirEntry]]]:
    """(directory, its entries sorted by name) for every directory under ``root``,
    depth first, never through a link.  Iterative: ``os.walk`` recurses (before
    Python 3.12) and a tree a thousand directories deep would exhaust the stack."""
    stack = [root]
    while stack:
        here = stack.pop()
        try:
            with os.scandir(here) as listing:
                entries = sorted(listing, key=lambda e: e.name)
        except OSError as exc:
            unreadable(exc, here)
            continue
        yield here, entries
        for entry in reversed(entries):
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                is_dir = False
            if is_dir and entry.name not in SKIP_DIRS:
                stack.append(here / entry.name)


def discover(paths: list[Path], cwd: Path, exclude: tuple[str, ...] = ()) -> Discovery:
    files: dict[str, InputFile] = {}
    problems: list[Finding] = []
    for given in paths:
        root = Path(os.path.abspath(given))
        if not root.is_dir():
            # A file named on the command line is read whatever its name (and even
            # through a link: the user chose it).
            files.setdefault(os.path.realpath(root), InputFile(root, display_path(root, root, cwd), follow=True))
            continue
        real_root = os.path.realpath(root)

        def unreadable(exc: OSError, where: Path, root: Path = root) -> None:
            problems.append(
                Finding(
                    "INPUT001",
                    f"cannot read directory: {exc.strerror or exc}; nothing in it is scanned",
                    Loc(display_path(where, root, cwd), 1, 1),
                    detail="read-dir",
                )
            )

        # Walking never passes through a link, so below the root a path is its own real
        # path: the root's real path plus the same tail.  Display paths are built from
        # the root's the same way (the per-file pathlib and realpath calls cost a
        # fifth of reading a large tree).
        shown_root, root_text = display_path(root, root, cwd), str(root)
        for here, entries in _walk(root, unreadable):
            tail = str(here)[len(root_text) :]
            shown_dir = _shown_join(shown_root, tail.replace(os.sep, "/").lstrip("/"))
            for entry in entries:
                path = here / entry.name
                try:
                    is_link = entry.is_symlink()
                    is_dir = not is_link and entry.is_dir(follow_symlinks=False)
                except OSError:
                    is_link = is_dir = False
                if is_dir:
                    continue  # walked (or skipped, for .git) by _walk
                if is_link:
                    if os.path.isdir(path):
                        _report_link(path, root, real_root, cwd, problems, is_dir=True)
                    elif _scannable_name(entry.name):
                        _report_link(path, root, real_root, cwd, problems, is_dir=False)
                    continue
                if _scannable_name(entry.name):
                    # regular files, and pipes or devices with a YAML name (reported when read)
                    real = real_root + tail + os.sep + entry.name
                    files.setdefault(
                        real, InputFile(path, printable_path(_shown_join(shown_dir, entry.name)), follow=False)
                    )
    ordered = sorted(files.values(), key=lambda f: (f.display, str(f.real_path)))
    problems.sort(key=lambda f: (f.loc.path, f.message))
    left_out = [f.display for f in ordered if exclude and excluded(f.display, exclude)]
    ordered = [f for f in ordered if not (exclude and excluded(f.display, exclude))]
    return Discovery(ordered, problems, left_out)


def _shown_join(shown: str, tail: str) -> str:
    """A display path below another (``.`` is the working directory itself)."""
    if not tail:
        return shown
    return tail if shown in ("", ".") else f"{shown}/{tail}"


def _report_link(link: Path, root: Path, real_root: str, cwd: Path, problems: list[Finding], *, is_dir: bool) -> None:
    shown = display_path(link, root, cwd)
    try:
        target = os.path.realpath(link, strict=True)
    except (OSError, RuntimeError):
        message = "broken or looping symbolic link; not followed"
    else:
        if not _inside(target, real_root):
            message = "symbolic link points outside the scanned tree; not followed"
        elif os.path.isdir(target):
            # The directory is scanned under its real path when it is part of the
            # tree; a link back up the tree would be a loop.
            if _inside(os.path.realpath(link.parent), target):
                message = "symbolic link to a directory that contains it (a loop); not followed"
            else:
                return
        elif os.path.isfile(target) and _scannable_name(target) and not (set(Path(target).parts) & SKIP_DIRS):
            return  # the target is inside the tree and is scanned under its own path
        else:
            message = "symbolic link to a file that is not scanned itself; not followed"
    problems.append(Finding("INPUT004", message, Loc(shown, 1, 1), detail="symlink"))


def decode(data: bytes, shown: str) -> tuple[str | None, Finding | None]:
    """Decode file bytes to text, or explain why they are not text."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom) :].decode(encoding), None
            except UnicodeDecodeError as exc:
                return None, Finding("INPUT001", f"invalid {encoding} text: {exc.reason}", Loc(shown), detail="decode")
    if b"\x00" in data:
        return None, Finding(
            "INPUT001", "binary file (contains NUL bytes), not YAML or JSON", Loc(shown), detail="decode"
        )
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        return None, Finding(
            "INPUT001",
            f"invalid UTF-8 at byte {exc.start} (line {line}): {exc.reason}; save the file as UTF-8",
            Loc(shown, line, col),
            detail="decode",
        )


def _read_bytes(file: InputFile) -> bytes:
    flags = os.O_RDONLY | _O_NONBLOCK | _O_BINARY | (0 if file.follow else _O_NOFOLLOW)
    fd = os.open(file.real_path, flags)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _NotRegular()
        chunks = []
        remaining = MAX_FILE_BYTES + 1
        while remaining > 0:
            chunk = os.read(fd, min(remaining, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        data = b"".join(chunks)
        if len(data) > MAX_FILE_BYTES:
            raise _TooLarge(max(info.st_size, len(data)))
        return data
    finally:
        os.close(fd)


class _NotRegular(Exception):
    pass


class _TooLarge(Exception):
    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


def read_text(file: InputFile) -> tuple[str | None, Finding | None]:
    where = Loc(file.display)
    try:
        data = _read_bytes(file)
    except _NotRegular:
        return None, Finding(
            "INPUT001", "not a regular file (a pipe, device or socket); not read", where, detail="read"
        )
    except _TooLarge as exc:
        return None, Finding(
            "INPUT001",
            f"file is over the {MAX_FILE_BYTES:,}-byte limit ({exc.size:,} bytes or more); not scanned",
            where,
            detail="size",
        )
    except OSError as exc:
        if exc.errno == errno.ELOOP and not file.follow:
            return None, Finding(
                "INPUT004", "replaced by a symbolic link while scanning; not followed", where, detail="symlink"
            )
        return None, Finding("INPUT001", f"cannot read file: {exc.strerror or exc}", where, detail="read")
    return decode(data, file.display)


SNIPPET_CHARS = 400


def source_lines(
    path: str | os.PathLike, max_bytes: int = MAX_FILE_BYTES, max_chars: int = SNIPPET_CHARS
) -> list[str] | None:
    """The lines of a scanned file, for reporters that quote the offending line.

    Read exactly as safely as the scan read it: never through a symbolic link
    (the link may point out of the tree, at ``/dev/zero`` or at a pipe), only a
    regular file, at most ``max_bytes``, decoded like the loader decodes (byte
    order marks).  Lines longer than ``max_chars`` are cut (ending in "…"): a
    quoted line is read by a person, and a multi-megabyte line would only make
    every later step (masking, wrapping) slow.  ``None`` when the file cannot be
    quoted; never raises.
    """
    file = InputFile(Path(path), str(path), follow=False)
    try:
        data = _read_bytes(file)
    except (OSError, _NotRegular, _TooLarge, ValueError):
        return None
    if len(data) > max_bytes:
        return None
    text, _ = decode(data, str(path))
    if text is None:
        return None
    return [line if len(line) <= max_chars else line[:max_chars] + "\u2026" for line in text.splitlines()]
