"""Reporters only format a ScanResult; they never decide anything."""

from __future__ import annotations

from ..scan import ScanResult

FORMATS = ("text", "sarif", "json")


def render(result: ScanResult, fmt: str, *, color: bool = False, width: int = 100) -> str:
    if fmt == "sarif":
        from .sarif import render_sarif

        return render_sarif(result)
    if fmt == "json":
        from .json_report import render_json

        return render_json(result)
    from .text import render_text

    return render_text(result, color=color, width=width)
