"""The traffic matrix as a picture: the computed graph, each edge judged against the
documented flows of the policy that governs it.

Three kinds of edge, decided here (reporters only draw them):

* ``documented`` — allowed, and a documented flow covers these ports;
* ``undocumented`` — allowed, but no documented flow covers these ports (an edge
  allowed on 80 and 443 with only 80 documented is split in two);
* ``blocked`` — a documented flow the policies do not allow on these ports (what
  NET001 reports), drawn although the graph has no such edge.

Computed only when a report draws it (``ScanOptions.matrix_view``, the markdown
format): building every edge of the graph costs more than the checks need.  Bounded,
so a pull-request summary stays readable and within what Mermaid renders (its default
``maxEdges`` is 500 and ``maxTextSize`` 50,000 characters,
https://mermaid.js.org/config/schema-docs/config.html): only edges touching a workload
(as ``kubematrix graph --scope workloads``), at most ``MAX_EDGES`` of them — blocked
documented flows first, then undocumented ones, then documented ones — and the count
of what was left out.  ``kubematrix graph DIR --format json`` has everything.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from .checks.base import CheckContext
from .checks.traffic_matrix import (
    GROUPS,
    IMPLICIT_SOURCES,
    covered_nodes,
    flow_ports,
    group_sides,
)
from .network.graph import edge_label, node_label
from .network.ports import PortSet
from .network.traffic import EndpointError, Traffic
from .policy import Flow

MAX_EDGES = 100
MAX_NODES = 150
STATUSES = ("blocked", "undocumented", "documented")  # drawing priority when edges must be left out


@dataclass(frozen=True, slots=True)
class ViewNode:
    id: str  # the graph node (``ns/name``, ``actor:x`` ...) or a group (``entity:all``)
    kind: str  # workload | actor | entity | cidr | fqdn | group
    label: str
    namespace: str = ""  # workloads only: the diagram groups them by namespace


@dataclass(frozen=True, slots=True)
class ViewEdge:
    src: str
    dst: str
    status: str  # documented | undocumented | blocked
    label: str  # the ports (and L7 kinds) this edge stands for


@dataclass(frozen=True, slots=True)
class MatrixView:
    """One governed scope's traffic matrix, ready to draw."""

    policy: str
    nodes: tuple[ViewNode, ...]
    edges: tuple[ViewEdge, ...]  # drawn, sorted by (src, dst, status)
    counts: tuple[tuple[str, int], ...]  # (status, edges of that status, drawn or not), in STATUSES order
    omitted_edges: int = 0  # edges past MAX_EDGES
    omitted_nodes: int = 0  # workloads without a drawn edge, past MAX_NODES
    unresolved: tuple[str, ...] = ()  # documented flows naming an unknown endpoint (NET006): not drawn
    implicit: int = 0  # edges from the local node (always allowed by Cilium), not drawn
    rejected: tuple[str, ...] = ()  # policies Cilium or the API server rejects, not applied


def build_view(ctx: CheckContext) -> MatrixView:
    """The matrix view of one scope whose policy documents a traffic matrix."""
    traffic: Traffic = ctx.traffic()
    g = traffic.graph
    flows = ctx.policy.traffic.flows
    documented, unresolved = _documented_ports(traffic, flows)
    edges: list[ViewEdge] = []
    implicit = 0
    for u, v in sorted(g.edges):
        if not (_is_workload(g, u) or _is_workload(g, v)):
            continue
        if u in IMPLICIT_SOURCES:
            implicit += 1
            continue
        edges.extend(_judged(g.edges[u, v], u, v, documented.get((u, v), PortSet()), traffic.settings.carried))
    edges.extend(_blocked(traffic, flows))
    counts = tuple((s, sum(e.status == s for e in edges)) for s in STATUSES)
    drawn = sorted(edges, key=lambda e: (STATUSES.index(e.status), e.src, e.dst))[:MAX_EDGES]
    drawn.sort(key=lambda e: (e.src, e.dst, STATUSES.index(e.status)))
    nodes, omitted_nodes = _nodes(traffic, drawn)
    rejected = tuple(
        f"{r.policy} ({r.loc.path}:{r.loc.line}), rejected by {r.component}: {r.message}" for r in traffic.rejections
    )
    return MatrixView(
        ctx.policy.path or "",
        nodes,
        tuple(drawn),
        counts,
        len(edges) - len(drawn),
        omitted_nodes,
        tuple(unresolved),
        implicit,
        rejected,
    )


