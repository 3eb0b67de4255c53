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
  document promises plain L4 access.

Undocumented flows are judged where a policy decision was made: a flow into a
workload in scope that passes its ingress *rules* is reported at the rule that
allows it (NET002); a direction no policy isolates at all is reported once per
workload (NET004), because then every flow passes.  Traffic from the local node
(``entity:host``: kubelet probes) is always allowed by Cilium and never reported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterator

from ..findings import Finding
from ..located import LList, LMap, Loc
from ..network.ports import PortSet, port_range_set
from ..network.traffic import EndpointError
from .base import CheckContext

GROUPS = ("entity:all", "entity:cluster")
IMPLICIT_SOURCES = ("entity:host",)  # allowed by Cilium regardless of policy (allow-localhost)
_PORT_TEXT = re.compile(r"^(\d{1,5})(?:-(\d{1,5}))?(?:/(TCP|UDP|SCTP|ANY))?$")


@dataclass(frozen=True, slots=True)
class Flow:
    src: str
    dst: str
    ports: PortSet
    http: tuple[tuple[str | None, str | None, str | None], ...] | None
    loc: Loc
    src_loc: Loc
    dst_loc: Loc
    text: str


def parse_ports(items: Any) -> PortSet:
    """``8080``, ``"53/UDP"``, ``"30000-32767/TCP"``, ``"ICMP"``, ``{port, endPort, protocol}``.
    A bare number means TCP, ``ANY`` means TCP+UDP+SCTP (the schema has validated the shapes)."""
    total = PortSet()
    for item in items or ():
        if isinstance(item, int):
            total = total.union(port_range_set("TCP", item, item))
        elif isinstance(item, str) and item.upper() == "ICMP":
            total = total.union(PortSet.single("ICMP", 0, 255))
        elif isinstance(item, str):
            match = _PORT_TEXT.match(item.strip())
            if match:
                lo = int(match.group(1))
                hi = int(match.group(2) or lo)
                total = total.union(port_range_set(match.group(3) or "TCP", lo, hi))
        elif isinstance(item, dict):
            lo = item.get("port")
            if isinstance(lo, int):
                hi = item.get("endPort") or lo
                total = total.union(port_range_set(str(item.get("protocol", "TCP")), lo, hi))
    return total


def _http(items: Any) -> tuple | None:
    if items is None:
        return None
    return tuple(sorted({(i.get("method"), i.get("path"), i.get("host")) for i in items if isinstance(i, dict)},
                        key=lambda t: tuple(x or "" for x in t)))


def documented_flows(ctx: CheckContext) -> list[Flow]:
    section = ctx.policy.section("traffic")
    flows = section.get("flows") if isinstance(section, LMap) else None
    out = []
    if not isinstance(flows, LList):
        return out
    for i, f in enumerate(flows):
        if not isinstance(f, LMap):
            continue
        out.append(Flow(
            src=str(f.get("from")), dst=str(f.get("to")), ports=parse_ports(f.get("ports")), http=_http(f.get("http")),
            loc=flows.loc_of(i), src_loc=f.loc_of("from"), dst_loc=f.loc_of("to"),
            text=f"{f.get('from')} -> {f.get('to')} on {parse_ports(f.get('ports')).describe()}",
        ))
    return out


def zero_trust_namespaces(ctx: CheckContext) -> frozenset[str]:
    section = ctx.policy.section("traffic")
    zt = section.get("zeroTrust") if isinstance(section, LMap) else None
    return frozenset(str(n) for n in (zt.get("namespaces") or ())) if isinstance(zt, LMap) else frozenset()


def _has_traffic(ctx: CheckContext) -> bool:
    return isinstance(ctx.policy.section("traffic"), LMap)


def _endpoint_problem(traffic, ref: str) -> str | None:
    try:
        traffic.members(ref)
    except EndpointError as exc:
        return str(exc)
    return None


def _why_side_denies(side, missing: PortSet) -> str:
    """One sentence on why a side does not allow ``missing``."""
    label = "egress" if side.direction == "egress" else "ingress"
    denied = [c for c in side.denies if c.ports.intersect(missing)]
    if denied:
        return f"{label} denied by {denied[0].entry.origin.text()}"
    if side.isolated:
        by = side.isolating[0].text() if side.isolating else "policy"
        why = f"{label} is default-deny ({by} selects it) and no rule allows {missing.describe()}"
        if side.fqdn_without_dns:
            why += f" (the toFQDNs rule {side.fqdn_without_dns[0].origin.text()} counts only with DNS visibility, see NET005)"
        return why
    return f"{label} does not allow {missing.describe()}"


def _describe_members(ids: list[str], limit: int = 4) -> str:
    shown = ", ".join(ids[:limit])
    return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


def _direct_flows(ctx: CheckContext, traffic) -> Iterator[tuple[Flow, Any, Any]]:
    for flow in documented_flows(ctx):
        if flow.src in GROUPS or flow.dst in GROUPS:
            continue
        if _endpoint_problem(traffic, flow.src) or _endpoint_problem(traffic, flow.dst):
            continue
        yield flow, *traffic.sides(traffic.resolve(flow.src), traffic.resolve(flow.dst))


