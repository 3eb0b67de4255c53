"""Typed facts extracted from manifests.  Nothing downstream reads raw YAML.

Every value keeps the location it was read from; a value that is absent keeps
the location of the object that should have held it, so findings about
missing settings still point somewhere useful.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Generic, TypeVar

from ..located import Loc
from .cronjob import CronJobSpec

T = TypeVar("T")

EMPTY: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Setting(Generic[T]):
    """A security setting as it takes effect, and where it came from."""

    value: T | None
    loc: Loc
    source: str  # "container", "pod" or "unset"

    @property
    def is_set(self) -> bool:
        return self.source != "unset"


@dataclass(frozen=True, slots=True)
class SecurityContext:
    """One ``securityContext`` (pod- or container-level).  ``None`` means not written.

    ``locs`` maps a field path (``runAsUser``, ``capabilities.add``,
    ``seccompProfile.type``) to where its value is; ``loc`` is the context itself
    (or, when absent, the object that would hold it).
    """

    loc: Loc
    present: bool = False
    run_as_non_root: bool | None = None
    run_as_user: int | None = None
    run_as_group: int | None = None
    fs_group: int | None = None
    supplemental_groups: tuple[int, ...] | None = None
    allow_privilege_escalation: bool | None = None
    privileged: bool | None = None
    read_only_root_filesystem: bool | None = None
    capabilities_add: tuple[str, ...] | None = None
    capabilities_drop: tuple[str, ...] | None = None
    seccomp_type: str | None = None
    apparmor_type: str | None = None
    selinux_type: str | None = None
    selinux_user: str | None = None
    selinux_role: str | None = None
    proc_mount: str | None = None
    windows_host_process: bool | None = None
    sysctls: tuple[tuple[str, Loc], ...] = ()
    locs: Mapping[str, Loc] = field(default_factory=lambda: EMPTY)

    def where(self, path: str) -> Loc:
        return self.locs.get(path, self.loc)


@dataclass(frozen=True, slots=True)
class ContainerPort:
    number: int | None
    name: str | None
    protocol: str
    host_port: int | None
    loc: Loc


@dataclass(frozen=True, slots=True)
class ProbeHost:
    """A ``host`` field of a probe or lifecycle handler (PSS hostProbesAndHostLifecycle)."""

    path: str
    host: str
    loc: Loc


@dataclass(frozen=True, slots=True)
class EnvVar:
    """An environment variable.  ``value`` is a literal (``None`` when it comes
    from ``valueFrom``); it may be a secret and must never be printed."""

    name: str
    value: str | None
    source: str  # "literal", "secretKeyRef", "configMapKeyRef", "fieldRef", "resourceFieldRef", "unknown"
    loc: Loc


@dataclass(frozen=True, slots=True)
class VolumeMount:
    """A container's ``volumeMounts`` item: where volume ``name`` appears in its filesystem."""

    name: str
    path: str  # mountPath
    loc: Loc
    sub_path: str = ""
    read_only: bool = False


@dataclass(frozen=True, slots=True)
class CommandItem:
    """One string of ``command`` or ``args``, where it is written (a block scalar starts
    at its indicator line)."""

    text: str
    loc: Loc
    key: str  # "command" or "args"


@dataclass(frozen=True, slots=True)
class Container:
    name: str
    group: str  # "containers", "initContainers" or "ephemeralContainers"
    image: str
    loc: Loc  # the container's ``name`` line
    ports: tuple[ContainerPort, ...]
    security: SecurityContext
    probe_hosts: tuple[ProbeHost, ...] = ()
    command: tuple[str, ...] = ()  # command + args, as written (strings only)
    command_loc: Loc | None = None
    env: tuple[EnvVar, ...] = ()
    mounts: tuple[VolumeMount, ...] = ()
    command_items: tuple[CommandItem, ...] = ()  # command + args with their locations (strings only)


@dataclass(frozen=True, slots=True)
class Volume:
    name: str
    source: str  # the volume source key: emptyDir, hostPath, secret ...
    loc: Loc
    host_path: str | None = None
    key_loc: Loc | None = None  # where the volume source key (``hostPath:``) is written


@dataclass(frozen=True, slots=True)
class LabelSelector:
    """A controller's ``spec.selector``: which pods belong to the workload (Kubernetes'
    own definition of membership).  ``expressions`` are (key, operator, values)."""

    labels: Mapping[str, str]
    expressions: tuple[tuple[str, str, tuple[str, ...]], ...] = ()


@dataclass(frozen=True, slots=True)
class Workload:
    """Anything that carries a pod template, reduced to what checks need."""

    kind: str
    api_version: str
    name: str
    namespace: str
    loc: Loc  # metadata.name
    pod_labels: Mapping[str, str]
    service_account: str
    containers: tuple[Container, ...]
    pod_security: SecurityContext
    volumes: tuple[Volume, ...]
    host_network: Setting[bool]
    host_pid: Setting[bool]
    host_ipc: Setting[bool]
    host_users: bool | None
    os_name: str | None
    spec_loc: Loc  # the pod spec (for findings about what it lacks)
    annotations: Mapping[str, str] = field(default_factory=lambda: EMPTY)
    annotation_locs: Mapping[str, Loc] = field(default_factory=lambda: EMPTY)  # where each annotation key is written
    extra: Mapping[str, Any] = field(
        default_factory=lambda: EMPTY
    )  # kind-specific facts (e.g. CronJob schedule), located
    selector: LabelSelector | None = None  # spec.selector of a controller; None for Pods, CronJobs, Jobs without one
    cronjob: CronJobSpec | None = None  # a CronJob's own spec and jobTemplate.spec, typed
    generated_by: str | None = None  # the operator that creates these pods from a custom resource (model/operators.py)

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def subject(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"

    def named_port(self, name: str, protocol: str | None = None) -> list[ContainerPort]:
        return [
            p
            for c in self.containers
            for p in c.ports
            if p.name is not None and p.name == name and (protocol is None or p.protocol == protocol)
        ]


@dataclass(frozen=True, slots=True)
class Namespace:
    name: str
    labels: Mapping[str, str]
    loc: Loc
    declared: bool  # a Namespace object exists in the input (else implied by a namespaced object)

    def label(self, key: str) -> str | None:
        return self.labels.get(key)


@dataclass(frozen=True, slots=True)
class ServicePort:
    port: int
    target: int | str  # number or container port name
    protocol: str
    name: str | None


@dataclass(frozen=True, slots=True)
class Service:
    name: str
    namespace: str
    selector: Mapping[str, str] | None
    ports: tuple[ServicePort, ...]
    loc: Loc
    labels: Mapping[str, str] = field(
        default_factory=lambda: MappingProxyType({})
    )  # metadata.labels (k8sServiceSelector)
