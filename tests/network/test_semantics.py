"""One focused test per semantic rule of the engine, each citing its source.

Abbreviations: ``utils.go`` = cilium/cilium pkg/k8s/apis/cilium.io/utils/utils.go;
``rule_validation.go`` = pkg/policy/api/rule_validation.go; ``knp.go`` =
pkg/policy/k8s/network_policy.go; docs = docs.cilium.io security/policy pages;
ref = ../shared/reference/network-policy-semantics.md (section numbers).
"""

from __future__ import annotations

import pytest
from helpers import allowed, pod, ports, traffic

from scanner.network import Actor

NS_A = """
---
apiVersion: v1
kind: Namespace
metadata: {name: a, labels: {team: red}}
---
apiVersion: v1
kind: Namespace
metadata: {name: b, labels: {team: blue}}
"""


def cnp(name: str, ns: str, spec: str) -> str:
    body = "\n".join("  " + line for line in spec.strip("\n").splitlines())
    return f"---\napiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n{body}\n"


def ccnp(name: str, spec: str) -> str:
    body = "\n".join("  " + line for line in spec.strip("\n").splitlines())
    return f"---\napiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata: {{name: {name}}}\nspec:\n{body}\n"


def knp(name: str, ns: str, spec: str) -> str:
    body = "\n".join("  " + line for line in spec.strip("\n").splitlines())
    return f"---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n{body}\n"


BASE = (
    NS_A
    + pod("web", "a")
    + pod("api", "a", ports=[("http", 8080, "TCP")])
    + pod("db", "b", {"app": "db", "tier": "data"})
)


# --- identities and selectors -----------------------------------------------------


def test_no_policy_allows_everything():
    """Default enforcement: an endpoint is unrestricted until selected (intro.rst) —
    everything the datapath carries: no SCTP unless enable-sctp (bpf/lib/conntrack.h
    ct_extract_ports4 handles SCTP only under ENABLE_SCTP, else DROP_CT_UNKNOWN_PROTO)."""
    assert ports(traffic(BASE, settings={"sctp": True}), "a/web", "b/db") == "all ports and protocols"
    assert ports(traffic(BASE), "a/web", "b/db") == "TCP all; UDP all; ICMP all types; ICMPv6 all types"


def test_peer_selector_is_scoped_to_the_policy_namespace():
    """CNP peer selectors without a namespace key get k8s:io.kubernetes.pod.namespace=<policy ns>
    (utils.go getEndpointSelector; ref §1.2, pitfall 2)."""
    t = traffic(
        BASE
        + pod("web", "b")
        + cnp(
            "p",
            "a",
            """
endpointSelector: {matchLabels: {app: api}}
ingress:
- fromEndpoints: [{matchLabels: {app: web}}]
""",
        )
    )
    assert allowed(t, "a/web", "a/api", port=8080)
    assert not allowed(t, "b/web", "a/api", port=8080)


@pytest.mark.parametrize("key", ["k8s:io.kubernetes.pod.namespace", "io.kubernetes.pod.namespace"])
def test_naming_the_namespace_reaches_other_namespaces(key):
    """A selector mentioning the namespace key (k8s: or any: source) is not scoped (utils.go)."""
    t = traffic(
        BASE
        + cnp(
            "p",
            "b",
            f"""
endpointSelector: {{matchLabels: {{app: db}}}}
ingress:
- fromEndpoints: [{{matchLabels: {{"{key}": a, app: web}}}}]
""",
        )
    )
    assert allowed(t, "a/web", "b/db", port=5432)
    assert not allowed(t, "a/api", "b/db", port=5432)


def test_namespace_expression_exists_selects_every_namespace():
    """matchExpressions on the namespace key suppress the injection too (utils.go HasKey)."""
    t = traffic(
        BASE
        + cnp(
            "p",
            "b",
            """
endpointSelector: {matchLabels: {app: db}}
ingress:
- fromEndpoints: [{matchExpressions: [{key: k8s:io.kubernetes.pod.namespace, operator: Exists}]}]
""",
        )
    )
    assert allowed(t, "a/web", "b/db")
    assert not allowed(t, "entity:world", "b/db")


def test_empty_peer_selector_is_same_namespace_only():
    """toEndpoints: [{}] in a CNP = all pods of the policy namespace, not world (ref pitfall 3, #1957)."""
    t = traffic(
        BASE
        + cnp(
            "p",
            "a",
            """
endpointSelector: {matchLabels: {app: web}}
egress:
- toEndpoints: [{}]
""",
        )
    )
    assert allowed(t, "a/web", "a/api")
    assert not allowed(t, "a/web", "b/db")
    assert not allowed(t, "a/web", "entity:world")


def test_subject_namespace_cannot_be_overridden():
    """A CNP endpointSelector naming another namespace is overwritten with the policy's own
    (utils.go ParseToCiliumRule; ref pitfall 27)."""
    t = traffic(
        BASE
        + cnp(
            "p",
            "a",
            """
endpointSelector: {matchLabels: {"k8s:io.kubernetes.pod.namespace": b}}
ingress:
- {}
""",
        )
    )
    assert not allowed(t, "b/db", "a/web")  # a/web is selected (isolated, nothing allowed)
    assert allowed(t, "a/web", "b/db")  # b/db is not selected
    assert any("overwrites" in n.message for n in t.notes)


