"""BAK001-BAK007: the documented backup jobs against their CronJobs.

Each entry of the policy's ``backups`` names a CronJob (``namespace/name``) and
the settings the document promises for it.  A setting the entry does not
mention promises nothing.  The CronJob is read from the typed model
(``Workload.cronjob``, ``Container.mounts``/``command_items``): wrong types were
reported once as INPUT002 there and read as not written here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace

from ..findings import Finding
from ..located import Loc
from ..model.cronjob import CronJobSpec
from ..model.types import Workload
from ..names import did_you_mean
from ..policy import BackupEntry, backup_entries
from ..promises import backup_key, backup_part_key
from .backup_objects import check_objects, upload_loc, uploads_of
from .base import CheckContext, workload_finding
from .cron import CronError, Every, Schedule, parse_cron, time_zone_error
from .cron_instants import compare
from .secrets import looks_secret
from .unread import may_be_there

_JOB_FIELDS = ("concurrencyPolicy", "successfulJobsHistoryLimit", "failedJobsHistoryLimit")


def entries(ctx: CheckContext) -> Iterator[tuple[BackupEntry, Workload | None]]:
    """Each documented backup with its CronJob (None when it is not in the manifests)."""
    for entry in backup_entries(ctx.policy):
        found = next((w for w in ctx.model.workloads if w.ref == entry.cron_job and w.kind == "CronJob"), None)
        yield entry, found


def cronjob_of(workload: Workload) -> CronJobSpec:
    return workload.cronjob if workload.cronjob is not None else CronJobSpec(loc=workload.loc)


def check_missing(ctx: CheckContext) -> Iterator[Finding]:
    """BAK001: the documented CronJob exists."""
    for entry, workload in entries(ctx):
        if workload is None:
            yield Finding(
                "BAK001",
                f"documented backup '{entry.name}' names CronJob {entry.cron_job}, which is not in the scanned manifests"
                f"{did_you_mean(entry.cron_job, [w.ref for w in ctx.model.workloads if w.kind == 'CronJob'])}"
                f"{may_be_there(ctx)}",
                entry.where("cronJob"),
                subject=f"CronJob {entry.cron_job}",
                detail="missing",
            )


def _parsed(text: str) -> tuple[Schedule | Every | None, str | None]:
    try:
        return parse_cron(text), None
    except CronError as exc:
        return None, f"invalid schedule '{text}': {exc}"


def _shown(schedule: str, zone: str | None) -> str:
    return f"'{schedule}' " + (f"in {zone}" if zone else "(no time zone: the controller's, UTC)")


def _manifest_schedule(workload: Workload, cron: CronJobSpec) -> tuple[list[Finding], Schedule | Every | None, bool]:
    """Findings about the CronJob's own schedule and zone; its parsed schedule; whether its zone is known."""
    found, actual = [], None
    if cron.schedule is None:
        why = "could not be read (see INPUT002)" if cron.written("schedule") else "is missing"
        found.append(
            workload_finding("BAK002", workload, f"spec.schedule {why}", cron.where("schedule"), detail="schedule")
        )
    else:
        actual, problem = _parsed(cron.schedule)
        if problem:
            found.append(workload_finding("BAK002", workload, problem, cron.where("schedule"), detail="schedule"))
    zone_ok = not cron.written("timeZone") or cron.time_zone is not None
    problem = time_zone_error(cron.time_zone) if cron.time_zone is not None else None
    if problem:
        zone_ok = False
        found.append(
            workload_finding("BAK002", workload, f"spec.timeZone: {problem}", cron.where("timeZone"), detail="timeZone")
        )
    return found, actual, zone_ok


def _documented_schedule(entry: BackupEntry) -> tuple[Schedule | Every | None, str | None]:
    expected, problem = _parsed(str(entry.schedule))
    if problem is None and entry.time_zone is not None and time_zone_error(entry.time_zone):
        problem = f"the documented {time_zone_error(entry.time_zone)}"
    return expected, problem


