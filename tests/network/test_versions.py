"""Version- and flag-dependent validation, and which component rejects a policy (issue 8).

Sources (cilium/cilium): ``pkg/policy/api/rule_validation.go`` (``CIDRRule.Validate``,
``PortProtocol.Validate``, ``isExtendedIPProtocol``); PRs #39872 (VRRP, IGMP), #44459
(GRE, IPIP, IPV6, ESP, AH), #44637 (an except may not be wider than its cidr, 1.20),
#42615/#43167 (fromRequires/toRequires removed, the CRD keeps them with maxItems 0,
1.19); the CRD ``pkg/k8s/apis/cilium.io/client/crds/v2/ciliumnetworkpolicies.yaml``
(enums and patterns the API server enforces).
"""

from __future__ import annotations

from helpers import allowed, traffic
from test_semantics import BASE, ccnp, cnp

from scanner.network.rules import API_SERVER, CILIUM_AGENT

VRRP_HOST_POLICY = ccnp(
    "vrrp",
    """
description: egress of worker nodes, VRRP included
nodeSelector: {matchLabels: {type: egress-worker}}
egress:
- toPorts:
  - ports:
    - {port: "6443", protocol: TCP}
    - {port: "8472", protocol: UDP}
    - protocol: VRRP
""",
)


def test_extended_ip_protocol_is_rejected_without_the_flag():
    t = traffic(BASE + VRRP_HOST_POLICY)
    assert len(t.rejections) == 1
    r = t.rejections[0]
    assert "enable-extended-ip-protocols" in r.message
    assert r.by == CILIUM_AGENT


def test_extended_ip_protocol_is_accepted_with_the_flag():
    t = traffic(BASE + VRRP_HOST_POLICY, settings={"extendedIPProtocols": True})
    assert t.rejections == []
    assert [r.origin.name for r in t.rules] == ["vrrp"]


def test_extended_protocol_with_a_port_is_rejected():
    body = VRRP_HOST_POLICY.replace("- protocol: VRRP", '- {port: "112", protocol: VRRP}')
    t = traffic(BASE + body, settings={"extendedIPProtocols": True})
    assert [r.message for r in t.rejections] == ["port must be empty or 0 for protocol VRRP"]


def test_tunnel_protocols_need_release_1_20():
    body = VRRP_HOST_POLICY.replace("- protocol: VRRP", "- protocol: GRE")
    old = traffic(BASE + body, settings={"extendedIPProtocols": True})
    assert old.rejections and "GRE" in old.rejections[0].message
    new = traffic(BASE + body, settings={"extendedIPProtocols": True, "release": "1.20"})
    assert new.rejections == []


WIDE_EXCEPT = cnp(
    "wide-except",
    "a",
    """
endpointSelector: {matchLabels: {app: web}}
egress:
- toCIDRSet:
  - cidr: 10.0.0.0/8
    except: [10.0.0.0/7]
""",
)


def test_except_wider_than_cidr_is_accepted_before_1_20():
    """Up to 1.19 Cilium only checks that the cidr contains the except's address."""
    t = traffic(BASE + WIDE_EXCEPT, extra=["cidr:10.1.0.0/16"])
    assert t.rejections == []
    # the except covers the whole prefix: the rule selects nothing there, yet isolates egress
    assert not allowed(t, "a/web", "cidr:10.1.0.0/16", port=443)


def test_except_wider_than_cidr_is_rejected_from_1_20():
    t = traffic(BASE + WIDE_EXCEPT, settings={"release": "1.20"})
    assert len(t.rejections) == 1
    assert "does not contain" in t.rejections[0].message
    assert t.rejections[0].by == CILIUM_AGENT


def test_except_outside_cidr_is_rejected_by_every_release():
    body = WIDE_EXCEPT.replace("10.0.0.0/7", "11.0.0.0/16")
    assert traffic(BASE + body).rejections
    assert traffic(BASE + body, settings={"release": "1.20"}).rejections


def test_except_with_host_bits_inside_cidr_is_accepted():
    body = WIDE_EXCEPT.replace("10.0.0.0/7", "10.1.2.3/16")
    assert traffic(BASE + body).rejections == []


def test_lower_case_operator_is_rejected_by_the_api_server():
    t = traffic(
        BASE
        + cnp(
            "p",
            "a",
            """
endpointSelector: {matchLabels: {app: web}}
ingress:
- fromEndpoints: [{matchExpressions: [{key: app, operator: in, values: [api]}]}]
""",
        )
    )
    assert [r.by for r in t.rejections] == [API_SERVER]


def test_combining_peer_types_is_rejected_by_the_agent():
    t = traffic(
        BASE
        + cnp(
            "p",
            "a",
            """
endpointSelector: {matchLabels: {app: web}}
egress:
- toEndpoints: [{}]
  toEntities: [world]
""",
        )
    )
    assert [r.by for r in t.rejections] == [CILIUM_AGENT]


def test_lower_case_protocol_is_rejected_by_the_api_server():
    t = traffic(
        BASE
        + cnp(
            "p",
            "a",
            """
endpointSelector: {matchLabels: {app: web}}
ingress:
- toPorts: [{ports: [{port: "80", protocol: tcp}]}]
""",
        )
    )
    assert [r.by for r in t.rejections] == [API_SERVER]


REQUIRES = cnp(
    "requires",
    "a",
    """
endpointSelector: {matchLabels: {app: api}}
ingress:
- fromRequires: [{matchLabels: {team: red}}]
""",
)


def test_from_requires_is_applied_up_to_1_18():
    assert traffic(BASE + REQUIRES).rejections == []


def test_from_requires_is_rejected_by_the_crd_from_1_19():
    t = traffic(BASE + REQUIRES, settings={"release": "1.19"})
    assert len(t.rejections) == 1
    assert t.rejections[0].by == API_SERVER
    assert "fromRequires" in t.rejections[0].message