def test_any_source_namespace_in_subject_selects_nothing():
    """``io.kubernetes.pod.namespace: other`` (any:) is ANDed with the injected namespace (ref §1.2)."""
    t = traffic(
        BASE
        + cnp(
            "p",
            "a",
            """
endpointSelector: {matchLabels: {io.kubernetes.pod.namespace: b}}
ingress:
- {}
""",
        )
    )
    assert allowed(t, "b/db", "a/web")


@pytest.mark.parametrize("cross, expected", [(True, True), (False, False)])
def test_namespace_label_selector_in_cnp_is_version_dependent(cross, expected):
    """Peers keyed on io.cilium.k8s.namespace.labels.* escape scoping on current main
    (utils.go), were ANDed with the policy namespace before (#18865, #27930)."""
    t = traffic(
        BASE
        + cnp(
            "p",
            "b",
            """
endpointSelector: {matchLabels: {app: db}}
ingress:
- fromEndpoints: [{matchLabels: {io.cilium.k8s.namespace.labels.team: red}}]
""",
        ),
        settings={"namespaceLabelSelectorsCrossNamespace": cross},
    )
    assert allowed(t, "a/web", "b/db") is expected


def test_reserved_selector_is_not_scoped():
    """Selectors keyed on reserved: labels are left alone (utils.go)."""
    t = traffic(
        BASE
        + cnp(
            "p",
            "a",
            """
endpointSelector: {matchLabels: {app: web}}
egress:
- toEndpoints: [{matchLabels: {"reserved:world": ""}}]
""",
        )
    )
    assert allowed(t, "a/web", "entity:world", port=443)
    assert not allowed(t, "a/web", "a/api")


def test_source_prefixes():
    """k8s: matches Kubernetes labels, any: (or no prefix) any source, reserved: reserved
    identities only (pkg/labels; Documentation language.rst "Label sources").  A selector with a
    reserved: key is not namespace-scoped (utils.go), yet matches no pod."""
    t = traffic(
        BASE
        + cnp(
            "p",
            "a",
            """
endpointSelector: {matchLabels: {"k8s:app": api}}
ingress:
- fromEndpoints: [{matchLabels: {"any:app": web}}]
  toPorts: [{ports: [{port: "8080", protocol: TCP}]}]
- fromEndpoints: [{matchLabels: {"reserved:app": db}}]
""",
        )
    )
    assert allowed(t, "a/web", "a/api", port=8080)
    assert not allowed(t, "b/db", "a/api", port=8080)
    assert not allowed(t, "a/web", "a/api", port=9090)


def test_service_account_and_namespace_labels_are_identity_labels():
    """Pods carry io.cilium.k8s.policy.serviceaccount and io.cilium.k8s.namespace.labels.*
    (ref §0, §1.3; cilium-cli client-egress-to-echo-service-account)."""
    t = traffic(
        NS_A
        + pod("c1", "a", sa="client")
        + pod("c2", "a", sa="other")
        + pod("echo", "b")
        + cnp(
            "p",
            "b",
            """
endpointSelector: {matchLabels: {app: echo}}
ingress:
- fromEndpoints: [{matchLabels: {io.cilium.k8s.policy.serviceaccount: client, "k8s:io.kubernetes.pod.namespace": a}}]
""",
        )
    )
    assert allowed(t, "a/c1", "b/echo")
    assert not allowed(t, "a/c2", "b/echo")


def test_match_labels_and_expressions_are_anded_notin_matches_missing_keys():
    """matchLabels AND every matchExpressions entry; NotIn/DoesNotExist match pods without
    the key (Kubernetes label selectors; ref pitfall 21)."""
    t = traffic(
        NS_A
        + pod("x", "a", {"app": "x", "tier": "front"})
        + pod("y", "a", {"app": "y"})
        + pod("z", "a", {"app": "z", "tier": "db"})
        + pod("dst", "a")
        + cnp(
            "p",
            "a",
            """
endpointSelector: {matchLabels: {app: dst}}
ingress:
- fromEndpoints:
  - matchExpressions:
    - {key: tier, operator: NotIn, values: [db]}
    - {key: app, operator: In, values: [x, y, z]}
""",
        )
    )
    assert allowed(t, "a/x", "a/dst")
    assert allowed(t, "a/y", "a/dst")  # no tier label: NotIn matches
    assert not allowed(t, "a/z", "a/dst")


@pytest.mark.parametrize("op, expect_x, expect_y", [("Exists", True, False), ("DoesNotExist", False, True)])
def test_exists_and_does_not_exist(op, expect_x, expect_y):
    """Exists / DoesNotExist operators (Kubernetes label selectors)."""
    t = traffic(
        NS_A
        + pod("x", "a", {"app": "x", "other": "1"})
        + pod("y", "a", {"app": "y"})
        + pod("dst", "a")
        + cnp(
            "p",
            "a",
            f"""
endpointSelector: {{matchLabels: {{app: dst}}}}
ingress:
- fromEndpoints: [{{matchExpressions: [{{key: other, operator: {op}}}]}}]
""",
        )
    )
    assert allowed(t, "a/x", "a/dst") is expect_x
    assert allowed(t, "a/y", "a/dst") is expect_y


def test_label_filter_drops_pod_template_hash():
    """Cilium's identity label filter drops pod-template-hash etc. (pkg/labelsfilter; ref §1.4,
    pitfall 19): a selector on it never matches."""
    t = traffic(
        NS_A
        + pod("x", "a", {"app": "x", "pod-template-hash": "abc"})
        + pod("dst", "a")
        + cnp(
            "p",
            "a",
            """
endpointSelector: {matchLabels: {app: dst}}
ingress:
- fromEndpoints: [{matchLabels: {pod-template-hash: abc}}]
""",
        )
    )
    assert not allowed(t, "a/x", "a/dst")