def check_l7(ctx: CheckContext) -> Iterator[Finding]:
    """NET003: the HTTP restriction on a documented flow differs from the document."""
    if not _has_traffic(ctx):
        return
    for flow, egress, ingress in _direct_flows(ctx, ctx.traffic()):
        yield from _l7_drift(flow, egress, ingress, egress.allowed.intersect(ingress.allowed))


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
        egress, ingress = traffic.sides(src, dst)
        allowed = egress.allowed.intersect(ingress.allowed)
        missing = flow.ports.subtract(allowed)
        if missing:
            reasons = [
                _why_side_denies(side, missing.subtract(side.allowed))
                for side in (egress, ingress)
                if missing.subtract(side.allowed)
            ]
            yield Finding(
                "NET001",
                f"documented flow {flow.text} is blocked on {missing.describe()}: " + "; ".join(reasons),
                flow.loc, subject=f"flow {flow.src} -> {flow.dst}", detail=missing.describe(),
            )


def _group_flow(ctx: CheckContext, traffic, flow: Flow, src_group: bool) -> Iterator[Finding]:
    concrete = traffic.resolve(flow.dst if src_group else flow.src)
    blocked: list[str] = []
    reason = ""
    for member in traffic.members(flow.src if src_group else flow.dst):
        if member == concrete:
            continue
        egress, ingress = traffic.sides(member, concrete) if src_group else traffic.sides(concrete, member)
        side = ingress if src_group else egress
        missing = flow.ports.subtract(side.allowed)
        if missing:
            blocked.append(member)
            reason = reason or _why_side_denies(side, missing)
    if blocked:
        yield Finding(
            "NET001",
            f"documented flow {flow.text} is blocked for {len(blocked)} of the sources: {_describe_members(blocked)} ({reason})"
            if src_group else
            f"documented flow {flow.text} is blocked towards {_describe_members(blocked)} ({reason})",
            flow.loc, subject=f"flow {flow.src} -> {flow.dst}", detail="group",
        )


def _l7_drift(flow: Flow, egress, ingress, allowed: PortSet) -> Iterator[Finding]:
    on_ports = flow.ports.intersect(allowed)
    if not on_ports:
        return
    restrictions = [r for side in (egress, ingress) for r in side.l7 if r.kind == "http" and r.ports.intersect(on_ports)]
    actual = tuple(sorted({(h.method, h.path, h.host) for r in restrictions for h in r.http},
                          key=lambda t: tuple(x or "" for x in t))) if restrictions else None
    if flow.http is None and actual is None:
        return
    if flow.http is not None and actual is None:
        yield Finding("NET003", f"documented flow {flow.text} promises an HTTP restriction, but every request is allowed at L7",
                      flow.loc, subject=f"flow {flow.src} -> {flow.dst}", detail="l7-missing")
    elif flow.http is None:
        where = restrictions[0].entries[0].origin.text() if restrictions[0].entries else "a policy"
        yield Finding("NET003", f"documented flow {flow.text} promises plain L4 access, but {where} restricts HTTP requests",
                      flow.loc, subject=f"flow {flow.src} -> {flow.dst}", detail="l7-extra")
    elif set(flow.http) != set(actual):
        extra = sorted(set(actual) - set(flow.http), key=str)
        lacking = sorted(set(flow.http) - set(actual), key=str)
        fmt = lambda rules: ", ".join(" ".join(x for x in r if x) or "any request" for r in rules)  # noqa: E731
        parts = ([f"policies also allow {fmt(extra)}"] if extra else []) + ([f"policies do not allow {fmt(lacking)}"] if lacking else [])
        yield Finding("NET003", f"documented flow {flow.text}: HTTP rules differ: " + "; ".join(parts),
                      flow.loc, subject=f"flow {flow.src} -> {flow.dst}", detail="l7-differs")


def _coverage(traffic, flows: list[Flow]) -> dict[tuple[str, str], PortSet]:
    """(src id, dst id) -> documented ports, with groups expanded."""
    covered: dict[tuple[str, str], PortSet] = {}
    for flow in flows:
        try:
            sources, targets = traffic.members(flow.src), traffic.members(flow.dst)
        except EndpointError:
            continue
        for s in sources:
            for d in targets:
                covered[(s, d)] = covered.get((s, d), PortSet()).union(flow.ports)
    return covered


