"""The Istio extension of the graph JSON contract (version 1, docs/semantics.md "Graph").

Present only when the manifests hold AuthorizationPolicy or PeerAuthentication objects
(otherwise the JSON is exactly the Cilium contract).  Edges stay Cilium's ("a may open a
connection to b"); each gains ``istio``: Istio's verdict on every piece of the edge's
ports, with the rules that allow and the HTTP constraints they put on requests::

    "istio": {"version": 1, "rootNamespace": "istio-system",
              "dataplanes": {"ns/w": {"mode": "sidecar|ambient|none|unknown", "reason": "..."}},
              "rejectedPolicies": [{"policy", "message", "file", "line"}]}
    edge["istio"] = [{"ports": [...], "status": "allow|deny|restricted|undecidable|not-enforced",
                      "protocol": "http|tcp|auto|-", "reason": "...",
                      "allowedBy": [{"policy", "rule", "file", "line",
                                     "operations": [{"methods": [...], "paths": [...], ...}]}],
                      "undecidable": ["request.auth.claims[iss] ..."]}]

``restricted``: only requests matching one of ``allowedBy``'s operations pass (the
graph asks about connections, not requests); ``undecidable``: the verdict depends on
what ``undecidable`` lists, which no manifest can tell (never guessed).
"""

from __future__ import annotations

from collections.abc import Iterable

from ..ports import PortSet
from .authz import RuleResult
from .layer import IstioLayer, IstioVerdict

VERSION = 1


def _rule_json(r: RuleResult) -> dict:
    loc = r.rule.loc if r.rule is not None else r.policy.loc
    out = {
        "policy": r.policy.ref,
        "rule": f"rules[{r.rule.index}]" if r.rule is not None else None,
        "file": loc.path,
        "line": loc.line,
    }
    if r.rule is not None and r.rule.operations:
        ops = []
        for clause in r.rule.operations:
            item: dict[str, list[str]] = {}
            for f in clause.fields:
                name = f.attribute.split(".")[-1] + "s"  # request.method -> methods, destination.port -> ports
                if f.values:
                    item[name] = list(f.values)
                if f.not_values:
                    item["not" + name[0].upper() + name[1:]] = list(f.not_values)
            ops.append(item)
        out["operations"] = ops
    return out


def status_of(v: IstioVerdict) -> str:
    """allow | deny | restricted (only some requests, by method/path/host) | undecidable
    (something no manifest says decides) | not-enforced."""
    if v.status != "unknown":
        return v.status
    return "restricted" if all(u.kind == "request" for u in v.unknown) else "undecidable"


def _piece_json(ports: PortSet, v: IstioVerdict) -> dict:
    allowing = [r for d in v.decisions for r in d.results if r.policy.action == "ALLOW" and not r.match.is_false]
    return {
        "ports": ports.to_json(),
        "status": status_of(v),
        "protocol": v.protocol,
        "reason": v.reason,
        "allowedBy": [_rule_json(r) for r in allowing] if v.status != "deny" else [],
        "undecidable": sorted(u.text() for u in v.unknown if u.kind == "offline"),
    }


def edge_extension(layer: IstioLayer, src: str, dst: str, ports: PortSet) -> list[dict]:
    """Istio's verdict on each piece of an edge's ports; equal verdicts are merged."""
    merged: list[tuple[PortSet, dict]] = []
    for piece, verdict in layer.port_pieces(src, dst, ports):
        body = _piece_json(piece, verdict)
        key = {k: v for k, v in body.items() if k != "ports"}
        for i, (p, other) in enumerate(merged):
            if {k: v for k, v in other.items() if k != "ports"} == key:
                merged[i] = (p.union(piece), other)
                break
        else:
            merged.append((piece, body))
    return [dict(body, ports=p.to_json()) for p, body in merged]


def graph_extension(layer: IstioLayer, nodes: Iterable[str]) -> dict:
    dataplanes = {}
    for n in sorted(nodes):
        if n in layer.workloads or n in layer.actors:
            dp = layer.dataplane(n)
            dataplanes[n] = {"mode": dp.mode, "reason": dp.reason}
    return {
        "version": VERSION,
        "rootNamespace": layer.settings.root_namespace,
        "dataplanes": dataplanes,
        "rejectedPolicies": [
            {"policy": r.policy, "message": r.message, "file": r.loc.path, "line": r.loc.line}
            for r in layer.parsed.rejections
        ],
    }


__all__ = ["VERSION", "edge_extension", "graph_extension", "status_of"]
