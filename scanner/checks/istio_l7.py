"""The documented matrix where Istio enforces (flows whose destination has an Istio proxy,
in manifests that hold Istio security objects):

* NET001: a documented port Cilium allows but Istio refuses for every request (or on
  which Istio's decision is undecidable offline) is not proven allowed;
* NET003: the documented ``http`` list against the *composed* L7 decision (Cilium's HTTP
  rules AND Istio's AuthorizationPolicy), per method, path and host, with a witness
  request for every difference (scanner/network/istio/l7diff.py).

Called by ``traffic_matrix``; elsewhere those rules compare Cilium alone, as before.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from ..findings import Finding
from ..network.engine import SideResult
from ..network.istio.l7diff import Comparison, compare
from ..network.ports import PortSet
from ..policy import Flow
from ..promises import flow_key

MAX_SHOWN = 4


def applies(traffic, dst: str) -> bool:
    """Can Istio change a verdict at ``dst``?  Only when it may have a proxy and some
    AuthorizationPolicy selects it or some PeerAuthentication may (otherwise Istio allows
    every request: no ALLOW policy, PERMISSIVE mTLS)."""
    layer = traffic.istio
    if layer is None or not layer.active or layer.dataplane(dst).mode == "none":
        return False
    ns = layer.namespace(dst)
    return bool(layer.policies_for(dst)) or any(
        p.namespace in (ns, layer.settings.root_namespace) for p in layer.parsed.peer_auths
    )


def probe_ports(traffic, dst: str, ports: PortSet, sides: Sequence[SideResult]) -> list[int]:
    """One port per piece of ``ports`` (TCP) on which Istio and Cilium's L7 rules act alike."""
    tcp = ports.get("TCP")
    if not tcp:
        return []
    marks = set(traffic.istio.interesting_ports(dst))
    for side in sides:
        for r in side.l7:
            marks |= {lo for lo, _ in r.ports.get("TCP").spans} | {hi + 1 for _, hi in r.ports.get("TCP").spans}
    out = {lo for lo, _ in tcp.spans} | {m for m in marks if m in tcp}
    return sorted(out)


def _finding(flow: Flow, port: int, dst: str, result: Comparison, scope: str = "") -> Finding | None:
    if not result.differences and not result.undecided:
        return None
    if result.differences:
        # One witness per distinct reason; the others are counted.
        by_why: dict[str, list] = {}
        for d in result.differences:
            by_why.setdefault(d.why, []).append(d)
        shown = []
        for items in list(by_why.values())[:MAX_SHOWN]:
            more = (
                f" (and {len(items) - 1} more request{'s' if len(items) > 2 else ''} like it)" if len(items) > 1 else ""
            )
            shown.append(items[0].text(dst, port) + more)
        text = "; ".join(shown)
        detail = "l7-composed"
    else:
        text = f"could not be proven on {dst}:{port}: {result.undecided}"
        detail = "l7-undecided"
    return Finding(
        "NET003",
        f"documented flow {flow.text} (Cilium and Istio): {text}{scope}",
        flow.loc,
        subject=f"flow {flow.src} -> {flow.dst}",
        promises=(flow_key(flow),),
        detail=detail,
    )


def concrete_findings(
    traffic, flow: Flow, src: str, dst: str, sides: Sequence[SideResult], ports: PortSet
) -> Iterator[Finding]:
    """A flow between two endpoints: both Cilium sides' HTTP rules and Istio at dst."""
    restrictions = [r for side in sides for r in side.l7]
    for port in probe_ports(traffic, dst, ports, sides):
        f = _finding(flow, port, dst, compare(traffic.istio, src, dst, port, restrictions, flow.http))
        if f is not None:
            yield f
            return  # one finding per flow, like the Cilium comparison


def group_findings(
    traffic, flow: Flow, members: Sequence[tuple[str, SideResult, PortSet]], dst: str
) -> Iterator[Finding]:
    """A flow from a group (``entity:all -> dst``): only dst's side is the promise, so each
    member is compared on dst's ingress HTTP rules and Istio's decision at dst."""
    affected: list[tuple[str, int, Comparison]] = []
    for member, ingress, ports in members:
        for port in probe_ports(traffic, dst, ports.intersect(ingress.allowed), [ingress]):
            result = compare(traffic.istio, member, dst, port, list(ingress.l7), flow.http)
            if result.differences or result.undecided:
                affected.append((member, port, result))
                break
    if affected:
        member, port, result = affected[0]
        names = ", ".join(m for m, _, _ in affected[:4]) + (
            f" and {len(affected) - 4} more" if len(affected) > 4 else ""
        )
        f = _finding(flow, port, dst, result, f" (for {len(affected)} of the sources: {names}; first: {member})")
        if f is not None:
            yield f


def _blocked(traffic, src: str, dst: str, port: int) -> str | None:
    """Why Istio keeps ``src`` from ever reaching ``dst:port`` (or why that is undecidable)."""
    v = traffic.istio.decide(src, dst, "TCP", port)
    if v.status == "deny":
        return f"Istio refuses it ({v.reason})"
    offline = sorted(u.text() for u in v.unknown if u.kind == "offline")
    if v.status == "unknown" and offline:
        return f"Istio's decision cannot be proven offline: it depends on {'; '.join(offline)}"
    return None


def blocked_findings(traffic, flow: Flow, pairs: Sequence[tuple[str, str, PortSet]]) -> Iterator[Finding]:
    """NET001 for the Istio layer: (src, dst, ports Cilium allows) of one documented flow."""
    reasons: list[tuple[str, str, int, str]] = []
    for src, dst, ports in pairs:
        if not applies(traffic, dst):
            continue
        for port in probe_ports(traffic, dst, ports, []):
            why = _blocked(traffic, src, dst, port)
            if why is not None:
                reasons.append((src, dst, port, why))
                break
    if not reasons:
        return
    src, dst, port, why = reasons[0]
    scope = (
        f" (for {len(reasons)} of {len(pairs)} source/destination pairs; first: {src} -> {dst})"
        if len(pairs) > 1
        else ""
    )
    yield Finding(
        "NET001",
        f"documented flow {flow.text} is blocked on TCP {port}: {why}{scope}",
        flow.loc,
        subject=f"flow {flow.src} -> {flow.dst}",
        promises=(flow_key(flow),),
        detail=f"istio:{port}",
    )
