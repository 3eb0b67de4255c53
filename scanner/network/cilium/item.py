"""One item of a Cilium rule's ingress/egress (deny) list -> engine entries.

Sources: ``rule_validation.go`` (``IngressRule.sanitize``/``EgressRule.sanitize``):
one L3 peer type per item ("combining X and Y is not supported yet"), ``icmps`` only
without ``toPorts``, ``toServices`` with ``toPorts`` only on newer releases (issue
#20067), ICMP and node rules behind their agent flags; an item with ports but no L3
field selects every peer (``pkg/policy/rule.go``), one with neither selects none."""

from __future__ import annotations

from collections.abc import Mapping

from ..parsing import At
from ..rules import Entry
from ..selectors import WILDCARD
from .cidr import read_cidrs
from .l4 import icmp_ports, port_rule
from .peers import read_endpoints, read_entities, read_fqdns, read_groups, read_nodes, read_requires, read_services
from .scope import Peers, RuleScope, Side

# Read in this order; the last one present names the peer in explain.
_PEER_READERS = (
    ("Endpoints", read_endpoints),
    ("Entities", read_entities),
    ("CIDR", read_cidrs),
    ("CIDRSet", read_cidrs),
    ("Nodes", read_nodes),
    ("Groups", read_groups),
    ("Services", read_services),
    ("FQDNs", read_fqdns),
)


def parse_item(item: Mapping, side: Side, at: At, scope: RuleScope) -> list[Entry]:
    """The item's entries (one per ``toPorts`` entry, else one); [] when refused."""
    if not _well_formed(item, side, at, scope):
        return []
    peers = Peers()
    for suffix, read in _PEER_READERS:
        key = side.prefix + suffix
        if key in side.l3_keys and item.get(key) is not None:
            read(item, key, at, scope, peers)
    if not read_requires(item, side, at, scope):
        return []
    if not any(item.get(k) is not None for k in side.l3_keys):
        if item.get("toPorts") or item.get("icmps"):
            peers.others = [WILDCARD]  # ports without peers: every identity, not namespace-scoped
            peers.text = "any peer (no L3 selector, ports only)"
        else:
            peers.text = "no peer (an empty rule allows nothing)"
    return _entries(item, side, at, scope, peers)


def _well_formed(item: Mapping, side: Side, at: At, scope: RuleScope) -> bool:
    ctx = scope.ctx
    present = [k for k in side.l3_keys if isinstance(item.get(k), list) and item.get(k)]
    if len(present) > 1:
        ctx.err(
            f"combining {present[0]} and {present[1]} is not supported yet (one L3 peer type per rule)",
            at.field(item, present[1]),
        )
        return False
    for key in side.l3_keys + ("toPorts", "icmps"):
        if item.get(key) is not None and not isinstance(item[key], list):
            ctx.schema(f"{key} must be a list", at.field(item, key))
            return False
    problem = _combination_problem(item, present, scope)
    if problem is not None:
        ctx.err(problem[1], at.field(item, problem[0]))
        return False
    return True


def _combination_problem(item: Mapping, present: list[str], scope: RuleScope) -> tuple[str, str] | None:
    settings = scope.env.settings
    to_ports, icmps = item.get("toPorts"), item.get("icmps")
    if "toServices" in present and to_ports and not settings.to_services_with_to_ports:
        return "toPorts", "combining toServices and toPorts is not supported yet (cilium/cilium#20067)"
    if icmps and to_ports:
        return "icmps", "the icmps block may only be present without toPorts; define a separate rule to use toPorts"
    if icmps and not settings.icmp_rules:
        return "icmps", "ICMP rules can only be applied when enable-icmp-rules is set"
    for key in ("fromNodes", "toNodes"):
        if key in present and not settings.node_selector_labels:
            return key, f"{key} rules can only be applied when enable-node-selector-labels is set"
    return None


def _entries(item: Mapping, side: Side, at: At, scope: RuleScope, peers: Peers) -> list[Entry]:
    common = dict(
        direction=side.direction,
        deny=side.deny,
        endpoints=tuple(peers.endpoints),
        others=tuple(peers.others),
        fqdns=tuple(peers.fqdns),
        peer_text=peers.text,
    )
    to_ports, icmps = item.get("toPorts"), item.get("icmps")
    if to_ports:
        out = []
        here = at.field(item, "toPorts")
        for k, raw in enumerate(to_ports):
            got = port_rule(raw, here.item(to_ports, k), side, scope)
            if got is not None:
                out.append(
                    Entry(
                        origin=scope.ctx.origin(here.item(to_ports, k)),
                        l3_only=False,
                        static=got.static,
                        named=got.named,
                        l7=got.l7,
                        **common,
                    )
                )
        return out
    if icmps:
        static = icmp_ports(icmps, at.field(item, "icmps"), scope.ctx)
        return [Entry(origin=scope.ctx.origin(at), l3_only=False, static=static, **common)]
    return [Entry(origin=scope.ctx.origin(at), l3_only=True, **common)]
