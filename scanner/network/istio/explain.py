"""``explain`` for the two layers: Cilium and Istio side by side, then each in detail.

The summary table gives each layer's verdict and what decided it (policy, rule,
file:line); the Cilium section is the engine's own explanation (egress and ingress);
the Istio section says whether and how the destination's proxy enforces (dataplane,
intercepted port, protocol, mTLS mode, the peer's identity) and how every rule of every
AuthorizationPolicy selecting the destination matches the request.
"""

from __future__ import annotations

from ..explain import explain_verdict
from ..traffic import Traffic
from .authz import Decision, RuleResult
from .compose import ComposedVerdict
from .layer import IstioVerdict
from .match import peer_text

_COMPOSED = {
    "allowed": "ALLOWED",
    "denied": "DENIED",
    "l7-restricted": "ALLOWED at L3/L4, restricted at L7 (give --method/--path to decide a request)",
    "l7-denied": "DENIED at L7 (HTTP 403)",
    "undecidable": "UNDECIDABLE OFFLINE",
}
_ISTIO = {"allow": "ALLOWED", "deny": "DENIED", "unknown": "UNDECIDED", "not-enforced": "NOT ENFORCED"}


def _request_text(cv: ComposedVerdict, http: dict | None) -> str:
    if not http:
        return ""
    parts = [http.get("method") or "<any method>", http.get("path") or "<any path>"]
    if http.get("host"):
        parts.append(f"host {http['host']}")
    return ", " + " ".join(parts)


def _cilium_cell(cv: ComposedVerdict) -> tuple[str, str]:
    v = cv.cilium
    verdict = {
        "allowed": "ALLOWED",
        "denied": "DENIED",
        "l7-restricted": "RESTRICTED (L7)",
        "l7-denied": "DENIED (L7)",
    }[v.status]
    port = v.port
    ok = [
        c for side in (v.egress, v.ingress) for c in side.allows if port is None or c.ports.contains(v.protocol, port)
    ]
    bad = [
        c for side in (v.egress, v.ingress) for c in side.denies if port is None or c.ports.contains(v.protocol, port)
    ]
    if bad:
        return verdict, f"deny {bad[0].entry.origin.text()}"
    if v.status == "denied":
        return verdict, "default deny: no rule allows it on one side (details below)"
    by = ok[-1].entry.origin.text() if ok else "no policy isolates either side"
    return verdict, by


def _istio_label(iv: IstioVerdict) -> str:
    if iv.status == "unknown" and all(u.kind == "request" for u in iv.unknown):
        return "RESTRICTED (L7)"
    return _ISTIO[iv.status]


def _istio_cell(iv: IstioVerdict) -> tuple[str, str]:
    d = iv.decisions[0] if len(iv.decisions) == 1 else None
    if d is None:
        return _istio_label(iv), iv.reason
    hits = d.deciding
    if hits:
        return _istio_label(iv), "; ".join(r.where for r in hits[:2]) + (" ..." if len(hits) > 2 else "")
    if d.stage == "no-rule-matched":
        refs = sorted({f"{r.policy.ref} ({r.policy.where()})" for r in d.results if r.policy.action == "ALLOW"})
        return _istio_label(iv), f"no ALLOW rule matches ({', '.join(refs)}): Istio denies what no rule allows"
    return _istio_label(iv), d.reason


def summary(cv: ComposedVerdict, http: dict | None = None) -> list[str]:
    v = cv.cilium
    port = f"{v.protocol}/{v.port}" if v.port is not None else f"{v.protocol} (any port)"
    head = f"{v.src} -> {v.dst} on {port}{_request_text(cv, http)}: {_COMPOSED[cv.status]}"
    rows = [("layer", "verdict", "decided by"), ("Cilium", *_cilium_cell(cv)), ("Istio", *_istio_cell(cv.istio))]
    width = max(len(r[1]) for r in rows)
    lines = [head, ""] + [f"  {a:<7} {b:<{width}}  {c}" for a, b, c in rows]
    if cv.status == "undecidable":
        lines.append("")
        lines.append(
            "  undecidable offline: " + "; ".join(u.text() for u in sorted(cv.istio.unknown) if u.kind == "offline")
        )
    return lines


def _rule_line(r: RuleResult) -> str:
    verdict = "matches" if r.match.is_true else "no" if r.match.is_false else "undecided"
    text = f"    {r.where.split(' ', 2)[-1] if r.rule is not None else 'no rules'}: {verdict}"
    if r.why:
        text += f" — {r.why}"
    elif r.match.is_unknown:
        text += " — depends on " + ", ".join(u.text() for u in sorted(r.match.unknown))
    if r.rewritten and r.rewritten != "dropped":
        text += f" ({r.rewritten})"
    return text


def decision_lines(d: Decision, dst: str) -> list[str]:
    out = []
    if d.chain != "-":
        out.append(f"  {d.chain.upper()} chain:")
    out.append(f"    {_ISTIO[d.status]} — {d.reason}")
    if d.status == "not-enforced" or d.stage == "mtls":
        return out
    if d.peer is not None:
        out.append(f"    peer: {peer_text(d.peer)}")
    by_policy: dict[str, list[RuleResult]] = {}
    for r in d.results:
        by_policy.setdefault(r.policy.ref, []).append(r)
    if not by_policy:
        out.append(f"    no AuthorizationPolicy selects {dst} (in its namespace or the root namespace)")
    for ref, results in by_policy.items():
        p = results[0].policy
        out.append(f"    {ref} ({p.action}, {p.loc.path}:{p.loc.line}):")
        out += ["  " + _rule_line(r) for r in results]
    return out


def istio_lines(traffic: Traffic, cv: ComposedVerdict) -> list[str]:
    iv, v = cv.istio, cv.cilium
    layer = traffic.istio
    dp = layer.dataplane(v.dst)
    out = ["Istio (AuthorizationPolicy, enforced by the destination's proxy):"]
    out.append(f"  {v.dst}: {dp.mode} — {dp.reason}")
    if v.port is not None and v.protocol == "TCP" and dp.mode != "none" and dp.intercepts(v.port):
        proto_text = {"http": "HTTP", "tcp": "TCP (HTTP fields of rules do not apply)", "auto": "sniffed (HTTP or TCP)"}
        out.append(
            f"  port {v.port}: {proto_text.get(iv.protocol, iv.protocol)}" + (f" — {iv.note}" if iv.note else "")
        )
        out.append(f"  mTLS: {layer.mtls(v.dst, v.port).text()}")
    for d in iv.decisions:
        out += decision_lines(d, v.dst)
    return out


def explain_composed(traffic: Traffic, cv: ComposedVerdict, http: dict | None = None) -> str:
    """Both layers; exactly the Cilium explanation when no Istio object exists."""
    cilium = explain_verdict(traffic, cv.cilium)
    if not traffic.istio.active:
        return cilium
    out = summary(cv, http) + ["", "Cilium (L3/L4 and its L7 HTTP rules):"]
    out += ["  " + line if line else "" for line in cilium.rstrip("\n").split("\n")]
    out += [""] + istio_lines(traffic, cv)
    rejected = traffic.istio.parsed.rejections
    if rejected:
        out += ["", "Istio objects rejected as a whole (NET009), so not applied:"]
        out += [f"  {r.policy} ({r.loc.path}:{r.loc.line}): {r.message}" for r in rejected]
    return "\n".join(out) + "\n"


__all__ = ["decision_lines", "explain_composed", "istio_lines", "summary"]
