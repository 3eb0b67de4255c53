"""Cilium and Istio composed: a request passes when both layers let it through.

    allowed(src, dst, port, request) = Cilium L3/L4 (egress of src AND ingress of dst)
                                       AND Cilium L7 HTTP rules (both sides, if any)
                                       AND Istio's decision at dst (authz.py)

Cilium decides first on the wire (eBPF, then its L7 proxy); Istio's sidecar or ztunnel
decides when the connection reaches the destination pod.  Neither layer can widen the
other.  Statuses:

* ``allowed`` — both allow;
* ``denied`` — Cilium drops the connection, or Istio refuses it (mTLS STRICT against
  plaintext, or a decision on a TCP chain: the connection is closed);
* ``l7-denied`` — Cilium's HTTP rules or Istio's HTTP chain reject the request (403);
* ``l7-restricted`` — allowed for some requests only: the question gave no method/path;
* ``undecidable`` — Istio's verdict depends on something no manifest says (a JWT claim,
  a pod IP, a CUSTOM authorizer, a sidecar that may or may not exist); the reasons are
  listed, never guessed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..traffic import Traffic, Verdict
from .layer import IstioVerdict
from .match import Request


@dataclass(frozen=True, slots=True)
class ComposedVerdict:
    cilium: Verdict
    istio: IstioVerdict
    status: str  # allowed | denied | l7-restricted | l7-denied | undecidable
    denied_by: tuple[str, ...] = ()  # "Cilium", "Istio"

    @property
    def allowed(self) -> bool:
        return self.status in ("allowed", "l7-restricted")

    @property
    def possibly_allowed(self) -> bool:
        """The security-conservative reading: an undecidable verdict may allow."""
        return self.status in ("allowed", "l7-restricted", "undecidable")


def request_of(http: Mapping[str, Any] | None) -> Request | None:
    if not http:
        return None
    headers = http.get("headers")
    return Request(
        http.get("method"),
        http.get("path"),
        http.get("host"),
        dict(headers) if isinstance(headers, Mapping) and headers else None,
    )


def _istio_status(v: IstioVerdict) -> str | None:
    """The composed status Istio imposes, or None when it lets Cilium's stand."""
    if v.status in ("allow", "not-enforced"):
        return None
    if v.status == "deny":
        on_http = all(d.chain == "http" and d.stage != "mtls" for d in v.decisions)
        return "l7-denied" if on_http else "denied"
    kinds = {u.kind for u in v.unknown}
    return "l7-restricted" if kinds <= {"request"} else "undecidable"


def _best(pieces: list[tuple[Any, IstioVerdict]]) -> IstioVerdict:
    """Over several ports: allowed if Istio allows one, else unknown if one is unknown."""
    order = {"allow": 0, "not-enforced": 0, "unknown": 1, "deny": 2}
    return min((v for _, v in pieces), key=lambda v: order[v.status])


def compose(
    traffic: Traffic,
    src: str,
    dst: str,
    protocol: str = "TCP",
    port: int | None = None,
    http: Mapping[str, Any] | None = None,
) -> ComposedVerdict:
    v = traffic.verdict(src, dst, protocol, port, http)
    layer = traffic.istio
    if port is None:
        pieces = layer.port_pieces(v.src, v.dst, v.ports, request_of(http)) if v.ports else []
        iv = _best(pieces) if pieces else layer.not_evaluated(v.dst, "Cilium allows no port, so Istio is never reached")
    else:
        iv = layer.decide(v.src, v.dst, v.protocol, v.port, request_of(http))
    if v.status in ("denied", "l7-denied"):
        return ComposedVerdict(v, iv, v.status, ("Cilium",) + (("Istio",) if iv.status == "deny" else ()))
    imposed = _istio_status(iv)
    if imposed is None:
        return ComposedVerdict(v, iv, v.status)
    if imposed in ("denied", "l7-denied"):
        return ComposedVerdict(v, iv, imposed, ("Istio",))
    return ComposedVerdict(v, iv, imposed)


__all__ = ["ComposedVerdict", "compose", "request_of"]
