"""NET002 and NET004: the zero-trust promise, for every pod that could exist.

In a namespace of ``traffic.zeroTrust.namespaces`` each workload's rules may admit only
the documented peers on the documented ports.  NET002 decides that symbolically
(docs/zero-trust.md): per workload, direction and allow entry, the entry's peer set must
be contained in the documented peers (plus deny entries and the always-admitted local
host) on every piece of its ports; an excess is reported once, at the entry, with a
concrete witness.  NET004 reports a direction that no policy isolates at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from ..findings import Finding
from ..model.types import Workload
from ..network import peers as P
from ..network.engine import Engine
from ..network.fqdn import FqdnSelector
from ..network.identities import Endpoint
from ..network.ports import FULL, PortSet, domain
from ..network.rules import Entry, PolicyRule
from ..network.selectors import (
    K8S,
    POD_NAMESPACE,
    Requirement,
    Selector,
    SelectorError,
    parse_label_selector,
)
from ..network.traffic import EndpointError, Traffic, normalize_ref
from ..policy import Flow
from ..promises import isolation_key
from .base import CheckContext
from .traffic_matrix import flow_ports, workload_id

Token = tuple[str, str]  # a named port (name, protocol) of an egress rule, unresolvable on unknown pods


@dataclass(frozen=True, slots=True)
class Region:
    """Peers that may be admitted on some ports: a documented flow, a deny entry (its
    peers are never admitted there) or the local host."""

    peers: P.PeerSet
    ports: PortSet
    tokens: frozenset[Token] = frozenset()

    def covers_token(self, token: Token) -> bool:
        proto = token[1]
        return token in self.tokens or self.ports.get(proto).spans == (domain(proto),)


# -- the universe and the documented peers ----------------------------------------------


def universe_of(ctx: CheckContext, traffic: Traffic) -> P.Universe:
    from ..network.labelfilter import DEFAULT_PREFIXES, LabelFilter

    declared = {ns.name: dict(ns.labels) for ns in ctx.model.namespaces.values() if ns.declared}
    return P.Universe(
        cluster=traffic.settings.cluster_name,
        namespaces=declared,
        label_filter=LabelFilter.parse(DEFAULT_PREFIXES, tuple(traffic.settings.label_prefixes)),
        cidr_match_mode=traffic.settings.cidr_match_mode,
    )


def workload_selector(w: Workload) -> Selector:
    """The pods that *are* the workload: its controller's selector (Kubernetes' own
    definition of membership), else its pod labels; always in its namespace."""
    reqs: list[Requirement] = [Requirement(K8S, POD_NAMESPACE, "In", (w.namespace,))]
    if w.selector is not None:
        data = {
            "matchLabels": dict(w.selector.labels),
            "matchExpressions": [{"key": k, "operator": op, "values": list(v)} for k, op, v in w.selector.expressions],
        }
        try:
            reqs += parse_label_selector(data, force_source=K8S).requirements
        except SelectorError:
            reqs += [Requirement(K8S, k, "In", (v,)) for k, v in w.pod_labels.items()]
    else:
        reqs += [Requirement(K8S, k, "In", (v,)) for k, v in w.pod_labels.items()]
    return Selector.of(reqs)


def _without_dropped(sel: Selector, universe: P.Universe) -> Selector:
    """Labels Cilium drops from identities cannot tell pods apart: ignore them."""
    return Selector(tuple(r for r in sel.requirements if r.key == POD_NAMESPACE or universe.label_filter.keeps(r.key)))


class DocumentedPeers:
    """Documented references -> peer sets, resolved once per scan."""

    def __init__(self, ctx: CheckContext, traffic: Traffic, universe: P.Universe) -> None:
        self.ctx, self.traffic, self.universe = ctx, traffic, universe
        self._memo: dict[str, P.PeerSet] = {}

    def of(self, ref: str) -> P.PeerSet:
        got = self._memo.get(ref)
        if got is None:
            got = self._resolve(ref)
            self._memo[ref] = got
        return got

    def _resolve(self, ref: str) -> P.PeerSet:
        try:
            rid = normalize_ref(ref)
        except EndpointError:
            return P.NOTHING
        if rid.startswith("entity:"):
            return _entity_peers(rid[7:], self.universe)
        if rid.startswith("cidr:"):
            return P.PeerSet(addresses=P.prefix_addresses(rid[5:]))
        if rid.startswith("fqdn:"):
            name = rid[5:]
            return P.PeerSet(names=(P.NameSet(((FqdnSelector(name, "*" not in name),),)),))
        if rid.startswith("actor:"):
            actor = next((a for a in self.traffic.actors if a.name == rid[6:]), None)
            if actor is None:
                return P.NOTHING
            reqs = [Requirement(K8S, POD_NAMESPACE, "In", (actor.namespace,))]
            reqs += [Requirement(K8S, k, "In", (v,)) for k, v in actor.labels.items()]
            return P.PeerSet(pods=(Selector.of(reqs),))
        try:
            eid = self.traffic.resolve(rid)
        except EndpointError:
            return P.NOTHING
        ep = self.traffic.endpoints[eid]
        if not ep.managed:  # a hostNetwork pod carries the node's identity
            return P.PeerSet(entities=frozenset({"host", "remote-node"}))
        workload = next(
            (
                w
                for w in self.ctx.model.network_workloads
                if w.ref == f"{ep.namespace}/{ep.name}" and w.kind == ep.workload_kind
            ),
            None,
        )
        if workload is None:
            return P.NOTHING
        return P.PeerSet(pods=(_without_dropped(workload_selector(workload), self.universe),))


def _entity_peers(name: str, universe: P.Universe) -> P.PeerSet:
    if name == "all":
        return P.EVERYTHING
    if name == "cluster":
        cluster = Selector((Requirement(K8S, "io.cilium.k8s.policy.cluster", "In", (universe.cluster,)),))
        return P.PeerSet(pods=(cluster,), entities=frozenset(P.ENTITIES))
    if name == "world":
        return P.PeerSet(addresses=P.ALL_ADDRESSES, all_names=True)
    if name == "world-ipv4":
        return P.PeerSet(addresses=P.AddressSet(v4=P.ALL_ADDRESSES.v4))
    if name == "world-ipv6":
        return P.PeerSet(addresses=P.AddressSet(v6=P.ALL_ADDRESSES.v6))
    return P.PeerSet(entities=frozenset({name}) & frozenset(P.ENTITIES))


# -- membership of known endpoints (for messages and the graph-agreement law) ----------------


def member(peers: P.PeerSet, traffic: Traffic, eid: str) -> bool:
    """Does the peer set contain the graph endpoint ``eid``?"""
    ep: Endpoint = traffic.endpoints[eid]
    if ep.kind in ("workload", "actor"):
        if not ep.managed:
            return "remote-node" in peers.entities
        return any(s.matches(ep.identity) for s in peers.pods)
    if ep.kind == "entity" and ep.name != "world":
        return ep.name in peers.entities
    if ep.kind == "fqdn":
        return peers.all_names or any(
            all(any(s.covers(ep.fqdn or "", "*" not in (ep.fqdn or "")) for s in g) for g in n.groups)
            for n in peers.names
        )
    address = _representative(traffic, ep)
    return address is not None and address in (peers.addresses.v4 if address < 2**32 else peers.addresses.v6)


def _representative(traffic: Traffic, ep: Endpoint) -> int | None:
    """An IPv4 address standing for a cidr node (its prefix minus the more specific
    prefixes the graph names) or for entity:world (outside every named prefix)."""
    inner = [P.prefix_addresses(x.prefix) for x in traffic.endpoints.values() if x.kind == "cidr" and x.prefix]
    region = P.prefix_addresses(ep.prefix) if ep.kind == "cidr" and ep.prefix else P.AddressSet(v4=P.ALL_ADDRESSES.v4)
    own = region
    for other in inner:
        if other == own:
            continue
        if not other.subtract(own):  # strictly inside: the graph gives it its own node
            region = region.subtract(other)
    spans = region.v4.spans or region.v6.spans
    return spans[0][0] if spans else None


# -- one side of one workload ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Side:
    workload: Workload
    wid: str
    direction: str
    rules: tuple[PolicyRule, ...]
    allow_requires: tuple[Requirement, ...]
    deny_requires: tuple[Requirement, ...]
    dns: tuple[FqdnSelector, ...]


def _side(engine: Engine, workload: Workload, wid: str, ci: int, direction: str) -> Side:
    rules = tuple(engine.rules[i] for i in engine.rules_of[ci])
    allow: list[Requirement] = []
    deny: list[Requirement] = []
    for r in rules:
        allow += r.requires_ingress if direction == "ingress" else r.requires_egress
        deny += r.requires_ingress_deny if direction == "ingress" else r.requires_egress_deny
    dns = tuple(
        d
        for r in rules
        for e in r.entries
        if e.direction == "egress" and not e.deny and e.l7 is not None and e.l7.kind == "dns"
        for d in e.l7.dns
    )
    return Side(workload, wid, direction, rules, tuple(allow), tuple(deny), dns)


def entry_peers(
    entry: Entry, requires: tuple[Requirement, ...], dns: tuple[FqdnSelector, ...], universe: P.Universe
) -> P.PeerSet:
    """Every peer the entry selects: its endpoint selectors with the rules'
    from/toRequires ANDed in (as the engine does), its other selectors, and the names of
    its toFQDNs that the pod's DNS proxy rules make visible."""
    endpoints = [s.and_(*requires) for s in entry.endpoints] if requires else list(entry.endpoints)
    out = P.from_selectors(endpoints + list(entry.others), universe)
    if entry.fqdns and dns:
        out = out.union(P.PeerSet(names=(P.NameSet((entry.fqdns, dns)),)))
    return out


