"""CiliumNetworkPolicy / CiliumClusterwideNetworkPolicy -> internal rules, with
Cilium's validation.

Sources (cilium/cilium, current main unless stated):

* ``pkg/k8s/apis/cilium.io/v2`` ``Parse``: ``spec`` then every ``specs[i]`` are
  imported; a policy with neither is invalid; if *any* rule fails validation the
  whole object is rejected (nothing of it is enforced).
* ``pkg/policy/api/rule_validation.go`` (``Rule.Validate``/``Sanitize``): exactly one
  of endpointSelector/nodeSelector; at least one of ingress/ingressDeny/egress/
  egressDeny (newer releases); one L3 peer type per rule ("combining X and Y is not
  supported yet"); ``icmps`` with ``toPorts``; ``toServices`` with ``toPorts`` (older
  releases, issue #20067); L7 only on TCP (except DNS); DNS L7 only on egress and
  only with explicit ports and no port ranges; no L7 on port 0; one L7 type per port
  rule; at most 40 ports; CIDR ``except`` inside its ``cidr``; known entities only.
  Default deny per direction: enabled when the rule has ingress/ingressDeny (resp.
  egress/egressDeny) items, unless ``enableDefaultDeny`` says false.
* ``pkg/k8s/apis/cilium.io/utils/utils.go`` (``ParseToCiliumRule``,
  ``getEndpointSelector``): namespace scoping of CNP subject and peer selectors and
  its exceptions; CCNP peers without a namespace key get ``namespace Exists``.
* The CRD schema (``+kubebuilder`` markers in ``pkg/policy/api``): ``port`` is a
  string, ``protocol`` one of TCP/UDP/SCTP/ANY, entities from a fixed list; fields
  unknown to the schema are pruned by the API server.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field, replace
from typing import Any, Mapping

from ..loader.documents import KubeObject
from ..loader.schema_fields import prune
from ..located import LList, LMap, Loc
from . import fqdn as fqdnlib
from .policy_schema import CILIUM_POLICY, effect_of_dropping
from .ports import ICMP_MAX, IntervalSet, PortSet, port_range_set
from .rules import (
    API_SERVER,
    CCNP,
    CILIUM_AGENT,
    L7,
    Entry,
    HttpRule,
    Note,
    Origin,
    ParsedPolicies,
    PolicyRule,
    PortItem,
    PrunedField,
    Rejection,
)
from .selectors import (
    ANY,
    CIDR,
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
from .settings import NetworkSettings

MAX_PORTS = 40
MAX_ICMP_FIELDS = 40
ENTITIES = (
    "all", "world", "world-ipv4", "world-ipv6", "cluster", "host", "init", "ingress",
    "unmanaged", "remote-node", "health", "none", "kube-apiserver",
)
PROTOCOLS = ("TCP", "UDP", "SCTP", "ANY")
# Protocols without transport ports, behind --enable-extended-ip-protocols
# (rule_validation.go isExtendedIPProtocol): VRRP and IGMP (PR #39872), the tunnel
# protocols from 1.20 (PR #44459).
EXTENDED_PROTOCOLS = ("VRRP", "IGMP")
TUNNEL_PROTOCOLS = ("GRE", "IPIP", "IPV6", "ESP", "AH")
# The CRD's pattern for ports[].port (l4.go PortProtocol kubebuilder marker).  Its
# alternatives are not anchored on both sides, so the API server lets through much
# that the agent then rejects ("70000", "http--x").
_CRD_PORT_PATTERN = re.compile(
    r"^(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4})"
    r"|([a-zA-Z0-9]-?)*[a-zA-Z](-?[a-zA-Z0-9])*$"
)
ICMP_V4_NAMES = {
    "EchoReply": 0, "DestinationUnreachable": 3, "Redirect": 5, "Echo": 8, "EchoRequest": 8,
    "RouterAdvertisement": 9, "RouterSelection": 10, "TimeExceeded": 11, "ParameterProblem": 12,
    "Timestamp": 13, "TimestampReply": 14, "Photuris": 40, "ExtendedEchoRequest": 42, "ExtendedEchoReply": 43,
}
ICMP_V6_NAMES = {
    "DestinationUnreachable": 1, "PacketTooBig": 2, "TimeExceeded": 3, "ParameterProblem": 4,
    "EchoRequest": 128, "EchoReply": 129, "MulticastListenerQuery": 130, "MulticastListenerReport": 131,
    "MulticastListenerDone": 132, "RouterSolicitation": 133, "RouterAdvertisement": 134,
    "NeighborSolicitation": 135, "NeighborAdvertisement": 136, "RedirectMessage": 137, "RouterRenumbering": 138,
    "ICMPNodeInformationQuery": 139, "ICMPNodeInformationResponse": 140,
    "InverseNeighborDiscoverySolicitation": 141, "InverseNeighborDiscoveryAdvertisement": 142,
    "HomeAgentAddressDiscoveryRequest": 144, "HomeAgentAddressDiscoveryReply": 145,
    "MobilePrefixSolicitation": 146, "MobilePrefixAdvertisement": 147,
    "DuplicateAddressRequestCodeSuffix": 157, "DuplicateAddressConfirmationCodeSuffix": 158,
    "ExtendedEchoRequest": 160, "ExtendedEchoReply": 161,
}

# Fields unknown to the CRD schema are dropped before parsing (policy_schema.py, NET008).
INGRESS_L3 = ("fromEndpoints", "fromCIDR", "fromCIDRSet", "fromEntities", "fromNodes", "fromGroups")
EGRESS_L3 = ("toEndpoints", "toCIDR", "toCIDRSet", "toEntities", "toServices", "toGroups", "toNodes")

_SVC_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$", re.IGNORECASE)


def is_svc_name(text: str) -> bool:
    """IANA service name (``pkg/iana``): <= 15 characters of [a-z0-9-], at least one
    letter, no leading, trailing or double hyphen."""
    return bool(_SVC_NAME.match(text)) and "--" not in text and any(c.isalpha() for c in text)


@dataclass(frozen=True, slots=True)
class CidrGroup:
    name: str
    labels: Mapping[str, str]
    cidrs: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ServiceInfo:
    name: str
    namespace: str
    labels: Mapping[str, str]
    selector: Mapping[str, str] | None


@dataclass(frozen=True, slots=True)
class ParseEnv:
    settings: NetworkSettings
    cidr_groups: tuple[CidrGroup, ...] = ()
    services: tuple[ServiceInfo, ...] = ()
    default_namespace: str = "default"


@dataclass(slots=True)
class _Ctx:
    """Collects validation errors (each with its location) for one policy object."""

    kind: str
    namespace: str | None
    name: str
    errors: list[Rejection] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    entities: set[str] = field(default_factory=set)

    def err(self, message: str, loc: Loc, path: str, by: str = CILIUM_AGENT) -> None:
        """A violation the Cilium agent's validation (``Rule.Validate``) rejects."""
        self.errors.append(Rejection(self.kind, self.namespace, self.name, message, loc, path, by))

    def schema(self, message: str, loc: Loc, path: str) -> None:
        """A violation of the CRD schema (types, enums, patterns, oneOf, required):
        the API server refuses the object before Cilium ever sees it."""
        self.err(message, loc, path, API_SERVER)

    def note(self, message: str, loc: Loc) -> None:
        ns = f"{self.namespace}/" if self.namespace else ""
        self.notes.append(Note(f"{self.kind} {ns}{self.name}", message, loc))

    def origin(self, path: str, loc: Loc) -> Origin:
        return Origin(self.kind, self.namespace, self.name, path, loc)


