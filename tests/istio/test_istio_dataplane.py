"""Whether Istio enforces for a pod, on which ports, with which mTLS mode.

Sources: ``mutatingwebhook.yaml`` and ``pkg/kube/inject/inject.go`` (injection),
``files/injection-template.yaml`` and ``pkg/kube/inject`` ``excludeInboundPort``
(interception), ``pilot/pkg/security/authn/policy_applier.go``
``ComposePeerAuthentication`` (mTLS), ``cni/pkg/util/enablement_selector.go`` and
the l4-policy page (ambient); ref = ../shared/reference/istio-authorization-semantics.md.
"""

from __future__ import annotations

import pytest
from istio_helpers import authz, decide, mesh, meshed_ns, ns, peer_auth, pod, status

from scanner.network.istio.dataplane import mtls_mode
from scanner.network.istio.settings import IstioSettings

DENY_ALL = authz("deny-all", "istio-system", "action: DENY\nrules: [{}]")


def _mode(ns_text: str, **pod_kw) -> str:
    t = mesh(ns_text + pod("p", "x", **pod_kw) + DENY_ALL)
    return t.istio.dataplane("x/p").mode


@pytest.mark.parametrize(
    "ns_labels, pod_kw, expected",
    [
        ({"istio-injection": "enabled"}, {}, "sidecar"),
        (
            {"istio-injection": "enabled"},
            {"annotations": {"sidecar.istio.io/inject": "false"}},
            "none",
        ),  # the seed's backup Job
        ({"istio-injection": "enabled"}, {"labels": {"app": "p", "sidecar.istio.io/inject": "false"}}, "none"),
        (
            {"istio-injection": "enabled"},
            {
                "labels": {"app": "p", "sidecar.istio.io/inject": "true"},
                "annotations": {"sidecar.istio.io/inject": "false"},
            },
            "sidecar",
        ),  # label wins
        ({"istio-injection": "disabled"}, {"labels": {"app": "p", "sidecar.istio.io/inject": "true"}}, "none"),
        ({}, {"annotations": {"sidecar.istio.io/inject": "true"}}, "none"),  # annotation cannot enable (ref pitfall 11)
        ({}, {"labels": {"app": "p", "sidecar.istio.io/inject": "true"}}, "sidecar"),  # objectSelector sees labels
        ({"istio.io/rev": "default"}, {}, "sidecar"),
        ({"istio.io/rev": "canary"}, {}, "none"),  # revision not installed
        ({"istio-injection": "disabled", "istio.io/rev": "default"}, {}, "none"),  # istio-injection wins
        ({"istio-injection": "enabled"}, {"host_network": True}, "none"),
        ({"istio.io/dataplane-mode": "ambient"}, {}, "ambient"),
        ({"istio.io/dataplane-mode": "ambient"}, {"labels": {"app": "p", "istio.io/dataplane-mode": "none"}}, "none"),
        ({}, {"labels": {"app": "p", "istio.io/dataplane-mode": "ambient"}}, "ambient"),
        (
            {"istio-injection": "enabled", "istio.io/dataplane-mode": "ambient"},
            {},
            "sidecar",
        ),  # sidecar pods never enrolled
    ],
)
def test_injection_and_ambient_enrolment(ns_labels, pod_kw, expected):
    assert _mode(ns("x", **ns_labels), **pod_kw) == expected


def test_never_injected_namespaces_and_unknown_namespaces():
    # initializer.go: kube-system and friends are never injected.  A namespace missing from the
    # manifests has unknown labels: the dataplane is unknown, never guessed.
    t = mesh(pod("dns", "kube-system") + pod("p", "elsewhere") + DENY_ALL)
    assert t.istio.dataplane("kube-system/dns").mode == "none"
    assert t.istio.dataplane("elsewhere/p").mode == "unknown"
    d = decide(t, "kube-system/dns", "elsewhere/p", 8080)
    assert d.status == "unknown" and any(u.attribute == "dataplane" for u in d.unknown)


def test_an_unknown_dataplane_only_matters_when_the_sidecar_would_deny():
    # With no proxy Istio allows; if a sidecar would allow too, the gap does not change the verdict.
    t = mesh(pod("p", "elsewhere") + pod("q", "elsewhere") + authz("any", "elsewhere", "rules: [{}]"))
    assert status(t, "elsewhere/q", "elsewhere/p") == "allow"


def test_enable_namespaces_by_default_setting():
    t = mesh(ns("x") + pod("p", "x") + DENY_ALL, istio={"enableNamespacesByDefault": True})
    assert t.istio.dataplane("x/p").mode == "sidecar"


def test_meshed_pods_all_is_network_config_analyzers_model():
    t = mesh(pod("p", "nowhere") + DENY_ALL, istio={"meshedPods": "all"})
    assert t.istio.dataplane("nowhere/p").mode == "sidecar"