# --- CCNP ------------------------------------------------------------------------------


def test_ccnp_subject_and_peer_span_all_namespaces_but_not_world():
    """CCNP: no namespace injected in the subject; peers without a namespace key get
    'namespace Exists' (utils.go; ref §1.2)."""
    t = traffic(
        BASE
        + ccnp(
            "c",
            """
endpointSelector: {}
ingress:
- fromEndpoints: [{}]
""",
        )
    )
    assert allowed(t, "a/web", "b/db")
    assert not allowed(t, "entity:world", "b/db")
    assert not allowed(t, "entity:world", "a/web")


# --- default deny ---------------------------------------------------------------------


def test_default_deny_is_per_direction():
    """An ingress-only policy leaves egress open (rule_validation.go Sanitize; ref pitfall 14)."""
    t = traffic(
        BASE
        + cnp(
            "p",
            "a",
            """
endpointSelector: {matchLabels: {app: web}}
ingress:
- fromEndpoints: [{matchLabels: {app: api}}]
""",
        )
    )
    assert allowed(t, "a/web", "b/db")
    assert not allowed(t, "b/db", "a/web")


def test_deny_only_policy_isolates():
    """A rule with only egressDeny still enables egress default deny (deny.rst table;
    cilium-cli client-egress-to-cidr-deny-default; ref pitfall 5)."""
    t = traffic(
        BASE
        + cnp(
            "p",
            "a",
            """
endpointSelector: {matchLabels: {app: web}}
egressDeny:
- toEntities: [world]
""",
        )
    )
    assert not allowed(t, "a/web", "a/api")
    assert not allowed(t, "a/web", "entity:world")


def test_cnp_ingress_empty_rule_denies_all_knp_empty_rule_allows_all():
    """CNP ingress: [{}] = default deny with nothing allowed; NetworkPolicy ingress: [{}] =
    allow everything (ref pitfall 1; knp.go wildcard peer)."""
    t1 = traffic(BASE + cnp("p", "a", "endpointSelector: {matchLabels: {app: web}}\ningress:\n- {}\n"))
    t2 = traffic(
        BASE + knp("p", "a", "podSelector: {matchLabels: {app: web}}\ningress:\n- {}\n"), settings={"sctp": True}
    )
    assert not allowed(t1, "a/api", "a/web")
    assert ports(t2, "a/api", "a/web") == "all ports and protocols"
    assert allowed(t2, "entity:world", "a/web")


def test_empty_ingress_list_does_nothing():
    """ingress: [] (empty list) does not enable default deny (Sanitize uses len() > 0)."""
    t = traffic(
        BASE
        + cnp(
            "p",
            "a",
            """
endpointSelector: {matchLabels: {app: web}}
ingress: []
egress:
- toEndpoints: [{matchLabels: {app: api}}]
""",
        )
    )
    assert allowed(t, "b/db", "a/web")


def test_enable_default_deny_false():
    """enableDefaultDeny: {ingress: false}: the rule adds its allows/denies without isolating
    (PR #30572, intro.rst); another isolating policy still isolates (ref §1.5, §3)."""
    spec = """
endpointSelector: {matchLabels: {app: web}}
enableDefaultDeny: {ingress: false}
ingress:
- fromEndpoints: [{matchLabels: {app: api}}]
ingressDeny:
- fromEndpoints: [{matchLabels: {app: db, "k8s:io.kubernetes.pod.namespace": b}}]
"""
    t = traffic(BASE + cnp("p", "a", spec))
    assert allowed(t, "entity:world", "a/web")
    assert not allowed(t, "b/db", "a/web")
    t2 = traffic(
        BASE + cnp("p", "a", spec) + knp("k", "a", "podSelector: {matchLabels: {app: web}}\npolicyTypes: [Ingress]\n")
    )
    assert not allowed(t2, "entity:world", "a/web")
    assert allowed(t2, "a/api", "a/web")
    t3 = traffic(BASE + cnp("p", "a", spec), settings={"enableDefaultDenyField": False})
    assert not allowed(t3, "entity:world", "a/web")


def test_enable_default_deny_true_without_rules_does_nothing():
    """enableDefaultDeny.ingress: true without ingress rules is not sufficient (#35558)."""
    t = traffic(
        BASE
        + cnp(
            "p",
            "a",
            """
endpointSelector: {matchLabels: {app: web}}
enableDefaultDeny: {ingress: true}
egress:
- toEntities: [all]
""",
        )
    )
    assert allowed(t, "a/api", "a/web")


@pytest.mark.parametrize(
    "mode, world_to_web, web_to_world", [("always", False, False), ("never", True, True), ("default", True, False)]
)
def test_enforcement_modes(mode, world_to_web, web_to_world):
    """policyEnforcementMode default/always/never (intro.rst "Policy Enforcement Modes")."""
    t = traffic(
        BASE
        + cnp(
            "p",
            "a",
            """
endpointSelector: {matchLabels: {app: web}}
egressDeny:
- toEntities: [world]
""",
        ),
        settings={"policyEnforcementMode": mode},
    )
    assert allowed(t, "entity:world", "a/api") is world_to_web
    assert allowed(t, "a/web", "entity:world") is web_to_world