def _loc(container: Any, key: Any, fallback: Loc) -> Loc:
    """Where ``container[key]`` is written: the key's line for a nested list or mapping
    (``toPorts:``), the value's position for a scalar, the item's for a list index."""
    if isinstance(container, LMap) and key in container:
        if isinstance(container[key], (LMap, LList)):
            return container.key_loc(key)
        return container.loc_of(key)
    if isinstance(container, LList) and isinstance(key, int):
        return container.loc_of(key)
    if isinstance(container, (LMap, LList)):
        return container.loc
    return fallback


def _as_list(value: Any) -> list:
    return list(value) if isinstance(value, list) else []


def record_pruned(obj: KubeObject, policy: str, schema, out: ParsedPolicies) -> LMap:
    """Drop the fields ``schema`` does not know, as a lenient API server does, and record
    each for NET008; returns the body the engine then parses."""
    body, unknown = prune(obj.body, schema)
    for u in unknown:
        out.pruned.append(PrunedField(u.loc, policy, u.path, u.key, u.suggestion, effect_of_dropping(u)))
    return body


def parse_cilium_policy(obj: KubeObject, env: ParseEnv, out: ParsedPolicies) -> None:
    """Translate one CNP/CCNP; on any validation error record rejections, apply nothing."""
    clusterwide = obj.kind == CCNP
    namespace = None if clusterwide else (obj.namespace or env.default_namespace)
    ctx = _Ctx(obj.kind, namespace, obj.name)
    out.policies.append(ctx.origin("", obj.loc))
    body = record_pruned(obj, ctx.origin("", obj.loc).policy, CILIUM_POLICY, out)
    rules_raw: list[tuple[str, Any, Loc]] = []
    if "spec" in body and body["spec"] is not None:
        rules_raw.append(("spec", body["spec"], body.loc_of("spec")))
    specs = body.get("specs")
    if specs is not None:
        if not isinstance(specs, list):
            ctx.schema("specs must be a list of rules", _loc(body, "specs", obj.loc), "specs")
        else:
            for i, s in enumerate(specs):
                rules_raw.append((f"specs[{i}]", s, _loc(specs, i, obj.loc)))
    if not rules_raw:
        ctx.err(f"invalid {obj.kind}: empty policy (neither spec nor specs)", obj.loc, "")
    parsed: list[PolicyRule] = []
    for path, raw, loc in rules_raw:
        rule = _parse_rule(raw, path, loc, namespace, env, ctx, obj.loc)
        if rule is not None:
            parsed.append(rule)
    out.notes.extend(ctx.notes)
    if ctx.errors:
        subjects = _would_select([raw for _, raw, _ in rules_raw], namespace)
        out.rejections.extend(replace(r, subjects=subjects) for r in ctx.errors)
        return
    out.rules.extend(parsed)
    out.entities.update(ctx.entities)


def _would_select(rules_raw: list, namespace: str | None) -> tuple[Selector, ...] | None:
    """The endpoint selectors a rejected policy would have applied to, read leniently:
    ``explain`` lists a rejection only for the pairs it would have concerned.  A rule
    whose selector cannot be read makes the answer unknown (None); host policies
    (nodeSelector) select no pod."""
    out = []
    for raw in rules_raw:
        es = raw.get("endpointSelector") if isinstance(raw, dict) else None
        if es is None:
            continue  # host policy or no selector: never applies to pods
        try:
            out.append(_subject_selector(es, namespace, _Ctx("", None, ""), Loc("")))
        except SelectorError:
            return None
    return tuple(out)


