"""What every check receives, and the shape of a check."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ..findings import Finding
from ..loader.documents import LoadResult
from ..located import LMap
from ..model.build import Model
from ..model.types import Container, Workload
from ..policy import Policy


@dataclass(frozen=True)
class CheckContext:
    model: Model
    inputs: LoadResult
    policy: Policy
    today: _dt.date
    default_namespace: str = "default"
    # Results shared by several checks of one scan (the traffic graph); lives and
    # dies with this context, never global.
    _memo: dict = field(default_factory=dict, repr=False, compare=False)

    def traffic(self) -> Any:
        """The traffic graph of this scan, built once (scanner.network)."""
        if "traffic" not in self._memo:
            from ..network import build_traffic_for_policy

            self._memo["traffic"] = build_traffic_for_policy(
                self.model,
                self.inputs.objects,
                self.policy,
                default_namespace=self.default_namespace,
                parsed=self.parsed_policies(),
            )
        return self._memo["traffic"]

    def parsed_policies(self) -> Any:
        """Every network policy of this scan parsed once (NET007, NET008 and the graph)."""
        from ..network import NetworkSettings, parse_policies

        return self.shared(
            "parsed_policies",
            lambda: parse_policies(
                self.inputs.objects,
                NetworkSettings.from_mapping(self.policy.settings.cilium),
                self.default_namespace,
                services=self.model.services,
            ),
        )

    def shared(self, key: str, compute: Callable[[], Any]) -> Any:
        """A result several checks of this scan use (parsed policies ...), computed once."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def pss_level(self, namespace: str) -> str:
        """The Pod Security Standards level that applies to a namespace: its
        ``pod-security.kubernetes.io/enforce`` label, else the policy default."""
        return self.pss_level_of(namespace).level

    def pss_level_of(self, namespace: str) -> PssLevel:
        """The level that applies to a namespace and where it comes from."""
        ns = self.model.namespaces.get(namespace)
        label = ns.label("pod-security.kubernetes.io/enforce") if ns else None
        if label is None:
            return PssLevel(self.policy.settings.pod_security_default, False, self._default_level_text(namespace))
        where = f" ({ns.loc.path}:{ns.loc.line})" if ns is not None and ns.declared else ""
        if label in ("privileged", "baseline", "restricted"):
            return PssLevel(
                label,
                True,
                f"namespace '{namespace}' enforces Pod Security '{label}' (label "
                f"pod-security.kubernetes.io/enforce={label}{where})",
            )
        # An unparsable label is enforced as restricted:latest
        # (k8s.io/pod-security-admission api/helpers.go, PolicyToEvaluate).
        return PssLevel(
            "restricted",
            True,
            f"namespace '{namespace}' has the label "
            f"pod-security.kubernetes.io/enforce={label!r}{where}, which is not a level, so admission "
            "enforces 'restricted'",
        )

    def _default_level_text(self, namespace: str) -> str:
        level = self.policy.settings.pod_security_default
        settings = self.policy.section("settings")
        pss = settings.get("podSecurity") if isinstance(settings, dict) else None
        if isinstance(pss, LMap) and "defaultLevel" in pss:
            loc = pss.loc_of("defaultLevel")
            origin = f"settings.podSecurity.defaultLevel = {level} ({loc.path}:{loc.line})"
        else:
            origin = f"settings.podSecurity.defaultLevel = {level}, kubematrix's default"
        # pod-security-admission's own default (AdmissionConfiguration defaults.enforce)
        # is privileged: without a label, Kubernetes itself admits the pod.
        return (
            f"namespace '{namespace}' has no pod-security.kubernetes.io/enforce label, so Kubernetes enforces "
            f"its default 'privileged' and admits the pod unless the cluster's admission configuration says "
            f"otherwise; this scan holds it to '{level}' ({origin})"
        )


@dataclass(frozen=True, slots=True)
class PssLevel:
    """The Pod Security Standards level a namespace is held to, and why."""

    level: str
    labelled: bool  # from the namespace's enforce label (admission enforces it), else the scan's default
    text: str  # where the level comes from, for messages


CheckFn = Callable[[CheckContext], Iterable[Finding]]


def workload_finding(
    rule_id: str, workload: Workload, message: str, loc, *, container: Container | None = None, detail: str = ""
) -> Finding:
    """A finding about a workload (and optionally one of its containers)."""
    where = f"container '{container.name}' of " if container is not None else ""
    return Finding(
        rule_id=rule_id,
        message=f"{where}{workload.subject}: {message}",
        loc=loc,
        subject=workload.subject,
        detail=detail,
        workload=workload.ref,
        container=container.name if container is not None else "",
    )
