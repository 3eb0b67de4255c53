"""BAK001-BAK005: the documented backup jobs against their CronJobs.

Each entry of the policy's ``backups`` names a CronJob (``namespace/name``) and
the settings the document promises for it.  A setting the entry does not
mention promises nothing.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from ..findings import Finding
from ..located import LMap, Loc
from ..model.types import Workload
from ..names import did_you_mean
from ..promises import backup_key
from .base import CheckContext, workload_finding
from .unread import may_be_there
from .cron import CronError, parse_cron

_UTC_NAMES = frozenset({"UTC", "Etc/UTC", "Etc/UCT", "UCT", "Etc/Universal", "Universal", "Zulu", "Etc/Zulu", "GMT", "Etc/GMT"})
_JOB_FIELDS = ("concurrencyPolicy", "successfulJobsHistoryLimit", "failedJobsHistoryLimit")
# What the CronJob controller uses when a field is not written (batch/v1 defaults).
_DEFAULTS: dict[str, Any] = {"concurrencyPolicy": "Allow", "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 1}


def _entries(ctx: CheckContext) -> Iterator[tuple[LMap, Workload | None]]:
    backups = ctx.policy.section("backups")
    if not isinstance(backups, list):
        return
    for entry in backups:
        if not isinstance(entry, LMap):
            continue
        ref = str(entry.get("cronJob"))
        found = next((w for w in ctx.model.workloads if w.ref == ref and w.kind == "CronJob"), None)
        yield entry, found


def _spec(workload: Workload) -> LMap:
    spec = workload.extra.get("cronjob")
    return spec if isinstance(spec, LMap) else LMap(workload.loc)


def _job_spec(spec: LMap) -> LMap | None:
    template = spec.get("jobTemplate")
    inner = template.get("spec") if isinstance(template, LMap) else None
    return inner if isinstance(inner, LMap) else None


def check_missing(ctx: CheckContext) -> Iterator[Finding]:
    for entry, workload in _entries(ctx):
        if workload is None:
            ref = entry.get("cronJob")
            yield Finding(
                "BAK001",
                f"documented backup '{entry.get('name')}' names CronJob {ref}, which is not in the scanned manifests"
                f"{did_you_mean(str(ref), [w.ref for w in ctx.model.workloads if w.kind == 'CronJob'])}"
                f"{may_be_there(ctx)}",
                entry.loc_of("cronJob"),
                subject=f"CronJob {ref}",
                detail="missing",
            )


def _valid_zone(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def check_schedule(ctx: CheckContext) -> Iterator[Finding]:
    for entry, workload in _entries(ctx):
        if workload is None:
            continue
        spec = _spec(workload)
        schedule = spec.get("schedule")
        actual = None
        if not isinstance(schedule, str):
            yield workload_finding("BAK002", workload, "spec.schedule is missing or not a string", spec.loc_of("schedule"), detail="schedule")
        else:
            try:
                actual = parse_cron(schedule)
            except CronError as exc:
                yield workload_finding("BAK002", workload, f"invalid schedule '{schedule}': {exc}", spec.loc_of("schedule"), detail="schedule")
        zone = spec.get("timeZone")
        if zone is not None and (not isinstance(zone, str) or not _valid_zone(zone)):
            yield workload_finding("BAK002", workload, f"unknown time zone {zone!r} (not an IANA zone name)", spec.loc_of("timeZone"), detail="timeZone")
            zone = None
        documented = entry.get("schedule")
        if isinstance(documented, str) and actual is not None:
            try:
                expected = parse_cron(documented)
            except CronError as exc:
                yield Finding("BAK002", f"the documented schedule '{documented}' is invalid: {exc}", entry.loc_of("schedule"), subject=workload.subject, detail="documented")
                expected = None
            if expected is not None and expected.key() != actual.key():
                yield workload_finding(
                    "BAK002", workload,
                    f"schedule '{schedule}' does not fire when the document says ('{documented}')",
                    spec.loc_of("schedule"), detail="schedule",
                )
        documented_zone = entry.get("timeZone")
        if isinstance(documented_zone, str):
            if (zone or "UTC") not in ({documented_zone} | (_UTC_NAMES if documented_zone in _UTC_NAMES else set())):
                yield workload_finding(
                    "BAK002", workload,
                    f"time zone is {zone or 'not set (the controller: usually UTC)'}, the document says {documented_zone}",
                    spec.loc_of("timeZone") if zone else spec.loc_of("schedule"), detail="timeZone",
                )
        elif isinstance(zone, str) and zone not in _UTC_NAMES and isinstance(documented, str):
            yield workload_finding(
                "BAK002", workload,
                f"schedule is evaluated in {zone}, but the documented schedule '{documented}' has no time zone (UTC)",
                spec.loc_of("timeZone"), detail="timeZone",
            )


def check_job_controls(ctx: CheckContext) -> Iterator[Finding]:
    for entry, workload in _entries(ctx):
        if workload is None:
            continue
        spec = _spec(workload)
        for key in _JOB_FIELDS:
            if key not in entry:
                continue
            want = entry[key]
            got = spec.get(key, _DEFAULTS[key])
            if got != want:
                shown = f"{got}" if key in spec else f"not set (defaults to {got})"
                yield workload_finding("BAK003", workload, f"{key} is {shown}, the document says {want}", spec.loc_of(key) if key in spec else workload.loc, detail=key)
        if "activeDeadlineSeconds" in entry:
            want = entry["activeDeadlineSeconds"]
            job = _job_spec(spec)
            got = job.get("activeDeadlineSeconds") if job is not None else None
            where = job.loc_of("activeDeadlineSeconds") if job is not None and got is not None else workload.loc
            if got is None:
                yield workload_finding("BAK003", workload, f"jobTemplate.spec.activeDeadlineSeconds is not set (a hung backup runs forever); the document says {want}", where, detail="activeDeadlineSeconds")
            elif got != want:
                yield workload_finding("BAK003", workload, f"activeDeadlineSeconds is {got}, the document says {want}", where, detail="activeDeadlineSeconds")


def check_sidecar(ctx: CheckContext) -> Iterator[Finding]:
    for entry, workload in _entries(ctx):
        if workload is None or entry.get("istioSidecar") is not False:
            continue
        annotation = workload.annotations.get("sidecar.istio.io/inject")
        if annotation == "false" or workload.pod_labels.get("sidecar.istio.io/inject") == "false":
            continue
        ns = ctx.model.namespaces.get(workload.namespace)
        injected = ns is not None and ns.label("istio-injection") == "enabled"
        why = " and namespace injection is enabled: the Job would never complete" if injected else ""
        yield workload_finding(
            "BAK004", workload,
            f"pod template lacks the annotation sidecar.istio.io/inject: \"false\"{why}",
            workload.loc, detail="istio",
        )


def check_command(ctx: CheckContext) -> Iterator[Finding]:
    for entry, workload in _entries(ctx):
        if workload is None:
            continue
        words = [w for c in workload.containers for w in c.command]
        text = " ".join(words)
        env_values = " ".join(e.value or "" for c in workload.containers for e in c.env if e.source == "literal" and e.name.upper().endswith("REGION"))
        anchor: Loc = next((c.command_loc for c in workload.containers if c.command_loc is not None), workload.loc)
        for needle in entry.get("commandContains") or ():
            if needle not in text:
                yield workload_finding("BAK005", workload, f"no container command contains the documented argument '{needle}'", anchor, detail=f"arg:{needle}")
        destination = entry.get("destination")
        if isinstance(destination, LMap):
            bucket = destination.get("bucket")
            if isinstance(bucket, str) and f"s3://{bucket}" not in text:
                yield workload_finding("BAK005", workload, f"no container uploads to the documented bucket s3://{bucket}", anchor, detail="bucket")
            region = destination.get("region")
            if isinstance(region, str) and region not in text and region not in env_values:
                yield workload_finding("BAK005", workload, f"the documented region {region} is set neither in a command nor in an AWS_*REGION variable", anchor, detail="region")


def _promised(check):
    """Tag each finding with the documented backup whose CronJob it is about."""

    def run(ctx: CheckContext) -> Iterator[Finding]:
        keys = {f"CronJob {entry.get('cronJob')}": backup_key(str(entry.get("name"))) for entry, _ in _entries(ctx)}
        for f in check(ctx):
            yield replace(f, promises=(keys[f.subject],) if f.subject in keys else ())

    run.__doc__ = check.__doc__
    return run


CHECKS = {rule: _promised(fn) for rule, fn in {
    "BAK001": check_missing,
    "BAK002": check_schedule,
    "BAK003": check_job_controls,
    "BAK004": check_sidecar,
    "BAK005": check_command,
}.items()}
