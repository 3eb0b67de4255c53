"""Policies Cilium (or the API server) rejects as a whole: reported, not applied.

Sources: cilium/cilium pkg/policy/api/rule_validation.go (Validate/Sanitize),
pkg/k8s/apis/cilium.io/v2 (empty policy), the CRD schema markers in pkg/policy/api
(port is a string, protocol enum), k8s.io/kubernetes pkg/apis/networking/validation.
"""

from __future__ import annotations

import pytest
from helpers import allowed, pod, traffic
from test_semantics import BASE, ccnp, cnp, knp


def rule(body: str) -> str:
    return "endpointSelector: {matchLabels: {app: web}}\n" + body


CNP_CASES = {
    "two L3 peer types": ("egress:\n- toEndpoints: [{}]\n  toEntities: [world]\n", "combining"),
    "toCIDR and toCIDRSet": ("egress:\n- toCIDR: [10.0.0.0/8]\n  toCIDRSet: [{cidr: 11.0.0.0/8}]\n", "combining"),
    "toServices with toPorts": (
        "egress:\n- toServices: [{k8sService: {serviceName: x, namespace: a}}]\n  toPorts: [{ports: [{port: '80', protocol: TCP}]}]\n",
        "toServices and toPorts",
    ),
    "icmps with toPorts": (
        "ingress:\n- toPorts: [{ports: [{port: '80', protocol: TCP}]}]\n  icmps: [{fields: [{type: 8}]}]\n",
        "icmps",
    ),
    "except outside cidr": ("egress:\n- toCIDRSet: [{cidr: 10.0.0.0/8, except: [11.0.0.0/16]}]\n", "does not contain"),
    "except wider than cidr": (
        "egress:\n- toCIDRSet: [{cidr: 10.1.0.0/16, except: [10.0.0.0/8]}]\n",
        "does not contain",
    ),
    "except other family": ("egress:\n- toCIDRSet: [{cidr: 10.0.0.0/8, except: ['::/64']}]\n", "does not contain"),
    "cidrset without prefix length": ("egress:\n- toCIDRSet: [{cidr: 10.0.0.1}]\n", "prefix"),
    "unknown entity": ("egress:\n- toEntities: [internet]\n", "unsupported entity"),
    "numeric port": ("ingress:\n- toPorts: [{ports: [{port: 80, protocol: TCP}]}]\n", "must be a string"),
    "port out of range": ("ingress:\n- toPorts: [{ports: [{port: '70000', protocol: TCP}]}]\n", "out of range"),
    "port missing": ("ingress:\n- toPorts: [{ports: [{protocol: TCP}]}]\n", "port must be specified"),
    "bad port text": ("ingress:\n- toPorts: [{ports: [{port: 'http--x', protocol: TCP}]}]\n", "unable to parse port"),
    "bad protocol": ("ingress:\n- toPorts: [{ports: [{port: '80', protocol: ICMP}]}]\n", "invalid protocol"),
    "lower-case protocol": ("ingress:\n- toPorts: [{ports: [{port: '80', protocol: tcp}]}]\n", "invalid protocol"),
    "L7 on UDP": (
        "ingress:\n- toPorts: [{ports: [{port: '80', protocol: UDP}], rules: {http: [{method: GET}]}}]\n",
        "only apply to TCP",
    ),
    "L7 on ANY": (
        "ingress:\n- toPorts: [{ports: [{port: '80'}], rules: {http: [{method: GET}]}}]\n",
        "only apply to TCP",
    ),
    "L7 on port 0": (
        "ingress:\n- toPorts: [{ports: [{port: '0', protocol: TCP}], rules: {http: [{method: GET}]}}]\n",
        "port is 0",
    ),
    "DNS rule without ports": (
        "egress:\n- toEndpoints: [{}]\n  toPorts: [{rules: {dns: [{matchPattern: '*'}]}}]\n",
        "must be specified for DNS",
    ),
    "DNS rule with a port range": (
        "egress:\n- toPorts: [{ports: [{port: '53', endPort: 60, protocol: UDP}], rules: {dns: [{matchPattern: '*'}]}}]\n",
        "port ranges",
    ),
    "DNS rule on ingress": (
        "ingress:\n- toPorts: [{ports: [{port: '53', protocol: UDP}], rules: {dns: [{matchPattern: '*'}]}}]\n",
        "not allowed on ingress",
    ),
    "two L7 types": (
        "egress:\n- toPorts: [{ports: [{port: '53', protocol: TCP}], rules: {dns: [{matchPattern: '*'}], http: [{}]}}]\n",
        "multiple L7",
    ),
    "too many ports": (
        "ingress:\n- toPorts: [{ports: ["
        + ", ".join(f"{{port: '{p}', protocol: TCP}}" for p in range(1, 42))
        + "]}]\n",
        "too many ports",
    ),
    "bad FQDN characters": ("egress:\n- toFQDNs: [{matchName: 'bad name!'}]\n", "invalid characters"),
    "matchName and matchPattern": (
        "egress:\n- toFQDNs: [{matchName: a.com, matchPattern: '*.a.com'}]\n",
        "only one of",
    ),
    "bad ICMP family": ("ingress:\n- icmps: [{fields: [{type: 8, family: IPv5}]}]\n", "family"),
    "unknown ICMP type name": ("ingress:\n- icmps: [{fields: [{type: Ping}]}]\n", "not found"),
    "bad HTTP regex": (
        "ingress:\n- toPorts: [{ports: [{port: '80', protocol: TCP}], rules: {http: [{path: '(['}]}}]\n",
        "regular expression",
    ),
    "bad operator": (
        "ingress:\n- fromEndpoints: [{matchExpressions: [{key: a, operator: Equals, values: [b]}]}]\n",
        "operator",
    ),
    "In without values": (
        "ingress:\n- fromEndpoints: [{matchExpressions: [{key: a, operator: In}]}]\n",
        "needs at least one value",
    ),
    "fromNodes without node labels": ("ingress:\n- fromNodes: [{}]\n", "enable-node-selector-labels"),
    "rule without any direction": ("", "at least one of"),
}


