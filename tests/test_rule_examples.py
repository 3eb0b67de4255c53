"""The examples of every rule are proven excerpts of its fixtures, so docs cannot drift.

Each rule ``rules/ID.yaml`` shows a passing and a failing example (``help.pass`` and
``help.fail``) in ``docs/rules.md`` and in the SARIF help.  This module ties them to the
rule's fixtures ``fixtures/rules/ID/pass`` and ``fixtures/rules/ID/fail``, which
``test_rule_fixtures.py`` checks against the scanner:

* An example and a fixture file are both reduced to their *code lines*: a trailing
  ``# comment`` is removed (a ``#`` that starts the line or follows whitespace, outside
  quotes), then blank lines and comment-only lines are dropped.  Each code line keeps
  its leading whitespace and its line number.  So an example may carry explanatory
  comments (``# kubematrix.yaml: ...``, ``# why this line fails``), and a fixture's
  ``# expect: RULE`` markers and comment lines never interrupt a match.
* Every example must have at least one code line: a comment-only example proves nothing.
* The example's code lines must equal (whitespace stripped) a *contiguous run* of the
  code lines of one file of the fixture directory, in order, with the *same relative
  indentation*: every matched fixture line is indented by the example line's own leading
  whitespace plus one common offset (the example may be cut out of a deeper nesting,
  never re-nested).  Files are all the regular files under the fixture directory (hidden
  folders such as ``.github`` included); a symbolic link to a file is read through the
  link, under the link's own name (``INPUT004`` shows such a link); links to directories
  are not followed.
* ``help.fail``: scanning the fail fixture the way ``test_rule_fixtures.py`` does yields at
  least one finding of the rule in the matched file, on a line from the first to the last
  line the matched run covers: the example shows the offending line.
* ``help.pass``: the pass fixture yields no finding of the rule (``test_rule_fixtures.py``
  checks it too; asserted here so the premise of the excerpt is visible).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import scan_path
from rule_fixtures import REPO, RULE_FIXTURES

from scanner.catalog import data_dir, load_catalog

CATALOG = load_catalog()
RULE_IDS = list(CATALOG)
# The catalogue held 65 rules when this test was written: a floor against a catalogue
# that silently loads fewer (lower it on purpose when rules are retired).
MIN_RULES = 65
_QUOTE_OPENERS = " \t[{(,:="


@dataclass(frozen=True)
class CodeLine:
    number: int  # 1-based line number in its text
    indent: str  # leading whitespace
    text: str  # without the leading whitespace and the trailing comment


@dataclass(frozen=True)
class Match:
    file: str  # path relative to the fixture directory
    first: int  # first and last line of the matched run
    last: int


def strip_comment(line: str) -> str:
    """``line`` without a trailing ``# comment`` (a ``#`` outside quotes, at the start or
    after whitespace) and without trailing whitespace."""
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            if ch == quote and line[i - 1 : i] != "\\":
                quote = ""
        elif ch in "\"'" and (i == 0 or line[i - 1] in _QUOTE_OPENERS):
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i].rstrip()
    return line.rstrip()


def code_lines(text: str) -> list[CodeLine]:
    out = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = strip_comment(raw)
        if line.strip():
            body = line.lstrip()
            out.append(CodeLine(number, line[: len(line) - len(body)], body))
    return out


def fixture_files(case: Path) -> dict[str, list[CodeLine]]:
    """Code lines of every readable text file under ``case``, by path relative to it."""
    files: dict[str, list[CodeLine]] = {}
    for root, dirs, names in os.walk(case, followlinks=False):
        dirs.sort()
        for name in sorted(names):
            path = Path(root) / name
            if not path.is_file():  # a broken link
                continue
            try:
                text = path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                continue
            files[path.relative_to(case).as_posix()] = code_lines(text)
    return files


def _matched_prefix(example: list[CodeLine], lines: list[CodeLine], start: int) -> int:
    """How many example lines match the file's code lines from ``start`` on."""
    offset = len(lines[start].indent) - len(example[0].indent)
    count = 0
    for want, have in zip(example, lines[start:], strict=False):  # the file may end first
        same_nesting = have.indent.endswith(want.indent) and len(have.indent) - len(want.indent) == offset
        if have.text != want.text or not same_nesting:
            break
        count += 1
    return count


