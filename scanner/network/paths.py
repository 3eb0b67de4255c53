"""Multi-hop paths: how an attacker moves laterally through the composed traffic graph.

An edge ``a -> b`` of the *reachability graph* exists when some port is allowed by
Cilium (egress of a, ingress of b) and not denied by Istio at b; hops whose Istio
verdict is undecidable offline count as open (the security-conservative reading, never
a false "unreachable") and are marked.  An attacker who controls a pod controls what
it sends, so an Istio rule restricted to some HTTP requests still opens the hop.

Paths are simple paths, shortest first (networkx ``shortest_simple_paths``, Yen's
algorithm); exposure checks use ``shortest_path_length`` and node cuts
(``has_path`` after removing the allowed intermediaries).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice, pairwise

import networkx as nx

from .engine import SideResult
from .ports import PortSet
from .traffic import Traffic


@dataclass(frozen=True, slots=True)
class Hop:
    src: str
    dst: str
    ports: PortSet  # allowed by both layers (undecidable Istio pieces included)
    cilium: tuple[str, ...]  # the Cilium rules that allow it (egress, ingress) or why no rule is needed
    istio: tuple[str, ...]  # what Istio does: not enforced, or the rules that allow it
    http: str = ""  # the HTTP restriction on the hop, if any
    undecidable: tuple[str, ...] = ()

    def to_json(self) -> dict:
        return {
            "from": self.src,
            "to": self.dst,
            "ports": self.ports.to_json(),
            "cilium": list(self.cilium),
            "istio": list(self.istio),
            "http": self.http or None,
            "undecidable": list(self.undecidable),
        }


@dataclass(frozen=True, slots=True)
class Path:
    hops: tuple[Hop, ...]

    @property
    def nodes(self) -> tuple[str, ...]:
        return (self.hops[0].src,) + tuple(h.dst for h in self.hops) if self.hops else ()

    def text(self) -> str:
        return " -> ".join(self.nodes)

    def to_json(self) -> dict:
        return {"nodes": list(self.nodes), "hops": [h.to_json() for h in self.hops]}


def _side_rules(side: SideResult, ports: PortSet, subject: str) -> list[str]:
    verb = side.direction
    if not side.enforced:
        return [f"{verb}: {subject} is not a Cilium endpoint"]
    hits = [c.entry.origin.text() for c in side.allows if c.ports.intersect(ports)]
    if hits:
        return [f"{verb}: {h}" for h in dict.fromkeys(hits)]
    if side.localhost:
        return [f"{verb}: traffic from the local host is always allowed"]
    if subject.startswith("actor:"):
        # An actor's own policies live outside these manifests: the hop is assumed open.
        return [f"{verb}: no policy in these manifests isolates {subject} (an actor: assumed open)"]
    return [f"{verb}: no policy isolates {subject} for {verb}"]


def _ports_text(ports: PortSet) -> str:
    return "all ports" if ports.is_full() else ports.describe()


def _istio_hop(traffic: Traffic, src: str, dst: str, ports: PortSet) -> tuple[PortSet, list[str], str, list[str]]:
    """(ports Istio may let through, its reasons, HTTP restriction text, undecidable reasons)."""
    layer = traffic.istio
    if not layer.active:
        return ports, [], "", []
    from .istio.graphext import status_of

    dp = layer.dataplane(dst)
    if dp.mode == "none":
        return ports, [f"not enforced: {dst} has no Istio proxy ({dp.reason})"], "", []
    open_ports, http, undecidable = PortSet(), [], []
    grouped: dict[str, PortSet] = {}
    for piece, verdict in layer.port_pieces(src, dst, ports):
        status = status_of(verdict)
        if status == "deny":
            continue
        open_ports = open_ports.union(piece)
        decision = verdict.decisions[0]
        rules = [
            r.where for d in verdict.decisions for r in d.results if r.policy.action == "ALLOW" and not r.match.is_false
        ]
        if status == "not-enforced":
            text = f"not enforced ({decision.reason})"
        else:
            text = status + (f" by {', '.join(dict.fromkeys(rules))}" if rules else f" ({decision.reason})")
        grouped[text] = grouped.get(text, PortSet()).union(piece)
        if status == "restricted":
            http.append(piece.describe())
        undecidable += [u.text() for u in verdict.unknown if u.kind == "offline"]
    reasons = [f"{_ports_text(p)}: {text}" for text, p in grouped.items()]
    restricted = f"HTTP requests restricted by Istio on {', '.join(http)}" if http else ""
    return open_ports, reasons, restricted, sorted(set(undecidable))


def reachability_graph(traffic: Traffic) -> nx.DiGraph:
    """The composed graph: Cilium's edges minus what Istio denies on every port."""
    g = nx.DiGraph()
    g.add_nodes_from(traffic.graph.nodes(data=True))
    for u, v, data in traffic.graph.edges(data=True):
        ports, istio, http, undecidable = _istio_hop(traffic, u, v, data["ports"])
        if not ports:
            continue
        cilium = tuple(_side_rules(data["egress"], ports, u) + _side_rules(data["ingress"], ports, v))
        l7 = sorted(
            {r.kind.upper() for side in (data["egress"], data["ingress"]) for r in side.l7 if r.ports.intersect(ports)}
        )
        http_text = "; ".join(x for x in ([f"Cilium {'+'.join(l7)} rules"] if l7 else []) + ([http] if http else []))
        g.add_edge(u, v, hop=Hop(u, v, ports, cilium, tuple(istio), http_text, tuple(undecidable)))
    return g


def paths_between(g: nx.DiGraph, src: str, dst: str, limit: int = 10, max_hops: int | None = None) -> list[Path]:
    """Simple paths from ``src`` to ``dst``, shortest first."""
    if src not in g or dst not in g or src == dst or not nx.has_path(g, src, dst):
        return []
    # Yen's algorithm yields paths by length; equal lengths are then ordered by name so the
    # output never depends on graph construction order.
    chosen: list[list[str]] = []
    for nodes in islice(nx.shortest_simple_paths(g, src, dst), limit * 20):
        if max_hops is not None and len(nodes) - 1 > max_hops:
            break
        if len(chosen) >= limit and len(nodes) > len(chosen[limit - 1]):
            break
        chosen.append(nodes)
    chosen.sort(key=lambda n: (len(n), n))
    return [Path(tuple(g.edges[a, b]["hop"] for a, b in pairwise(nodes))) for nodes in chosen[:limit]]


def shortest_avoiding(g: nx.DiGraph, src: str, dst: str, avoid: Iterable[str]) -> Path | None:
    """The shortest path that passes through none of ``avoid`` (None: they cut dst off)."""
    blocked = set(avoid) - {src, dst}
    view = nx.restricted_view(g, blocked, [])
    if src not in view or dst not in view or not nx.has_path(view, src, dst):
        return None
    nodes = nx.shortest_path(view, src, dst)
    return Path(tuple(g.edges[a, b]["hop"] for a, b in pairwise(nodes)))


def hop_lines(path: Path) -> Iterator[str]:
    for h in path.hops:
        yield f"   {h.src} -> {h.dst} on {_ports_text(h.ports)}" + (f" ({h.http})" if h.http else "")
        yield "       Cilium: " + "; ".join(h.cilium)
        if h.istio:
            yield "       Istio:  " + "; ".join(h.istio)
        if h.undecidable:
            yield "       counted as open, undecidable offline: " + "; ".join(h.undecidable)


__all__ = ["Hop", "Path", "hop_lines", "paths_between", "reachability_graph", "shortest_avoiding"]