def _entry_ports(engine: Engine, entry: Entry, ci: int, direction: str) -> tuple[PortSet, frozenset[Token]]:
    """The entry's ports as far as the datapath carries them (no SCTP without
    enable-sctp); egress named ports stay names (``Token``) — unknown pods may give them
    any number."""
    if entry.l3_only or direction == "ingress" or not entry.named:
        ports = FULL if entry.l3_only else engine.entry_ports(entry, ci)
        return ports.intersect(engine.carried), frozenset()
    tokens = frozenset(
        (item.name or "", proto)
        for item in entry.named
        for proto in (engine.settings.any_protocols if item.protocol == "ANY" else (item.protocol,))
    )
    return entry.static.intersect(engine.carried), tokens


def _regions(ctx: CheckContext, traffic: Traffic, docs: DocumentedPeers, side: Side) -> list[Region]:
    engine = traffic.engine
    ci = traffic.class_of[side.wid]
    out: list[Region] = []
    for flow in ctx.policy.traffic.flows:
        own, peer = (flow.dst, flow.src) if side.direction == "ingress" else (flow.src, flow.dst)
        if not member(docs.of(own), traffic, side.wid):
            continue
        if side.direction == "ingress":
            ports, _ = flow_ports(traffic, flow, side.wid)
            out.append(Region(docs.of(peer), ports))
        else:
            out.append(Region(docs.of(peer), flow.ports, _flow_tokens(traffic, flow)))
    for rule in side.rules:
        for e in rule.entries:
            if e.direction != side.direction or not e.deny:
                continue
            ports, tokens = _entry_ports(engine, e, ci, side.direction)
            out.append(Region(entry_peers(e, side.deny_requires, (), docs.universe), ports, tokens))
    if side.direction == "ingress":  # Cilium always admits the local host (allow-localhost)
        out.append(Region(P.PeerSet(entities=frozenset({"host"})), FULL))
    return out


