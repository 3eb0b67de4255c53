"""The rule catalogue (rules/*.yaml) is valid and in step with the checks."""

from __future__ import annotations

from scanner.catalog import load_catalog, validate_catalog
from scanner.checks import INPUT_RULES, all_checks


def test_every_rule_file_matches_its_schema():
    assert validate_catalog() == []


def test_every_check_has_a_rule_and_every_rule_a_producer():
    catalog, checks = set(load_catalog()), set(all_checks())
    assert checks - catalog == set()
    assert catalog - checks - INPUT_RULES == set(), "rules no check produces"
    assert catalog >= INPUT_RULES
