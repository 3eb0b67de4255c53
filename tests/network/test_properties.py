"""Hypothesis properties of the traffic graph.

* adding an allow rule (that does not itself isolate) never removes an allowed flow;
* adding a deny rule never adds one;
* document order and duplicate documents never change the graph;
* a policy that selects nothing changes nothing;
* CNP ``ingress: [{}]`` on a workload removes all its inbound flows (except from the
  local host, which Cilium always admits).
"""

from __future__ import annotations

import json

import yaml
from helpers import objects_from
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scanner.model.build import build_model
from scanner.network import build_traffic
from scanner.network.graph import graph_to_json

NAMESPACES = ("a", "b")
APPS = ("x", "y", "z")
PORTS = ("80", "443", "8080", "http", "0")
CIDRS = ("10.0.0.0/8", "10.1.0.0/16", "0.0.0.0/0", "1.1.1.1/32")
ENTITIES = ("world", "cluster", "host", "all")


@st.composite
def pods(draw):
    out = []
    for i in range(draw(st.integers(2, 5))):
        ns = draw(st.sampled_from(NAMESPACES))
        labels = {"app": draw(st.sampled_from(APPS))}
        if draw(st.booleans()):
            labels["tier"] = draw(st.sampled_from(("1", "2")))
        port = draw(st.sampled_from((80, 8080, 9090)))
        out.append(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": f"p{i}", "namespace": ns, "labels": labels},
                "spec": {
                    "containers": [{"name": "c", "image": "x", "ports": [{"name": "http", "containerPort": port}]}]
                },
            }
        )
    return out


@st.composite
def peer(draw, prefix: str):
    kind = draw(st.sampled_from(("endpoints", "entities", "cidr", "none")))
    if kind == "endpoints":
        sel: dict = {"matchLabels": {"app": draw(st.sampled_from(APPS))}}
        if draw(st.booleans()):
            sel["matchLabels"]["k8s:io.kubernetes.pod.namespace"] = draw(st.sampled_from(NAMESPACES))
        return {f"{prefix}Endpoints": [sel]}
    if kind == "entities":
        return {f"{prefix}Entities": [draw(st.sampled_from(ENTITIES))]}
    if kind == "cidr":
        return {f"{prefix}CIDR": [draw(st.sampled_from(CIDRS))]}
    return {}


@st.composite
def item(draw, prefix: str, deny: bool):
    out = dict(draw(peer(prefix)))
    if draw(st.booleans()):
        p = draw(st.sampled_from(PORTS))
        out["toPorts"] = [{"ports": [{"port": p, "protocol": draw(st.sampled_from(("TCP", "UDP", "ANY")))}]}]
    return out


@st.composite
def cnp(draw, name: str, *, deny: bool = False, non_isolating: bool = False):
    ns = draw(st.sampled_from(NAMESPACES))
    direction = draw(st.sampled_from(("ingress", "egress")))
    prefix = "from" if direction == "ingress" else "to"
    key = direction + ("Deny" if deny else "")
    spec = {
        "endpointSelector": {"matchLabels": {"app": draw(st.sampled_from(APPS))}} if draw(st.booleans()) else {},
        key: [draw(item(prefix, deny)) for _ in range(draw(st.integers(1, 2)))],
    }
    if non_isolating:
        spec["enableDefaultDeny"] = {"ingress": False, "egress": False}
    return {
        "apiVersion": "cilium.io/v2",
        "kind": "CiliumNetworkPolicy",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }


@st.composite
def knp(draw, name: str):
    ns = draw(st.sampled_from(NAMESPACES))
    rule = {}
    if draw(st.booleans()):
        rule["from"] = [{"podSelector": {"matchLabels": {"app": draw(st.sampled_from(APPS))}}}]
    if draw(st.booleans()):
        rule["ports"] = [{"port": int(draw(st.sampled_from(("80", "443"))))}]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"podSelector": {"matchLabels": {"app": draw(st.sampled_from(APPS))}}, "ingress": [rule]},
    }


@st.composite
def clusters(draw):
    docs = draw(pods())
    for i in range(draw(st.integers(0, 3))):
        docs.append(draw(cnp(f"c{i}", deny=draw(st.booleans()))))
    for i in range(draw(st.integers(0, 2))):
        docs.append(draw(knp(f"k{i}")))
    return docs


