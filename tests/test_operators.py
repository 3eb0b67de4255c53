"""Pods the prometheus-operator creates from custom resources take part in the graph
(scanner/model/operators.py).  The tree is written for the test in the shape
kube-prometheus ships: a Prometheus ``k8s`` and an Alertmanager ``main`` in namespace
monitoring, whose NetworkPolicies select the operator-made pods by labels that exist
only because ``spec.podMetadata.labels`` adds them."""

from __future__ import annotations

from pathlib import Path

from conftest import scan_path

from scanner.loader.documents import load
from scanner.model.build import build_model
from scanner.network import build_traffic

TREE = """
apiVersion: monitoring.coreos.com/v1
kind: Prometheus
metadata: {name: k8s, namespace: monitoring}
spec:
  podMetadata:
    labels:
      app.kubernetes.io/component: prometheus
      app.kubernetes.io/instance: k8s
      app.kubernetes.io/name: prometheus
      app.kubernetes.io/part-of: kube-prometheus
  serviceAccountName: prometheus-k8s
  replicas: 2
---
apiVersion: monitoring.coreos.com/v1
kind: Alertmanager
metadata: {name: main, namespace: monitoring}
spec:
  podMetadata:
    labels: {app.kubernetes.io/component: alert-router, app.kubernetes.io/part-of: kube-prometheus}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: prometheus-k8s, namespace: monitoring}
spec:
  podSelector:
    matchLabels:
      app.kubernetes.io/component: prometheus
      app.kubernetes.io/instance: k8s
      app.kubernetes.io/name: prometheus
      app.kubernetes.io/part-of: kube-prometheus
  policyTypes: [Egress, Ingress]
  egress: [{}]
  ingress:
  - from: [{podSelector: {matchLabels: {app.kubernetes.io/name: prometheus}}}]
    ports: [{port: 9090, protocol: TCP}, {port: 8080, protocol: TCP}]
  - from: [{podSelector: {matchLabels: {app.kubernetes.io/name: grafana}}}]
    ports: [{port: 9090, protocol: TCP}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: grafana, namespace: monitoring}
spec:
  selector: {matchLabels: {app.kubernetes.io/name: grafana}}
  template:
    metadata: {labels: {app.kubernetes.io/name: grafana}}
    spec: {containers: [{name: grafana, image: grafana/grafana:11}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: intruder, namespace: monitoring}
spec:
  selector: {matchLabels: {app: intruder}}
  template:
    metadata: {labels: {app: intruder}}
    spec: {containers: [{name: x, image: x}]}
"""


def traffic(tmp_path: Path):
    (tmp_path / "kube-prometheus.yaml").write_text(TREE, encoding="utf-8")
    inputs = load([tmp_path], tmp_path)
    model = build_model(inputs.objects)
    return model, build_traffic(model, inputs.objects)


def test_operator_pods_carry_the_operators_labels_ports_and_service_account(tmp_path):
    model, _ = traffic(tmp_path)
    prom = next(w for w in model.operated if w.kind == "Prometheus")
    assert prom.ref == "monitoring/k8s" and prom.service_account == "prometheus-k8s"
    assert prom.generated_by == "prometheus-operator"
    assert dict(prom.pod_labels) == {
        "app.kubernetes.io/component": "prometheus",
        "app.kubernetes.io/instance": "k8s",
        "app.kubernetes.io/name": "prometheus",
        "app.kubernetes.io/part-of": "kube-prometheus",
        "app.kubernetes.io/managed-by": "prometheus-operator",
        "operator.prometheus.io/name": "k8s",
        "operator.prometheus.io/shard": "0",
        "prometheus": "k8s",
    }
    assert {(p.name, p.number, p.protocol) for c in prom.containers for p in c.ports} == {
        ("web", 9090, "TCP"),
        ("reloader-web", 8080, "TCP"),
    }
    am = next(w for w in model.operated if w.kind == "Alertmanager")
    assert am.pod_labels["alertmanager"] == "main" and am.pod_labels["app.kubernetes.io/name"] == "alertmanager"
    assert {(p.name, p.protocol) for c in am.containers for p in c.ports} >= {("mesh-tcp", "TCP"), ("mesh-udp", "UDP")}
    # only manifest workloads are judged by the SecurityContext and Pod Security rules
    assert [w.ref for w in model.workloads] == ["monitoring/grafana", "monitoring/intruder"]


def test_the_network_policy_selects_the_operator_pods(tmp_path):
    _, t = traffic(tmp_path)
    assert t.verdict("monitoring/grafana", "monitoring/k8s", "TCP", 9090).allowed
    assert not t.verdict("monitoring/grafana", "monitoring/k8s", "TCP", 8080).allowed
    assert not t.verdict("monitoring/intruder", "monitoring/k8s", "TCP", 9090).allowed
    # Prometheus scrapes the alertmanager: allowed (nothing isolates the alertmanager)
    assert t.verdict("monitoring/k8s", "monitoring/main", "TCP", 9093).allowed
    assert t.verdict("monitoring/k8s", "monitoring/main", "TCP", 9093).ingress.isolated is False


def test_shards_are_separate_identities(tmp_path):
    (tmp_path / "p.yaml").write_text(
        """
apiVersion: monitoring.coreos.com/v1
kind: Prometheus
metadata: {name: k8s, namespace: monitoring}
spec: {shards: 2, thanos: {image: thanos}}
""",
        encoding="utf-8",
    )
    model = build_model(load([tmp_path], tmp_path).objects)
    assert [(w.name, w.pod_labels["operator.prometheus.io/shard"]) for w in model.operated] == [
        ("k8s", "0"),
        ("k8s-shard-1", "1"),
    ]
    assert ("grpc", 10901) in {(p.name, p.number) for c in model.operated[0].containers for p in c.ports}


def test_a_zero_trust_namespace_judges_the_operator_pods_too(tmp_path):
    (tmp_path / "kube-prometheus.yaml").write_text(TREE, encoding="utf-8")
    (tmp_path / "kubematrix.yaml").write_text(
        """apiVersion: kubematrix.dev/v1alpha1
kind: Policy
traffic:
  zeroTrust: {namespaces: [monitoring]}
  flows:
    - {from: monitoring/grafana, to: monitoring/k8s, ports: [9090]}
""",
        encoding="utf-8",
    )
    found = [
        (f.rule_id, f.subject, f.detail.split(":")[0])
        for f in scan_path(tmp_path).active()
        if f.rule_id in ("NET002", "NET004") and "k8s" in f.subject
    ]
    # k8s's ingress admits every app.kubernetes.io/name=prometheus pod of the namespace on
    # 9090 and 8080 (a label anyone can set), not documented; its egress [{}] (a
    # NetworkPolicy rule without peers or ports) opens everything.
    assert ("NET002", "monitoring/k8s", "ingress") in found
    assert ("NET002", "monitoring/k8s", "egress") in found
