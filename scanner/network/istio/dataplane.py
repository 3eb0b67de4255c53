"""Whether Istio enforces for a pod, on which ports, with which protocol and mTLS mode.

AuthorizationPolicy is enforced only by the *destination's* proxy: its sidecar Envoy,
or the node's ztunnel for an ambient pod ("Security" concepts page, "Authorization
architecture").  A destination without a proxy is not protected by Istio at all.

Sidecar injection (decided at pod creation; ../shared/reference/istio-authorization-semantics.md
§1.1, from ``manifests/charts/istio-control/istio-discovery/templates/mutatingwebhook.yaml``
and ``pkg/kube/inject/inject.go`` ``injectRequired``):

* the webhook fires for a pod when its namespace has ``istio-injection=enabled``, or
  ``istio.io/rev=<installed revision>`` (``istio-injection`` wins when both are set),
  or — in an unlabelled namespace — when the *pod label* ``sidecar.istio.io/inject=true``
  or ``istio.io/rev=<installed revision>`` is set (``enableNamespacesByDefault``: every
  namespace not labelled ``istio-injection=disabled``);
* ``istio-injection=disabled`` never injects, whatever the pod says;
* once the webhook fires, the pod's ``sidecar.istio.io/inject`` label, else its
  annotation (deprecated, istio/api ``annotation/annotations.yaml``), decides:
  ``"false"`` opts out, ``"true"`` opts in, anything else takes the default (inject);
* hostNetwork pods and pods in kube-system, kube-public, kube-node-lease and
  local-path-storage are never injected (``pkg/kube/inject/initializer.go``).

Ambient (istio-cni ``ambient.enablementSelectors``, ``cni/pkg/util/enablement_selector.go``):
pod label ``istio.io/dataplane-mode=ambient``, or the namespace label with the pod not
labelled ``istio.io/dataplane-mode=none``; pods with a sidecar or hostNetwork never.

Inbound interception: every TCP port except 15090, 15021 and the status port 15020
(``files/injection-template.yaml`` istio-iptables ``-d``; ``excludeInboundPort``), minus
``traffic.sidecar.istio.io/excludeInboundPorts``, within
``traffic.sidecar.istio.io/includeInboundPorts`` (default ``*``).  Istio intercepts TCP
only: UDP, SCTP and ICMP never meet an AuthorizationPolicy.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ...loader.documents import KubeObject
from ...located import LMap, Loc
from ...model.types import Workload
from .objects import PeerAuthentication
from .settings import IstioSettings

NEVER_INJECTED_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease", "local-path-storage")
# istio-cni's default cni.excludeNamespaces (manifests/charts/istio-cni/values.yaml): never ambient.
NEVER_AMBIENT_NAMESPACES = ("kube-system",)
SIDECAR, AMBIENT, NONE, UNKNOWN = "sidecar", "ambient", "none", "unknown"


@dataclass(frozen=True, slots=True)
class Dataplane:
    """Istio's proxy for one pod: ``sidecar``, ``ambient``, ``none`` or ``unknown``."""

    mode: str
    reason: str
    loc: Loc | None = None
    excluded_ports: frozenset[int] = frozenset()
    included_ports: frozenset[int] | None = None  # None: every port ("*")
    waypoint: str | None = None

    @property
    def proxied(self) -> bool | None:
        """Does the pod send and receive through an Istio proxy (has an identity)?"""
        if self.mode == UNKNOWN:
            return None
        return self.mode in (SIDECAR, AMBIENT)

    def intercepts(self, port: int) -> bool:
        if self.mode == AMBIENT:
            return True  # ztunnel captures every inbound TCP port of an ambient pod
        if port in self.excluded_ports:
            return False
        return self.included_ports is None or port in self.included_ports


def _flag(value: str | None) -> bool | None:
    if value is None:
        return None
    text = str(value).strip().lower()
    return True if text == "true" else False if text == "false" else None


def _ports(text: str | None) -> frozenset[int]:
    out = set()
    for part in (text or "").split(","):
        part = part.strip()
        if part.isdigit():
            out.add(int(part))
    return frozenset(out)


