"""Symbolic peer sets: every pod, entity, address and DNS name a rule could admit.

The traffic graph answers "who of the endpoints we know may talk"; a zero-trust
promise is about every peer that could exist (docs/zero-trust.md).  A ``PeerSet``
describes peers by sort:

* pods: label selectors over pod identities (``k8s:`` labels, namespace, namespace
  labels, service account, cluster — scanner/network/identities.py);
* entities: the reserved identities ``host``, ``remote-node`` ...;
* addresses: IPv4/IPv6 intervals outside the cluster;
* names: DNS names reached through ``toFQDNs``.

``witness(admitted, covered, universe)`` returns a concrete member of
``admitted - covered`` or ``None`` when ``admitted`` is contained in ``covered``.
Pod-selector containment is decided by a finite search: per label key only the
values the selectors mention, one fresh value and "absent" can make a difference.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from . import fqdn as fqdnlib
from .identities import ENTITY_NODES, IPV4_WORLD, IPV6_WORLD, entity_identity
from .labelfilter import DEFAULT_FILTER, LabelFilter
from .ports import IntervalSet
from .selectors import (
    ANY,
    CIDR,
    CLUSTER,
    K8S,
    NAMESPACE_LABELS,
    POD_NAMESPACE,
    RESERVED,
    SERVICE_ACCOUNT,
    Label,
    Requirement,
    Selector,
)

ABSENT = "\x00absent"
FRESH = "\x00fresh"
METADATA_NAME = f"{NAMESPACE_LABELS}.kubernetes.io/metadata.name"
ENTITIES = tuple(e for e in ENTITY_NODES if e != "world")
_ALL4 = IntervalSet.of([(0, 2**32 - 1)])
_ALL6 = IntervalSet.of([(0, 2**128 - 1)])
_NONE = IntervalSet()
# A search that needs more steps than this is reported as undecided, never guessed.
MAX_STEPS = 200_000


class Undecided(Exception):
    """The pod search exceeded its budget (pathological selectors)."""


# -- addresses -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AddressSet:
    v4: IntervalSet = _NONE
    v6: IntervalSet = _NONE

    def __bool__(self) -> bool:
        return bool(self.v4) or bool(self.v6)

    def union(self, other: AddressSet) -> AddressSet:
        return AddressSet(self.v4.union(other.v4), self.v6.union(other.v6))

    def intersect(self, other: AddressSet) -> AddressSet:
        return AddressSet(self.v4.intersect(other.v4), self.v6.intersect(other.v6))

    def subtract(self, other: AddressSet) -> AddressSet:
        return AddressSet(self.v4.subtract(other.v4), self.v6.subtract(other.v6))

    @property
    def is_everything(self) -> bool:
        return self.v4 == _ALL4 and self.v6 == _ALL6


ALL_ADDRESSES = AddressSet(_ALL4, _ALL6)
NO_ADDRESSES = AddressSet()


def prefix_addresses(prefix: str) -> AddressSet:
    net = ipaddress.ip_network(prefix, strict=False)
    span = IntervalSet.of([(int(net.network_address), int(net.broadcast_address))])
    return AddressSet(v4=span) if net.version == 4 else AddressSet(v6=span)


def _as_prefix(key: str) -> str | None:
    try:
        return str(ipaddress.ip_network(key, strict=False))
    except ValueError:
        return None


def _requirement_addresses(r: Requirement) -> AddressSet:
    """The external addresses whose identity satisfies one requirement.  An address
    identity carries ``reserved:world`` (and ``world-ipv4``/``world-ipv6``) and a
    ``cidr:`` label, value "", for every prefix containing it (identities.py)."""
    present = NO_ADDRESSES
    if r.source in (RESERVED, ANY) and r.key in ("world", "world-ipv4", "world-ipv6"):
        present = {"world": ALL_ADDRESSES, "world-ipv4": AddressSet(v4=_ALL4), "world-ipv6": AddressSet(v6=_ALL6)}[
            r.key
        ]
    elif r.source in (CIDR, ANY):
        prefix = _as_prefix(r.key)
        if prefix is not None:
            present = prefix_addresses(prefix)
    if r.operator == "Exists":
        return present
    if r.operator == "DoesNotExist":
        return ALL_ADDRESSES.subtract(present)
    with_value = present if "" in r.values else NO_ADDRESSES
    return with_value if r.operator == "In" else ALL_ADDRESSES.subtract(with_value)


def selector_addresses(sel: Selector) -> AddressSet:
    out = ALL_ADDRESSES
    for r in sel.requirements:
        out = out.intersect(_requirement_addresses(r))
        if not out:
            break
    return out


# -- the universe of pods ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Universe:
    """Facts that constrain which pods can exist: the cluster name, the labels of the
    namespaces declared in the manifests (exact), and Cilium's label filter."""

    cluster: str = "default"
    namespaces: Mapping[str, Mapping[str, str]] = field(default_factory=lambda: MappingProxyType({}))
    label_filter: LabelFilter = DEFAULT_FILTER
    cidr_match_mode: str = "world"


