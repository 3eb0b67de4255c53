"""POL001: the policy file itself must mean what it says.

* POL001: every name it uses resolves — zero-trust and SecurityContext namespaces, rule
  ids and containers of exceptions.  A typo must never switch a check off silently.
  (Flow endpoints, table rows, backups and retention files have their own rules —
  NET006, SEC007, BAK001, RET001/RET002 — which also suggest the closest name.)
(POL002, a lapsed exception, is reported where exceptions are applied: scanner/exceptions.py.)
"""

from __future__ import annotations

from collections.abc import Iterator

from ..catalog import load_catalog
from ..findings import Finding
from ..names import did_you_mean
from .base import CheckContext


def _namespace_names(ctx: CheckContext, where: str, names: dict) -> Iterator[Finding]:
    known = set(ctx.model.namespaces)
    for name, loc in names.items():
        if name not in known:
            yield Finding(
                "POL001",
                f"namespace '{name}' in {where} is not a namespace of the scanned manifests (no object is in it), "
                f"so nothing is checked for it{did_you_mean(name, known)}",
                loc,
                subject=f"policy {where}",
                detail=f"namespace:{name}",
            )


def check_names(ctx: CheckContext) -> Iterator[Finding]:
    """POL001: a name in the policy file that resolves to nothing."""
    policy = ctx.policy
    if policy.path is None:
        return
    yield from _namespace_names(ctx, "traffic.zeroTrust.namespaces", dict(policy.traffic.zero_trust))
    yield from _namespace_names(ctx, "securityContext.namespaces", dict(policy.security.namespace_locs))
    rules = load_catalog()
    for ref, row in policy.security.workloads.items():
        containers = {c.name for w in ctx.model.workloads if w.ref == ref for c in w.containers}
        for exc in row.exceptions:
            for rule in exc.rules:
                if rule not in rules:
                    yield Finding(
                        "POL001",
                        f"the exception for {ref} names rule '{rule}', which does not exist, so it excepts "
                        f"nothing{did_you_mean(rule, rules)}",
                        exc.loc,
                        subject=f"exception for {ref}",
                        detail=f"rule:{rule}",
                        workload=ref,
                    )
            for name in exc.containers:
                if containers and name not in containers:
                    yield Finding(
                        "POL001",
                        f"the exception for {ref} names container '{name}', which the workload does not have "
                        f"(containers: {', '.join(sorted(containers))}){did_you_mean(name, containers)}",
                        exc.loc,
                        subject=f"exception for {ref}",
                        detail=f"container:{name}",
                        workload=ref,
                    )


CHECKS = {"POL001": check_names}
