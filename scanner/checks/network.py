"""Network checks backed by the traffic-graph engine (scanner/network)."""

from __future__ import annotations

from collections.abc import Iterable

from ..findings import Finding
from ..loader.yamltext import SENSITIVE_PATH
from ..network.rules import API_SERVER, ParsedPolicies
from .base import CheckContext


def _parsed(ctx: CheckContext) -> ParsedPolicies:
    """The policies of this scan, parsed once and shared by NET007, NET008 and the graph."""
    return ctx.parsed_policies()


def policy_rejected(ctx: CheckContext) -> Iterable[Finding]:
    """NET007: a policy the API server (CRD schema, NetworkPolicy validation) or the
    Cilium agent rejects as a whole.  Reported at the offending field, naming who
    rejects it; the engine does not apply the policy."""
    for r in _parsed(ctx).rejections:
        if r.by == API_SERVER:
            outcome = "kubectl apply fails and the object never exists in the cluster"
        else:
            outcome = "the object is stored but its status says VALID=False"
        yield Finding(
            rule_id="NET007",
            message=(
                f"{r.policy} is rejected as a whole by {r.component}: {r.message}; {outcome}, none of its rules "
                "is enforced, so the pods it selects are not isolated by it"
            ),
            loc=r.loc,
            subject=r.policy,
            detail=r.path or r.message,
        )


def unknown_policy_fields(ctx: CheckContext) -> Iterable[Finding]:
    """NET008: a field the policy's schema does not have (a typo such as
    ``fromEndpoint``).  Strict field validation (kubectl's default) rejects the whole
    object; with validation off the API server drops the field, which is what the
    traffic graph assumes (the rule without the field, usually wider)."""
    for p in _parsed(ctx).pruned:
        meant = f" (did you mean '{p.suggestion}'?)" if p.suggestion else ""
        yield Finding(
            rule_id="NET008",
            message=(
                f"{p.policy}: '{p.path}' is not a field of this object{meant}. kubectl apply (strict field "
                "validation, the default) rejects the whole object; applied with validation off, the API "
                f"server drops the field and {p.effect}. The traffic graph assumes the field is dropped."
            ),
            loc=p.loc,
            subject=p.policy,
            detail=p.path,
            sensitive=bool(SENSITIVE_PATH.search(p.path)),
        )


CHECKS = {"NET007": policy_rejected, "NET008": unknown_policy_fields}
