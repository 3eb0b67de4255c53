"""Multi-hop paths on the composed (Cilium AND Istio) graph, and NET011 exposure."""

from __future__ import annotations

import json
import shutil

import networkx as nx
import pytest
from conftest import REPO, scan_path
from istio_helpers import authz, mesh, meshed_ns

from scanner.cli.app import _run
from scanner.network.paths import paths_between, reachability_graph, shortest_avoiding

BLOG = REPO / "fixtures" / "blog-system"
NET011 = REPO / "fixtures" / "rules" / "NET011"


def _cnp(name: str, app: str, ingress: str, egress: str = "- toEntities: [all]") -> str:
    return (
        f"---\napiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {{name: {name}, namespace: shop}}\n"
        f"spec:\n  endpointSelector: {{matchLabels: {{app: {app}}}}}\n  ingress:\n{ingress}\n  egress:\n  {egress}\n"
    )


def _pod(name: str, sa: str) -> str:
    return (
        f"---\napiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: shop, labels: {{app: {name}}}}}\n"
        f"spec:\n  serviceAccountName: {sa}\n  containers: [{{name: c, image: x, ports: [{{containerPort: 5432}}]}}]\n"
    )


# world -> web:8443; web -> api:8080 and db:5432; api -> db:5432 (Cilium allows all of it).
SHOP = (
    meshed_ns("shop")
    + _pod("web", "web")
    + _pod("api", "api")
    + _pod("db", "db")
    + _cnp("web", "web", "  - fromEntities: [world]\n    toPorts: [{ports: [{port: '8443', protocol: TCP}]}]")
    + _cnp(
        "api",
        "api",
        "  - fromEndpoints: [{matchLabels: {app: web}}]\n    toPorts: [{ports: [{port: '8080', protocol: TCP}]}]",
    )
    + _cnp(
        "db",
        "db",
        "  - fromEndpoints: [{matchExpressions: [{key: app, operator: In, values: [web, api]}]}]\n"
        "    toPorts: [{ports: [{port: '5432', protocol: TCP}]}]",
    )
)
DB_FROM_API_ONLY = authz(
    "db",
    "shop",
    """
selector: {matchLabels: {app: db}}
rules: [{from: [{source: {principals: ["cluster.local/ns/shop/sa/api"]}}]}]
""",
)


def _nodes(paths):
    return [p.nodes for p in paths]


def test_paths_are_simple_and_shortest_first():
    g = reachability_graph(mesh(SHOP))
    found = paths_between(g, "entity:world", "shop/db")
    assert _nodes(found) == [
        ("entity:world", "shop/web", "shop/db"),
        ("entity:world", "shop/web", "shop/api", "shop/db"),
    ]
    lengths = [len(p.hops) for p in found]
    assert lengths == sorted(lengths) and lengths  # non-empty, by length
    for p in found:
        assert len(set(p.nodes)) == len(p.nodes)
        assert all(g.has_edge(h.src, h.dst) for h in p.hops)


def test_istio_cuts_a_hop_cilium_allows():
    g = reachability_graph(mesh(SHOP + DB_FROM_API_ONLY))
    assert _nodes(paths_between(g, "entity:world", "shop/db")) == [("entity:world", "shop/web", "shop/api", "shop/db")]
    hop = g.edges["shop/api", "shop/db"]["hop"]
    assert any("AuthorizationPolicy shop/db rules[0]" in text for text in hop.istio)
    assert any("CiliumNetworkPolicy shop/db spec.ingress[0]" in text for text in hop.cilium)


def test_undecidable_istio_hops_count_as_open_and_say_why():
    undecidable = authz(
        "db",
        "shop",
        """
selector: {matchLabels: {app: db}}
rules: [{when: [{key: "request.auth.claims[role]", values: ["dba"]}]}]
""",
    )
    g = reachability_graph(mesh(SHOP + undecidable))
    hop = g.edges["shop/web", "shop/db"]["hop"]
    assert hop.undecidable and "request.auth.claims[role]" in hop.undecidable[0]


