"""The traffic-graph engine: CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy and
Kubernetes NetworkPolicy -> who may talk to whom, on which ports, and why.

Public API (see docs/semantics.md)::

    from scanner.network import build_traffic, actors_from_policy, NetworkSettings
    traffic = build_traffic(model, objects, NetworkSettings(), actors)
    traffic.graph                       # networkx.DiGraph
    traffic.verdict("ns/a", "ns/b", "TCP", 8080)
"""

from .actors import KUBE_DNS, Actor, actors_from_policy
from .engine import L7Restriction, SideResult
from .ports import IntervalSet, PortSet
from .rules import Origin, ParsedPolicies, PolicyRule, Rejection
from .settings import NetworkSettings
from .traffic import (
    EndpointError,
    Traffic,
    Verdict,
    build_traffic,
    build_traffic_for_policy,
    flow_endpoints,
    normalize_ref,
    parse_policies,
)

__all__ = [
    "KUBE_DNS",
    "Actor",
    "EndpointError",
    "IntervalSet",
    "L7Restriction",
    "NetworkSettings",
    "Origin",
    "ParsedPolicies",
    "PolicyRule",
    "PortSet",
    "Rejection",
    "SideResult",
    "Traffic",
    "Verdict",
    "actors_from_policy",
    "build_traffic",
    "build_traffic_for_policy",
    "flow_endpoints",
    "normalize_ref",
    "parse_policies",
]