def find_excerpt(example: list[CodeLine], files: dict[str, list[CodeLine]]) -> tuple[list[Match], str]:
    """Every place where ``example`` occurs, and (when none) why the closest one fails."""
    matches: list[Match] = []
    best = (0, "")
    for file, lines in files.items():
        for start in range(len(lines)):
            count = _matched_prefix(example, lines, start)
            if count == len(example):
                matches.append(Match(file, lines[start].number, lines[start + count - 1].number))
            elif count > best[0]:
                have = lines[start + count] if start + count < len(lines) else None
                got = f"line {have.number}: {have.indent + have.text!r}" if have else "the end of the file"
                best = (count, f"closest: {file}:{lines[start].number} matches {count} line(s), then has {got}")
    if matches:
        return matches, ""
    missing = example[best[0]]
    return [], f"example line {missing.number} {missing.indent + missing.text!r} not found in order; " + (
        best[1] or "not even the first code line occurs in any file"
    )


def _excerpt(rule_id: str, verdict: str) -> tuple[Path, list[Match]]:
    """The fixture directory of ``verdict`` and where the rule's example occurs in it."""
    rule = CATALOG[rule_id]
    text = rule.help_pass if verdict == "pass" else rule.help_fail
    example = code_lines(text)
    assert example, f"{rule_id}: help.{verdict} has no code line (only comments or blank lines); it proves nothing"
    case = RULE_FIXTURES / rule_id / verdict
    where = case.relative_to(REPO).as_posix()
    assert case.is_dir(), f"{rule_id}: no fixture directory {where}"
    matches, why = find_excerpt(example, fixture_files(case))
    assert matches, f"{rule_id}: help.{verdict} is not an excerpt of any file under {where}: {why}"
    return case, matches


def test_every_catalogue_rule_is_checked():
    rule_files = sorted(path.stem for path in data_dir().glob("*.yaml"))
    assert rule_files == RULE_IDS, "the parametrization covers exactly the rule files"
    assert len(RULE_IDS) == len(load_catalog()) >= MIN_RULES


def test_the_matcher_ignores_comments_and_keeps_nesting():
    assert strip_comment('  args: ["a # b"]   # why') == '  args: ["a # b"]'
    assert strip_comment("url: http://x/#frag") == "url: http://x/#frag"
    assert strip_comment("# only a comment") == ""
    fixture = {"f.yaml": code_lines("a:\n  # note\n  b: 1  # expect: X\n  c: 2\nd: 3\n")}
    assert find_excerpt(code_lines("# context\nb: 1   # why\nc: 2\n"), fixture)[0] == [Match("f.yaml", 3, 4)]
    assert find_excerpt(code_lines("b: 1\n  c: 2\n"), fixture)[0] == [], "relative indentation differs"
    matches, why = find_excerpt(code_lines("a:\n  b: 1\n  c: 3\n"), fixture)
    assert matches == []
    assert "example line 3 '  c: 3' not found" in why and "f.yaml:1 matches 2 line(s)" in why


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_fail_example_shows_a_line_the_rule_reports(rule_id):
    case, matches = _excerpt(rule_id, "fail")
    result = scan_path(case, report_unused=True)  # as test_rule_fixtures.py scans it
    findings = [f for f in result.active() if f.rule_id == rule_id]
    assert findings, f"{rule_id}: the fail fixture {case} yields no finding of the rule"
    shown = [(m, f) for m in matches for f in findings if f.loc.path == m.file and m.first <= f.loc.line <= m.last]
    assert shown, (
        f"{rule_id}: help.fail occurs at {[f'{m.file}:{m.first}-{m.last}' for m in matches]}, but no finding "
        f"of the rule is on those lines; findings: {[str(f.loc) for f in findings]}"
    )


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_pass_example_comes_from_a_tree_without_the_finding(rule_id):
    case, _ = _excerpt(rule_id, "pass")
    result = scan_path(case, report_unused=True)
    got = [f"{f.loc} {f.message}" for f in result.active() if f.rule_id == rule_id]
    assert got == [], f"{rule_id}: the pass fixture {case} yields findings of the rule"
