"""Objects defined twice (same group, kind, namespace and name), issue 8.

``kubectl apply -f DIR`` visits files in lexical order, directory by directory
(k8s.io/cli-runtime pkg/resource/visitor.go ``ExpandPathsToFileVisitors`` uses
``filepath.Walk``), and each apply overwrites the previous one: the last definition
is live.  Every definition is reported (INPUT006) and the model, the traffic graph
and every check use the live one."""

from __future__ import annotations

import textwrap
from pathlib import Path

from conftest import scan_path

from scanner.loader.documents import load
from scanner.model.build import build_model
from scanner.network import build_traffic

DEPLOY = """
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web, namespace: shop}}
spec:
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web, tier: {tier}}}}}
    spec:
      containers:
      - name: web
        image: nginx
        securityContext: {{runAsNonRoot: {nonroot}}}
"""


def write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")


def test_every_definition_is_reported_and_names_the_live_one(tmp_path):
    write(tmp_path, "a.yaml", DEPLOY.format(tier="old", nonroot="false"))
    write(tmp_path, "b.yaml", DEPLOY.format(tier="new", nonroot="true"))
    result = scan_path(tmp_path)
    dups = sorted((f.loc.path, f.loc.line) for f in result.findings if f.rule_id == "INPUT006")
    assert dups == [("a.yaml", 4), ("b.yaml", 4)]
    first = next(f for f in result.findings if f.rule_id == "INPUT006" and f.loc.path == "a.yaml")
    assert "b.yaml:4" in first.message and "lexical order" in first.message
    assert "overwritten" in first.message
    # checks judge the live definition only: runAsNonRoot true there, so no PSS finding from a.yaml
    assert not [f for f in result.findings if f.rule_id.startswith("PSS-") and f.loc.path == "a.yaml"]


def test_the_model_and_the_graph_use_the_last_definition(tmp_path):
    write(tmp_path, "a.yaml", DEPLOY.format(tier="old", nonroot="true"))
    write(tmp_path, "b.yaml", DEPLOY.format(tier="new", nonroot="true"))
    write(
        tmp_path,
        "policy.yaml",
        """
    apiVersion: cilium.io/v2
    kind: CiliumNetworkPolicy
    metadata: {name: only-new, namespace: shop}
    spec:
      endpointSelector: {matchLabels: {tier: new}}
      ingress: [{}]
    """,
    )
    inputs = load([tmp_path], tmp_path)
    model = build_model(inputs.objects)
    assert [dict(w.pod_labels) for w in model.workloads] == [{"app": "web", "tier": "new"}]
    traffic = build_traffic(model, inputs.objects)
    assert not traffic.verdict("entity:world", "shop/web", "TCP", 80).allowed  # isolated: tier=new is live


def test_policies_use_the_last_definition(tmp_path):
    write(tmp_path, "a.yaml", DEPLOY.format(tier="x", nonroot="true"))
    for name, body in (("1-open.yaml", "egress: [{toEntities: [all]}]"), ("2-closed.yaml", "egress: [{}]")):
        write(
            tmp_path,
            name,
            f"""
        apiVersion: cilium.io/v2
        kind: CiliumNetworkPolicy
        metadata: {{name: web-egress, namespace: shop}}
        spec:
          endpointSelector: {{matchLabels: {{app: web}}}}
          {body}
        """,
        )
    inputs = load([tmp_path], tmp_path)
    traffic = build_traffic(build_model(inputs.objects), inputs.objects)
    assert not traffic.verdict("shop/web", "entity:world", "TCP", 443).allowed  # 2-closed.yaml is applied last


def test_apply_order_walks_directories_like_kubectl(tmp_path):
    """filepath.Walk sorts the names of one directory: 'a' (a directory) comes before
    'a.yaml', so a/b.yaml is applied before a.yaml although 'a.yaml' < 'a/b.yaml' as text."""
    write(tmp_path, "a.yaml", DEPLOY.format(tier="top", nonroot="true"))
    write(tmp_path, "a/b.yaml", DEPLOY.format(tier="nested", nonroot="true"))
    model = build_model(load([tmp_path], tmp_path).objects)
    assert [w.pod_labels["tier"] for w in model.workloads] == ["top"]


def test_identical_copies_are_reported_as_identical(tmp_path):
    write(tmp_path, "a.yaml", DEPLOY.format(tier="x", nonroot="true"))
    write(tmp_path, "copy/a.yaml", DEPLOY.format(tier="x", nonroot="true"))
    dups = [f for f in scan_path(tmp_path).findings if f.rule_id == "INPUT006"]
    assert len(dups) == 2 and all("identical" in f.message for f in dups)


def test_same_name_in_other_namespace_or_kind_is_not_a_duplicate(tmp_path):
    write(tmp_path, "a.yaml", DEPLOY.format(tier="x", nonroot="true"))
    write(tmp_path, "b.yaml", DEPLOY.format(tier="x", nonroot="true").replace("namespace: shop", "namespace: blog"))
    write(tmp_path, "c.yaml", DEPLOY.format(tier="x", nonroot="true").replace("kind: Deployment", "kind: StatefulSet"))
    assert [f for f in scan_path(tmp_path).findings if f.rule_id == "INPUT006"] == []


def test_misspelt_workload_field_is_reported_and_the_workload_is_checked_without_it(tmp_path):
    """INPUT005: a typo in a securityContext is dropped by a lenient API server; the pod then
    runs without runAsNonRoot, which the PSS finding says independently."""
    write(
        tmp_path,
        "pod.yaml",
        """
    apiVersion: v1
    kind: Pod
    metadata: {name: p, namespace: shop}
    spec:
      securityContext: {runAsNonroot: true}
      containers: [{name: c, image: x}]
    """,
    )
    write(
        tmp_path,
        "ns.yaml",
        """
    apiVersion: v1
    kind: Namespace
    metadata: {name: shop, labels: {pod-security.kubernetes.io/enforce: restricted}}
    """,
    )
    result = scan_path(tmp_path)
    typo = [f for f in result.findings if f.rule_id == "INPUT005"]
    assert [(f.loc.path, f.loc.line) for f in typo] == [("pod.yaml", 6)]
    assert "did you mean 'runAsNonRoot'" in typo[0].message
    assert any(f.rule_id == "PSS-runAsNonRoot" for f in result.findings)
