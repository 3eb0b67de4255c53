"""One Cilium rule (``spec`` or ``specs[i]``) -> a ``PolicyRule``.

Sources: ``rule_validation.go`` (``Rule.Sanitize``): exactly one of endpointSelector /
nodeSelector (a CRD oneOf; nodeSelector only in clusterwide policies), at least one of
the four lists on newer releases; ``pkg/policy/rule.go``: default deny per direction
when the rule has items of that direction, unless ``enableDefaultDeny`` says false
(v1.15+)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..parsing import At, ParseEnv, PolicyContext
from ..rules import Entry, PolicyRule
from ..selectors import RESERVED, Selector, SelectorError, parse_label_selector
from .item import parse_item
from .peers import subject_selector
from .scope import DIRECTIONS, SIDES, RuleScope

Lists = dict[str, Any]


def parse_rule(raw: Any, at: At, namespace: str | None, env: ParseEnv, ctx: PolicyContext) -> PolicyRule | None:
    """None when the rule is refused (every error recorded in ``ctx``)."""
    if not isinstance(raw, dict):
        ctx.schema(f"{at.path} must be a mapping (a rule)", at)
        return None
    lists = _lists(raw, at, env, ctx)
    subject = _subject(raw, at, namespace, ctx) if lists is not None else None
    flags = _default_deny_flags(raw, at, ctx) if subject is not None else None
    if lists is None or subject is None or flags is None:
        return None
    endpoints, nodes = subject
    scope = RuleScope(
        env,
        ctx,
        namespace,
        matches_init=endpoints is not None and endpoints.has_key(RESERVED, "init"),
        host_policy=nodes is not None,
    )
    before = len(ctx.errors)
    entries = _entries(raw, lists, at, scope)
    if len(ctx.errors) > before:
        return None
    use_flags = env.settings.enable_default_deny_field
    return PolicyRule(
        origin=ctx.origin(at),
        subject=endpoints,
        node_selector=nodes,
        default_deny_ingress=_default_deny(lists, "ingress", flags["ingress"] if use_flags else None),
        default_deny_egress=_default_deny(lists, "egress", flags["egress"] if use_flags else None),
        entries=tuple(entries),
        requires_ingress=tuple(scope.requires["ingress"]),
        requires_egress=tuple(scope.requires["egress"]),
        requires_ingress_deny=tuple(scope.requires["ingressDeny"]),
        requires_egress_deny=tuple(scope.requires["egressDeny"]),
    )


def _lists(raw: Mapping, at: At, env: ParseEnv, ctx: PolicyContext) -> Lists | None:
    lists = {d: raw.get(d) for d in DIRECTIONS}
    for name, value in lists.items():
        if value is not None and not isinstance(value, list):
            ctx.schema(f"{name} must be a list", at.field(raw, name))
            return None
    if env.settings.reject_empty_rules and not any(lists.values()):
        ctx.err("rule must have at least one of ingress, ingressDeny, egress, egressDeny", at)
        return None
    return lists


def _subject(
    raw: Mapping, at: At, namespace: str | None, ctx: PolicyContext
) -> tuple[Selector | None, Selector | None] | None:
    """(endpoint selector, node selector): exactly one is set."""
    has_endpoints = raw.get("endpointSelector") is not None
    has_nodes = raw.get("nodeSelector") is not None
    if has_endpoints == has_nodes:
        message = (
            "rule cannot have both endpointSelector and nodeSelector (CRD oneOf)"
            if has_endpoints
            else "rule must have one of endpointSelector or nodeSelector (CRD oneOf)"
        )
        ctx.schema(message, at.field(raw, "nodeSelector") if has_nodes else at)
        return None
    key = "endpointSelector" if has_endpoints else "nodeSelector"
    here = at.field(raw, key)
    if has_nodes and namespace is not None:
        ctx.err("a CiliumNetworkPolicy cannot use nodeSelector (host policies are clusterwide only)", here)
        return None
    try:
        if has_endpoints:
            return subject_selector(raw[key], namespace, ctx, here), None
        return None, parse_label_selector(raw[key])
    except SelectorError as exc:
        ctx.err(f"{key}: {exc}", here, exc.by)
        return None


def _default_deny_flags(raw: Mapping, at: At, ctx: PolicyContext) -> dict[str, bool | None] | None:
    flags: dict[str, bool | None] = {"ingress": None, "egress": None}
    given = raw.get("enableDefaultDeny")
    if given is None:
        return flags
    here = at.field(raw, "enableDefaultDeny")
    if not isinstance(given, dict):
        ctx.schema("enableDefaultDeny must be a mapping {ingress, egress}", here)
        return None
    for direction in flags:
        value = given.get(direction)
        if value is not None and not isinstance(value, bool):
            ctx.schema(f"enableDefaultDeny.{direction} must be true or false", here.field(given, direction))
            return None
        flags[direction] = value
    return flags


def _default_deny(lists: Lists, direction: str, flag: bool | None) -> bool:
    return bool(lists[direction] or lists[direction + "Deny"]) and flag is not False


def _entries(raw: Mapping, lists: Lists, at: At, scope: RuleScope) -> list[Entry]:
    entries: list[Entry] = []
    for name, items in lists.items():
        here = at.field(raw, name)
        for i, item in enumerate(items or ()):
            if not isinstance(item, dict):
                scope.ctx.schema(f"{name}[{i}] must be a mapping", here.item(items, i))
                continue
            entries.extend(parse_item(item, SIDES[name], here.item(items, i), scope))
    return entries
