"""Start-up: a scan imports only what it uses (issue 10).  networkx is for graphs and
paths; jsonschema for policy files; neither loads for a scan that needs neither."""

from __future__ import annotations

import subprocess
import sys

from conftest import REPO


def _modules_after(code: str) -> set[str]:
    script = f"{code}\nimport sys\nprint('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, check=True)
    return set(out.stdout.split())


def test_a_scan_without_a_graph_loads_neither_networkx_nor_jsonschema(tmp_path):
    (tmp_path / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n", encoding="utf-8")
    loaded = _modules_after(
        "from pathlib import Path\nfrom scanner.scan import ScanOptions, run_scan\nfrom scanner.report import render\n"
        f"render(run_scan(ScanOptions(paths=(Path({str(tmp_path)!r}),), cwd=Path({str(tmp_path)!r}))), 'text')"
    )
    assert "scanner.scan" in loaded and "scanner.checks.zero_trust" in loaded
    assert "networkx" not in loaded and "jsonschema" not in loaded
