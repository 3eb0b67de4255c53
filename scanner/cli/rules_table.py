"""``kubematrix rules``: the catalogue as a table (text) or JSON."""

from __future__ import annotations

import io
import json

from rich.console import Console
from rich.table import Table

from ..catalog import load_catalog


def render_rules(fmt: str) -> str:
    catalog = load_catalog()
    if fmt == "json":
        rows = [
            {"id": r.id, "name": r.name, "title": r.title, "severity": r.severity,
             "securitySeverity": r.security_severity, "category": r.category, "tags": list(r.tags)}
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
