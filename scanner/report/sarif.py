"""SARIF report (placeholder)."""

from __future__ import annotations

from ..scan import ScanResult


def render_sarif(result: ScanResult) -> str:
    raise NotImplementedError("SARIF reporter not written yet")