def _parse_rule(raw: Any, path: str, loc: Loc, namespace: str | None, env: ParseEnv, ctx: _Ctx, obj_loc: Loc) -> PolicyRule | None:
    if not isinstance(raw, dict):
        ctx.schema(f"{path} must be a mapping (a rule)", loc, path)
        return None
    directions = {d: raw.get(d) for d in ("ingress", "ingressDeny", "egress", "egressDeny")}
    for d, v in directions.items():
        if v is not None and not isinstance(v, list):
            ctx.schema(f"{d} must be a list", _loc(raw, d, loc), f"{path}.{d}")
            return None
    if env.settings.reject_empty_rules and not any(directions.values()):
        ctx.err("rule must have at least one of ingress, ingressDeny, egress, egressDeny", loc, path)
        return None
    has_es = raw.get("endpointSelector") is not None
    has_ns = raw.get("nodeSelector") is not None
    if not has_es and not has_ns:
        ctx.schema("rule must have one of endpointSelector or nodeSelector (CRD oneOf)", loc, path)
        return None
    if has_es and has_ns:
        ctx.schema("rule cannot have both endpointSelector and nodeSelector (CRD oneOf)", _loc(raw, "nodeSelector", loc), path)
        return None
    if has_ns and namespace is not None:
        ctx.err("a CiliumNetworkPolicy cannot use nodeSelector (host policies are clusterwide only)",
                _loc(raw, "nodeSelector", loc), f"{path}.nodeSelector")
        return None

    subject: Selector | None = None
    node_selector: Selector | None = None
    matches_init = False
    if has_es:
        es_raw = raw["endpointSelector"]
        try:
            subject = _subject_selector(es_raw, namespace, ctx, _loc(raw, "endpointSelector", loc))
        except SelectorError as exc:
            ctx.err(f"endpointSelector: {exc}", _loc(raw, "endpointSelector", loc), f"{path}.endpointSelector", exc.by)
            return None
        matches_init = subject.has_key(RESERVED, "init")
    else:
        try:
            node_selector = parse_label_selector(raw["nodeSelector"])
        except SelectorError as exc:
            ctx.err(f"nodeSelector: {exc}", _loc(raw, "nodeSelector", loc), f"{path}.nodeSelector", exc.by)
            return None
    host_policy = node_selector is not None

    edd = raw.get("enableDefaultDeny")
    flags: dict[str, bool | None] = {"ingress": None, "egress": None}
    if edd is not None:
        if not isinstance(edd, dict):
            ctx.schema("enableDefaultDeny must be a mapping {ingress, egress}", _loc(raw, "enableDefaultDeny", loc), f"{path}.enableDefaultDeny")
            return None
        for d in ("ingress", "egress"):
            v = edd.get(d)
            if v is not None and not isinstance(v, bool):
                ctx.schema(f"enableDefaultDeny.{d} must be true or false", _loc(edd, d, loc), f"{path}.enableDefaultDeny.{d}")
                return None
            flags[d] = v

    entries: list[Entry] = []
    requires: dict[str, list[Requirement]] = {"ingress": [], "egress": [], "ingressDeny": [], "egressDeny": []}
    before = len(ctx.errors)
    for dname, items in directions.items():
        if not items:
            continue
        holder = raw[dname]
        for i, item in enumerate(items):
            ipath = f"{path}.{dname}[{i}]"
            iloc = _loc(holder, i, loc)
            if not isinstance(item, dict):
                ctx.schema(f"{dname}[{i}] must be a mapping", iloc, ipath)
                continue
            entries.extend(
                _parse_item(item, dname, ipath, iloc, namespace, matches_init, host_policy, env, ctx, requires)
            )
    if len(ctx.errors) > before:
        return None

    def dd(direction: str) -> bool:
        has = bool(directions[direction]) or bool(directions[direction + "Deny"])
        flag = flags[direction] if env.settings.enable_default_deny_field else None
        return has and flag is not False

    return PolicyRule(
        origin=ctx.origin(path, loc),
        subject=subject,
        node_selector=node_selector,
        default_deny_ingress=dd("ingress"),
        default_deny_egress=dd("egress"),
        entries=tuple(entries),
        requires_ingress=tuple(requires["ingress"]),
        requires_egress=tuple(requires["egress"]),
        requires_ingress_deny=tuple(requires["ingressDeny"]),
        requires_egress_deny=tuple(requires["egressDeny"]),
    )


def _subject_selector(raw: Any, namespace: str | None, ctx: _Ctx, loc: Loc) -> Selector:
    """CNP: ``k8s:io.kubernetes.pod.namespace=<policy namespace>`` is always added; a
    user-written matchLabels value for that exact key is overwritten (Cilium logs a
    warning).  CCNP: no namespace is added."""
    if namespace is not None and isinstance(raw, dict):
        ml = raw.get("matchLabels")
        key = f"{K8S}:{POD_NAMESPACE}"
        if isinstance(ml, dict) and key in ml:
            if str(ml[key]) != namespace:
                ctx.note(
                    f"endpointSelector names namespace {ml[key]!r} but a CiliumNetworkPolicy always applies to its own "
                    f"namespace {namespace!r}; Cilium overwrites the value",
                    _loc(ml, key, loc),
                )
            raw = dict(raw)
            raw["matchLabels"] = {k: v for k, v in ml.items() if k != key}
    sel = parse_label_selector(raw)
    if namespace is not None:
        sel = sel.and_(Requirement(K8S, POD_NAMESPACE, "In", (namespace,)))
    return sel


def scope_peer_selector(
    sel: Selector, namespace: str | None, matches_init: bool, settings: NetworkSettings, *, reserved_exempt: bool = True
) -> Selector:
    """``getEndpointSelector``: namespace scoping of a CNP/CCNP peer selector."""
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


def _selector_list(
    item: Mapping, key: str, ipath: str, iloc: Loc, namespace: str | None, matches_init: bool,
    env: ParseEnv, ctx: _Ctx, *, reserved_exempt: bool = True,
) -> list[Selector]:
    raw = item.get(key)
    out = []
    if raw is None:
        return out
    if not isinstance(raw, list):
        ctx.schema(f"{key} must be a list of label selectors", _loc(item, key, iloc), f"{ipath}.{key}")
        return out
    for j, s in enumerate(raw):
        try:
            sel = parse_label_selector(s if s is not None else {})
        except SelectorError as exc:
            ctx.err(f"{key}[{j}]: {exc}", _loc(raw, j, iloc), f"{ipath}.{key}[{j}]", exc.by)
            continue
        out.append(scope_peer_selector(sel, namespace, matches_init, env.settings, reserved_exempt=reserved_exempt))
    return out


