"""How one AuthorizationPolicy field matches one request, as Istio compiles it to Envoy RBAC.

Sources (istio/istio, ``pilot/pkg/security/authz/model``): ``generator.go`` (one
generator per attribute), ``matcher/string.go`` ``StringMatcherWithPrefix`` and
``matcher/header.go`` ``HeaderMatcher`` (value syntax), ``model.go`` (structure).

String values: ``"*"`` = present and non-empty; a leading ``*`` = suffix match (it wins
over a trailing one: ``"*a*"`` is the suffix ``a*``, istio/istio#50504); a trailing
``*`` = prefix match; otherwise exact.  Exceptions with their generators:

* ``principals``: the value is compared with the peer certificate's URI SAN, with
  ``spiffe://`` prepended (``srcPrincipalGenerator``); its trust domain is one of the
  mesh's (``cluster.local``, the configured one, aliases: ``trustdomain/bundle.go``);
* ``namespaces``: the regex ``.*/ns/<value, every * -> .*>/.*`` on the SAN
  (``srcNamespaceGenerator``);
* ``serviceAccounts``: the regex ``spiffe://.+/ns/<ns>/(.+/|)sa/<sa>(/.+)?`` with the
  policy's namespace when the value has none (``serviceAccountRegex``);
* ``ipBlocks``: the directly connected peer's IP (``principalDirectRemoteIP``);
* ``hosts``: the ``:authority`` header, case-insensitive, *including* a ``:port``
  ("Security Best Practices": add ``"example.com:*"``);
* ``paths``: the path *without* the query string (``PathMatcher`` url_path), or a
  ``{*}``/``{**}`` path template (``security.ContainsPathTemplate``);
* ``methods``: the ``:method`` header, case-sensitive;
* ``ports``/``destination.port``: the port the pod receives on, exact (istio/api#3075).

Identity attributes need mutual TLS: a plaintext peer has no SAN, so positive identity
values never match it and their ``not`` forms always do (ISTIO-SECURITY-2021-004).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from ..peers import AddressSet, prefix_addresses
from . import tri as T
from .objects import Field
from .settings import IstioSettings
from .tri import Tri


@dataclass(frozen=True, slots=True)
class Peer:
    """What the destination proxy knows about the peer of a connection."""

    principal: str | None  # "spiffe://<td>/ns/<ns>/sa/<sa>" when mutual TLS carries an identity
    identity_known: bool = True  # False: whether the peer has an identity cannot be decided offline
    identity_why: str = ""  # why there is no identity (or why it is unknown)
    addresses: AddressSet | None = None  # the peer's possible addresses; None: unknown (a pod)
    address_why: str = "pod IPs are not in the manifests"


@dataclass(frozen=True, slots=True)
class Request:
    """An HTTP request; None fields were not given (three-valued)."""

    method: str | None = None
    path: str | None = None
    host: str | None = None
    headers: Mapping[str, str] | None = None

    @property
    def empty(self) -> bool:
        return self.method is None and self.path is None and self.host is None and self.headers is None

    def text(self) -> str:
        parts = [self.method or "<any method>", self.path or "<any path>"]
        if self.host is not None:
            parts.append(f"host {self.host}")
        return " ".join(parts)


NO_REQUEST = Request()


@dataclass(frozen=True, slots=True)
class Context:
    peer: Peer
    port: int
    request: Request
    policy_namespace: str
    settings: IstioSettings
    pod_cidrs: tuple[str, ...] = ()
    notes: dict = field(default_factory=dict, compare=False, hash=False)


# -- string matching ---------------------------------------------------------------------


def string_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """Istio's value syntax (StringMatcherWithPrefix / HeaderMatcher)."""
    if ignore_case:
        pattern, value = pattern.lower(), value.lower()
    if pattern == "*":
        return value != ""
    if pattern.startswith("*"):
        return value.endswith(pattern[1:])
    if pattern.endswith("*"):
        return value.startswith(pattern[:-1])
    return value == pattern


