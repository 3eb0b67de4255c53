"""A CronJob's own settings (``spec`` and ``spec.jobTemplate.spec``), typed.

Its pod template is read like every workload's (``build.read_containers``...); this adds
what only a CronJob has, for the backup checks.  Wrong types become ``INPUT002`` once,
here, at the value (``_Reader``), and read as not written; the path to the job template
itself is reported by the pod-spec walk (``build._dig``), so it is followed silently here.
Field names and defaults: ``k8s.io/api/batch/v1`` ``CronJobSpec`` and ``JobSpec``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ..located import LMap, Loc

# batch/v1 defaults the controller applies when a field is not written.
DEFAULTS: Mapping[str, Any] = MappingProxyType(
    {"concurrencyPolicy": "Allow", "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 1, "suspend": False}
)
FIELD_ATTRS: Mapping[str, str] = MappingProxyType(
    {
        "concurrencyPolicy": "concurrency_policy",
        "successfulJobsHistoryLimit": "successful_jobs_history_limit",
        "failedJobsHistoryLimit": "failed_jobs_history_limit",
        "suspend": "suspend",
    }
)


@dataclass(frozen=True, slots=True)
class CronJobSpec:
    """``None`` means not written (or unreadable: then an INPUT002 was recorded).
    ``locs`` maps each written key (``schedule``, ``jobTemplate.spec.activeDeadlineSeconds``)
    to where its value is; ``loc`` is the spec (or the object, when it has none)."""

    loc: Loc
    schedule: str | None = None
    time_zone: str | None = None
    concurrency_policy: str | None = None
    successful_jobs_history_limit: int | None = None
    failed_jobs_history_limit: int | None = None
    starting_deadline_seconds: int | None = None
    suspend: bool | None = None
    active_deadline_seconds: int | None = None  # jobTemplate.spec
    backoff_limit: int | None = None  # jobTemplate.spec
    job_loc: Loc | None = None  # jobTemplate.spec, when written
    locs: Mapping[str, Loc] = field(default_factory=lambda: MappingProxyType({}))

    def written(self, key: str) -> bool:
        return key in self.locs

    def where(self, key: str) -> Loc:
        return self.locs.get(key, self.loc)

    def value(self, key: str) -> Any:
        """The value of a CronJobSpec field by its API name, or the controller's default."""
        got = getattr(self, FIELD_ATTRS[key])
        return DEFAULTS[key] if got is None else got

    def unreadable(self, key: str) -> bool:
        """Written, but of a wrong type (reported as INPUT002)."""
        return self.written(key) and getattr(self, FIELD_ATTRS[key]) is None


def _silent_map(m: Any, key: str) -> LMap | None:
    value = m.get(key) if isinstance(m, LMap) else None
    return value if isinstance(value, LMap) else None


def read_cronjob(r: Any, body: LMap, object_loc: Loc) -> CronJobSpec:
    """The typed CronJobSpec of a CronJob object; ``r`` is the model's ``_Reader``."""
    spec = _silent_map(body, "spec")
    if spec is None:
        return CronJobSpec(loc=object_loc)
    job = _silent_map(_silent_map(spec, "jobTemplate"), "spec")
    locs = {str(k): spec.loc_of(k) for k in spec}
    if job is not None:
        locs.update({f"jobTemplate.spec.{k}": job.loc_of(k) for k in job})
    return CronJobSpec(
        loc=spec.loc,
        schedule=r.str(spec, "schedule", "spec.schedule"),
        time_zone=r.str(spec, "timeZone", "spec.timeZone"),
        concurrency_policy=r.str(spec, "concurrencyPolicy", "spec.concurrencyPolicy"),
        successful_jobs_history_limit=r.int(spec, "successfulJobsHistoryLimit", "spec.successfulJobsHistoryLimit"),
        failed_jobs_history_limit=r.int(spec, "failedJobsHistoryLimit", "spec.failedJobsHistoryLimit"),
        starting_deadline_seconds=r.int(spec, "startingDeadlineSeconds", "spec.startingDeadlineSeconds"),
        suspend=r.bool(spec, "suspend", "spec.suspend"),
        active_deadline_seconds=r.int(job, "activeDeadlineSeconds", "spec.jobTemplate.spec.activeDeadlineSeconds")
        if job is not None
        else None,
        backoff_limit=r.int(job, "backoffLimit", "spec.jobTemplate.spec.backoffLimit") if job is not None else None,
        job_loc=job.loc if job is not None else None,
        locs=MappingProxyType(locs),
    )