def _interception(
    annotations: Mapping[str, str], settings: IstioSettings
) -> tuple[frozenset[int], frozenset[int] | None]:
    excluded = frozenset({15090, 15021, settings.status_port}) | _ports(
        annotations.get("traffic.sidecar.istio.io/excludeInboundPorts")
    )
    include = annotations.get("traffic.sidecar.istio.io/includeInboundPorts")
    included = None if include is None or include.strip() == "*" else _ports(include)
    return excluded, included


def _webhook_fires(
    pod_labels: Mapping[str, str], ns_labels: Mapping[str, str], settings: IstioSettings
) -> tuple[bool, str]:
    """Does an injection webhook see the pod at all (mutatingwebhook.yaml selectors)?"""
    ns_inj = ns_labels.get("istio-injection")
    ns_rev = ns_labels.get("istio.io/rev")
    if ns_inj == "disabled":
        return False, "its namespace is labelled istio-injection=disabled (no injection webhook fires)"
    if ns_inj == "enabled":
        return True, "its namespace is labelled istio-injection=enabled"
    if ns_rev is not None:
        if ns_rev in settings.revisions:
            return True, f"its namespace is labelled istio.io/rev={ns_rev}"
        return False, (
            f"its namespace is labelled istio.io/rev={ns_rev}, a revision not installed "
            f"(settings.istio.revisions: {', '.join(settings.revisions) or 'none'})"
        )
    pod_rev = pod_labels.get("istio.io/rev")
    if _flag(pod_labels.get("sidecar.istio.io/inject")) is True:
        return True, "the pod is labelled sidecar.istio.io/inject=true"
    if pod_rev is not None and pod_rev in settings.revisions:
        return True, f"the pod is labelled istio.io/rev={pod_rev}"
    if settings.enable_namespaces_by_default:
        return True, "settings.istio.enableNamespacesByDefault injects every namespace"
    return False, (
        "its namespace has no istio-injection or istio.io/rev label (a sidecar.istio.io/inject "
        "annotation cannot enable injection there)"
    )


def sidecar_of(
    pod_labels: Mapping[str, str],
    annotations: Mapping[str, str],
    namespace: str,
    ns_labels: Mapping[str, str] | None,
    host_network: bool,
    settings: IstioSettings,
) -> tuple[bool | None, str]:
    """(has a sidecar, why); None when the namespace's labels are not in the manifests."""
    if host_network:
        return False, "hostNetwork pods are never injected"
    if namespace in NEVER_INJECTED_NAMESPACES:
        return False, f"pods in {namespace} are never injected"
    if ns_labels is None:
        return None, f"namespace {namespace} is not in the manifests, so its injection labels are unknown"
    fires, why = _webhook_fires(pod_labels, ns_labels, settings)
    if not fires:
        return False, why
    label, annotation = pod_labels.get("sidecar.istio.io/inject"), annotations.get("sidecar.istio.io/inject")
    decided = _flag(label) if _flag(label) is not None else _flag(annotation)
    if decided is False:
        source = "label" if _flag(label) is False else "annotation"
        return False, f'{why}, but the pod\'s {source} sidecar.istio.io/inject="false" opts out'
    return True, why


def ambient_of(
    pod_labels: Mapping[str, str], ns_labels: Mapping[str, str] | None, settings: IstioSettings, namespace: str = ""
) -> tuple[bool | None, str]:
    if not settings.ambient:
        return False, "ambient mode is off (settings.istio.ambient: false)"
    if namespace in NEVER_AMBIENT_NAMESPACES:
        return False, f"istio-cni excludes {namespace} (cni.excludeNamespaces)"
    pod_mode = pod_labels.get("istio.io/dataplane-mode")
    if pod_mode == "ambient":
        return True, "the pod is labelled istio.io/dataplane-mode=ambient"
    if pod_mode == "none":
        return False, "the pod is labelled istio.io/dataplane-mode=none"
    if ns_labels is None:
        return None, "its namespace is not in the manifests"
    if ns_labels.get("istio.io/dataplane-mode") == "ambient":
        return True, "its namespace is labelled istio.io/dataplane-mode=ambient"
    return False, "not enrolled in ambient mode"