def expand_principal(value: str, settings: IstioSettings) -> str:
    """A policy principal naming this mesh's trust domain (or an alias, or literally
    ``cluster.local``) means the local trust domain (bundle.go ReplaceTrustDomainAliases)."""
    if value == "*" or value.startswith("*"):
        return value
    td, sep, rest = value.partition("/")
    if sep and td in settings.local_domains:
        return f"{settings.trust_domain}/{rest}"
    return value


def principal_matches(pattern: str, principal: str, settings: IstioSettings) -> bool:
    value = expand_principal(pattern, settings)
    if value == "*":
        return principal != ""
    if value.startswith("*"):
        return principal.endswith(value[1:])  # the prefix is not prepended to a suffix
    if value.endswith("*"):
        return principal.startswith("spiffe://" + value[:-1])
    return principal == "spiffe://" + value


@lru_cache(maxsize=4096)
def namespace_regex(value: str) -> re.Pattern:
    return re.compile(".*/ns/" + value.replace("*", ".*") + "/.*")


@lru_cache(maxsize=4096)
def service_account_regex(policy_namespace: str, value: str) -> re.Pattern:
    ns, sep, sa = value.partition("/")
    if not sep:
        ns, sa = policy_namespace, value
    return re.compile(f"spiffe://.+/ns/{re.escape(ns)}/(.+/|)sa/{re.escape(sa)}(/.+)?")


def split_principal(principal: str) -> tuple[str, str, str] | None:
    """(trust domain, namespace, service account) of a SPIFFE workload identity."""
    m = re.fullmatch(r"spiffe://([^/]+)/ns/([^/]+)/sa/([^/]+)", principal)
    return (m.group(1), m.group(2), m.group(3)) if m else None


_TEMPLATE = re.compile(r"\{\*\*?\}")


@lru_cache(maxsize=4096)
def path_template_regex(template: str) -> re.Pattern:
    """``{*}`` one path segment, ``{**}`` any remainder (authorization_policy.proto
    ``paths``; Envoy uri_template)."""
    out, pos = [], 0
    for m in _TEMPLATE.finditer(template):
        out.append(re.escape(template[pos : m.start()]))
        out.append("[^/]+" if m.group(0) == "{*}" else ".*")
        pos = m.end()
    out.append(re.escape(template[pos:]))
    return re.compile("".join(out))


def path_matches(pattern: str, path: str) -> bool:
    """Paths are matched without the query string (Envoy url_path matcher)."""
    bare = path.split("?", 1)[0]
    if _TEMPLATE.search(pattern):
        return path_template_regex(pattern).fullmatch(bare) is not None
    return string_match(pattern, bare)


# -- one value against the context ------------------------------------------------------------


def _identity(ctx: Context, attribute: str, test) -> Tri:
    peer = ctx.peer
    if not peer.identity_known:
        return T.unknown(attribute, "offline", peer.identity_why)
    if peer.principal is None:
        return T.FALSE  # plaintext: no SAN to compare
    return T.of(test(peer.principal))


def _address(ctx: Context, attribute: str, block: str) -> Tri:
    net = prefix_addresses(str(ipaddress.ip_network(block, strict=False)))
    peer = ctx.peer
    if peer.addresses is None:
        # Pods: the traffic graph models a single-stack IPv4 cluster (docs/semantics.md
        # "Graph"), so every pod address is in 0.0.0.0/0 and in no IPv6 block.
        whole = ipaddress.ip_network(block, strict=False)
        if whole.version == 6:
            return T.FALSE
        if whole.prefixlen == 0:
            return T.TRUE
        pods = [prefix_addresses(c) for c in ctx.pod_cidrs]
        if pods and all(not p.intersect(net) for p in pods):
            return T.FALSE  # the block holds no pod address (settings.istio.podCidrs)
        if pods and all(not p.subtract(net) for p in pods):
            return T.TRUE
        return T.unknown(attribute, "offline", peer.address_why)
    if not peer.addresses.subtract(net):
        return T.TRUE
    if not peer.addresses.intersect(net):
        return T.FALSE
    return T.unknown(attribute, "offline", "the peer's exact address within its range decides")


