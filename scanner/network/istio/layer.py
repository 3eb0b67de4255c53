"""The Istio layer of a traffic model: graph endpoints -> Istio facts -> decisions.

``IstioLayer.decide(src, dst, protocol, port, request)`` answers for one connection
(or one HTTP request) what Istio's authorization does at the destination, with the
dataplane, mTLS mode, filter chain and every rule considered.  It knows the endpoints
of the Cilium traffic model (``Traffic.endpoints``): workloads, actors, entities, CIDRs
and FQDNs, so the two layers are composed on the same nodes (``compose.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ...loader.documents import KubeObject
from ...located import LMap
from ...model.build import Model
from ...model.types import Workload
from ..peers import ALL_ADDRESSES, AddressSet, prefix_addresses
from ..ports import IntervalSet, PortSet
from .authz import Decision, applies, decide
from .dataplane import (
    AMBIENT,
    NONE,
    SIDECAR,
    UNKNOWN,
    Dataplane,
    MtlsMode,
    ServicePortInfo,
    mtls_mode,
    pod_dataplane,
    service_ports,
    workload_dataplane,
)
from .match import NO_REQUEST, Peer, Request
from .objects import AuthorizationPolicy, ParsedIstio, parse_istio
from .settings import IstioSettings
from .tri import Unknown

MESH_VALUES = (SIDECAR, AMBIENT, NONE)


@dataclass(frozen=True, slots=True)
class IstioVerdict:
    """Istio's answer for one connection or request: one decision per filter chain the
    traffic may meet (HTTP and plain TCP on a port whose protocol is sniffed)."""

    status: str  # allow | deny | unknown | not-enforced
    decisions: tuple[Decision, ...]
    protocol: str  # http | tcp | auto | - (not TCP, or not enforced)
    note: str = ""

    @property
    def allowed(self) -> bool | None:
        return {"allow": True, "not-enforced": True, "deny": False}.get(self.status)

    @property
    def enforced(self) -> bool:
        return self.status != "not-enforced"

    @property
    def unknown(self) -> frozenset[Unknown]:
        out: set[Unknown] = set()
        for d in self.decisions:
            out |= d.unknown
        return frozenset(out)

    @property
    def reason(self) -> str:
        if len(self.decisions) == 1:
            return self.decisions[0].reason
        return "; ".join(f"{d.chain.upper()} traffic: {d.status} ({d.reason})" for d in self.decisions)


def actor_mesh_from_policy(traffic_section: Any) -> dict[str, str]:
    """``traffic.actors[].mesh`` (sidecar | ambient | none) by actor name."""
    out = {}
    items = traffic_section.get("actors") if isinstance(traffic_section, (LMap, dict)) else None
    for a in items or ():
        if isinstance(a, (LMap, dict)) and a.get("name") and a.get("mesh") in MESH_VALUES:
            out[str(a["name"])] = str(a["mesh"])
    return out


@dataclass
class IstioLayer:
    parsed: ParsedIstio
    settings: IstioSettings
    endpoints: Mapping[str, Any]  # Traffic.endpoints (identities.Endpoint)
    workloads: Mapping[str, Workload]  # endpoint id -> workload
    namespaces: Mapping[str, Mapping[str, str]]  # declared namespaces -> labels
    actors: Mapping[str, Any]  # endpoint id -> Actor
    actor_mesh: Mapping[str, str]
    services: tuple[ServicePortInfo, ...]
    _dataplanes: dict[str, Dataplane] = field(default_factory=dict)
    _sources: dict[str, Peer] = field(default_factory=dict)

    # -- construction -----------------------------------------------------------------

    @staticmethod
    def build(
        model: Model,
        objects: Iterable[KubeObject],
        endpoints: Mapping[str, Any],
        actors: Iterable[Any],
        settings: IstioSettings | Mapping[str, Any] | None = None,
        actor_mesh: Mapping[str, str] | None = None,
        default_namespace: str = "default",
    ) -> IstioLayer:
        if not isinstance(settings, IstioSettings):
            settings = IstioSettings.from_mapping(settings)
        objects = list(objects)
        by_key = {(w.namespace, w.name, w.kind): w for w in model.network_workloads}
        workloads = {
            eid: by_key[(ep.namespace, ep.name, ep.workload_kind)]
            for eid, ep in endpoints.items()
            if ep.kind == "workload" and (ep.namespace, ep.name, ep.workload_kind) in by_key
        }
        namespaces = {n.name: dict(n.labels) for n in model.namespaces.values() if n.declared}
        actor_by_id = {f"actor:{a.name}": a for a in actors}
        return IstioLayer(
            parse_istio(objects, default_namespace),
            settings,
            endpoints,
            workloads,
            namespaces,
            actor_by_id,
            dict(actor_mesh or {}),
            service_ports(objects, default_namespace),
        )

    @property
    def policies(self) -> list[AuthorizationPolicy]:
        return self.parsed.policies

    @property
    def active(self) -> bool:
        """Are there Istio security objects at all?  Without them Istio allows everything
        (no ALLOW policy, PERMISSIVE mTLS), so the layer never changes a verdict."""
        return bool(self.parsed.policies or self.parsed.peer_auths)

    # -- facts per endpoint ------------------------------------------------------------------

    def dataplane(self, eid: str) -> Dataplane:
        got = self._dataplanes.get(eid)
        if got is None:
            got = self._dataplane(eid)
            self._dataplanes[eid] = got
        return got

    def _dataplane(self, eid: str) -> Dataplane:
        w = self.workloads.get(eid)
        if w is not None:
            return workload_dataplane(w, self.namespaces.get(w.namespace), self.settings)
        actor = self.actors.get(eid)
        if actor is not None:
            mesh = self.actor_mesh.get(actor.name)
            if mesh is not None:
                return Dataplane(mesh, f"traffic.actors[{actor.name}].mesh: {mesh}", actor.loc)
            ns_labels = dict(actor.namespace_labels) if actor.namespace_labels else self.namespaces.get(actor.namespace)
            dp = pod_dataplane(actor.labels, {}, actor.namespace, ns_labels, False, self.settings, actor.loc)
            if dp.mode == UNKNOWN:
                return Dataplane(UNKNOWN, f"{dp.reason}; say it with traffic.actors[].mesh", actor.loc)
            return dp
        ep = self.endpoints.get(eid)
        kind = ep.kind if ep is not None else "endpoint"
        return Dataplane(NONE, f"{eid} is not a pod ({kind}): it has no Istio proxy")

    def labels(self, eid: str) -> Mapping[str, str]:
        ep = self.endpoints.get(eid)
        return ep.labels if ep is not None else {}

    def namespace(self, eid: str) -> str | None:
        ep = self.endpoints.get(eid)
        return ep.namespace if ep is not None else None

    def service_account(self, eid: str) -> str:
        w = self.workloads.get(eid)
        if w is not None:
            return w.service_account or "default"
        actor = self.actors.get(eid)
        return actor.service_account if actor is not None else "default"

    def principal(self, eid: str) -> str | None:
        ns = self.namespace(eid)
        if ns is None:
            return None
        return f"spiffe://{self.settings.trust_domain}/ns/{ns}/sa/{self.service_account(eid)}"

    def _addresses(self, eid: str) -> tuple[AddressSet | None, str]:
        ep = self.endpoints.get(eid)
        if ep is None or ep.kind in ("workload", "actor"):
            return None, "pod IPs are not in the manifests"
        if ep.kind == "entity" and ep.name != "world":
            return None, f"the addresses of {eid} are not in the manifests"
        prefixes = [x.prefix for x in self.endpoints.values() if x.kind == "cidr" and x.prefix]
        if ep.kind == "cidr" and ep.prefix:
            own = prefix_addresses(ep.prefix)
        elif ep.kind == "fqdn":
            return AddressSet(v4=ALL_ADDRESSES.v4), "the addresses a name resolves to are not in the manifests"
        else:
            own = AddressSet(v4=ALL_ADDRESSES.v4)
        for p in prefixes:
            inner = prefix_addresses(p)
            if inner != own and not inner.subtract(own):
                own = own.subtract(inner)
        return own, ""

    def source(self, eid: str) -> Peer:
        """The peer as a destination proxy sees it before mTLS settings are applied."""
        got = self._sources.get(eid)
        if got is None:
            got = self._sources[eid] = self._source(eid)
        return got

    def _source(self, eid: str) -> Peer:
        dp = self.dataplane(eid)
        addresses, address_why = self._addresses(eid)
        if dp.proxied is None:
            return Peer(
                None, False, f"whether {eid} has an Istio proxy is unknown: {dp.reason}", addresses, address_why
            )
        if not dp.proxied:
            return Peer(
                None, True, f"{eid} has no Istio proxy, so it sends plaintext: {dp.reason}", addresses, address_why
            )
        return Peer(self.principal(eid), True, "", addresses, address_why)

    def policies_for(self, eid: str) -> list[AuthorizationPolicy]:
        ns = self.namespace(eid)
        if ns is None or (eid not in self.workloads and eid not in self.actors):
            return []
        labels = self.labels(eid)
        candidates = self._by_namespace().get(ns, []) + (
            self._by_namespace().get(self.settings.root_namespace, []) if ns != self.settings.root_namespace else []
        )
        return [p for p in candidates if applies(p, ns, labels, self.settings)]

    def _by_namespace(self) -> dict[str, list[AuthorizationPolicy]]:
        got = self.__dict__.get("_policies_by_ns")
        if got is None:
            got = {}
            for p in self.parsed.policies:
                got.setdefault(p.namespace, []).append(p)
            self.__dict__["_policies_by_ns"] = got
        return got

    def mtls(self, eid: str, port: int) -> MtlsMode:
        ns = self.namespace(eid)
        if ns is None:
            return MtlsMode("PERMISSIVE", ())
        return mtls_mode(self.parsed.peer_auths, ns, self.labels(eid), port, self.settings)

    def port_protocol(self, eid: str, port: int) -> tuple[str, str]:
        """(http | tcp | auto, which Service port says so).  The inbound chain of a port
        follows the protocol of the Service ports targeting it (istio protocol selection,
        ``pkg/config/kube/conversion.go`` ``ConvertProtocol``); no Service: sniffed."""
        ep = self.endpoints.get(eid)
        if ep is None or ep.namespace is None:
            return "auto", ""
        found: dict[str, str] = {}
        for sp in self.services:
            ns, _, _name = sp.service.partition("/")
            if ns != ep.namespace or sp.protocol != "TCP" or not sp.selector:
                continue
            if any(ep.labels.get(k) != v for k, v in sp.selector.items()):
                continue
            if isinstance(sp.target, int):
                hit = sp.target == port
            else:
                hit = any(
                    n == str(sp.target).lower() and proto == "TCP" and num == port for n, proto, num in ep.named_ports
                )
            if hit:
                found.setdefault(
                    sp.istio_protocol, f"Service {sp.service} port {sp.port} ({sp.loc.path}:{sp.loc.line})"
                )
        if len(found) == 1:
            ((proto, why),) = found.items()
            return proto, why
        if len(found) > 1:
            return "auto", "Services disagree on the protocol: " + "; ".join(
                f"{k}: {v}" for k, v in sorted(found.items())
            )
        return "auto", "no Service declares the port: Istio sniffs the protocol"

    # -- decisions -------------------------------------------------------------------------

    def not_evaluated(self, dst: str, reason: str) -> IstioVerdict:
        return IstioVerdict(
            "not-enforced", (Decision("not-enforced", "not-enforced", reason, self.dataplane(dst)),), "-"
        )

    def decide(
        self, src: str, dst: str, protocol: str = "TCP", port: int | None = None, request: Request | None = None
    ) -> IstioVerdict:
        """What Istio does with a connection (``request`` None) or an HTTP request."""
        dp = self.dataplane(dst)
        if not self.active:
            return IstioVerdict(
                "not-enforced",
                (
                    Decision(
                        "not-enforced",
                        "not-enforced",
                        "no AuthorizationPolicy or PeerAuthentication in the manifests",
                        dp,
                    ),
                ),
                "-",
            )
        if protocol != "TCP":
            return IstioVerdict(
                "not-enforced",
                (
                    Decision(
                        "not-enforced",
                        "not-enforced",
                        f"Istio intercepts TCP only, not {protocol or 'this protocol'}",
                        dp,
                    ),
                ),
                "-",
            )
        if port is None:
            raise ValueError("Istio decides per port: give one")
        if dp.mode == NONE or not dp.intercepts(port):
            return IstioVerdict("not-enforced", (self._decide_chain(src, dst, port, "-", request),), "-")
        proto, why = self.port_protocol(dst, port)
        chains = self._chains(proto, request)
        decisions = tuple(self._decide_chain(src, dst, port, chain, request) for chain in chains)
        return IstioVerdict(_merge(decisions), decisions, proto, why)

    def interesting_ports(self, dst: str) -> frozenset[int]:
        """Ports the Istio decision at ``dst`` may single out; every other TCP port is
        decided alike (no policy, PeerAuthentication, Service or annotation names it)."""
        out: set[int] = {15020, 15021, 15090, self.settings.status_port}
        dp = self.dataplane(dst)
        out |= dp.excluded_ports | (dp.included_ports or frozenset())
        for p in self.policies_for(dst):
            for rule in p.rules or ():
                for f in rule.fields:
                    if f.attribute == "destination.port":
                        out |= {int(v) for v in f.values + f.not_values}
        for pa in self.parsed.peer_auths:
            out |= set(pa.port_modes)
        ep = self.endpoints.get(dst)
        w = self.workloads.get(dst)
        if w is not None:
            out |= {p.number for c in w.containers for p in c.ports if p.number}
        if ep is not None:
            out |= {num for _, _, num in ep.named_ports}
            for sp in self.services:
                if isinstance(sp.target, int):
                    out.add(sp.target)
        return frozenset(x for x in out if 0 < x < 65536)

    def port_pieces(
        self, src: str, dst: str, allowed: PortSet, request: Request | None = None
    ) -> list[tuple[PortSet, IstioVerdict]]:
        """Istio's verdict on each piece of ``allowed`` (TCP ports singled out by the
        policies, the rest of TCP as one piece, other protocols not enforced)."""
        tcp = allowed.get("TCP")
        others = allowed.subtract(PortSet.of({"TCP": tcp})) if tcp else allowed
        out: list[tuple[PortSet, IstioVerdict]] = []
        if others:
            out.append((others, self.decide(src, dst, "UDP", None, request)))
        if not tcp:
            return out
        if not self.active:
            out.append((PortSet.of({"TCP": tcp}), self.decide(src, dst, "TCP", 1, request)))
            return out
        rest = tcp
        for port in sorted(self.interesting_ports(dst)):
            if port in tcp:
                out.append((PortSet.single("TCP", port), self.decide(src, dst, "TCP", port, request)))
                rest = rest.subtract(IntervalSet.of([(port, port)]))
        if rest:
            out.append((PortSet.of({"TCP": rest}), self.decide(src, dst, "TCP", rest.spans[0][0], request)))
        return out

    @staticmethod
    def _chains(proto: str, request: Request | None) -> tuple[str, ...]:
        if proto == "tcp":
            return ("tcp",)
        if proto == "http" or (request is not None and not request.empty):
            return ("http",)
        return ("http", "tcp")  # sniffed: HTTP requests meet the HTTP chain, other bytes the TCP chain

    def _decide_chain(self, src: str, dst: str, port: int, chain: str, request: Request | None) -> Decision:
        dp = self.dataplane(dst)
        req = request if (chain == "http" and request is not None) else NO_REQUEST
        args = (self.policies_for(dst), dp, self.mtls(dst, port), self.source(src), port, req, chain, self.settings)
        if dp.mode != UNKNOWN:
            return decide(*args)
        # Whether the destination has a proxy is unknown: without one Istio allows; with a
        # sidecar it decides.  Only when that decision is not "allow" does the gap matter.
        proxied = replace(dp, mode=SIDECAR)
        with_proxy = decide(args[0], proxied, *args[2:])
        if with_proxy.status == "allow":
            return replace(
                with_proxy,
                reason=f"{with_proxy.reason} — and without a proxy Istio would not enforce ({dp.reason})",
                dataplane=dp,
            )
        return decide(*args)


def _merge(decisions: tuple[Decision, ...]) -> str:
    statuses = {d.status for d in decisions}
    if len(statuses) == 1:
        return next(iter(statuses))
    if statuses <= {"allow", "not-enforced"}:
        return "allow"
    return "unknown"


def protocol_unknown(v: IstioVerdict) -> frozenset[Unknown]:
    """When the chains disagree, the application protocol decides (not in manifests)."""
    if len({d.status for d in v.decisions}) > 1:
        return frozenset({Unknown("protocol", "request", "HTTP and other TCP traffic are decided differently")})
    return frozenset()


__all__ = ["IstioLayer", "IstioVerdict", "actor_mesh_from_policy", "protocol_unknown"]
