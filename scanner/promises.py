"""The documented promises of a policy file, and what a scan proved about each.

"No findings" must never be mistaken for "nothing was checked".  Every promise the
policy makes is listed (a documented flow, a zero-trust direction of a workload, a
SecurityContext table row, a backup, a retention setting ...) with a stable key; checks
tag the findings that break a promise with its key (``Finding.promises``).  A promise
with an active finding is *broken*, one whose findings are all covered by documented
exceptions is *excepted*, any other was *kept* — proven by the checks of its family.
This module owns the keys, so checks and reports cannot disagree about them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .findings import Finding
from .located import LMap, Loc

if TYPE_CHECKING:
    from .checks.base import CheckContext
    from .policy import Flow, Policy

# Families, in report order, with how a kept promise reads.
FAMILIES = {
    "flows": "documented flows proven allowed",
    "zero-trust": "zero-trust directions proven closed to undocumented peers",
    "exposure": "crown-jewel exposure limits proven (paths, Cilium and Istio)",
    "security-context": "SecurityContext table rows proven",
    "table-namespaces": "namespaces proven completely documented in the table",
    "backups": "backups proven as documented",
    "retention": "retention settings proven",
    "ci-gates": "CI gates proven",
    "secrets": "secret-handling promises proven",
}


def flow_key(flow: Flow) -> str:
    return f"flow:{flow.text}"  # stable when lines move


def isolation_key(wid: str, direction: str) -> str:
    return f"zero-trust:{wid}:{direction}"


def row_key(ref: str) -> str:
    return f"security-context:{ref}"


def table_namespace_key(namespace: str) -> str:
    return f"table-namespace:{namespace}"


def backup_key(name: str) -> str:
    return f"backup:{name}"


def retention_key(kind: str, file: str) -> str:
    return f"retention:{kind}:{file}"


def backup_part_key(name: str, part: str) -> str:
    """A setting of a documented backup that is its own row: ``staging-volume``, ``lifecycle:<file>``."""
    return f"backup:{name}:{part}"


def ci_gate_key(name: str) -> str:
    return f"ci-gate:{name}"


SECRETS_KEY = "secrets"


@dataclass(frozen=True, slots=True)
class Promise:
    family: str
    text: str
    loc: Loc  # where the policy file states it
    key: str


@dataclass(frozen=True, slots=True)
class PromiseResult:
    promise: Promise
    status: str  # kept | broken | excepted
    findings: int  # findings tagged with it (active and suppressed)
    policy: str | None


def tag(key: str, findings: Iterable[Finding]) -> Iterator[Finding]:
    """The findings, each tagged as breaking the promise ``key``."""
    from dataclasses import replace

    for f in findings:
        yield replace(f, promises=(key,))


def documented(ctx: CheckContext) -> list[Promise]:
    """Every promise the scope's policy makes."""
    policy = ctx.policy
    if policy.path is None:
        return []
    out = [Promise("flows", flow.text, flow.loc, flow_key(flow)) for flow in policy.traffic.flows]
    out += _zero_trust(ctx)
    out += _exposure(ctx)
    for ref, row in policy.security.workloads.items():
        out.append(
            Promise("security-context", f"{ref}" + ("" if row.documented else " ('-' row)"), row.loc, row_key(ref))
        )
    for ns, loc in policy.security.namespace_locs.items():
        out.append(Promise("table-namespaces", ns, loc, table_namespace_key(ns)))
    out += _listed(
        policy.section("backups"),
        "backups",
        lambda e: backup_key(str(e.get("name"))),
        lambda e: f"{e.get('name')} ({e.get('cronJob')})",
    )
    retention = policy.section("retention")
    if isinstance(retention, LMap):
        for kind in ("s3Lifecycle", "loki"):
            out += _listed(
                retention.get(kind),
                "retention",
                lambda e, k=kind: retention_key(k, str(e.get("file"))),
                lambda e, k=kind: f"{k} {e.get('file')}",
            )
    out += _backup_parts(policy)
    out += _ci_gates(policy)
    secrets = policy.section("secrets")
    if isinstance(secrets, LMap):
        out.append(Promise("secrets", "no committed Secret objects or literal secret values", secrets.loc, SECRETS_KEY))
    return out


def _listed(items: Any, family: str, key, text) -> list[Promise]:
    if not isinstance(items, list):
        return []
    return [Promise(family, text(e), items.loc_of(i), key(e)) for i, e in enumerate(items) if isinstance(e, LMap)]


def _backup_parts(policy: Policy) -> list[Promise]:
    """A backup's staging volume, and (when a lifecycle entry names its bucket) that its
    objects fall under the lifecycle rule: rows of their own, proven by BAK007 and BAK006."""
    from .policy import backup_entries, lifecycle_entries

    out = []
    lifecycles = lifecycle_entries(policy)
    for b in backup_entries(policy):
        if b.staging_volume is not None:
            v = b.staging_volume
            out.append(
                Promise(
                    "backups",
                    f"{b.name}: staging volume {v.name} is {v.source}",
                    v.loc,
                    backup_part_key(b.name, "staging-volume"),
                )
            )
        for lc in lifecycles:
            if b.bucket is not None and lc.bucket == b.bucket:
                out.append(
                    Promise(
                        "backups",
                        f"{b.name}: objects in s3://{b.bucket} fall under the lifecycle rule of {lc.file}",
                        lc.where("bucket"),
                        backup_part_key(b.name, f"lifecycle:{lc.file}"),
                    )
                )
    return out


def _ci_gates(policy: Policy) -> list[Promise]:
    from .policy import ci_gates

    out = []
    for g in ci_gates(policy):
        where = f"{g.workflow}" + (f" job {g.job}" if g.job else "")
        images = ", ".join(image for image, _ in g.images)
        how = f"exit-code {g.exit_code}" + (f", {','.join(g.severity)}" if g.severity else "")
        out.append(Promise("ci-gates", f"{g.name}: {where} scans {images} ({how})", g.loc, ci_gate_key(g.name)))
    return out


def _zero_trust(ctx: CheckContext) -> list[Promise]:
    scope = ctx.policy.traffic.zero_trust
    if not scope:
        return []
    from .checks.traffic_matrix import workload_id

    traffic = ctx.traffic()
    out = []
    for w in ctx.model.network_workloads:
        if w.namespace not in scope:
            continue
        wid = workload_id(traffic, w) or w.ref
        for direction in ("ingress", "egress"):
            out.append(Promise("zero-trust", f"{wid} {direction}", scope[w.namespace], isolation_key(wid, direction)))
    return out


def _exposure(ctx: CheckContext) -> list[Promise]:
    from .checks.exposure import exposure_key

    return [Promise("exposure", e.text, e.loc, exposure_key(e)) for e in ctx.policy.traffic.exposures]


def evaluate(promises: list[Promise], findings: Iterable[Finding], policy: str | None) -> list[PromiseResult]:
    active: dict[str, int] = {}
    suppressed: dict[str, int] = {}
    for f in findings:
        counts = active if f.suppression is None else suppressed
        for key in f.promises:
            counts[key] = counts.get(key, 0) + 1
    out = []
    for p in promises:
        a, s = active.get(p.key, 0), suppressed.get(p.key, 0)
        status = "broken" if a else ("excepted" if s else "kept")
        out.append(PromiseResult(p, status, a + s, policy))
    return out
