"""Build the typed model from Kubernetes objects.

Wrong types (``containers: null``, ``securityContext: "yes"``, a string where
a list belongs) become ``INPUT002`` findings at the offending value and the
value is treated as absent, so one bad field never hides the rest of a scan.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ..findings import Finding
from ..loader.documents import KubeObject
from ..loader.yamltext import SENSITIVE_PATH, describe_value
from ..located import LList, LMap, Loc
from .cronjob import read_cronjob
from .duplicates import CLUSTER_SCOPED, live_objects
from .fields import unknown_fields
from .operators import GROUP, operated_workloads
from .types import (
    CommandItem,
    Container,
    ContainerPort,
    EnvVar,
    LabelSelector,
    Namespace,
    ProbeHost,
    SecurityContext,
    Service,
    ServicePort,
    Setting,
    Volume,
    VolumeMount,
    Workload,
)

# Where each workload kind keeps its pod template spec.
POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    "Rollout": ("spec", "template", "spec"),
    "PodTemplate": ("template", "spec"),
}
# Fields a PodSecurityContext shares with a container SecurityContext; only these
# are inherited by containers (k8s.io/api core/v1 PodSecurityContext).
POD_LEVEL_FIELDS = frozenset(
    {
        "run_as_non_root",
        "run_as_user",
        "run_as_group",
        "seccomp_type",
        "apparmor_type",
        "selinux_type",
        "selinux_user",
        "selinux_role",
        "windows_host_process",
    }
)
CONTAINER_GROUPS = ("initContainers", "containers", "ephemeralContainers")
PROTOCOLS = ("TCP", "UDP", "SCTP")


@dataclass(slots=True)
class Model:
    workloads: list[Workload] = field(default_factory=list)  # objects with a pod template: every check judges them
    # Pods operators create from custom resources (model/operators.py): in the traffic
    # graph and the matrix checks; their security contexts are the operator's own.
    operated: list[Workload] = field(default_factory=list)
    namespaces: dict[str, Namespace] = field(default_factory=dict)
    services: list[Service] = field(default_factory=list)
    problems: list[Finding] = field(default_factory=list)

    @property
    def network_workloads(self) -> list[Workload]:
        """Every workload whose pods take part in the traffic graph."""
        return sorted(self.workloads + self.operated, key=lambda w: (w.namespace, w.name, w.kind))

    def workload(self, ref: str) -> Workload | None:
        for w in self.workloads:
            if w.ref == ref:
                return w
        return None


class _Reader:
    """Typed access to located maps that records INPUT002 for wrong types."""

    def __init__(self, subject: str, problems: list[Finding]) -> None:
        self.subject = subject
        self.problems = problems

    @property
    def _rejected(self) -> str:
        """What Kubernetes does with an object whose field has the wrong type or value:
        the API server refuses it (decoding or validation), so it is not deployed."""
        return f"the API server rejects the {self.subject.split(' ', 1)[0]}"

    def wrong(self, where: Loc, path: str, expected: str, got: Any, choices: tuple[str, ...] = ()) -> None:
        self.problems.append(
            Finding(
                "INPUT002",
                f"{self.subject}: '{path}' must be {expected}, got {_shown_value(path, got, choices)}; "
                f"{self._rejected}, and this scan checks the rest of it without this value",
                where,
                subject=self.subject,
                detail=path,
                sensitive=bool(_SENSITIVE_PATH.search(path)),
            )
        )

    def out_of_range(self, where: Loc, path: str, expected: str) -> None:
        self.problems.append(
            Finding(
                "INPUT002",
                f"{self.subject}: '{path}' must be {expected}; it is out of range: {self._rejected}, "
                "and this scan checks the rest of it without this value",
                where,
                subject=self.subject,
                detail=path,
                sensitive=bool(_SENSITIVE_PATH.search(path)),
            )
        )

    def missing(self, where: Loc, path: str, consequence: str) -> None:
        self.problems.append(
            Finding(
                "INPUT002",
                f"{self.subject}: '{path}' is missing; {consequence}",
                where,
                subject=self.subject,
                detail=path,
            )
        )

    def get(self, m: LMap, key: str, path: str, check: Callable[[Any], bool], expected: str) -> Any:
        if key not in m or m[key] is None:
            return None
        value = m[key]
        if not check(value):
            self.wrong(m.loc_of(key), path, expected, value)
            return None
        return value

    def map(self, m: LMap, key: str, path: str) -> LMap | None:
        return self.get(m, key, path, lambda v: isinstance(v, LMap), "a mapping")

    def list(self, m: LMap, key: str, path: str) -> LList | None:
        return self.get(m, key, path, lambda v: isinstance(v, LList), "a list")

    def bool(self, m: LMap, key: str, path: str) -> bool | None:
        return self.get(m, key, path, lambda v: isinstance(v, bool), "true or false")

    def int(self, m: LMap, key: str, path: str) -> int | None:
        return self.get(m, key, path, lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer")

    def str(self, m: LMap, key: str, path: str) -> str | None:
        return self.get(m, key, path, lambda v: isinstance(v, str), "a string")

    def str_list(self, m: LMap, key: str, path: str) -> tuple[str, ...] | None:
        seq = self.list(m, key, path)
        if seq is None:
            return None
        out = []
        for i, item in enumerate(seq):
            if isinstance(item, str):
                out.append(item)
            else:
                self.wrong(seq.loc_of(i), f"{path}[{i}]", "a string", item)
        return tuple(out)

    def labels(self, m: LMap | None, key: str, path: str) -> dict[str, str]:
        if m is None:
            return {}
        labels = self.map(m, key, path)
        if labels is None:
            return {}
        out = {}
        for k, v in labels.items():
            if isinstance(v, (str, int, float, bool)) and not isinstance(k, (LMap, LList)):
                out[str(k)] = _label_text(v)
            else:
                self.wrong(labels.loc_of(k), f"{path}.{k}", "a string", v)
        return out


def _label_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# Values that are plainly not secrets: booleans and numbers written as text, null words.
_HARMLESS = re.compile(r"(?i:true|false|yes|no|on|off|null|none|~)|-?[0-9]{1,10}")
# Paths whose values may be secrets: never shown, whatever they look like.
_SENSITIVE_PATH = SENSITIVE_PATH


def _shown_value(path: str, value: Any, choices: tuple[str, ...] = ()) -> str:
    """A wrong value as the message shows it: the value itself when it cannot be a
    secret (a number, a boolean word, or an allowed value in the wrong case, e.g.
    protocol ``tcp``), else only its type and size."""
    if _SENSITIVE_PATH.search(path):
        return _describe(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if not isinstance(value, str):
        return _describe(value)
    wrong_case = value.upper() in {c.upper() for c in choices}
    if wrong_case:
        return f"the string {value!r} (values are case-sensitive)"
    if _HARMLESS.fullmatch(value):
        return f"the string {value!r}"
    return _describe(value)


def _describe(value: Any) -> str:
    """What a wrong value is, by type and size only: the value itself is never
    echoed into a message, since a mistyped field may hold a secret."""
    return describe_value(value)


def read_security_context(r: _Reader, holder: LMap, path: str) -> SecurityContext:
    sc = r.map(holder, "securityContext", f"{path}.securityContext")
    if sc is None:
        return SecurityContext(loc=holder.loc_of("securityContext") if "securityContext" in holder else holder.loc)
    p = f"{path}.securityContext"
    locs: dict[str, Loc] = {k: sc.loc_of(k) for k in sc}
    values: dict[str, Any] = {
        "run_as_non_root": r.bool(sc, "runAsNonRoot", f"{p}.runAsNonRoot"),
        "run_as_user": r.int(sc, "runAsUser", f"{p}.runAsUser"),
        "run_as_group": r.int(sc, "runAsGroup", f"{p}.runAsGroup"),
        "fs_group": r.int(sc, "fsGroup", f"{p}.fsGroup"),
        "allow_privilege_escalation": r.bool(sc, "allowPrivilegeEscalation", f"{p}.allowPrivilegeEscalation"),
        "privileged": r.bool(sc, "privileged", f"{p}.privileged"),
        "read_only_root_filesystem": r.bool(sc, "readOnlyRootFilesystem", f"{p}.readOnlyRootFilesystem"),
        "proc_mount": r.str(sc, "procMount", f"{p}.procMount"),
    }
    groups = r.list(sc, "supplementalGroups", f"{p}.supplementalGroups")
    if groups is not None:
        values["supplemental_groups"] = tuple(g for g in groups if isinstance(g, int))
    _read_capabilities(r, sc, p, values, locs)
    _read_profiles(r, sc, p, values, locs)
    sysctls = r.list(sc, "sysctls", f"{p}.sysctls")
    if sysctls is not None:
        values["sysctls"] = _read_sysctls(r, sysctls, f"{p}.sysctls")
    return SecurityContext(loc=sc.loc, present=True, locs=MappingProxyType(locs), **values)


def _read_capabilities(r: _Reader, sc: LMap, p: str, values: dict[str, Any], locs: dict[str, Loc]) -> None:
    caps = r.map(sc, "capabilities", f"{p}.capabilities")
    if caps is None:
        return
    values["capabilities_add"] = r.str_list(caps, "add", f"{p}.capabilities.add")
    values["capabilities_drop"] = r.str_list(caps, "drop", f"{p}.capabilities.drop")
    for k in ("add", "drop"):
        if k in caps:
            locs[f"capabilities.{k}"] = caps.loc_of(k)
            if isinstance(caps[k], LList):  # each item too: findings point at the offending capability
                locs.update({f"capabilities.{k}[{i}]": caps[k].loc_of(i) for i in range(len(caps[k]))})


# securityContext key -> (nested key, SecurityContext attribute, boolean?)
_NESTED_FIELDS = (
    ("seccompProfile", (("type", "seccomp_type", False),)),
    ("appArmorProfile", (("type", "apparmor_type", False),)),
    ("windowsOptions", (("hostProcess", "windows_host_process", True),)),
    (
        "seLinuxOptions",
        (("type", "selinux_type", False), ("user", "selinux_user", False), ("role", "selinux_role", False)),
    ),
)


def _read_profiles(r: _Reader, sc: LMap, p: str, values: dict[str, Any], locs: dict[str, Loc]) -> None:
    """seccomp, AppArmor, Windows and SELinux options: nested mappings of a few fields."""
    for key, fields in _NESTED_FIELDS:
        nested = r.map(sc, key, f"{p}.{key}")
        if nested is None:
            continue
        for sub, attr, boolean in fields:
            values[attr] = (r.bool if boolean else r.str)(nested, sub, f"{p}.{key}.{sub}")
            if sub in nested:
                locs[f"{key}.{sub}"] = nested.loc_of(sub)


def _read_sysctls(r: _Reader, sysctls: LList, path: str) -> tuple[tuple[str, Loc], ...]:
    found = []
    for i, item in enumerate(sysctls):
        if isinstance(item, LMap) and isinstance(item.get("name"), str):
            found.append((item["name"], item.loc_of("name")))
        else:
            r.wrong(sysctls.loc_of(i), f"{path}[{i}]", "a mapping with a name", item)
    return tuple(found)


def _port_number(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


def read_ports(r: _Reader, container: LMap, path: str) -> tuple[ContainerPort, ...]:
    ports = r.list(container, "ports", f"{path}.ports")
    if ports is None:
        return ()
    out = []
    for i, port in enumerate(ports):
        ppath = f"{path}.ports[{i}]"
        if not isinstance(port, LMap):
            r.wrong(ports.loc_of(i), ppath, "a mapping", port)
            continue
        number = r.int(port, "containerPort", f"{ppath}.containerPort")
        if number is not None and not 1 <= number <= 65535:
            r.out_of_range(port.loc_of("containerPort"), f"{ppath}.containerPort", "a port between 1 and 65535")
            number = None
        protocol = r.str(port, "protocol", f"{ppath}.protocol") or "TCP"
        if protocol not in PROTOCOLS:
            r.wrong(port.loc_of("protocol"), f"{ppath}.protocol", "TCP, UDP or SCTP", protocol, PROTOCOLS)
            protocol = "TCP"
        out.append(
            ContainerPort(
                number=number,
                name=r.str(port, "name", f"{ppath}.name"),
                protocol=protocol,
                host_port=r.int(port, "hostPort", f"{ppath}.hostPort"),
                loc=port.loc_of("hostPort") if "hostPort" in port else port.loc,
            )
        )
    return tuple(out)


def read_probe_hosts(r: _Reader, container: LMap, path: str) -> tuple[ProbeHost, ...]:
    found = []
    handlers: list[tuple[str, Any]] = [
        (k, container.get(k)) for k in ("livenessProbe", "readinessProbe", "startupProbe")
    ]
    lifecycle = container.get("lifecycle")
    if isinstance(lifecycle, LMap):
        handlers += [(f"lifecycle.{k}", lifecycle.get(k)) for k in ("postStart", "preStop")]
    for name, handler in handlers:
        if not isinstance(handler, LMap):
            continue
        for action in ("httpGet", "tcpSocket"):
            target = handler.get(action)
            if isinstance(target, LMap) and "host" in target:
                host = target["host"]
                found.append(
                    ProbeHost(f"{path}.{name}.{action}.host", "" if host is None else str(host), target.loc_of("host"))
                )
    return tuple(found)


def read_command(container: LMap) -> tuple[str, ...]:
    words: list[str] = []
    for key in ("command", "args"):
        value = container.get(key)
        if isinstance(value, list):
            words.extend(str(v) for v in value if isinstance(v, (str, int, float)))
    return tuple(words)


def read_command_items(container: LMap) -> tuple[CommandItem, ...]:
    out = []
    for key in ("command", "args"):
        value = container.get(key)
        if isinstance(value, LList):
            out += [
                CommandItem(str(v), value.loc_of(i), key)
                for i, v in enumerate(value)
                if isinstance(v, (str, int, float))
            ]
    return tuple(out)


def read_mounts(r: _Reader, container: LMap, path: str) -> tuple[VolumeMount, ...]:
    items = r.list(container, "volumeMounts", f"{path}.volumeMounts")
    out = []
    for i, item in enumerate(items or ()):
        where = f"{path}.volumeMounts[{i}]"
        if (
            not isinstance(item, LMap)
            or not isinstance(item.get("name"), str)
            or not isinstance(item.get("mountPath"), str)
        ):
            r.wrong(items.loc_of(i), where, "a mapping with a name and a mountPath", item)
            continue
        out.append(
            VolumeMount(
                item["name"],
                item["mountPath"],
                item.loc_of("mountPath"),
                r.str(item, "subPath", f"{where}.subPath") or "",
                bool(r.bool(item, "readOnly", f"{where}.readOnly")),
            )
        )
    return tuple(out)


def read_env(r: _Reader, container: LMap, path: str) -> tuple[EnvVar, ...]:
    items = r.list(container, "env", f"{path}.env")
    if items is None:
        return ()
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, LMap) or not isinstance(item.get("name"), str):
            r.wrong(items.loc_of(i), f"{path}.env[{i}]", "a mapping with a name", item)
            continue
        if "valueFrom" in item:
            source_map = item.get("valueFrom")
            kinds = sorted(map(str, source_map)) if isinstance(source_map, LMap) else []
            out.append(EnvVar(item["name"], None, kinds[0] if kinds else "unknown", item.loc_of("valueFrom")))
        else:
            value = item.get("value")
            out.append(
                EnvVar(
                    item["name"],
                    None if value is None else str(value),
                    "literal",
                    item.loc_of("value") if "value" in item else item.loc,
                )
            )
    return tuple(out)


def read_containers(r: _Reader, spec: LMap, spec_path: str) -> tuple[Container, ...]:
    out = []
    for group in CONTAINER_GROUPS:
        if group in spec and spec[group] is None and group == "containers":
            r.wrong(spec.loc_of(group), f"{spec_path}.{group}", "a list", None)
            continue
        if group == "containers" and group not in spec:
            r.missing(spec.loc, f"{spec_path}.containers", "a pod needs at least one container")
        items = r.list(spec, group, f"{spec_path}.{group}")
        if items is None:
            continue
        for i, item in enumerate(items):
            path = f"{spec_path}.{group}[{i}]"
            if not isinstance(item, LMap):
                r.wrong(items.loc_of(i), path, "a mapping", item)
                continue
            name = item.get("name")
            if name is not None and not isinstance(name, str):
                r.wrong(item.loc_of("name"), f"{path}.name", "a string", name)
            out.append(
                Container(
                    name=name if isinstance(name, str) else f"#{i}",
                    group=group,
                    image=r.str(item, "image", f"{path}.image") or "",
                    loc=item.loc_of("name") if "name" in item else item.loc,
                    ports=read_ports(r, item, path),
                    security=read_security_context(r, item, path),
                    probe_hosts=read_probe_hosts(r, item, path),
                    command=read_command(item),
                    command_loc=item.loc_of("command")
                    if "command" in item
                    else (item.loc_of("args") if "args" in item else None),
                    env=read_env(r, item, path),
                    mounts=read_mounts(r, item, path),
                    command_items=read_command_items(item),
                )
            )
    return tuple(out)


def read_volumes(r: _Reader, spec: LMap, spec_path: str) -> tuple[Volume, ...]:
    items = r.list(spec, "volumes", f"{spec_path}.volumes")
    if items is None:
        return ()
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, LMap):
            r.wrong(items.loc_of(i), f"{spec_path}.volumes[{i}]", "a mapping", item)
            continue
        sources = sorted((k for k in item if k != "name"), key=str)
        source = sources[0] if sources else ""
        host = item.get("hostPath")
        host_path = host.get("path") if isinstance(host, LMap) and isinstance(host.get("path"), str) else None
        out.append(
            Volume(
                name=str(item.get("name", f"#{i}")),
                source=source,
                loc=item.loc_of(source) if source else item.loc,
                host_path=host_path,
                key_loc=item.key_loc(source) if source else None,
            )
        )
    return tuple(out)


def _host_flag(r: _Reader, spec: LMap, key: str, path: str) -> Setting[bool]:
    value = r.bool(spec, key, f"{path}.{key}")
    if value is None:
        return Setting(None, spec.loc, "unset")
    return Setting(value, spec.loc_of(key), "pod")


def _dig(body: LMap, path: tuple[str, ...], r: _Reader) -> tuple[LMap | None, LMap | None]:
    """Follow ``path``; return (pod template metadata holder, pod spec)."""
    node: Any = body
    template: LMap | None = None
    walked = []
    for key in path:
        walked.append(key)
        if not isinstance(node, LMap):
            return None, None
        if key not in node or node[key] is None:
            # A missing key is reported at the object's metadata.name line.
            meta = body.get("metadata")
            where = meta.loc_of("name") if isinstance(meta, LMap) and "name" in meta else body.loc
            r.missing(where, ".".join(walked), "the pods of this workload cannot be checked")
            return None, None
        nxt = node[key]
        if not isinstance(nxt, LMap):
            r.wrong(node.loc_of(key), ".".join(walked), "a mapping", nxt)
            return None, None
        if key == "template":
            template = nxt
        node = nxt
    return template, node


def build_workload(
    obj: KubeObject, namespace: str, problems: list[Finding], spec_override: tuple[LMap | None, LMap] | None = None
) -> Workload | None:
    subject = f"{obj.kind} {namespace}/{obj.name}"
    r = _Reader(subject, problems)
    if spec_override is not None:
        template, spec = spec_override
    else:
        template, spec = _dig(obj.body, POD_SPEC_PATHS[obj.kind], r)
    if spec is None:
        return None
    spec_path = ".".join(POD_SPEC_PATHS[obj.kind])
    if obj.kind == "Pod":
        labels = r.labels(obj.metadata, "labels", "metadata.labels")
        annotations = r.labels(obj.metadata, "annotations", "metadata.annotations")
        annotation_holder = obj.metadata.get("annotations")
    else:
        tmeta = template.get("metadata") if template is not None else None
        tmeta = tmeta if isinstance(tmeta, LMap) else None
        labels = r.labels(tmeta, "labels", "template.metadata.labels")
        annotations = r.labels(tmeta, "annotations", "template.metadata.annotations")
        annotation_holder = tmeta.get("annotations") if tmeta is not None else None
    annotation_locs = (
        {str(k): annotation_holder.key_loc(k) for k in annotation_holder} if isinstance(annotation_holder, LMap) else {}
    )
    sa = r.str(spec, "serviceAccountName", f"{spec_path}.serviceAccountName") or r.str(
        spec, "serviceAccount", f"{spec_path}.serviceAccount"
    )
    os_map = r.map(spec, "os", f"{spec_path}.os")
    extra: dict[str, Any] = {}
    selector = _controller_selector(r, obj)
    cronjob = None
    if obj.kind == "CronJob":
        extra["cronjob"] = obj.body.get("spec")
        cronjob = read_cronjob(r, obj.body, obj.loc)
    return Workload(
        kind=obj.kind,
        api_version=obj.api_version,
        name=obj.name,
        namespace=namespace,
        loc=obj.loc,
        pod_labels=MappingProxyType(labels),
        service_account=sa or "default",
        containers=read_containers(r, spec, spec_path),
        pod_security=read_security_context(r, spec, spec_path),
        volumes=read_volumes(r, spec, spec_path),
        host_network=_host_flag(r, spec, "hostNetwork", spec_path),
        host_pid=_host_flag(r, spec, "hostPID", spec_path),
        host_ipc=_host_flag(r, spec, "hostIPC", spec_path),
        host_users=r.bool(spec, "hostUsers", f"{spec_path}.hostUsers"),
        os_name=str(os_map.get("name")) if os_map is not None and os_map.get("name") is not None else None,
        spec_loc=spec.loc,
        annotations=MappingProxyType(annotations),
        annotation_locs=MappingProxyType(annotation_locs),
        extra=MappingProxyType(extra),
        selector=selector,
        cronjob=cronjob,
    )


_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


def _controller_selector(r: _Reader, obj: KubeObject) -> LabelSelector | None:
    """``spec.selector`` of a controller (a LabelSelector; a plain map for a
    ReplicationController).  Malformed selectors are left to the API server's
    validation and read as absent (then the pod labels identify the workload)."""
    spec = obj.body.get("spec")
    if obj.kind in ("Pod", "CronJob") or not isinstance(spec, LMap):
        return None
    raw = spec.get("selector")
    if not isinstance(raw, LMap):
        return None
    if obj.kind == "ReplicationController":
        return LabelSelector(MappingProxyType({str(k): _label_text(v) for k, v in raw.items()}))
    labels = raw.get("matchLabels")
    exprs = raw.get("matchExpressions")
    out_labels = {str(k): _label_text(v) for k, v in labels.items()} if isinstance(labels, LMap) else {}
    out_exprs = []
    for e in exprs if isinstance(exprs, LList) else ():
        if isinstance(e, LMap) and isinstance(e.get("key"), str) and e.get("operator") in _OPERATORS:
            values = e.get("values")
            out_exprs.append(
                (e["key"], e["operator"], tuple(sorted(str(v) for v in values)) if isinstance(values, LList) else ())
            )
    if not out_labels and not out_exprs:
        return None
    return LabelSelector(MappingProxyType(out_labels), tuple(out_exprs))


def _rollout_ref(
    obj: KubeObject, by_key: dict[tuple[str, str, str], KubeObject], namespace: str, problems: list[Finding]
) -> tuple[LMap | None, LMap] | None:
    """Argo Rollout ``spec.workloadRef``: the pod template lives in another object."""
    spec = obj.body.get("spec")
    ref = spec.get("workloadRef") if isinstance(spec, LMap) else None
    if not isinstance(ref, LMap):
        if ref is not None:
            _Reader(f"Rollout {namespace}/{obj.name}", problems).wrong(
                spec.loc_of("workloadRef"), "spec.workloadRef", "a mapping with kind and name", ref
            )
        return None
    kind, name = ref.get("kind"), ref.get("name")
    target = by_key.get((str(kind), namespace, str(name)))
    if target is None:
        problems.append(
            Finding(
                "INPUT002",
                f"Rollout {namespace}/{obj.name}: workloadRef {kind}/{name} is not among the scanned manifests; "
                "its pods cannot be checked",
                spec.loc_of("workloadRef"),
                subject=f"Rollout {namespace}/{obj.name}",
                detail="workloadRef",
            )
        )
        return None
    path = POD_SPEC_PATHS.get(target.kind)
    if path is None:
        return None
    template, pod_spec = _dig(target.body, path, _Reader(f"{target.kind} {namespace}/{target.name}", problems))
    if pod_spec is None:
        return None
    return template, pod_spec


def build_model(objects: list[KubeObject], default_namespace: str = "default") -> Model:
    model = Model()
    problems = model.problems
    # Objects defined twice: the last definition kubectl applies is the live one (INPUT006).
    objects, duplicates = live_objects(objects, default_namespace)
    problems.extend(duplicates)

    def ns_of(obj: KubeObject) -> str:
        return obj.namespace or default_namespace

    for obj in objects:  # misspelt fields: dropped by a lenient API server, as the model ignores them (INPUT005)
        problems.extend(
            unknown_fields(
                obj, f"{obj.kind} {ns_of(obj)}/{obj.name}" if _is_namespaced(obj) else f"{obj.kind} {obj.name}"
            )
        )
    by_key = {(o.kind, ns_of(o), o.name): o for o in objects}
    referenced = _rollout_targets(objects, ns_of)
    for obj in objects:
        if obj.kind == "Namespace" and obj.api_version == "v1":
            model.namespaces[obj.name] = _build_namespace(obj, problems)
    for obj in objects:
        namespace = ns_of(obj)
        if (obj.kind, namespace, obj.name) not in referenced:  # else scanned as the Rollout that owns it
            _add_object(model, obj, namespace, by_key)
        if obj.kind != "Namespace" and namespace not in model.namespaces and _is_namespaced(obj):
            model.namespaces[namespace] = Namespace(
                namespace, MappingProxyType({"kubernetes.io/metadata.name": namespace}), obj.loc, False
            )
    model.workloads.sort(key=lambda w: (w.namespace, w.name, w.kind))
    model.operated.sort(key=lambda w: (w.namespace, w.name, w.kind))
    model.services.sort(key=lambda s: (s.namespace, s.name))
    model.namespaces = dict(sorted(model.namespaces.items()))
    return model


def _rollout_targets(objects: list[KubeObject], ns_of: Callable[[KubeObject], str]) -> set[tuple[str, str, str]]:
    """(kind, namespace, name) of every workload a Rollout's ``workloadRef`` names."""
    out = set()
    for obj in objects:
        spec = obj.body.get("spec") if obj.kind == "Rollout" else None
        ref = spec.get("workloadRef") if isinstance(spec, LMap) else None
        if isinstance(ref, LMap) and "template" not in spec:
            out.add((str(ref.get("kind")), ns_of(obj), str(ref.get("name"))))
    return out