@pytest.mark.parametrize(
    "port, annotations, enforced",
    [
        (15020, {}, False),
        (15021, {}, False),
        (15090, {}, False),
        (8080, {}, True),
        (8080, {"traffic.sidecar.istio.io/excludeInboundPorts": "8080,9090"}, False),
        (8080, {"traffic.sidecar.istio.io/includeInboundPorts": "9090"}, False),
        (9090, {"traffic.sidecar.istio.io/includeInboundPorts": "9090"}, True),
    ],
)
def test_inbound_interception(port, annotations, enforced):
    # injection-template.yaml istio-iptables -d "15090,15021,<status port>,<excludeInboundPorts>", -b includeInboundPorts.
    t = mesh(meshed_ns("x") + pod("p", "x", annotations=annotations, ports=(8080, 9090)) + pod("q", "x") + DENY_ALL)
    assert (status(t, "x/q", "x/p", port) == "deny") is enforced


def _pa(mode_text: str, name: str, namespace: str, selector: str = "", created: str | None = None) -> str:
    sel = f"selector: {{matchLabels: {selector}}}\n" if selector else ""
    return peer_auth(name, namespace, sel + mode_text, created)


def _composed_mode(text: str, port: int = 8080, namespace: str = "x", labels=None) -> str:
    t = mesh(meshed_ns("x") + pod("p", "x") + text)
    return mtls_mode(t.istio.parsed.peer_auths, namespace, labels or {"app": "p"}, port, IstioSettings()).mode


def test_peer_authentication_levels_override_narrower_wins():
    # ComposePeerAuthentication: PERMISSIVE, then mesh, namespace, workload; UNSET inherits.
    assert _composed_mode("") == "PERMISSIVE"
    mesh_strict = _pa("mtls: {mode: STRICT}", "mesh", "istio-system")
    assert _composed_mode(mesh_strict) == "STRICT"
    assert _composed_mode(mesh_strict + _pa("mtls: {mode: PERMISSIVE}", "ns", "x")) == "PERMISSIVE"
    assert _composed_mode(mesh_strict + _pa("mtls: {mode: UNSET}", "ns", "x")) == "STRICT"
    wl = _pa("mtls: {mode: DISABLE}\nportLevelMtls: {8080: {mode: STRICT}}", "wl", "x", "{app: p}")
    assert _composed_mode(mesh_strict + wl, 9000) == "DISABLE"
    assert _composed_mode(mesh_strict + wl, 8080) == "STRICT"


def test_selector_policies_in_the_root_namespace_are_ignored():
    # ref §4.1: the proto's header note and the code agree; the selector field comment does not.
    assert _composed_mode(_pa("mtls: {mode: STRICT}", "root", "istio-system", "{app: p}")) == "PERMISSIVE"


def test_two_policies_at_one_level_oldest_wins_or_unknown_without_timestamps():
    a = _pa("mtls: {mode: STRICT}", "a", "x", created="2026-01-01T00:00:00Z")
    b = _pa("mtls: {mode: DISABLE}", "b", "x", created="2026-02-01T00:00:00Z")
    assert _composed_mode(a + b) == "STRICT"
    assert _composed_mode(_pa("mtls: {mode: STRICT}", "a", "x") + _pa("mtls: {mode: DISABLE}", "b", "x")) == "UNKNOWN"


def test_ambient_enforces_only_the_l4_subset():
    # pilot/pkg/serviceregistry/ambient/authorization.go: ALLOW with an L7 item is dropped;
    # DENY loses its L7 items and an entry left empty never matches (ztunnel rbac.rs).
    amb = ns("a", **{"istio.io/dataplane-mode": "ambient"})
    base = amb + pod("srv", "a") + pod("cli", "a", sa="cli")
    allow = mesh(
        base + authz("p", "a", "selector: {matchLabels: {app: srv}}\nrules: [{to: [{operation: {methods: [GET]}}]}]")
    )
    assert status(allow, "a/cli", "a/srv", method="GET", path="/") == "deny"
    deny = mesh(base + authz("p", "a", "action: DENY\nrules: [{to: [{operation: {methods: [GET]}}]}]"))
    assert status(deny, "a/cli", "a/srv", method="GET", path="/") == "allow"
    l4 = mesh(
        base
        + authz(
            "p",
            "a",
            "selector: {matchLabels: {app: srv}}\nrules: [{from: [{source: {principals: ['cluster.local/ns/a/sa/cli']}}]}]",
        )
    )
    assert status(l4, "a/cli", "a/srv") == "allow"


def test_ambient_waypoints_are_undecidable_not_guessed():
    amb = ns("a", **{"istio.io/dataplane-mode": "ambient", "istio.io/use-waypoint": "wp"})
    t = mesh(amb + pod("srv", "a") + pod("cli", "a") + authz("p", "a", "rules: [{}]"))
    d = decide(t, "a/cli", "a/srv")
    assert d.status == "unknown" and any(u.attribute == "waypoint" for u in d.unknown)