def _parse_item(
    item: Mapping, dname: str, ipath: str, iloc: Loc, namespace: str | None, matches_init: bool,
    host_policy: bool, env: ParseEnv, ctx: _Ctx, requires: dict[str, list[Requirement]],
) -> list[Entry]:
    ingress = dname.startswith("ingress")
    deny = dname.endswith("Deny")
    direction = "ingress" if ingress else "egress"
    l3_keys = INGRESS_L3 if ingress else EGRESS_L3 + ("toFQDNs",)
    if not ingress and deny:
        l3_keys = EGRESS_L3
    present = [k for k in l3_keys if isinstance(item.get(k), list) and item.get(k)]
    if len(present) > 1:
        ctx.err(f"combining {present[0]} and {present[1]} is not supported yet (one L3 peer type per rule)",
                _loc(item, present[1], iloc), f"{ipath}.{present[1]}")
        return []
    for k in l3_keys:
        if k in item and item[k] is not None and not isinstance(item[k], list):
            ctx.schema(f"{k} must be a list", _loc(item, k, iloc), f"{ipath}.{k}")
            return []
    to_ports = item.get("toPorts")
    icmps = item.get("icmps")
    if to_ports is not None and not isinstance(to_ports, list):
        ctx.schema("toPorts must be a list", _loc(item, "toPorts", iloc), f"{ipath}.toPorts")
        return []
    if icmps is not None and not isinstance(icmps, list):
        ctx.schema("icmps must be a list", _loc(item, "icmps", iloc), f"{ipath}.icmps")
        return []
    if "toServices" in present and to_ports and not env.settings.to_services_with_to_ports:
        ctx.err("combining toServices and toPorts is not supported yet (cilium/cilium#20067)",
                _loc(item, "toPorts", iloc), f"{ipath}.toPorts")
        return []
    if icmps and to_ports:
        ctx.err("the icmps block may only be present without toPorts; define a separate rule to use toPorts",
                _loc(item, "icmps", iloc), f"{ipath}.icmps")
        return []
    if icmps and not env.settings.icmp_rules:
        ctx.err("ICMP rules can only be applied when enable-icmp-rules is set", _loc(item, "icmps", iloc), f"{ipath}.icmps")
        return []
    if ("fromNodes" in present or "toNodes" in present) and not env.settings.node_selector_labels:
        k = "fromNodes" if "fromNodes" in present else "toNodes"
        ctx.err(f"{k} rules can only be applied when enable-node-selector-labels is set", _loc(item, k, iloc), f"{ipath}.{k}")
        return []

    # --- peers -------------------------------------------------------------------
    prefix = "from" if ingress else "to"
    endpoints: list[Selector] = []
    others: list[Selector] = []
    fqdns: list[fqdnlib.FqdnSelector] = []
    peer_text = ""
    ep_key = f"{prefix}Endpoints"
    if ep_key in item and item[ep_key] is not None:
        endpoints = _selector_list(item, ep_key, ipath, iloc, namespace, matches_init, env, ctx)
        peer_text = f"{ep_key} " + (", ".join(s.describe() for s in endpoints) if endpoints else "[] (nothing)")
    ent_key = f"{prefix}Entities"
    if ent_key in item and item[ent_key] is not None:
        names = []
        for j, e in enumerate(item[ent_key]):
            if e not in ENTITIES:
                ctx.schema(f"unsupported entity: {e} (the CRD enum lists {', '.join(ENTITIES)})",
                           _loc(item[ent_key], j, iloc), f"{ipath}.{ent_key}[{j}]")
                continue
            names.append(e)
            ctx.entities.add(e)
            others.extend(entity_selectors(e, env.settings))
        peer_text = f"{ent_key} {names}"
    for ck in (f"{prefix}CIDR", f"{prefix}CIDRSet"):
        if ck in item and item[ck] is not None:
            got = _cidr_selectors(item, ck, ipath, iloc, env, ctx)
            others.extend(got)
            peer_text = f"{ck} " + ", ".join(_cidr_text(s) for s in got)
    nk = f"{prefix}Nodes"
    if nk in item and item[nk] is not None:
        for j, s in enumerate(item[nk]):
            try:
                sel = parse_label_selector(s if s is not None else {})
            except SelectorError as exc:
                ctx.err(f"{nk}[{j}]: {exc}", _loc(item[nk], j, iloc), f"{ipath}.{nk}[{j}]", exc.by)
                continue
            if sel.is_wildcard:
                others.extend([entity_selector("host"), entity_selector("remote-node")])
            else:
                ctx.note(f"{nk}[{j}] selects nodes by label; node labels are not in the manifests, "
                         "so this peer matches nothing here", _loc(item[nk], j, iloc))
        peer_text = f"{nk}"
    gk = f"{prefix}Groups"
    if gk in item and item[gk]:
        ctx.note(f"{gk} (cloud provider groups) cannot be resolved offline; this peer matches nothing here",
                 _loc(item, gk, iloc))
        peer_text = gk
    if not ingress and item.get("toServices") is not None:
        endpoints.extend(_service_selectors(item, ipath, iloc, namespace, env, ctx))
        peer_text = "toServices"
    if not ingress and not deny and item.get("toFQDNs") is not None:
        for j, f in enumerate(item["toFQDNs"]):
            sel = _fqdn_selector(f, f"{ipath}.toFQDNs[{j}]", _loc(item["toFQDNs"], j, iloc), ctx, dns_rule=False)
            if sel is not None:
                fqdns.append(sel)
        peer_text = "toFQDNs " + ", ".join(f.describe() for f in fqdns)
    req_key = f"{prefix}Requires"
    if item.get(req_key) and env.settings.at_least("1.19"):
        # Removed in 1.19 (PR #42615); the CRD keeps the field with maxItems 0 (PR #43167).
        ctx.schema(f"{req_key} was removed in Cilium 1.19: the CRD allows no items (maxItems 0)",
                   _loc(item, req_key, iloc), f"{ipath}.{req_key}")
        return []
    if item.get(req_key) is not None:
        for sel in _selector_list(item, req_key, ipath, iloc, namespace, matches_init, env, ctx, reserved_exempt=False):
            requires[dname].extend(sel.requirements)

    any_l3_key = any(k in item and item[k] is not None for k in l3_keys)
    has_l4 = bool(to_ports) or bool(icmps)
    if not any_l3_key:
        if has_l4:
            others = [WILDCARD]  # ports without peers: every identity, not namespace-scoped
            peer_text = "any peer (no L3 selector, ports only)"
        else:
            peer_text = "no peer (an empty rule allows nothing)"

    # --- L4 / L7 -------------------------------------------------------------------
    origin_base = ctx.origin(ipath, iloc)
    common = dict(direction=direction, deny=deny, endpoints=tuple(endpoints), others=tuple(others),
                  fqdns=tuple(fqdns), peer_text=peer_text)
    if to_ports:
        out: list[Entry] = []
        for k, pr in enumerate(to_ports):
            ppath = f"{ipath}.toPorts[{k}]"
            ploc = _loc(to_ports, k, iloc)
            got = _port_rule(pr, ppath, ploc, ingress, deny, host_policy, env, ctx)
            if got is None:
                continue
            static, named, l7 = got
            origin = Origin(origin_base.kind, origin_base.namespace, origin_base.name, ppath, ploc)
            out.append(Entry(origin=origin, l3_only=False, static=static, named=named, l7=l7, **common))
        return out
    if icmps:
        types: dict[str, list[tuple[int, int]]] = {"ICMP": [], "ICMPv6": []}
        for k, rule in enumerate(icmps):
            rloc = _loc(icmps, k, iloc)
            fields_ = rule.get("fields") if isinstance(rule, dict) else None
            if fields_ is None:
                fields_ = []
            if not isinstance(fields_, list):
                ctx.schema("icmps[].fields must be a list", rloc, f"{ipath}.icmps[{k}].fields")
                continue
            if len(fields_) > MAX_ICMP_FIELDS:
                ctx.err(f"too many ICMP types, the max is {MAX_ICMP_FIELDS}", rloc, f"{ipath}.icmps[{k}].fields")
                continue
            for m, f in enumerate(fields_):
                floc = _loc(fields_, m, rloc)
                fam = (f or {}).get("family", "IPv4") if isinstance(f, dict) else None
                if fam not in ("IPv4", "IPv6", ""):
                    ctx.schema(f"wrong ICMP family: {fam} (the CRD enum is IPv4, IPv6)", floc,
                               f"{ipath}.icmps[{k}].fields[{m}].family")
                    continue
                fam = fam or "IPv4"
                t = f.get("type") if isinstance(f, dict) else None
                names = ICMP_V6_NAMES if fam == "IPv6" else ICMP_V4_NAMES
                if isinstance(t, bool) or t is None:
                    ctx.schema("ICMP type must be a number 0-255 or a type name", floc, f"{ipath}.icmps[{k}].fields[{m}].type")
                    continue
                if isinstance(t, int) or (isinstance(t, str) and t.isdigit()):
                    code = int(t)
                    if not 0 <= code <= ICMP_MAX:
                        ctx.schema(f"ICMP type {t} is out of range 0-255", floc, f"{ipath}.icmps[{k}].fields[{m}].type")
                        continue
                elif isinstance(t, str) and t in names:
                    code = names[t]
                else:
                    ctx.schema(f"ICMP type {t} not found in {fam}", floc, f"{ipath}.icmps[{k}].fields[{m}].type")
                    continue
                types["ICMP" if fam == "IPv4" else "ICMPv6"].append((code, code))
        static = PortSet.of({p: IntervalSet.of(v) for p, v in types.items() if v})
        return [Entry(origin=origin_base, l3_only=False, static=static, **common)]
    return [Entry(origin=origin_base, l3_only=True, **common)]