def test_deny_beats_allow_across_kinds():
    """A CCNP ingressDeny overrides a NetworkPolicy allow (deny.rst; ref §3, pitfall 6)."""
    t = traffic(
        BASE
        + knp(
            "k",
            "a",
            """
podSelector: {matchLabels: {app: api}}
ingress:
- from: [{podSelector: {matchLabels: {app: web}}}]
""",
        )
        + ccnp(
            "c",
            """
endpointSelector: {matchLabels: {app: api}}
ingressDeny:
- fromEndpoints: [{matchLabels: {app: web}}]
  toPorts: [{ports: [{port: "8080", protocol: TCP}]}]
""",
        )
    )
    assert not allowed(t, "a/web", "a/api", port=8080)
    assert allowed(t, "a/web", "a/api", port=9090)
    v = t.verdict("a/web", "a/api", "TCP", 8080)
    assert v.ingress.denies and v.ingress.denies[0].entry.origin.kind == "CiliumClusterwideNetworkPolicy"


def test_both_sides_must_allow():
    """Connection = egress(src) AND ingress(dst) (ref §0, pitfall 15)."""
    t = traffic(
        BASE
        + cnp(
            "w",
            "a",
            """
endpointSelector: {matchLabels: {app: web}}
egress:
- toEndpoints: [{matchLabels: {app: api}}]
""",
        )
        + cnp(
            "p",
            "a",
            """
endpointSelector: {matchLabels: {app: api}}
ingress:
- fromEndpoints: [{matchLabels: {app: db}}]
""",
        )
    )
    v = t.verdict("a/web", "a/api", "TCP", 8080)
    assert v.egress.allowed.contains("TCP", 8080) and not v.ingress.allowed.contains("TCP", 8080)
    assert v.status == "denied"


def test_replies_are_implicit():
    """Replies of an allowed connection are not evaluated (conntrack; cilium-cli all-ingress-deny)."""
    t = traffic(BASE + cnp("p", "a", "endpointSelector: {matchLabels: {app: web}}\ningress:\n- {}\n"))
    assert allowed(t, "a/web", "entity:world", port=443)


# --- entities ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "entity, peer, expected",
    [
        ("world", "entity:world", True),
        ("world", "b/db", False),
        ("cluster", "b/db", True),
        ("cluster", "entity:host", True),
        ("cluster", "entity:world", False),
        ("host", "entity:host", True),
        ("host", "entity:remote-node", False),
        ("remote-node", "entity:remote-node", True),
        ("kube-apiserver", "entity:kube-apiserver", True),
        ("all", "entity:world", True),
        ("all", "b/db", True),
        ("none", "b/db", False),
        ("health", "entity:health", True),
    ],
)
def test_entities(entity, peer, expected):
    """toEntities mapping (pkg/policy/api/entity.go EntitySelectorMapping, InitEntities)."""
    t = traffic(
        BASE
        + cnp(
            "p",
            "a",
            f"""
endpointSelector: {{matchLabels: {{app: web}}}}
egress:
- toEntities: [{entity}]
""",
        ),
        extra=[peer],
    )
    assert allowed(t, "a/web", peer, port=443) is expected


def test_local_host_is_always_allowed_in():
    """Ingress from the local host is always allowed (allow-localhost=always in Kubernetes mode;
    ref §1.8)."""
    t = traffic(
        BASE + cnp("p", "a", "endpointSelector: {matchLabels: {app: web}}\ningress:\n- {}\n"),
        extra=["entity:host", "entity:remote-node"],
    )
    assert allowed(t, "entity:host", "a/web")
    assert not allowed(t, "entity:remote-node", "a/web")


# --- CIDR ---------------------------------------------------------------------------------


def test_cidr_set_with_except():
    """toCIDRSet cidr minus except; the except is its own more specific identity
    (cilium-cli to-cidr-external; ref §1.8)."""
    t = traffic(
        BASE
        + cnp(
            "p",
            "a",
            """
endpointSelector: {matchLabels: {app: web}}
egress:
- toCIDRSet: [{cidr: 1.0.0.0/8, except: [1.0.0.1/32]}]
""",
        ),
        extra=["cidr:1.1.1.1/32", "cidr:1.0.0.1/32", "cidr:2.2.2.2/32"],
    )
    assert allowed(t, "a/web", "cidr:1.1.1.1/32", port=443)
    assert not allowed(t, "a/web", "cidr:1.0.0.1/32", port=443)
    assert not allowed(t, "a/web", "cidr:2.2.2.2/32", port=443)


def test_cidr_never_matches_pods():
    """CIDR rules (and KNP ipBlock) never match Cilium-managed pods by default (#19601, #9209;
    ref pitfall 7)."""
    t = traffic(
        BASE
        + knp(
            "k",
            "b",
            """
podSelector: {}
ingress:
- from: [{ipBlock: {cidr: 0.0.0.0/0}}]
""",
        )
    )
    assert not allowed(t, "a/web", "b/db")
    assert allowed(t, "entity:world", "b/db")


def test_bare_ip_in_to_cidr_is_a_host_prefix():
    """toCIDR accepts a bare IP (/32) (rule_validation.go CIDR.sanitize)."""
    t = traffic(
        BASE + cnp("p", "a", "endpointSelector: {matchLabels: {app: web}}\negress:\n- toCIDR: [8.8.8.8]\n"),
        extra=["cidr:8.8.8.8/32", "cidr:8.8.4.4/32"],
    )
    assert allowed(t, "a/web", "cidr:8.8.8.8", port=53)
    assert not allowed(t, "a/web", "cidr:8.8.4.4", port=53)


# --- FQDN ----------------------------------------------------------------------------------