# -- peer sets -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NameSet:
    """DNS names matching at least one selector of *every* group (a conjunction of
    unions: a ``toFQDNs`` entry and the pod's DNS-visible patterns)."""

    groups: tuple[tuple[fqdnlib.FqdnSelector, ...], ...]


@dataclass(frozen=True, slots=True)
class PeerSet:
    pods: tuple[Selector, ...] = ()
    entities: frozenset[str] = frozenset()
    addresses: AddressSet = NO_ADDRESSES
    names: tuple[NameSet, ...] = ()
    all_names: bool = False

    def union(self, other: PeerSet) -> PeerSet:
        return PeerSet(
            self.pods + other.pods,
            self.entities | other.entities,
            self.addresses.union(other.addresses),
            self.names + other.names,
            self.all_names or other.all_names,
        )

    @property
    def is_empty(self) -> bool:
        return not (self.pods or self.entities or self.addresses or self.names or self.all_names)


EVERYTHING = PeerSet((Selector(),), frozenset(ENTITIES), ALL_ADDRESSES, (), True)
NOTHING = PeerSet()


def union_all(sets: Iterable[PeerSet]) -> PeerSet:
    out = NOTHING
    for s in sets:
        out = out.union(s)
    return out


def from_selectors(selectors: Iterable[Selector], universe: Universe) -> PeerSet:
    """The peers a list of Cilium peer selectors (as the engine holds them) admits."""
    pods: list[Selector] = []
    entities: set[str] = set()
    addresses = NO_ADDRESSES
    for sel in selectors:
        if _pod_possible(sel, universe):
            pods.append(sel)
        entities |= {e for e in ENTITIES if sel.matches(_entity_identity(e, universe))}
        addresses = addresses.union(selector_addresses(sel))
    return PeerSet(tuple(pods), frozenset(entities), addresses)


def _entity_identity(name: str, universe: Universe) -> frozenset[Label]:
    from .settings import NetworkSettings

    return entity_identity(name, NetworkSettings(cidr_match_mode=universe.cidr_match_mode))


def _pod_possible(sel: Selector, universe: Universe) -> bool:
    return all(_constant(r, universe) is not False for r in sel.requirements)


# -- pods: the counter-example search ------------------------------------------------------


def _constant(r: Requirement, universe: Universe) -> bool | None:
    """The value of a requirement on every pod when it does not depend on pod labels
    (a ``reserved:`` or ``cidr:`` label), else None."""
    if r.source in (ANY, K8S):
        return None
    present = False
    if r.source == CIDR and universe.cidr_match_mode == "pods" and r.key in (IPV4_WORLD, IPV6_WORLD):
        present = True  # policy-cidr-match-mode=pods: pod IPs are inside the world prefixes
    if r.operator == "Exists":
        return present
    if r.operator == "DoesNotExist":
        return not present
    hit = present and "" in r.values
    return hit if r.operator == "In" else not hit