def check_schedule(ctx: CheckContext) -> Iterator[Finding]:
    """BAK002: valid as Kubernetes reads it, and firing at the documented instants."""
    for entry, workload in entries(ctx):
        if workload is None:
            continue
        cron = cronjob_of(workload)
        found, actual, zone_ok = _manifest_schedule(workload, cron)
        yield from found
        if entry.schedule is None or not zone_ok:
            continue  # no schedule promised, or the CronJob's zone is unknown (reported)
        expected, problem = _documented_schedule(entry)
        if problem:
            yield Finding(
                "BAK002",
                f"the documented schedule cannot be compared: {problem}",
                entry.where("timeZone" if expected is not None else "schedule"),
                subject=workload.subject,
                detail="documented",
            )
            continue
        if actual is None or cron.schedule is None:
            continue
        verdict = compare(actual, cron.time_zone, expected, entry.time_zone, ctx.today, ("the CronJob", "the document"))
        if verdict.same:
            continue
        # The culprit is the time zone when the schedule alone would have matched.
        by_zone = actual.key() == expected.key() and cron.written("timeZone")
        why = (
            "does not fire at the documented instants"
            if verdict.same is False
            else "cannot be proven to fire at the documented instants"
        )
        yield workload_finding(
            "BAK002",
            workload,
            f"schedule {_shown(cron.schedule, cron.time_zone)} {why}: the document says "
            f"{_shown(entry.schedule, entry.time_zone)}; {verdict.detail}",
            cron.where("timeZone") if by_zone else cron.where("schedule"),
            detail="timeZone" if by_zone else "schedule",
        )


def check_job_controls(ctx: CheckContext) -> Iterator[Finding]:
    """BAK003: concurrency, history limits and the job deadline."""
    for entry, workload in entries(ctx):
        if workload is None:
            continue
        cron = cronjob_of(workload)
        for key in _JOB_FIELDS:
            if key not in entry.job_fields:
                continue
            want, got = entry.job_fields[key], cron.value(key)
            unreadable = cron.unreadable(key)
            if got != want or unreadable:
                shown = (
                    "unreadable (see INPUT002)"
                    if unreadable
                    else f"{got}"
                    if cron.written(key)
                    else f"not set (defaults to {got})"
                )
                yield workload_finding(
                    "BAK003",
                    workload,
                    f"{key} is {shown}, the document says {want}",
                    cron.where(key) if cron.written(key) else workload.loc,
                    detail=key,
                )
        want = entry.active_deadline_seconds
        if want is None:
            continue
        got = cron.active_deadline_seconds
        if got is None:
            yield workload_finding(
                "BAK003",
                workload,
                f"jobTemplate.spec.activeDeadlineSeconds is not set (a hung backup "
                f"runs forever); the document says {want}",
                workload.loc,
                detail="activeDeadlineSeconds",
            )
        elif got != want:
            yield workload_finding(
                "BAK003",
                workload,
                f"activeDeadlineSeconds is {got}, the document says {want}",
                cron.where("jobTemplate.spec.activeDeadlineSeconds"),
                detail="activeDeadlineSeconds",
            )


def check_sidecar(ctx: CheckContext) -> Iterator[Finding]:
    """BAK004: the Job's pods are excluded from Istio injection."""
    for entry, workload in entries(ctx):
        if workload is None or entry.istio_sidecar is not False:
            continue
        annotation = workload.annotations.get("sidecar.istio.io/inject")
        if annotation == "false" or workload.pod_labels.get("sidecar.istio.io/inject") == "false":
            continue
        ns = ctx.model.namespaces.get(workload.namespace)
        injected = ns is not None and ns.label("istio-injection") == "enabled"
        why = " and namespace injection is enabled: the Job would never complete" if injected else ""
        yield workload_finding(
            "BAK004",
            workload,
            f'pod template lacks the annotation sidecar.istio.io/inject: "false"{why}',
            workload.loc,
            detail="istio",
        )


