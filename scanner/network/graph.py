"""The traffic graph (networkx ``DiGraph``) and its JSON, Mermaid and DOT renderings.

Nodes: workloads (``<namespace>/<name>``), actors (``actor:<name>``), entities
(``entity:world`` ...), CIDR identities (``cidr:<prefix>``) and FQDN peers
(``fqdn:<name or pattern>``).  An edge ``a -> b`` exists when ``a`` may open a
connection to ``b`` on at least one port; its ``ports`` attribute is the exact set
(``PortSet``), ``egress``/``ingress`` the two ``SideResult``s with provenance.

JSON contract (sorted, deterministic)::

    {"nodes": [{"id", "kind", "namespace", "name", "labels"}],
     "edges": [{"from", "to",
                "ports": [{"protocol": "TCP|UDP|SCTP", "port": N, "endPort": M}
                          | {"protocol": "ICMP", "family": "IPv4|IPv6"[, "type": T, "endType": U]}],
                "http": null | [{"method", "path", "host", "headers", "side", "ports"}],
                "dns": null | [{"matchName"|"matchPattern", "side", "ports"}],
                "allowedBy": {"egress": [...], "ingress": [...]},
                "deniedBy": {"egress": [...], "ingress": [...]}   # only when a deny removed ports
               }],
     "rejectedPolicies": [{"policy", "message", "rejectedBy", "file", "line"}]}

See docs/semantics.md ("Graph") for the meaning of every field.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

from .engine import SideResult
from .ports import PortSet
from .selectors import bits

if TYPE_CHECKING:
    import networkx as nx

    from .traffic import Traffic


def build_graph(traffic: Traffic) -> nx.DiGraph:
    # networkx loads when a graph is built, not with the diagram helpers (start-up)
    import networkx as nx

    g = nx.DiGraph()
    for node_id, ep in traffic.endpoints.items():
        g.add_node(node_id, **ep.to_json())
    engine = traffic.engine
    classes = traffic.classes
    side = engine.side

    # Side results are memoised by the engine, so many class pairs meet the same two:
    # their intersection is computed once per pair of sides (by identity; both stay alive
    # in the engine's memo).
    met: dict[tuple[int, int], dict | None] = {}

    def edges():
        for a, b in candidate_pairs(engine, len(classes)):
            eg = side(a, "egress", b)
            if not eg.allowed:
                continue
            ing = side(b, "ingress", a)
            key = (id(eg), id(ing))
            if key not in met:
                ports = eg.allowed.intersect(ing.allowed)
                met[key] = {"ports": ports, "egress": eg, "ingress": ing} if ports else None
            data = met[key]
            if data is None:
                continue
            for src in classes[a].members:
                for dst in classes[b].members:
                    if src != dst:
                        yield src, dst, data

    g.add_edges_from(edges())
    g.graph["rejections"] = list(traffic.rejections)
    g.graph["istio"] = traffic.istio  # the Istio layer: JSON extension "istio" (istio/graphext.py)
    return g


def candidate_pairs(engine, n: int):
    """Class pairs (a, b) that may have an edge: b is among a's possible egress peers
    and a among b's possible ingress peers.  Isolated sides only admit the peers of
    their allow entries, so the work follows the number of allowed pairs, not n*n,
    whenever policies isolate workloads.  Sides admitting (nearly) everything are
    treated as open; the exact per-port check happens afterwards."""
    all_mask = (1 << n) - 1
    half = n // 2
    open_in = 0
    admitted_by = [0] * n  # a -> mask of isolated b whose ingress may admit a
    for b in range(n):
        d = engine.direction(b, "ingress")
        if not (d.enforced and d.isolated):
            open_in |= 1 << b
            continue
        adm = d.allow_union | engine.host_classes
        if adm.bit_count() > half:
            open_in |= 1 << b
            continue
        bb = 1 << b
        for a in bits(adm):
            admitted_by[a] |= bb
    for a in range(n):
        d = engine.direction(a, "egress")
        out = d.allow_union if (d.enforced and d.isolated) else all_mask
        cands = out & (open_in | admitted_by[a])
        for b in bits(cands):
            yield a, b


# -- provenance ---------------------------------------------------------------------


class _JsonCache:
    """Per-rendering memo: sides and port sets are shared by many edges."""

    def __init__(self) -> None:
        # Keyed by identity (hashing a PortSet walks all its intervals); each value keeps
        # its key object alive, so an identity is never reused within one rendering.
        self.ports: dict[int, tuple[PortSet, list[dict]]] = {}
        self.sides: dict[tuple, tuple[PortSet, list[dict]]] = {}

    def ports_json(self, p: PortSet) -> list[dict]:
        got = self.ports.get(id(p))
        if got is None:
            got = self.ports[id(p)] = (p, p.to_json())
        return got[1]


def side_provenance(side: SideResult, final: PortSet, subject: str, cache: _JsonCache | None = None) -> list[dict]:
    cache = cache or _JsonCache()
    key = (id(side), id(final), subject)
    got = cache.sides.get(key)
    if got is not None:
        return got[1]
    verb = "egress" if side.direction == "egress" else "ingress"
    out: list[dict] = []
    if not side.enforced:
        out.append({"reason": f"not enforced: {subject} is not a Cilium endpoint (or enforcement is off)"})
        cache.sides[key] = (final, out)
        return out
    if not side.isolated:
        out.append({"reason": f"not isolated: no policy selects {subject} for {verb}"})
    if side.localhost:
        out.append({"reason": "traffic from the local host is always allowed (allow-localhost)"})
    seen = set()
    for c in side.allows:
        p = c.ports.intersect(final)
        if not p or (c.entry.origin, p) in seen:
            continue
        seen.add((c.entry.origin, p))
        d = c.entry.origin.to_json()
        d["ports"] = cache.ports_json(p)
        out.append(d)
    cache.sides[key] = (final, out)
    return out


def side_denials(side: SideResult, cache: _JsonCache | None = None) -> list[dict]:
    cache = cache or _JsonCache()
    out = []
    for c in side.denies:
        d = c.entry.origin.to_json()
        d["ports"] = cache.ports_json(c.ports)
        out.append(d)
    return out


def _l7_json(side: SideResult, final: PortSet, kind: str, cache: _JsonCache) -> list[dict]:
    out = []
    for r in side.l7:
        if r.kind != kind:
            continue
        p = r.ports.intersect(final)
        if not p:
            continue
        if kind == "http":
            for h in r.http:
                d = h.to_json()
                d["side"] = side.direction
                d["ports"] = cache.ports_json(p)
                out.append(d)
        else:
            for s in r.dns:
                out.append(
                    {
                        ("matchName" if s.is_name else "matchPattern"): s.value,
                        "side": side.direction,
                        "ports": cache.ports_json(p),
                    }
                )
    return out


def edge_json(src: str, dst: str, data: dict, cache: _JsonCache | None = None) -> dict:
    cache = cache or _JsonCache()
    ports: PortSet = data["ports"]
    eg: SideResult = data["egress"]
    ing: SideResult = data["ingress"]
    http = (_l7_json(eg, ports, "http", cache) + _l7_json(ing, ports, "http", cache)) if (eg.l7 or ing.l7) else []
    dns = (_l7_json(eg, ports, "dns", cache) + _l7_json(ing, ports, "dns", cache)) if (eg.l7 or ing.l7) else []
    out = {
        "from": src,
        "to": dst,
        "ports": cache.ports_json(ports),
        "http": http or None,
        "dns": dns or None,
        "allowedBy": {
            "egress": side_provenance(eg, ports, src, cache),
            "ingress": side_provenance(ing, ports, dst, cache),
        },
    }
    if eg.denies or ing.denies:
        out["deniedBy"] = {"egress": side_denials(eg, cache), "ingress": side_denials(ing, cache)}
    return out


def graph_to_json(g: nx.DiGraph) -> dict:
    cache = _JsonCache()
    nodes = [dict(g.nodes[n]) for n in sorted(g.nodes)]
    edges = [edge_json(u, v, g.edges[u, v], cache) for u, v in sorted(g.edges)]
    rejected = [
        {"policy": r.policy, "message": r.message, "rejectedBy": r.by, "file": r.loc.path, "line": r.loc.line}
        for r in g.graph.get("rejections", [])
    ]
    out = {"nodes": nodes, "edges": edges, "rejectedPolicies": rejected}
    layer = g.graph.get("istio")
    if layer is not None and layer.active:  # the versioned Istio extension (docs/semantics.md "Graph")
        from .istio.graphext import edge_extension, graph_extension

        for e in edges:
            e["istio"] = edge_extension(layer, e["from"], e["to"], g.edges[e["from"], e["to"]]["ports"])
        out["istio"] = graph_extension(layer, g.nodes)
    return out


def to_json_text(g: nx.DiGraph) -> str:
    """The graph document, one node or edge per line: diffs show one line per changed
    edge, and each line is encoded by the json module's C encoder (``indent`` would
    switch to its pure-Python one, 10x slower on a graph of 400,000 edges)."""
    doc = graph_to_json(g)
    compact = json.JSONEncoder(ensure_ascii=True, separators=(", ", ": ")).encode
    parts = []
    for key, value in doc.items():
        if isinstance(value, list) and value:
            items = ",\n    ".join(compact(v) for v in value)
            parts.append(f'  "{key}": [\n    {items}\n  ]')
        else:
            parts.append(f"  {compact(key)}: {compact(value)}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


# -- diagrams ------------------------------------------------------------------------


def _short_ports(ports: PortSet) -> str:
    if ports.is_full():
        return "all"
    return ports.describe()


def edge_label(data: dict, ports: PortSet | None = None, everything: PortSet | None = None) -> str:
    """Ports of an edge (or of ``ports``, a part of them) and the L7 rules on them;
    "all" when they cover ``everything`` (what the datapath carries)."""
    ports = data["ports"] if ports is None else ports
    text = "all" if everything is not None and ports.covers(everything) else _short_ports(ports)
    kinds = sorted(
        {r.kind.upper() for side in (data["egress"], data["ingress"]) for r in side.l7 if r.ports.intersect(ports)}
    )
    if kinds:
        text += " · " + "+".join(kinds)
    return text


def _in_scope(g: nx.DiGraph, u: str, v: str, scope: str) -> bool:
    if scope == "all":
        return True
    return g.nodes[u].get("kind") == "workload" or g.nodes[v].get("kind") == "workload"


def _escape_id(text: str) -> str:
    """An injective spelling of ``text`` in ``[A-Za-z0-9_]``: letters and digits stay,
    every other character becomes ``_hh_`` (``_uhhhhhh_`` beyond U+00FF).  Codes have a
    fixed length after ``_``, so no two texts share an id: ``web-v1`` is ``web_2d_v1``,
    ``web.v1`` is ``web_2e_v1`` (a plain replacement by ``_`` merged them)."""
    out = []
    for ch in text:
        if ch.isascii() and ch.isalnum():
            out.append(ch)
        elif ord(ch) <= 0xFF:
            out.append(f"_{ord(ch):02x}_")
        else:
            out.append(f"_u{ord(ch):06x}_")
    return "".join(out)


def mermaid_id(node: str) -> str:
    """The Mermaid id of a graph node; ``n_`` keeps ids clear of Mermaid keywords
    (``end``, ``graph``) and of the subgraph ids (``s_``)."""
    return "n_" + _escape_id(node)


def mermaid_subgraph_id(namespace: str) -> str:
    return "s_" + _escape_id(namespace)


# Mermaid entity codes (https://mermaid.js.org/syntax/flowchart.html#entity-codes-to-escape-characters):
# a quoted label must not hold '"', and '#', '<', '>' and '`' would be read as entity
# codes, HTML or the start of a Markdown string.  '#' first: the others produce it.
_MERMAID_ESCAPES = (("#", "#35;"), ('"', "#34;"), ("<", "#60;"), (">", "#62;"), ("`", "#96;"))
_LINE_BREAKS = re.compile(r"[\x00-\x1f\x7f]+")


def mermaid_text(text: str) -> str:
    """A label for a quoted Mermaid string: one line, nothing Mermaid would interpret."""
    text = _LINE_BREAKS.sub(" ", str(text))
    for raw, code in _MERMAID_ESCAPES:
        text = text.replace(raw, code)
    return text


def node_label(node: str, attrs: dict) -> str:
    """What a node shows: a workload its name (and kind when two kinds share the name,
    ``web[StatefulSet]``), anything else its id."""
    if attrs.get("kind") != "workload":
        return node
    name = str(attrs.get("name") or node)
    return name + node[node.index("[") :] if node.endswith("]") and "[" in node else name


def mermaid_node(node: str, attrs: dict) -> str:
    kind = attrs.get("kind")
    nid, text = mermaid_id(node), mermaid_text(node_label(node, attrs))
    if kind == "actor":
        return f'{nid}(["{text}"])'
    if kind == "entity":
        return f'{nid}{{{{"{text}"}}}}'
    if kind in ("cidr", "fqdn"):
        return f'{nid}[/"{text}"/]'
    return f'{nid}["{text}"]'


def to_mermaid(g: nx.DiGraph, scope: str = "workloads") -> str:
    edges = [(u, v) for u, v in sorted(g.edges) if _in_scope(g, u, v, scope)]
    used = sorted({n for e in edges for n in e} | {n for n in g.nodes if g.nodes[n].get("kind") == "workload"})
    lines = ["flowchart LR"]
    by_ns: dict[str, list[str]] = {}
    loose = []
    for n in used:
        attrs = g.nodes[n]
        if attrs.get("kind") == "workload":
            by_ns.setdefault(attrs.get("namespace") or "", []).append(n)
        else:
            loose.append(n)
    for ns in sorted(by_ns):
        lines.append(f'  subgraph {mermaid_subgraph_id(ns)}["{mermaid_text("namespace " + ns)}"]')
        for n in by_ns[ns]:
            lines.append("    " + mermaid_node(n, g.nodes[n]))
        lines.append("  end")
    for n in loose:
        lines.append("  " + mermaid_node(n, g.nodes[n]))
    for u, v in edges:
        lines.append(f'  {mermaid_id(u)} -->|"{mermaid_text(edge_label(g.edges[u, v]))}"| {mermaid_id(v)}')
    lines += rejection_comments(g)
    return "\n".join(lines) + "\n"


def rejection_comments(g: nx.DiGraph) -> list[str]:
    """Policies Cilium or the API server reject, as Mermaid comments (one line each)."""
    return [
        mermaid_comment(f"rejected by {r.component}, not applied: {r.policy} ({r.loc.path}:{r.loc.line}): {r.message}")
        for r in g.graph.get("rejections", [])
    ]


def mermaid_comment(text: str) -> str:
    # A comment runs to the end of its line: no line break may end it early.
    return "  %% " + _LINE_BREAKS.sub(" ", text)


def _dq(text: str) -> str:
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_dot(g: nx.DiGraph, scope: str = "workloads") -> str:
    edges = [(u, v) for u, v in sorted(g.edges) if _in_scope(g, u, v, scope)]
    used = sorted({n for e in edges for n in e} | {n for n in g.nodes if g.nodes[n].get("kind") == "workload"})
    shapes = {
        "workload": "box",
        "actor": "ellipse",
        "entity": "hexagon",
        "cidr": "parallelogram",
        "fqdn": "parallelogram",
    }
    lines = ["digraph traffic {", "  rankdir=LR;", "  node [fontname=Helvetica];"]
    by_ns: dict[str, list[str]] = {}
    for n in used:
        attrs = g.nodes[n]
        if attrs.get("kind") == "workload":
            by_ns.setdefault(attrs.get("namespace") or "", []).append(n)
    for i, ns in enumerate(sorted(by_ns)):
        lines.append(f"  subgraph cluster_{i} {{")
        lines.append(f"    label={_dq('namespace ' + ns)};")
        for n in by_ns[ns]:
            lines.append(f"    {_dq(n)} [label={_dq(g.nodes[n]['name'])}, shape=box];")
        lines.append("  }")
    for n in used:
        attrs = g.nodes[n]
        if attrs.get("kind") != "workload":
            lines.append(f"  {_dq(n)} [shape={shapes.get(attrs.get('kind'), 'box')}];")
    for u, v in edges:
        lines.append(f"  {_dq(u)} -> {_dq(v)} [label={_dq(edge_label(g.edges[u, v]))}];")
    lines.append("}")
    return "\n".join(lines) + "\n"