def _allowed(r: Requirement, universe_values: frozenset[str]) -> frozenset[str]:
    """The values of the requirement's key (or ABSENT) that satisfy it."""
    if r.operator == "Exists":
        return universe_values - {ABSENT}
    if r.operator == "DoesNotExist":
        return frozenset({ABSENT}) & universe_values
    inside = frozenset(r.values) & universe_values
    return inside if r.operator == "In" else universe_values - inside


@dataclass(slots=True)
class _Search:
    universe: Universe
    values: dict[str, frozenset[str]]  # key -> every value that can matter (mentioned, FRESH, ABSENT)
    steps: int = 0

    def tick(self) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise Undecided("the label search exceeded its budget")


def _keyed(reqs: Iterable[Requirement], universe: Universe) -> tuple[list[tuple[str, Requirement]], bool | None]:
    """Pod-dependent requirements as (key, requirement); the constant part folded: False
    when some constant requirement fails (the selector matches no pod)."""
    out = []
    for r in reqs:
        c = _constant(r, universe)
        if c is False:
            return [], False
        if c is None:
            out.append((r.key, r))
    return out, None


def _namespace_keys(key: str) -> bool:
    return key in (POD_NAMESPACE, METADATA_NAME)


def pod_witness(include: Selector, exclude: Sequence[Selector], universe: Universe) -> dict[str, str] | None:
    """Labels (key -> value, ABSENT-free) of a pod identity that ``include`` selects and
    no selector of ``exclude`` does, or None.  Raises Undecided past the budget."""
    inc, dead = _keyed(include.requirements, universe)
    if dead is False:
        return None
    excl: list[list[tuple[str, Requirement]]] = []
    for sel in exclude:
        keyed, never = _keyed(sel.requirements, universe)
        if never is False:
            continue  # matches no pod: excludes nothing
        if not keyed:
            return None  # matches every pod
        excl.append(keyed)
    search = _Search(universe, _value_universe(inc, excl, universe))
    for namespace in _namespace_candidates(search.values):
        domains = _initial_domains(search, namespace)
        if domains is None:
            continue
        if not _narrow(domains, inc, search):
            continue
        found = _exclude_all(domains, excl, 0, search)
        if found is not None:
            return _choose(found, search)
    return None


def _value_universe(inc, excl, universe: Universe) -> dict[str, frozenset[str]]:
    mentioned: dict[str, set[str]] = {
        POD_NAMESPACE: set(),
        METADATA_NAME: set(),
        SERVICE_ACCOUNT: {"default"},
        CLUSTER: {universe.cluster},
    }
    for key, r in inc + [kr for group in excl for kr in group]:
        mentioned.setdefault(key, set()).update(r.values)
    for ns, labels in universe.namespaces.items():
        if ns in mentioned[POD_NAMESPACE] or ns in mentioned[METADATA_NAME]:
            for k, v in labels.items():
                mentioned.setdefault(f"{NAMESPACE_LABELS}.{k}", set()).add(v)
    names = mentioned[POD_NAMESPACE] | mentioned[METADATA_NAME]  # one value: the namespace's name
    mentioned[POD_NAMESPACE] = mentioned[METADATA_NAME] = names
    return {k: frozenset(v | {FRESH, ABSENT}) for k, v in mentioned.items()}


def _namespace_candidates(values: dict[str, frozenset[str]]) -> list[str]:
    named = sorted(values[POD_NAMESPACE] - {FRESH, ABSENT})
    return named + [FRESH]


def _initial_domains(search: _Search, namespace: str) -> dict[str, frozenset[str]] | None:
    universe = search.universe
    declared = universe.namespaces.get(namespace) if namespace != FRESH else None
    domains: dict[str, frozenset[str]] = {}
    for key, values in search.values.items():
        if _namespace_keys(key):
            domains[key] = frozenset({namespace})
        elif key == CLUSTER:
            domains[key] = frozenset({universe.cluster})
        elif key == SERVICE_ACCOUNT:
            domains[key] = values - {ABSENT}
        elif key.startswith(NAMESPACE_LABELS + "."):
            if declared is not None:
                own = declared.get(key[len(NAMESPACE_LABELS) + 1 :])
                domains[key] = frozenset({own if own is not None else ABSENT})
            else:
                domains[key] = values
        elif not universe.label_filter.keeps(key):
            domains[key] = frozenset({ABSENT})  # Cilium drops this label from identities
        else:
            domains[key] = values
    return domains