DNS = """
- toEndpoints: [{matchLabels: {"k8s:io.kubernetes.pod.namespace": kube-system, k8s-app: kube-dns}}]
  toPorts:
  - ports: [{port: "53", protocol: ANY}]
    rules:
      dns: [{matchPattern: "*"}]
"""


def test_to_fqdns_needs_dns_visibility():
    """toFQDNs allows nothing unless a DNS L7 rule on the same pod lets it resolve the name
    (docs "DNS based"; ref §1.8, pitfall 22)."""
    spec = """
endpointSelector: {matchLabels: {app: web}}
egress:
- toFQDNs: [{matchName: api.example.com}]
  toPorts: [{ports: [{port: "443", protocol: TCP}]}]
"""
    t1 = traffic(BASE + cnp("p", "a", spec), with_kube_dns=True)
    t2 = traffic(BASE + cnp("p", "a", spec + DNS), with_kube_dns=True)
    assert not allowed(t1, "a/web", "fqdn:api.example.com", port=443)
    assert t1.verdict("a/web", "fqdn:api.example.com", "TCP", 443).egress.fqdn_without_dns
    assert allowed(t2, "a/web", "fqdn:api.example.com", port=443)
    assert allowed(t2, "a/web", "actor:kube-dns", "UDP", 53)


def test_dns_rule_must_cover_the_name():
    """The DNS proxy refuses names its rules do not allow, so toFQDNs learns nothing (ref §1.8)."""
    t = traffic(
        BASE
        + cnp(
            "p",
            "a",
            """
endpointSelector: {matchLabels: {app: web}}
egress:
- toFQDNs: [{matchName: api.example.com}]
- toEndpoints: [{matchLabels: {"k8s:io.kubernetes.pod.namespace": kube-system, k8s-app: kube-dns}}]
  toPorts:
  - ports: [{port: "53", protocol: UDP}]
    rules:
      dns: [{matchPattern: "*.other.org"}]
""",
        ),
        with_kube_dns=True,
    )
    assert not allowed(t, "a/web", "fqdn:api.example.com", port=443)


@pytest.mark.parametrize(
    "pattern, name, expected",
    [
        ("*.cilium.io", "a.cilium.io", True),
        ("*.cilium.io", "cilium.io", False),
        ("*.cilium.io", "a.b.cilium.io", False),
        ("**.cilium.io", "a.b.cilium.io", True),
        ("**.cilium.io", "cilium.io", False),
        ("sub*.cilium.io", "subdomain.cilium.io", True),
        ("*", "anything.example", True),
    ],
)
def test_match_pattern_wildcards(pattern, name, expected):
    """matchPattern: '*' within one label, '**.' any depth (pkg/fqdn/matchpattern; ref pitfall 23)."""
    t = traffic(
        BASE
        + cnp(
            "p",
            "a",
            f"""
endpointSelector: {{matchLabels: {{app: web}}}}
egress:
- toFQDNs: [{{matchPattern: "{pattern}"}}]
"""
            + DNS,
        ),
        with_kube_dns=True,
        extra=[f"fqdn:{name}"],
    )
    assert allowed(t, "a/web", f"fqdn:{name}", port=443) is expected


def test_fqdn_peer_is_world():
    """An FQDN's addresses are world identities: toEntities world covers them (cilium-cli
    to-entities-world)."""
    t = traffic(
        BASE
        + cnp(
            "p",
            "a",
            "endpointSelector: {matchLabels: {app: web}}\negress:\n- toEntities: [world]\n"
            "  toPorts: [{ports: [{port: '80', protocol: TCP}]}]\n",
        ),
        extra=["fqdn:one.one.one.one"],
    )
    assert allowed(t, "a/web", "fqdn:one.one.one.one", port=80)
    assert not allowed(t, "a/web", "fqdn:one.one.one.one", port=443)


# --- ports ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sctp, expected",
    [
        (True, "TCP 8000-8100; UDP 8000-8100; SCTP 8000-8100"),
        (False, "TCP 8000-8100; UDP 8000-8100"),  # Cilium's default: the datapath drops SCTP
    ],
)
def test_port_range_and_any_protocol(sctp, expected):
    """port + endPort; protocol omitted = ANY = TCP+UDP+SCTP, never ICMP (l4.go; ref §1.9;
    pkg/policy/rule.go mergeL4Filter); SCTP only when the datapath carries it (enable-sctp)."""
    t = traffic(
        BASE
        + cnp(
            "p",
            "a",
            """
endpointSelector: {matchLabels: {app: api}}
ingress:
- fromEndpoints: [{matchLabels: {app: web}}]
  toPorts: [{ports: [{port: "8000", endPort: 8100}]}]
""",
        ),
        settings={"sctp": sctp},
    )
    assert ports(t, "a/web", "a/api") == expected
    assert not allowed(t, "a/web", "a/api", "ICMP", None)


def test_port_zero_means_all_ports_of_the_protocol():
    """port "0" = every port of that protocol (l4.go)."""
    t = traffic(
        BASE
        + cnp(
            "p",
            "a",
            """
endpointSelector: {matchLabels: {app: api}}
ingress:
- fromEndpoints: [{matchLabels: {app: web}}]
  toPorts: [{ports: [{port: "0", protocol: UDP}]}]
""",
        )
    )
    assert ports(t, "a/web", "a/api") == "UDP all"