def pod_dataplane(
    pod_labels: Mapping[str, str],
    annotations: Mapping[str, str],
    namespace: str,
    ns_labels: Mapping[str, str] | None,
    host_network: bool,
    settings: IstioSettings,
    loc: Loc | None = None,
) -> Dataplane:
    excluded, included = _interception(annotations, settings)
    if settings.meshed_pods == "all" and not host_network:
        return Dataplane(
            SIDECAR,
            "every pod is treated as having a sidecar (settings.istio.meshedPods: all)",
            loc,
            excluded,
            included,
        )
    sidecar, why = sidecar_of(pod_labels, annotations, namespace, ns_labels, host_network, settings)
    waypoint = pod_labels.get("istio.io/use-waypoint") or (ns_labels or {}).get("istio.io/use-waypoint")
    if sidecar is True:
        return Dataplane(SIDECAR, f"sidecar injected: {why}", loc, excluded, included)
    if host_network:
        return Dataplane(NONE, why, loc)
    ambient, awhy = ambient_of(pod_labels, ns_labels, settings, namespace)
    if ambient is True:
        return Dataplane(AMBIENT, f"ambient: {awhy}", loc, waypoint=waypoint)
    if sidecar is None or ambient is None:
        return Dataplane(UNKNOWN, why if sidecar is None else awhy, loc)
    return Dataplane(NONE, f"no sidecar: {why}", loc)


def workload_dataplane(w: Workload, ns_labels: Mapping[str, str] | None, settings: IstioSettings) -> Dataplane:
    return pod_dataplane(
        w.pod_labels,
        w.annotations,
        w.namespace,
        ns_labels,
        bool(w.host_network.value),
        settings,
        w.annotation_locs.get("sidecar.istio.io/inject", w.loc),
    )


# -- port protocols ------------------------------------------------------------------------


# pkg/config/protocol/instance.go Parse / IsHTTP / IsTCP.
HTTP_PROTOCOLS = frozenset({"http", "http2", "http_proxy", "grpc", "grpc-web"})
TCP_PROTOCOLS = frozenset({"tcp", "https", "tls", "mongo", "redis", "mysql"})
WELL_KNOWN_TCP = frozenset({25, 53, 3306, 27017})  # pkg/config/kube/conversion.go wellKnownPorts


def service_port_protocol(number: int, name: str | None, app_protocol: str | None) -> str:
    """``http``, ``tcp`` or ``auto`` (sniffed), as ``ConvertProtocol`` reads a Service port."""
    text = app_protocol if app_protocol else (name or "")
    low = text.lower()
    if low.startswith("grpc-web"):
        return "http"
    prefix = low.split("-", 1)[0]
    if prefix in HTTP_PROTOCOLS:
        return "http"
    if prefix in TCP_PROTOCOLS:
        return "tcp"
    return "tcp" if number in WELL_KNOWN_TCP else "auto"


@dataclass(frozen=True, slots=True)
class ServicePortInfo:
    service: str  # ns/name
    selector: Mapping[str, str]
    port: int
    target: int | str
    protocol: str  # Kubernetes protocol (TCP/UDP/SCTP)
    istio_protocol: str  # http | tcp | auto
    loc: Loc


def service_ports(objects: Iterable[KubeObject], default_namespace: str) -> tuple[ServicePortInfo, ...]:
    """Every Service port with a selector, with the protocol Istio gives it."""
    out = []
    for o in objects:
        if o.kind != "Service" or o.api_version != "v1":
            continue
        spec = o.body.get("spec")
        if (
            not isinstance(spec, LMap)
            or not isinstance(spec.get("selector"), LMap)
            or not isinstance(spec.get("ports"), list)
        ):
            continue
        selector = {str(k): str(v) for k, v in spec["selector"].items()}
        ns = o.namespace or default_namespace
        for i, p in enumerate(spec["ports"]):
            if not isinstance(p, LMap) or not isinstance(p.get("port"), int):
                continue
            target = p.get("targetPort", p["port"])
            name = p.get("name")
            app = p.get("appProtocol")
            out.append(
                ServicePortInfo(
                    f"{ns}/{o.name}",
                    selector,
                    int(p["port"]),
                    target if isinstance(target, int) else str(target),
                    str(p.get("protocol", "TCP")),
                    service_port_protocol(int(p["port"]), str(name) if name else None, str(app) if app else None),
                    spec["ports"].loc_of(i),
                )
            )
    return tuple(sorted(out, key=lambda s: (s.service, s.port)))