def _is_workload(g, node: str) -> bool:
    return g.nodes[node].get("kind") == "workload"


def _documented_ports(traffic: Traffic, flows: tuple[Flow, ...]) -> tuple[dict[tuple[str, str], PortSet], list[str]]:
    """(src, dst) graph edge -> the ports documented flows cover on it, and the flows
    whose endpoints resolve to nothing.  A group or an internet reference covers every
    node inside it, as in the zero-trust check (traffic_matrix.covered_nodes)."""
    g = traffic.graph
    out: dict[tuple[str, str], PortSet] = {}
    unresolved = []
    for flow in flows:
        try:
            sources, targets = covered_nodes(traffic, flow.src), set(covered_nodes(traffic, flow.dst))
        except EndpointError:
            unresolved.append(flow.text)
            continue
        for u in sources:
            if u not in g:
                continue
            for v in g.successors(u):
                if v in targets:
                    ports, _ = flow_ports(traffic, flow, v)
                    out[(u, v)] = out.get((u, v), PortSet()).union(ports)
    return out, unresolved


def _judged(data: dict, u: str, v: str, documented: PortSet, carried: PortSet) -> Iterator[ViewEdge]:
    allowed: PortSet = data["ports"]
    covered = allowed.intersect(documented)
    rest = allowed.subtract(documented)
    if covered:
        yield ViewEdge(u, v, "documented", edge_label(data, covered, carried))
    if rest:
        yield ViewEdge(u, v, "undocumented", edge_label(data, rest, carried))


def _blocked(traffic: Traffic, flows: tuple[Flow, ...]) -> Iterator[ViewEdge]:
    """The documented flows (or their parts) the policies do not allow — as NET001 judges
    them: both sides for two concrete endpoints, the concrete side for a group."""
    for flow in flows:
        src_group, dst_group = flow.src in GROUPS, flow.dst in GROUPS
        try:
            if src_group and dst_group:
                continue
            if src_group or dst_group:
                yield from _blocked_group(traffic, flow, src_group)
                continue
            src, dst = traffic.resolve(flow.src), traffic.resolve(flow.dst)
        except EndpointError:
            continue  # listed as unresolved
        ports, unknown = flow_ports(traffic, flow, dst)
        missing = ports.subtract(traffic.allowed_ports(src, dst))
        # A named port the destination does not declare cannot be allowed at all (NET001).
        parts = ([missing.describe()] if missing else []) + [f"port '{n}' (undeclared)" for n in unknown]
        if parts:
            yield ViewEdge(src, dst, "blocked", "; ".join(parts))


def _blocked_group(traffic: Traffic, flow: Flow, src_group: bool) -> Iterator[ViewEdge]:
    missing = PortSet()
    blocked = total = 0
    for _member, side, ports in group_sides(traffic, flow, src_group):
        total += 1
        lacking = ports.subtract(side.allowed)
        if lacking:
            blocked += 1
            missing = missing.union(lacking)
    if not blocked:
        return
    concrete = traffic.resolve(flow.dst if src_group else flow.src)
    group = flow.src if src_group else flow.dst
    whom = "sources" if src_group else "destinations"
    label = f"{missing.describe()} (for {blocked} of {total} {whom})"
    yield ViewEdge(group, concrete, "blocked", label) if src_group else ViewEdge(concrete, group, "blocked", label)


def _nodes(traffic: Traffic, drawn: list[ViewEdge]) -> tuple[tuple[ViewNode, ...], int]:
    """The nodes of the drawn edges, then the other workloads while there is room (a
    workload without edges is news too: nothing may reach it)."""
    g = traffic.graph
    used = sorted({n for e in drawn for n in (e.src, e.dst)})
    idle = sorted(n for n in g.nodes if _is_workload(g, n) and n not in set(used))
    room = max(0, MAX_NODES - len(used))
    chosen = used + idle[:room]
    return tuple(_node(g, n) for n in sorted(chosen)), len(idle) - min(room, len(idle))


def _node(g, node: str) -> ViewNode:
    if node in GROUPS:
        return ViewNode(node, "group", "all sources" if node == "entity:all" else "the cluster")
    attrs = g.nodes[node]
    kind = str(attrs.get("kind") or "")
    return ViewNode(
        node, kind, node_label(node, attrs), str(attrs.get("namespace") or "") if kind == "workload" else ""
    )
