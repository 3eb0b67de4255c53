"""The reference system (fixtures/blog-system): graph, mermaid picture, explain."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import pytest
from conftest import in_process

from scanner.loader.documents import load
from scanner.model.build import build_model
from scanner.network import build_traffic_for_policy
from scanner.network.explain import explain
from scanner.network.graph import graph_to_json, mermaid_id, to_mermaid
from scanner.policy import load_policy

REPO = Path(__file__).resolve().parents[2]
ROOT = REPO / "fixtures" / "blog-system"


@lru_cache(maxsize=1)
def blog():
    inputs = load([ROOT], REPO)
    model = build_model(inputs.objects)
    policy = load_policy(ROOT / "kubematrix.yaml", REPO)
    return build_traffic_for_policy(model, inputs.objects, policy), policy


def run(*args: str):
    return in_process(list(args), REPO)


def test_no_policy_is_rejected():
    t, _ = blog()
    assert t.rejections == []


def test_graph_has_the_seed_flows():
    """§3 of the seed: Ingress -> web :80 (from all), web -> was :8080 (web only, L7),
    was -> mysql :3306, mysql-backup -> mysql :3306, mysql-backup -> S3 :443."""
    t, _ = blog()
    g = t.graph
    assert g.edges["entity:world", "blog-system/web"]["ports"].describe() == "TCP 80"
    assert g.edges["actor:ingress-controller", "blog-system/web"]["ports"].describe() == "TCP 80"
    web_was = g.edges["blog-system/web", "blog-system/was"]
    assert web_was["ports"].describe() == "TCP 8080"
    assert web_was["ingress"].l7 and web_was["ingress"].l7[0].kind == "http"
    assert g.edges["blog-system/was", "blog-system/mysql"]["ports"].describe() == "TCP 3306"
    assert g.edges["blog-system/mysql-backup", "blog-system/mysql"]["ports"].describe() == "TCP 3306"
    assert g.edges["blog-system/mysql-backup", "fqdn:s3.ap-northeast-2.amazonaws.com"]["ports"].describe() == "TCP 443"
    # "web only": nothing else reaches was on 8080, and nothing reaches mysql but its three clients
    assert {u for u, _ in g.in_edges("blog-system/was")} == {"blog-system/web", "actor:prometheus"}
    assert {u for u, _ in g.in_edges("blog-system/mysql")} == {
        "blog-system/was",
        "blog-system/mysql-backup",
        "blog-system/mysql-exporter",
    }
    # the backup job accepts nothing (ingress: [{}]) and reaches only mysql, DNS and S3
    assert not list(g.in_edges("blog-system/mysql-backup"))
    assert {v for _, v in g.out_edges("blog-system/mysql-backup")} == {
        "blog-system/mysql",
        "actor:kube-dns",
        "fqdn:s3.ap-northeast-2.amazonaws.com",
        "fqdn:*.s3.ap-northeast-2.amazonaws.com",
    }


def test_mermaid_draws_the_picture():
    result = run("graph", "fixtures/blog-system", "--format", "mermaid")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert text.startswith("flowchart LR\n")
    m = mermaid_id
    for src, label, dst in (
        ("entity:world", "TCP 80", "blog-system/web"),
        ("blog-system/web", "TCP 8080 · HTTP", "blog-system/was"),
        ("blog-system/was", "TCP 3306", "blog-system/mysql"),
        ("blog-system/mysql-backup", "TCP 3306", "blog-system/mysql"),
        ("blog-system/mysql-backup", "TCP 443", "fqdn:s3.ap-northeast-2.amazonaws.com"),
        ("blog-system/mysql-exporter", "TCP 3306", "blog-system/mysql"),
        ("actor:prometheus", "TCP 9104", "blog-system/mysql-exporter"),
        ("blog-system/web", "TCP 15012", "actor:istiod"),
    ):
        assert f'  {m(src)} -->|"{label}"| {m(dst)}\n' in text
    t, _ = blog()
    assert text == to_mermaid(t.graph)


def test_explain_web_to_was_names_both_sides():
    result = run(
        "explain", "fixtures/blog-system", "--from", "blog-system/web", "--to", "blog-system/was", "--port", "8080"
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "egress of blog-system/web" in out and "ingress of blog-system/was" in out
    assert (
        "CiliumNetworkPolicy blog-system/web-isolation spec.egress[0].toPorts[0] (fixtures/blog-system/blog-system/cilium-netpol.yaml:"
        in out
    )
    assert (
        "CiliumNetworkPolicy blog-system/was-isolation spec.ingress[0].toPorts[0] (fixtures/blog-system/blog-system/cilium-netpol.yaml:"
        in out
    )
    assert "L7 HTTP on TCP 8080" in out


def test_explain_denied_flow_says_default_deny():
    result = run(
        "explain", "fixtures/blog-system", "--from", "blog-system/was", "--to", "blog-system/web", "--port", "80"
    )
    assert result.returncode == 1
    assert "default deny" in result.stdout and "web-isolation" in result.stdout


def test_explain_l7_request():
    t, _ = blog()
    text, ok = explain(t, "blog-system/web", "blog-system/was", "TCP", 8080, {"method": "GET", "path": "/admin"})
    assert not ok and "DENIED at L7" in text
    text, ok = explain(t, "blog-system/web", "blog-system/was", "TCP", 8080, {"method": "GET", "path": "/api/posts"})
    assert ok


def _flows():
    _, policy = blog()
    out = []
    for f in policy.section("traffic")["flows"]:
        for p in f["ports"]:
            port, _, proto = str(p).partition("/")
            out.append(pytest.param(f["from"], f["to"], proto or "TCP", int(port), id=f"{f['from']}->{f['to']}:{p}"))
    return out


@pytest.mark.parametrize("src, dst, proto, port", _flows())
def test_explain_answers_every_documented_flow(src, dst, proto, port):
    t, _ = blog()
    text, ok = explain(t, src, dst, proto, port, None)
    assert text.strip()
    if src == "entity:all":
        # every source is admitted by web's ingress; sources isolated for egress cannot send
        assert "ingress of the destinations admits it for 11 of 11 pairs" in text
    else:
        assert ok, text
        assert "allowed by" in text


def test_graph_json_is_deterministic_and_follows_the_contract():
    a = run("graph", "fixtures/blog-system", "--format", "json")
    b = run("graph", "fixtures/blog-system", "--format", "json")
    assert a.returncode == 0 and a.stdout == b.stdout
    data = json.loads(a.stdout)
    assert set(data) >= {"nodes", "edges"}
    ids = [n["id"] for n in data["nodes"]]
    assert ids == sorted(ids)
    for n in data["nodes"]:
        assert set(n) == {"id", "kind", "namespace", "name", "labels"}
        assert n["kind"] in ("workload", "actor", "entity", "cidr", "fqdn")
    keys = [(e["from"], e["to"]) for e in data["edges"]]
    assert keys == sorted(keys)
    for e in data["edges"]:
        assert {"from", "to", "ports", "http", "allowedBy"} <= set(e)
        for p in e["ports"]:
            assert p["protocol"] in ("TCP", "UDP", "SCTP", "ICMP")
            if p["protocol"] in ("TCP", "UDP", "SCTP"):
                assert 1 <= p["port"] <= p["endPort"] <= 65535
            else:
                assert "port" not in p
        assert set(e["allowedBy"]) == {"egress", "ingress"}
    web_was = next(e for e in data["edges"] if e["from"] == "blog-system/web" and e["to"] == "blog-system/was")
    assert web_was["ports"] == [{"protocol": "TCP", "port": 8080, "endPort": 8080}]
    assert {(h["method"], h["path"]) for h in web_was["http"]} == {
        ("GET", "/api/.*"),
        ("POST", "/api/.*"),
        ("PUT", "/api/.*"),
        ("DELETE", "/api/.*"),
        ("GET", "/actuator/.*"),
    }
    assert web_was["allowedBy"]["ingress"][0]["policy"] == "CiliumNetworkPolicy blog-system/was-isolation"
    world_web = next(e for e in data["edges"] if e["from"] == "entity:world" and e["to"] == "blog-system/web")
    assert world_web["allowedBy"]["egress"] == [
        {"reason": "not enforced: entity:world is not a Cilium endpoint (or enforcement is off)"}
    ]
    assert graph_to_json(blog()[0].graph)["edges"] == data["edges"]


def test_dot_output():
    result = run("graph", "fixtures/blog-system", "--format", "dot")
    assert result.returncode == 0
    assert result.stdout.startswith("digraph traffic {")
    assert '"blog-system/web" -> "blog-system/was" [label="TCP 8080 · HTTP"];' in result.stdout


def test_cli_usage_errors():
    assert run("explain", "fixtures/blog-system", "--from", "x", "--to", "blog-system/web").returncode == 2
    assert (
        run(
            "explain",
            "fixtures/blog-system",
            "--from",
            "blog-system/web",
            "--to",
            "blog-system/was",
            "--protocol",
            "GRE",
        ).returncode
        == 2
    )
    assert run("graph", "no/such/dir").returncode == 2
    assert run("graph", "fixtures/blog-system", "--format", "svg").returncode == 2


def test_explain_through_a_service_uses_the_target_port():
    """Policies see the backend pod and its target port (ref §0, pitfall 9)."""
    result = run(
        "explain",
        "fixtures/blog-system",
        "--from",
        "blog-system/was",
        "--to",
        "service:blog-system/mysql",
        "--port",
        "3306",
        "--format",
        "json",
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    (verdict,) = data["verdicts"]
    layers = verdict.pop("layers")  # the example has Istio objects: each layer's own verdict too
    assert verdict == {
        "from": "blog-system/was",
        "to": "blog-system/mysql",
        "protocol": "TCP",
        "port": 3306,
        "status": "allowed",
        "allowedPorts": [{"protocol": "TCP", "port": 3306, "endPort": 3306}],
    }
    assert (layers["cilium"], layers["istio"]) == ("allowed", "allow")
