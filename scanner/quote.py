"""What a report may quote of a scanned file: each finding's source line, read once,
with secret values masked and control characters escaped.

The scan computes the quotes (``ScanResult.quotes``) before any reporter runs, so a
reporter never reads scanned files itself and a new one cannot leak what a line
holds.  Secret rules, and findings whose line may hold a secret (``Finding.sensitive``:
a duplicate key inside a Secret's data, an env entry ...), never show what follows
the colon; any other line shows its values, except those of secret-looking keys."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from .catalog import Rule
from .findings import Finding

MASK = "********"
_MAX_SNIPPET_FILE_BYTES = 8 * 1024 * 1024
_SECRET_WORDS = r"(?:password|passwd|pwd|token|secret|key|credential)"
# `  password: hunter2`, `- "apiToken": "x",` ... : mask the value after the colon.
_SECRET_KEY = re.compile(
    rf"""^(?P<head>\s*(?:-\s+)?["']?[^\s:"']*{_SECRET_WORDS}[^\s:"']*["']?\s*:)(?P<sep>\s*)(?P<value>\S.*)$""",
    re.IGNORECASE,
)
# `--password=hunter2`, `MYSQL_PWD=x` inside a command line.
_SECRET_ASSIGN = re.compile(rf"(?P<head>[\w.-]*{_SECRET_WORDS}[\w.-]*\s*=\s*)(?P<value>[^\s\"',;]+)", re.IGNORECASE)
# Nothing to hide after the colon: a block scalar indicator or just a comment.
_NO_VALUE = re.compile(r"^([|>][-+0-9]*\s*)?(#.*)?$")


def mask_secrets(line: str, *, always: bool = False) -> str:
    """Hide values that may be secrets.  ``always``: mask whatever follows the
    first colon (used for lines reported by secret rules)."""
    match = _SECRET_KEY.match(line)
    if match and not _NO_VALUE.match(match.group("value")):
        line = match.group("head") + match.group("sep") + MASK
    elif always and not match:
        head, colon, value = line.partition(":")
        if colon and value.strip() and not _NO_VALUE.match(value.strip()):
            line = head + colon + " " + MASK
        elif not colon:
            stripped = line.lstrip()
            line = line[: len(line) - len(stripped)] + (MASK if stripped else "")
    return _SECRET_ASSIGN.sub(lambda m: m.group("head") + MASK, line)


_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")


def clean(text: str) -> str:
    """Control characters from scanned files (an ESC sequence in a manifest or a
    name) are shown escaped, never sent to the terminal."""
    text = " ".join(text.expandtabs(8).splitlines()) if "\n" in text or "\r" in text else text.expandtabs(8)
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


class Sources:
    """Lines of scanned files, read lazily: where the loader read them, else relative
    to the working directory."""

    def __init__(self, files: Mapping[str, Path], cwd: Path) -> None:
        self._cache: dict[str, list[str] | None] = {}
        self._files = files
        self._cwd = cwd

    def line(self, path: str, number: int) -> str | None:
        if path not in self._cache:
            self._cache[path] = self._read(path)
        lines = self._cache[path]
        if lines is None or not 1 <= number <= len(lines):
            return None
        return lines[number - 1]

    def _read(self, path: str) -> list[str] | None:
        # Never through a link, never a pipe or device, bounded: the loader's own reader.
        from .loader.files import source_lines

        where = self._files.get(path) or self._cwd / path
        return source_lines(str(where), _MAX_SNIPPET_FILE_BYTES)


def quote_lines(
    findings: Iterable[Finding],
    rules: Mapping[str, Rule],
    rendered: frozenset[str],
    files: Mapping[str, Path],
    cwd: Path,
) -> dict[Finding, str]:
    """The line each finding may show; findings without one (no line, an unreadable
    file, a blank line, rendered output whose lines are not the file's) are absent.
    ``files`` maps the display paths of scanned files to where they were read; other
    paths are relative to ``cwd``."""
    sources = Sources(files, cwd)
    out: dict[Finding, str] = {}
    for finding in findings:
        if finding.loc.path in rendered:
            continue  # its lines are those of rendered output, not of the file on disk
        raw = sources.line(finding.loc.path, finding.loc.line)
        if raw is None or not raw.strip():
            continue
        always = rules[finding.rule_id].category == "secrets" or finding.sensitive
        out[finding] = clean(mask_secrets(raw.rstrip(), always=always))
    return out
