"""Actors: pods that matter but are not in the scanned manifests (Prometheus, the
ingress controller, kube-dns), declared in the policy file's ``traffic.actors``.

kube-dns is built in (namespace ``kube-system``, label ``k8s-app=kube-dns``,
53/UDP and 53/TCP, as kubeadm/kind/most distributions deploy CoreDNS); an actor
named ``kube-dns`` in the policy file replaces it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ..located import LList, LMap, Loc


@dataclass(frozen=True, slots=True)
class Actor:
    name: str
    namespace: str
    labels: Mapping[str, str]
    namespace_labels: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    service_account: str = "default"
    ports_text: tuple[str, ...] = ()
    loc: Loc | None = None
    builtin: bool = False


KUBE_DNS = Actor(
    name="kube-dns",
    namespace="kube-system",
    labels=MappingProxyType({"k8s-app": "kube-dns"}),
    service_account="coredns",
    ports_text=("53/UDP", "53/TCP"),
    builtin=True,
)


def _port_text(p: Any) -> str:
    if isinstance(p, dict):
        proto = p.get("protocol", "TCP")
        end = p.get("endPort")
        return f"{p.get('port')}{'-' + str(end) if end else ''}/{proto}"
    if isinstance(p, int):
        return f"{p}/TCP"
    return str(p)


def actors_from_policy(traffic: Any) -> list[Actor]:
    """The actors of a policy file's ``traffic`` section plus built-in kube-dns."""
    out: dict[str, Actor] = {}
    items = traffic.get("actors") if isinstance(traffic, (LMap, dict)) else None
    if isinstance(items, (LList, list)):
        for i, a in enumerate(items):
            if not isinstance(a, (LMap, dict)) or not a.get("name"):
                continue
            loc = items.loc_of(i) if isinstance(items, LList) else None
            out[str(a["name"])] = Actor(
                name=str(a["name"]),
                namespace=str(a.get("namespace", "default")),
                labels=MappingProxyType({str(k): str(v) for k, v in (a.get("labels") or {}).items()}),
                namespace_labels=MappingProxyType(
                    {str(k): str(v) for k, v in (a.get("namespaceLabels") or {}).items()}
                ),
                service_account=str(a.get("serviceAccount", "default")),
                ports_text=tuple(_port_text(p) for p in (a.get("ports") or [])),
                loc=loc,
            )
    out.setdefault("kube-dns", KUBE_DNS)
    return [out[k] for k in sorted(out)]
