"""L7 of a Cilium rule: ``toPorts[].rules`` (HTTP, Kafka, DNS, generic ``l7proto``)
and where L7 may appear.

Sources: ``rule_validation.go`` (``PortRule.sanitize``: DNS rules only on egress and
with explicit ports, one L7 type per port rule, no L7 on port 0, ``l7`` only with
``l7proto``, ``serverNames`` only with TLS termination, ``listener`` only on egress and
without L7 rules; L7 needs the proxy), ``pkg/policy/api/http.go`` (``PortRuleHTTP``:
method, path, host are extended POSIX regexes; ``headers``; ``headerMatches``)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..parsing import At, PolicyContext
from ..rules import L7, HttpRule, PortItem
from .peers import fqdn_selector
from .scope import RuleScope, Side

L7_KINDS = ("http", "kafka", "dns", "l7proto")


def l7_kinds(rules: Mapping) -> list[str]:
    return [k for k in L7_KINDS if rules.get(k) is not None]


def has_dns(rules: Mapping) -> bool:
    return isinstance(rules.get("dns"), list) and len(rules["dns"]) > 0


def l7_rules(port_rule: Mapping, at: At, side: Side, scope: RuleScope) -> Mapping | None:
    """The entry's ``rules`` ({} when none; deny lists have none), or None when the
    entry is refused for where its L7 rules stand."""
    rules = port_rule.get("rules") if not side.deny else None
    if rules is not None and not isinstance(rules, dict):
        scope.ctx.schema("rules must be a mapping", at.field(port_rule, "rules"))
        return None
    rules = rules or {}
    problem = _placement_problem(port_rule, rules, at, side, scope) or _tls_problem(port_rule, rules, at, side)
    if problem is not None:
        scope.ctx.err(problem[1], problem[0])
        return None
    return rules


def _placement_problem(
    port_rule: Mapping, rules: Mapping, at: At, side: Side, scope: RuleScope
) -> tuple[At, str] | None:
    here = at.field(port_rule, "rules")
    if side.ingress and has_dns(rules):
        return here.field(rules, "dns"), "DNS rules are not allowed on ingress"
    if (rules.get("http") or rules.get("kafka") or rules.get("dns")) and not scope.env.settings.l7_proxy:
        return here, "L7 policy is not supported since the L7 proxy is not enabled"
    if scope.host_policy and (rules.get("http") or rules.get("kafka")):
        return here, "host policies do not support L7 rules (except DNS)"
    return None


def _tls_problem(port_rule: Mapping, rules: Mapping, at: At, side: Side) -> tuple[At, str] | None:
    kinds = l7_kinds(rules)
    names = port_rule.get("serverNames")
    if names and kinds and port_rule.get("terminatingTLS") is None:
        return at.field(port_rule, "serverNames"), "serverNames are not allowed with L7 rules without TLS termination"
    if isinstance(names, list) and any(n == "" for n in names):
        return at.field(port_rule, "serverNames"), "empty server name is not allowed"
    if port_rule.get("listener") is not None and side.ingress:
        return at.field(port_rule, "listener"), "listener is not allowed on ingress"
    if port_rule.get("listener") is not None and kinds:
        return at.field(port_rule, "listener"), "listener is not allowed with L7 rules"
    return None


def parse_l7(
    port_rule: Mapping, rules: Mapping, kinds: list[str], items: list[PortItem], at: At, ctx: PolicyContext
) -> L7 | None:
    """The entry's one kind of L7 rules; None when refused."""
    here = at.field(port_rule, "rules")
    problem = _l7_problem(rules, kinds, items, here)
    if problem is not None:
        ctx.err(problem[1], problem[0])
        return None
    kind = kinds[0]
    if kind == "http":
        return _http(rules, here, ctx)
    if kind == "dns":
        return _dns(rules, here, ctx)
    if kind == "kafka":
        return L7("kafka", other=tuple(str(k) for k in (rules.get("kafka") or [])))
    return L7(str(rules.get("l7proto")), other=tuple(str(k) for k in (rules.get("l7") or [])))