def _flow_tokens(traffic: Traffic, flow: Flow) -> frozenset[Token]:
    """Named ports a documented egress flow covers: the names it lists, and the names
    its (known) destination declares on a documented number."""
    out = set(flow.named)
    try:
        ep = traffic.endpoints.get(traffic.resolve(flow.dst))
    except EndpointError:
        ep = None
    for name, proto, number in ep.named_ports if ep is not None else ():
        if number in flow.ports.get(proto):
            out.add((name, proto))
    return frozenset(out)


def _pieces(
    ports: PortSet, tokens: frozenset[Token], regions: list[Region]
) -> list[tuple[PortSet, Token | None, list[Region]]]:
    """Split the entry's ports into pieces covered by the same regions."""
    pieces: list[tuple[PortSet, list[Region]]] = [(ports, [])] if ports else []
    for region in regions:
        nxt = []
        for piece, covering in pieces:
            inside, outside = piece.intersect(region.ports), piece.subtract(region.ports)
            if inside:
                nxt.append((inside, covering + [region]))
            if outside:
                nxt.append((outside, covering))
        pieces = nxt
    out: list[tuple[PortSet, Token | None, list[Region]]] = [(p, None, c) for p, c in pieces]
    out += [(PortSet(), t, [r for r in regions if r.covers_token(t)]) for t in sorted(tokens)]
    return out


@dataclass(frozen=True, slots=True)
class Excess:
    ports: PortSet
    tokens: tuple[Token, ...]
    witness: P.Witness | None  # None: undecided
    known: tuple[str, ...]