def _narrow(domains: dict[str, frozenset[str]], reqs: list[tuple[str, Requirement]], search: _Search) -> bool:
    for key, r in reqs:
        got = domains[key] & _allowed(r, search.values[key])
        if not got:
            return False
        domains[key] = got
    return True


def _exclude_all(domains: dict[str, frozenset[str]], excl, i: int, search: _Search) -> dict[str, frozenset[str]] | None:
    """Violate one requirement of each excluded selector from ``i`` on (depth-first)."""
    search.tick()
    if i == len(excl):
        return domains
    group = excl[i]
    if any(not (domains[key] & _allowed(r, search.values[key])) for key, r in group):
        return _exclude_all(domains, excl, i + 1, search)  # already cannot match
    for key, r in group:
        violating = domains[key] - _allowed(r, search.values[key])
        if violating:
            nxt = dict(domains)
            nxt[key] = violating
            found = _exclude_all(nxt, excl, i + 1, search)
            if found is not None:
                return found
    return None


def _choose(domains: dict[str, frozenset[str]], search: _Search) -> dict[str, str]:
    """One concrete identity from per-key domains: absent where allowed, else the first
    mentioned value, else a fresh one (a value no selector mentions)."""
    out: dict[str, str] = {}
    for key in sorted(domains):
        dom = domains[key]
        if ABSENT in dom:
            continue
        named = sorted(dom - {FRESH})
        out[key] = named[0] if named else fresh_value(key, search.values[key])
    return out


def fresh_value(key: str, values: frozenset[str]) -> str:
    base = "other-namespace" if _namespace_keys(key) else ("other-sa" if key == SERVICE_ACCOUNT else "other")
    candidate, n = base, 1
    while candidate in values:
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def pod_identity(labels: Mapping[str, str], universe: Universe) -> frozenset[Label]:
    """The full Cilium identity of a witness pod: its namespace's declared labels are
    added (a declared namespace carries exactly those)."""
    out = {Label(K8S, k, v) for k, v in labels.items()}
    ns = labels.get(POD_NAMESPACE)
    for k, v in (universe.namespaces.get(ns) or {}).items():
        out.add(Label(K8S, f"{NAMESPACE_LABELS}.{k}", v))
    if ns is not None:
        out.add(Label(K8S, METADATA_NAME, ns))
    if not any(lab.key == SERVICE_ACCOUNT for lab in out):
        out.add(Label(K8S, SERVICE_ACCOUNT, "default"))
    if not any(lab.key == CLUSTER for lab in out):
        out.add(Label(K8S, CLUSTER, universe.cluster))
    if universe.cidr_match_mode == "pods":
        out.add(Label(CIDR, IPV4_WORLD))
    return frozenset(out)


# -- witnesses -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Witness:
    """A concrete peer admitted but not covered.  ``identity`` is its Cilium identity
    (pods, entities, addresses) so tests can evaluate the original selectors on it."""

    sort: str  # pod | entity | address | name
    text: str
    identity: frozenset[Label] = frozenset()
    labels: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    name: str = ""
    address: str = ""


