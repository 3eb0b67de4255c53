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

import ipaddress
from dataclasses import replace

from ..loader.documents import KubeObject
from ..located import Loc
from .cilium import ParseEnv, _Ctx, _loc, cidr_selector, is_svc_name, record_pruned
from .policy_schema import NETWORK_POLICY
from .ports import PortSet, port_range_set
from .rules import KNP, Entry, Origin, ParsedPolicies, PolicyRule, PortItem
from .selectors import CLUSTER, K8S, NAMESPACE_LABELS, POD_NAMESPACE, WILDCARD, Requirement, Selector, SelectorError, parse_label_selector


def parse_network_policy(obj: KubeObject, env: ParseEnv, out: ParsedPolicies) -> None:
    namespace = obj.namespace or env.default_namespace
    ctx = _Ctx(KNP, namespace, obj.name)
    out.policies.append(ctx.origin("", obj.loc))
    body = record_pruned(obj, ctx.origin("", obj.loc).policy, NETWORK_POLICY, out)
    spec = body.get("spec")
    if not isinstance(spec, dict):
        ctx.schema("NetworkPolicy has no spec", obj.loc, "spec")
        out.rejections.extend(ctx.errors)
        return
    sloc = body.loc_of("spec")
    ps = spec.get("podSelector")
    if ps is None:
        ps = {}
    try:
        raw = dict(ps) if isinstance(ps, dict) else ps
        if isinstance(raw, dict) and isinstance(raw.get("matchLabels"), dict):
            raw["matchLabels"] = {k: v for k, v in raw["matchLabels"].items() if k != POD_NAMESPACE}
        subject = parse_label_selector(raw, force_source=K8S).and_(Requirement(K8S, POD_NAMESPACE, "In", (namespace,)))
    except SelectorError as exc:
        ctx.schema(f"podSelector: {exc}", _loc(spec, "podSelector", sloc), "spec.podSelector")
        out.rejections.extend(ctx.errors)
        return

    types = spec.get("policyTypes")
    ingress_rules = spec.get("ingress") or []
    egress_rules = spec.get("egress") or []
    for key, val in (("ingress", ingress_rules), ("egress", egress_rules)):
        if not isinstance(val, list):
            ctx.schema(f"spec.{key} must be a list", _loc(spec, key, sloc), f"spec.{key}")
    if types is None or types == []:
        types = ["Ingress"] + (["Egress"] if egress_rules else [])
    elif not isinstance(types, list) or any(t not in ("Ingress", "Egress") for t in types) or len(types) > 2:
        ctx.schema(f"policyTypes must list Ingress and/or Egress, got {types!r}", _loc(spec, "policyTypes", sloc), "spec.policyTypes")
    if ctx.errors:
        out.rejections.extend(replace(r, subjects=(subject,)) for r in ctx.errors)
        return
    if "Egress" not in types and egress_rules:
        ctx.note("policyTypes omits Egress but spec.egress has rules: the Kubernetes specification ignores them, "
                 "Cilium enforces them (and isolates egress)", _loc(spec, "egress", sloc))
    if "Ingress" not in types and ingress_rules:
        ctx.note("policyTypes omits Ingress but spec.ingress has rules: the Kubernetes specification ignores them, "
                 "Cilium enforces them (and isolates ingress)", _loc(spec, "ingress", sloc))

    entries: list[Entry] = []
    for direction, rules, peer_key in (("ingress", ingress_rules, "from"), ("egress", egress_rules, "to")):
        holder = spec.get(direction)
        for i, rule in enumerate(rules):
            rpath = f"spec.{direction}[{i}]"
            rloc = _loc(holder, i, sloc)
            if rule is None:
                rule = {}
            if not isinstance(rule, dict):
                ctx.schema(f"{rpath} must be a mapping", rloc, rpath)
                continue
            ports = _ports(rule.get("ports"), rpath, rloc, ctx)
            if ports is None:
                continue
            static, named, l3_only = ports
            peers = rule.get(peer_key)
            if peers is not None and not isinstance(peers, list):
                ctx.schema(f"{rpath}.{peer_key} must be a list", _loc(rule, peer_key, rloc), f"{rpath}.{peer_key}")
                continue
            if not peers:
                entries.append(Entry(
                    origin=Origin(KNP, namespace, obj.name, rpath, rloc), direction=direction, deny=False,
                    others=(WILDCARD,), l3_only=l3_only, static=static, named=named,
                    peer_text=f"any peer ({peer_key} empty or missing: every source/destination, external included)",
                ))
                continue
            for j, peer in enumerate(peers):
                ppath = f"{rpath}.{peer_key}[{j}]"
                ploc = _loc(peers, j, rloc)
                got = _peer(peer, namespace, ppath, ploc, env, ctx)
                if got is None:
                    continue
                endpoints, others, text = got
                entries.append(Entry(
                    origin=Origin(KNP, namespace, obj.name, ppath, ploc), direction=direction, deny=False,
                    endpoints=endpoints, others=others, l3_only=l3_only, static=static, named=named, peer_text=text,
                ))
    if ctx.errors:
        out.rejections.extend(replace(r, subjects=(subject,)) for r in ctx.errors)
        out.notes.extend(ctx.notes)
        return
    out.notes.extend(ctx.notes)
    if not env.settings.k8s_network_policy:
        return
    dd_in = bool(ingress_rules) or "Ingress" in types or "Egress" not in types
    dd_eg = bool(egress_rules) or "Egress" in types
    out.rules.append(PolicyRule(
        origin=Origin(KNP, namespace, obj.name, "spec", sloc),
        subject=subject,
        node_selector=None,
        default_deny_ingress=dd_in,
        default_deny_egress=dd_eg,
        entries=tuple(entries),
    ))


