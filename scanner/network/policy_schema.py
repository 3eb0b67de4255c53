"""The field schemas of CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy and
Kubernetes NetworkPolicy, and what dropping an unknown field does to a rule.

Field names follow the json tags of the Go types: cilium/cilium ``pkg/policy/api``
(``rule.go`` Rule, ``ingress.go`` IngressRule/IngressCommonRule/IngressDenyRule,
``egress.go`` EgressRule/EgressCommonRule/EgressDenyRule, ``l4.go`` PortRule/
PortDenyRule/PortProtocol/L7Rules/TLSContext/Listener, ``cidr.go`` CIDRRule,
``fqdn.go`` FQDNSelector, ``service.go`` Service, ``groups.go`` Groups/AWSGroup,
``http.go`` PortRuleHTTP/HeaderMatch, ``kafka.go`` PortRuleKafka, ``icmp.go``
ICMPRule/ICMPField, ``selector.go`` EndpointSelector) and k8s.io/api
``networking/v1/types.go`` (NetworkPolicySpec, NetworkPolicyPeer, NetworkPolicyPort,
IPBlock).  The CRDs are structural, so the API server prunes every other field when
validation is off (see ``scanner.loader.schema_fields``).
"""

from __future__ import annotations

from ..loader.schema_fields import (
    ANY,
    LABEL_SELECTOR,
    Arr,
    UnknownField,
    extend,
    obj,
    top_level,
)

SELECTOR = LABEL_SELECTOR
SELECTORS = Arr(SELECTOR)
CIDR_RULE = obj("CIDR set entry", cidr=ANY, cidrGroupRef=ANY, cidrGroupSelector=SELECTOR, **{"except": ANY})
FQDN = obj("FQDN selector", matchName=ANY, matchPattern=ANY)
SERVICE = obj(
    "toServices entry",
    k8sService=obj("k8sService", serviceName=ANY, namespace=ANY),
    k8sServiceSelector=obj("k8sServiceSelector", selector=SELECTOR, namespace=ANY),
)
GROUPS = obj(
    "toGroups/fromGroups entry",
    aws=obj("aws group", labels=ANY, securityGroupsIds=ANY, securityGroupsNames=ANY, region=ANY),
)
PORT = obj("ports entry", port=ANY, endPort=ANY, protocol=ANY)
SECRET = obj("secret reference", name=ANY, namespace=ANY)
TLS = obj("TLS context", secret=SECRET, trustedCA=ANY, certificate=ANY, privateKey=ANY)
HTTP = obj(
    "HTTP rule",
    method=ANY,
    path=ANY,
    host=ANY,
    headers=ANY,
    headerMatches=Arr(obj("headerMatches entry", name=ANY, value=ANY, secret=SECRET, mismatch=ANY)),
)
KAFKA = obj("Kafka rule", role=ANY, apiKey=ANY, apiVersion=ANY, clientID=ANY, topic=ANY)
L7_RULES = obj("L7 rules (toPorts[].rules)", http=Arr(HTTP), kafka=Arr(KAFKA), dns=Arr(FQDN), l7proto=ANY, l7=ANY)
PORT_RULE = obj(
    "port rule (toPorts entry)",
    ports=Arr(PORT),
    rules=L7_RULES,
    terminatingTLS=TLS,
    originatingTLS=TLS,
    serverNames=ANY,
    listener=obj("listener", envoyConfig=obj("envoyConfig", kind=ANY, name=ANY), name=ANY, priority=ANY),
)
PORT_DENY_RULE = obj("deny port rule (toPorts entry of a deny rule)", ports=Arr(PORT))
ICMP = obj("icmps entry", fields=Arr(obj("ICMP field", type=ANY, family=ANY)))
AUTH = obj("authentication", mode=ANY)

INGRESS_COMMON = obj(
    "ingress rule",
    fromEndpoints=SELECTORS,
    fromRequires=SELECTORS,
    fromCIDR=ANY,
    fromCIDRSet=Arr(CIDR_RULE),
    fromEntities=ANY,
    fromNodes=SELECTORS,
    fromGroups=Arr(GROUPS),
)
INGRESS = extend(INGRESS_COMMON, "ingress rule", toPorts=Arr(PORT_RULE), icmps=Arr(ICMP), authentication=AUTH)
INGRESS_DENY = extend(INGRESS_COMMON, "ingressDeny rule", toPorts=Arr(PORT_DENY_RULE), icmps=Arr(ICMP))
EGRESS_COMMON = obj(
    "egress rule",
    toEndpoints=SELECTORS,
    toRequires=SELECTORS,
    toCIDR=ANY,
    toCIDRSet=Arr(CIDR_RULE),
    toEntities=ANY,
    toServices=Arr(SERVICE),
    toGroups=Arr(GROUPS),
    toNodes=SELECTORS,
)
EGRESS = extend(
    EGRESS_COMMON, "egress rule", toFQDNs=Arr(FQDN), toPorts=Arr(PORT_RULE), icmps=Arr(ICMP), authentication=AUTH
)
EGRESS_DENY = extend(EGRESS_COMMON, "egressDeny rule", toPorts=Arr(PORT_DENY_RULE), icmps=Arr(ICMP))
RULE = obj(
    "Cilium rule (spec)",
    endpointSelector=SELECTOR,
    nodeSelector=SELECTOR,
    ingress=Arr(INGRESS),
    ingressDeny=Arr(INGRESS_DENY),
    egress=Arr(EGRESS),
    egressDeny=Arr(EGRESS_DENY),
    labels=Arr(obj("rule label", key=ANY, value=ANY, source=ANY)),
    description=ANY,
    enableDefaultDeny=obj("enableDefaultDeny", ingress=ANY, egress=ANY),
    log=obj("log", value=ANY),
)
CILIUM_POLICY = top_level("Cilium policy", spec=RULE, specs=Arr(RULE))