def _l7_problem(rules: Mapping, kinds: list[str], items: list[PortItem], at: At) -> tuple[At, str] | None:
    if any(it.port == 0 and it.name is None for it in items):
        return at, "L7 rules can not be used when a port is 0"
    if rules.get("l7") is not None and not rules.get("l7proto"):
        return at.field(rules, "l7"), "'l7' may only be specified when a 'l7proto' is also specified"
    if len(kinds) > 1:
        return at, "multiple L7 protocol rule types specified in single rule"
    if kinds[0] == "dns" and not items:
        return at.field(rules, "dns"), "port 53 must be specified for DNS rules"
    return None


def _http(rules: Mapping, at: At, ctx: PolicyContext) -> L7 | None:
    raw = rules["http"]
    here = at.field(rules, "http")
    if not isinstance(raw, list):
        ctx.schema("rules.http must be a list", here)
        return None
    out = []
    for n, h in enumerate(raw):
        rule = http_rule(h, here.item(raw, n), ctx)
        if rule is None:
            return None
        out.append(rule)
    return L7("http", http=tuple(out))


def _dns(rules: Mapping, at: At, ctx: PolicyContext) -> L7 | None:
    """``rules.dns``: FQDN selectors; an entry with both matchName and matchPattern
    is two patterns."""
    raw = rules["dns"]
    here = at.field(rules, "dns")
    if not isinstance(raw, list):
        ctx.schema("rules.dns must be a list", here)
        return None
    before = len(ctx.errors)
    out = []
    for n, entry in enumerate(raw):
        if isinstance(entry, dict) and entry.get("matchName") and entry.get("matchPattern"):
            parts = [{"matchName": entry["matchName"]}, {"matchPattern": entry["matchPattern"]}]
        else:
            parts = [entry]
        for part in parts:
            sel = fqdn_selector(part, here.item(raw, n), ctx, dns_rule=True)
            if sel is not None:
                out.append(sel)
    if len(ctx.errors) > before:
        return None
    return L7("dns", dns=tuple(out))


def http_rule(h: Any, at: At, ctx: PolicyContext) -> HttpRule | None:
    """One ``PortRuleHTTP``; null is the empty rule (every request)."""
    if h is None:
        h = {}
    if not isinstance(h, dict):
        ctx.schema("an HTTP rule must be a mapping", at)
        return None
    for key in ("method", "path", "host"):
        if h.get(key) is not None and not _compiles(str(h[key]), key, at.field(h, key), ctx):
            return None
    matches = _header_matches(h, at, ctx)
    if matches is None:
        return None
    return HttpRule(
        method=_optional(h, "method"),
        path=_optional(h, "path"),
        host=_optional(h, "host"),
        headers=tuple(_header(str(text)) for text in h.get("headers") or []),
        header_matches=matches,
    )


def _compiles(pattern: str, key: str, at: At, ctx: PolicyContext) -> bool:
    try:
        re.compile(pattern)
    except re.error as exc:
        ctx.err(f"invalid regular expression in {key}: {exc}", at)
        return False
    return True


def _optional(h: Mapping, key: str) -> str | None:
    return None if h.get(key) in (None, "") else str(h[key])


def _header(text: str) -> tuple[str, str | None]:
    """``headers`` entries: ``Name`` (present) or ``Name: value`` / ``Name value``."""
    name, sep, value = text.partition(" ")
    return (name.rstrip(":"), value) if sep else (name, None)


def _header_matches(h: Mapping, at: At, ctx: PolicyContext) -> tuple | None:
    out = []
    for hm in h.get("headerMatches") or []:
        if not isinstance(hm, dict) or not hm.get("name"):
            ctx.schema("headerMatches entries need a name", at.field(h, "headerMatches"))
            return None
        value = hm.get("value")
        out.append((str(hm["name"]), None if value in (None, "") else str(value), hm.get("mismatch") or None))
    return tuple(out)