def entity_selectors(name: str, settings: NetworkSettings) -> list[Selector]:
    """``EntitySelectorMapping`` (pkg/policy/api/entity.go)."""
    if name == "all":
        return [WILDCARD]
    if name == "world":
        return [entity_selector("world"), entity_selector("world-ipv4"), entity_selector("world-ipv6")]
    if name == "cluster":
        return [
            entity_selector(n) for n in ("host", "remote-node", "init", "ingress", "health", "unmanaged", "kube-apiserver")
        ] + [Selector((Requirement(K8S, "io.cilium.k8s.policy.cluster", "In", (settings.cluster_name,)),))]
    return [entity_selector(name)]


def _cidr_text(sel: Selector) -> str:
    pos = [r.key for r in sel.requirements if r.operator == "Exists"]
    neg = [r.key for r in sel.requirements if r.operator == "DoesNotExist"]
    return (pos[0] if pos else "?") + (f" except {', '.join(neg)}" if neg else "")


def cidr_selector(prefix: str, excepts: tuple[str, ...] = ()) -> Selector:
    """A CIDR peer as a label selector over CIDR identities: ``cidr:<prefix>`` present
    and none of the ``cidr:<except>`` labels (each except is its own, more specific
    identity)."""
    reqs = [Requirement(CIDR, prefix, "Exists")] + [Requirement(CIDR, e, "DoesNotExist") for e in excepts]
    return Selector.of(reqs)


def _norm_prefix(text: str, *, allow_bare_ip: bool) -> str:
    text = str(text).strip()
    if "/" not in text:
        if not allow_bare_ip:
            raise ValueError(f"unable to parse CIDRRule {text!r}: a prefix (address/length) is required")
        ip = ipaddress.ip_address(text)
        return f"{ip}/{ip.max_prefixlen}"
    return str(ipaddress.ip_network(text, strict=False))


def _except_allowed(net: ipaddress.IPv4Network | ipaddress.IPv6Network, text: str,
                    enet: ipaddress.IPv4Network | ipaddress.IPv6Network, settings: NetworkSettings) -> bool:
    """``CIDRRule.Validate`` (rule_validation.go): the cidr must contain the except's
    *address* as written (``netip.Prefix.Contains(except.Addr())``, which also fails
    across address families).  From 1.20 the except may not be wider than the cidr
    either (``prefix.Bits() > except.Bits()``, PR #44637); before, ``10.0.0.0/8``
    except ``10.0.0.0/7`` is accepted and the except swallows the whole prefix."""
    address = ipaddress.ip_address(text.split("/", 1)[0])
    if address.version != net.version or address not in net:
        return False
    return not (settings.at_least("1.20") and enet.prefixlen < net.prefixlen)


