"""``kubematrix rules``: the catalogue as a table (text) or JSON."""

from __future__ import annotations

import io
import json
import textwrap

from rich.console import Console
from rich.table import Table

from ..catalog import load_catalog


def render_rules(fmt: str) -> str:
    catalog = load_catalog()
    if fmt == "json":
        rows = [
            {
                "id": r.id,
                "name": r.name,
                "title": r.title,
                "severity": r.severity,
                "securitySeverity": r.security_severity,
                "category": r.category,
                "tags": list(r.tags),
            }
            for r in catalog.values()
        ]
        return json.dumps(rows, indent=2) + "\n"
    table = Table(title="kubematrix rules", show_lines=False)
    for column in ("ID", "Severity", "Category", "Title"):
        table.add_column(column, no_wrap=column != "Title")
    for rule in catalog.values():
        table.add_row(rule.id, rule.severity, rule.category, rule.title)
    buffer = io.StringIO()
    Console(file=buffer, width=120, color_system=None, force_terminal=False).print(table)
    return buffer.getvalue()


def render_rule(rule_id: str, fmt: str) -> str | None:
    """One rule in full (None for an unknown id): what it checks, how to fix it, and
    the passing and failing examples the docs and tests share."""
    rule = load_catalog().get(rule_id)
    if rule is None:
        return None
    if fmt == "json":
        return (
            json.dumps(
                {"id": rule.id, **rule.to_json(), "pass": rule.help_pass, "fail": rule.help_fail},
                indent=2,
            )
            + "\n"
        )
    wrap = textwrap.TextWrapper(width=100)
    lines = [
        f"{rule.id}  {rule.title}",
        "",
        f"severity {rule.severity} (security severity {rule.security_severity}), category {rule.category}",
        "",
        *wrap.wrap(rule.description),
        "",
        *wrap.wrap(f"Fix: {rule.remediation}"),
        "",
        "Passes:",
        *("    " + line for line in rule.help_pass.rstrip().splitlines()),
        "",
        "Fails:",
        *("    " + line for line in rule.help_fail.rstrip().splitlines()),
    ]
    if rule.references:
        lines += ["", "References:", *(f"  {r}" for r in rule.references)]
    lines += [
        "",
        *wrap.wrap(
            f"Not applicable somewhere? Document an exception with a reason: in the policy file's "
            f"exceptions (rules: [{rule.id}], narrowed by kind/namespace/name/files), or on the object "
            f'with the annotations kubematrix.dev/ignore: "{rule.id}" and '
            "kubematrix.dev/ignore-reason."
        ),
    ]
    return "\n".join(lines) + "\n"
