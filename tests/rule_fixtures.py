"""Helpers for the per-rule fixtures in ``fixtures/rules/<RULE-ID>/{pass,fail}/``.

A failing fixture marks each line where a finding is expected with a trailing
comment ``# expect: RULE-ID`` (several ids may be comma separated).  Files that
cannot carry comments (JSON, binary) list expectations in ``expected.txt`` next
to ``pass/`` and ``fail/`` as lines ``<path relative to fail/>:<line> <RULE-ID>``.
A fixture directory may hold its own ``kubematrix.yaml`` policy file.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RULE_FIXTURES = REPO / "fixtures" / "rules"
_MARK = re.compile(r"#\s*expect:\s*([A-Za-z0-9_,\- ]+)\s*$")


def expected_findings(case_dir: Path) -> set[tuple[str, int, str]]:
    """(path relative to case_dir, line, rule id) triples expected in ``case_dir``."""
    out: set[tuple[str, int, str]] = set()
    for path in sorted(case_dir.rglob("*")):
        if not path.is_file() or path.suffix not in (".yaml", ".yml"):
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            match = _MARK.search(line)
            if match:
                for rule in match.group(1).replace(" ", "").split(","):
                    if rule:
                        out.add((path.relative_to(case_dir).as_posix(), number, rule))
    listing = case_dir.parent / "expected.txt"
    if listing.is_file() and case_dir.name == "fail":
        for raw in listing.read_text(encoding="utf-8").splitlines():
            raw = raw.strip()
            if not raw or raw.startswith("#"):
                continue
            where, rule = raw.split()
            file, line = where.rsplit(":", 1)
            out.add((file, int(line), rule))
    return out


def rule_cases() -> list[str]:
    return sorted(p.name for p in RULE_FIXTURES.iterdir() if p.is_dir()) if RULE_FIXTURES.is_dir() else []