def witness(admitted: PeerSet, covered: PeerSet, universe: Universe) -> Witness | None:
    """A member of ``admitted`` outside ``covered``, or None (containment).  Pods first
    (the most common excess), then entities, addresses and names."""
    for sel in admitted.pods:
        labels = pod_witness(sel, covered.pods, universe)
        if labels is not None:
            return _pod_witness(labels, universe)
    for e in sorted(admitted.entities - covered.entities):
        return Witness("entity", _ENTITY_TEXT.get(e, f"the {e} entity"), identity=_entity_identity(e, universe), name=e)
    rest = admitted.addresses.subtract(covered.addresses)
    if rest:
        return _address_witness(rest)
    if covered.all_names:
        return None
    excluded = [s for n in covered.names for g in n.groups for s in g]  # documented names: one group each
    for names in admitted.names:
        found = fqdnlib.find_name([list(g) for g in names.groups], excluded)
        if found is not None:
            return Witness("name", f"the name {found}", name=found)
    return None


_ENTITY_TEXT = {
    "host": "the local node (entity host)",
    "remote-node": "another node of the cluster or a hostNetwork pod (entity remote-node)",
    "kube-apiserver": "the Kubernetes API server (entity kube-apiserver)",
    "health": "Cilium's health endpoints (entity health)",
    "init": "a pod whose identity is not yet resolved (entity init)",
    "ingress": "Cilium's ingress/gateway proxy (entity ingress)",
    "unmanaged": "a pod Cilium does not manage (entity unmanaged)",
}


def _pod_witness(labels: dict[str, str], universe: Universe) -> Witness:
    ns = labels.get(POD_NAMESPACE, "")
    own = {k: v for k, v in labels.items() if not _special(k)}
    ns_labels = {
        k[len(NAMESPACE_LABELS) + 1 :]: v
        for k, v in labels.items()
        if k.startswith(NAMESPACE_LABELS + ".") and k != METADATA_NAME
    }
    text = f"a pod in namespace {ns} with labels {_braces(own)}"
    if ns_labels and ns not in universe.namespaces:
        text += f" (its namespace labelled {_braces(ns_labels)})"
    sa = labels.get(SERVICE_ACCOUNT)
    if sa not in (None, "default"):
        text += f" running as service account {sa}"
    return Witness("pod", text, identity=pod_identity(labels, universe), labels=MappingProxyType(dict(own)))


def _special(key: str) -> bool:
    return key in (POD_NAMESPACE, SERVICE_ACCOUNT, CLUSTER) or key.startswith(NAMESPACE_LABELS + ".")


def _braces(labels: Mapping[str, str]) -> str:
    return "{" + ", ".join(f"{k}: {v}" for k, v in sorted(labels.items())) + "}"


_FAMILIAR = (
    ipaddress.ip_address("8.8.8.8"),
    ipaddress.ip_address("1.1.1.1"),
    ipaddress.ip_address("2001:4860:4860::8888"),
)


def _address_witness(rest: AddressSet) -> Witness:
    choice = None
    for addr in _FAMILIAR:
        spans = rest.v4 if addr.version == 4 else rest.v6
        if int(addr) in spans:
            choice = addr
            break
    if choice is None:
        lo, hi = (rest.v4 or rest.v6).spans[0]
        value = lo + 1 if hi > lo else lo  # avoid the network address when a range allows it
        choice = ipaddress.ip_address(value) if rest.v4 else ipaddress.IPv6Address(value)
    text = f"the address {choice} outside the cluster"
    prefix = f"{choice}/{choice.max_prefixlen}"
    ident = frozenset(
        {
            Label(RESERVED, "world"),
            Label(RESERVED, "world-ipv4" if choice.version == 4 else "world-ipv6"),
            Label(CIDR, prefix),
        }
    )
    return Witness("address", text, identity=ident, address=str(choice))


def address_identity(address: str, prefixes: Iterable[str]) -> frozenset[Label]:
    """The identity of an external address as the engine builds it: world labels and a
    ``cidr:`` label for every one of ``prefixes`` containing it (and the world prefix)."""
    ip = ipaddress.ip_address(address)
    out = {
        Label(RESERVED, "world"),
        Label(RESERVED, "world-ipv4" if ip.version == 4 else "world-ipv6"),
        Label(CIDR, IPV4_WORLD if ip.version == 4 else IPV6_WORLD),
    }
    for p in prefixes:
        net = _as_prefix(p)
        if net is not None and ip.version == ipaddress.ip_network(net).version and ip in ipaddress.ip_network(net):
            out.add(Label(CIDR, net))
    return frozenset(out)