def test_named_port_resolves_on_the_destination():
    """Named ports resolve on the destination pod: ingress on the selected pod, egress on each
    peer (ref §1.9, pitfall 18)."""
    t = traffic(
        NS_A
        + pod("src", "a")
        + pod("d1", "a", {"app": "d"}, ports=[("http", 8080, "TCP")])
        + pod("d2", "a", {"app": "d"}, ports=[("http", 9090, "TCP")])
        + pod("d3", "a", {"app": "d"})
        + cnp(
            "p",
            "a",
            """
endpointSelector: {matchLabels: {app: src}}
egress:
- toEndpoints: [{matchLabels: {app: d}}]
  toPorts: [{ports: [{port: http, protocol: TCP}]}]
""",
        )
    )
    assert ports(t, "a/src", "a/d1") == "TCP 8080"
    assert ports(t, "a/src", "a/d2") == "TCP 9090"
    assert ports(t, "a/src", "a/d3") == "nothing"


def test_l3_only_allows_icmp_ports_block_it():
    """An L3-only rule allows every protocol incl. ICMP; a toPorts rule does not (layer4.rst;
    ref pitfall 16)."""
    t1 = traffic(
        BASE
        + cnp(
            "p",
            "a",
            "endpointSelector: {matchLabels: {app: api}}\ningress:\n- fromEndpoints: [{matchLabels: {app: web}}]\n",
        )
    )
    t2 = traffic(
        BASE
        + cnp(
            "p",
            "a",
            "endpointSelector: {matchLabels: {app: api}}\ningress:\n"
            "- fromEndpoints: [{matchLabels: {app: web}}]\n"
            "  toPorts: [{ports: [{port: '8080', protocol: TCP}]}]\n",
        )
    )
    assert allowed(t1, "a/web", "a/api", "ICMP", None)
    assert not allowed(t2, "a/web", "a/api", "ICMP", None)


def test_icmps_rule():
    """icmps fields allow only the listed types (cilium-cli client-ingress-icmp)."""
    t = traffic(
        BASE
        + cnp(
            "p",
            "a",
            """
endpointSelector: {matchLabels: {app: api}}
ingress:
- fromEndpoints: [{matchLabels: {app: web}}]
  icmps: [{fields: [{type: EchoRequest, family: IPv4}]}]
""",
        )
    )
    assert allowed(t, "a/web", "a/api", "ICMP", 8)
    assert not allowed(t, "a/web", "a/api", "ICMP", 13)
    assert not allowed(t, "a/web", "a/api", "TCP", 8080)


def test_ports_without_peer_mean_every_peer():
    """toPorts without any L3 field = the wildcard selector: every identity, other namespaces and
    world included (rule.go mergeIngress; ref pitfall 4)."""
    t = traffic(
        BASE
        + cnp(
            "p",
            "a",
            """
endpointSelector: {matchLabels: {app: web}}
egress:
- toPorts: [{ports: [{port: "443", protocol: TCP}]}]
""",
        )
    )
    assert allowed(t, "a/web", "b/db", port=443)
    assert allowed(t, "a/web", "entity:world", port=443)
    assert not allowed(t, "a/web", "b/db", port=80)


def test_explicit_empty_peer_list_selects_nothing():
    """fromEndpoints: [] (present, empty) selects nothing even with toPorts (ref §1.6, pitfall 11)."""
    t = traffic(
        BASE
        + cnp(
            "p",
            "a",
            """
endpointSelector: {matchLabels: {app: web}}
egress:
- toEndpoints: []
  toPorts: [{ports: [{port: "443", protocol: TCP}]}]
""",
        )
    )
    assert not allowed(t, "a/web", "entity:world", port=443)


# --- L7 ---------------------------------------------------------------------------------------

L7_SPEC = """
endpointSelector: {matchLabels: {app: api}}
ingress:
- fromEndpoints: [{matchLabels: {app: web}}]
  toPorts:
  - ports: [{port: "8080", protocol: TCP}]
    rules:
      http:
      - {method: GET, path: "/api/.*"}
      - {method: GET, path: /private, headers: ["X-Token: 42"]}
"""


@pytest.mark.parametrize(
    "req, status",
    [
        ({"method": "GET", "path": "/api/x"}, "allowed"),
        (None, "l7-restricted"),
        ({"method": "GET", "path": "/api"}, "l7-denied"),
        ({"method": "HEAD", "path": "/api/x"}, "l7-denied"),
        ({"method": "POST", "path": "/api/x"}, "l7-denied"),
        ({"method": "GET", "path": "/private"}, "l7-denied"),
        ({"method": "GET", "path": "/private", "headers": {"X-Token": "42"}}, "allowed"),
        ({"method": "GET", "path": "/private?x=1", "headers": {"X-Token": "42"}}, "l7-denied"),
    ],
)
def test_http_rules_full_match(req, status):
    """HTTP method/path are full-match regexes (Envoy safe_regex; pkg/envoy getHTTPRule), headers
    'Name: value' exact (ref §1.10, pitfall 24).  Without a request: l7-restricted."""
    t = traffic(BASE + cnp("p", "a", L7_SPEC))
    v = t.verdict("a/web", "a/api", "TCP", 8080, req)
    assert v.status == status


def test_plain_l4_allow_widens_l7_rule():
    """A plain L4 allow on the same port and peer widens the L7 rule to allow-all
    (layer7.rst; appendL7WildcardRule; ref pitfall 25)."""
    t = traffic(
        BASE
        + cnp("p", "a", L7_SPEC)
        + cnp(
            "q",
            "a",
            """
endpointSelector: {matchLabels: {app: api}}
ingress:
- toPorts: [{ports: [{port: "8080", protocol: TCP}]}]
""",
        )
    )
    assert t.verdict("a/web", "a/api", "TCP", 8080, {"method": "POST", "path": "/x"}).status == "allowed"


