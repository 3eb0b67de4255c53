"""The blog-system example proves both layers: Cilium's was-isolation and Istio's was-authz
(fixtures/blog-system/blog-system/istio-authz.yaml) each enforce the documented
"web -> was on :8080, web only (L7: Istio + Cilium HTTP rule)"."""

from __future__ import annotations

import pytest
from conftest import REPO

from scanner.cli.app import _run
from scanner.loader.documents import load
from scanner.model.build import build_model
from scanner.network import build_traffic_for_policy
from scanner.network.istio.compose import compose
from scanner.policy import load_policy

BLOG = REPO / "fixtures" / "blog-system"


@pytest.fixture(scope="module")
def blog():
    inputs = load([BLOG], BLOG)
    policy = load_policy(BLOG / "kubematrix.yaml", BLOG)
    return build_traffic_for_policy(build_model(inputs.objects, "blog-system"), inputs.objects, policy)


def test_who_has_a_sidecar(blog):
    modes = {e: blog.istio.dataplane(e).mode for e in blog.endpoints if e.startswith("blog-system/")}
    assert modes == {
        "blog-system/mysql": "sidecar",
        "blog-system/mysql-backup": "none",
        "blog-system/mysql-exporter": "sidecar",
        "blog-system/was": "sidecar",
        "blog-system/web": "sidecar",
    }
    assert 'sidecar.istio.io/inject="false"' in blog.istio.dataplane("blog-system/mysql-backup").reason


@pytest.mark.parametrize(
    "method, path, status, denied_by",
    [
        ("GET", "/api/posts", "allowed", ()),
        ("DELETE", "/api/posts/7", "allowed", ()),
        ("GET", "/actuator/health", "allowed", ()),
        ("POST", "/actuator/shutdown", "l7-denied", ("Cilium", "Istio")),
        ("GET", "/admin", "l7-denied", ("Cilium", "Istio")),
    ],
)
def test_web_to_was_requests_need_both_layers(blog, method, path, status, denied_by):
    c = compose(blog, "blog-system/web", "blog-system/was", "TCP", 8080, {"method": method, "path": path})
    assert c.status == status
    assert c.denied_by == denied_by


def test_the_istio_layer_alone_would_hold_the_line(blog):
    # Cilium's HTTP rule and Istio's rule agree; Istio denies on its own what Cilium would let through.
    c = compose(blog, "blog-system/web", "blog-system/was", "TCP", 8080, {"method": "PATCH", "path": "/api/x"})
    assert c.istio.status == "deny" and c.cilium.status == "l7-denied"


def test_prometheus_scrapes_envoy_metrics_outside_the_sidecar(blog):
    c = compose(blog, "actor:prometheus", "blog-system/was", "TCP", 15020)
    assert c.status == "allowed" and c.istio.status == "not-enforced"


def test_plaintext_is_refused_by_was_mtls(blog):
    c = compose(blog, "blog-system/mysql-backup", "blog-system/was", "TCP", 8080, {"method": "GET", "path": "/api/x"})
    assert c.status == "denied" and c.denied_by == ("Cilium", "Istio")
    assert c.istio.decisions[0].stage == "mtls"


def test_explain_shows_both_layers_side_by_side(capsys):
    code = _run(
        [
            "explain",
            str(BLOG),
            "--from",
            "blog-system/web",
            "--to",
            "blog-system/was",
            "--port",
            "8080",
            "--method",
            "GET",
            "--path",
            "/admin",
        ],
        "kubematrix",
    )
    out = capsys.readouterr().out
    assert code == 1
    first = out.splitlines()[0]
    assert first.endswith("GET /admin: DENIED at L7 (HTTP 403)")
    table = out.split("\n\n")[1]
    assert "Cilium  DENIED (L7)" in table and "Istio   DENIED" in table
    assert "AuthorizationPolicy blog-system/was-authz" in table
    assert "rules[1] (" in out and "no to entry matches port 8080, GET /admin" in out
    assert "mTLS: STRICT (PeerAuthentication blog-system/was-mtls workload STRICT" in out


def test_explain_exit_code_follows_the_composed_verdict(capsys):
    ok = _run(
        [
            "explain",
            str(BLOG),
            "--from",
            "blog-system/web",
            "--to",
            "blog-system/was",
            "--port",
            "8080",
            "--method",
            "GET",
            "--path",
            "/api/posts",
        ],
        "kubematrix",
    )
    assert ok == 0
    assert "ALLOWED" in capsys.readouterr().out.splitlines()[0]