def _cidr_selectors(item: Mapping, key: str, ipath: str, iloc: Loc, env: ParseEnv, ctx: _Ctx) -> list[Selector]:
    raw = item[key]
    out: list[Selector] = []
    for j, c in enumerate(raw):
        where = f"{ipath}.{key}[{j}]"
        cloc = _loc(raw, j, iloc)
        if key.endswith("CIDR"):
            try:
                out.append(cidr_selector(_norm_prefix(c, allow_bare_ip=True)))
            except ValueError as exc:
                ctx.schema(f"unable to parse CIDR {c!r}: {exc}", cloc, where)
            continue
        if not isinstance(c, dict):
            ctx.schema("a CIDR set entry must be a mapping {cidr, except}", cloc, where)
            continue
        given = [k for k in ("cidr", "cidrGroupRef", "cidrGroupSelector") if c.get(k)]
        if len(given) != 1:
            ctx.schema("exactly one of cidr, cidrGroupRef or cidrGroupSelector is required (CRD oneOf)", cloc, where)
            continue
        excepts_raw = c.get("except") or []
        if not isinstance(excepts_raw, list):
            ctx.schema("except must be a list of prefixes", _loc(c, "except", cloc), f"{where}.except")
            continue
        if given[0] == "cidr":
            try:
                prefix = _norm_prefix(c["cidr"], allow_bare_ip=False)
                net = ipaddress.ip_network(str(c["cidr"]).strip(), strict=False)
            except ValueError as exc:
                ctx.schema(str(exc), _loc(c, "cidr", cloc), f"{where}.cidr")
                continue
            excepts = []
            bad = False
            for m, e in enumerate(excepts_raw):
                eloc = _loc(excepts_raw, m, cloc)
                try:
                    enet = ipaddress.ip_network(str(e).strip(), strict=False)
                    if "/" not in str(e):
                        raise ValueError("a prefix (address/length) is required")
                except ValueError as exc:
                    ctx.schema(f"except {e!r}: {exc}", eloc, f"{where}.except[{m}]")
                    bad = True
                    continue
                if not _except_allowed(net, str(e).strip(), enet, env.settings):
                    ctx.err(f"allow CIDR prefix {c['cidr']} does not contain exclude CIDR prefix {e}", eloc, f"{where}.except[{m}]")
                    bad = True
                    continue
                excepts.append(str(enet))
            if not bad:
                out.append(cidr_selector(prefix, tuple(excepts)))
            continue
        # CiliumCIDRGroup by name or by label selector: the group's externalCIDRs.
        excepts = []
        for e in excepts_raw:
            try:
                excepts.append(_norm_prefix(e, allow_bare_ip=False))
            except ValueError:
                ctx.schema(f"except {e!r} is not a prefix", _loc(c, "except", cloc), f"{where}.except")
        if given[0] == "cidrGroupRef":
            groups = [g for g in env.cidr_groups if g.name == str(c["cidrGroupRef"])]
        else:
            try:
                gsel = parse_label_selector(c["cidrGroupSelector"], force_source="cidrgroup")
            except SelectorError as exc:
                ctx.err(f"cidrGroupSelector: {exc}", _loc(c, "cidrGroupSelector", cloc), f"{where}.cidrGroupSelector", exc.by)
                continue
            groups = [g for g in env.cidr_groups
                      if gsel.matches(frozenset(_group_labels(g)))]
        if not groups:
            ctx.note(f"{given[0]} {c[given[0]]} matches no CiliumCIDRGroup in the manifests; this peer selects nothing",
                     _loc(c, given[0], cloc))
        for g in groups:
            for pfx in g.cidrs:
                out.append(cidr_selector(pfx, tuple(excepts)))
    return out


def _group_labels(g: CidrGroup) -> set[Label]:
    return {Label("cidrgroup", k, v) for k, v in g.labels.items()}


def _service_selectors(item: Mapping, ipath: str, iloc: Loc, namespace: str | None, env: ParseEnv, ctx: _Ctx) -> list[Selector]:
    """``toServices``: a Service with a selector selects its backend pods (the selector
    is used as an endpoint selector in the Service's namespace); selector-less
    Services are translated to their EndpointSlice addresses, unknown offline."""
    out: list[Selector] = []
    raw = item.get("toServices") or []
    for j, s in enumerate(raw):
        sloc = _loc(raw, j, iloc)
        if not isinstance(s, dict):
            ctx.schema("a toServices entry must be a mapping", sloc, f"{ipath}.toServices[{j}]")
            continue
        matched: list[ServiceInfo] = []
        if isinstance(s.get("k8sService"), dict):
            ref = s["k8sService"]
            ns = str(ref.get("namespace") or namespace or env.default_namespace)
            matched = [v for v in env.services if v.name == str(ref.get("serviceName")) and v.namespace == ns]
        elif isinstance(s.get("k8sServiceSelector"), dict):
            ref = s["k8sServiceSelector"]
            ns = ref.get("namespace") or namespace
            try:
                ssel = parse_label_selector(ref.get("selector") or {}, force_source=K8S)
            except SelectorError as exc:
                ctx.err(f"k8sServiceSelector: {exc}", sloc, f"{ipath}.toServices[{j}]", exc.by)
                continue
            matched = [
                v for v in env.services
                if (ns is None or v.namespace == ns)
                and ssel.matches(frozenset(Label(K8S, k, val) for k, val in v.labels.items()))
            ]
        else:
            ctx.err("a toServices entry needs k8sService or k8sServiceSelector", sloc, f"{ipath}.toServices[{j}]")
            continue
        for v in matched:
            if v.selector is None:
                ctx.note(f"Service {v.namespace}/{v.name} has no selector: Cilium allows its EndpointSlice addresses, "
                         "which are not in the manifests", sloc)
                continue
            reqs = [Requirement(K8S, k, "In", (val,)) for k, val in v.selector.items()]
            out.append(Selector.of(reqs + [Requirement(K8S, POD_NAMESPACE, "In", (v.namespace,))]))
        if not matched:
            ctx.note(f"toServices[{j}] matches no Service in the manifests; it selects nothing here", sloc)
    return out


def _fqdn_selector(raw: Any, where: str, loc: Loc, ctx: _Ctx, *, dns_rule: bool) -> fqdnlib.FqdnSelector | None:
    if not isinstance(raw, dict):
        ctx.schema("an FQDN selector must be a mapping {matchName | matchPattern}", loc, where)
        return None
    name, pattern = raw.get("matchName"), raw.get("matchPattern")
    if name and pattern and not dns_rule:
        ctx.err("only one of matchName or matchPattern is allowed in an FQDNSelector", loc, where)
        return None
    if name:
        msg = fqdnlib.validate_name(str(name))
        if msg:
            ctx.schema(msg, _loc(raw, "matchName", loc), where + ".matchName")
            return None
        return fqdnlib.FqdnSelector(fqdnlib.normalize(str(name)), True)
    if pattern:
        msg = fqdnlib.validate_pattern(str(pattern))
        if msg:
            ctx.schema(msg, _loc(raw, "matchPattern", loc), where + ".matchPattern")
            return None
        return fqdnlib.FqdnSelector(str(pattern).strip().lower(), False)
    return None


