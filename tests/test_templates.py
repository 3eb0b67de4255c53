"""Unrendered templates are detected once per document, whatever the quoting, and a
YAML problem in one document does not cost the others (issue 8)."""

from __future__ import annotations

import textwrap
from pathlib import Path

from conftest import scan_path

from scanner.loader.documents import load


def write(root: Path, rel: str, *documents: str) -> None:
    """A file of several documents (each dedented on its own), separated by ``---``."""
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "\n---\n".join(textwrap.dedent(d).strip("\n") for d in documents) + "\n"
    path.write_text(text, encoding="utf-8")


CONFIGMAP = """
apiVersion: v1
kind: ConfigMap
metadata: {{name: {name}, namespace: shop}}
data: {{mode: strict}}
"""


def kinds(result) -> list[tuple[str, str]]:
    return sorted((o.kind, o.name) for o in result.objects)


def template_findings(findings):
    return [f for f in findings if f.rule_id == "INPUT001"]


def test_quoted_helm_placeholder_is_one_template_finding_not_a_policy_rejection(tmp_path):
    write(
        tmp_path,
        "all.yaml",
        """
    apiVersion: cilium.io/v2
    kind: CiliumNetworkPolicy
    metadata: {name: egress, namespace: shop}
    spec:
      endpointSelector: {matchLabels: {app: api}}
      egress:
      - toFQDNs:
        - matchName: "{{ .Values.stripeHost }}"
    """,
        CONFIGMAP.format(name="kept"),
    )
    result = scan_path(tmp_path)
    assert [f.rule_id for f in result.findings] == ["INPUT001"]
    finding = result.findings[0]
    assert (finding.loc.path, finding.loc.line) == ("all.yaml", 8)
    assert "{{ .Values.stripeHost }}" in finding.message and "helm template" in finding.message
    assert "document 1" in finding.message
    assert kinds(load([tmp_path], tmp_path)) == [("ConfigMap", "kept")]


def test_unquoted_helm_placeholder_drops_only_its_document(tmp_path):
    write(
        tmp_path,
        "all.yaml",
        CONFIGMAP.format(name="first"),
        """
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: web, namespace: shop}
    spec:
      template:
        spec:
          containers:
          - name: web
            image: {{ .Values.image }}
    """,
        CONFIGMAP.format(name="last"),
    )
    result = load([tmp_path], tmp_path)
    assert kinds(result) == [("ConfigMap", "first"), ("ConfigMap", "last")]
    found = template_findings(result.problems)
    assert [(f.loc.line, f.detail) for f in found] == [(14, "template:doc:1")]
    assert "{{ .Values.image }}" in found[0].message


def test_unquoted_non_helm_braces_are_a_problem_of_that_value_only(tmp_path):
    """An Argo AnalysisTemplate argument written without quotes: YAML reads it as a
    nested mapping.  Not a Helm template: the documents around it are kept."""
    write(
        tmp_path,
        "analysis.yaml",
        CONFIGMAP.format(name="before"),
        """
    apiVersion: argoproj.io/v1alpha1
    kind: AnalysisTemplate
    metadata: {name: success-rate, namespace: shop}
    spec:
      metrics:
      - name: success-rate
        provider:
          prometheus:
            address: {{args.prometheus-address}}
    """,
        CONFIGMAP.format(name="after"),
    )
    result = load([tmp_path], tmp_path)
    assert kinds(result) == [("AnalysisTemplate", "success-rate"), ("ConfigMap", "after"), ("ConfigMap", "before")]
    found = template_findings(result.problems)
    assert len(found) == 1
    assert found[0].loc.line == 14
    assert "quote" in found[0].message and "{{args.prometheus-address}}" in found[0].message


def test_helm_control_line_that_breaks_yaml_is_reported_as_a_template(tmp_path):
    write(
        tmp_path,
        "chart-out.yaml",
        CONFIGMAP.format(name="first"),
        """
    {{- if .Values.networkPolicy.enabled }}
    apiVersion: networking.k8s.io/v1
    kind: NetworkPolicy
    metadata: {name: np, namespace: shop}
    {{- end }}
    """,
        CONFIGMAP.format(name="last"),
    )
    result = load([tmp_path], tmp_path)
    found = template_findings(result.problems)
    assert [f.detail for f in found] == ["template:doc:1"]
    assert "cannot parse" not in found[0].message
    assert kinds(result) == [("ConfigMap", "first"), ("ConfigMap", "last")]


def test_a_syntax_error_costs_only_its_document(tmp_path):
    write(
        tmp_path,
        "all.yaml",
        CONFIGMAP.format(name="first"),
        """
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: broken
    """,
        CONFIGMAP.format(name="last"),
    )
    result = load([tmp_path], tmp_path)
    assert [(p.detail, p.loc.line) for p in result.problems] == [("parse", 9)]
    assert kinds(result) == [("ConfigMap", "first"), ("ConfigMap", "last")]


def test_a_file_with_too_many_syntax_errors_says_where_reading_stopped(tmp_path):
    broken = "a: [1\n---\nb: 2\n---\n"
    (tmp_path / "many.yaml").write_text(broken * 120, encoding="utf-8")
    result = load([tmp_path], tmp_path)
    last = result.problems[-1]
    assert "more than 100 syntax errors" in last.message and "is not read" in last.message
    assert len([p for p in result.problems if p.detail == "parse"]) == 102
