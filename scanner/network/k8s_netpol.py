"""Kubernetes NetworkPolicy (networking.k8s.io/v1) -> internal rules, as Cilium
translates it.

Sources:

* API defaulting (``k8s.io/kubernetes pkg/apis/networking/v1/defaults.go``): an
  omitted ``policyTypes`` becomes ``[Ingress]``, plus ``Egress`` when ``spec.egress``
  is non-empty.  API validation (``pkg/apis/networking/validation``): a peer sets at
  least one field and ``ipBlock`` excludes the selectors; ``except`` is a strict
  subset of ``cidr``; ``protocol`` TCP/UDP/SCTP; ``endPort`` needs a numeric
  ``port`` and is >= it.  A policy failing these never exists in a cluster.
* Cilium's translator (cilium/cilium ``pkg/policy/k8s/network_policy.go``,
  ``ParseNetworkPolicy``): every entry is an allow entry with default deny on;
  ``from``/``to`` missing or empty = the wildcard selector (every identity, world
  and host included); ``podSelector`` peers get ``io.kubernetes.pod.namespace=<policy
  namespace>``; ``namespaceSelector`` keys become
  ``io.cilium.k8s.namespace.labels.<key>`` (empty = every namespace); both in one peer
  are ANDed; all keys get the ``k8s`` source; ``ipBlock`` becomes a CIDR rule (which
  never matches pods or nodes by default); ports default to TCP, a missing port is
  every port.  Ingress default deny is added when there are no ingress rules and
  ``Ingress`` is in policyTypes or ``Egress`` is not; egress default deny when there
  are no egress rules and ``Egress`` is in policyTypes.  Ingress/egress rules are
  translated whatever ``policyTypes`` says (Cilium enforces an egress section even
  when policyTypes lists only Ingress; the specification says it is ignored).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from ..loader.documents import KubeObject
from .cidrs import cidr_selector, k8s_except_allowed, parse_prefix
from .parsing import At, ParseEnv, PolicyContext, record_pruned
from .policy_schema import NETWORK_POLICY
from .ports import PortSet, is_port_name, port_range_set
from .rules import KNP, Entry, ParsedPolicies, PolicyRule, PortItem
from .selectors import (
    CLUSTER,
    K8S,
    NAMESPACE_LABELS,
    POD_NAMESPACE,
    WILDCARD,
    Requirement,
    Selector,
    SelectorError,
    parse_label_selector,
)

PROTOCOLS = ("TCP", "UDP", "SCTP")
PolicyTypes = list[str]


def parse_network_policy(obj: KubeObject, env: ParseEnv, out: ParsedPolicies) -> None:
    namespace = obj.namespace or env.default_namespace
    ctx = PolicyContext(KNP, namespace, obj.name)
    out.policies.append(ctx.origin(At("", obj.loc)))
    body = record_pruned(obj, ctx.origin(At("", obj.loc)).policy, NETWORK_POLICY, out)
    spec = body.get("spec")
    if not isinstance(spec, dict):
        ctx.schema("NetworkPolicy has no spec", At("spec", obj.loc))
        out.rejections.extend(ctx.errors)
        return
    at = At("spec", body.loc_of("spec"))
    subject = _subject(spec, at, namespace, ctx)
    if subject is None:
        out.rejections.extend(ctx.errors)
        return
    ingress, egress = _rule_list(spec, "ingress", at, ctx), _rule_list(spec, "egress", at, ctx)
    types = _policy_types(spec, at, bool(egress), ctx)
    if ctx.errors:
        out.rejections.extend(replace(r, subjects=(subject,)) for r in ctx.errors)
        return
    _note_enforced_anyway(spec, at, types, ctx)
    entries = _entries(spec, "ingress", ingress, at, env, ctx) + _entries(spec, "egress", egress, at, env, ctx)
    out.notes.extend(ctx.notes)
    if ctx.errors:
        out.rejections.extend(replace(r, subjects=(subject,)) for r in ctx.errors)
        return
    if not env.settings.k8s_network_policy:
        return
    out.rules.append(
        PolicyRule(
            origin=ctx.origin(at),
            subject=subject,
            node_selector=None,
            default_deny_ingress=bool(ingress) or "Ingress" in types or "Egress" not in types,
            default_deny_egress=bool(egress) or "Egress" in types,
            entries=tuple(entries),
        )
    )


def _without_namespace_key(raw: Any) -> Any:
    """Cilium drops a user-written ``io.kubernetes.pod.namespace`` from a podSelector's
    matchLabels and adds the policy's own namespace instead."""
    if isinstance(raw, dict) and isinstance(raw.get("matchLabels"), dict):
        raw = dict(raw)
        raw["matchLabels"] = {k: v for k, v in raw["matchLabels"].items() if k != POD_NAMESPACE}
    return raw


