"""BAK001-BAK005: the documented backup jobs against their CronJobs.

Each entry of the policy's ``backups`` names a CronJob (``namespace/name``) and
the settings the document promises for it.  A setting the entry does not
mention promises nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from ..findings import Finding
from ..located import LMap, Loc
from ..model.types import Workload
from ..names import did_you_mean
from ..promises import backup_key
from .base import CheckContext, workload_finding
from .cron import CronError, Every, Schedule, parse_cron, time_zone_error
from .cron_instants import compare

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
                f"{did_you_mean(str(ref), [w.ref for w in ctx.model.workloads if w.kind == 'CronJob'])}",
                entry.loc_of("cronJob"),
                subject=f"CronJob {ref}",
                detail="missing",
            )


def _schedule_of(text: object, whose: str) -> tuple[Schedule | Every | None, str | None]:
    """(parsed schedule, problem) for a schedule string from the manifest or the policy."""
    if not isinstance(text, str):
        return None, f"{whose} schedule is missing or not a string"
    try:
        return parse_cron(text), None
    except CronError as exc:
        return None, f"invalid schedule '{text}': {exc}"


def _zone_of(value: object, whose: str) -> tuple[str | None, str | None]:
    """(zone name or None for the controller's, problem)."""
    if value is None:
        return None, None
    if not isinstance(value, str):
        return None, f"{whose} time zone must be a string"
    problem = time_zone_error(value)
    return (None, f"{whose} {problem}") if problem else (value, None)


def _shown(schedule: str, zone: str | None) -> str:
    return f"'{schedule}' " + (f"in {zone}" if zone else "(no time zone: the controller's, UTC)")


def check_schedule(ctx: CheckContext) -> Iterator[Finding]:
    """BAK002: valid as Kubernetes reads it, and firing at the documented instants."""
    for entry, workload in _entries(ctx):
        if workload is None:
            continue
        spec = _spec(workload)
        schedule, zone_value = spec.get("schedule"), spec.get("timeZone")
        actual, problem = _schedule_of(schedule, "spec.schedule:")
        if problem:
            yield workload_finding("BAK002", workload, problem.removeprefix("spec.schedule: "), spec.loc_of("schedule"), detail="schedule")
        zone, problem = _zone_of(zone_value, "spec.timeZone:")
        if problem:
            yield workload_finding("BAK002", workload, problem, spec.loc_of("timeZone"), detail="timeZone")
            continue
        documented, documented_zone = entry.get("schedule"), entry.get("timeZone")
        if not isinstance(documented, str):
            continue  # the entry promises no schedule
        expected, problem = _schedule_of(documented, "documented")
        if problem:
            yield Finding("BAK002", f"the documented schedule is invalid: {problem}", entry.loc_of("schedule"),
                          subject=workload.subject, detail="documented")
            continue
        documented_zone, problem = _zone_of(documented_zone, "the documented")
        if problem:
            yield Finding("BAK002", f"{problem}; the schedule cannot be compared", entry.loc_of("timeZone"),
                          subject=workload.subject, detail="documented-timeZone")
            continue
        if actual is None:
            continue
        verdict = compare(actual, zone, expected, documented_zone, ctx.today, ("the CronJob", "the document"))
        if verdict.same:
            continue
        # The culprit is the time zone when the schedule alone would have matched.
        by_zone = actual.key() == expected.key() and "timeZone" in spec
        why = ("does not fire at the documented instants" if verdict.same is False
               else "cannot be proven to fire at the documented instants")
        yield workload_finding(
            "BAK002", workload,
            f"schedule {_shown(schedule, zone)} {why}: the document says {_shown(documented, documented_zone)}; {verdict.detail}",
            spec.loc_of("timeZone") if by_zone else spec.loc_of("schedule"), detail="timeZone" if by_zone else "schedule",
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
            yield replace(f, promise=keys.get(f.subject, ""))

    run.__doc__ = check.__doc__
    return run


CHECKS = {rule: _promised(fn) for rule, fn in {
    "BAK001": check_missing,
    "BAK002": check_schedule,
    "BAK003": check_job_controls,
    "BAK004": check_sidecar,
    "BAK005": check_command,
}.items()}