K8S_PEER = obj(
    "NetworkPolicy peer",
    podSelector=SELECTOR,
    namespaceSelector=SELECTOR,
    ipBlock=obj("ipBlock", cidr=ANY, **{"except": ANY}),
)
K8S_PORT = obj("NetworkPolicy port", protocol=ANY, port=ANY, endPort=ANY)
K8S_INGRESS = obj("NetworkPolicy ingress rule", ports=Arr(K8S_PORT), **{"from": Arr(K8S_PEER)})
K8S_EGRESS = obj("NetworkPolicy egress rule", ports=Arr(K8S_PORT), to=Arr(K8S_PEER))
NETWORK_POLICY = top_level(
    "NetworkPolicy",
    spec=obj(
        "NetworkPolicy spec", podSelector=SELECTOR, ingress=Arr(K8S_INGRESS), egress=Arr(K8S_EGRESS), policyTypes=ANY
    ),
)

_CNP_L3 = {
    "ingress rule": ("fromEndpoints", "fromCIDR", "fromCIDRSet", "fromEntities", "fromNodes", "fromGroups"),
    "ingressDeny rule": ("fromEndpoints", "fromCIDR", "fromCIDRSet", "fromEntities", "fromNodes", "fromGroups"),
    "egress rule": ("toEndpoints", "toCIDR", "toCIDRSet", "toEntities", "toServices", "toGroups", "toNodes", "toFQDNs"),
    "egressDeny rule": ("toEndpoints", "toCIDR", "toCIDRSet", "toEntities", "toServices", "toGroups", "toNodes"),
}


def effect_of_dropping(u: UnknownField) -> str:
    """What the rule means once the API server has dropped ``u`` (validation off)."""
    if u.holder in _CNP_L3:
        return _cilium_item_effect(u)
    for holder, effect in _EFFECTS:
        if u.holder == holder:
            return effect(u, u.suggestion or "")
    return "the rest of the object applies without it"


def _cilium_item_effect(u: UnknownField) -> str:
    meant = u.suggestion or ""
    has_peer = any(k in u.kept for k in _CNP_L3[u.holder])
    has_ports = "toPorts" in u.kept or "icmps" in u.kept
    if not has_peer and has_ports:
        return (
            "the rule is left without a peer selector, so its ports apply to every peer, the world "
            "and other namespaces included"
        )
    if not has_peer and not has_ports:
        return (
            "the rule is left empty: it "
            + ("denies nothing" if "Deny" in u.holder else "allows nothing")
            + " but still makes the selected pods default-deny in this direction"
        )
    if not has_ports and (meant in ("toPorts", "icmps") or "port" in u.key.lower()):
        return "the rule is left without ports, so it covers every port and protocol of its peers"
    return "the rest of the rule applies without it"


def _port_rule_effect(u: UnknownField, meant: str) -> str:
    if meant == "rules" or "rule" in u.key.lower():
        return "the L7 rules are gone, so every request on these ports is allowed"
    if "ports" not in u.kept and (meant == "ports" or "port" in u.key.lower()):
        return "the port rule is left without ports, so it covers every port"
    return "the rest of the port rule applies without it"


def _l7_effect(u: UnknownField, meant: str) -> str:
    if not any(k in u.kept for k in ("http", "kafka", "dns", "l7proto")):
        return "no L7 rule is left, so every request on these ports is allowed (the L7 restriction disappears)"
    return "the remaining L7 rules apply without it"


def _selector_effect(u: UnknownField, meant: str) -> str:
    if not u.kept:
        return "the selector is left empty and matches everything in its scope (e.g. every pod of the namespace)"
    return "the selector matches without this condition, so it selects more"


def _cilium_rule_effect(u: UnknownField, meant: str) -> str:
    if meant in ("ingress", "egress", "ingressDeny", "egressDeny"):
        return f"the rule loses its {meant} section: it no longer isolates or allows that direction"
    return "the rest of the rule applies without it"


def _k8s_rule_effect(u: UnknownField, meant: str) -> str:
    peer = "from" if "ingress" in u.holder else "to"
    if peer not in u.kept and (meant == peer or u.key.lower().startswith(peer[0])):
        return f"the rule is left without '{peer}', so it admits every peer, the world included"
    if "ports" not in u.kept and (meant == "ports" or "port" in u.key.lower()):
        return "the rule is left without ports, so it covers every port and protocol"
    return "the rest of the rule applies without it"


def _k8s_peer_effect(u: UnknownField, meant: str) -> str:
    if not u.kept:
        return "the peer is left empty, which the API server then rejects (a peer needs one field)"
    return "the peer matches without this condition, so it selects more"


def _metadata_effect(u: UnknownField, meant: str) -> str:
    if meant == "namespace":
        return "the object lands in the default namespace instead"
    if meant == "labels":
        return "the object has no labels"
    return "the object's metadata lacks it"


# holder -> what dropping a field of it means; the schema objects above name their holders.
_EFFECTS = (
    ("port rule (toPorts entry)", _port_rule_effect),
    ("L7 rules (toPorts[].rules)", _l7_effect),
    ("label selector", _selector_effect),
    ("Cilium rule (spec)", _cilium_rule_effect),
    ("NetworkPolicy ingress rule", _k8s_rule_effect),
    ("NetworkPolicy egress rule", _k8s_rule_effect),
    ("NetworkPolicy peer", _k8s_peer_effect),
    ("object metadata", _metadata_effect),
)


__all__ = ["CILIUM_POLICY", "NETWORK_POLICY", "RULE", "effect_of_dropping"]
