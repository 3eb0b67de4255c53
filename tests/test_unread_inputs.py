"""Findings that depend on input the scan could not read say so, once (issue 8).

A workload defined in a file that does not parse is "missing" for the documented
flows (NET006), the SecurityContext table (SEC007) and the backups (BAK001): each such
finding names the unreadable input instead of claiming the object does not exist, and
a reference used by several flows is reported once."""

from __future__ import annotations

import textwrap
from pathlib import Path

from conftest import scan_path

POLICY = """
apiVersion: kubematrix.dev/v1alpha1
kind: Policy
traffic:
  flows:
    - {from: shop/web, to: shop/api, ports: [8080]}
    - {from: shop/api, to: shop/web, ports: [80]}
securityContext:
  workloads:
    shop/api:
      runAsNonRoot: true
"""
BROKEN = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop
spec: {}
"""
WEB = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx}]
"""


def write(root: Path, rel: str, text: str) -> None:
    (root / rel).write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")


def test_missing_references_name_the_unreadable_file_and_are_reported_once(tmp_path):
    write(tmp_path, "kubematrix.yaml", POLICY)
    write(tmp_path, "api.yaml", BROKEN)
    write(tmp_path, "web.yaml", WEB)
    result = scan_path(tmp_path)
    parse = [f for f in result.findings if f.rule_id == "INPUT001"]
    assert [(f.loc.path, f.detail) for f in parse] == [("api.yaml", "parse")]
    net006 = [f for f in result.findings if f.rule_id == "NET006"]
    assert len(net006) == 1, [f.message for f in net006]  # shop/api is used by two flows: one finding
    assert "api.yaml" in net006[0].message and "could not be read" in net006[0].message
    assert "2 documented flows" in net006[0].message
    sec007 = [f for f in result.findings if f.rule_id == "SEC007"]
    assert len(sec007) == 1 and "api.yaml" in sec007[0].message


def test_without_unreadable_input_a_missing_reference_is_just_missing(tmp_path):
    write(tmp_path, "kubematrix.yaml", POLICY)
    write(tmp_path, "web.yaml", WEB)
    result = scan_path(tmp_path)
    net006 = [f for f in result.findings if f.rule_id == "NET006"]
    assert len(net006) == 1 and "could not be read" not in net006[0].message
