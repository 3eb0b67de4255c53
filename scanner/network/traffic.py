"""The public API: manifests + settings + actors -> ``Traffic`` (graph and verdicts).

    traffic = build_traffic(model, objects, settings, actors, extra_endpoints=())
    traffic.graph                      # networkx.DiGraph, see graph.py
    traffic.verdict(src, dst, "TCP", 8080, http={"method": "GET", "path": "/api/x"})
    traffic.rejections                 # policies Cilium rejects as a whole (NET007)

Endpoint references: ``<namespace>/<workload>``, ``actor:<name>``,
``entity:<name>``, ``cidr:<prefix>``, ``fqdn:<name or pattern>``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from ..loader.documents import KubeObject
from ..model.build import Model
from ..model.duplicates import apply_order
from ..model.types import Service
from . import fqdn as fqdnlib
from .actors import Actor
from .cidrs import normalize_prefix
from .cilium import cidr_groups_from, parse_cilium_policy
from .engine import Engine, L7Restriction, SideResult, l7_allows_request
from .identities import (
    ENTITY_NODES,
    IPV4_WORLD,
    Endpoint,
    IdentityClass,
    actor_endpoint,
    cidr_endpoint,
    entity_endpoint,
    fqdn_endpoint,
    group_classes,
    workload_endpoint,
)
from .k8s_netpol import parse_network_policy
from .labelfilter import DEFAULT_PREFIXES, LabelFilter
from .parsing import ParseEnv
from .ports import PortSet, port_range_set
from .rules import CCNP, CNP, KNP, Note, ParsedPolicies, PolicyRule, Rejection
from .selectors import CIDR
from .settings import NetworkSettings

if TYPE_CHECKING:  # the policy module reads port syntax from this package
    from ..policy import TrafficSection

POLICY_KINDS = (CNP, CCNP, KNP)
GROUP_ENTITIES = ("all", "cluster")


def _is_policy(obj: KubeObject) -> bool:
    if obj.kind in (CNP, CCNP):
        return obj.group.startswith("cilium.io")
    return obj.kind == KNP and obj.group == "networking.k8s.io"


def parse_policies(
    objects: Iterable[KubeObject],
    settings: NetworkSettings,
    default_namespace: str = "default",
    *,
    services: Iterable[Service],
) -> ParsedPolicies:
    """Every CNP, CCNP and NetworkPolicy -> rules (and rejections, notes).  ``services``
    are the model's (``toServices`` selects their backends).

    Objects with the same kind, namespace and name are one object in a cluster: the
    last one ``kubectl apply -f`` applies is live (``model.duplicates``, reported as
    INPUT006), so the result does not depend on the order objects are passed in."""
    objects = list(objects)
    env = ParseEnv(settings, cidr_groups_from(objects), tuple(services), default_namespace)
    dupes: dict[tuple, list[KubeObject]] = {}
    for o in objects:
        if not _is_policy(o):
            continue
        ns = None if o.kind == CCNP else (o.namespace or default_namespace)
        key = (o.kind, ns, o.name)
        dupes.setdefault(key, []).append(o)
    out = ParsedPolicies()
    for key in sorted(dupes, key=lambda k: (k[0], k[1] or "", k[2])):
        live = max(dupes[key], key=apply_order)
        if live.kind == KNP:
            parse_network_policy(live, env, out)
        else:
            parse_cilium_policy(live, env, out)
    out.rejections.sort()
    out.notes.sort()
    out.pruned.sort()
    return out


# -- endpoint references ------------------------------------------------------------


class EndpointError(ValueError):
    pass


def normalize_ref(ref: str) -> str:
    """Canonical endpoint id for a reference (``cidr:1.1.1.1`` -> ``cidr:1.1.1.1/32``,
    ``cidr:0.0.0.0/0`` -> ``entity:world``, ``fqdn:A.com.`` -> ``fqdn:a.com``)."""
    ref = ref.strip()
    if ref.startswith("cidr:"):
        try:
            prefix = normalize_prefix(ref[5:])
        except ValueError as exc:
            raise EndpointError(f"{ref}: {exc}") from None
        return "entity:world" if prefix == IPV4_WORLD else f"cidr:{prefix}"
    if ref.startswith("fqdn:"):
        return "fqdn:" + fqdnlib.normalize(ref[5:])
    if ref.startswith("entity:"):
        name = ref[7:]
        if name in ("world-ipv4",):
            return "entity:world"
        return f"entity:{name}"
    return ref


@dataclass(frozen=True, slots=True)
class Verdict:
    """The answer for one connection attempt, both sides with their reasons."""

    src: str
    dst: str
    protocol: str
    port: int | None
    status: str  # allowed | denied | l7-restricted | l7-denied
    egress: SideResult
    ingress: SideResult
    ports: PortSet  # everything allowed from src to dst
    l7: tuple[L7Restriction, ...] = ()

    @property
    def allowed(self) -> bool:
        return self.status in ("allowed", "l7-restricted")

    def side_allows(self, side: SideResult) -> bool:
        if self.port is None:
            return bool(side.allowed.get(self.protocol))
        return side.allowed.contains(self.protocol, self.port)


@dataclass
class Traffic:
    endpoints: dict[str, Endpoint]
    classes: list[IdentityClass]
    class_of: dict[str, int]
    engine: Engine
    parsed: ParsedPolicies
    settings: NetworkSettings
    actors: tuple[Actor, ...] = ()
    services: tuple = ()  # model.services: Service (selector, ports) for service: references
    istio: Any = None  # the Istio layer (scanner/network/istio), composed with this one by istio/compose.py

    def service_backends(self, ref: str, port: int | None, protocol: str = "TCP") -> list[tuple[str, int | None]]:
        """``service:<ns>/<name>`` -> [(backend endpoint id, target port)].  Policies see
        the backend pod and its target port after Service translation (ref §0, pitfall 9)."""
        name = ref[len("service:") :] if ref.startswith("service:") else ref
        ns, _, svc_name = name.partition("/")
        svc = next((s for s in self.services if s.namespace == ns and s.name == svc_name), None)
        if svc is None:
            raise EndpointError(f"unknown Service {name!r}")
        if not svc.selector:
            raise EndpointError(f"Service {name} has no selector: its endpoints are not in the manifests")
        sp = None
        if port is not None:
            sp = next((p for p in svc.ports if p.port == port and p.protocol == protocol), None)
            if sp is None:
                raise EndpointError(f"Service {name} has no port {port}/{protocol}")
        out = []
        for eid, ep in self.endpoints.items():
            if ep.kind != "workload" or ep.namespace != ns:
                continue
            if any(ep.labels.get(k) != v for k, v in svc.selector.items()):
                continue
            if sp is None:
                out.append((eid, None))
            elif isinstance(sp.target, int):
                out.append((eid, sp.target))
            else:
                nums = [
                    n for pname, proto, n in ep.named_ports if pname == str(sp.target).lower() and proto == protocol
                ]
                out.append((eid, nums[0] if nums else None))
        return sorted(out)

    @property
    def rules(self) -> list[PolicyRule]:
        return self.parsed.rules

    @property
    def rejections(self) -> list[Rejection]:
        return self.parsed.rejections

    @property
    def notes(self) -> list[Note]:
        return self.parsed.notes

    @cached_property
    def graph(self):
        from .graph import build_graph

        return build_graph(self)

    def resolve(self, ref: str) -> str:
        rid = normalize_ref(ref)
        if rid in self.endpoints:
            return rid
        if "/" in rid and ":" not in rid.split("/")[0]:
            matches = [e for e in self.endpoints if e.startswith(rid + "[")]
            if len(matches) == 1:
                return matches[0]
        raise EndpointError(f"unknown endpoint {ref!r}")

    def members(self, ref: str) -> list[str]:
        """Endpoints a reference stands for: one, or every member of ``entity:all`` /
        ``entity:cluster``."""
        rid = normalize_ref(ref)
        if rid == "entity:all":
            return sorted(self.endpoints)
        if rid == "entity:cluster":
            return sorted(
                e
                for e, ep in self.endpoints.items()
                if ep.kind in ("workload", "actor") or (ep.kind == "entity" and ep.name != "world")
            )
        return [self.resolve(ref)]

    def sides(self, src: str, dst: str) -> tuple[SideResult, SideResult]:
        a, b = self.class_of[self.resolve(src)], self.class_of[self.resolve(dst)]
        return self.engine.side(a, "egress", b), self.engine.side(b, "ingress", a)

    def allowed_ports(self, src: str, dst: str) -> PortSet:
        eg, ing = self.sides(src, dst)
        return eg.allowed.intersect(ing.allowed)

    def verdict(
        self, src: str, dst: str, protocol: str = "TCP", port: int | None = None, http: Mapping[str, Any] | None = None
    ) -> Verdict:
        s, d = self.resolve(src), self.resolve(dst)
        protocol = protocol.upper() if protocol.upper() != "ICMPV6" else "ICMPv6"
        if protocol in ("ICMP", "ICMPv6") and port is None:
            port = 8 if protocol == "ICMP" else 128  # echo request
        eg, ing = self.sides(s, d)
        ports = eg.allowed.intersect(ing.allowed)
        if port is None:
            ok = bool(ports.get(protocol))
        else:
            ok = ports.contains(protocol, port)
        l7: tuple[L7Restriction, ...] = ()
        status = "allowed" if ok else "denied"
        if ok and port is not None:
            res_e, hits_e = l7_allows_request(eg.l7, protocol, port, dict(http) if http else None)
            res_i, hits_i = l7_allows_request(ing.l7, protocol, port, dict(http) if http else None)
            l7 = hits_e + hits_i
            if res_e is False or res_i is False:
                status = "l7-denied"
            elif res_e is None or res_i is None:
                status = "l7-restricted"
        return Verdict(s, d, protocol, port, status, eg, ing, ports, l7)


def build_traffic(
    model: Model,
    objects: Iterable[KubeObject],
    settings: NetworkSettings | Mapping[str, Any] | None = None,
    actors: Iterable[Actor] = (),
    extra_endpoints: Iterable[str] = (),
    default_namespace: str = "default",
    parsed: ParsedPolicies | None = None,
    istio_settings: Mapping[str, Any] | None = None,
    actor_mesh: Mapping[str, str] | None = None,
) -> Traffic:
    """Build the traffic model.  ``extra_endpoints`` adds graph nodes for references
    that no policy names (``cidr:1.1.1.1/32``, ``entity:host``, ``fqdn:example.com``);
    ``parsed`` is ``parse_policies`` of the same objects, settings and namespace when the
    caller has it already.  ``istio_settings``/``actor_mesh`` configure the Istio layer
    (``traffic.istio``)."""
    if not isinstance(settings, NetworkSettings):
        settings = NetworkSettings.from_mapping(settings)
    objects = list(objects)
    if parsed is None:
        parsed = parse_policies(objects, settings, default_namespace, services=model.services)
    label_filter = LabelFilter.parse(DEFAULT_PREFIXES, tuple(settings.label_prefixes))
    endpoints = _workload_endpoints(model, settings, label_filter)
    actor_list = tuple(actors)
    for a in actor_list:
        ep = actor_endpoint(a, model, settings, label_filter)
        endpoints.setdefault(ep.id, ep)
    endpoints.update(_peer_endpoints(parsed, [normalize_ref(r) for r in extra_endpoints], settings))

    classes, class_of = group_classes(endpoints.values())
    engine = Engine(classes, parsed.rules, settings, _dns_servers(endpoints, class_of))
    traffic = Traffic(
        dict(sorted(endpoints.items())), classes, class_of, engine, parsed, settings, actor_list, tuple(model.services)
    )
    from .istio.layer import IstioLayer

    traffic.istio = IstioLayer.build(
        model, objects, traffic.endpoints, actor_list, istio_settings, actor_mesh, default_namespace
    )
    return traffic


def _workload_endpoints(model: Model, settings: NetworkSettings, label_filter: LabelFilter) -> dict[str, Endpoint]:
    """One node per workload; the same namespace/name twice -> the first by file/line,
    and different kinds with one name get a ``[Kind]`` suffix."""
    endpoints: dict[str, Endpoint] = {}
    by_ref: dict[str, list] = {}
    for w in model.network_workloads:
        by_ref.setdefault(w.ref, []).append(w)
    for ref, ws in sorted(by_ref.items()):
        kinds = {w.kind for w in ws}
        for w in sorted(ws, key=lambda w: (w.loc.path, w.loc.line)):
            node_id = ref if len(kinds) == 1 else f"{ref}[{w.kind}]"
            if node_id not in endpoints:
                endpoints[node_id] = workload_endpoint(w, node_id, model, settings, label_filter)
    return endpoints


def _peer_endpoints(parsed: ParsedPolicies, extras: list[str], settings: NetworkSettings) -> dict[str, Endpoint]:
    """Nodes for the entities, CIDR prefixes and FQDNs the policies or the caller name
    (the world always; ``world-ipv4`` is the world node of this IPv4 graph)."""
    entities = {"world"} | {e for e in parsed.entities if e in ENTITY_NODES}
    prefixes: set[str] = set()
    fqdns: set[str] = set()
    for r in parsed.rules:
        for e in r.entries:
            prefixes.update(req.key for s in e.others for req in s.requirements if req.source == CIDR)
            fqdns.update(fqdnlib.normalize(f.value) for f in e.fqdns)
    for x in extras:
        kind, _, name = x.partition(":")
        if kind == "entity" and name in ENTITY_NODES:
            entities.add(name)
        elif kind == "cidr":
            prefixes.add(name)
        elif kind == "fqdn":
            fqdns.add(name)
    endpoints = [entity_endpoint(name, settings) for name in sorted(entities)]
    endpoints += [cidr_endpoint(p, prefixes, settings) for p in sorted(prefixes) if p != IPV4_WORLD]
    endpoints += [fqdn_endpoint(name) for name in sorted(fqdns)]
    return {ep.id: ep for ep in endpoints}


def _dns_servers(endpoints: Mapping[str, Endpoint], class_of: Mapping[str, int]) -> dict[int, PortSet]:
    """The DNS server the pods query: the kube-dns actor (built in, or declared in the
    policy file), with the ports it serves (``53/UDP``, ``53/TCP`` ...)."""
    ep = endpoints.get("actor:kube-dns")
    if ep is None:
        return {}
    served = PortSet()
    for text in ep.ports:
        number, _, protocol = str(text).partition("/")
        low, _, high = number.partition("-")
        if low.isdigit() and (not high or high.isdigit()):
            served = served.union(port_range_set((protocol or "TCP").upper(), int(low), int(high or low)))
    return {class_of[ep.id]: served}


def flow_endpoints(section: TrafficSection) -> list[str]:
    """The endpoint references of the documented matrix that are graph nodes: flow ends,
    crown jewels, their sources and intermediaries (groups and unreadable references
    are left out; NET006 and NET011 report the latter)."""
    out = []
    for ref in section.endpoint_refs():
        if ref.startswith(("entity:all", "entity:cluster")):
            continue
        try:
            normalize_ref(ref)
        except EndpointError:
            continue
        out.append(ref)
    return out


def build_traffic_for_policy(
    model: Model,
    objects: Iterable[KubeObject],
    policy,
    extra_endpoints: Iterable[str] = (),
    default_namespace: str | None = None,
    parsed: ParsedPolicies | None = None,
) -> Traffic:
    """Convenience: settings, actors and documented flow endpoints from a ``Policy``."""
    from .actors import actors_from_policy
    from .istio.layer import actor_mesh_from_policy

    section = policy.section("traffic")
    return build_traffic(
        model,
        objects,
        NetworkSettings.from_mapping(policy.settings.cilium),
        actors_from_policy(section),
        flow_endpoints(policy.traffic) + list(extra_endpoints),
        default_namespace or policy.settings.default_namespace,
        parsed,
        istio_settings=policy.settings.istio,
        actor_mesh=actor_mesh_from_policy(section),
    )


__all__ = [
    "EndpointError",
    "Traffic",
    "Verdict",
    "build_traffic",
    "build_traffic_for_policy",
    "flow_endpoints",
    "normalize_ref",
    "parse_policies",
]
