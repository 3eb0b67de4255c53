"""L3 peers of a Cilium rule: endpoint selectors and their namespace scoping, entities,
nodes, cloud groups, Services, FQDN selectors, and the deprecated ``*Requires``.

Sources: ``pkg/k8s/apis/cilium.io/utils/utils.go`` (``ParseToCiliumRule``,
``getEndpointSelector``) for namespace scoping; ``pkg/policy/api/entity.go``
(``EntitySelectorMapping``); ``pkg/policy/api/service.go`` and the ToServices
translation (``pkg/policy/k8s``); ``pkg/policy/api/fqdn.go`` (``FQDNSelector``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...model.types import Service
from .. import fqdn as fqdnlib
from ..parsing import At, PolicyContext
from ..selectors import (
    ANY,
    K8S,
    NAMESPACE_LABELS,
    POD_NAMESPACE,
    RESERVED,
    WILDCARD,
    Label,
    Requirement,
    Selector,
    SelectorError,
    entity_selector,
    parse_label_selector,
)
from ..settings import NetworkSettings
from .scope import Peers, RuleScope, Side

# The CRD's enum of entities (pkg/policy/api/entity.go, +kubebuilder:validation:Enum).
ENTITIES = (
    "all",
    "world",
    "world-ipv4",
    "world-ipv6",
    "cluster",
    "host",
    "init",
    "ingress",
    "unmanaged",
    "remote-node",
    "health",
    "none",
    "kube-apiserver",
)


def subject_selector(raw: Any, namespace: str | None, ctx: PolicyContext, at: At) -> Selector:
    """The rule's ``endpointSelector``.  CNP: ``k8s:io.kubernetes.pod.namespace=<policy
    namespace>`` is always added; a user-written matchLabels value for that exact key is
    overwritten (Cilium logs a warning).  CCNP: no namespace is added.  Raises
    SelectorError."""
    if namespace is not None and isinstance(raw, dict):
        labels = raw.get("matchLabels")
        key = f"{K8S}:{POD_NAMESPACE}"
        if isinstance(labels, dict) and key in labels:
            if str(labels[key]) != namespace:
                ctx.note(
                    f"endpointSelector names namespace {labels[key]!r} but a CiliumNetworkPolicy always applies to its "
                    f"own namespace {namespace!r}; Cilium overwrites the value",
                    at.field(raw, "matchLabels").field(labels, key),
                )
            raw = dict(raw)
            raw["matchLabels"] = {k: v for k, v in labels.items() if k != key}
    sel = parse_label_selector(raw)
    if namespace is not None:
        sel = sel.and_(Requirement(K8S, POD_NAMESPACE, "In", (namespace,)))
    return sel


def scope_peer_selector(
    sel: Selector, namespace: str | None, matches_init: bool, settings: NetworkSettings, *, reserved_exempt: bool = True
) -> Selector:
    """``getEndpointSelector``: namespace scoping of a CNP/CCNP peer selector.  Reserved
    identities and selectors naming a namespace stay as written; a CCNP peer gets
    ``namespace Exists`` (unless the subject is ``reserved:init``); a CNP peer gets its
    policy's namespace, unless it selects by namespace labels."""
    if reserved_exempt and sel.has_source(RESERVED):
        return sel
    if sel.has_key(K8S, POD_NAMESPACE) or sel.has_key(ANY, POD_NAMESPACE):
        return sel
    if namespace is None:
        if matches_init:
            return sel
        return sel.and_(Requirement(K8S, POD_NAMESPACE, "Exists"))
    ns_label = sel.has_key_prefix(K8S, NAMESPACE_LABELS) or sel.has_key_prefix(ANY, NAMESPACE_LABELS)
    if ns_label and settings.namespace_label_selectors_cross_namespace:
        return sel
    return sel.and_(Requirement(K8S, POD_NAMESPACE, "In", (namespace,)))


