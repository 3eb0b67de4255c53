"""All checks, by rule id.

Each module exports ``CHECKS``: a mapping from rule id to a pure function
``check(ctx) -> Iterable[Finding]``.  Rule metadata (title, severity, help)
lives in ``rules/<ID>.yaml``; ``tests/test_catalog.py`` keeps the two in step.
Input rules (``INPUT*``) are produced by the loader and model, not here.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from . import (
    backup,
    ci,
    exposure,
    istio,
    istio_zero_trust,
    network,
    policy_file,
    pss,
    retention,
    secrets,
    security_context,
    traffic_matrix,
    zero_trust,
)
from .base import CheckContext, CheckFn

_MODULES = (
    security_context,
    pss,
    backup,
    retention,
    ci,
    secrets,
    network,
    traffic_matrix,
    zero_trust,
    policy_file,
    exposure,
    istio,
    istio_zero_trust,
)

# Rules whose findings come from the loader/model rather than a check function.
INPUT_RULES = frozenset(
    {
        "INPUT001",
        "INPUT002",
        "INPUT003",
        "INPUT004",
        "INPUT005",
        "INPUT006",
        "INPUT007",
        "POL002",
        "POL003",
        "POL004",
        "POL005",
    }
)


def all_checks() -> Mapping[str, CheckFn]:
    checks: dict[str, CheckFn] = {}
    for module in _MODULES:
        for rule_id, fn in module.CHECKS.items():
            if rule_id in checks:
                raise RuntimeError(f"rule {rule_id} registered twice")
            checks[rule_id] = fn
    return MappingProxyType(dict(sorted(checks.items())))


__all__ = ["INPUT_RULES", "CheckContext", "CheckFn", "all_checks"]
