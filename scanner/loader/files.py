"""Find and read input files without ever leaving the scanned tree.

Symbolic links are never followed: a link that points inside the tree is
redundant (its target is scanned under its real path) and one that points
outside, or nowhere, is reported.  ``.git`` is skipped.  Bytes are decoded
honouring byte-order marks (UTF-8/16/32); anything else must be UTF-8.
"""

from __future__ import annotations

import codecs
import os
from dataclasses import dataclass
from pathlib import Path

from ..findings import Finding
from ..located import Loc

EXTENSIONS = (".yaml", ".yml", ".json")
SKIP_DIRS = frozenset({".git"})
# A manifest larger than this is almost certainly not a manifest; reading it
# would only slow the scan.  It is reported, not silently dropped.
MAX_FILE_BYTES = 64 * 1024 * 1024

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


@dataclass(frozen=True, slots=True)
class InputFile:
    real_path: Path
    display: str  # repo-relative POSIX path used in every report


@dataclass(slots=True)
class Discovery:
    files: list[InputFile]
    problems: list[Finding]


def display_path(path: Path, root: Path, cwd: Path) -> str:
    """Report paths relative to the working directory (the repository root in CI),
    falling back to the scanned root for trees outside it."""
    for base in (cwd, root.parent if root.is_file() else root):
        try:
            return path.relative_to(base).as_posix()
        except ValueError:
            continue
    return path.as_posix()


def discover(paths: list[Path], cwd: Path) -> Discovery:
    files: dict[str, InputFile] = {}
    problems: list[Finding] = []
    for given in paths:
        root = Path(os.path.abspath(given))
        if root.is_file():
            files.setdefault(str(root), InputFile(root, display_path(root, root, cwd)))
            continue
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            here = Path(dirpath)
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
            for name in list(dirnames):
                if (here / name).is_symlink():
                    dirnames.remove(name)
                    _report_link(here / name, root, cwd, problems)
            for name in sorted(filenames):
                if not name.lower().endswith(EXTENSIONS):
                    continue
                path = here / name
                if path.is_symlink():
                    _report_link(path, root, cwd, problems)
                    continue
                files.setdefault(str(path), InputFile(path, display_path(path, root, cwd)))
    ordered = sorted(files.values(), key=lambda f: f.display)
    return Discovery(ordered, problems)


def _report_link(link: Path, root: Path, cwd: Path, problems: list[Finding]) -> None:
    target = Path(os.path.realpath(link))
    shown = display_path(link, root, cwd)
    if not target.exists():
        message = "broken or looping symbolic link; not followed"
    else:
        try:
            target.relative_to(root)
        except ValueError:
            message = "symbolic link points outside the scanned tree; not followed"
        else:
            return  # the target is inside the tree and is scanned under its own path
    problems.append(Finding("INPUT004", message, Loc(shown, 1, 1), detail="symlink"))


def decode(data: bytes, shown: str) -> tuple[str | None, Finding | None]:
    """Decode file bytes to text, or explain why they are not text."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom):].decode(encoding), None
            except UnicodeDecodeError as exc:
                return None, Finding("INPUT001", f"invalid {encoding} text: {exc.reason}", Loc(shown), detail="decode")
    if b"\x00" in data:
        return None, Finding("INPUT001", "binary file (contains NUL bytes), not YAML or JSON", Loc(shown), detail="decode")
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        return None, Finding(
            "INPUT001", f"invalid UTF-8 at byte {exc.start}: {exc.reason}", Loc(shown, line, col), detail="decode"
        )


def read_text(file: InputFile) -> tuple[str | None, Finding | None]:
    try:
        size = file.real_path.stat().st_size
        if size > MAX_FILE_BYTES:
            return None, Finding(
                "INPUT001", f"file is {size:,} bytes, over the {MAX_FILE_BYTES:,}-byte limit; not scanned",
                Loc(file.display), detail="size",
            )
        data = file.real_path.read_bytes()
    except OSError as exc:
        return None, Finding("INPUT001", f"cannot read file: {exc.strerror or exc}", Loc(file.display), detail="read")
    return decode(data, file.display)
