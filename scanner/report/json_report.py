"""JSON report (placeholder)."""

from __future__ import annotations

import json

from ..scan import ScanResult


def render_json(result: ScanResult) -> str:
    return json.dumps({"findings": [{"ruleId": f.rule_id, "path": f.loc.path, "line": f.loc.line} for f in result.findings]}, indent=2) + "\n"