def selector_list(item: Mapping, key: str, at: At, scope: RuleScope, *, reserved_exempt: bool = True) -> list[Selector]:
    """``fromEndpoints``/``toEndpoints``/``*Requires``: each entry a label selector
    (``null`` = ``{}``, every endpoint), scoped to the policy's namespace."""
    raw = item.get(key)
    if raw is None:
        return []
    here = at.field(item, key)
    if not isinstance(raw, list):
        scope.ctx.schema(f"{key} must be a list of label selectors", here)
        return []
    out = []
    for j, entry in enumerate(raw):
        try:
            sel = parse_label_selector(entry if entry is not None else {})
        except SelectorError as exc:
            scope.ctx.err(f"{key}[{j}]: {exc}", here.item(raw, j), exc.by)
            continue
        out.append(
            scope_peer_selector(
                sel, scope.namespace, scope.matches_init, scope.env.settings, reserved_exempt=reserved_exempt
            )
        )
    return out


def entity_selectors(name: str, settings: NetworkSettings) -> list[Selector]:
    """``EntitySelectorMapping`` (pkg/policy/api/entity.go)."""
    if name == "all":
        return [WILDCARD]
    if name == "world":
        return [entity_selector("world"), entity_selector("world-ipv4"), entity_selector("world-ipv6")]
    if name == "cluster":
        return [
            entity_selector(n)
            for n in ("host", "remote-node", "init", "ingress", "health", "unmanaged", "kube-apiserver")
        ] + [Selector((Requirement(K8S, "io.cilium.k8s.policy.cluster", "In", (settings.cluster_name,)),))]
    return [entity_selector(name)]


def read_endpoints(item: Mapping, key: str, at: At, scope: RuleScope, peers: Peers) -> None:
    got = selector_list(item, key, at, scope)
    peers.endpoints.extend(got)
    peers.text = f"{key} " + (", ".join(s.describe() for s in got) if got else "[] (nothing)")


def read_entities(item: Mapping, key: str, at: At, scope: RuleScope, peers: Peers) -> None:
    names = []
    here = at.field(item, key)
    for j, name in enumerate(item[key]):
        if name not in ENTITIES:
            scope.ctx.schema(
                f"unsupported entity: {name} (the CRD enum lists {', '.join(ENTITIES)})", here.item(item[key], j)
            )
            continue
        names.append(name)
        scope.ctx.entities.add(name)
        peers.others.extend(entity_selectors(name, scope.env.settings))
    peers.text = f"{key} {names}"


def read_nodes(item: Mapping, key: str, at: At, scope: RuleScope, peers: Peers) -> None:
    """``fromNodes``/``toNodes`` (enable-node-selector-labels): the empty selector is
    every node (``host`` and ``remote-node``); node labels are not in manifests."""
    here = at.field(item, key)
    for j, raw in enumerate(item[key]):
        try:
            sel = parse_label_selector(raw if raw is not None else {})
        except SelectorError as exc:
            scope.ctx.err(f"{key}[{j}]: {exc}", here.item(item[key], j), exc.by)
            continue
        if sel.is_wildcard:
            peers.others.extend([entity_selector("host"), entity_selector("remote-node")])
        else:
            scope.ctx.note(
                f"{key}[{j}] selects nodes by label; node labels are not in the manifests, "
                "so this peer matches nothing here",
                here.item(item[key], j),
            )
    peers.text = key


def read_groups(item: Mapping, key: str, at: At, scope: RuleScope, peers: Peers) -> None:
    if item[key]:
        scope.ctx.note(
            f"{key} (cloud provider groups) cannot be resolved offline; this peer matches nothing here",
            at.field(item, key),
        )
        peers.text = key


def read_services(item: Mapping, key: str, at: At, scope: RuleScope, peers: Peers) -> None:
    """``toServices``: a Service with a selector selects its backend pods (the selector
    is used as an endpoint selector in the Service's namespace); selector-less
    Services are translated to their EndpointSlice addresses, unknown offline."""
    here = at.field(item, key)
    for j, ref in enumerate(item[key]):
        entry = here.item(item[key], j)
        matched = _services_named(ref, entry, scope)
        if matched is None:
            continue
        if not matched:
            scope.ctx.note(f"toServices[{j}] matches no Service in the manifests; it selects nothing here", entry)
        for service in matched:
            if not service.selector:
                scope.ctx.note(
                    f"Service {service.namespace}/{service.name} has no selector: Cilium allows its "
                    "EndpointSlice addresses, which are not in the manifests",
                    entry,
                )
                continue
            reqs = [Requirement(K8S, k, "In", (v,)) for k, v in service.selector.items()]
            peers.endpoints.append(Selector.of(reqs + [Requirement(K8S, POD_NAMESPACE, "In", (service.namespace,))]))
    peers.text = key