def test_node_cut_agrees_with_networkx_connectivity():
    g = reachability_graph(mesh(SHOP))
    assert shortest_avoiding(g, "entity:world", "shop/db", ["shop/api"]).nodes == (
        "entity:world",
        "shop/web",
        "shop/db",
    )
    assert shortest_avoiding(g, "entity:world", "shop/db", ["shop/web"]) is None
    assert not nx.has_path(nx.restricted_view(g, ["shop/web"], []), "entity:world", "shop/db")


def test_blog_system_paths_to_the_database(capsys):
    code = _run(
        ["paths", str(BLOG), "--from", "entity:world", "--to", "blog-system/mysql", "--format", "json"], "kubematrix"
    )
    assert code == 1
    data = json.loads(capsys.readouterr().out)
    paths = [tuple(p["nodes"]) for p in data["paths"]]
    assert ("entity:world", "blog-system/web", "blog-system/was", "blog-system/mysql") in paths
    assert min(len(p) for p in paths) - 1 == 3
    web_was = next(
        h for p in data["paths"] for h in p["hops"] if (h["from"], h["to"]) == ("blog-system/web", "blog-system/was")
    )
    assert web_was["ports"] == [{"protocol": "TCP", "port": 8080, "endPort": 8080}]
    assert any("was-authz rules[0]" in text for text in web_was["istio"])
    assert "Istio" in web_was["http"]


def test_paths_exit_0_when_unreachable_and_usage_errors(capsys):
    assert _run(["paths", str(BLOG), "--from", "entity:world", "--to", "blog-system/mysql-backup"], "kubematrix") == 0
    assert "unreachable" in capsys.readouterr().out
    assert _run(["paths", str(BLOG), "--from", "entity:all", "--to", "blog-system/mysql"], "kubematrix") == 2
    assert _run(["paths", str(BLOG), "--from", "entity:world", "--to", "blog-system/nope"], "kubematrix") == 2


def test_exposure_promise_kept_when_istio_closes_the_shortcut(tmp_path):
    # The NET011 failing fixture's shortcut web -> db is allowed by Cilium; an Istio policy on db
    # admitting only api's identity closes it, so the promise holds on the composed graph.
    case = tmp_path / "case"
    shutil.copytree(NET011 / "fail", case)
    (case / "istio.yaml").write_text(
        meshed_ns("shop").lstrip("-\n")
        + authz(
            "db",
            "shop",
            """
selector: {matchLabels: {app: db}}
rules: [{from: [{source: {principals: ["cluster.local/ns/shop/sa/api"]}}]}]
""",
        )
        + "---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: api, namespace: shop}\n"
    )
    workloads = (case / "workloads.yaml").read_text()
    (case / "workloads.yaml").write_text(
        workloads.replace(
            "containers: [{name: api, image: example/api:1.0}]",
            "serviceAccountName: api\n      containers: [{name: api, image: example/api:1.0}]",
        )
    )
    before = scan_path(NET011 / "fail")
    after = scan_path(case)
    assert [f.detail for f in before.active() if f.rule_id == "NET011"] == ["min-hops", "only-via"]
    assert [f for f in after.active() if f.rule_id == "NET011"] == []
    kept = {r.promise.key: r.status for r in after.promises}
    assert kept["exposure:shop/db:entity:world"] == "kept"


@pytest.mark.parametrize(
    "entry, message",
    [
        ("{workload: shop/nope, onlyVia: [shop/api]}", "cannot be checked: unknown endpoint 'shop/nope'"),
    ],
)
def test_exposure_names_that_resolve_to_nothing(tmp_path, entry, message):
    case = tmp_path / "case"
    shutil.copytree(NET011 / "pass", case)
    (case / "kubematrix.yaml").write_text(
        f"apiVersion: kubematrix.dev/v1alpha1\nkind: Policy\ntraffic:\n  exposure:\n    - {entry}\n"
    )
    (finding,) = [f for f in scan_path(case).active() if f.rule_id == "NET011"]
    assert message in finding.message