def _ports(raw, rpath: str, rloc: Loc, ctx: _Ctx) -> tuple[PortSet, tuple[PortItem, ...], bool] | None:
    if raw is None or raw == []:
        return PortSet(), (), True
    if not isinstance(raw, list):
        ctx.schema("ports must be a list", rloc, f"{rpath}.ports")
        return None
    static = PortSet()
    named: list[PortItem] = []
    for k, p in enumerate(raw):
        where = f"{rpath}.ports[{k}]"
        ploc = _loc(raw, k, rloc)
        if p is None:
            p = {}
        if not isinstance(p, dict):
            ctx.schema("a ports entry must be a mapping", ploc, where)
            return None
        proto = p.get("protocol", "TCP") or "TCP"
        if proto not in ("TCP", "UDP", "SCTP"):
            ctx.schema(f"unsupported protocol {proto!r}: must be TCP, UDP or SCTP", _loc(p, "protocol", ploc), where + ".protocol")
            return None
        port = p.get("port")
        end = p.get("endPort")
        if end is not None and (not isinstance(end, int) or isinstance(end, bool)):
            ctx.schema("endPort must be an integer", _loc(p, "endPort", ploc), where + ".endPort")
            return None
        if port is None:
            if end is not None:
                ctx.schema("endPort may only be specified with a numeric port", _loc(p, "endPort", ploc), where + ".endPort")
                return None
            static = static.union(port_range_set(proto, 0, 0))
            continue
        if isinstance(port, str) and not port.isdigit():
            if not is_svc_name(port):
                ctx.schema(f"port {port!r} is neither a number nor a valid port name", _loc(p, "port", ploc), where + ".port")
                return None
            if end is not None:
                ctx.schema("endPort may only be specified with a numeric port", _loc(p, "endPort", ploc), where + ".endPort")
                return None
            named.append(PortItem(proto, 0, 0, port.lower()))
            continue
        if isinstance(port, bool) or not isinstance(port, (int, str)):
            ctx.schema(f"port must be a number or a name, got {port!r}", _loc(p, "port", ploc), where + ".port")
            return None
        number = int(port)
        if not 1 <= number <= 65535:
            ctx.schema(f"port {number} is out of range 1-65535", _loc(p, "port", ploc), where + ".port")
            return None
        if end is not None:
            if not number <= end <= 65535:
                ctx.schema(f"endPort {end} must be >= port {number} and <= 65535", _loc(p, "endPort", ploc), where + ".endPort")
                return None
        static = static.union(port_range_set(proto, number, end if end is not None else number))
    return static, tuple(named), False


