"""NET010: an Istio ALLOW rule in a zero-trust namespace admits sources the matrix does not list.

NET002 decides the zero-trust promise on Cilium's rules for every pod that could exist;
this is the same question for the Istio layer.  Istio tells peers apart only by what
the destination proxy sees — an mTLS identity ``spiffe://<td>/ns/<ns>/sa/<sa>``, or for
plaintext peers an IP address — so a documented source is, for Istio, its identity
(its service account), a plaintext pod when it has no sidecar, or its addresses.  For
each ALLOW rule of a policy selecting a zero-trust workload, on each port piece the
sidecar intercepts, the check searches every peer that could exist:

* every identity: the strings the rule's principal / namespace / serviceAccount /
  trustDomain tests and the documented identities can tell apart fall into cells
  (``lang.py``); one witness identity per cell is evaluated, so an undocumented identity
  the rule admits is found if one exists;
* a plaintext pod (any pod without a sidecar), unless mTLS is STRICT on the port;
* external addresses, one per interval the rule's and the document's CIDRs delimit.

A rule whose verdict is undecidable offline for a peer counts as admitting it (the
security-conservative reading).  Known workloads it admits that the document does not
list as sources — typically pods sharing a documented source's service account — are
findings too, named.  DENY rules that match a peer take it out.  Reported once per
rule, at the rule, with a witness (docs/zero-trust.md, "Istio").
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import pairwise

from ..findings import Finding
from ..network.istio import lang
from ..network.istio import tri as T
from ..network.istio.authz import rule_result
from ..network.istio.match import Context, Peer, field_matches, split_principal
from ..network.istio.objects import AuthorizationPolicy, Rule
from ..network.peers import ALL_ADDRESSES, NO_ADDRESSES, AddressSet, prefix_addresses
from ..network.ports import PortSet
from ..network.traffic import EndpointError, Traffic, normalize_ref
from ..promises import isolation_key
from .base import CheckContext
from .traffic_matrix import flow_ports, workload_id
from .zero_trust import DocumentedPeers, member, universe_of

IDENTITY_ATTRS = ("source.principal", "source.namespace", "source.serviceAccount", "source.trustDomain")


@dataclass(slots=True)
class Documented:
    """The sources the document lets into a workload on one port, as Istio tells them apart."""

    principals: set[str] = field(default_factory=set)
    any_principal: bool = False
    plaintext: bool = False  # pods without a sidecar (and nodes): Istio cannot tell them apart
    addresses: AddressSet = NO_ADDRESSES
    endpoints: set[str] = field(default_factory=set)


def _add_reference(doc: Documented, ref: str, traffic: Traffic) -> None:
    layer = traffic.istio
    try:
        rid = normalize_ref(ref)
    except EndpointError:
        return
    if rid in ("entity:all", "entity:cluster"):
        doc.any_principal = doc.plaintext = True
        doc.addresses = doc.addresses.union(ALL_ADDRESSES) if rid == "entity:all" else doc.addresses
        doc.endpoints |= set(traffic.members(rid))
        return
    if rid == "entity:world":
        doc.addresses = ALL_ADDRESSES
        return
    if rid.startswith("cidr:"):
        doc.addresses = doc.addresses.union(prefix_addresses(rid[5:]))
        return
    if rid.startswith(("entity:", "fqdn:")):
        doc.plaintext = doc.plaintext or rid.startswith("entity:")  # nodes: plaintext without identity
        return
    try:
        eid = traffic.resolve(rid)
    except EndpointError:
        return
    doc.endpoints.add(eid)
    proxied = layer.dataplane(eid).proxied
    if proxied is not False:
        doc.principals.add(layer.principal(eid) or "")
    if proxied is not True:
        doc.plaintext = True


def flows_into(ctx: CheckContext, traffic: Traffic, docs: DocumentedPeers, wid: str) -> list:
    """The documented flows whose destination ``wid`` is (a member of), computed once per scan."""
    index = docs.__dict__.setdefault("_flows_into", {})
    if not index:
        index[None] = []
        for flow in ctx.policy.traffic.flows:
            try:
                targets = [traffic.resolve(flow.dst)] if flow.dst not in ("entity:all", "entity:cluster") else None
            except EndpointError:
                targets = None
            if targets is None:  # groups and odd references: by membership, as NET002 decides it
                targets = [
                    e
                    for e, ep in traffic.endpoints.items()
                    if ep.kind in ("workload", "actor") and member(docs.of(flow.dst), traffic, e)
                ]
            for eid in targets:
                index.setdefault(eid, []).append(flow)
    return index.get(wid, [])


def documented_sources(ctx: CheckContext, traffic: Traffic, docs: DocumentedPeers, wid: str, port: int) -> Documented:
    doc = Documented()
    for flow in flows_into(ctx, traffic, docs, wid):
        ports, _ = flow_ports(traffic, flow, wid)
        if ports.contains("TCP", port):
            _add_reference(doc, flow.src, traffic)
    return doc


# -- the peers a rule could admit ----------------------------------------------------------


def _identity_regex(attribute: str, value: str, policy_ns: str, traffic: Traffic) -> str:
    """The full-match regex, over a SPIFFE URI, of one identity test (match.py's matchers)."""
    from ..network.istio.match import expand_principal, service_account_regex

    if attribute == "source.principal":
        v = expand_principal(value, traffic.istio.settings)
        if v == "*":
            return ".+"
        if v.startswith("*"):
            return ".*" + re.escape(v[1:])
        if v.endswith("*"):
            return re.escape("spiffe://" + v[:-1]) + ".*"
        return re.escape("spiffe://" + v)
    if attribute == "source.namespace":
        return ".*/ns/" + ".*".join(re.escape(p) for p in value.split("*")) + "/.*"
    if attribute == "source.serviceAccount":
        return service_account_regex(policy_ns, value).pattern
    if value == "*":
        return "spiffe://[^/]+/.*"
    body = (
        ("[^/]*" + re.escape(value[1:]))
        if value.startswith("*")
        else (re.escape(value[:-1]) + "[^/]*" if value.endswith("*") else re.escape(value))
    )
    return "spiffe://" + body + "/.*"


def _exact_principals(rule: Rule, traffic: Traffic) -> list[str] | None:
    """When a rule's only identity tests are exact ``principals`` in every ``from`` entry, the
    identities it can admit are exactly those: no automaton needed."""
    from ..network.istio.match import expand_principal

    if not rule.sources:
        return None
    out: list[str] = []
    for clause in rule.sources:
        ident = [f for f in clause.fields if f.attribute in IDENTITY_ATTRS]
        if len(ident) != 1 or ident[0].attribute != "source.principal" or ident[0].not_values:
            return None
        if any("*" in v for v in ident[0].values):
            return None
        out += ["spiffe://" + expand_principal(v, traffic.istio.settings) for v in ident[0].values]
    if any(f.attribute in IDENTITY_ATTRS for f in rule.when):
        return None
    return sorted(set(out))


def identity_witnesses(rules: list[tuple[AuthorizationPolicy, Rule]], doc: Documented, traffic: Traffic) -> list[str]:
    """One identity per cell of every identity test of ``rules`` and of the document (the
    first rule is the one judged; the others are DENY rules that may take peers out)."""
    exact = _exact_principals(rules[0][1], traffic)
    if exact is not None:
        return exact
    td = traffic.istio.settings.trust_domain
    atoms = [
        lang.regex(_identity_regex(f.attribute, v, p.namespace, traffic), lang.PRINTABLE)
        for p, r in rules
        for f in r.fields
        if f.attribute in IDENTITY_ATTRS
        for v in f.values + f.not_values
    ]
    atoms += [lang.regex(re.escape(x), lang.PRINTABLE) for x in sorted(doc.principals) if x]
    # Namespaces are DNS labels, service accounts DNS subdomain names (Kubernetes validation).
    shape = lang.regex(
        re.escape(f"spiffe://{td}/ns/") + "[a-z0-9]([a-z0-9-]*[a-z0-9])?/sa/[a-z0-9]([a-z0-9.-]*[a-z0-9])?",
        lang.PRINTABLE,
    )
    return [c.witness for c in lang.cells(atoms, shape, lang.PRINTABLE)]


def address_witnesses(rules: list[tuple[AuthorizationPolicy, Rule]], doc: Documented) -> list[int]:
    """One IPv4/IPv6 address per interval the CIDRs of the rules and the document delimit."""
    marks: dict[int, set[int]] = {4: {0}, 6: {0}}
    for _, r in rules:
        for f in r.fields:
            if f.attribute == "source.ip":
                for v in f.values + f.not_values:
                    net = ipaddress.ip_network(v, strict=False)
                    marks[net.version] |= {int(net.network_address), int(net.broadcast_address) + 1}
    for spans, fam in ((doc.addresses.v4.spans, 4), (doc.addresses.v6.spans, 6)):
        for lo, hi in spans:
            marks[fam] |= {lo, hi + 1}
    top = {4: 2**32, 6: 2**128}
    out = [m for m in sorted(marks[4]) if m < top[4]]
    out += [m + top[4] for m in sorted(marks[6]) if m < top[6]]  # v6 addresses after v4 (peers.py convention)
    return out


def _address_peer(value: int) -> tuple[Peer, str]:
    if value < 2**32:
        addr = ipaddress.IPv4Address(value)
        return Peer(None, True, "an external client", AddressSet(v4=prefix_addresses(f"{addr}/32").v4)), str(addr)
    addr6 = ipaddress.IPv6Address(value - 2**32)
    return Peer(None, True, "an external client", AddressSet(v6=prefix_addresses(f"{addr6}/128").v6)), str(addr6)


def _address_in(doc: Documented, value: int) -> bool:
    if value < 2**32:
        return value in doc.addresses.v4
    return value - 2**32 in doc.addresses.v6


# -- judging one rule ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Excess:
    port: int
    witness: str
    known: tuple[str, ...]


class Judge:
    def __init__(self, ctx: CheckContext, traffic: Traffic, wid: str) -> None:
        self.ctx, self.traffic, self.wid = ctx, traffic, wid
        self.layer = traffic.istio
        self.dp = self.layer.dataplane(wid)
        self.policies = self.layer.policies_for(wid)
        self.deny = [(p, r) for p in self.policies if p.action == "DENY" for r in p.rules or ()]
        self._source_memo: dict[tuple, bool] = {}

    def _sources_may_match(self, p: AuthorizationPolicy, rule: Rule, peer: Peer) -> bool:
        """The rule's ``from`` entries alone (they do not depend on the port): a cheap filter."""
        key = (id(rule), peer.principal, peer.identity_known, peer.addresses)
        got = self._source_memo.get(key)
        if got is None:
            ctx = Context(peer, 0, _no_request(), p.namespace, self.layer.settings, self.layer.settings.pod_cidrs)
            got = not rule.sources or any(
                not T.and_(field_matches(f, ctx) for f in c.fields).is_false for c in rule.sources
            )
            self._source_memo[key] = got
        return got

    def _admits(self, p: AuthorizationPolicy, rule: Rule, peer: Peer, port: int, chains: tuple[str, ...]) -> bool:
        if not self._sources_may_match(p, rule, peer):
            return False
        ctx = Context(peer, port, _no_request(), p.namespace, self.layer.settings, self.layer.settings.pod_cidrs)
        return any(not rule_result(p, rule, ctx, chain, self.dp.mode).match.is_false for chain in chains)

    def _denied(self, peer: Peer, port: int, chains: tuple[str, ...]) -> bool:
        for p, rule in self.deny:
            ctx = Context(peer, port, _no_request(), p.namespace, self.layer.settings, self.layer.settings.pod_cidrs)
            if all(rule_result(p, rule, ctx, chain, self.dp.mode).match.is_true for chain in chains):
                return True
        return False

    def _chains(self, port: int) -> tuple[str, ...]:
        proto, _ = self.layer.port_protocol(self.wid, port)
        return self.layer._chains(proto, None)

    def excess(self, p: AuthorizationPolicy, rule: Rule, port: int, doc: Documented) -> Excess | None:
        chains = self._chains(port)
        mode = self.layer.mtls(self.wid, port).mode
        identities = self.dp.mode == "ambient" or mode not in ("DISABLE", "UNKNOWN")
        plaintext_ok = mode != "STRICT"
        witness = None
        if identities and not doc.any_principal:
            for w in identity_witnesses([(p, rule)] + self.deny, doc, self.traffic):
                peer = Peer(w, True, "", None)
                if (
                    w not in doc.principals
                    and self._admits(p, rule, peer, port, chains)
                    and not self._denied(peer, port, chains)
                ):
                    ns_sa = split_principal(w)
                    witness = (
                        (
                            f"a pod running as service account {ns_sa[2]} in namespace {ns_sa[1]} (identity "
                            f"{w.removeprefix('spiffe://')})"
                        )
                        if ns_sa
                        else w
                    )
                    break
        if witness is None and plaintext_ok and not doc.plaintext:
            peer = Peer(None, True, "no sidecar", None)
            if self._admits(p, rule, peer, port, chains) and not self._denied(peer, port, chains):
                witness = "any pod without an Istio proxy (plaintext, so it carries no identity)"
        if witness is None and plaintext_ok:
            for value in address_witnesses([(p, rule)] + self.deny, doc):
                peer, text = _address_peer(value)
                if (
                    not _address_in(doc, value)
                    and self._admits(p, rule, peer, port, chains)
                    and not self._denied(peer, port, chains)
                ):
                    witness = f"a client at {text}"
                    break
        known = self._known(p, rule, port, chains, doc)
        if witness is None and not known:
            return None
        return Excess(port, witness or "", known)

    def _candidates(self, rule: Rule, mode: str) -> list[str]:
        """Pods of the manifests the rule could admit.  With only exact principals (and mTLS
        carrying identities) those are the pods running as them: an index, not a scan."""
        exact = _exact_principals(rule, self.traffic)
        if exact is not None and (mode != "DISABLE" or self.dp.mode == "ambient"):
            index = _principal_index(self.traffic)
            return sorted({e for x in exact for e in index.get(x, ())})
        return [e for e, ep in self.traffic.endpoints.items() if ep.kind in ("workload", "actor")]

    def _known(
        self, p: AuthorizationPolicy, rule: Rule, port: int, chains: tuple[str, ...], doc: Documented
    ) -> tuple[str, ...]:
        out = []
        mode = self.layer.mtls(self.wid, port).mode
        for eid in self._candidates(rule, mode):
            if eid == self.wid or eid in doc.endpoints:
                continue
            peer = self.layer.source(eid)
            if mode == "DISABLE" and self.dp.mode != "ambient" and peer.principal is not None:
                peer = Peer(None, True, "DISABLE", None)
            if mode == "STRICT" and peer.principal is None and peer.identity_known:
                continue
            if self._admits(p, rule, peer, port, chains) and not self._denied(peer, port, chains):
                out.append(eid)
        return tuple(out)


def _principal_index(traffic: Traffic) -> dict[str, list[str]]:
    """Identity -> the pods (workloads, actors) that present it, built once per traffic model."""
    got = traffic.istio.__dict__.get("_principal_index")
    if got is None:
        got = {}
        for eid, ep in traffic.endpoints.items():
            if ep.kind in ("workload", "actor"):
                principal = traffic.istio.source(eid).principal
                if principal is not None:
                    got.setdefault(principal, []).append(eid)
        traffic.istio.__dict__["_principal_index"] = got
    return got


def _no_request():
    from ..network.istio.match import NO_REQUEST

    return NO_REQUEST


def _finding(wid: str, workload, p: AuthorizationPolicy, rule: Rule, excesses: list[tuple[PortSet, Excess]]) -> Finding:
    ports = PortSet()
    for piece, _ in excesses:
        ports = ports.union(piece)
    first = next((e for _, e in excesses if e.witness), excesses[0][1])
    known = sorted({k for _, e in excesses for k in e.known})
    example = f"e.g. {first.witness} would be admitted" if first.witness else "these known workloads are admitted"
    if known:
        shown = ", ".join(known[:4]) + (f" and {len(known) - 4} more" if len(known) > 4 else "")
        example += f" (in these manifests: {shown}, which the document does not list as sources of {wid})"
    where = f"{p.ref} rules[{rule.index}] ({rule.loc.path}:{rule.loc.line})"
    return Finding(
        "NET010",
        f"{where} lets {wid} accept sources the documented matrix does not list, on {ports.describe()}: {example}",
        rule.loc,
        subject=wid,
        detail=f"ingress:{p.ref} rules[{rule.index}]",
        workload=workload.ref,
        promises=(isolation_key(wid, "ingress"),),
    )


def check_istio_zero_trust(ctx: CheckContext) -> Iterator[Finding]:
    """NET010: an Istio ALLOW rule of a zero-trust workload admits undocumented sources."""
    scope = frozenset(ctx.policy.traffic.zero_trust)
    if not scope or not ctx.policy.traffic.present:
        return
    traffic = ctx.traffic()
    layer = traffic.istio
    if not layer.active:
        return
    docs = DocumentedPeers(ctx, traffic, universe_of(ctx, traffic))
    for workload in ctx.model.network_workloads:
        wid = workload_id(traffic, workload) if workload.namespace in scope else None
        if wid is None or layer.dataplane(wid).mode == "none":
            continue
        judge = Judge(ctx, traffic, wid)
        groups = _equivalent_pieces(ctx, traffic, docs, judge)
        for p in judge.policies:
            if p.action != "ALLOW":
                continue
            for rule in p.rules or ():
                excesses = [
                    (ports, e)
                    for port, doc, ports in groups
                    for e in (judge.excess(p, rule, port, doc),)
                    if e is not None
                ]
                if excesses:
                    yield _finding(wid, workload, p, rule, excesses)


def _equivalent_pieces(
    ctx: CheckContext, traffic: Traffic, docs: DocumentedPeers, judge: Judge
) -> list[tuple[int, Documented, PortSet]]:
    """Intercepted port pieces grouped by everything the judgement depends on: the port
    tests of every policy selecting the workload, mTLS mode, protocol and the documented
    sources.  Each group is judged once, on its first port (same verdicts by construction)."""
    tested = sorted(
        {
            int(v)
            for p in judge.policies
            for r in p.rules or ()
            for f in r.fields
            if f.attribute == "destination.port"
            for v in f.values + f.not_values
        }
    )
    groups: dict[tuple, tuple[int, Documented, PortSet]] = {}
    for lo, hi in _port_pieces(ctx, traffic, docs, judge.wid):
        if not judge.dp.intercepts(lo):
            continue
        doc = documented_sources(ctx, traffic, docs, judge.wid, lo)
        key = (
            tuple(lo == t for t in tested),
            traffic.istio.mtls(judge.wid, lo).mode,
            traffic.istio.port_protocol(judge.wid, lo)[0],
            frozenset(doc.principals),
            doc.any_principal,
            doc.plaintext,
            doc.addresses,
            frozenset(doc.endpoints),
        )
        port, first_doc, ports = groups.get(key, (lo, doc, PortSet()))
        groups[key] = (port, first_doc, ports.union(PortSet.single("TCP", lo, hi)))
    return list(groups.values())


def _port_pieces(ctx: CheckContext, traffic: Traffic, docs: DocumentedPeers, wid: str) -> list[tuple[int, int]]:
    """TCP port intervals on which neither Istio's port tests (exact) nor the documented
    flows into ``wid`` (ranges) change; each is judged on its first port."""
    marks = {1, 65536}
    for m in traffic.istio.interesting_ports(wid):
        marks |= {m, m + 1}
    for flow in flows_into(ctx, traffic, docs, wid):
        ports, _ = flow_ports(traffic, flow, wid)
        for lo, hi in ports.get("TCP").spans:
            marks |= {lo, hi + 1}
    bounds = sorted(m for m in marks if 1 <= m <= 65536)
    return [(lo, nxt - 1) for lo, nxt in pairwise(bounds)]


CHECKS = {"NET010": check_istio_zero_trust}
