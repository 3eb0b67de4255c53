"""Graph endpoints and their Cilium identities, grouped into identity classes.

Every pod (workload or actor) gets the label set Cilium derives for it
(``pkg/k8s`` endpoint labels, ``pkg/labelsfilter``):

* ``k8s:<key>=<value>`` for each pod label the label filter keeps;
* ``k8s:io.kubernetes.pod.namespace=<namespace>``;
* ``k8s:io.cilium.k8s.namespace.labels.<key>=<value>`` for each label of the
  pod's Namespace (``kubernetes.io/metadata.name`` included);
* ``k8s:io.cilium.k8s.policy.serviceaccount=<serviceAccountName or default>``;
* ``k8s:io.cilium.k8s.policy.cluster=<cluster name>``.

Peers that are not pods are reserved identities (``reserved:world``, ``host``,
``remote-node``, ...), CIDR identities (``cidr:<prefix>`` labels of every policy
prefix containing the address, plus ``reserved:world``) and FQDN peers (world
addresses learned from DNS; only their name is known statically).

Endpoints whose identity, named ports and kind are equal behave identically under
every policy, so the engine evaluates identity *classes*, not endpoints.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ..located import Loc
from ..model.build import Model
from ..model.types import Workload
from . import fqdn as fqdnlib
from .actors import Actor
from .cidrs import contains
from .labelfilter import LabelFilter
from .selectors import CIDR, CLUSTER, K8S, NAMESPACE_LABELS, POD_NAMESPACE, RESERVED, SERVICE_ACCOUNT, Label
from .settings import NetworkSettings

ENTITY_NODES = ("world", "host", "remote-node", "kube-apiserver", "health", "init", "ingress", "unmanaged")
IPV4_WORLD = "0.0.0.0/0"
IPV6_WORLD = "::/0"


@dataclass(frozen=True, slots=True)
class Endpoint:
    id: str
    kind: str  # workload | actor | entity | cidr | fqdn
    namespace: str | None
    name: str
    identity: frozenset[Label]
    managed: bool  # a Cilium endpoint: policies can select it
    labels: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    named_ports: tuple[tuple[str, str, int], ...] = ()  # (name, protocol, number)
    ports: tuple[str, ...] = ()  # actor ports as written (display)
    fqdn: str | None = None
    prefix: str | None = None
    host_network: bool = False
    loc: Loc | None = None
    workload_kind: str | None = None

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "kind": self.kind,
            "namespace": self.namespace,
            "name": self.name,
            "labels": dict(sorted(self.labels.items())),
        }

    @property
    def class_key(self) -> tuple:
        return (self.identity, self.managed, self.named_ports, self.fqdn)


@dataclass(slots=True)
class IdentityClass:
    index: int
    identity: frozenset[Label]
    managed: bool
    named_ports: tuple[tuple[str, str, int], ...]
    fqdn: str | None
    members: list[str] = field(default_factory=list)

    @property
    def fqdn_is_name(self) -> bool:
        return self.fqdn is not None and "*" not in self.fqdn


def pod_identity(
    labels: Mapping[str, str],
    namespace: str,
    namespace_labels: Mapping[str, str],
    service_account: str,
    settings: NetworkSettings,
    label_filter: LabelFilter,
) -> frozenset[Label]:
    out = {Label(K8S, k, v) for k, v in labels.items() if label_filter.keeps(k)}
    out.add(Label(K8S, POD_NAMESPACE, namespace))
    for k, v in namespace_labels.items():
        out.add(Label(K8S, f"{NAMESPACE_LABELS}.{k}", v))
    out.add(Label(K8S, SERVICE_ACCOUNT, service_account or "default"))
    out.add(Label(K8S, CLUSTER, settings.cluster_name))
    return frozenset(out)


def cidr_identity(prefix: str, mentioned: Iterable[str], settings: NetworkSettings) -> frozenset[Label]:
    """A CIDR identity: ``cidr:<P>`` for every policy prefix P containing it, and world."""
    net = ipaddress.ip_network(prefix)
    fam = "world-ipv4" if net.version == 4 else "world-ipv6"
    out = {Label(RESERVED, "world"), Label(RESERVED, fam), Label(CIDR, prefix)}
    out.add(Label(CIDR, IPV4_WORLD if net.version == 4 else IPV6_WORLD))
    for m in mentioned:
        if contains(m, prefix):
            out.add(Label(CIDR, m))
    return frozenset(out)


def world_identity() -> frozenset[Label]:
    """The rest of the (IPv4) internet: only ``0.0.0.0/0`` contains it."""
    return frozenset({Label(RESERVED, "world"), Label(RESERVED, "world-ipv4"), Label(CIDR, IPV4_WORLD)})


def entity_identity(name: str, settings: NetworkSettings) -> frozenset[Label]:
    if name == "world":
        return world_identity()
    out = {Label(RESERVED, name)}
    if settings.cidr_match_mode in ("nodes", "pods") and name in ("host", "remote-node"):
        out.add(Label(CIDR, IPV4_WORLD))  # policy-cidr-match-mode=nodes: node IPs are in 0.0.0.0/0
    return frozenset(out)


def workload_endpoint(
    w: Workload, node_id: str, model: Model, settings: NetworkSettings, label_filter: LabelFilter
) -> Endpoint:
    ns = model.namespaces.get(w.namespace)
    ns_labels = dict(ns.labels) if ns is not None else {"kubernetes.io/metadata.name": w.namespace}
    ns_labels.setdefault("kubernetes.io/metadata.name", w.namespace)
    host_network = bool(w.host_network.value)
    named = sorted(
        {
            (p.name.lower(), p.protocol, p.number)
            for c in w.containers
            if c.group == "containers"
            for p in c.ports
            if p.name and p.number
        }
    )
    if host_network and settings.host_network_pods == "node":
        ident = entity_identity("remote-node", settings)
        managed = False
    else:
        ident = pod_identity(w.pod_labels, w.namespace, ns_labels, w.service_account, settings, label_filter)
        if settings.cidr_match_mode == "pods":
            ident = ident | {Label(CIDR, IPV4_WORLD)}
        managed = True
    return Endpoint(
        id=node_id,
        kind="workload",
        namespace=w.namespace,
        name=w.name,
        identity=ident,
        managed=managed,
        labels=MappingProxyType(dict(w.pod_labels)),
        named_ports=tuple(named),
        host_network=host_network,
        loc=w.loc,
        workload_kind=w.kind,
    )


def actor_endpoint(a: Actor, model: Model, settings: NetworkSettings, label_filter: LabelFilter) -> Endpoint:
    ns = model.namespaces.get(a.namespace)
    ns_labels = dict(ns.labels) if ns is not None else {}
    ns_labels.update(a.namespace_labels)
    ns_labels.setdefault("kubernetes.io/metadata.name", a.namespace)
    ident = pod_identity(a.labels, a.namespace, ns_labels, a.service_account, settings, label_filter)
    return Endpoint(
        id=f"actor:{a.name}",
        kind="actor",
        namespace=a.namespace,
        name=a.name,
        identity=ident,
        managed=True,
        labels=MappingProxyType(dict(a.labels)),
        ports=a.ports_text,
        loc=a.loc,
    )


def cidr_endpoint(prefix: str, mentioned: Iterable[str], settings: NetworkSettings) -> Endpoint:
    return Endpoint(
        id=f"cidr:{prefix}",
        kind="cidr",
        namespace=None,
        name=prefix,
        identity=cidr_identity(prefix, mentioned, settings),
        managed=False,
        prefix=prefix,
    )


def fqdn_endpoint(name: str) -> Endpoint:
    norm = fqdnlib.normalize(name)
    return Endpoint(
        id=f"fqdn:{norm}",
        kind="fqdn",
        namespace=None,
        name=norm,
        identity=world_identity(),
        managed=False,
        fqdn=norm,
    )


def entity_endpoint(name: str, settings: NetworkSettings) -> Endpoint:
    return Endpoint(
        id=f"entity:{name}",
        kind="entity",
        namespace=None,
        name=name,
        identity=entity_identity(name, settings),
        managed=False,
    )


def group_classes(endpoints: Iterable[Endpoint]) -> tuple[list[IdentityClass], dict[str, int]]:
    """Identity classes in a deterministic order, and endpoint id -> class index."""
    by_key: dict[tuple, IdentityClass] = {}
    order: list[tuple] = []
    of: dict[str, int] = {}
    for ep in sorted(endpoints, key=lambda e: e.id):
        key = ep.class_key
        cls = by_key.get(key)
        if cls is None:
            cls = IdentityClass(len(order), ep.identity, ep.managed, ep.named_ports, ep.fqdn)
            by_key[key] = cls
            order.append(key)
        cls.members.append(ep.id)
        of[ep.id] = cls.index
    return [by_key[k] for k in order], of