def _subject(spec: Mapping, at: At, namespace: str, ctx: PolicyContext) -> Selector | None:
    """``podSelector`` (null = every pod) in the policy's namespace."""
    raw = spec.get("podSelector")
    try:
        sel = parse_label_selector(_without_namespace_key(raw if raw is not None else {}), force_source=K8S)
    except SelectorError as exc:
        ctx.schema(f"podSelector: {exc}", at.field(spec, "podSelector"))
        return None
    return sel.and_(Requirement(K8S, POD_NAMESPACE, "In", (namespace,)))


def _rule_list(spec: Mapping, key: str, at: At, ctx: PolicyContext) -> list:
    rules = spec.get(key) or []
    if not isinstance(rules, list):
        ctx.schema(f"spec.{key} must be a list", at.field(spec, key))
        return []
    return rules


def _policy_types(spec: Mapping, at: At, has_egress: bool, ctx: PolicyContext) -> PolicyTypes:
    """API defaulting: omitted policyTypes is Ingress, plus Egress when spec.egress has
    rules."""
    types = spec.get("policyTypes")
    if types is None or types == []:
        return ["Ingress"] + (["Egress"] if has_egress else [])
    if not isinstance(types, list) or any(t not in ("Ingress", "Egress") for t in types) or len(types) > 2:
        ctx.schema(f"policyTypes must list Ingress and/or Egress, got {types!r}", at.field(spec, "policyTypes"))
        return []
    return types


def _note_enforced_anyway(spec: Mapping, at: At, types: PolicyTypes, ctx: PolicyContext) -> None:
    for key, kind in (("egress", "Egress"), ("ingress", "Ingress")):
        if kind not in types and spec.get(key):
            ctx.note(
                f"policyTypes omits {kind} but spec.{key} has rules: the Kubernetes specification ignores "
                f"them, Cilium enforces them (and isolates {key})",
                at.field(spec, key),
            )


def _entries(spec: Mapping, direction: str, rules: list, at: At, env: ParseEnv, ctx: PolicyContext) -> list[Entry]:
    peer_key = "from" if direction == "ingress" else "to"
    here = at.field(spec, direction)
    out: list[Entry] = []
    for i, rule in enumerate(rules):
        rule_at = here.item(rules, i)
        rule = rule if rule is not None else {}
        if not isinstance(rule, dict):
            ctx.schema(f"{rule_at.path} must be a mapping", rule_at)
            continue
        ports = _ports(rule.get("ports"), rule_at.field(rule, "ports"), ctx)
        peers = rule.get(peer_key)
        if peers is not None and not isinstance(peers, list):
            ctx.schema(f"{rule_at.path}.{peer_key} must be a list", rule_at.field(rule, peer_key))
            continue
        if ports is None:
            continue
        static, named, l3_only = ports
        common = dict(direction=direction, deny=False, l3_only=l3_only, static=static, named=named)
        if not peers:
            out.append(
                Entry(
                    origin=ctx.origin(rule_at),
                    others=(WILDCARD,),
                    **common,
                    peer_text=f"any peer ({peer_key} empty or missing: every source/destination, external included)",
                )
            )
            continue
        for j, peer in enumerate(peers):
            peer_at = rule_at.field(rule, peer_key).item(peers, j)
            got = _peer(peer, peer_at, ctx.namespace or "", env, ctx)
            if got is not None:
                endpoints, others, text = got
                out.append(
                    Entry(origin=ctx.origin(peer_at), endpoints=endpoints, others=others, peer_text=text, **common)
                )
    return out


def _ports(raw: Any, at: At, ctx: PolicyContext) -> tuple[PortSet, tuple[PortItem, ...], bool] | None:
    """(numeric ports, named ports, L3 only): no ports is every port and protocol."""
    if raw is None or raw == []:
        return PortSet(), (), True
    if not isinstance(raw, list):
        ctx.schema("ports must be a list", at)
        return None
    static = PortSet()
    named: list[PortItem] = []
    for k, p in enumerate(raw):
        got = _port(p if p is not None else {}, at.item(raw, k), ctx)
        if got is None:
            return None
        if isinstance(got, PortItem):
            named.append(got)
        else:
            static = static.union(got)
    return static, tuple(named), False


def _port(p: Any, at: At, ctx: PolicyContext) -> PortSet | PortItem | None:
    """One ``NetworkPolicyPort`` (API validation): protocol TCP/UDP/SCTP (default TCP);
    port a number 1-65535 or a port name, absent = every port; ``endPort`` only with a
    numeric port, and >= it."""
    if not isinstance(p, dict):
        ctx.schema("a ports entry must be a mapping", at)
        return None
    protocol = p.get("protocol", "TCP") or "TCP"
    if protocol not in PROTOCOLS:
        ctx.schema(f"unsupported protocol {protocol!r}: must be TCP, UDP or SCTP", at.field(p, "protocol"))
        return None
    port, end = p.get("port"), p.get("endPort")
    if end is not None and (not isinstance(end, int) or isinstance(end, bool)):
        ctx.schema("endPort must be an integer", at.field(p, "endPort"))
        return None
    named = port is None or (isinstance(port, str) and not port.isdigit())
    if named and end is not None:
        ctx.schema("endPort may only be specified with a numeric port", at.field(p, "endPort"))
        return None
    if port is None:
        return port_range_set(protocol, 0, 0)
    if named:
        if not is_port_name(port):
            ctx.schema(f"port {port!r} is neither a number nor a valid port name", at.field(p, "port"))
            return None
        return PortItem(protocol, 0, 0, port.lower())
    return _numbered(port, end, protocol, p, at, ctx)


