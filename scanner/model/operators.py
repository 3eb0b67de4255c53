"""Pods that operators create from custom resources, so the traffic graph sees them.

A ``monitoring.coreos.com/v1`` Prometheus, Alertmanager or ThanosRuler becomes a
StatefulSet whose pods carry labels the prometheus-operator derives from the resource;
NetworkPolicies select those pods (kube-prometheus' ``prometheus-k8s`` policy does), so
without them the graph would miss real endpoints.  Facts from prometheus-operator at
commit 6adcebc5 (v0.93):

* labels: ``pkg/prometheus/server/operator.go`` ``makeSelectorLabels`` —
  ``app.kubernetes.io/name=prometheus``, ``app.kubernetes.io/managed-by=prometheus-operator``,
  ``app.kubernetes.io/instance=<name>``, ``operator.prometheus.io/name=<name>``,
  ``prometheus=<name>``, plus ``operator.prometheus.io/shard=<n>``
  (``pkg/prometheus/server/statefulset.go``); Alertmanager and ThanosRuler likewise
  (``pkg/alertmanager/operator.go``, ``pkg/thanos/operator.go``) with
  ``alertmanager=<name>`` / ``thanos-ruler=<name>`` and no ``operator.prometheus.io/name``.
  ``spec.podMetadata.labels`` are merged in and the operator's own labels win
  (``maps.Copy`` order in ``makeStatefulSetSpec``).  ``app.kubernetes.io/version`` is
  left out: it depends on the operator's default image.
* ports: Prometheus ``web`` 9090 unless ``listenLocal`` (``pkg/prometheus/common.go``
  ``MakeContainerPorts``, ``spec.portName``), the config reloader ``reloader-web`` 8080
  (``pkg/operator/config_reloader.go``), the Thanos sidecar ``grpc`` 10901 and ``http``
  10902 when ``spec.thanos`` is set; Alertmanager ``web`` 9093, ``mesh-tcp`` 9094/TCP,
  ``mesh-udp`` 9094/UDP, ``reloader-web`` 8080; ThanosRuler ``grpc`` 10901, ``web`` 10902.
* the pods run in the resource's namespace, as ``spec.serviceAccountName`` (else the
  namespace's ``default``).

Only the network identity is modelled: the operator's container security contexts are
its own, so SecurityContext and Pod Security checks do not judge these pods (docs/design.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from ..loader.documents import KubeObject
from ..located import LMap, Loc
from .types import Container, ContainerPort, SecurityContext, Setting, Workload

OPERATOR = "prometheus-operator"
GROUP = "monitoring.coreos.com"


@dataclass(frozen=True, slots=True)
class _Kind:
    app: str  # app.kubernetes.io/name
    own_label: str  # prometheus / alertmanager / thanos-ruler = <name>
    name_label: bool  # operator.prometheus.io/name
    shards: bool


_KINDS = {
    "Prometheus": _Kind("prometheus", "prometheus", True, True),
    "Alertmanager": _Kind("alertmanager", "alertmanager", False, False),
    "ThanosRuler": _Kind("thanos-ruler", "thanos-ruler", False, False),
}


def _port(name: str, number: int, loc: Loc, protocol: str = "TCP") -> ContainerPort:
    return ContainerPort(number=number, name=name, protocol=protocol, host_port=None, loc=loc)


def _containers(kind: str, spec: LMap, loc: Loc) -> tuple[Container, ...]:
    local = spec.get("listenLocal") is True
    reloader = (_port("reloader-web", 8080, loc),)
    groups: list[tuple[str, tuple[ContainerPort, ...]]] = []
    if kind == "Prometheus":
        web = str(spec.get("portName") or "web")
        groups.append(("prometheus", () if local else (_port(web, 9090, loc),)))
        groups.append(("config-reloader", reloader))
        if isinstance(spec.get("thanos"), LMap):
            groups.append(("thanos-sidecar", (_port("grpc", 10901, loc), _port("http", 10902, loc))))
    elif kind == "Alertmanager":
        ports = () if local else (_port("web", 9093, loc),)
        groups.append(("alertmanager", ports + (_port("mesh-tcp", 9094, loc), _port("mesh-udp", 9094, loc, "UDP"))))
        groups.append(("config-reloader", reloader))
    else:
        groups.append(("thanos-ruler", (_port("grpc", 10901, loc),) + (() if local else (_port("web", 10902, loc),))))
    return tuple(
        Container(name=n, group="containers", image="", loc=loc, ports=p, security=SecurityContext(loc=loc))
        for n, p in groups
    )


def _labels(spec: LMap, kind: _Kind, name: str) -> dict[str, str]:
    meta = spec.get("podMetadata")
    extra = meta.get("labels") if isinstance(meta, LMap) else None
    labels = {str(k): str(v) for k, v in extra.items()} if isinstance(extra, LMap) else {}
    labels.update(
        {
            "app.kubernetes.io/name": kind.app,
            "app.kubernetes.io/managed-by": OPERATOR,
            "app.kubernetes.io/instance": name,
            kind.own_label: name,
        }
    )
    if kind.name_label:
        labels["operator.prometheus.io/name"] = name
    return labels


def _shards(spec: LMap) -> int:
    value: Any = spec.get("shards")
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 1 else 1


def operated_workloads(obj: KubeObject, namespace: str) -> list[Workload]:
    """The workloads (one per Prometheus shard) an operator runs for ``obj``, or []."""
    kind = _KINDS.get(obj.kind)
    spec = obj.body.get("spec")
    if kind is None or obj.group != GROUP or not isinstance(spec, LMap) or not obj.name:
        return []
    sa = spec.get("serviceAccountName")
    base = _labels(spec, kind, obj.name)
    out = []
    for shard in range(_shards(spec) if kind.shards else 1):
        labels = dict(base)
        if kind.shards:
            labels["operator.prometheus.io/shard"] = str(shard)
        unset: Setting[bool] = Setting(None, obj.loc, "unset")
        out.append(
            Workload(
                kind=obj.kind,
                api_version=obj.api_version,
                name=obj.name if shard == 0 else f"{obj.name}-shard-{shard}",
                namespace=namespace,
                loc=obj.loc,
                pod_labels=MappingProxyType(labels),
                service_account=sa if isinstance(sa, str) and sa else "default",
                containers=_containers(obj.kind, spec, obj.loc),
                pod_security=SecurityContext(loc=obj.loc),
                volumes=(),
                host_network=unset,
                host_pid=unset,
                host_ipc=unset,
                host_users=None,
                os_name=None,
                spec_loc=spec.loc,
                generated_by=OPERATOR,
            )
        )
    return out