def _build_namespace(obj: KubeObject, problems: list[Finding]) -> Namespace:
    labels = _Reader(f"Namespace {obj.name}", problems).labels(obj.metadata, "labels", "metadata.labels")
    # The API server always sets this label (Kubernetes >= 1.21).
    labels.setdefault("kubernetes.io/metadata.name", obj.name)
    return Namespace(obj.name, MappingProxyType(labels), obj.loc, True)


def _add_object(
    model: Model, obj: KubeObject, namespace: str, by_key: Mapping[tuple[str, str, str], KubeObject]
) -> None:
    """A workload, an operator-managed pod set or a Service into the model."""
    problems = model.problems
    if obj.kind in POD_SPEC_PATHS and obj.kind != "PodTemplate":
        override = _rollout_ref(obj, by_key, namespace, problems) if obj.kind == "Rollout" else None
        rollout_spec = obj.body.get("spec")
        if (
            obj.kind == "Rollout"
            and override is None
            and isinstance(rollout_spec, LMap)
            and "template" not in rollout_spec
            and "workloadRef" in rollout_spec
        ):
            return  # the workloadRef problem is reported by _rollout_ref
        workload = build_workload(obj, namespace, problems, override)
        if workload is not None:
            model.workloads.append(workload)
    elif obj.group == GROUP:
        model.operated.extend(operated_workloads(obj, namespace))
    elif obj.kind == "Service" and obj.api_version == "v1":
        service = _build_service(obj, namespace, problems)
        if service is not None:
            model.services.append(service)