def _parse_port_item(p: Any, where: str, loc: Loc, has_dns: bool, ctx: _Ctx, settings: NetworkSettings) -> PortItem | None:
    """One ``ports[]`` entry (``PortProtocol.Validate``), with the CRD's own checks
    (type, enum, pattern, required) reported as the API server's."""
    if not isinstance(p, dict):
        ctx.schema("a ports entry must be a mapping {port, endPort, protocol}", loc, where)
        return None
    port = p.get("port")
    proto = p.get("protocol", "ANY")
    if proto is None or proto == "":
        proto = "ANY"
    extended = EXTENDED_PROTOCOLS + (TUNNEL_PROTOCOLS if settings.at_least("1.20") else ())
    if not isinstance(proto, str) or proto not in PROTOCOLS + extended:
        known = ", ".join(PROTOCOLS + extended)
        ctx.schema(f"invalid protocol {proto!r}: the CRD enum is {known} (case-sensitive)",
                   _loc(p, "protocol", loc), where + ".protocol")
        return None
    if proto in extended:
        return _extended_port_item(p, proto, where, loc, ctx, settings)
    if port is None or port == "":
        # The CRD required ports[].port until it made room for extended IP protocols.
        by = CILIUM_AGENT if settings.at_least("1.19") else API_SERVER
        ctx.err("port must be specified", loc, where + ".port", by)
        return None
    if not isinstance(port, str) or isinstance(port, bool):
        ctx.schema(f"port must be a string (write port: \"{port}\"); the CRD schema rejects a number",
                   _loc(p, "port", loc), where + ".port")
        return None
    end = p.get("endPort")
    if end is not None and (not isinstance(end, int) or isinstance(end, bool)):
        ctx.schema(f"endPort must be an integer, got {end!r}", _loc(p, "endPort", loc), where + ".endPort")
        return None
    end = int(end or 0)
    if end < 0 or end > 65535:
        ctx.schema(f"endPort {end} is out of range 0-65535", _loc(p, "endPort", loc), where + ".endPort")
        return None
    if is_svc_name(port):
        return PortItem(proto, 0, 0, port.lower())
    by = API_SERVER if not _CRD_PORT_PATTERN.search(port) else CILIUM_AGENT
    try:
        number = int(port, 0) if port.lower().startswith(("0x", "0o", "0b")) else int(port, 10)
    except ValueError:
        ctx.err(f"unable to parse port {port!r}: neither a number nor a port name", _loc(p, "port", loc), where + ".port", by)
        return None
    if not 0 <= number <= 65535:
        ctx.err(f"unable to parse port {port!r}: out of range 0-65535", _loc(p, "port", loc), where + ".port", by)
        return None
    if has_dns and end > number:
        ctx.err("DNS rules do not support port ranges", _loc(p, "endPort", loc), where + ".endPort")
        return None
    return PortItem(proto, number, end if end > number else 0, None)


def _extended_port_item(p: Mapping, proto: str, where: str, loc: Loc, ctx: _Ctx, settings: NetworkSettings) -> PortItem | None:
    """A protocol without transport ports (VRRP, IGMP, GRE ...): only with
    --enable-extended-ip-protocols, and only with no port or port "0"."""
    if not settings.extended_ip_protocols:
        ctx.err(f"protocol {proto} needs enable-extended-ip-protocols (settings.cilium.extendedIPProtocols); "
                "without it Cilium rejects the policy", _loc(p, "protocol", loc), where + ".protocol")
        return None
    port = p.get("port")
    if port not in (None, "", "0"):
        ctx.err(f"port must be empty or 0 for protocol {proto}", _loc(p, "port", loc), where + ".port")
        return None
    ctx.note(f"protocol {proto} is accepted, but the traffic graph models only TCP, UDP, SCTP and ICMP: "
             f"what this entry allows for {proto} is not shown", _loc(p, "protocol", loc))
    return PortItem(proto, 0, 0, None)


