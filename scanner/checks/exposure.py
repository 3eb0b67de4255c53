"""NET011: crown jewels and their maximum exposure (``traffic.exposure``).

"mysql is at least 3 hops from the world, and only via was" is a promise about *paths*,
not edges: lateral movement is what an attacker does.  It is checked on the composed
reachability graph (Cilium AND Istio, undecidable Istio verdicts counted as open:
scanner/network/paths.py) with networkx:

* ``minHops``: ``shortest_path_length(from, workload) >= minHops``; the witness is a
  shortest path;
* ``onlyVia``: with the listed endpoints removed, ``from`` must not reach the workload
  (a node cut); the witness is the shortest path avoiding them.

Each witness names every hop's ports and the rules that open it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..findings import Finding
from ..network.traffic import EndpointError
from ..policy import Exposure
from .base import CheckContext

if TYPE_CHECKING:
    from ..network.paths import Path


def exposure_key(e: Exposure) -> str:
    return f"exposure:{e.workload}:{e.source}"


def _path_text(p: Path) -> str:
    hops = " | ".join(
        f"{h.src} -> {h.dst} on {h.ports.describe()}: "
        + "; ".join(h.cilium)
        + (f"; Istio {'; '.join(h.istio)}" if h.istio else "")
        for h in p.hops
    )
    return f"{p.text()} [{hops}]"


def _finding(e: Exposure, message: str, detail: str) -> Finding:
    return Finding(
        "NET011", message, e.loc, subject=f"exposure of {e.workload}", detail=detail, promises=(exposure_key(e),)
    )


def _resolve(traffic, e: Exposure) -> tuple[str, str, list[str]] | str:
    try:
        jewel, source = traffic.resolve(e.workload), traffic.resolve(e.source)
        via = [traffic.resolve(v) for v in e.only_via]
    except EndpointError as exc:
        return f"exposure of {e.workload} cannot be checked: {exc}"
    return jewel, source, via


def check_exposure(ctx: CheckContext) -> Iterator[Finding]:
    """NET011: a crown jewel is closer to, or reachable by more routes from, the source than documented."""
    items = ctx.policy.traffic.exposures
    if not items:
        return
    # networkx and the path search load only for a policy with crown jewels (start-up)
    import networkx as nx

    from ..network.paths import reachability_graph, shortest_avoiding

    traffic = ctx.traffic()
    graph = reachability_graph(traffic)
    for e in items:
        got = _resolve(traffic, e)
        if isinstance(got, str):
            yield _finding(e, got, "unknown-endpoint")
            continue
        jewel, source, via = got
        if e.min_hops is not None and nx.has_path(graph, source, jewel):
            nodes = nx.shortest_path(graph, source, jewel)
            if len(nodes) - 1 < e.min_hops:
                witness = shortest_avoiding(graph, source, jewel, ())
                yield _finding(
                    e,
                    f"{jewel} is {len(nodes) - 1} hop{'s' if len(nodes) > 2 else ''} from {source}, "
                    f"the document promises at least {e.min_hops}: {_path_text(witness)}",
                    "min-hops",
                )
        if via:
            witness = shortest_avoiding(graph, source, jewel, via)
            if witness is not None:
                yield _finding(
                    e,
                    f"{jewel} is reachable from {source} without passing through "
                    f"{', '.join(via)}: {_path_text(witness)}",
                    "only-via",
                )


CHECKS = {"NET011": check_exposure}
