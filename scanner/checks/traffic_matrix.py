"""NET001-NET006: the documented traffic matrix against the computed traffic graph.

The policy file's ``traffic`` section lists the documented flows and, under
``zeroTrust.namespaces``, the namespaces where every flow not listed must be
denied.  The graph comes from ``scanner.network`` (Cilium semantics).

How a documented flow is read:

* ``A -> B`` between two concrete endpoints: every documented port must pass
  both sides (egress of A and ingress of B).
* ``entity:all -> B`` / ``entity:cluster -> B`` ("from all sources"): a promise
  about B's ingress; each member's own egress policy is its own business.
  Likewise ``A -> entity:all`` is a promise about A's egress.
* ``http`` rules are the documented L7 restriction on those ports; absent, the
  document promises plain L4 access.  When both sides restrict HTTP, a request
  must pass both.
* Ports: a bare number is TCP, ``ANY`` is TCP+UDP+SCTP, ``ICMP`` is every ICMP
  type (IPv4 and IPv6: the schema has no separate ICMPv6 spelling), and a named
  port (``{port: http}``) resolves on the destination's container ports, as in
  policies.
* For undocumented traffic, a documented ``entity:world``, ``cidr:P`` or
  ``fqdn:P`` also covers the graph's more specific internet nodes inside it
  (``cidr:Q`` with Q inside P, FQDN names the pattern matches; ``entity:world``
  is the whole internet): the graph splits the address space, the document does not.

Undocumented flows are judged where a policy decision was made: a flow into a
workload in scope that passes its ingress *rules* is reported at the rule that
allows it (NET002); a direction no policy isolates at all is reported once per
workload (NET004), because then every flow passes.  Traffic from the local node
(``entity:host``: kubelet probes) is always allowed by Cilium and never reported.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from ..findings import Finding
from ..located import Loc
from ..names import did_you_mean
from ..network.fqdn import FqdnSelector
from ..network.identities import ENTITY_NODES
from ..network.ports import PortSet
from ..network.selectors import CIDR, RESERVED, Label
from ..network.traffic import GROUP_ENTITIES, EndpointError
from ..policy import Flow
from ..promises import flow_key, isolation_key
from . import istio_l7
from .base import CheckContext
from .unread import may_be_there

GROUPS = tuple(f"entity:{e}" for e in GROUP_ENTITIES)
IMPLICIT_SOURCES = ("entity:host",)  # allowed by Cilium regardless of policy (allow-localhost)
_WORLD = Label(RESERVED, "world")


def flow_ports(traffic, flow: Flow, dst: str) -> tuple[PortSet, list[str]]:
    """The flow's ports towards one destination endpoint: its numeric ports plus the
    named ports the destination declares (``containers[].ports[].name``, as policies
    resolve them), and the names it does not declare."""
    if not flow.named:
        return flow.ports, []
    ep = traffic.endpoints.get(dst)
    declared = ep.named_ports if ep is not None else ()
    ports, unknown = flow.ports, []
    for name, protocol in flow.named:
        hits = [
            (proto, number)
            for pname, proto, number in declared
            if pname == name and (proto == protocol or (protocol == "ANY" and proto in traffic.settings.any_protocols))
        ]
        for proto, number in hits:
            ports = ports.union(PortSet.single(proto, number))
        if not hits:
            unknown.append(name)
    return ports, unknown


def documented_flows(ctx: CheckContext) -> tuple[Flow, ...]:
    return ctx.policy.traffic.flows


def zero_trust_namespaces(ctx: CheckContext) -> frozenset[str]:
    return frozenset(ctx.policy.traffic.zero_trust)


def _has_traffic(ctx: CheckContext) -> bool:
    return ctx.policy.traffic.present


def _endpoint_problem(traffic, ref: str) -> str | None:
    try:
        traffic.members(ref)
    except EndpointError as exc:
        return str(exc)
    return None


def workload_id(traffic, workload) -> str | None:
    """The graph node of a scanned workload (``ns/name``, or ``ns/name[Kind]`` when two
    kinds share the name)."""
    for ref in (f"{workload.ref}[{workload.kind}]", workload.ref):
        ep = traffic.endpoints.get(ref)
        if ep is not None and ep.kind == "workload" and ep.workload_kind in (None, workload.kind):
            return ref
    return None


def covered_nodes(traffic, ref: str) -> list[str]:
    """Every graph node a documented reference stands for when judging undocumented
    traffic: the members of a group; for ``entity:world``, ``cidr:P`` and ``fqdn:P``
    also the more specific internet nodes inside it (the graph's ``cidr:P`` is only
    the part of P no more specific prefix covers, ``entity:world`` only the rest of
    the internet).  Raises EndpointError for unknown references."""
    members = traffic.members(ref)
    if len(members) != 1:
        return members
    rid = members[0]
    ep = traffic.endpoints[rid]
    inside: set[str] = {rid}
    if rid == "entity:world":
        inside |= {e for e, x in traffic.endpoints.items() if x.kind in ("cidr", "fqdn") and _WORLD in x.identity}
    elif ep.kind == "cidr" and ep.prefix:
        inside |= {e for e, x in traffic.endpoints.items() if x.kind == "cidr" and Label(CIDR, ep.prefix) in x.identity}
    elif ep.kind == "fqdn" and ep.fqdn:
        sel = FqdnSelector(ep.fqdn, "*" not in ep.fqdn)
        inside |= {
            e
            for e, x in traffic.endpoints.items()
            if x.kind == "fqdn" and x.fqdn and sel.covers(x.fqdn, "*" not in x.fqdn)
        }
    return sorted(inside)


_NO_SCTP = (
    "the datapath carries no SCTP (settings.cilium.sctp is false, as Cilium's enable-sctp is by default; "
    "SCTP packets are dropped whatever the policies say)"
)


def _why_side_denies(side, missing: PortSet) -> str:
    """One sentence on why a side does not allow ``missing``."""
    label = "egress" if side.direction == "egress" else "ingress"
    denied = [c for c in side.denies if c.ports.intersect(missing)]
    if denied:
        return f"{label} denied by {denied[0].entry.origin.text()}"
    if side.isolated:
        by = f"{side.isolating[0].text()} selects it" if side.isolating else "policyEnforcementMode is always"
        why = f"{label} is default-deny ({by}) and no rule allows {missing.describe()}"
        if side.fqdn_without_dns:
            why += f" (the toFQDNs rule {side.fqdn_without_dns[0].origin.text()} counts only with DNS visibility, see NET005)"
        return why
    return f"{label} does not allow {missing.describe()}"


def _describe_members(ids: list[str], limit: int = 4) -> str:
    shown = ", ".join(ids[:limit])
    return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


def _unknown_names(flow: Flow, dst: str, unknown: list[str]) -> Finding:
    names = ", ".join(repr(n) for n in unknown)
    return Finding(
        "NET001",
        f"documented flow {flow.text} names port {names}, which {dst} does not declare (containers[].ports[].name), "
        "so no policy can allow it there",
        flow.loc,
        subject=f"flow {flow.src} -> {flow.dst}",
        promises=(flow_key(flow),),
        detail="named-port",
    )


def check_documented_flows(ctx: CheckContext) -> Iterator[Finding]:
    """NET001: a documented flow is not allowed on every documented port."""
    if not _has_traffic(ctx):
        return
    traffic = ctx.traffic()
    for flow in documented_flows(ctx):
        if _endpoint_problem(traffic, flow.src) or _endpoint_problem(traffic, flow.dst):
            continue  # NET006 reports it
        src_group, dst_group = flow.src in GROUPS, flow.dst in GROUPS
        if src_group and dst_group:
            continue
        if src_group or dst_group:
            yield from _group_flow(ctx, traffic, flow, src_group)
            continue
        src, dst = traffic.resolve(flow.src), traffic.resolve(flow.dst)
        ports, unknown = flow_ports(traffic, flow, dst)
        if unknown:
            yield _unknown_names(flow, dst, unknown)
        egress, ingress = traffic.sides(src, dst)
        allowed = egress.allowed.intersect(ingress.allowed)
        yield from istio_l7.blocked_findings(traffic, flow, [(src, dst, ports.intersect(allowed))])  # Istio at dst
        missing = ports.subtract(allowed)
        if missing:
            carried = missing.intersect(traffic.settings.carried)
            reasons = [_NO_SCTP] if missing.subtract(carried) else []
            reasons += [
                _why_side_denies(side, carried.subtract(side.allowed))
                for side in (egress, ingress)
                if carried.subtract(side.allowed)
            ]
            yield Finding(
                "NET001",
                f"documented flow {flow.text} is blocked on {missing.describe()}: " + "; ".join(reasons),
                flow.loc,
                subject=f"flow {flow.src} -> {flow.dst}",
                promises=(flow_key(flow),),
                detail=missing.describe(),
            )


def group_sides(traffic, flow: Flow, src_group: bool) -> Iterator[tuple[str, Any, PortSet]]:
    """For a flow from (to) a group: (member, the concrete endpoint's side towards that
    member, the flow's ports there).  Only the concrete side is the promise."""
    concrete = traffic.resolve(flow.dst if src_group else flow.src)
    for member in traffic.members(flow.src if src_group else flow.dst):
        if member == concrete:
            continue
        egress, ingress = traffic.sides(member, concrete) if src_group else traffic.sides(concrete, member)
        ports, _ = flow_ports(traffic, flow, concrete if src_group else member)
        yield member, (ingress if src_group else egress), ports


def _group_flow(ctx: CheckContext, traffic, flow: Flow, src_group: bool) -> Iterator[Finding]:
    if src_group and flow.named:
        dst = traffic.resolve(flow.dst)
        _, unknown = flow_ports(traffic, flow, dst)
        if unknown:
            yield _unknown_names(flow, dst, unknown)
    if src_group:  # Istio at the destination decides for every member
        dst = traffic.resolve(flow.dst)
        yield from istio_l7.blocked_findings(
            traffic, flow, [(m, dst, p.intersect(side.allowed)) for m, side, p in group_sides(traffic, flow, True)]
        )
    blocked: list[str] = []
    reason = ""
    for member, side, ports in group_sides(traffic, flow, src_group):
        missing = ports.subtract(side.allowed)
        if missing:
            blocked.append(member)
            carried = missing.intersect(traffic.settings.carried)
            reason = reason or (_why_side_denies(side, carried) if carried else _NO_SCTP)
    if blocked:
        yield Finding(
            "NET001",
            f"documented flow {flow.text} is blocked for {len(blocked)} of the sources: {_describe_members(blocked)} ({reason})"
            if src_group
            else f"documented flow {flow.text} is blocked towards {_describe_members(blocked)} ({reason})",
            flow.loc,
            subject=f"flow {flow.src} -> {flow.dst}",
            promises=(flow_key(flow),),
            detail="group",
        )


# -- NET003 -------------------------------------------------------------------------


def _fmt_http(rules) -> str:
    return ", ".join(" ".join(x for x in r if x) or "any request" for r in sorted(rules, key=str))


def _restricting(side, on_ports: PortSet) -> list:
    """The HTTP restrictions of a side on ``on_ports`` that actually restrict: an empty
    rule list or a rule without method/path/host/headers lets every request through."""
    out = []
    for r in side.l7:
        if r.kind != "http" or not r.ports.intersect(on_ports) or not r.http:
            continue
        if any(
            h.method is None and h.path is None and h.host is None and not h.headers and not h.header_matches
            for h in r.http
        ):
            continue
        out.append(r)
    return out


def _l7_problem(flow: Flow, sides, on_ports: PortSet) -> tuple[str, str] | None:
    """(detail, text) when the HTTP rules the sides enforce on ``on_ports`` differ from
    the documented ones; None when they agree.  A request must pass every restricting side."""
    if not on_ports:
        return None
    per_side = [(side, rs) for side in sides for rs in (_restricting(side, on_ports),) if rs]
    restricted = PortSet()
    for _, rs in per_side:
        for r in rs:
            restricted = restricted.union(r.ports.intersect(on_ports))
    if flow.http is None:
        if not per_side:
            return None
        first = per_side[0][1][0]
        where = first.entries[0].origin.text() if first.entries else "a policy"
        return "l7-extra", f"promises plain L4 access, but {where} restricts HTTP requests on {restricted.describe()}"
    unrestricted = on_ports.subtract(restricted)
    if unrestricted:
        return (
            "l7-missing",
            f"promises an HTTP restriction, but every request is allowed at L7 on {unrestricted.describe()}",
        )
    sets = [
        (side.direction, frozenset((h.method, h.path, h.host) for r in rs for h in r.http)) for side, rs in per_side
    ]
    if len(sets) == 2 and not (sets[0][1] <= sets[1][1] or sets[1][1] <= sets[0][1]):
        (d1, s1), (d2, s2) = sets
        return "l7-differs", (
            f"has other HTTP rules than the policies: {d1} allows {_fmt_http(s1)} but {d2} allows "
            f"{_fmt_http(s2)} (a request must match both)"
        )
    # With two sides, the one whose rules are a subset decides: a request matching one of
    # its rules matches the same rule on the other side.
    actual = min((s for _, s in sets), key=len)
    doc = frozenset(flow.http)
    if actual == doc:
        return None
    extra, lacking = actual - doc, doc - actual
    parts = ([f"policies also allow {_fmt_http(extra)}"] if extra else []) + (
        [f"policies do not allow {_fmt_http(lacking)}"] if lacking else []
    )
    return "l7-differs", "has other HTTP rules than the policies: " + "; ".join(parts)


def check_l7(ctx: CheckContext) -> Iterator[Finding]:
    """NET003: the HTTP restriction on a documented flow differs from the document."""
    if not _has_traffic(ctx):
        return
    traffic = ctx.traffic()
    for flow in documented_flows(ctx):
        if _endpoint_problem(traffic, flow.src) or _endpoint_problem(traffic, flow.dst):
            continue
        src_group, dst_group = flow.src in GROUPS, flow.dst in GROUPS
        if src_group and dst_group:
            continue
        if src_group and istio_l7.applies(traffic, traffic.resolve(flow.dst)):  # Cilium AND Istio
            yield from istio_l7.group_findings(
                traffic, flow, list(group_sides(traffic, flow, True)), traffic.resolve(flow.dst)
            )
            continue
        if src_group or dst_group:
            problems: dict[tuple[str, str], list[str]] = {}
            for member, side, ports in group_sides(traffic, flow, src_group):
                got = _l7_problem(flow, [side], ports.intersect(side.allowed))
                if got:
                    problems.setdefault(got, []).append(member)
            if problems:
                (detail, text), members = min(problems.items(), key=lambda kv: (-len(kv[1]), kv[0]))
                scope = (
                    f"for {len(members)} of the sources ({_describe_members(members)})"
                    if src_group
                    else f"towards {_describe_members(members)}"
                )
                yield Finding(
                    "NET003",
                    f"documented flow {flow.text} {text} ({scope})",
                    flow.loc,
                    subject=f"flow {flow.src} -> {flow.dst}",
                    promises=(flow_key(flow),),
                    detail=detail,
                )
            continue
        src, dst = traffic.resolve(flow.src), traffic.resolve(flow.dst)
        egress, ingress = traffic.sides(src, dst)
        ports, _ = flow_ports(traffic, flow, dst)
        if istio_l7.applies(traffic, dst):  # the composed decision: Cilium's HTTP rules AND Istio
            yield from istio_l7.concrete_findings(
                traffic, flow, src, dst, [egress, ingress], ports.intersect(egress.allowed).intersect(ingress.allowed)
            )
            continue
        got = _l7_problem(flow, [egress, ingress], ports.intersect(egress.allowed).intersect(ingress.allowed))
        if got:
            yield Finding(
                "NET003",
                f"documented flow {flow.text} {got[1]}",
                flow.loc,
                subject=f"flow {flow.src} -> {flow.dst}",
                promises=(flow_key(flow),),
                detail=got[0],
            )


# -- NET004 -------------------------------------------------------------------------


def check_isolation(ctx: CheckContext) -> Iterator[Finding]:
    """NET004: a zero-trust workload that nothing isolates in some direction: no policy
    selects it for that direction, or Cilium enforces nothing on it (enforcement mode
    ``never``, or a hostNetwork pod, which is not a Cilium endpoint)."""
    scope = zero_trust_namespaces(ctx)
    if not scope or not _has_traffic(ctx):
        return
    traffic = ctx.traffic()
    for workload in ctx.model.network_workloads:
        if workload.namespace not in scope:
            continue
        wid = workload_id(traffic, workload)
        if wid is None:
            continue
        probe = "entity:world"
        egress, _ = traffic.sides(wid, probe)
        _, ingress = traffic.sides(probe, wid)
        for side in (ingress, egress):
            if side.isolated:
                continue
            direction = side.direction
            if side.enforced:
                why = f"no network policy selects it for {direction}"
            elif traffic.settings.policy_enforcement_mode == "never":
                why = "policyEnforcementMode is never, so Cilium enforces no policy"
            elif traffic.endpoints[wid].host_network:
                why = (
                    "it uses hostNetwork, so it is not a Cilium endpoint and no pod policy selects it "
                    "(host policies are not evaluated)"
                )
            else:
                why = "it is not a Cilium endpoint"
            yield Finding(
                "NET004",
                f"{workload.subject} is not isolated for {direction} ({why}): every "
                f"{'inbound' if direction == 'ingress' else 'outbound'} flow is allowed in a zero-trust namespace",
                workload.loc,
                subject=workload.subject,
                detail=direction,
                workload=workload.ref,
                promises=(isolation_key(wid, direction),),
            )


# -- NET005 -------------------------------------------------------------------------

_TO_PORTS = re.compile(r"\.toPorts\[\d+\]$")


def check_fqdn_visibility(ctx: CheckContext) -> Iterator[Finding]:
    """NET005: toFQDNs rules that allow nothing because the pod's DNS lookups do not pass
    Cilium's DNS proxy: no egress rule of the pod with rules.dns both reaches the DNS
    server (its peer selects kube-dns, on a port kube-dns serves, not denied, admitted by
    kube-dns) and has a pattern covering the name.  One finding per egress rule and
    workload, at the rule's first ``toPorts`` item (or the rule itself without ``toPorts``)."""
    if not _has_traffic(ctx) and not any(
        o.kind in ("CiliumNetworkPolicy", "CiliumClusterwideNetworkPolicy") for o in ctx.inputs.objects
    ):
        return
    traffic = ctx.traffic()
    fqdn_nodes = [n for n in traffic.endpoints if n.startswith("fqdn:")]
    dns = traffic.endpoints.get("actor:kube-dns")
    server = f"kube-dns (actor:kube-dns, {', '.join(dns.ports)})" if dns is not None and dns.ports else "kube-dns"
    for workload in ctx.model.network_workloads:
        wid = workload_id(traffic, workload)
        if wid is None:
            continue
        # (policy, egress rule path) -> (first location, names not visible, DNS rules that miss the server)
        blocked: dict[tuple[str, str], tuple[Loc, set[str], set[str]]] = {}
        for node in fqdn_nodes:
            egress, _ = traffic.sides(wid, node)
            for entry in egress.fqdn_without_dns:
                key = (entry.origin.policy, _TO_PORTS.sub("", entry.origin.path))
                loc, names, missing = blocked.get(key, (entry.origin.loc, set(), set()))
                names.add(node[len("fqdn:") :])
                missing.update(e.origin.text() for e in egress.dns_not_reaching)
                blocked[key] = (min(loc, entry.origin.loc), names, missing)
        for (policy, path), (loc, names, missing) in sorted(blocked.items()):
            listed = ", ".join(sorted(names))
            one = len(names) == 1
            why = (
                f"; its DNS rule {'; '.join(sorted(missing))} does not reach {server} (its peer does not select "
                "it, its ports miss the DNS port, or a deny rule or kube-dns's own policy removes it)"
                if missing
                else ""
            )
            yield Finding(
                "NET005",
                f"{policy} {path} ({loc.path}:{loc.line}) allows {workload.subject} to reach {listed} by name, but no "
                f"egress rule of the pod with rules.dns (DNS proxy) both reaches {server} and covers "
                f"{'that name' if one else 'these names'}{why}, so Cilium never learns "
                f"{'its' if one else 'their'} addresses and the toFQDNs rule allows nothing there",
                loc,
                subject=workload.subject,
                detail=f"{policy} {path}",
                workload=workload.ref,
            )


# -- NET006 -------------------------------------------------------------------------


def _unknown_endpoint_text(traffic, ref: str, problem: str) -> str:
    rid = ref.strip()
    if rid.startswith("entity:"):
        return (
            f"documented flow endpoint {ref!r} is not an entity the traffic graph models "
            f"(known: {', '.join(ENTITY_NODES + GROUP_ENTITIES)})"
            f"{did_you_mean(rid, [f'entity:{e}' for e in ENTITY_NODES + GROUP_ENTITIES])}"
        )
    if "/" in rid and ":" not in rid.split("/")[0]:
        several = sorted(e for e in traffic.endpoints if e.startswith(rid + "["))
        if several:
            return (
                f"documented flow endpoint {ref!r} names several workloads ({', '.join(several)}); "
                "a flow cannot tell them apart, so rename one of them"
            )
    return (
        f"documented flow endpoint {ref!r} is neither a scanned workload nor a declared actor ({problem})"
        f"{did_you_mean(rid, traffic.endpoints)}"
    )


def check_endpoints(ctx: CheckContext) -> Iterator[Finding]:
    """NET006: a documented flow names an endpoint that exists nowhere.  One finding per
    unknown reference, at its first use; it says when unreadable input may hold it."""
    if not _has_traffic(ctx):
        return
    traffic = ctx.traffic()
    uses: dict[str, list[tuple[Loc, Flow]]] = {}
    for flow in documented_flows(ctx):
        for ref, loc in ((flow.src, flow.src_loc), (flow.dst, flow.dst_loc)):
            if _endpoint_problem(traffic, ref):
                uses.setdefault(ref, []).append((loc, flow))
    for ref, found in uses.items():
        loc, flow = min(found, key=lambda u: u[0])
        text = _unknown_endpoint_text(traffic, ref, _endpoint_problem(traffic, ref) or "")
        flows = {id(f) for _, f in found}
        if len(flows) > 1:
            lines = ", ".join(str(line) for line in sorted({u.line for u, _ in found}))
            text += f" (used by {len(flows)} documented flows, lines {lines})"
        yield Finding(
            "NET006",
            text + may_be_there(ctx),
            loc,
            subject=f"flow {flow.src} -> {flow.dst}",
            detail=ref,
            promises=tuple(dict.fromkeys(flow_key(f) for _, f in sorted(found, key=lambda u: u[0]))),
        )


CHECKS = {
    "NET001": check_documented_flows,
    "NET003": check_l7,
    "NET004": check_isolation,
    "NET005": check_fqdn_visibility,
    "NET006": check_endpoints,
}
