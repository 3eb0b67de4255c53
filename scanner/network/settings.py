"""Engine settings: how the scanned cluster's Cilium behaves where releases and
configurations differ.  Read from the policy file's ``settings.cilium`` (schema:
``rules/schema/policy.schema.json`` ``$defs.settings.cilium``); every field has a
documented default (docs/semantics.md, "Settings")."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import Any

from .ports import FULL, PortSet


@dataclass(frozen=True, slots=True)
class NetworkSettings:
    # enable-policy: default | always | never (Documentation/security/policy/intro.rst)
    policy_enforcement_mode: str = "default"
    # policy-cidr-match-mode: world (CIDRs never match pods or nodes) | nodes | pods
    cidr_match_mode: str = "world"
    # CNP peer selectors on io.cilium.k8s.namespace.labels.* are not namespace-scoped
    # (current main, pkg/k8s/apis/cilium.io/utils/utils.go getEndpointSelector); older
    # releases ANDed the policy namespace in (#18865, #27930).
    namespace_label_selectors_cross_namespace: bool = True
    # Honour the rule field enableDefaultDeny (Cilium >= 1.16, PR #30572).
    enable_default_deny_field: bool = True
    # --enable-extended-ip-protocols (off by default, as in Cilium): protocols without
    # transport ports in toPorts (VRRP, IGMP; GRE, IPIP, IPV6, ESP, AH from 1.20).
    # Without it the agent rejects them (pkg/policy/api/rule_validation.go
    # PortProtocol.Validate; PRs #39872, #44459).
    extended_ip_protocols: bool = False
    # The Cilium release whose version-dependent validation is modelled (docs/semantics.md
    # "Settings"): "1.18" (default), "1.19" (fromRequires/toRequires removed: the CRD
    # rejects them, PRs #42615/#43167), "1.20" (a CIDR except may not be wider than its
    # cidr, PR #44637; tunnel protocols as extended IP protocols, PR #44459).
    release: str = "1.18"
    # enable-k8s-networkpolicy
    k8s_network_policy: bool = True
    cluster_name: str = "default"
    # How pods with hostNetwork: true take part.  "node" (Cilium): they are not Cilium
    # endpoints, no policy selects them and their traffic carries the node identity
    # (remote-node: they are assumed to run on another node than their peer).  "pod":
    # treat them like ordinary pods, as analyzers of the Kubernetes specification do.
    host_network_pods: str = "node"
    # Reject rules that have none of ingress/ingressDeny/egress/egressDeny (Cilium >= 1.17,
    # rule_validation.go Validate; #35558, PR #35904).
    reject_empty_rules: bool = True
    # toServices combined with toPorts: rejected up to the release that lifted it
    # (issue #20067); current main accepts it.
    to_services_with_to_ports: bool = False
    # enable-l7-proxy, enable-icmp-rules (both default true in current releases)
    l7_proxy: bool = True
    icmp_rules: bool = True
    # enable-node-selector-labels: without it fromNodes/toNodes make the policy invalid.
    node_selector_labels: bool = False
    # enable-sctp (default false, pkg/defaults EnableSCTP).  Without it the datapath
    # carries no SCTP at all: bpf/lib/conntrack.h ct_extract_ports4/6 handle
    # IPPROTO_SCTP only under ENABLE_SCTP and drop other protocols with
    # DROP_CT_UNKNOWN_PROTO.  The agent still expands protocol ANY into TCP, UDP and
    # SCTP filters (pkg/policy/rule.go mergeL4Filter), but no SCTP packet passes, so
    # ANY means TCP and UDP here (docs/semantics.md, "Settings").
    sctp: bool = False
    # Extra label-prefix filter entries (--labels), e.g. ["!team"] or ["k8s:app"].
    label_prefixes: tuple[str, ...] = ()

    @staticmethod
    def from_mapping(data: Mapping[str, Any] | None) -> NetworkSettings:
        if not data:
            return NetworkSettings()
        names = {
            "policyEnforcementMode": "policy_enforcement_mode",
            "cidrMatchMode": "cidr_match_mode",
            "namespaceLabelSelectorsCrossNamespace": "namespace_label_selectors_cross_namespace",
            "enableDefaultDenyField": "enable_default_deny_field",
            "extendedIPProtocols": "extended_ip_protocols",
            "release": "release",
            "k8sNetworkPolicy": "k8s_network_policy",
            "clusterName": "cluster_name",
            "hostNetworkPods": "host_network_pods",
            "rejectEmptyRules": "reject_empty_rules",
            "toServicesWithToPorts": "to_services_with_to_ports",
            "l7Proxy": "l7_proxy",
            "icmpRules": "icmp_rules",
            "nodeSelectorLabels": "node_selector_labels",
            "labelPrefixes": "label_prefixes",
            "sctp": "sctp",
        }
        values: dict[str, Any] = {}
        for key, attr in names.items():
            if key in data and data[key] is not None:
                v = data[key]
                values[attr] = tuple(str(x) for x in v) if attr == "label_prefixes" else v
        return NetworkSettings(**values)

    @property
    def carried(self) -> PortSet:
        """Every port and protocol the datapath forwards at all."""
        return FULL if self.sctp else FULL.subtract(PortSet.single("SCTP", 1, 65535))

    @property
    def any_protocols(self) -> tuple[str, ...]:
        """What protocol ANY (or an omitted protocol in a CNP) stands for."""
        return ("TCP", "UDP", "SCTP") if self.sctp else ("TCP", "UDP")

    def at_least(self, release: str) -> bool:
        """Whether the modelled Cilium release is ``release`` or newer ("1.19" >= "1.18")."""
        return _release_key(self.release) >= _release_key(release)

    def describe(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@lru_cache(maxsize=64)
def _release_key(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in str(text).split("."))
    except ValueError:
        return (0,)


DEFAULT_SETTINGS = NetworkSettings()

__all__ = ["DEFAULT_SETTINGS", "NetworkSettings"]