def test_l7_rules_apply_without_default_deny():
    """enableDefaultDeny: false does not neutralise L7 rules (intro.rst warning; pitfall 26)."""
    t = traffic(BASE + cnp("p", "a", L7_SPEC + "enableDefaultDeny: {ingress: false}\n"))
    assert t.verdict("a/web", "a/api", "TCP", 8080, {"method": "POST", "path": "/x"}).status == "l7-denied"
    assert allowed(t, "b/db", "a/api", port=8080)


# --- Kubernetes NetworkPolicy ----------------------------------------------------------------


def test_knp_policy_types_default():
    """policyTypes omitted: [Ingress] plus Egress if egress rules exist, so an egress-only policy
    also isolates ingress (API defaulting; ref pitfall 30)."""
    t = traffic(
        BASE
        + knp(
            "k",
            "a",
            """
podSelector: {matchLabels: {app: web}}
egress:
- to: [{podSelector: {matchLabels: {app: api}}}]
""",
        )
    )
    assert not allowed(t, "a/api", "a/web")
    assert allowed(t, "a/web", "a/api")
    assert not allowed(t, "a/web", "b/db")


def test_knp_egress_only_policy_types_leaves_ingress_open():
    t = traffic(BASE + knp("k", "a", "podSelector: {matchLabels: {app: web}}\npolicyTypes: [Egress]\n"))
    assert allowed(t, "a/api", "a/web")
    assert not allowed(t, "a/web", "a/api")


def test_knp_namespace_and_pod_selector_and_vs_or():
    """namespaceSelector + podSelector in one peer = AND; as two peers = OR, the podSelector one
    same-namespace only (Kubernetes docs; knp.go; ref pitfall 10)."""
    both = traffic(
        BASE
        + pod("web", "b")
        + knp(
            "k",
            "a",
            """
podSelector: {matchLabels: {app: api}}
ingress:
- from:
  - namespaceSelector: {matchLabels: {team: blue}}
    podSelector: {matchLabels: {app: web}}
""",
        )
    )
    either = traffic(
        BASE
        + pod("web", "b")
        + knp(
            "k",
            "a",
            """
podSelector: {matchLabels: {app: api}}
ingress:
- from:
  - namespaceSelector: {matchLabels: {team: blue}}
  - podSelector: {matchLabels: {app: web}}
""",
        )
    )
    assert (
        allowed(both, "b/web", "a/api") and not allowed(both, "b/db", "a/api") and not allowed(both, "a/web", "a/api")
    )
    assert allowed(either, "b/db", "a/api") and allowed(either, "a/web", "a/api") and allowed(either, "b/web", "a/api")


def test_knp_empty_namespace_selector_is_every_namespace_by_metadata_name():
    """namespaceSelector {} = all namespaces; by name via kubernetes.io/metadata.name (ref pitfall 20)."""
    t = traffic(
        BASE
        + knp(
            "k",
            "b",
            """
podSelector: {}
ingress:
- from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: a}}}]
""",
        )
    )
    assert allowed(t, "a/web", "b/db")
    assert not allowed(t, "entity:world", "b/db")


def test_knp_protocol_defaults_to_tcp():
    """ports without protocol = TCP only: port 53 does not allow DNS over UDP (API default; ref pitfall 17)."""
    t = traffic(
        BASE
        + knp(
            "k",
            "a",
            """
podSelector: {matchLabels: {app: web}}
policyTypes: [Egress]
egress:
- ports: [{port: 53}]
""",
        )
    )
    assert allowed(t, "a/web", "b/db", "TCP", 53)
    assert not allowed(t, "a/web", "b/db", "UDP", 53)


def test_knp_end_port_named_port_and_sctp():
    """endPort ranges, named ports on the destination, SCTP distinct from TCP (API; e2e netpol);
    SCTP reaches nobody unless the datapath carries it (settings.cilium.sctp)."""
    text = BASE + knp(
        "k",
        "a",
        """
podSelector: {matchLabels: {app: api}}
ingress:
- ports: [{port: 30000, endPort: 30010}, {port: http}, {port: 9000, protocol: SCTP}]
""",
    )
    assert ports(traffic(text, settings={"sctp": True}), "a/web", "a/api") == "TCP 8080,30000-30010; SCTP 9000"
    assert ports(traffic(text), "a/web", "a/api") == "TCP 8080,30000-30010"


def test_knp_ipblock_except():
    """ipBlock cidr minus except; never pods (ref §2.2)."""
    t = traffic(
        BASE
        + knp(
            "k",
            "a",
            """
podSelector: {matchLabels: {app: web}}
policyTypes: [Egress]
egress:
- to: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}}]
""",
        ),
        extra=["cidr:10.2.0.0/16", "cidr:10.1.2.0/24"],
    )
    assert allowed(t, "a/web", "cidr:10.2.0.0/16")
    assert not allowed(t, "a/web", "cidr:10.1.2.0/24")
    assert not allowed(t, "a/web", "a/api")


def test_knp_policy_types_ingress_with_egress_rules_is_enforced_by_cilium():
    """Cilium translates spec.egress even when policyTypes lacks Egress (knp.go
    ParseNetworkPolicy); the specification says it is ignored.  We follow Cilium and note it."""
    t = traffic(
        BASE
        + knp(
            "k",
            "a",
            """
podSelector: {matchLabels: {app: web}}
policyTypes: [Ingress]
egress:
- to: [{podSelector: {matchLabels: {app: api}}}]
""",
        )
    )
    assert not allowed(t, "a/web", "b/db")
    assert any("Cilium enforces" in n.message for n in t.notes)


