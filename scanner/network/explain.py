"""Human explanations of verdicts: both sides, with policy, rule and file:line.

Like netpol-analyzer's ``--explain``, but for Cilium: each side says whether the
endpoint is enforced and isolated (and by which policies), which allow entries match
the peer on the asked port, which deny entries remove it, and which L7 rules apply.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .engine import SideResult
from .ports import PortSet
from .selectors import Selector
from .traffic import Traffic, Verdict


def _port_text(protocol: str, port: int | None) -> str:
    if port is None:
        return f"{protocol} (any port)"
    if protocol in ("ICMP", "ICMPv6"):
        return f"{protocol} type {port}"
    return f"{protocol}/{port}"


def _covers(ports: PortSet, protocol: str, port: int | None) -> bool:
    return bool(ports.get(protocol)) if port is None else ports.contains(protocol, port)


def explain_side(
    side: SideResult, subject: str, peer: str, protocol: str, port: int | None, peer_identity: frozenset | None = None
) -> list[str]:
    verb = "egress" if side.direction == "egress" else "ingress"
    towards = f"to {peer}" if verb == "egress" else f"from {peer}"
    head = f"{verb} of {subject} ({towards}):"
    if not side.enforced:
        return [
            head,
            f"  ALLOWED — not enforced: {subject} is not a Cilium endpoint (host network, external peer, "
            "or policy enforcement is off)",
        ]
    ok = _covers(side.allowed, protocol, port)
    denying = [c for c in side.denies if _covers(c.ports, protocol, port)]
    lines = [head, f"  {_verdict(side, ok, bool(denying), peer, protocol, port)}", _isolation(side, subject, verb)]
    if side.localhost:
        lines.append("  traffic from the local host is always allowed (Cilium allow-localhost)")
    for c in side.allows:
        if _covers(c.ports, protocol, port):
            l7 = f" with L7 {c.entry.l7.describe()}" if c.entry.l7 else ""
            lines.append(f"  allowed by {c.entry.origin.text()}: {c.entry.peer_text} -> {c.ports.describe()}{l7}")
    for c in denying:
        lines.append(
            f"  DENIED by {c.entry.origin.text()}: {c.entry.peer_text} -> {c.ports.describe()} (deny beats allow)"
        )
    lines += _dns_lines(side, subject)
    lines += _conditions(side, peer, peer_identity)
    lines += _l7_lines(side, protocol, port)
    if side.allowed and not ok:
        lines.append(f"  ({verb} allows only {side.allowed.describe()} here)")
    return lines


def _verdict(side: SideResult, ok: bool, denied: bool, peer: str, protocol: str, port: int | None) -> str:
    if ok:
        return "ALLOWED"
    if denied:
        return "DENIED (explicit deny)"
    if side.isolated:
        return f"DENIED (default deny: no rule allows {peer} on {_port_text(protocol, port)})"
    return "DENIED"


def _isolation(side: SideResult, subject: str, verb: str) -> str:
    if side.isolated:
        pols = ", ".join(sorted({o.text() for o in side.isolating})) or "policy enforcement mode 'always'"
        return f"  isolated for {verb} (default deny) because {pols} selects {subject} for {verb}"
    return f"  not isolated: no policy selects {subject} for {verb} (default allow)"


def _dns_lines(side: SideResult, subject: str) -> list[str]:
    """toFQDNs entries not counted, and DNS rules that give no visibility."""
    lines = [
        f"  not counted: {e.origin.text()} ({e.peer_text}) — toFQDNs counts only if an egress rules.dns "
        f"rule of {subject} reaches kube-dns and its patterns cover the name; none does"
        for e in side.fqdn_without_dns
    ]
    lines += [
        f"  the DNS rule {e.origin.text()} ({e.peer_text}) does not reach kube-dns (its peer does not "
        "select it, its ports miss the DNS port, or a deny rule or kube-dns's policy removes it)"
        for e in side.dns_not_reaching
    ]
    return lines


def _l7_lines(side: SideResult, protocol: str, port: int | None) -> list[str]:
    lines = []
    for r in side.l7:
        if _covers(r.ports, protocol, port):
            rules = (
                "; ".join(h.describe() for h in r.http) if r.kind == "http" else ", ".join(d.describe() for d in r.dns)
            )
            where = ", ".join(sorted({e.origin.text() for e in r.entries}))
            lines.append(f"  L7 {r.kind.upper()} on {r.ports.describe()}: only {rules or 'any request'} ({where})")
    return lines


def _conditions(side: SideResult, peer: str, identity: frozenset | None) -> list[str]:
    """fromRequires/toRequires behind a verdict: conditions every endpoint peer of this
    side must meet (pkg/policy/rule.go: ANDed into every fromEndpoints/toEndpoints)."""
    out = []
    field = "fromRequires" if side.direction == "ingress" else "toRequires"
    for origin, reqs, deny in side.requires:
        text = ", ".join(r.describe() for r in reqs)
        met = ""
        if identity is not None:
            met = f"; {peer} {'meets' if Selector.of(reqs).matches(identity) else 'does not meet'} it"
        scope = "deny" if deny else "allow"
        out.append(
            f"  condition: {field} of {origin.text()} requires every endpoint peer of the {scope} rules "
            f"to match {text}{met}"
        )
    return out


def _relevant_notes(traffic: Traffic, v: Verdict) -> list:
    """The engine's remarks (a namespace overwritten, a section Cilium enforces although
    policyTypes omits it, a peer that cannot be resolved offline ...) about the
    policies that decided this verdict."""
    policies = _deciding_policies(v)
    return [n for n in traffic.notes if n.policy in policies]


def _deciding_policies(v: Verdict) -> set[str]:
    policies: set[str] = set()
    for side in (v.egress, v.ingress):
        policies |= {o.policy for o in side.isolating}
        policies |= {c.entry.origin.policy for c in side.allows + side.denies}
        policies |= {o.policy for o, _, _ in side.requires}
    return policies


def _relevant_pruned(traffic: Traffic, v: Verdict) -> list:
    """Unknown fields (NET008) of the policies that decided this verdict: the verdict
    assumes they were dropped."""
    policies = _deciding_policies(v)
    return [p for p in traffic.parsed.pruned if p.policy in policies]


def _relevant_rejections(traffic: Traffic, v: Verdict) -> list:
    """Rejected policies that would have applied to the source or the destination."""
    ids = [traffic.endpoints[e].identity for e in (v.src, v.dst) if e in traffic.endpoints]
    return [r for r in traffic.rejections if any(r.concerns(i) for i in ids)]


def explain_verdict(traffic: Traffic, v: Verdict) -> str:
    status = {
        "allowed": "ALLOWED",
        "denied": "DENIED",
        "l7-restricted": "ALLOWED at L3/L4, restricted at L7",
        "l7-denied": "DENIED at L7 (the request matches no L7 rule; HTTP 403 / DNS refused)",
    }[v.status]
    out = [f"{v.src} -> {v.dst} on {_port_text(v.protocol, v.port)}: {status}", ""]
    identity = {e: traffic.endpoints[e].identity for e in (v.src, v.dst) if e in traffic.endpoints}
    out += explain_side(v.egress, v.src, v.dst, v.protocol, v.port, identity.get(v.dst))
    out.append("")
    out += explain_side(v.ingress, v.dst, v.src, v.protocol, v.port, identity.get(v.src))
    out.append("")
    out.append(f"allowed from {v.src} to {v.dst} in total: {v.ports.describe()}")
    notes = _relevant_notes(traffic, v)
    pruned = _relevant_pruned(traffic, v)
    if notes or pruned:
        out.append("")
        out.append("remarks on the policies behind this verdict:")
        out += [f"  {n.policy} ({n.loc.path}:{n.loc.line}): {n.message}" for n in notes]
        out += [
            f"  {p.policy} ({p.loc.path}:{p.loc.line}): unknown field '{p.path}' (NET008) is assumed dropped, as "
            f"the API server does with validation off, so {p.effect}; kubectl's strict validation would reject "
            "the whole policy instead"
            for p in pruned
        ]
    relevant = _relevant_rejections(traffic, v)
    if relevant:
        out.append("")
        out.append(
            f"policies that would apply to {v.src} or {v.dst} but are rejected as a whole (NET007), "
            "so not applied here:"
        )
        for r in relevant:
            out.append(f"  {r.policy} ({r.loc.path}:{r.loc.line}), rejected by {r.component}: {r.message}")
    return "\n".join(out) + "\n"


def explain(
    traffic: Traffic,
    src: str,
    dst: str,
    protocol: str = "TCP",
    port: int | None = None,
    http: Mapping[str, Any] | None = None,
) -> tuple[str, bool]:
    """Text and overall verdict; ``entity:all``/``entity:cluster`` expand to members;
    ``service:<ns>/<name>`` as destination expands to its backends on their target port."""
    if dst.startswith("service:"):
        backends = traffic.service_backends(dst, port, protocol)
        if not backends:
            return f"{dst} selects no workload in the manifests\n", False
        parts, ok_all = [], True
        for backend, target in backends:
            head = f"{dst} port {port} -> {backend} target port {target}\n"
            if target is None:
                parts.append(head + "  the target port does not resolve on this backend: nothing to connect to\n")
                ok_all = False
                continue
            text, ok = explain(traffic, src, backend, protocol, target, http)
            parts.append(head + text)
            ok_all = ok_all and ok
        return "\n".join(parts), ok_all
    from .istio.compose import compose
    from .istio.explain import explain_composed

    srcs = traffic.members(src)
    dsts = traffic.members(dst)
    if len(srcs) == 1 and len(dsts) == 1:
        cv = compose(traffic, srcs[0], dsts[0], protocol, port, http)  # Cilium AND Istio
        return explain_composed(traffic, cv, dict(http) if http else None), cv.allowed
    composed = {
        (c.cilium.src, c.cilium.dst): c
        for c in (compose(traffic, s, d, protocol, port, http) for s in srcs for d in dsts if s != d)
    }
    verdicts = [c.cilium for c in composed.values()]
    good = [v for v in verdicts if composed[v.src, v.dst].allowed]
    bad = [v for v in verdicts if not composed[v.src, v.dst].allowed]
    lines = [f"{src} -> {dst} on {_port_text(protocol, port)}: allowed for {len(good)} of {len(verdicts)} pairs", ""]
    eg_ok = sum(1 for v in verdicts if _covers(v.egress.allowed, v.protocol, v.port))
    in_ok = sum(1 for v in verdicts if _covers(v.ingress.allowed, v.protocol, v.port))
    lines.append(f"  egress of the sources allows it for {eg_ok} of {len(verdicts)} pairs")
    lines.append(f"  ingress of the destinations admits it for {in_ok} of {len(verdicts)} pairs")
    lines.append("")
    if bad:
        lines.append("denied pairs:")
        for v in bad:
            why = []
            if not _covers(v.egress.allowed, v.protocol, v.port):
                why.append("egress of the source")
            if not _covers(v.ingress.allowed, v.protocol, v.port):
                why.append("ingress of the destination")
            if "Istio" in composed[v.src, v.dst].denied_by or composed[v.src, v.dst].status == "undecidable":
                why.append(f"Istio ({composed[v.src, v.dst].istio.reason})")
            lines.append(f"  {v.src} -> {v.dst}: denied by {' and '.join(why) or 'L7'}")
        lines.append("")
    sample = bad[0] if bad else (good[0] if good else None)
    if sample is not None:
        lines.append("example:")
        lines.append(explain_composed(traffic, composed[sample.src, sample.dst], dict(http) if http else None))
    return "\n".join(lines) + "\n", not bad