def _port_rule(
    pr: Any, ppath: str, ploc: Loc, ingress: bool, deny: bool, host_policy: bool, env: ParseEnv, ctx: _Ctx
) -> tuple[PortSet, tuple[PortItem, ...], L7 | None] | None:
    if not isinstance(pr, dict):
        ctx.schema("a toPorts entry must be a mapping", ploc, ppath)
        return None
    rules = pr.get("rules") if not deny else None
    if rules is not None and not isinstance(rules, dict):
        ctx.schema("rules must be a mapping", _loc(pr, "rules", ploc), ppath + ".rules")
        return None
    rules = rules or {}
    l7_types = [k for k in ("http", "kafka", "dns", "l7proto") if rules.get(k) is not None]
    has_dns = isinstance(rules.get("dns"), list) and len(rules["dns"]) > 0
    if ingress and has_dns:
        ctx.err("DNS rules are not allowed on ingress", _loc(rules, "dns", ploc), ppath + ".rules.dns")
        return None
    if (rules.get("http") or rules.get("kafka") or rules.get("dns")) and not env.settings.l7_proxy:
        ctx.err("L7 policy is not supported since the L7 proxy is not enabled", _loc(pr, "rules", ploc), ppath + ".rules")
        return None
    if host_policy and (rules.get("http") or rules.get("kafka")):
        ctx.err("host policies do not support L7 rules (except DNS)", _loc(pr, "rules", ploc), ppath + ".rules")
        return None
    server_names = pr.get("serverNames")
    if server_names and l7_types and pr.get("terminatingTLS") is None:
        ctx.err("serverNames are not allowed with L7 rules without TLS termination", _loc(pr, "serverNames", ploc), ppath + ".serverNames")
        return None
    if isinstance(server_names, list) and any(s == "" for s in server_names):
        ctx.err("empty server name is not allowed", _loc(pr, "serverNames", ploc), ppath + ".serverNames")
        return None
    if pr.get("listener") is not None:
        if ingress:
            ctx.err("listener is not allowed on ingress", _loc(pr, "listener", ploc), ppath + ".listener")
            return None
        if l7_types:
            ctx.err("listener is not allowed with L7 rules", _loc(pr, "listener", ploc), ppath + ".listener")
            return None
    ports = pr.get("ports")
    if ports is None:
        ports = []
    if not isinstance(ports, list):
        ctx.schema("ports must be a list", _loc(pr, "ports", ploc), ppath + ".ports")
        return None
    if len(ports) > MAX_PORTS:
        ctx.err(f"too many ports, the max is {MAX_PORTS}", _loc(pr, "ports", ploc), ppath + ".ports")
        return None
    items: list[PortItem] = []
    for m, p in enumerate(ports):
        it = _parse_port_item(p, f"{ppath}.ports[{m}]", _loc(ports, m, ploc), has_dns, ctx, env.settings)
        if it is None:
            return None
        if l7_types and not has_dns and it.protocol != "TCP":
            ctx.err(f"L7 rules can only apply to TCP (not {it.protocol}) except for DNS rules",
                    _loc(p, "protocol", _loc(ports, m, ploc)), f"{ppath}.ports[{m}].protocol")
            return None
        items.append(it)
    l7: L7 | None = None
    if l7_types:
        if any(it.port == 0 and it.name is None for it in items):
            ctx.err("L7 rules can not be used when a port is 0", _loc(pr, "rules", ploc), ppath + ".rules")
            return None
        if rules.get("l7") is not None and not rules.get("l7proto"):
            ctx.err("'l7' may only be specified when a 'l7proto' is also specified", _loc(rules, "l7", ploc), ppath + ".rules.l7")
            return None
        if len(l7_types) > 1:
            ctx.err("multiple L7 protocol rule types specified in single rule", _loc(pr, "rules", ploc), ppath + ".rules")
            return None
        kind = l7_types[0]
        if kind == "dns" and not items:
            ctx.err("port 53 must be specified for DNS rules", _loc(rules, "dns", ploc), ppath + ".rules.dns")
            return None
        if kind == "http":
            http = []
            raw_http = rules["http"]
            if not isinstance(raw_http, list):
                ctx.schema("rules.http must be a list", _loc(rules, "http", ploc), ppath + ".rules.http")
                return None
            for n, h in enumerate(raw_http):
                rule = _http_rule(h, f"{ppath}.rules.http[{n}]", _loc(raw_http, n, ploc), ctx)
                if rule is None:
                    return None
                http.append(rule)
            l7 = L7("http", http=tuple(http))
        elif kind == "dns":
            dns = []
            raw_dns = rules["dns"]
            if not isinstance(raw_dns, list):
                ctx.schema("rules.dns must be a list", _loc(rules, "dns", ploc), ppath + ".rules.dns")
                return None
            for n, d in enumerate(raw_dns):
                dloc = _loc(raw_dns, n, ploc)
                if isinstance(d, dict) and d.get("matchName") and d.get("matchPattern"):
                    for key, is_name in (("matchName", True), ("matchPattern", False)):
                        sel = _fqdn_selector({key: d[key]}, f"{ppath}.rules.dns[{n}]", dloc, ctx, dns_rule=True)
                        if sel is not None:
                            dns.append(sel)
                    continue
                sel = _fqdn_selector(d, f"{ppath}.rules.dns[{n}]", dloc, ctx, dns_rule=True)
                if sel is None and ctx.errors:
                    return None
                if sel is not None:
                    dns.append(sel)
            l7 = L7("dns", dns=tuple(dns))
        elif kind == "kafka":
            l7 = L7("kafka", other=tuple(str(k) for k in (rules.get("kafka") or [])))
        else:
            l7 = L7(str(rules.get("l7proto")), other=tuple(str(k) for k in (rules.get("l7") or [])))
    static = PortSet()
    named = []
    for it in items:
        if it.name is not None:
            named.append(it)
        else:
            static = static.union(port_range_set(it.protocol, it.port, it.end_port or it.port, env.settings.any_protocols))
    return static, tuple(named), l7


def _http_rule(h: Any, where: str, loc: Loc, ctx: _Ctx) -> HttpRule | None:
    if h is None:
        h = {}
    if not isinstance(h, dict):
        ctx.schema("an HTTP rule must be a mapping", loc, where)
        return None
    for key in ("method", "path", "host"):
        v = h.get(key)
        if v is not None:
            try:
                re.compile(str(v))
            except re.error as exc:
                ctx.err(f"invalid regular expression in {key}: {exc}", _loc(h, key, loc), f"{where}.{key}")
                return None
    headers = []
    for text in h.get("headers") or []:
        text = str(text)
        parts = text.split(" ", 1)
        if len(parts) == 2:
            headers.append((parts[0].rstrip(":"), parts[1]))
        else:
            headers.append((parts[0], None))
    matches = []
    for hm in h.get("headerMatches") or []:
        if not isinstance(hm, dict) or not hm.get("name"):
            ctx.schema("headerMatches entries need a name", _loc(h, "headerMatches", loc), f"{where}.headerMatches")
            return None
        value = hm.get("value")
        matches.append((str(hm["name"]), None if value in (None, "") else str(value), hm.get("mismatch") or None))
    return HttpRule(
        method=None if h.get("method") in (None, "") else str(h["method"]),
        path=None if h.get("path") in (None, "") else str(h["path"]),
        host=None if h.get("host") in (None, "") else str(h["host"]),
        headers=tuple(headers),
        header_matches=tuple(matches),
    )


def cidr_groups_from(objects: list[KubeObject]) -> tuple[CidrGroup, ...]:
    out = []
    for o in objects:
        if o.kind != "CiliumCIDRGroup":
            continue
        spec = o.body.get("spec") if isinstance(o.body, dict) else None
        cidrs = []
        for c in (spec or {}).get("externalCIDRs") or []:
            try:
                cidrs.append(_norm_prefix(str(c), allow_bare_ip=False))
            except ValueError:
                continue
        meta = o.metadata
        labels = {str(k): str(v) for k, v in (meta.get("labels") or {}).items()} if isinstance(meta, dict) else {}
        out.append(CidrGroup(o.name, labels, tuple(cidrs)))
    return tuple(sorted(out, key=lambda g: g.name))