# --- resources, services, validation ------------------------------------------------------------


def test_spec_and_specs_both_count():
    """spec and every specs[i] are imported (cilium.io/v2 Parse; ref pitfall 13)."""
    t = traffic(
        BASE
        + """
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: p, namespace: a}
spec:
  endpointSelector: {matchLabels: {app: web}}
  egress:
  - toEndpoints: [{matchLabels: {app: api}}]
specs:
- endpointSelector: {matchLabels: {app: web}}
  egress:
  - toEndpoints: [{matchLabels: {app: db, "k8s:io.kubernetes.pod.namespace": b}}]
"""
    )
    assert allowed(t, "a/web", "a/api") and allowed(t, "a/web", "b/db")
    assert not allowed(t, "a/web", "entity:world")


def test_rejected_policy_is_not_applied():
    """A policy Cilium rejects enforces nothing: the pod stays open (rule_validation.go; ref §1.1,
    pitfall 12)."""
    t = traffic(
        BASE
        + cnp(
            "p",
            "a",
            """
endpointSelector: {matchLabels: {app: web}}
egress:
- toEndpoints: [{matchLabels: {app: api}}]
  toCIDR: [10.0.0.0/8]
""",
        )
    )
    assert t.rejections and t.rejections[0].message.startswith("combining toEndpoints and toCIDR")
    assert allowed(t, "a/web", "b/db")


def test_rule_with_no_direction_is_rejected_on_current_cilium():
    """Rules with none of ingress/ingressDeny/egress/egressDeny are rejected (Validate; #35558)."""
    spec = "endpointSelector: {matchLabels: {app: web}}\n"
    assert traffic(BASE + cnp("p", "a", spec)).rejections
    assert not traffic(BASE + cnp("p", "a", spec), settings={"rejectEmptyRules": False}).rejections


def test_to_services_selects_backends():
    """toServices k8sService uses the Service's selector as an endpoint selector (service.go docs)."""
    t = traffic(
        BASE
        + """
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: b}
spec:
  selector: {app: db}
  ports: [{port: 5432}]
"""
        + cnp(
            "p",
            "a",
            """
endpointSelector: {matchLabels: {app: web}}
egress:
- toServices: [{k8sService: {serviceName: db, namespace: b}}]
""",
        )
    )
    assert allowed(t, "a/web", "b/db", port=5432)
    assert not allowed(t, "a/web", "a/api")


def test_from_requires_is_anded_into_every_from_endpoints():
    """fromRequires adds its requirement to every fromEndpoints of rules selecting the same
    endpoint (rule.go resolveIngressPolicy; deprecated)."""
    t = traffic(
        NS_A
        + pod("x", "a", {"app": "x", "env": "prod"})
        + pod("y", "a", {"app": "y", "env": "dev"})
        + pod("dst", "a")
        + cnp(
            "p",
            "a",
            """
endpointSelector: {matchLabels: {app: dst}}
ingress:
- fromRequires: [{matchLabels: {env: prod}}]
- fromEndpoints: [{matchExpressions: [{key: app, operator: In, values: [x, y]}]}]
""",
        )
    )
    assert allowed(t, "a/x", "a/dst") and not allowed(t, "a/y", "a/dst")


def test_duplicate_policy_names_count_once():
    """One (kind, namespace, name) is one object in a cluster."""
    p = cnp("p", "a", "endpointSelector: {matchLabels: {app: web}}\ningress:\n- {}\n")
    t = traffic(BASE + p + p)
    assert len(t.rules) == 1


def test_host_network_pods_carry_the_node_identity():
    """hostNetwork pods are not Cilium endpoints: no policy selects them and their traffic is
    node traffic (remote-node); setting hostNetworkPods: pod treats them as pods (ref §2.4)."""
    text = (
        NS_A
        + pod("h", "a", {"app": "h"}, host_network=True)
        + pod("dst", "a")
        + knp(
            "k",
            "a",
            """
podSelector: {}
ingress:
- from: [{podSelector: {matchLabels: {app: h}}}]
""",
        )
    )
    node = traffic(text)
    as_pod = traffic(text, settings={"hostNetworkPods": "pod"})
    assert not allowed(node, "a/h", "a/dst")
    assert allowed(node, "a/dst", "a/h")  # h is not isolated: it is not an endpoint
    assert allowed(as_pod, "a/h", "a/dst") and not allowed(as_pod, "a/dst", "a/h")


def test_actor_is_a_pod_in_its_namespace():
    """Actors get pod identities: namespace, labels, namespace labels (policy file traffic.actors)."""
    prom = Actor("prometheus", "monitoring", {"app.kubernetes.io/name": "prometheus"})
    t = traffic(
        BASE
        + cnp(
            "p",
            "a",
            """
endpointSelector: {matchLabels: {app: api}}
ingress:
- fromEndpoints: [{matchLabels: {"k8s:io.kubernetes.pod.namespace": monitoring, app.kubernetes.io/name: prometheus}}]
  toPorts: [{ports: [{port: "9090", protocol: TCP}]}]
""",
        ),
        actors=[prom],
    )
    assert allowed(t, "actor:prometheus", "a/api", port=9090)
    assert not allowed(t, "actor:prometheus", "a/api", port=8080)