def build(docs):
    text = yaml.safe_dump_all(docs, sort_keys=True)
    objs = objects_from(text)
    return build_traffic(build_model(objs), objs, None, [], ["entity:host"])


def edges(t) -> dict:
    return {(u, v): d["ports"] for u, v, d in t.graph.edges(data=True)}


def common(before: dict, after: dict, nodes) -> tuple[dict, dict]:
    b = {k: v for k, v in before.items() if k[0] in nodes and k[1] in nodes}
    a = {k: v for k, v in after.items() if k[0] in nodes and k[1] in nodes}
    return b, a


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(clusters(), st.data())
def test_adding_an_allow_rule_never_removes_a_flow(docs, data):
    before = build(docs)
    extra = data.draw(cnp("added-allow", non_isolating=True))
    after = build(docs + [extra])
    b, a = common(edges(before), edges(after), set(before.endpoints))
    for k, ports in b.items():
        assert k in a and a[k].covers(ports), (k, ports.describe(), a.get(k))


@SETTINGS
@given(clusters(), st.data())
def test_adding_a_deny_rule_never_adds_a_flow(docs, data):
    before = build(docs)
    extra = data.draw(cnp("added-deny", deny=True))
    after = build(docs + [extra])
    b, a = common(edges(before), edges(after), set(before.endpoints))
    for k, ports in a.items():
        assert k in b and b[k].covers(ports), (k, ports.describe(), b.get(k))


@SETTINGS
@given(clusters(), st.randoms(use_true_random=False), st.data())
def test_document_order_and_duplicates_never_change_the_graph(docs, rnd, data):
    expected = json.dumps(graph_to_json(build(docs).graph), sort_keys=True)
    shuffled = list(docs)
    rnd.shuffle(shuffled)
    dupes = data.draw(st.lists(st.sampled_from(docs), max_size=3)) if docs else []
    got = build(shuffled + dupes)

    # provenance names file lines, which move with the order: compare without them
    def strip(g):
        return [
            (e["from"], e["to"], json.dumps(e["ports"], sort_keys=True), json.dumps(e["http"], sort_keys=True))
            for e in g["edges"]
        ]

    exp = json.loads(expected)
    assert strip(graph_to_json(got.graph)) == strip(exp)
    assert [n["id"] for n in graph_to_json(got.graph)["nodes"]] == [n["id"] for n in exp["nodes"]]


@SETTINGS
@given(clusters(), st.data())
def test_policy_selecting_nothing_changes_nothing(docs, data):
    before = build(docs)
    extra = data.draw(cnp("selects-nothing", deny=data.draw(st.booleans())))
    extra["spec"]["endpointSelector"] = {"matchLabels": {"app": "no-such-app"}}
    after = build(docs + [extra])
    b, a = common(edges(before), edges(after), set(before.endpoints))
    assert b == a


@SETTINGS
@given(clusters(), st.data())
def test_cnp_empty_ingress_rule_removes_all_inbound_flows(docs, data):
    """Alone, the wall leaves no inbound flow but the local host's; with other policies, every
    remaining inbound flow is one an explicit allow rule grants (allows are a union)."""
    pod_docs = [d for d in docs if d["kind"] == "Pod"]
    target = data.draw(st.sampled_from(pod_docs))
    ns, labels = target["metadata"]["namespace"], target["metadata"]["labels"]
    wall = {
        "apiVersion": "cilium.io/v2",
        "kind": "CiliumNetworkPolicy",
        "metadata": {"name": "wall", "namespace": ns},
        "spec": {"endpointSelector": {"matchLabels": dict(labels)}, "ingress": [{}]},
    }
    dst = f"{ns}/{target['metadata']['name']}"
    alone = build(pod_docs + [wall])
    assert [u for u, _ in alone.graph.in_edges(dst)] in ([], ["entity:host"])
    t = build(docs + [wall])
    for u, _ in t.graph.in_edges(dst):
        side = t.graph.edges[u, dst]["ingress"]
        assert side.isolated and (side.allows or side.localhost), u
