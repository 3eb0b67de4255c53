"""What every check receives, and the shape of a check."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from ..findings import Finding
from ..loader.documents import LoadResult
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
                self.model, self.inputs.objects, self.policy, default_namespace=self.default_namespace
            )
        return self._memo["traffic"]

    def shared(self, key: str, compute: Callable[[], Any]) -> Any:
        """A result several checks of this scan use (parsed policies ...), computed once."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def pss_level(self, namespace: str) -> str:
        """The Pod Security Standards level that applies to a namespace: its
        ``pod-security.kubernetes.io/enforce`` label, else the policy default."""
        ns = self.model.namespaces.get(namespace)
        label = ns.label("pod-security.kubernetes.io/enforce") if ns else None
        if label is None:
            return self.policy.settings.pod_security_default
        if label in ("privileged", "baseline", "restricted"):
            return label
        # An unparsable label is enforced as restricted:latest
        # (k8s.io/pod-security-admission api/helpers.go, PolicyToEvaluate).
        return "restricted"


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
