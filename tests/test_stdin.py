"""``scan -``: a manifest stream on stdin, Helm's ``# Source:`` comments mapping each
document back to its template (scanner/loader/rendered.py)."""

from __future__ import annotations

import io
import json
import sys

from scanner.cli.app import _run

RENDERED = """---
# Source: blog/templates/web.yaml
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop}
spec:
  hostNetwork: true
  containers: [{name: a, image: x}]
---
# Source: blog/templates/db.yaml
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: shop}
spec:
  containers: [{name: a, image: x, securityContext: {privileged: true}}]
"""


def run(monkeypatch, capsys, text: str, *args: str) -> tuple[int, str]:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text.encode("utf-8")), encoding="utf-8"))
    code = _run(["scan", "-", *args], "scan")
    return code, capsys.readouterr().out


def test_stdin_findings_point_at_stdin_lines(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    plain = RENDERED.replace("# Source: blog/templates/web.yaml\n", "").replace(
        "# Source: blog/templates/db.yaml\n", ""
    )
    code, out = run(monkeypatch, capsys, plain, "--format", "json")
    assert code == 1
    found = sorted((f["ruleId"], f["path"], f["line"]) for f in json.loads(out)["findings"])
    assert found == [("PSS-hostNamespaces", "stdin", 6), ("PSS-privileged", "stdin", 13)]


def test_helm_source_comments_map_documents_to_their_templates(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, out = run(monkeypatch, capsys, RENDERED, "--source-root", "charts", "--format", "sarif")
    assert code == 1
    results = json.loads(out)["runs"][0]["results"]
    where = sorted(
        (
            r["ruleId"],
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            r["locations"][0]["physicalLocation"]["region"]["startLine"],
        )
        for r in results
    )
    # line 5 of each rendered template (the comment line is not part of it)
    assert where == [
        ("PSS-hostNamespaces", "charts/blog/templates/web.yaml", 5),
        ("PSS-privileged", "charts/blog/templates/db.yaml", 5),
    ]


def test_a_policy_above_the_templates_governs_rendered_documents(tmp_path, monkeypatch, capsys):
    (tmp_path / "kubematrix.yaml").write_text(
        "apiVersion: kubematrix.dev/v1alpha1\nkind: Policy\nrules:\n  PSS-privileged: {enabled: false}\n",
        encoding="utf-8",
    )
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    code, out = run(monkeypatch, capsys, RENDERED, "--source-root", "charts", "--format", "json")
    report = json.loads(out)
    assert code == 1 and [f["ruleId"] for f in report["findings"]] == ["PSS-hostNamespaces"]
    assert report["policies"][0]["path"] == "kubematrix.yaml"


def test_stdin_that_is_not_text_is_a_usage_error(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"\x00\x01binary"), encoding="utf-8"))
    assert _run(["scan", "-"], "scan") == 2
    assert "stdin:" in capsys.readouterr().err
