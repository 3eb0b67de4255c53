"""The rule catalogue: one YAML file per rule in ``rules/``, validated by its schema.

In a source checkout the catalogue is the top-level ``rules/`` folder; in an
installed wheel the same files ship inside the package as ``scanner/_rules``
(see ``pyproject.toml``), so ``pip install .`` works from any directory.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

_SEVERITY_ORDER = {"note": 1, "warning": 2, "error": 3}


def data_dir() -> Path:
    packaged = Path(__file__).parent / "_rules"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "rules"


def load_json_schema(name: str) -> dict[str, Any]:
    return json.loads((data_dir() / "schema" / name).read_text(encoding="utf-8"))


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    name: str
    title: str
    severity: str
    security_severity: str
    category: str
    kind: str  # security | quality: how code scanning shows its findings
    tags: tuple[str, ...]
    description: str
    help_pass: str
    help_fail: str
    remediation: str
    references: tuple[str, ...]
    pss_level: str | None = None
    pss_control: str | None = None

    @property
    def rank(self) -> int:
        return _SEVERITY_ORDER[self.severity]

    def to_json(self) -> dict[str, Any]:
        """The rule as the JSON report and ``kubematrix rules --format json`` show it."""
        return {
            "name": self.name,
            "title": self.title,
            "severity": self.severity,
            "securitySeverity": self.security_severity,
            "category": self.category,
            "tags": list(self.tags),
            "description": self.description,
            "remediation": self.remediation,
            "references": list(self.references),
        }

    def help_markdown(self) -> str:
        refs = "".join(f"- <{r}>\n" for r in self.references)
        return (
            f"**{self.title}**\n\n{self.description}\n\n"
            f"**Remediation:** {self.remediation}\n\n"
            f"Passes:\n\n```yaml\n{self.help_pass.rstrip()}\n```\n\n"
            f"Fails:\n\n```yaml\n{self.help_fail.rstrip()}\n```\n" + (f"\nReferences:\n\n{refs}" if refs else "")
        )


def _safe_data(text: str) -> Any:
    """``yaml.safe_load`` with libyaml when available (ten times faster)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def _rule_files() -> list[tuple[Path, Any]]:
    return [(path, _safe_data(path.read_text(encoding="utf-8"))) for path in sorted(data_dir().glob("*.yaml"))]


def validate_catalog() -> list[str]:
    """Every problem of the rule files against their schema (empty: all valid)."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(load_json_schema("rule.schema.json"))
    return [
        f"{path.name}: {e.message}"
        for path, data in _rule_files()
        for e in sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    ]


def severity_rank(level: str) -> int:
    return _SEVERITY_ORDER.get(level, 0)


class CatalogError(Exception):
    pass


def _rule_from(data: dict[str, Any]) -> Rule:
    pss = data.get("pss") or {}
    return Rule(
        id=data["id"],
        name=data["name"],
        title=data["title"],
        severity=data["severity"],
        security_severity=data["security-severity"],
        category=data["category"],
        kind=data["kind"],
        tags=tuple(data["tags"]),
        description=data["description"].strip(),
        help_pass=data["help"]["pass"],
        help_fail=data["help"]["fail"],
        remediation=data["remediation"].strip(),
        references=tuple(data.get("references", ())),
        pss_level=pss.get("level"),
        pss_control=pss.get("control"),
    )


@lru_cache(maxsize=1)
def load_catalog() -> dict[str, Rule]:
    """All rules by id, sorted by id.  The files are the package's own data, validated
    against ``rule.schema.json`` by ``validate_catalog`` in the tests and in CI (not on
    every start: that cost a tenth of a second per run); a malformed one is a
    CatalogError (a packaging bug, never user input)."""
    rules: dict[str, Rule] = {}
    for path, data in _rule_files():
        try:
            rule = _rule_from(data)
        except (KeyError, TypeError, AttributeError) as exc:
            raise CatalogError(f"{path.name}: malformed rule ({exc})") from None
        if path.stem != rule.id:
            raise CatalogError(f"{path.name}: file name must be the rule id {rule.id}")
        rules[rule.id] = rule
    return dict(sorted(rules.items()))