# -- describing peers in words -------------------------------------------------------------

_WORLD_ENTITIES = frozenset({"world", "world-ipv4", "world-ipv6"})


def _values(r: Requirement) -> str:
    return ", ".join(r.values)


def _label_phrase(r: Requirement) -> str:
    if r.operator == "In":
        return f"{r.key}={r.values[0]}" if len(r.values) == 1 else f"{r.key} in ({_values(r)})"
    if r.operator == "NotIn":
        return f"{r.key} not in ({_values(r)})"
    return f"any {r.key}" if r.operator == "Exists" else f"no {r.key}"


def describe_pod_selector(sel: Selector, cluster: str = "default") -> str:
    """``every pod in namespace shop``, ``pods labelled app=db in any namespace``."""
    where, labels, extra = "in any namespace", [], []
    for r in sel.requirements:
        if r.source not in (ANY, K8S):
            return sel.describe()
        if r.key == POD_NAMESPACE:
            if r.operator == "In":
                where = f"in namespace {_values(r)}" if len(r.values) == 1 else f"in namespaces {_values(r)}"
            elif r.operator == "NotIn":
                where = f"in any namespace but {_values(r)}"
        elif r.key.startswith(NAMESPACE_LABELS + "."):
            extra.append(
                "in namespaces with "
                + _label_phrase(Requirement(r.source, r.key[len(NAMESPACE_LABELS) + 1 :], r.operator, r.values))
            )
        elif r.key == SERVICE_ACCOUNT:
            extra.append("running as service account " + (_values(r) if r.operator == "In" else _label_phrase(r)))
        elif r.key == CLUSTER:
            if not (r.operator == "In" and r.values == (cluster,)):
                extra.append(f"of cluster {_values(r)}")
        else:
            labels.append(_label_phrase(r))
    if extra and where == "in any namespace":
        where = ""
    head = f"pods labelled {', '.join(labels)}" if labels else "every pod"
    return " ".join(x for x in (head, where, *extra) if x)


def describe_selectors(
    endpoints: Iterable[Selector],
    others: Iterable[Selector],
    fqdns: Iterable[fqdnlib.FqdnSelector] = (),
    cluster: str = "default",
) -> str:
    """The peers of a rule in words, naming the whole set (``every pod and node of the
    cluster``), never one arbitrary member."""
    parts = [describe_pod_selector(s, cluster) for s in endpoints]
    entities: set[str] = set()
    cluster_pods = False
    for sel in others:
        reqs = sel.requirements
        if not reqs:
            parts.append("every peer: every pod, node and address")
        elif len(reqs) == 1 and reqs[0].source == RESERVED and reqs[0].operator == "Exists":
            entities.add(reqs[0].key)
        elif len(reqs) == 1 and reqs[0].key == CLUSTER and reqs[0].operator == "In":
            cluster_pods = True
        elif reqs and all(r.source == CIDR for r in reqs):
            pos = [r.key for r in reqs if r.operator == "Exists"]
            neg = [r.key for r in reqs if r.operator == "DoesNotExist"]
            parts.append("addresses in " + ", ".join(pos) + (f" except {', '.join(neg)}" if neg else ""))
        else:
            parts.append(describe_pod_selector(sel, cluster))
    if cluster_pods and set(ENTITIES) <= entities:
        parts.append("every pod and node of the cluster (entity cluster)")
        entities -= set(ENTITIES)
    elif cluster_pods:
        parts.append("every pod of the cluster")
    if entities >= _WORLD_ENTITIES:
        parts.append("any address outside the cluster (entity world)")
        entities -= _WORLD_ENTITIES
    parts += [f"entity {e}" for e in sorted(entities)]
    parts += [f"names matching {f.value}" for f in fqdns]
    return "; ".join(parts) or "no peer"