# -- PeerAuthentication ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MtlsMode:
    """The destination's mTLS mode on one port, and which policies decided it."""

    mode: str  # STRICT | PERMISSIVE | DISABLE | UNKNOWN
    origins: tuple[str, ...]  # "PeerAuthentication ns/name (file:line)" from mesh to port level
    note: str = ""

    def text(self) -> str:
        if not self.origins:
            return f"{self.mode} (Istio's default: no PeerAuthentication applies)"
        return f"{self.mode} (" + " then ".join(self.origins) + ")"


def _oldest(policies: list[PeerAuthentication]) -> tuple[PeerAuthentication | None, str]:
    """Several policies at one level: the oldest wins (policy_applier.go
    ComposePeerAuthentication).  Without timestamps in the manifests the winner is
    unknown; it only matters when their modes differ."""
    if not policies:
        return None, ""
    if len(policies) == 1:
        return policies[0], ""
    stamped = [p for p in policies if p.created]
    if len(stamped) == len(policies):
        return min(policies, key=lambda p: (p.created or "", p.namespace, p.name)), ""
    if len({(p.mode, tuple(p.port_modes.items())) for p in policies}) == 1:
        return policies[0], ""
    names = ", ".join(p.ref for p in policies)
    return (
        None,
        f"{names} apply at the same level with different modes; the oldest wins and the manifests carry no creationTimestamp",
    )


def _origin(p: PeerAuthentication, what: str) -> str:
    return f"{p.ref} {what} ({p.loc.path}:{p.loc.line})"


def mtls_mode(
    peer_auths: Iterable[PeerAuthentication],
    namespace: str,
    pod_labels: Mapping[str, str],
    port: int,
    settings: IstioSettings,
) -> MtlsMode:
    """Compose mesh, namespace, workload and port level (``ComposePeerAuthentication``):
    start PERMISSIVE, each narrower level overrides unless UNSET; selector policies in
    the root namespace are ignored; port-level settings come from the workload level."""
    mesh, ns_level, workload = [], [], []
    for p in peer_auths:
        if not p.selector:
            if p.namespace == settings.root_namespace:
                mesh.append(p)
            elif p.namespace == namespace:
                ns_level.append(p)
        elif (
            p.namespace == namespace
            and p.namespace != settings.root_namespace
            and all(pod_labels.get(k) == v for k, v in p.selector.items())
        ):
            workload.append(p)
    mode, origins = "PERMISSIVE", []
    for level, items in (("mesh-wide", mesh), ("namespace-wide", ns_level), ("workload", workload)):
        chosen, problem = _oldest(items)
        if problem:
            return MtlsMode("UNKNOWN", tuple(origins), problem)
        if chosen is None:
            continue
        if chosen.mode != "UNSET":
            mode = chosen.mode
            origins.append(_origin(chosen, f"{level} {chosen.mode}"))
        if level == "workload" and port in chosen.port_modes and chosen.port_modes[port] != "UNSET":
            mode = chosen.port_modes[port]
            origins.append(_origin(chosen, f"portLevelMtls {port} {mode}"))
    return MtlsMode(mode, tuple(origins))


__all__ = [
    "AMBIENT",
    "NONE",
    "SIDECAR",
    "UNKNOWN",
    "Dataplane",
    "MtlsMode",
    "ServicePortInfo",
    "ambient_of",
    "mtls_mode",
    "pod_dataplane",
    "service_port_protocol",
    "service_ports",
    "sidecar_of",
    "workload_dataplane",
]
