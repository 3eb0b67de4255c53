"""SEC001-SEC007: the documented SecurityContext table against the manifests.

The table is ``securityContext.workloads`` of the policy file, keyed
``namespace/name``; ``WorkloadSecurity.for_container(name)`` gives what one
container is promised, defaults merged.  A field that is ``None`` there
promises nothing and is never checked.

Semantics, shared by every rule here:

* **Effective value.**  A container-level setting overrides the pod-level one
  (``runAsNonRoot``, ``runAsUser``, ``runAsGroup``, ``seccompProfile``);
  fields that only exist on containers (``allowPrivilegeEscalation``,
  ``readOnlyRootFilesystem``, ``privileged``, ``capabilities``) are read from
  the container only, and ``fsGroup`` from the pod only.
* **Absent values.**  Where Kubernetes has a fixed default (``runAsNonRoot``
  unset = not enforced = false, ``allowPrivilegeEscalation`` unset = true,
  ``readOnlyRootFilesystem`` and ``privileged`` unset = false) an absent field
  is compared through that default.  Where the value comes from the image
  (``runAsUser``, ``runAsGroup``, ``fsGroup``) or the node (``seccompProfile``),
  a documented but absent field is a finding at the container's ``name`` line
  (or the pod spec) saying what is missing.
* **Containers** are init, regular and ephemeral containers alike.
* **Capabilities** are compared by meaning: ``CAP_NET_RAW`` and ``net_raw``
  both name ``NET_RAW`` here (the Pod Security rules compare literally).

Every finding carries ``workload`` and ``container`` so documented exceptions
(applied centrally by ``scanner.scan``) can suppress it visibly.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from ..findings import Finding
from ..located import Loc
from ..model.build import effective
from ..model.types import Container, Setting, Workload
from ..names import did_you_mean
from ..policy import SecurityExpectation, WorkloadSecurity
from ..promises import row_key, table_namespace_key
from .base import CheckContext, workload_finding
from .unread import may_be_there

_UNSET = object()

# Fields that exist only on containers: a pod-level value is not valid
# Kubernetes (the API server drops or rejects it) and never takes effect.
_CONTAINER_ONLY = frozenset(
    {"allow_privilege_escalation", "privileged", "read_only_root_filesystem", "capabilities_add", "capabilities_drop"}
)


@dataclass(frozen=True, slots=True)
class Field:
    """One scalar row of the table: where it lives in the manifest and in the table."""

    rule_id: str
    attr: str  # attribute of SecurityContext and SecurityExpectation
    key: str  # path inside ``securityContext`` (also the table key)
    default: Any = _UNSET  # what Kubernetes does when the field is unset
    pod_only: bool = False
    expectation_attr: str = ""  # when the table calls it differently

    @property
    def table_attr(self) -> str:
        return self.expectation_attr or self.attr

    @property
    def table_key(self) -> str:
        return self.key.split(".", 1)[0]


FIELDS: tuple[Field, ...] = (
    Field("SEC001", "run_as_non_root", "runAsNonRoot", default=False),
    Field("SEC001", "run_as_user", "runAsUser"),
    Field("SEC002", "allow_privilege_escalation", "allowPrivilegeEscalation", default=True),
    Field("SEC005", "read_only_root_filesystem", "readOnlyRootFilesystem", default=False),
    Field("SEC005", "run_as_group", "runAsGroup"),
    Field("SEC005", "seccomp_type", "seccompProfile.type", expectation_attr="seccomp_profile"),
    Field("SEC005", "fs_group", "fsGroup", pod_only=True),
)


def show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


def container_setting(workload: Workload, container: Container, attr: str, key: str) -> Setting[Any]:
    """The value that takes effect for ``container`` and where it is written."""
    if attr in _CONTAINER_ONLY:
        own = getattr(container.security, attr)
        if own is None:
            return Setting(None, container.loc, "unset")
        return Setting(own, container.security.where(key), "container")
    return effective(workload, container, attr, key)


def _with_table_loc(finding: Finding, expectation: SecurityExpectation, key: str) -> Finding:
    where = expectation.locs.get(key)
    return replace(finding, related=(where,)) if where is not None else finding


def _compare(field: Field, expected: Any, actual: Setting[Any]) -> str | None:
    """The message for a mismatch, or None when the manifest keeps the promise."""
    if actual.is_set:
        if actual.value == expected:
            return None
        return f"{field.key} is {show(actual.value)} (set on the {actual.source}); the table documents {show(expected)}"
    if field.default is not _UNSET:
        if field.default == expected:
            return None
        return (
            f"{field.key} is not set (Kubernetes then uses {show(field.default)}); the table documents {show(expected)}"
        )
    where = (
        "the pod"
        if field.pod_only
        else ("the container" if field.attr in _CONTAINER_ONLY else "the container or the pod")
    )
    return f"{field.key} is not set on {where}; the table documents {show(expected)}"


def _table_entries(ctx: CheckContext) -> Iterator[tuple[Workload, WorkloadSecurity]]:
    table = ctx.policy.security.workloads
    for workload in ctx.model.workloads:
        entry = table.get(workload.ref)
        if entry is not None:
            yield workload, entry


def _field_findings(ctx: CheckContext, rule_id: str) -> Iterator[Finding]:
    fields = [f for f in FIELDS if f.rule_id == rule_id]
    for workload, entry in _table_entries(ctx):
        for field in fields:
            if field.pod_only:
                expected = getattr(entry.expectation, field.table_attr)
                if expected is None:
                    continue
                value = getattr(workload.pod_security, field.attr)
                actual = (
                    Setting(value, workload.pod_security.where(field.key), "pod")
                    if value is not None
                    else Setting(None, workload.pod_security.loc, "unset")
                )
                message = _compare(field, expected, actual)
                if message:
                    finding = workload_finding(rule_id, workload, message, actual.loc, detail=field.key)
                    yield _with_table_loc(finding, entry.expectation, field.table_key)
                continue
            for container in workload.containers:
                expectation = entry.for_container(container.name)
                expected = getattr(expectation, field.table_attr)
                if expected is None:
                    continue
                actual = container_setting(workload, container, field.attr, field.key)
                message = _compare(field, expected, actual)
                if message:
                    finding = workload_finding(
                        rule_id, workload, message, actual.loc, container=container, detail=field.key
                    )
                    yield _with_table_loc(finding, expectation, field.table_key)


def check_sec001(ctx: CheckContext) -> Iterable[Finding]:
    """runAsNonRoot / runAsUser differ from the table."""
    return _field_findings(ctx, "SEC001")


def check_sec002(ctx: CheckContext) -> Iterable[Finding]:
    """allowPrivilegeEscalation differs from the table."""
    return _field_findings(ctx, "SEC002")


def check_sec005(ctx: CheckContext) -> Iterable[Finding]:
    """readOnlyRootFilesystem, runAsGroup, seccompProfile or fsGroup differ from the table."""
    return _field_findings(ctx, "SEC005")


def capability_name(name: str) -> str:
    """``cap_net_raw`` -> ``NET_RAW``: the meaning, for comparing with the table."""
    upper = name.strip().upper()
    return upper.removeprefix("CAP_")


def check_sec003(ctx: CheckContext) -> Iterator[Finding]:
    """A documented drop is not dropped, or a capability is added beyond the documented add set."""
    for workload, entry in _table_entries(ctx):
        for container in workload.containers:
            expectation = entry.for_container(container.name)
            sc = container.security
            want_drop = expectation.capabilities_drop
            if want_drop:
                dropped = {capability_name(c) for c in sc.capabilities_drop or ()}
                missing = [c for c in want_drop if "ALL" not in dropped and capability_name(c) not in dropped]
                if sc.capabilities_drop is None:
                    message = f"capabilities.drop is not set; the table documents drop {show(want_drop)}"
                    loc = container.loc
                elif missing:
                    message = (
                        f"capabilities.drop is {show(sc.capabilities_drop)}, which does not drop {show(missing)}; "
                        f"the table documents drop {show(want_drop)}"
                    )
                    loc = sc.where("capabilities.drop")
                else:
                    message = ""
                if message:
                    finding = workload_finding(
                        "SEC003", workload, message, loc, container=container, detail="capabilities.drop"
                    )
                    yield _with_table_loc(finding, expectation, "capabilities.drop")
            allowed = expectation.capabilities_add
            if allowed is None:
                continue
            allowed_names = {capability_name(c) for c in allowed}
            for i, cap in enumerate(sc.capabilities_add or ()):
                name = capability_name(cap)
                if name in allowed_names or "ALL" in allowed_names:
                    continue
                documented = (
                    f"documented add: {show(allowed)}" if allowed else "the table documents no added capabilities"
                )
                message = f"capabilities.add adds {cap}, beyond the documented add set ({documented})"
                loc = sc.locs.get(f"capabilities.add[{i}]", sc.where("capabilities.add"))
                finding = workload_finding(
                    "SEC003", workload, message, loc, container=container, detail=f"capabilities.add:{name}"
                )
                yield _with_table_loc(finding, expectation, "capabilities.add")


def _host_access(workload: Workload) -> Iterator[tuple[str, Loc, Container | None, str]]:
    """(message, location, container, detail) for every kind of host access the pod asks for."""
    for key, setting, what in (
        ("hostNetwork", workload.host_network, "network"),
        ("hostPID", workload.host_pid, "process (PID)"),
        ("hostIPC", workload.host_ipc, "IPC"),
    ):
        if setting.value is True:
            yield f"{key} is true: the pod shares the node's {what} namespace", setting.loc, None, key
    for volume in workload.volumes:
        if volume.source == "hostPath":
            path = f" {volume.host_path}" if volume.host_path else ""
            yield (
                f"volume '{volume.name}' mounts the node's filesystem (hostPath{path})",
                volume.key_loc or volume.loc,
                None,
                f"hostPath:{volume.name}",
            )
    for container in workload.containers:
        if container.security.privileged is True:
            yield "privileged is true", container.security.where("privileged"), container, "privileged"
        for port in container.ports:
            if port.host_port:
                yield (
                    f"hostPort {port.host_port} binds a port on the node",
                    port.loc,
                    container,
                    f"hostPort:{port.host_port}/{port.protocol}",
                )


def check_sec004(ctx: CheckContext) -> Iterator[Finding]:
    """Privileged mode, host namespaces, hostPath volumes and hostPorts the table does not document.

    The table documents this kind of host access with ``privileged: true`` (a
    privileged container already has the node; host namespaces, hostPath and
    hostPort add nothing it could not reach)."""
    for workload, entry in _table_entries(ctx):
        for message, loc, container, detail in _host_access(workload):
            expectation = entry.for_container(container.name) if container is not None else entry.expectation
            if expectation.privileged is True:
                continue
            why = (
                "the table documents privileged: false"
                if expectation.privileged is False
                else "the table does not document privileged access for it"
            )
            finding = workload_finding("SEC004", workload, f"{message}; {why}", loc, container=container, detail=detail)
            yield _with_table_loc(finding, expectation, "privileged")


def check_sec006(ctx: CheckContext) -> Iterator[Finding]:
    """A workload in a namespace the table documents completely is missing from the table."""
    section = ctx.policy.security
    documented = set(section.namespaces)
    for workload in ctx.model.workloads:
        if workload.namespace in documented and workload.ref not in section.workloads:
            finding = workload_finding(
                "SEC006",
                workload,
                f"not in the SecurityContext table, which documents namespace '{workload.namespace}' completely; "
                f"add a row '{workload.ref}' (inheritDefaults: false documents a '-' row)",
                workload.loc,
                detail="undocumented",
            )
            yield replace(finding, related=(section.loc,)) if section.loc is not None else finding


def check_sec007(ctx: CheckContext) -> Iterator[Finding]:
    """A table row (or a container named in it) that matches nothing in the manifests."""
    present: dict[str, list[Workload]] = {}
    for workload in ctx.model.workloads:
        present.setdefault(workload.ref, []).append(workload)
    for ref, entry in ctx.policy.security.workloads.items():
        workloads = present.get(ref)
        if not workloads:
            # No Workload object to hang this on: build the finding by hand, with
            # ``workload`` set so an exception on the row could still cover it.
            yield Finding(
                rule_id="SEC007",
                message=f"the SecurityContext table documents workload '{ref}', but no workload of that "
                f"namespace and name is in the scanned manifests{did_you_mean(ref, present)}{may_be_there(ctx)}",
                loc=entry.loc,
                subject=f"SecurityContext table row {ref}",
                detail="missing-workload",
                workload=ref,
            )
            continue
        names = {c.name for w in workloads for c in w.containers}
        for name in entry.containers:
            if name not in names:
                yield workload_finding(
                    "SEC007",
                    workloads[0],
                    f"the SecurityContext table documents container '{name}', which this workload does not have "
                    f"(containers: {', '.join(sorted(names)) or 'none'})",
                    entry.loc,
                    detail=f"missing-container:{name}",
                )


def _promised(check):
    """Tag each finding with the table promise it breaks: the row of its workload, or
    (SEC006) the completeness of its namespace."""

    def run(ctx: CheckContext) -> Iterator[Finding]:
        for f in check(ctx):
            if f.rule_id == "SEC006":
                yield replace(f, promises=(table_namespace_key(f.workload.split("/", 1)[0]),))
            else:
                yield replace(f, promises=(row_key(f.workload),))

    run.__doc__ = check.__doc__
    return run


CHECKS = {
    rule: _promised(fn)
    for rule, fn in {
        "SEC001": check_sec001,
        "SEC002": check_sec002,
        "SEC003": check_sec003,
        "SEC004": check_sec004,
        "SEC005": check_sec005,
        "SEC006": check_sec006,
        "SEC007": check_sec007,
    }.items()
}
