"""Unknown fields in policies (rule NET008): reported with their line and a "did you
mean", and dropped before the engine reads the policy, as a lenient API server does
(issue 8).  Schemas: cilium/cilium pkg/policy/api (json tags), k8s.io/api networking/v1."""

from __future__ import annotations

from helpers import allowed, traffic
from test_semantics import BASE, cnp, knp

from scanner.loader.schema_fields import suggest


def line_of(text: str, needle: str) -> int:
    return text.splitlines().index(needle) + 1


def test_singular_peer_field_is_dropped_and_opens_the_ports_to_every_peer():
    text = BASE + cnp(
        "p",
        "a",
        """
endpointSelector: {matchLabels: {app: api}}
ingress:
- fromEndpoint: [{matchLabels: {app: web}}]
  toPorts: [{ports: [{port: "8080", protocol: TCP}]}]
""",
    )
    t = traffic(text)
    assert [(f.path, f.suggestion, f.loc.line) for f in t.parsed.pruned] == [
        (
            "spec.ingress[0].fromEndpoint",
            "fromEndpoints",
            line_of(text, "  - fromEndpoint: [{matchLabels: {app: web}}]"),
        )
    ]
    assert "every peer" in t.parsed.pruned[0].effect
    assert t.rejections == []
    assert allowed(t, "entity:world", "a/api", port=8080)  # the graph shows the widened rule


def test_singular_ports_field_is_dropped_and_opens_every_port():
    t = traffic(
        BASE
        + cnp(
            "p",
            "a",
            """
endpointSelector: {matchLabels: {app: api}}
ingress:
- fromEndpoints: [{matchLabels: {app: web}}]
  toPort: [{ports: [{port: "8080", protocol: TCP}]}]
""",
        )
    )
    assert [(f.key, f.suggestion) for f in t.parsed.pruned] == [("toPort", "toPorts")]
    assert "every port" in t.parsed.pruned[0].effect
    assert allowed(t, "a/web", "a/api", port=22)


def test_upper_case_l7_field_is_dropped_and_the_l7_restriction_disappears():
    t = traffic(
        BASE
        + cnp(
            "p",
            "a",
            """
endpointSelector: {matchLabels: {app: api}}
ingress:
- fromEndpoints: [{matchLabels: {app: web}}]
  toPorts:
  - ports: [{port: "8080", protocol: TCP}]
    rules: {HTTP: [{method: GET}]}
""",
        )
    )
    assert [(f.key, f.suggestion) for f in t.parsed.pruned] == [("HTTP", "http")]
    assert "every request" in t.parsed.pruned[0].effect
    assert t.verdict("a/web", "a/api", "TCP", 8080, {"method": "DELETE", "path": "/"}).status == "allowed"


def test_unknown_key_in_a_label_selector_is_dropped_not_rejected():
    """Unknown selector keys are pruned like any other field (the CRD's EndpointSelector
    has matchLabels and matchExpressions only): the selector widens, no NET007."""
    t = traffic(
        BASE
        + cnp(
            "p",
            "a",
            """
endpointSelector: {matchLabels: {app: api}}
ingress:
- fromEndpoints: [{matchLabel: {app: web}}]
""",
        )
    )
    assert t.rejections == []
    assert [(f.path, f.suggestion) for f in t.parsed.pruned] == [
        ("spec.ingress[0].fromEndpoints[0].matchLabel", "matchLabels")
    ]
    assert allowed(t, "a/web", "a/api") and not allowed(t, "entity:world", "a/api")


def test_network_policy_fields_are_checked_too():
    t = traffic(
        BASE
        + knp(
            "p",
            "a",
            """
podSelector: {matchLabels: {app: api}}
policyTypes: [Ingress]
ingres:
- from: [{podSelector: {}}]
""",
        )
    )
    assert [(f.path, f.suggestion) for f in t.parsed.pruned] == [("spec.ingres", "ingress")]
    assert not allowed(t, "a/web", "a/api")  # policyTypes Ingress with no rules: isolated


def test_fields_of_deny_rules_that_only_allow_rules_have_are_dropped():
    t = traffic(
        BASE
        + cnp(
            "p",
            "a",
            """
endpointSelector: {matchLabels: {app: web}}
egressDeny:
- toFQDNs: [{matchName: a.com}]
  toPorts: [{ports: [{port: "443", protocol: TCP}]}]
""",
        )
    )
    assert [f.key for f in t.parsed.pruned] == ["toFQDNs"]


def test_known_fields_are_never_reported():
    t = traffic(
        BASE
        + cnp(
            "p",
            "a",
            """
description: everything a rule may carry
labels: [{key: owner, value: team-a, source: k8s}]
enableDefaultDeny: {ingress: true, egress: false}
endpointSelector: {matchLabels: {app: api}, matchExpressions: [{key: tier, operator: NotIn, values: [x]}]}
ingress:
- fromEndpoints: [{matchLabels: {app: web}}]
  toPorts:
  - ports: [{port: "8080", endPort: 8090, protocol: TCP}]
    rules: {http: [{method: GET, path: /x, host: a.com, headers: [X-A], headerMatches: [{name: X-B, value: b}]}]}
- fromCIDRSet: [{cidr: 10.0.0.0/8, except: [10.1.0.0/16]}]
- fromEntities: [world]
  icmps: [{fields: [{type: 8, family: IPv4}]}]
egress:
- toFQDNs: [{matchPattern: "*.a.com"}]
  toPorts: [{ports: [{port: "443"}], serverNames: [x.a.com]}]
- toEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: kube-system, k8s-app: kube-dns}}]
  toPorts: [{ports: [{port: "53", protocol: ANY}], rules: {dns: [{matchPattern: "*"}]}}]
- toServices: [{k8sService: {serviceName: s, namespace: a}}]
""",
        )
    )
    assert t.parsed.pruned == []


def test_suggestions():
    known = {"fromEndpoints", "fromCIDR", "toPorts", "http", "from", "ingress", "matchLabels"}
    assert suggest("fromEndpoint", known) == "fromEndpoints"
    assert suggest("HTTP", known) == "http"
    assert suggest("form", known) == "from"
    assert suggest("ingres", known) == "ingress"
    assert suggest("matchlabels", known) == "matchLabels"
    assert suggest("completelyDifferent", known) is None
