"""CIDR peers of a Cilium rule: ``fromCIDR``/``toCIDR`` (bare addresses allowed),
``fromCIDRSet``/``toCIDRSet`` entries with ``except``, and CiliumCIDRGroups by name or
by label selector.

Sources: ``pkg/policy/api/cidr.go`` (``CIDRRule``: exactly one of cidr, cidrGroupRef,
cidrGroupSelector — a CRD oneOf), ``rule_validation.go`` (``CIDRRule.Validate``, see
``cidrs.cilium_except_allowed``), ``pkg/policy/api/cidr.go`` ``GetAsEndpointSelectors``
(a group is its ``externalCIDRs``, each with the entry's excepts)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...loader.documents import KubeObject
from ..cidrs import cidr_selector, cilium_except_allowed, parse_prefix
from ..parsing import At, CidrGroup, ParseEnv, PolicyContext
from ..selectors import Label, Selector, SelectorError, parse_label_selector
from .scope import Peers, RuleScope

_ONE_OF = ("cidr", "cidrGroupRef", "cidrGroupSelector")


def read_cidrs(item: Mapping, key: str, at: At, scope: RuleScope, peers: Peers) -> None:
    here = at.field(item, key)
    got: list[Selector] = []
    for j, entry in enumerate(item[key]):
        if key.endswith("CIDR"):
            got.extend(_plain_cidr(entry, here.item(item[key], j), scope.ctx))
        else:
            got.extend(_cidr_set_entry(entry, here.item(item[key], j), scope.env, scope.ctx))
    peers.others.extend(got)
    peers.text = f"{key} " + ", ".join(_describe(s) for s in got)


def _describe(sel: Selector) -> str:
    pos = [r.key for r in sel.requirements if r.operator == "Exists"]
    neg = [r.key for r in sel.requirements if r.operator == "DoesNotExist"]
    return (pos[0] if pos else "?") + (f" except {', '.join(neg)}" if neg else "")


def _plain_cidr(text: Any, at: At, ctx: PolicyContext) -> list[Selector]:
    try:
        return [cidr_selector(str(parse_prefix(text, bare_ip=True)))]
    except ValueError as exc:
        ctx.schema(f"unable to parse CIDR {text!r}: {exc}", at)
        return []


def _cidr_set_entry(entry: Any, at: At, env: ParseEnv, ctx: PolicyContext) -> list[Selector]:
    if not isinstance(entry, dict):
        ctx.schema("a CIDR set entry must be a mapping {cidr, except}", at)
        return []
    given = [k for k in _ONE_OF if entry.get(k)]
    if len(given) != 1:
        ctx.schema("exactly one of cidr, cidrGroupRef or cidrGroupSelector is required (CRD oneOf)", at)
        return []
    excepts = entry.get("except") or []
    if not isinstance(excepts, list):
        ctx.schema("except must be a list of prefixes", at.field(entry, "except"))
        return []
    if given[0] == "cidr":
        return _cidr_with_excepts(entry, excepts, at, env, ctx)
    return _group_cidrs(entry, given[0], excepts, at, env, ctx)


def _cidr_with_excepts(entry: Mapping, excepts: list, at: At, env: ParseEnv, ctx: PolicyContext) -> list[Selector]:
    try:
        net = parse_prefix(entry["cidr"])
    except ValueError as exc:
        ctx.schema(f"unable to parse CIDRRule: {exc}", at.field(entry, "cidr"))
        return []
    here = at.field(entry, "except")
    kept = []
    for m, text in enumerate(excepts):
        try:
            excluded = parse_prefix(text)
        except ValueError as exc:
            ctx.schema(f"except {text!r}: {exc}", here.item(excepts, m))
            continue
        if not cilium_except_allowed(net, str(text), excluded, env.settings):
            ctx.err(
                f"allow CIDR prefix {entry['cidr']} does not contain exclude CIDR prefix {text}", here.item(excepts, m)
            )
            continue
        kept.append(str(excluded))
    if len(kept) < len(excepts):
        return []
    return [cidr_selector(str(net), tuple(kept))]


def _group_cidrs(entry: Mapping, key: str, excepts: list, at: At, env: ParseEnv, ctx: PolicyContext) -> list[Selector]:
    kept = []
    for text in excepts:
        try:
            kept.append(str(parse_prefix(text)))
        except ValueError:
            ctx.schema(f"except {text!r} is not a prefix", at.field(entry, "except"))
    groups = _groups(entry, key, at, env, ctx)
    if groups is None:
        return []
    if not groups:
        ctx.note(
            f"{key} {entry[key]} matches no CiliumCIDRGroup in the manifests; this peer selects nothing",
            at.field(entry, key),
        )
    return [cidr_selector(prefix, tuple(kept)) for g in groups for prefix in g.cidrs]


def _groups(entry: Mapping, key: str, at: At, env: ParseEnv, ctx: PolicyContext) -> list[CidrGroup] | None:
    if key == "cidrGroupRef":
        return [g for g in env.cidr_groups if g.name == str(entry[key])]
    try:
        sel = parse_label_selector(entry[key], force_source="cidrgroup")
    except SelectorError as exc:
        ctx.err(f"cidrGroupSelector: {exc}", at.field(entry, key), exc.by)
        return None
    return [g for g in env.cidr_groups if sel.matches(frozenset(Label("cidrgroup", k, v) for k, v in g.labels.items()))]


def cidr_groups_from(objects: list[KubeObject]) -> tuple[CidrGroup, ...]:
    """Every CiliumCIDRGroup of the manifests; unreadable externalCIDRs are left out."""
    out = []
    for o in objects:
        if o.kind != "CiliumCIDRGroup":
            continue
        spec = o.body.get("spec") if isinstance(o.body, dict) else None
        listed = spec.get("externalCIDRs") if isinstance(spec, dict) else None
        cidrs = []
        for text in listed if isinstance(listed, list) else []:
            try:
                cidrs.append(str(parse_prefix(text)))
            except ValueError:
                continue
        meta = o.metadata
        labels = {str(k): str(v) for k, v in (meta.get("labels") or {}).items()} if isinstance(meta, dict) else {}
        out.append(CidrGroup(o.name, labels, tuple(cidrs)))
    return tuple(sorted(out, key=lambda g: g.name))