def check_command(ctx: CheckContext) -> Iterator[Finding]:
    """BAK005: dump arguments, destination bucket and region."""
    for entry, workload in entries(ctx):
        if workload is None:
            continue
        words = [w for c in workload.containers for w in c.command]
        text = " ".join(words)
        env_values = " ".join(
            e.value or ""
            for c in workload.containers
            for e in c.env
            if e.source == "literal" and e.name.upper().endswith("REGION")
        )
        anchor: Loc = next((c.command_loc for c in workload.containers if c.command_loc is not None), workload.loc)
        for needle in entry.command_contains:
            if needle not in text:
                yield workload_finding(
                    "BAK005",
                    workload,
                    f"no container command contains the documented argument '{needle}'",
                    anchor,
                    detail=f"arg:{needle}",
                )
        if entry.bucket is not None:
            yield from _bucket(ctx, entry, workload, text, anchor)
        if entry.region is not None and entry.region not in text and entry.region not in env_values:
            # At the region variable when there is one (its value is the drift), else at the command.
            region_var = next(
                (
                    e
                    for c in workload.containers
                    for e in c.env
                    if e.source == "literal" and e.name.upper().endswith("REGION")
                ),
                None,
            )
            yield workload_finding(
                "BAK005",
                workload,
                f"the documented region {entry.region} is set neither in a command "
                "nor in an AWS_*REGION variable"
                + (
                    f" ({region_var.name} is {region_var.value})"
                    if region_var and not looks_secret(region_var.name, region_var.value)
                    else ""
                ),
                region_var.loc if region_var else anchor,
                detail="region",
            )


def _bucket(ctx: CheckContext, entry: BackupEntry, workload: Workload, text: str, anchor: Loc) -> Iterator[Finding]:
    """Uploads understood from the commands (aws s3 cp/mv/sync) must include one to the
    documented bucket; when none is understood, the bucket must at least be named."""
    uploads = [u for u in uploads_of(workload) if u.bucket is not None]
    if any(u.bucket == entry.bucket for u in uploads):
        return
    if uploads:
        other = uploads[0]
        yield workload_finding(
            "BAK005",
            workload,
            f"the backup is uploaded to s3://{other.bucket}, not to the documented "
            f"bucket s3://{entry.bucket}{did_you_mean(str(entry.bucket), [other.bucket])}",
            upload_loc(ctx, other),
            detail="bucket",
        )
    elif f"s3://{entry.bucket}" not in text:
        yield workload_finding(
            "BAK005",
            workload,
            f"no container uploads to the documented bucket s3://{entry.bucket}",
            anchor,
            detail="bucket",
        )


def check_staging_volume(ctx: CheckContext) -> Iterator[Finding]:
    """BAK007: the documented staging volume exists in the pod template and is of the documented kind."""
    for entry, workload in entries(ctx):
        staging = entry.staging_volume
        if workload is None or staging is None:
            continue
        key = backup_part_key(entry.name, "staging-volume")
        volume = next((v for v in workload.volumes if v.name == staging.name), None)
        if volume is None:
            names = [v.name for v in workload.volumes]
            yield replace(
                workload_finding(
                    "BAK007",
                    workload,
                    f"the pod template has no volume '{staging.name}', the documented {staging.source} staging volume"
                    f"{did_you_mean(staging.name, names)} (volumes: {', '.join(names) or 'none'})",
                    # at the volumes (the first one's line), else the pod spec
                    next((v.key_loc or v.loc for v in workload.volumes), workload.spec_loc),
                    detail="missing",
                ),
                promises=(key,),
            )
        elif volume.source != staging.source:
            why = f" ({staging.description})" if staging.description else ""
            yield replace(
                workload_finding(
                    "BAK007",
                    workload,
                    f"volume '{volume.name}' is a {volume.source or 'volume without a source'}, the document says "
                    f"{staging.source}{why}",
                    volume.key_loc or volume.loc,
                    detail="source",
                ),
                promises=(key,),
            )


def _promised(check: Callable[[CheckContext], Iterator[Finding]]) -> Callable[[CheckContext], Iterator[Finding]]:
    """Tag each finding with the documented backup whose CronJob it is about, unless the
    check tagged it with a finer promise (staging volume, lifecycle)."""

    def run(ctx: CheckContext) -> Iterator[Finding]:
        keys = {f"CronJob {entry.cron_job}": backup_key(entry.name) for entry, _ in entries(ctx)}
        for f in check(ctx):
            yield f if f.promises else replace(f, promises=(keys[f.subject],) if f.subject in keys else ())

    run.__doc__ = check.__doc__
    return run


CHECKS = {
    rule: _promised(fn)
    for rule, fn in {
        "BAK001": check_missing,
        "BAK002": check_schedule,
        "BAK003": check_job_controls,
        "BAK004": check_sidecar,
        "BAK005": check_command,
        "BAK006": check_objects,
        "BAK007": check_staging_volume,
    }.items()
}