def _services_named(ref: Any, at: At, scope: RuleScope) -> list[Service] | None:
    """The Services one ``toServices`` entry names (``k8sService`` by name, in the
    policy's namespace unless given; ``k8sServiceSelector`` by labels); None when the
    entry is refused."""
    env, ctx = scope.env, scope.ctx
    if not isinstance(ref, dict):
        ctx.schema("a toServices entry must be a mapping", at)
        return None
    if isinstance(ref.get("k8sService"), dict):
        named = ref["k8sService"]
        ns = str(named.get("namespace") or scope.namespace or env.default_namespace)
        return [s for s in env.services if s.name == str(named.get("serviceName")) and s.namespace == ns]
    if isinstance(ref.get("k8sServiceSelector"), dict):
        by_labels = ref["k8sServiceSelector"]
        ns = by_labels.get("namespace") or scope.namespace
        try:
            sel = parse_label_selector(by_labels.get("selector") or {}, force_source=K8S)
        except SelectorError as exc:
            ctx.err(f"k8sServiceSelector: {exc}", at, exc.by)
            return None
        return [
            s
            for s in env.services
            if (ns is None or s.namespace == ns)
            and sel.matches(frozenset(Label(K8S, k, v) for k, v in s.labels.items()))
        ]
    ctx.err("a toServices entry needs k8sService or k8sServiceSelector", at)
    return None


def fqdn_selector(raw: Any, at: At, ctx: PolicyContext, *, dns_rule: bool) -> fqdnlib.FqdnSelector | None:
    """``FQDNSelector``: exactly one of ``matchName`` / ``matchPattern`` (a DNS L7 rule
    may carry both: each is its own pattern)."""
    if not isinstance(raw, dict):
        ctx.schema("an FQDN selector must be a mapping {matchName | matchPattern}", at)
        return None
    name, pattern = raw.get("matchName"), raw.get("matchPattern")
    if name and pattern and not dns_rule:
        ctx.err("only one of matchName or matchPattern is allowed in an FQDNSelector", at)
        return None
    if name:
        problem = fqdnlib.validate_name(str(name))
        if problem:
            ctx.schema(problem, at.field(raw, "matchName"))
            return None
        return fqdnlib.FqdnSelector(fqdnlib.normalize(str(name)), True)
    if pattern:
        problem = fqdnlib.validate_pattern(str(pattern))
        if problem:
            ctx.schema(problem, at.field(raw, "matchPattern"))
            return None
        return fqdnlib.FqdnSelector(str(pattern).strip().lower(), False)
    return None


def read_fqdns(item: Mapping, key: str, at: At, scope: RuleScope, peers: Peers) -> None:
    here = at.field(item, key)
    for j, raw in enumerate(item[key]):
        sel = fqdn_selector(raw, here.item(item[key], j), scope.ctx, dns_rule=False)
        if sel is not None:
            peers.fqdns.append(sel)
    peers.text = "toFQDNs " + ", ".join(f.describe() for f in peers.fqdns)


def read_requires(item: Mapping, side: Side, at: At, scope: RuleScope) -> bool:
    """``fromRequires``/``toRequires``: ANDed into every selector of the subject's
    other rules of that direction.  Removed in 1.19 (PR #42615); the CRD keeps the
    field with maxItems 0 (PR #43167).  False when refused."""
    key = f"{side.prefix}Requires"
    if item.get(key) and scope.env.settings.at_least("1.19"):
        scope.ctx.schema(f"{key} was removed in Cilium 1.19: the CRD allows no items (maxItems 0)", at.field(item, key))
        return False
    for sel in selector_list(item, key, at, scope, reserved_exempt=False):
        scope.requires[side.name].extend(sel.requirements)
    return True