def check_undocumented_flows(ctx: CheckContext) -> Iterator[Finding]:
    """NET002: a flow touching a zero-trust workload is allowed by a rule but not documented."""
    scope = zero_trust_namespaces(ctx)
    if not scope or not _has_traffic(ctx):
        return
    traffic = ctx.traffic()
    graph = traffic.graph
    covered = _coverage(traffic, documented_flows(ctx))
    in_scope = {n for n, a in graph.nodes(data=True) if a.get("kind") == "workload" and a.get("namespace") in scope}
    # (origin text, subject, direction) -> (origin loc, {peer: ports})
    grouped: dict[tuple[str, str, str], tuple[Loc, dict[str, PortSet]]] = {}
    for src, dst, data in graph.edges(data=True):
        if src in IMPLICIT_SOURCES or (src not in in_scope and dst not in in_scope):
            continue
        extra = data["ports"].subtract(covered.get((src, dst), PortSet()))
        if not extra:
            continue
        for subject, peer, side in ((dst, src, data["ingress"]), (src, dst, data["egress"])):
            if subject not in in_scope or not side.isolated:
                continue
            for contribution in side.allows:
                ports = contribution.ports.intersect(extra)
                if not ports:
                    continue
                origin = contribution.entry.origin
                key = (f"{origin.policy} {origin.path}".strip(), subject, side.direction)
                loc, peers = grouped.setdefault(key, (origin.loc, {}))
                peers[peer] = peers.get(peer, PortSet()).union(ports)
    for (origin_text, subject, direction), (loc, peers) in sorted(grouped.items()):
        ordered = sorted(peers)
        ports = PortSet()
        for p in ordered:
            ports = ports.union(peers[p])
        arrow = "from" if direction == "ingress" else "to"
        yield Finding(
            "NET002",
            f"{origin_text} lets {subject} {'accept' if direction == 'ingress' else 'open'} undocumented traffic {arrow} "
            f"{_describe_members(ordered)} on {ports.describe()}; the documented matrix does not list it",
            loc, subject=subject, detail=f"{direction}:{origin_text}", workload=subject,
        )


def check_isolation(ctx: CheckContext) -> Iterator[Finding]:
    """NET004: a zero-trust workload that no policy isolates in some direction."""
    scope = zero_trust_namespaces(ctx)
    if not scope or not _has_traffic(ctx):
        return
    traffic = ctx.traffic()
    for workload in ctx.model.workloads:
        if workload.namespace not in scope:
            continue
        try:
            wid = traffic.resolve(workload.ref)
        except EndpointError:
            continue
        probe = "entity:world"
        egress, _ = traffic.sides(wid, probe)
        _, ingress = traffic.sides(probe, wid)
        for side in (ingress, egress):
            if not side.isolated and side.enforced is not False:
                direction = side.direction
                yield Finding(
                    "NET004",
                    f"{workload.subject} is not isolated for {direction}: no network policy selects it for {direction}, "
                    f"so every {'inbound' if direction == 'ingress' else 'outbound'} flow is allowed in a zero-trust namespace",
                    workload.loc, subject=workload.subject, detail=direction, workload=workload.ref,
                )


def check_fqdn_visibility(ctx: CheckContext) -> Iterator[Finding]:
    """NET005: toFQDNs rules that allow nothing because the pod's DNS traffic is not
    inspected by Cilium's DNS proxy (no rules.dns egress rule on port 53)."""
    if not _has_traffic(ctx) and not any(o.kind in ("CiliumNetworkPolicy", "CiliumClusterwideNetworkPolicy") for o in ctx.inputs.objects):
        return
    traffic = ctx.traffic()
    fqdn_nodes = [n for n in traffic.endpoints if n.startswith("fqdn:")]
    seen: set[tuple] = set()
    for workload in ctx.model.workloads:
        try:
            wid = traffic.resolve(workload.ref)
        except EndpointError:
            continue
        for node in fqdn_nodes:
            egress, _ = traffic.sides(wid, node)
            for entry in egress.fqdn_without_dns:
                key = (workload.ref, entry.origin.text())
                if key in seen:
                    continue
                seen.add(key)
                yield Finding(
                    "NET005",
                    f"{entry.origin.text()} allows {workload.subject} to reach FQDNs, but no egress rule on port 53 with "
                    "rules.dns lets Cilium see its DNS answers, so the FQDN rule allows nothing",
                    entry.origin.loc, subject=workload.subject, detail=entry.origin.text(), workload=workload.ref,
                )


def check_endpoints(ctx: CheckContext) -> Iterator[Finding]:
    """NET006: a documented flow names an endpoint that exists nowhere."""
    if not _has_traffic(ctx):
        return
    traffic = ctx.traffic()
    for flow in documented_flows(ctx):
        for ref, loc in ((flow.src, flow.src_loc), (flow.dst, flow.dst_loc)):
            problem = _endpoint_problem(traffic, ref)
            if problem:
                yield Finding(
                    "NET006",
                    f"documented flow endpoint {ref!r} is neither a scanned workload nor a declared actor ({problem})",
                    loc, subject=f"flow {flow.src} -> {flow.dst}", detail=ref,
                )


CHECKS = {
    "NET001": check_documented_flows,
    "NET002": check_undocumented_flows,
    "NET003": check_l7,
    "NET004": check_isolation,
    "NET005": check_fqdn_visibility,
    "NET006": check_endpoints,
}