def _is_namespaced(obj: KubeObject) -> bool:
    return obj.kind not in CLUSTER_SCOPED


def _build_service(obj: KubeObject, namespace: str, problems: list[Finding]) -> Service | None:
    r = _Reader(f"Service {namespace}/{obj.name}", problems)
    spec = r.map(obj.body, "spec", "spec")
    if spec is None:
        return None
    selector = r.labels(spec, "selector", "spec.selector") if "selector" in spec else None
    ports = []
    for i, p in enumerate(r.list(spec, "ports", "spec.ports") or []):
        if not isinstance(p, LMap):
            continue
        port = _port_number(p.get("port"))
        if port is None:
            r.wrong(p.loc_of("port"), f"spec.ports[{i}].port", "a port number between 1 and 65535", p.get("port"))
            continue
        if not 1 <= port <= 65535:
            r.out_of_range(p.loc_of("port"), f"spec.ports[{i}].port", "a port number between 1 and 65535")
            continue
        target = p.get("targetPort", port)
        if (
            isinstance(target, bool)
            or not isinstance(target, (int, str))
            or (isinstance(target, int) and not 1 <= target <= 65535)
        ):
            r.wrong(p.loc_of("targetPort"), f"spec.ports[{i}].targetPort", "a port number or a port name", target)
            target = port
        protocol = r.str(p, "protocol", f"spec.ports[{i}].protocol") or "TCP"
        if protocol not in PROTOCOLS:
            r.wrong(p.loc_of("protocol"), f"spec.ports[{i}].protocol", "TCP, UDP or SCTP", protocol, PROTOCOLS)
            protocol = "TCP"
        ports.append(ServicePort(port, target, protocol, r.str(p, "name", f"spec.ports[{i}].name")))
    labels = r.labels(obj.metadata, "labels", "metadata.labels")
    return Service(
        obj.name,
        namespace,
        MappingProxyType(selector) if selector is not None else None,
        tuple(ports),
        obj.loc,
        MappingProxyType(labels),
    )


def effective(workload: Workload, container: Container, field_name: str, yaml_path: str) -> Setting[Any]:
    """The value that takes effect for a container: the container's own setting if
    written, else the pod-level one (only for fields that exist at pod level).
    ``yaml_path`` is the key inside ``securityContext`` (``seccompProfile.type``)."""
    own = getattr(container.security, field_name)
    path = yaml_path
    if own is not None:
        return Setting(own, container.security.where(path), "container")
    if field_name not in POD_LEVEL_FIELDS:
        return Setting(None, container.loc, "unset")
    pod_value = getattr(workload.pod_security, field_name, None)
    if pod_value is not None:
        return Setting(pod_value, workload.pod_security.where(path), "pod")
    return Setting(None, container.loc, "unset")
