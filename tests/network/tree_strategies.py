"""Hypothesis strategies for small random trees: three workloads in the zero-trust
namespace ``zt`` (some isolated by random CNP rules), one in namespace ``other``."""

from __future__ import annotations

import yaml
from hypothesis import strategies as st

APPS = ("a", "b", "c")
PEERS = (
    "app:a",
    "app:b",
    "app:c",
    "all-in-ns",
    "other",
    "entity:world",
    "entity:cluster",
    "entity:host",
    "cidr",
    "ports-only",
    "any-ns-app-a",
)
PORTS = (None, "80", "8080", "http", "53/UDP", "9000-9010")


@st.composite
def rule_items(draw, direction: str):
    prefix = "from" if direction == "ingress" else "to"
    items = []
    for _ in range(draw(st.integers(0, 3))):
        peer = draw(st.sampled_from(PEERS))
        item: dict = {}
        if peer.startswith("app:"):
            item[f"{prefix}Endpoints"] = [{"matchLabels": {"app": peer[4:]}}]
        elif peer == "all-in-ns":
            item[f"{prefix}Endpoints"] = [{}]
        elif peer == "any-ns-app-a":
            item[f"{prefix}Endpoints"] = [
                {
                    "matchLabels": {"app": "a"},
                    "matchExpressions": [{"key": "k8s:io.kubernetes.pod.namespace", "operator": "Exists"}],
                }
            ]
        elif peer == "other":
            item[f"{prefix}Endpoints"] = [{"matchLabels": {"k8s:io.kubernetes.pod.namespace": "other"}}]
        elif peer.startswith("entity:"):
            item[f"{prefix}Entities"] = [peer[7:]]
        elif peer == "cidr":
            item[f"{prefix}CIDR"] = [draw(st.sampled_from(("10.0.0.0/8", "10.1.0.0/16")))]
        port = draw(st.sampled_from(PORTS))
        if port is not None or peer == "ports-only":
            port = port or "443"
            number, _, proto = port.partition("/")
            lo, _, hi = number.partition("-")
            spec = {"port": lo, "protocol": proto or "TCP"}
            if hi:
                spec["endPort"] = int(hi)
            item["toPorts"] = [{"ports": [spec]}]
        items.append(item)
    return items


@st.composite
def cluster_manifests(draw) -> str:
    docs = []
    for app in APPS + ("o",):
        ns = "other" if app == "o" else "zt"
        docs.append(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": app, "namespace": ns},
                "spec": {
                    "selector": {"matchLabels": {"app": app}},
                    "template": {
                        "metadata": {"labels": {"app": app}},
                        "spec": {
                            "containers": [
                                {"name": "c", "image": "x", "ports": [{"name": "http", "containerPort": 8080}]}
                            ]
                        },
                    },
                },
            }
        )
    for app in APPS:
        spec: dict = {"endpointSelector": {"matchLabels": {"app": app}}}
        for direction in ("ingress", "egress"):
            if draw(st.booleans()):
                spec[direction] = draw(rule_items(direction)) or [{}]
        if len(spec) > 1:
            docs.append(
                {
                    "apiVersion": "cilium.io/v2",
                    "kind": "CiliumNetworkPolicy",
                    "metadata": {"name": f"{app}-policy", "namespace": "zt"},
                    "spec": spec,
                }
            )
    return "".join("---\n" + yaml.safe_dump(d, sort_keys=False) for d in docs)