def _peer(peer, namespace: str, ppath: str, ploc: Loc, env: ParseEnv, ctx: _Ctx):
    if not isinstance(peer, dict) or not any(peer.get(k) is not None for k in ("podSelector", "namespaceSelector", "ipBlock")):
        ctx.schema("a peer must specify podSelector, namespaceSelector or ipBlock", ploc, ppath)
        return None
    block = peer.get("ipBlock")
    if block is not None:
        if peer.get("podSelector") is not None or peer.get("namespaceSelector") is not None:
            ctx.schema("a peer may not specify both ipBlock and a selector", ploc, ppath)
            return None
        if not isinstance(block, dict) or not block.get("cidr"):
            ctx.schema("ipBlock needs a cidr", _loc(peer, "ipBlock", ploc), ppath + ".ipBlock")
            return None
        try:
            net = ipaddress.ip_network(str(block["cidr"]).strip(), strict=False)
            if "/" not in str(block["cidr"]):
                raise ValueError("a prefix (address/length) is required")
        except ValueError as exc:
            ctx.schema(f"ipBlock.cidr {block['cidr']!r}: {exc}", _loc(block, "cidr", ploc), ppath + ".ipBlock.cidr")
            return None
        excepts = []
        raw_except = block.get("except")
        if raw_except is not None and not isinstance(raw_except, list):
            ctx.schema("ipBlock.except must be a list of CIDRs", _loc(block, "except", ploc), ppath + ".ipBlock.except")
            return None
        for m, e in enumerate(raw_except or []):
            eloc = _loc(block.get("except"), m, ploc)
            try:
                enet = ipaddress.ip_network(str(e).strip(), strict=False)
            except ValueError as exc:
                ctx.schema(f"ipBlock.except {e!r}: {exc}", eloc, f"{ppath}.ipBlock.except[{m}]")
                return None
            if enet.version != net.version or not enet.subnet_of(net) or enet.prefixlen <= net.prefixlen:
                ctx.schema(f"ipBlock.except {e} must be a strict subset of cidr {block['cidr']}", eloc, f"{ppath}.ipBlock.except[{m}]")
                return None
            excepts.append(str(enet))
        sel = cidr_selector(str(net), tuple(excepts))
        return (), (sel,), f"ipBlock {net}" + (f" except {', '.join(excepts)}" if excepts else "")
    cluster = Requirement(K8S, CLUSTER, "In", (env.settings.cluster_name,))
    pod_raw = peer.get("podSelector")
    ns_raw = peer.get("namespaceSelector")
    try:
        if ns_raw is not None:
            ns_sel = parse_label_selector(ns_raw, force_source=K8S, key_prefix=f"{NAMESPACE_LABELS}.")
            if ns_sel.is_wildcard:
                ns_sel = Selector.of([Requirement(K8S, POD_NAMESPACE, "Exists")])
            pod_sel = parse_label_selector(pod_raw, force_source=K8S) if pod_raw is not None else Selector()
            sel = Selector.of(ns_sel.requirements + pod_sel.requirements + (cluster,))
            text = "namespaceSelector " + ns_sel.describe() + (f" AND podSelector {pod_sel.describe()}" if pod_raw is not None else "")
        else:
            raw = dict(pod_raw) if isinstance(pod_raw, dict) else pod_raw
            if isinstance(raw, dict) and isinstance(raw.get("matchLabels"), dict):
                raw["matchLabels"] = {k: v for k, v in raw["matchLabels"].items() if k != POD_NAMESPACE}
            pod_sel = parse_label_selector(raw, force_source=K8S)
            sel = pod_sel.and_(Requirement(K8S, POD_NAMESPACE, "In", (namespace,)), cluster)
            text = f"podSelector {pod_sel.describe()} (namespace {namespace})"
    except SelectorError as exc:
        ctx.schema(str(exc), ploc, ppath)
        return None
    return (sel,), (), text