def _numbered(port: Any, end: int | None, protocol: str, p: Mapping, at: At, ctx: PolicyContext) -> PortSet | None:
    if isinstance(port, bool) or not isinstance(port, (int, str)):
        ctx.schema(f"port must be a number or a name, got {port!r}", at.field(p, "port"))
        return None
    number = int(port)
    if not 1 <= number <= 65535:
        ctx.schema(f"port {number} is out of range 1-65535", at.field(p, "port"))
        return None
    if end is not None and not number <= end <= 65535:
        ctx.schema(f"endPort {end} must be >= port {number} and <= 65535", at.field(p, "endPort"))
        return None
    return port_range_set(protocol, number, end if end is not None else number)


def _peer(peer: Any, at: At, namespace: str, env: ParseEnv, ctx: PolicyContext):
    """One ``NetworkPolicyPeer`` -> (endpoint selectors, other selectors, text)."""
    if not isinstance(peer, dict) or not any(
        peer.get(k) is not None for k in ("podSelector", "namespaceSelector", "ipBlock")
    ):
        ctx.schema("a peer must specify podSelector, namespaceSelector or ipBlock", at)
        return None
    if peer.get("ipBlock") is not None:
        if peer.get("podSelector") is not None or peer.get("namespaceSelector") is not None:
            ctx.schema("a peer may not specify both ipBlock and a selector", at)
            return None
        return _ip_block(peer["ipBlock"], at.field(peer, "ipBlock"), ctx)
    try:
        sel, text = _selector_peer(peer, namespace, env)
    except SelectorError as exc:
        ctx.schema(str(exc), at)
        return None
    return (sel,), (), text


def _ip_block(block: Any, at: At, ctx: PolicyContext):
    """``ValidateIPBlock``: cidr a prefix, each except a prefix strictly inside it.
    Cilium turns it into a CIDR rule (never matching pods or nodes by default)."""
    if not isinstance(block, dict) or not block.get("cidr"):
        ctx.schema("ipBlock needs a cidr", at)
        return None
    try:
        net = parse_prefix(block["cidr"])
    except ValueError as exc:
        ctx.schema(f"ipBlock.cidr {block['cidr']!r}: {exc}", at.field(block, "cidr"))
        return None
    raw = block.get("except")
    if raw is not None and not isinstance(raw, list):
        ctx.schema("ipBlock.except must be a list of CIDRs", at.field(block, "except"))
        return None
    excepts = []
    for m, text in enumerate(raw or []):
        here = at.field(block, "except").item(raw, m)
        try:
            excluded = parse_prefix(text)
        except ValueError as exc:
            ctx.schema(f"ipBlock.except {text!r}: {exc}", here)
            return None
        if not k8s_except_allowed(net, excluded):
            ctx.schema(f"ipBlock.except {text} must be a strict subset of cidr {block['cidr']}", here)
            return None
        excepts.append(str(excluded))
    text = f"ipBlock {net}" + (f" except {', '.join(excepts)}" if excepts else "")
    return (), (cidr_selector(str(net), tuple(excepts)),), text


def _selector_peer(peer: Mapping, namespace: str, env: ParseEnv) -> tuple[Selector, str]:
    """podSelector (in the policy's namespace), namespaceSelector (namespace labels;
    empty = every namespace), or both ANDed; all in this cluster.  Raises
    SelectorError."""
    cluster = Requirement(K8S, CLUSTER, "In", (env.settings.cluster_name,))
    pod_raw, ns_raw = peer.get("podSelector"), peer.get("namespaceSelector")
    if ns_raw is None:
        pod_sel = parse_label_selector(_without_namespace_key(pod_raw), force_source=K8S)
        sel = pod_sel.and_(Requirement(K8S, POD_NAMESPACE, "In", (namespace,)), cluster)
        return sel, f"podSelector {pod_sel.describe()} (namespace {namespace})"
    ns_sel = parse_label_selector(ns_raw, force_source=K8S, key_prefix=f"{NAMESPACE_LABELS}.")
    if ns_sel.is_wildcard:
        ns_sel = Selector.of([Requirement(K8S, POD_NAMESPACE, "Exists")])
    pod_sel = parse_label_selector(pod_raw, force_source=K8S) if pod_raw is not None else Selector()
    text = (
        "namespaceSelector "
        + ns_sel.describe()
        + (f" AND podSelector {pod_sel.describe()}" if pod_raw is not None else "")
    )
    return Selector.of(ns_sel.requirements + pod_sel.requirements + (cluster,)), text
