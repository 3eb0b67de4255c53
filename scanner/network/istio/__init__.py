"""Istio authorization, offline, composed with the Cilium traffic graph.

The Istio half of "Cilium L3/L4 + Istio L7 AuthZ": ``security.istio.io`` v1/v1beta1
AuthorizationPolicy and PeerAuthentication, and the facts that decide whether Istio
enforces for a pod (sidecar injection, ambient enrolment, intercepted ports, port
protocols, mTLS modes).  Semantics, each with its Istio source: docs/istio.md.

    traffic = build_traffic_for_policy(model, objects, policy)   # scanner.network
    traffic.istio.decide("ns/a", "ns/b", "TCP", 8080, Request("GET", "/api/x"))
    compose(traffic, "ns/a", "ns/b", "TCP", 8080, {"method": "GET", "path": "/api/x"})

Modules: ``objects`` (parse and validate), ``dataplane`` (who has a proxy, mTLS),
``match`` (one field, one request), ``authz`` (the decision), ``layer`` (graph
endpoints -> decisions), ``compose`` (Cilium AND Istio), ``explain``, ``lang``
(regular languages for witness requests).
"""

from .compose import ComposedVerdict, compose
from .layer import IstioLayer, IstioVerdict
from .match import Request
from .settings import IstioSettings

__all__ = ["ComposedVerdict", "IstioLayer", "IstioSettings", "IstioVerdict", "Request", "compose"]
