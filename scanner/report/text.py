"""Plain text report (placeholder until the rich reporter lands)."""

from __future__ import annotations

from ..scan import ScanResult


def render_text(result: ScanResult, *, color: bool = False, width: int = 100) -> str:
    lines = []
    for f in result.findings:
        level = "suppressed" if f.suppression else result.rules[f.rule_id].severity
        lines.append(f"{f.loc} {level} {f.rule_id} {f.message}")
        if f.suppression:
            lines.append(f"    documented exception: {f.suppression.reason}")
    lines.append(f"{len(result.active())} findings, {len(result.suppressed())} suppressed, {len(result.files)} files")
    return "\n".join(lines) + "\n"
