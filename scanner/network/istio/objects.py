"""Istio ``security.istio.io`` objects: AuthorizationPolicy and PeerAuthentication,
read from manifests, validated as Istio validates them, typed.

``v1`` and ``v1beta1`` are one schema served by one CRD (istio/api
``security/v1beta1/authorization_policy.proto`` cue-gen tags; storage version v1 since
istio/api 4e0bbe7), so both are read identically.  An object Istio would refuse
(``pkg/config/validation/validation.go`` ``ValidateAuthorizationPolicy``,
``ValidatePeerAuthentication``; CRD schema types) becomes a ``Rejection`` at the
offending field and is *not applied* — as if absent, like a cluster that never
admitted it (../shared/reference/istio-authorization-semantics.md §5).

Every field keeps its location, so explanations and findings name file and line.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ...loader.documents import KubeObject
from ...located import LList, LMap, Loc

GROUP = "security.istio.io"
VERSIONS = ("security.istio.io/v1", "security.istio.io/v1beta1")
AP = "AuthorizationPolicy"
PA = "PeerAuthentication"
ACTIONS = ("ALLOW", "DENY", "AUDIT", "CUSTOM")
MODES = ("UNSET", "DISABLE", "PERMISSIVE", "STRICT")

# Source and operation fields -> the attribute they test (generator.go / model.go New).
SOURCE_FIELDS = {
    "principals": "source.principal",
    "namespaces": "source.namespace",
    "serviceAccounts": "source.serviceAccount",
    "trustDomains": "source.trustDomain",
    "ipBlocks": "source.ip",
    "remoteIpBlocks": "remote.ip",
    "requestPrincipals": "request.auth.principal",
}
OPERATION_FIELDS = {
    "hosts": "request.host",
    "ports": "destination.port",
    "methods": "request.method",
    "paths": "request.path",
}
# `when` keys Istio accepts (pkg/config/security/security.go ValidateAttribute).
EXACT_WHEN_KEYS = frozenset(
    {
        "source.ip",
        "remote.ip",
        "source.namespace",
        "source.principal",
        "source.serviceAccount",
        "request.auth.principal",
        "request.auth.audiences",
        "request.auth.presenter",
        "destination.ip",
        "destination.port",
        "connection.sni",
    }
)
BRACKET_WHEN_PREFIXES = (
    "request.headers",
    "request.experimental.inline.headers",
    "request.auth.claims",
    "experimental.envoy.filters.",
)
LEGACY_WHEN_KEYS = ("destination.namespace", "destination.name", "destination.user")
# Attributes that exist only on HTTP (generator.go: "... is HTTP only" under forTCP).
HTTP_ONLY_PREFIXES = ("request.",)
# What ztunnel receives (pilot/pkg/serviceregistry/ambient/authorization.go): the rest is L7.
ZTUNNEL_SOURCE_KEYS = frozenset({"source.principal", "source.namespace", "source.serviceAccount", "source.ip"})
ZTUNNEL_WHEN_KEYS = frozenset(
    {"source.ip", "source.namespace", "source.principal", "destination.ip", "destination.port"}
)
TARGET_KINDS = {
    ("", "Service"),
    ("networking.istio.io", "ServiceEntry"),
    ("gateway.networking.k8s.io", "Gateway"),
    ("gateway.networking.k8s.io", "GatewayClass"),
}
CUSTOM_FORBIDDEN = frozenset(
    {"source.principal", "source.namespace", "source.serviceAccount", "source.trustDomain", "request.auth.principal"}
)
MAX_ITEMS = 512  # CRD maxItems of rules and from (authorization_policy.proto)


def is_http_only(attribute: str) -> bool:
    return attribute.startswith(HTTP_ONLY_PREFIXES)


@dataclass(frozen=True, slots=True)
class Field:
    """One tested attribute: ``values`` ORed, ``not_values`` none of them; both ANDed."""

    attribute: str
    values: tuple[str, ...]
    not_values: tuple[str, ...]
    path: str  # "spec.rules[1].to[0].operation.paths"
    loc: Loc
    from_when: bool = False

    @property
    def http_only(self) -> bool:
        return is_http_only(self.attribute)

    @property
    def ztunnel(self) -> bool:
        """Does ztunnel (ambient, L4) enforce this item?"""
        keys = ZTUNNEL_WHEN_KEYS if self.from_when else ZTUNNEL_SOURCE_KEYS | {"destination.port"}
        return self.attribute in keys

    def describe(self) -> str:
        parts = []
        if self.values:
            parts.append(f"{self.attribute} in {list(self.values)}")
        if self.not_values:
            parts.append(f"{self.attribute} not in {list(self.not_values)}")
        return " and ".join(parts)


@dataclass(frozen=True, slots=True)
class Clause:
    """One ``from[i].source`` or ``to[i].operation``: every field must hold."""

    fields: tuple[Field, ...]
    path: str
    loc: Loc


@dataclass(frozen=True, slots=True)
class Rule:
    """``rules[i]``: ``from`` entries ORed, ``to`` entries ORed, ``when`` ANDed, the three
    ANDed; an omitted section matches anything (authorization_policy.proto ``Rule``)."""

    index: int
    sources: tuple[Clause, ...]
    operations: tuple[Clause, ...]
    when: tuple[Field, ...]
    loc: Loc

    @property
    def fields(self) -> tuple[Field, ...]:
        return tuple(f for c in self.sources + self.operations for f in c.fields) + self.when


@dataclass(frozen=True, slots=True)
class AuthorizationPolicy:
    namespace: str
    name: str
    action: str  # ALLOW | DENY | AUDIT | CUSTOM
    rules: tuple[Rule, ...] | None  # None: no ``rules`` field
    loc: Loc
    selector: Mapping[str, str] | None = None  # None: every workload of the namespace
    target_refs: tuple[str, ...] = ()
    provider: str | None = None
    dry_run: bool = False
    api_version: str = "security.istio.io/v1"

    @property
    def ref(self) -> str:
        return f"{AP} {self.namespace}/{self.name}"

    def where(self) -> str:
        return f"{self.loc.path}:{self.loc.line}"


@dataclass(frozen=True, slots=True)
class PeerAuthentication:
    namespace: str
    name: str
    mode: str  # UNSET | DISABLE | PERMISSIVE | STRICT
    loc: Loc
    selector: Mapping[str, str] | None = None
    port_modes: Mapping[int, str] = field(default_factory=lambda: MappingProxyType({}))
    created: str | None = None  # metadata.creationTimestamp, as written

    @property
    def ref(self) -> str:
        return f"{PA} {self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True, order=True)
class Rejection:
    """An object Istio refuses (webhook or CRD schema): not applied."""

    kind: str
    namespace: str
    name: str
    message: str
    loc: Loc
    path: str = ""

    @property
    def policy(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True, order=True)
class Note:
    policy: str
    message: str
    loc: Loc


@dataclass(slots=True)
class ParsedIstio:
    policies: list[AuthorizationPolicy] = field(default_factory=list)
    peer_auths: list[PeerAuthentication] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)


class Invalid(Exception):
    """One validation error, with the field path and location."""

    def __init__(self, message: str, path: str, loc: Loc) -> None:
        super().__init__(message)
        self.message, self.path, self.loc = message, path, loc


# -- small readers -------------------------------------------------------------------


def _loc(container: Any, key: Any, fallback: Loc) -> Loc:
    if isinstance(container, LMap):
        return container.loc_of(key) if key in container else container.loc
    if isinstance(container, LList) and isinstance(key, int):
        return container.loc_of(key)
    return fallback


def _strings(holder: LMap, key: str, path: str, fallback: Loc) -> tuple[str, ...]:
    """A list of non-empty strings (the CRD types them ``[]string``; validation refuses
    empty strings: security.go ``ValidateEmptyString`` checks)."""
    raw = holder.get(key)
    where = _loc(holder, key, fallback)
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise Invalid(f"{key} must be a list of strings", f"{path}.{key}", where)
    out = []
    for i, v in enumerate(raw):
        item_loc = _loc(raw, i, where)
        if not isinstance(v, str):
            raise Invalid(
                f"{key}[{i}] must be a string (the CRD types it string), got {type(v).__name__}",
                f"{path}.{key}[{i}]",
                item_loc,
            )
        if v == "":
            raise Invalid(f"{key}[{i}] is an empty string", f"{path}.{key}[{i}]", item_loc)
        out.append(v)
    return tuple(out)


def _check_ip(value: str, path: str, loc: Loc) -> None:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise Invalid(f"invalid IP address or CIDR {value!r}", path, loc) from None


def _check_port(value: str, path: str, loc: Loc) -> None:
    # security.go ValidatePorts: a decimal in 0..65535; "*" and ranges are errors.
    if not value.isdigit() or int(value) > 65535:
        raise Invalid(f"invalid port {value!r}: a decimal between 0 and 65535 (no ranges, no '*')", path, loc)


def _check_service_accounts(values: tuple[str, ...], path: str, loc: Loc) -> None:
    # validation.go validateServiceAccounts: at most 16, no '*', "sa" or "ns/sa".
    if len(values) > 16:
        raise Invalid("serviceAccounts may list at most 16 values", path, loc)
    for v in values:
        parts = v.split("/")
        if "*" in v or len(parts) > 2 or any(p == "" for p in parts) or len(v) > 320:
            raise Invalid(f"invalid service account {v!r}: write 'name' or 'namespace/name', no wildcard", path, loc)


# -- AuthorizationPolicy -------------------------------------------------------------


def _field(holder: LMap, key: str, attribute: str, path: str, fallback: Loc) -> Field | None:
    values = _strings(holder, key, path, fallback)
    not_key = "not" + key[0].upper() + key[1:]
    not_values = _strings(holder, not_key, path, fallback)
    if not values and not not_values:
        return None
    where = _loc(holder, key if key in holder else not_key, fallback)
    f = Field(attribute, values, not_values, f"{path}.{key if values else not_key}", where)
    for v in values + not_values:
        if attribute in ("source.ip", "remote.ip"):
            _check_ip(v, f.path, where)
        elif attribute == "destination.port":
            _check_port(v, f.path, where)
    if attribute == "source.serviceAccount":
        _check_service_accounts(values + not_values, f.path, where)
    return f


def _clause(entry: Any, key: str, fields: Mapping[str, str], path: str, fallback: Loc) -> Clause:
    if entry is None or not isinstance(entry, LMap):
        raise Invalid(f"{path} must be a mapping with '{key}'", path, fallback)
    body = entry.get(key)
    if not isinstance(body, LMap) or not body:
        raise Invalid(
            f"{path}.{key} is missing or sets no field (Istio rejects an empty {key})",
            f"{path}.{key}",
            _loc(entry, key, entry.loc),
        )
    unknown = sorted(k for k in body if not any(k in (f, "not" + f[0].upper() + f[1:]) for f in fields))
    if unknown:
        raise Invalid(
            f"unknown field {unknown[0]!r} in {key} (known: {', '.join(sorted(fields))} and their not* forms)",
            f"{path}.{key}.{unknown[0]}",
            body.key_loc(unknown[0]),
        )
    out = [
        f
        for name, attribute in fields.items()
        for f in (_field(body, name, attribute, f"{path}.{key}", body.loc),)
        if f is not None
    ]
    if not out:
        raise Invalid(f"{path}.{key} sets no field (Istio rejects an empty {key})", f"{path}.{key}", body.loc)
    sa = [f for f in out if f.attribute == "source.serviceAccount"]
    if sa and any(f.attribute in ("source.principal", "source.namespace") for f in out):
        raise Invalid("serviceAccounts cannot be combined with principals or namespaces", sa[0].path, sa[0].loc)
    return Clause(tuple(out), f"{path}.{key}", body.loc)


def _when_key_problem(key: str) -> str | None:
    if key in EXACT_WHEN_KEYS:
        return None
    if key in LEGACY_WHEN_KEYS or key.startswith("destination.labels"):
        return f"when key {key!r} is no longer supported"
    for prefix in BRACKET_WHEN_PREFIXES:
        if key.startswith(prefix):
            rest = key[len(prefix) :]
            if prefix.endswith("."):
                return (
                    None
                    if "[" in rest and rest.endswith("]")
                    else f"when key {key!r} must look like {prefix}<name>[<key>]"
                )
            if re.fullmatch(r"(\[[^\[\]]+\])+", rest) and (prefix == "request.auth.claims" or rest.count("[") == 1):
                return None
            return f"when key {key!r} must look like {prefix}[<name>]"
    return f"unknown when key {key!r}"


def _condition(entry: Any, path: str, fallback: Loc) -> Field:
    if not isinstance(entry, LMap):
        raise Invalid(f"{path} must be a mapping with key and values/notValues", path, fallback)
    key = entry.get("key")
    if not isinstance(key, str) or not key:
        raise Invalid(f"{path}.key is empty", f"{path}.key", _loc(entry, "key", entry.loc))
    problem = _when_key_problem(key)
    if problem:
        raise Invalid(problem, f"{path}.key", entry.loc_of("key"))
    values = _strings(entry, "values", path, entry.loc)
    not_values = _strings(entry, "notValues", path, entry.loc)
    if not values and not not_values:
        raise Invalid(f"condition {key!r} has neither values nor notValues", path, entry.loc)
    for v in values + not_values:
        if key in ("source.ip", "remote.ip", "destination.ip"):
            _check_ip(v, f"{path}.values", entry.loc)
        elif key == "destination.port":
            _check_port(v, f"{path}.values", entry.loc)
    return Field(key, values, not_values, path, entry.loc, from_when=True)


def _entries(rule: LMap, key: str, path: str) -> LList | None:
    raw = rule.get(key)
    if raw is None:
        return None
    if not isinstance(raw, list):
        raise Invalid(f"{path}.{key} must be a list", f"{path}.{key}", rule.loc_of(key))
    if not raw and key in ("from", "to"):
        raise Invalid(
            f"{path}.{key} is an empty list (Istio rejects it; leave the field out to match anything)",
            f"{path}.{key}",
            rule.loc_of(key),
        )
    if key == "from" and len(raw) > MAX_ITEMS:
        raise Invalid(f"{path}.from has more than {MAX_ITEMS} entries", f"{path}.from", rule.loc_of(key))
    return raw


def _rule(index: int, raw: Any, rules_list: LList) -> Rule:
    path = f"spec.rules[{index}]"
    where = rules_list.loc_of(index)
    if raw is None or not isinstance(raw, LMap):
        raise Invalid(f"{path} is null or not a mapping", path, where)
    unknown = sorted(k for k in raw if k not in ("from", "to", "when"))
    if unknown:
        raise Invalid(
            f"unknown field {unknown[0]!r} in a rule (known: from, to, when)",
            f"{path}.{unknown[0]}",
            raw.key_loc(unknown[0]),
        )
    froms = _entries(raw, "from", path)
    tos = _entries(raw, "to", path)
    whens = _entries(raw, "when", path)
    sources = tuple(
        _clause(e, "source", SOURCE_FIELDS, f"{path}.from[{i}]", froms.loc_of(i)) for i, e in enumerate(froms or ())
    )
    operations = tuple(
        _clause(e, "operation", OPERATION_FIELDS, f"{path}.to[{i}]", tos.loc_of(i)) for i, e in enumerate(tos or ())
    )
    when = tuple(_condition(e, f"{path}.when[{i}]", whens.loc_of(i)) for i, e in enumerate(whens or ()))
    return Rule(index, sources, operations, when, where)


def _selector(spec: LMap, path: str = "spec.selector") -> Mapping[str, str] | None:
    raw = spec.get("selector")
    if raw is None:
        return None
    if not isinstance(raw, LMap):
        raise Invalid("selector must be a mapping with matchLabels", path, spec.loc_of("selector"))
    labels = raw.get("matchLabels")
    if labels is None:
        return MappingProxyType({})
    if not isinstance(labels, LMap):
        raise Invalid("selector.matchLabels must be a mapping", f"{path}.matchLabels", raw.loc_of("matchLabels"))
    out = {}
    for k, v in labels.items():
        # validation.go validateWorkloadSelector: no empty key, no wildcard in keys or values.
        if not isinstance(k, str) or not k or "*" in k or (isinstance(v, str) and "*" in v):
            raise Invalid(
                f"invalid selector label {k!r}: {v!r} (empty key or wildcard)", f"{path}.matchLabels", labels.key_loc(k)
            )
        out[k] = "" if v is None else str(v)
    return MappingProxyType(out)


def _target_refs(spec: LMap) -> tuple[str, ...]:
    refs: list[Any] = []
    if "targetRef" in spec:
        refs.append((spec.get("targetRef"), "spec.targetRef", spec.loc_of("targetRef")))
    raw = spec.get("targetRefs")
    if raw is not None:
        if not isinstance(raw, list):
            raise Invalid("targetRefs must be a list", "spec.targetRefs", spec.loc_of("targetRefs"))
        if len(raw) > 16:
            raise Invalid("targetRefs may list at most 16 references", "spec.targetRefs", spec.loc_of("targetRefs"))
        refs += [(r, f"spec.targetRefs[{i}]", raw.loc_of(i)) for i, r in enumerate(raw)]
    out = []
    for ref, path, where in refs:
        if not isinstance(ref, LMap) or not ref.get("name"):
            raise Invalid(f"{path} needs a name", path, where)
        if ref.get("namespace"):
            raise Invalid(f"{path} must not set a namespace (cross-namespace references are not allowed)", path, where)
        kind = (str(ref.get("group") or ""), str(ref.get("kind") or ""))
        if kind not in TARGET_KINDS:
            raise Invalid(
                f"{path} kind {kind[1]!r} (group {kind[0]!r}) is not Service, ServiceEntry, Gateway or GatewayClass",
                path,
                where,
            )
        out.append(f"{kind[1]}/{ref.get('name')}")
    return tuple(out)


def _dry_run(obj: KubeObject, action: str) -> bool:
    ann = obj.metadata.get("annotations")
    raw = ann.get("istio.io/dry-run") if isinstance(ann, LMap) else None
    if raw is None:
        return False
    where = ann.key_loc("istio.io/dry-run")
    text = str(raw).lower()
    # validation.go checkDryRunAnnotation: a boolean, on ALLOW/DENY only.
    if text not in ("true", "false"):
        raise Invalid(f"annotation istio.io/dry-run must be true or false, got {raw!r}", "metadata.annotations", where)
    if text == "true" and action not in ("ALLOW", "DENY"):
        raise Invalid(
            f"istio.io/dry-run is only supported for ALLOW and DENY, not {action}", "metadata.annotations", where
        )
    return text == "true"


def _custom_problems(rules: tuple[Rule, ...]) -> None:
    for r in rules:
        for f in r.fields:
            if f.attribute in CUSTOM_FORBIDDEN or f.attribute.startswith("request.auth."):
                raise Invalid(
                    f"a CUSTOM policy cannot use {f.attribute} (it needs authentication, which runs after CUSTOM)",
                    f.path,
                    f.loc,
                )


def parse_authorization_policy(obj: KubeObject, namespace: str) -> AuthorizationPolicy:
    """Raises ``Invalid`` where Istio would refuse the object."""
    spec = obj.body.get("spec")
    if spec is None:
        spec = LMap(obj.loc)
    if not isinstance(spec, LMap):
        raise Invalid("spec must be a mapping", "spec", obj.body.loc_of("spec"))
    action = spec.get("action", "ALLOW")
    if action not in ACTIONS:
        raise Invalid(f"action {action!r} is not one of {', '.join(ACTIONS)}", "spec.action", spec.loc_of("action"))
    if sum(1 for k in ("selector", "targetRef", "targetRefs") if spec.get(k) is not None) > 1:
        raise Invalid("only one of selector, targetRef and targetRefs may be set", "spec", spec.loc)
    selector = _selector(spec)
    targets = _target_refs(spec)
    provider = spec.get("provider")
    provider_name = provider.get("name") if isinstance(provider, LMap) else None
    if provider is not None and action != "CUSTOM":
        raise Invalid(
            f"provider is only allowed with action CUSTOM, not {action}", "spec.provider", spec.loc_of("provider")
        )
    raw_rules = spec.get("rules")
    if raw_rules is not None and not isinstance(raw_rules, list):
        raise Invalid("rules must be a list", "spec.rules", spec.loc_of("rules"))
    if raw_rules is not None and len(raw_rules) > MAX_ITEMS:
        raise Invalid(f"more than {MAX_ITEMS} rules", "spec.rules", spec.loc_of("rules"))
    if action == "DENY" and not raw_rules:  # an empty list is an absent repeated field (proto3)
        raise Invalid(
            "a DENY policy needs rules (without them it would never match)", "spec.action", spec.loc_of("action")
        )
    if action == "CUSTOM" and (not raw_rules or not provider_name):
        raise Invalid("a CUSTOM policy needs rules and provider.name", "spec", spec.loc)
    rules = None if raw_rules is None else tuple(_rule(i, r, raw_rules) for i, r in enumerate(raw_rules))
    if action == "CUSTOM" and rules:
        _custom_problems(rules)
    return AuthorizationPolicy(
        namespace,
        obj.name,
        action,
        rules,
        obj.loc,
        selector,
        targets,
        str(provider_name) if provider_name else None,
        _dry_run(obj, action),
        obj.api_version,
    )


# -- PeerAuthentication ----------------------------------------------------------------


def _mode(holder: Any, path: str, fallback: Loc) -> str:
    if holder is None:
        return "UNSET"
    if not isinstance(holder, LMap):
        raise Invalid(f"{path} must be a mapping with mode", path, fallback)
    mode = holder.get("mode", "UNSET")
    if mode not in MODES:
        raise Invalid(f"mTLS mode {mode!r} is not one of {', '.join(MODES)}", f"{path}.mode", holder.loc_of("mode"))
    return str(mode)


def parse_peer_authentication(obj: KubeObject, namespace: str) -> PeerAuthentication:
    spec = obj.body.get("spec")
    if spec is None:
        spec = LMap(obj.loc)
    if not isinstance(spec, LMap):
        raise Invalid("spec must be a mapping", "spec", obj.body.loc_of("spec"))
    selector = _selector(spec)
    mode = _mode(spec.get("mtls"), "spec.mtls", spec.loc)
    ports: dict[int, str] = {}
    raw = spec.get("portLevelMtls")
    if raw is not None:
        where = spec.key_loc("portLevelMtls")
        # validation.go ValidatePeerAuthentication: port-level settings need a non-empty selector.
        if not selector:
            raise Invalid("portLevelMtls requires a selector with labels", "spec.portLevelMtls", where)
        if not isinstance(raw, LMap) or not raw:
            raise Invalid("portLevelMtls must map ports to mtls settings and not be empty", "spec.portLevelMtls", where)
        for k, v in raw.items():
            if not str(k).isdigit() or not 1 <= int(str(k)) <= 65535:
                raise Invalid(
                    f"portLevelMtls port {k!r} is not between 1 and 65535", "spec.portLevelMtls", raw.key_loc(k)
                )
            ports[int(str(k))] = _mode(v, f"spec.portLevelMtls.{k}", raw.loc_of(k))
    created = obj.metadata.get("creationTimestamp")
    return PeerAuthentication(
        namespace,
        obj.name,
        mode,
        obj.loc,
        selector,
        MappingProxyType(dict(sorted(ports.items()))),
        str(created) if created is not None else None,
    )


# -- all objects -----------------------------------------------------------------------


def is_istio_security(obj: KubeObject) -> bool:
    return obj.api_version in VERSIONS and obj.kind in (AP, PA)


def parse_istio(objects: Iterable[KubeObject], default_namespace: str = "default") -> ParsedIstio:
    """Every AuthorizationPolicy and PeerAuthentication; the same kind/namespace/name
    twice is one object in a cluster (the first by file and line is used)."""
    chosen: dict[tuple[str, str, str], list[KubeObject]] = {}
    for o in objects:
        if is_istio_security(o):
            chosen.setdefault((o.kind, o.namespace or default_namespace, o.name), []).append(o)
    out = ParsedIstio()
    for key in sorted(chosen):
        group = sorted(chosen[key], key=lambda o: (o.loc.path, o.loc.line, o.loc.col))
        first = group[0]
        if len(group) > 1:
            out.notes.append(
                Note(
                    f"{key[0]} {key[1]}/{key[2]}",
                    f"defined {len(group)} times; only the first ({first.loc}) is used",
                    group[1].loc,
                )
            )
        try:
            if first.kind == AP:
                out.policies.append(parse_authorization_policy(first, key[1]))
            else:
                out.peer_auths.append(parse_peer_authentication(first, key[1]))
        except Invalid as exc:
            out.rejections.append(Rejection(first.kind, key[1], first.name, exc.message, exc.loc, exc.path))
    out.rejections.sort()
    return out


__all__ = [
    "AP",
    "PA",
    "AuthorizationPolicy",
    "Clause",
    "Field",
    "Invalid",
    "Note",
    "ParsedIstio",
    "PeerAuthentication",
    "Rejection",
    "Rule",
    "is_http_only",
    "is_istio_security",
    "parse_authorization_policy",
    "parse_istio",
    "parse_peer_authentication",
]
