"""Network checks backed by the traffic-graph engine (scanner/network)."""

from __future__ import annotations

from collections.abc import Iterable

from ..findings import Finding
from ..network import NetworkSettings, parse_policies
from .base import CheckContext


def policy_rejected(ctx: CheckContext) -> Iterable[Finding]:
    """NET007: a CNP/CCNP Cilium rejects, or a NetworkPolicy the API server rejects.
    Reported at the offending field; the engine does not apply the policy."""
    settings = NetworkSettings.from_mapping(ctx.policy.settings.cilium)
    parsed = parse_policies(ctx.inputs.objects, settings, ctx.default_namespace)
    for r in parsed.rejections:
        who = "the API server" if r.kind == "NetworkPolicy" else "Cilium"
        yield Finding(
            rule_id="NET007",
            message=(f"{r.policy} is rejected by {who} as a whole ({r.message}); none of its rules is enforced, "
                     "so the pods it selects are not isolated by it"),
            loc=r.loc,
            subject=r.policy,
            detail=r.path or r.message,
        )


CHECKS = {"NET007": policy_rejected}