def entry_excess(
    traffic: Traffic, side: Side, entry: Entry, regions: list[Region], universe: P.Universe
) -> Excess | None:
    """What the entry admits beyond ``regions``, or None when it admits nothing more."""
    admitted = entry_peers(entry, side.allow_requires, side.dns, universe)
    if admitted.is_empty:
        return None
    ci = traffic.class_of[side.wid]
    ports, tokens = _entry_ports(traffic.engine, entry, ci, side.direction)
    excess_ports, excess_tokens, first, known = PortSet(), [], None, ()
    undecided = False
    for piece, token, covering in _pieces(ports, tokens, regions):
        covered = P.union_all(r.peers for r in covering)
        # A named port resolves only on a pod that declares it: never on an entity, an
        # address or a name.
        candidates = admitted if token is None else P.PeerSet(pods=admitted.pods)
        try:
            w = P.witness(candidates, covered, universe)
        except P.Undecided:
            undecided, w = True, None
        if w is None and not undecided:
            continue
        if token is None:
            excess_ports = excess_ports.union(piece)
        else:
            excess_tokens.append(token)
        if first is None and w is not None:
            first = w
            known = tuple(
                e
                for e in traffic.endpoints
                if e != side.wid
                and member(candidates, traffic, e)
                and not member(covered, traffic, e)
                and _declares(traffic.endpoints[e], token)
            )
    if not excess_ports and not excess_tokens:
        return None
    return Excess(excess_ports, tuple(excess_tokens), None if undecided and first is None else first, known)


def _declares(ep: Endpoint, token: Token | None) -> bool:
    return token is None or any((name, proto) == token for name, proto, _ in ep.named_ports)


def _peer_text(entry: Entry, cluster: str) -> str:
    return P.describe_selectors(entry.endpoints, entry.others, entry.fqdns, cluster)


def _excess_finding(side: Side, entry: Entry, excess: Excess, cluster: str) -> Finding:
    w = side.workload
    ports = "; ".join(
        ([excess.ports.describe()] if excess.ports else []) + [f"port '{n}'/{p}" for n, p in excess.tokens]
    )
    verb, prep = ("accept connections", "from") if side.direction == "ingress" else ("open connections", "to")
    if excess.witness is None:
        example = "the peer search exceeded its budget, so containment could not be decided; narrow the rule"
    else:
        example = f"e.g. {excess.witness.text} would be {'admitted' if side.direction == 'ingress' else 'reachable'}"
    known = ""
    if excess.known:
        shown = ", ".join(excess.known[:4]) + (f" and {len(excess.known) - 4} more" if len(excess.known) > 4 else "")
        known = f" (in these manifests: {shown})"
    origin = entry.origin
    return Finding(
        "NET002",
        f"{origin.policy} {origin.path} lets {side.wid} {verb} the documented matrix does not list: {prep} "
        f"{_peer_text(entry, cluster)} on {ports}; {example}{known}",
        origin.loc,
        subject=side.wid,
        detail=f"{side.direction}:{origin.policy} {origin.path}",
        workload=w.ref,
        promises=(isolation_key(side.wid, side.direction),),
    )


def check_zero_trust(ctx: CheckContext) -> Iterator[Finding]:
    """NET002: a rule of a zero-trust workload admits peers or ports the matrix does not list."""
    scope = frozenset(ctx.policy.traffic.zero_trust)
    if not scope or not ctx.policy.traffic.present:
        return
    traffic = ctx.traffic()
    universe = universe_of(ctx, traffic)
    docs = DocumentedPeers(ctx, traffic, universe)
    for workload in ctx.model.network_workloads:
        if workload.namespace not in scope:
            continue
        wid = workload_id(traffic, workload)
        if wid is None:
            continue
        ci = traffic.class_of[wid]
        for direction in ("ingress", "egress"):
            if not traffic.engine.direction(ci, direction).isolated:
                continue  # NET004
            side = _side(traffic.engine, workload, wid, ci, direction)
            yield from _judge(ctx, traffic, docs, universe, side)


def _judge(
    ctx: CheckContext, traffic: Traffic, docs: DocumentedPeers, universe: P.Universe, side: Side
) -> Iterable[Finding]:
    regions = _regions(ctx, traffic, docs, side)
    for rule in side.rules:
        for entry in rule.entries:
            if entry.direction != side.direction or entry.deny:
                continue
            excess = entry_excess(traffic, side, entry, regions, universe)
            if excess is not None:
                yield _excess_finding(side, entry, excess, universe.cluster)


CHECKS = {"NET002": check_zero_trust}
