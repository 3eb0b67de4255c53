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

import jsonschema
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

    def help_markdown(self) -> str:
        refs = "".join(f"- <{r}>\n" for r in self.references)
        return (
            f"**{self.title}**\n\n{self.description}\n\n"
            f"**Remediation:** {self.remediation}\n\n"
            f"Passes:\n\n```yaml\n{self.help_pass.rstrip()}\n```\n\n"
            f"Fails:\n\n```yaml\n{self.help_fail.rstrip()}\n```\n"
            + (f"\nReferences:\n\n{refs}" if refs else "")
        )


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
    """All rules by id, sorted by id.  Raises CatalogError if a rule file is invalid
    (a packaging bug, never user input)."""
    schema = load_json_schema("rule.schema.json")
    validator = jsonschema.Draft202012Validator(schema)
    rules: dict[str, Rule] = {}
    for path in sorted(data_dir().glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
        if errors:
            raise CatalogError(f"{path.name}: {errors[0].message}")
        rule = _rule_from(data)
        if path.stem != rule.id:
            raise CatalogError(f"{path.name}: file name must be the rule id {rule.id}")
        rules[rule.id] = rule
    return dict(sorted(rules.items()))