@pytest.mark.parametrize("name", sorted(CNP_CASES))
def test_cnp_rejected_and_not_applied(name):
    body, fragment = CNP_CASES[name]
    t = traffic(BASE + cnp("p", "a", rule(body)))
    assert t.rejections, name
    assert fragment in t.rejections[0].message
    assert not t.rules
    assert allowed(t, "entity:world", "a/web") and allowed(t, "a/web", "entity:world")


def test_whole_object_rejected_when_one_of_specs_is_invalid():
    """Parse() returns an error for the whole object if any rule is invalid."""
    t = traffic(
        BASE
        + """
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: p, namespace: a}
spec:
  endpointSelector: {matchLabels: {app: web}}
  ingress: [{}]
specs:
- endpointSelector: {matchLabels: {app: api}}
  egress:
  - toEntities: [internet]
"""
    )
    assert t.rejections and not t.rules
    assert allowed(t, "a/api", "a/web")


@pytest.mark.parametrize(
    "spec, fragment",
    [
        ("{}", "at least one of"),
        ("endpointSelector: {}\nnodeSelector: {}\ningress: [{}]", "both"),
        ("ingress: [{}]", "one of endpointSelector or nodeSelector"),
    ],
)
def test_selector_combinations(spec, fragment):
    t = traffic(BASE + ccnp("c", spec))
    assert fragment in t.rejections[0].message


def test_node_selector_is_clusterwide_only():
    t = traffic(BASE + cnp("p", "a", "nodeSelector: {}\ningress: [{}]\n"))
    assert "nodeSelector" in t.rejections[0].message


def test_empty_ccnp():
    t = traffic(BASE + "---\napiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata: {name: c}\n")
    assert "empty policy" in t.rejections[0].message


def test_to_services_with_to_ports_accepted_when_configured():
    body = "egress:\n- toServices: [{k8sService: {serviceName: x, namespace: a}}]\n  toPorts: [{ports: [{port: '80', protocol: TCP}]}]\n"
    assert not traffic(BASE + cnp("p", "a", rule(body)), settings={"toServicesWithToPorts": True}).rejections


