"""Every rule has a passing and a failing fixture, and each behaves as marked."""

from __future__ import annotations

import pytest
from conftest import scan_path
from rule_fixtures import RULE_FIXTURES, expected_findings, rule_cases

from scanner.catalog import load_catalog


def test_every_rule_has_fixtures():
    missing = [
        rid
        for rid in load_catalog()
        if not (RULE_FIXTURES / rid / "fail").is_dir() or not (RULE_FIXTURES / rid / "pass").is_dir()
    ]
    assert missing == [], f"rules without fixtures/rules/<ID>/pass and fail: {missing}"


@pytest.mark.parametrize("rule_id", rule_cases())
def test_failing_fixture_reports_exactly_the_marked_lines(rule_id):
    case = RULE_FIXTURES / rule_id / "fail"
    expected = {e for e in expected_findings(case) if e[2] == rule_id}
    assert expected, f"{case} marks no '# expect: {rule_id}' line"
    result = scan_path(case, report_unused=True)  # POL005 is reported only when asked for
    got = {(f.loc.path, f.loc.line, f.rule_id) for f in result.active() if f.rule_id == rule_id}
    assert got == expected


@pytest.mark.parametrize("rule_id", rule_cases())
def test_passing_fixture_has_no_finding_of_the_rule(rule_id):
    case = RULE_FIXTURES / rule_id / "pass"
    result = scan_path(case, report_unused=True)
    got = [f"{f.loc} {f.message}" for f in result.active() if f.rule_id == rule_id]
    assert got == []
