"""Reporters only format a ScanResult; they never decide anything."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..scan import ScanResult

if TYPE_CHECKING:
    from .markdown import SourceLinks

FORMATS = ("text", "sarif", "json", "markdown")


def render(
    result: ScanResult, fmt: str, *, color: bool = False, width: int = 100, links: SourceLinks | None = None
) -> str:
    """``links``: where the markdown report links each file (GitHub's blob pages)."""
    if fmt == "sarif":
        from .sarif import render_sarif

        return render_sarif(result)
    if fmt == "json":
        from .json_report import render_json

        return render_json(result)
    if fmt == "markdown":
        from .markdown import render_markdown

        return render_markdown(result, links)
    from .text import render_text

    return render_text(result, color=color, width=width)
