"""The graph JSON's Istio extension (version 1): present only with Istio objects."""

from __future__ import annotations

import json

from conftest import REPO
from istio_helpers import authz, mesh, meshed_ns, pod

from scanner.cli.app import _run
from scanner.network.graph import graph_to_json

BLOG = REPO / "fixtures" / "blog-system"


def test_blog_system_graph_carries_istio_constraints(capsys):
    assert _run(["graph", str(BLOG), "--format", "json"], "kubematrix") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["istio"]["version"] == 1 and data["istio"]["rootNamespace"] == "istio-system"
    assert data["istio"]["dataplanes"]["blog-system/mysql-backup"]["mode"] == "none"
    edges = {(e["from"], e["to"]): e for e in data["edges"]}
    (piece,) = edges["blog-system/web", "blog-system/was"]["istio"]
    assert piece["status"] == "restricted" and piece["protocol"] == "http"
    assert [(r["rule"], r["operations"][0]["paths"]) for r in piece["allowedBy"]] == [
        ("rules[0]", ["/api/*"]),
        ("rules[1]", ["/actuator/*"]),
    ]
    (metrics,) = edges["actor:prometheus", "blog-system/was"]["istio"]
    assert metrics["status"] == "not-enforced" and "15020" in metrics["reason"]
    assert all("istio" in e for e in data["edges"])


def test_without_istio_objects_the_json_contract_is_unchanged():
    t = mesh(meshed_ns("a") + pod("x", "a") + pod("y", "a"))
    data = graph_to_json(t.graph)
    assert "istio" not in data and all("istio" not in e for e in data["edges"])


def test_an_istio_deny_shows_on_the_edge_it_keeps():
    t = mesh(
        meshed_ns("a")
        + pod("x", "a")
        + pod("y", "a")
        + authz("d", "a", "selector: {matchLabels: {app: y}}\naction: DENY\nrules: [{}]")
    )
    edge = next(e for e in graph_to_json(t.graph)["edges"] if (e["from"], e["to"]) == ("a/x", "a/y"))
    tcp = [p for p in edge["istio"] if p["ports"][0]["protocol"] == "TCP"]
    assert {p["status"] for p in tcp} == {"deny", "not-enforced"}  # 15020/15021/15090 bypass the sidecar
    denied = next(p for p in tcp if p["status"] == "deny")
    assert denied["ports"][0] == {"protocol": "TCP", "port": 1, "endPort": 15019}