def test_l7_needs_the_proxy_and_icmp_needs_icmp_rules():
    http = "ingress:\n- toPorts: [{ports: [{port: '80', protocol: TCP}], rules: {http: [{method: GET}]}}]\n"
    icmp = "ingress:\n- icmps: [{fields: [{type: 8}]}]\n"
    assert traffic(BASE + cnp("p", "a", rule(http)), settings={"l7Proxy": False}).rejections
    assert traffic(BASE + cnp("p", "a", rule(icmp)), settings={"icmpRules": False}).rejections


def test_pruned_fields_are_noted_not_rejected():
    """Fields unknown to a rule type are pruned by the API server: toFQDNs in an egressDeny rule
    disappears, leaving the ports-only deny that matches every peer."""
    t = traffic(
        BASE
        + cnp(
            "p",
            "a",
            rule(
                "egressDeny:\n- toFQDNs: [{matchName: a.com}]\n  toPorts: [{ports: [{port: '443', protocol: TCP}]}]\n"
            ),
        )
    )
    assert not t.rejections
    assert [(f.path, f.suggestion) for f in t.parsed.pruned] == [("spec.egressDeny[0].toFQDNs", None)]
    assert "every peer" in t.parsed.pruned[0].effect
    assert not allowed(t, "a/web", "b/db", port=443)


KNP_CASES = {
    "endPort below port": ("ingress:\n- ports: [{port: 90, endPort: 80}]\n", "endPort"),
    "endPort with named port": ("ingress:\n- ports: [{port: http, endPort: 90}]\n", "numeric port"),
    "endPort without port": ("ingress:\n- ports: [{endPort: 90}]\n", "numeric port"),
    "bad protocol": ("ingress:\n- ports: [{port: 80, protocol: ICMP}]\n", "protocol"),
    "ipBlock with selector": ("ingress:\n- from: [{ipBlock: {cidr: 10.0.0.0/8}, podSelector: {}}]\n", "both ipBlock"),
    "empty peer": ("ingress:\n- from: [{}]\n", "must specify"),
    "except outside cidr": ("egress:\n- to: [{ipBlock: {cidr: 10.0.0.0/8, except: [11.0.0.0/8]}}]\n", "strict subset"),
    "except equal to cidr": ("egress:\n- to: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.0.0.0/8]}}]\n", "strict subset"),
    "bad policyTypes": ("policyTypes: [Inbound]\n", "policyTypes"),
}


@pytest.mark.parametrize("name", sorted(KNP_CASES))
def test_knp_rejected_by_the_api_server(name):
    body, fragment = KNP_CASES[name]
    t = traffic(BASE + knp("k", "a", "podSelector: {matchLabels: {app: web}}\n" + body))
    assert t.rejections and fragment in t.rejections[0].message
    assert not t.rules


def test_rejection_points_at_the_offending_line():
    text = BASE + cnp("p", "a", rule("egress:\n- toEntities:\n  - internet\n"))
    t = traffic(text)
    line = t.rejections[0].loc.line
    assert text.splitlines()[line - 1].strip() == "- internet"


def test_valid_policy_has_no_rejection():
    t = traffic(
        BASE
        + pod("x", "a")
        + cnp(
            "p",
            "a",
            rule("""
ingress:
- fromEndpoints: [{matchLabels: {app: api}}]
  toPorts:
  - ports: [{port: "8080", protocol: TCP}, {port: http, protocol: TCP}]
    rules: {http: [{method: GET, path: "/", headers: ["X: 1"]}]}
- fromEntities: [world, cluster]
  icmps: [{fields: [{type: EchoRequest}, {type: 128, family: IPv6}]}]
egress:
- toFQDNs: [{matchPattern: "**.example.com"}]
- toCIDRSet: [{cidr: 10.0.0.0/8, except: [10.1.0.0/16]}]
  toPorts: [{ports: [{port: "0", protocol: ANY}]}]
"""),
        )
    )
    assert not t.rejections, t.rejections
