"""Pod Security Standards: every baseline and restricted control, as admission enforces it.

Each control mirrors one upstream check of ``k8s.io/pod-security-admission``
(``staging/src/k8s.io/pod-security-admission/policy/check_<id>.go`` in
kubernetes/kubernetes) at the latest policy version, ``latest``:

* a namespace's level is its ``pod-security.kubernetes.io/enforce`` label, else
  the policy default, else baseline; ``privileged`` checks nothing and
  ``restricted`` runs every baseline control too, except the four that a
  restricted check replaces (upstream ``OverrideCheckIDs``):
  capabilities_baseline -> capabilities_restricted, hostPathVolumes ->
  restrictedVolumes, seccompProfile_baseline -> seccompProfile_restricted,
  procMount -> procMount_restricted;
* ``spec.os.name: windows`` exempts allowPrivilegeEscalation,
  seccompProfile_restricted and capabilities_restricted (policy 1.25+);
* ``spec.hostUsers: false`` (a user-namespaced pod) exempts runAsNonRoot,
  runAsUser and the baseline procMount check (policy 1.35+), never
  procMount_restricted;
* containers are init, regular and ephemeral containers;
* values are compared literally, as upstream does: ``CAP_CHOWN`` is not
  ``CHOWN`` and ``drop: [all]`` is not ``drop: [ALL]``.

``enforce-version`` pins are not modelled: every namespace is checked at
``latest``.  Where upstream reports one violation per pod, we report one
finding per offending setting, at its line, so each can be fixed (and
excepted) where it is written.

Controls are data: a ``Control`` names its rule, upstream check, level and
relaxations, and an ``evaluate`` function built from a few templates
(explicit setters on pod and containers; a value that must be set on the pod
or on every container; container and volume scans).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

from ..findings import Finding
from ..located import Loc
from ..model.types import Container, SecurityContext, Workload
from .base import CheckContext, workload_finding


@dataclass(frozen=True, slots=True)
class Violation:
    message: str
    loc: Loc
    container: Container | None = None
    detail: str = ""


Evaluate = Callable[[Workload], Iterable[Violation]]


@dataclass(frozen=True, slots=True)
class Control:
    rule_id: str
    check_id: str  # upstream check id
    level: str  # "baseline" or "restricted"
    source: str  # upstream file under policy/
    evaluate: Evaluate
    linux_only: bool = False  # skipped for spec.os.name: windows
    user_namespace_relaxed: bool = False  # skipped for spec.hostUsers: false
    overrides: str | None = None  # the baseline rule this restricted control replaces


def _where(sc: SecurityContext, *paths: str, default: Loc | None = None) -> Loc:
    for path in paths:
        if path in sc.locs:
            return sc.locs[path]
    return default if default is not None else sc.loc


def _q(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return f'"{value}"' if isinstance(value, str) else str(value)


# --- templates ---------------------------------------------------------------


def explicit_setters(
    workload: Workload,
    attr: str,
    key: str,
    bad: Callable[[Any], bool],
    rule: str,
    *,
    pod_level: bool = True,
) -> Iterator[Violation]:
    """Every place (pod, then each container) that explicitly sets ``attr`` to a bad value."""
    if pod_level:
        value = getattr(workload.pod_security, attr)
        if value is not None and bad(value):
            yield Violation(
                f"pod securityContext.{key} is {_q(value)}; {rule}",
                _where(workload.pod_security, key),
                None,
                f"pod:{key}",
            )
    for container in workload.containers:
        value = getattr(container.security, attr)
        if value is not None and bad(value):
            yield Violation(
                f"securityContext.{key} is {_q(value)}; {rule}",
                _where(container.security, key),
                container,
                key,
            )


def required_with_pod_default(
    workload: Workload, attr: str, key: str, good: Callable[[Any], bool], rule: str
) -> Iterator[Violation]:
    """A value that must be good on the pod (covering all containers) or on every container.

    A bad explicit value anywhere is a violation, even when another level is
    good (upstream: the pod-level ``runAsNonRoot: false`` is rejected even if
    every container sets true).  A container that leaves it unset is only a
    violation when the pod does not set a good value either."""
    pod_value = getattr(workload.pod_security, attr)
    pod_good = pod_value is not None and good(pod_value)
    if pod_value is not None and not pod_good:
        yield Violation(
            f"pod securityContext.{key} is {_q(pod_value)}; {rule}",
            _where(workload.pod_security, key),
            None,
            f"pod:{key}",
        )
    for container in workload.containers:
        value = getattr(container.security, attr)
        if value is not None:
            if not good(value):
                yield Violation(
                    f"securityContext.{key} is {_q(value)}; {rule}", _where(container.security, key), container, key
                )
        elif pod_value is None:
            yield Violation(
                f"securityContext.{key} is not set on the container or the pod; {rule}",
                container.loc,
                container,
                key,
            )


# --- baseline ------------------------------------------------------------------


def host_process(w: Workload) -> Iterator[Violation]:
    # check_windowsHostProcess.go
    yield from explicit_setters(
        w,
        "windows_host_process",
        "windowsOptions.hostProcess",
        lambda v: v is True,
        "baseline forbids Windows HostProcess containers (privileged access to the Windows node)",
    )


def host_namespaces(w: Workload) -> Iterator[Violation]:
    # check_hostNamespaces.go
    for key, setting in (("hostNetwork", w.host_network), ("hostPID", w.host_pid), ("hostIPC", w.host_ipc)):
        if setting.value is True:
            yield Violation(f"{key} is true; baseline forbids sharing the node's namespaces", setting.loc, None, key)


def privileged(w: Workload) -> Iterator[Violation]:
    # check_privileged.go
    yield from explicit_setters(
        w, "privileged", "privileged", lambda v: v is True, "baseline forbids privileged containers", pod_level=False
    )


# check_capabilities_baseline.go: capabilities_allowed_1_0
BASELINE_CAPABILITIES = frozenset(
    {
        "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
        "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
    }
)  # fmt: skip


def _added(container: Container) -> Iterator[tuple[str, Loc]]:
    sc = container.security
    for i, cap in enumerate(sc.capabilities_add or ()):
        yield cap, _where(sc, f"capabilities.add[{i}]", "capabilities.add")


def capabilities_baseline(w: Workload) -> Iterator[Violation]:
    # check_capabilities_baseline.go (names compared literally: "CAP_CHOWN" is not in the set)
    for container in w.containers:
        for cap, loc in _added(container):
            if cap not in BASELINE_CAPABILITIES:
                yield Violation(
                    f'capabilities.add includes "{cap}"; baseline only allows adding '
                    f"{', '.join(sorted(BASELINE_CAPABILITIES))}",
                    loc,
                    container,
                    f"capabilities.add:{cap}",
                )


def host_path_volumes(w: Workload) -> Iterator[Violation]:
    # check_hostPathVolumes.go
    for volume in w.volumes:
        if volume.source == "hostPath":
            yield Violation(
                f"volume '{volume.name}' is a hostPath volume; baseline forbids hostPath volumes",
                volume.key_loc or volume.loc,
                None,
                f"volume:{volume.name}",
            )


def host_ports(w: Workload) -> Iterator[Violation]:
    # check_hostPorts.go: any non-zero hostPort (the standard's "known list" is not implemented by admission)
    for container in w.containers:
        for port in container.ports:
            if port.host_port:
                yield Violation(
                    f"ports set hostPort {port.host_port}; baseline forbids host ports",
                    port.loc,
                    container,
                    f"hostPort:{port.host_port}/{port.protocol}",
                )


def host_probes_and_lifecycle(w: Workload) -> Iterator[Violation]:
    # check_hostProbesAndhostLifecycle.go (policy 1.34+): a non-empty host in httpGet/tcpSocket of probes and hooks
    for container in w.containers:
        for probe in container.probe_hosts:
            if probe.host != "":
                handler = _handler(probe.path)
                yield Violation(
                    f'{handler} is "{probe.host}"; baseline forbids probes and lifecycle handlers '
                    "that target another host",
                    probe.loc,
                    container,
                    handler,
                )


def _handler(path: str) -> str:
    """``spec.containers[0].livenessProbe.httpGet.host`` -> ``livenessProbe.httpGet.host``."""
    parts = path.split(".")
    for i, part in enumerate(parts):
        if part.endswith("Probe") or part == "lifecycle":
            return ".".join(parts[i:])
    return path


# check_appArmorProfile.go
APPARMOR_TYPES = frozenset({"RuntimeDefault", "Localhost"})
APPARMOR_ANNOTATION_PREFIX = "container.apparmor.security.beta.kubernetes.io/"


def _apparmor_annotation_allowed(value: str) -> bool:
    return value == "" or value == "runtime/default" or value.startswith("localhost/")


def apparmor_profile(w: Workload) -> Iterator[Violation]:
    yield from explicit_setters(
        w,
        "apparmor_type",
        "appArmorProfile.type",
        lambda v: v not in APPARMOR_TYPES,
        'baseline allows only "RuntimeDefault" or "Localhost"',
    )
    by_name = {c.name: c for c in w.containers}
    for key, value in sorted(w.annotations.items()):
        if key.startswith(APPARMOR_ANNOTATION_PREFIX) and not _apparmor_annotation_allowed(value):
            yield Violation(
                f'annotation {key} is "{value}"; baseline allows only "runtime/default" or "localhost/<profile>"',
                w.annotation_locs.get(key, w.loc),
                by_name.get(key[len(APPARMOR_ANNOTATION_PREFIX) :]),
                f"annotation:{key}",
            )


# check_seLinuxOptions.go: selinuxAllowedTypes1_31 ("" means unset)
SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"})


def selinux_options(w: Workload) -> Iterator[Violation]:
    rule = "baseline forbids custom SELinux options"
    for sub, attr, bad, allowed in (
        (
            "type",
            "selinux_type",
            lambda v: v not in SELINUX_TYPES,
            "type may only be " + ", ".join(sorted(SELINUX_TYPES - {""})),
        ),
        ("user", "selinux_user", lambda v: v != "", "user may not be set"),
        ("role", "selinux_role", lambda v: v != "", "role may not be set"),
    ):
        yield from explicit_setters(w, attr, f"seLinuxOptions.{sub}", bad, f"{rule} ({allowed})")


def proc_mount_baseline(w: Workload) -> Iterator[Violation]:
    # check_procMount_baseline.go (relaxed for hostUsers: false at 1.35 via the Control flag)
    yield from _proc_mount(w, "baseline")


def proc_mount_restricted(w: Workload) -> Iterator[Violation]:
    # check_procMount_restricted.go (1.35+): no user-namespace relaxation
    yield from _proc_mount(w, "restricted")


def _proc_mount(w: Workload, level: str) -> Iterator[Violation]:
    yield from explicit_setters(
        w,
        "proc_mount",
        "procMount",
        lambda v: v != "Default",
        f'{level} only allows "Default" (the masked /proc)',
        pod_level=False,
    )


def seccomp_baseline(w: Workload) -> Iterator[Violation]:
    # check_seccompProfile_baseline.go (1.19+: the fields; the old annotations are no longer read)
    yield from explicit_setters(
        w, "seccomp_type", "seccompProfile.type", lambda v: v == "Unconfined", 'baseline forbids "Unconfined"'
    )


# check_sysctls.go: the safe set at the latest policy version (1.0 + 1.27 + 1.29 + 1.32 + 1.37)
SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
        "net.ipv4.tcp_rmem",
        "net.ipv4.tcp_wmem",
        "net.ipv4.tcp_slow_start_after_idle",
        "net.ipv4.tcp_notsent_lowat",
    }
)


def sysctls(w: Workload) -> Iterator[Violation]:
    for name, loc in w.pod_security.sysctls:
        if name not in SAFE_SYSCTLS:
            yield Violation(
                f'sysctl "{name}" is not in the safe set; baseline allows only namespaced, isolated sysctls',
                loc,
                None,
                f"sysctl:{name}",
            )


# --- restricted ----------------------------------------------------------------

# check_restrictedVolumes.go; a volume with no source is defaulted to emptyDir by the API server.
RESTRICTED_VOLUME_SOURCES = frozenset(
    {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "image",
        "persistentVolumeClaim",
        "projected",
        "secret",
        "",
    }
)


def restricted_volumes(w: Workload) -> Iterator[Violation]:
    for volume in w.volumes:
        if volume.source not in RESTRICTED_VOLUME_SOURCES:
            yield Violation(
                f"volume '{volume.name}' is a {volume.source} volume; restricted allows only "
                + ", ".join(sorted(RESTRICTED_VOLUME_SOURCES - {""})),
                volume.key_loc or volume.loc,
                None,
                f"volume:{volume.name}",
            )


def allow_privilege_escalation(w: Workload) -> Iterator[Violation]:
    # check_allowPrivilegeEscalation.go: must be explicitly false; unset means true
    for container in w.containers:
        value = container.security.allow_privilege_escalation
        if value is None:
            yield Violation(
                "securityContext.allowPrivilegeEscalation is not set (it defaults to true); restricted requires false",
                container.loc,
                container,
                "allowPrivilegeEscalation",
            )
        elif value is not False:
            yield Violation(
                "securityContext.allowPrivilegeEscalation is true; restricted requires false",
                _where(container.security, "allowPrivilegeEscalation"),
                container,
                "allowPrivilegeEscalation",
            )


def run_as_non_root(w: Workload) -> Iterator[Violation]:
    # check_runAsNonRoot.go
    yield from required_with_pod_default(
        w, "run_as_non_root", "runAsNonRoot", lambda v: v is True, "restricted requires runAsNonRoot: true"
    )


def run_as_user(w: Workload) -> Iterator[Violation]:
    # check_runAsUser.go: 0 is forbidden anywhere; unset is allowed
    yield from explicit_setters(w, "run_as_user", "runAsUser", lambda v: v == 0, "restricted forbids running as UID 0")


SECCOMP_TYPES = frozenset({"RuntimeDefault", "Localhost"})


def seccomp_restricted(w: Workload) -> Iterator[Violation]:
    # check_seccompProfile_restricted.go
    yield from required_with_pod_default(
        w,
        "seccomp_type",
        "seccompProfile.type",
        lambda v: v in SECCOMP_TYPES,
        'restricted requires seccompProfile.type "RuntimeDefault" or "Localhost"',
    )


def capabilities_restricted(w: Workload) -> Iterator[Violation]:
    # check_capabilities_restricted.go: drop must contain "ALL"; add may only hold "NET_BIND_SERVICE"
    for container in w.containers:
        sc = container.security
        drop = sc.capabilities_drop
        if drop is None or "ALL" not in drop:
            shown = "is not set" if drop is None else f"is [{', '.join(drop)}]"
            yield Violation(
                f'securityContext.capabilities.drop {shown}; restricted requires it to include "ALL"',
                _where(sc, "capabilities.drop", "capabilities", default=container.loc),
                container,
                "capabilities.drop",
            )
        for cap, loc in _added(container):
            if cap != "NET_BIND_SERVICE":
                yield Violation(
                    f'capabilities.add includes "{cap}"; restricted only allows adding "NET_BIND_SERVICE"',
                    loc,
                    container,
                    f"capabilities.add:{cap}",
                )


# --- the table of controls ---------------------------------------------------------

CONTROLS: tuple[Control, ...] = (
    Control("PSS-windowsHostProcess", "windowsHostProcess", "baseline", "check_windowsHostProcess.go", host_process),
    Control("PSS-hostNamespaces", "hostNamespaces", "baseline", "check_hostNamespaces.go", host_namespaces),
    Control("PSS-privileged", "privileged", "baseline", "check_privileged.go", privileged),
    Control("PSS-capabilities-baseline", "capabilities_baseline", "baseline", "check_capabilities_baseline.go", capabilities_baseline),
    Control("PSS-hostPathVolumes", "hostPathVolumes", "baseline", "check_hostPathVolumes.go", host_path_volumes),
    Control("PSS-hostPorts", "hostPorts", "baseline", "check_hostPorts.go", host_ports),
    Control(
        "PSS-hostProbesAndHostLifecycle", "hostProbesAndHostLifecycle", "baseline",
        "check_hostProbesAndhostLifecycle.go", host_probes_and_lifecycle,
    ),
    Control("PSS-appArmorProfile", "appArmorProfile", "baseline", "check_appArmorProfile.go", apparmor_profile),
    Control("PSS-seLinuxOptions", "seLinuxOptions", "baseline", "check_seLinuxOptions.go", selinux_options),
    Control(
        "PSS-procMount", "procMount", "baseline", "check_procMount_baseline.go", proc_mount_baseline,
        user_namespace_relaxed=True,
    ),
    Control("PSS-seccompProfile-baseline", "seccompProfile_baseline", "baseline", "check_seccompProfile_baseline.go", seccomp_baseline),
    Control("PSS-sysctls", "sysctls", "baseline", "check_sysctls.go", sysctls),
    Control(
        "PSS-restrictedVolumes", "restrictedVolumes", "restricted", "check_restrictedVolumes.go", restricted_volumes,
        overrides="PSS-hostPathVolumes",
    ),
    Control(
        "PSS-allowPrivilegeEscalation", "allowPrivilegeEscalation", "restricted", "check_allowPrivilegeEscalation.go",
        allow_privilege_escalation, linux_only=True,
    ),
    Control(
        "PSS-runAsNonRoot", "runAsNonRoot", "restricted", "check_runAsNonRoot.go", run_as_non_root,
        user_namespace_relaxed=True,
    ),
    Control(
        "PSS-runAsUser", "runAsUser", "restricted", "check_runAsUser.go", run_as_user, user_namespace_relaxed=True
    ),
    Control(
        "PSS-seccompProfile-restricted", "seccompProfile_restricted", "restricted",
        "check_seccompProfile_restricted.go", seccomp_restricted, linux_only=True,
        overrides="PSS-seccompProfile-baseline",
    ),
    Control(
        "PSS-capabilities-restricted", "capabilities_restricted", "restricted", "check_capabilities_restricted.go",
        capabilities_restricted, linux_only=True, overrides="PSS-capabilities-baseline",
    ),
    Control(
        "PSS-procMount-restricted", "procMount_restricted", "restricted", "check_procMount_restricted.go",
        proc_mount_restricted, overrides="PSS-procMount",
    ),
)  # fmt: skip

# Baseline rules a restricted control replaces when the namespace is restricted.
OVERRIDDEN_AT_RESTRICTED = frozenset(c.overrides for c in CONTROLS if c.overrides)


def applies(control: Control, level: str) -> bool:
    """Whether ``control`` runs in a namespace enforcing ``level``."""
    if level == "restricted":
        return control.rule_id not in OVERRIDDEN_AT_RESTRICTED
    if level == "baseline":
        return control.level == "baseline"
    return False


def exempt(control: Control, workload: Workload) -> bool:
    if control.linux_only and workload.os_name == "windows":
        return True
    return control.user_namespace_relaxed and workload.host_users is False


def run_control(control: Control, ctx: CheckContext) -> Iterator[Finding]:
    for workload in ctx.model.workloads:
        level = ctx.pss_level_of(workload.namespace)
        if not applies(control, level.level) or exempt(control, workload):
            continue
        outcome = "admission rejects the pod" if level.labelled else "a violation of the level this scan assumes"
        for v in control.evaluate(workload):
            yield workload_finding(
                control.rule_id,
                workload,
                f"{v.message} ({level.text}; check {control.check_id}: {outcome})",
                v.loc,
                container=v.container,
                detail=v.detail,
            )


CHECKS = {control.rule_id: partial(run_control, control) for control in CONTROLS}