def _request_value(ctx: Context, attribute: str) -> str | None:
    r = ctx.request
    return {"request.method": r.method, "request.path": r.path, "request.host": r.host}.get(attribute)


def _header(ctx: Context, attribute: str, value: str) -> Tri:
    name = attribute[attribute.index("[") + 1 : -1].lower()
    headers = ctx.request.headers
    if headers is None:
        return T.unknown(attribute, "request")
    got = {k.lower(): v for k, v in headers.items()}.get(name)
    return T.FALSE if got is None else T.of(string_match(value, got))


OFFLINE = {
    "remote.ip": "the original client IP (X-Forwarded-For or PROXY protocol) is not in the manifests",
    "destination.ip": "pod IPs are not in the manifests",
    "connection.sni": "the TLS server name a client sends is not in the manifests",
    "request.auth.principal": "JWT claims are not in the manifests",
    "request.auth.audiences": "JWT claims are not in the manifests",
    "request.auth.presenter": "JWT claims are not in the manifests",
}


def value_matches(attribute: str, value: str, ctx: Context) -> Tri:
    """Does one value of a field match (three-valued)?"""
    settings = ctx.settings
    if attribute == "source.principal":
        return _identity(ctx, attribute, lambda p: principal_matches(value, p, settings))
    if attribute == "source.namespace":
        return _identity(ctx, attribute, lambda p: namespace_regex(value).fullmatch(p) is not None)
    if attribute == "source.serviceAccount":
        return _identity(
            ctx, attribute, lambda p: service_account_regex(ctx.policy_namespace, value).fullmatch(p) is not None
        )
    if attribute == "source.trustDomain":
        return _identity(ctx, attribute, lambda p: string_match(value, (split_principal(p) or ("",))[0]))
    if attribute == "source.ip":
        return _address(ctx, attribute, value)
    if attribute == "destination.port":
        return T.of(int(value) == ctx.port)
    if attribute in ("request.method", "request.path", "request.host"):
        got = _request_value(ctx, attribute)
        if got is None:
            return T.unknown(attribute.split(".")[1], "request")
        if attribute == "request.path":
            return T.of(path_matches(value, got))
        return T.of(string_match(value, got, ignore_case=attribute == "request.host"))
    if attribute.startswith(("request.headers[", "request.experimental.inline.headers[")):
        return _header(ctx, attribute, value)
    why = OFFLINE.get(attribute, "not decidable from manifests")
    if attribute.startswith("request.auth.claims"):
        why = "JWT claims are not in the manifests"
    return T.unknown(attribute, "offline", why)


def field_matches(f: Field, ctx: Context) -> Tri:
    """``values`` ORed, AND none of ``not_values`` (model.go permission/principal)."""
    parts = []
    if f.values:
        parts.append(T.or_(value_matches(f.attribute, v, ctx) for v in f.values))
    if f.not_values:
        parts.append(T.not_(T.or_(value_matches(f.attribute, v, ctx) for v in f.not_values)))
    return T.and_(parts)


def peer_text(peer: Peer) -> str:
    if not peer.identity_known:
        return f"identity unknown ({peer.identity_why})"
    if peer.principal is None:
        return f"no identity ({peer.identity_why})" if peer.identity_why else "no identity (plaintext)"
    return peer.principal.removeprefix("spiffe://")


__all__ = [
    "NO_REQUEST",
    "Context",
    "Peer",
    "Request",
    "expand_principal",
    "field_matches",
    "namespace_regex",
    "path_matches",
    "path_template_regex",
    "peer_text",
    "principal_matches",
    "service_account_regex",
    "split_principal",
    "string_match",
    "value_matches",
]
