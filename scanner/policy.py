"""The documented policy file (``kubematrix.yaml``): load, validate, type.

The file is read with the same located loader as manifests and validated with
the JSON Schema in ``rules/schema/policy.schema.json``; a violation is reported
with file, line and the offending path, and the CLI exits 2.
"""

from __future__ import annotations

import datetime as _dt
import os
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from . import exceptions
from .catalog import load_json_schema
from .exceptions import Exception_
from .loader.documents import parse_file
from .loader.files import InputFile, display_path
from .located import LList, LMap, Loc
from .network.ports import PortSet, parse_port_items
from .network.settings import NetworkSettings

POLICY_FILE_NAMES = ("kubematrix.yaml", "kubematrix.yml")


class PolicyError(Exception):
    """The policy file is unusable; the message names file, line and path."""


@dataclass(frozen=True, slots=True)
class SecurityExpectation:
    """Expected values; ``None`` means the table promises nothing for that field."""

    run_as_non_root: bool | None = None
    run_as_user: int | None = None
    run_as_group: int | None = None
    fs_group: int | None = None
    allow_privilege_escalation: bool | None = None
    privileged: bool | None = None
    read_only_root_filesystem: bool | None = None
    capabilities_drop: tuple[str, ...] | None = None
    capabilities_add: tuple[str, ...] | None = None
    seccomp_profile: str | None = None
    locs: Mapping[str, Loc] = field(default_factory=lambda: MappingProxyType({}))

    def merged_over(self, base: SecurityExpectation) -> SecurityExpectation:
        values = {}
        locs = dict(base.locs)
        for name in _VALUE_FIELDS:
            mine = getattr(self, name)
            values[name] = mine if mine is not None else getattr(base, name)
        locs.update(self.locs)
        return SecurityExpectation(**values, locs=MappingProxyType(locs))


_EXPECTATION_FIELDS = {
    "runAsNonRoot": "run_as_non_root",
    "runAsUser": "run_as_user",
    "runAsGroup": "run_as_group",
    "fsGroup": "fs_group",
    "allowPrivilegeEscalation": "allow_privilege_escalation",
    "privileged": "privileged",
    "readOnlyRootFilesystem": "read_only_root_filesystem",
    "seccompProfile": "seccomp_profile",
}


_VALUE_FIELDS = tuple(f.name for f in fields(SecurityExpectation) if f.name != "locs")


@dataclass(frozen=True, slots=True)
class WorkloadSecurity:
    ref: str  # namespace/name
    loc: Loc
    expectation: SecurityExpectation  # defaults already merged in (unless inheritDefaults: false)
    containers: Mapping[str, SecurityExpectation]
    exceptions: tuple[Exception_, ...]
    documented: bool  # False for a '-' row (inheritDefaults: false and no fields)
    note: str = ""

    def for_container(self, name: str) -> SecurityExpectation:
        own = self.containers.get(name)
        return own.merged_over(self.expectation) if own is not None else self.expectation


@dataclass(frozen=True, slots=True)
class SecuritySection:
    namespaces: tuple[str, ...] = ()
    namespace_locs: Mapping[str, Loc] = field(default_factory=lambda: MappingProxyType({}))
    workloads: Mapping[str, WorkloadSecurity] = field(default_factory=lambda: MappingProxyType({}))
    loc: Loc | None = None


@dataclass(frozen=True, slots=True)
class Settings:
    default_namespace: str = "default"
    pod_security_default: str = "baseline"
    cilium: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    istio: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class Flow:
    """One documented flow: ``src -> dst`` on ``ports`` (numeric) and ``named`` ports
    (resolved on each destination), optionally restricted to ``http`` requests."""

    src: str
    dst: str
    ports: PortSet
    named: tuple[tuple[str, str], ...]  # (port name, protocol)
    http: tuple[tuple[str | None, str | None, str | None], ...] | None  # (method, path, host); None: plain L4
    loc: Loc
    src_loc: Loc
    dst_loc: Loc

    @property
    def text(self) -> str:
        return f"{self.src} -> {self.dst} on {ports_text(self.ports, self.named)}"


def ports_text(ports: PortSet, named: tuple[tuple[str, str], ...]) -> str:
    names = [f"port '{n}'" + ("" if p == "TCP" else f"/{p}") for n, p in named]
    if not names:
        return ports.describe()
    return "; ".join(([ports.describe()] if ports else []) + names)


@dataclass(frozen=True, slots=True)
class Exposure:
    """One crown jewel (``traffic.exposure``): ``workload`` at least ``min_hops`` from
    ``source``, reachable only via ``only_via`` (NET011)."""

    workload: str
    source: str
    min_hops: int | None
    only_via: tuple[str, ...]
    loc: Loc

    @property
    def text(self) -> str:
        parts = [f"{self.workload} from {self.source}"]
        if self.min_hops is not None:
            parts.append(f"at least {self.min_hops} hop{'s' if self.min_hops > 1 else ''}")
        if self.only_via:
            parts.append("only via " + ", ".join(self.only_via))
        return ": ".join(parts[:1]) + (" — " + ", ".join(parts[1:]) if len(parts) > 1 else "")


@dataclass(frozen=True, slots=True)
class TrafficSection:
    """The documented traffic matrix (``traffic``).  ``present`` is False without the
    section: then no matrix promise is made."""

    present: bool = False
    zero_trust: Mapping[str, Loc] = field(default_factory=lambda: MappingProxyType({}))  # namespace -> where written
    flows: tuple[Flow, ...] = ()
    loc: Loc | None = None
    exposures: tuple[Exposure, ...] = ()

    def endpoint_refs(self) -> list[str]:
        """Every endpoint reference the section names (flow ends, crown jewels, their
        sources and intermediaries), as written."""
        refs = [r for f in self.flows for r in (f.src, f.dst)]
        return refs + [r for e in self.exposures for r in (e.workload, e.source, *e.only_via)]


@dataclass(frozen=True, slots=True)
class HelmRender:
    """One ``render.helm`` entry: how ``--render`` runs ``helm template`` on a chart."""

    chart: Path  # the chart's directory, absolute
    loc: Loc  # the entry in the policy file
    release: str | None = None  # None: helm's default (release-name)
    namespace: str | None = None  # None: the scan's default namespace
    values: tuple[Path, ...] = ()  # absolute, in order


@dataclass(frozen=True, slots=True)
class Policy:
    """The typed policy.  Sections other than ``security`` are kept located (``raw``)
    for the checks that consume them."""

    path: str | None
    settings: Settings = Settings()
    security: SecuritySection = SecuritySection()
    traffic: TrafficSection = TrafficSection()
    raw: LMap | None = None
    directory: Path | None = None  # the directory it governs (its own), absolute
    exceptions: tuple[Exception_, ...] = ()  # the top-level section (table rows keep their own)
    rules: Mapping[str, RuleSetting] = field(default_factory=lambda: MappingProxyType({}))
    exclude: tuple[str, ...] = ()  # path globs, relative to the policy file's directory
    render: tuple[HelmRender, ...] = ()  # ``render.helm``, for --render

    @property
    def all_exceptions(self) -> tuple[Exception_, ...]:
        return (
            tuple(e for row in self.security.workloads.values() for e in row.exceptions)
            + self.exceptions
            + ci_gate_exceptions(self)
        )

    def enabled(self, rule_id: str) -> bool:
        setting = self.rules.get(rule_id)
        return setting is None or setting.enabled

    def severity(self, rule_id: str) -> str | None:
        setting = self.rules.get(rule_id)
        return setting.severity if setting is not None else None

    @property
    def loc(self) -> Loc:
        return self.raw.loc if self.raw is not None else Loc(self.path or "kubematrix.yaml")

    def section(self, name: str) -> Any:
        return self.raw.get(name) if self.raw is not None else None


EMPTY_POLICY = Policy(path=None)


def _expectation(data: Any) -> SecurityExpectation:
    if not isinstance(data, LMap):
        return SecurityExpectation()
    values: dict[str, Any] = {}
    locs: dict[str, Loc] = {}
    for key, attr in _EXPECTATION_FIELDS.items():
        if key in data:
            values[attr] = data[key]
            locs[key] = data.loc_of(key)
    caps = data.get("capabilities")
    if isinstance(caps, LMap):
        for key in ("drop", "add"):
            if key in caps:
                values[f"capabilities_{key}"] = tuple(str(c) for c in caps[key])
                locs[f"capabilities.{key}"] = caps.loc_of(key)
    return SecurityExpectation(**values, locs=MappingProxyType(locs))


def _exceptions(data: Any, ref: str) -> tuple[Exception_, ...]:
    """A table row's exceptions: that workload, optionally some of its containers."""
    out = []
    for i, item in enumerate(data or []):
        expires = item.get("expires")
        out.append(
            Exception_(
                rules=tuple(item["rules"]),
                reason=str(item["reason"]),
                loc=data.loc_of(i),
                expires=_dt.date.fromisoformat(expires) if isinstance(expires, str) else None,
                workload=ref,
                containers=tuple(item.get("containers", ())),
            )
        )
    return tuple(out)


@dataclass(frozen=True, slots=True)
class RuleSetting:
    """``rules.<ID>`` of a policy file: off, or another severity, for its files."""

    enabled: bool = True
    severity: str | None = None
    reason: str = ""
    loc: Loc | None = None


def _rule_settings(section: Any) -> Mapping[str, RuleSetting]:
    if not isinstance(section, LMap):
        return MappingProxyType({})
    out = {
        str(rule): RuleSetting(
            value.get("enabled", True) is not False,
            value.get("severity"),
            str(value.get("reason", "")),
            section.key_loc(rule),
        )
        for rule, value in section.items()
        if isinstance(value, LMap)
    }
    return MappingProxyType(dict(sorted(out.items())))


def _security(section: Any) -> SecuritySection:
    if not isinstance(section, LMap):
        return SecuritySection()
    defaults = _expectation(section.get("defaults"))
    workloads = {}
    table = section.get("workloads")
    if isinstance(table, LMap):
        for ref, entry in table.items():
            own = _expectation(entry)
            inherit = entry.get("inheritDefaults", True)
            expectation = own.merged_over(defaults) if inherit else own
            containers = {str(k): _expectation(v) for k, v in (entry.get("containers") or {}).items()}
            workloads[str(ref)] = WorkloadSecurity(
                ref=str(ref),
                loc=table.key_loc(ref),
                expectation=expectation,
                containers=MappingProxyType(containers),
                exceptions=_exceptions(entry.get("exceptions"), str(ref)),
                documented=bool(inherit) or bool(own.locs),
                note=str(entry.get("note", "")),
            )
    names = section.get("namespaces")
    return SecuritySection(
        namespaces=tuple(str(n) for n in section.get("namespaces", ())),
        namespace_locs=MappingProxyType(
            {str(n): names.loc_of(i) for i, n in enumerate(names)} if isinstance(names, LList) else {}
        ),
        workloads=MappingProxyType(dict(sorted(workloads.items()))),
        loc=section.loc,
    )


def _http(items: Any) -> tuple | None:
    if items is None:
        return None
    return tuple(
        sorted(
            {(i.get("method"), i.get("path"), i.get("host")) for i in items if isinstance(i, dict)},
            key=lambda t: tuple(x or "" for x in t),
        )
    )


def _traffic(section: Any, settings: Settings) -> TrafficSection:
    if not isinstance(section, LMap):
        return TrafficSection()
    any_protocols = NetworkSettings.from_mapping(settings.cilium).any_protocols
    zt = section.get("zeroTrust")
    names = zt.get("namespaces") if isinstance(zt, LMap) else None
    zero_trust = {str(n): names.loc_of(i) for i, n in enumerate(names)} if isinstance(names, LList) else {}
    flows = []
    raw = section.get("flows")
    for i, f in enumerate(raw if isinstance(raw, LList) else ()):
        ports, named = parse_port_items(f.get("ports"), any_protocols)
        flows.append(
            Flow(
                str(f.get("from")),
                str(f.get("to")),
                ports,
                named,
                _http(f.get("http")),
                raw.loc_of(i),
                f.loc_of("from"),
                f.loc_of("to"),
            )
        )
    return TrafficSection(
        True, MappingProxyType(dict(sorted(zero_trust.items()))), tuple(flows), section.loc, _exposures(section)
    )


def _exposures(section: LMap) -> tuple[Exposure, ...]:
    items = section.get("exposure")
    out = []
    for i, e in enumerate(items if isinstance(items, LList) else ()):
        if isinstance(e, LMap):
            only_via = tuple(str(v) for v in e.get("onlyVia") or ())
            out.append(
                Exposure(
                    str(e.get("workload")),
                    str(e.get("from", "entity:world")),
                    e.get("minHops"),
                    only_via,
                    items.loc_of(i),
                )
            )
    return tuple(out)


def _settings(section: Any) -> Settings:
    if not isinstance(section, LMap):
        return Settings()
    pss = section.get("podSecurity") or {}
    return Settings(
        default_namespace=str(section.get("defaultNamespace", "default")),
        pod_security_default=str(pss.get("defaultLevel", "baseline")),
        cilium=MappingProxyType(dict(section.get("cilium") or {})),
        istio=MappingProxyType(dict(section.get("istio") or {})),
    )


def _error_loc(root: LMap, path: list[Any]) -> Loc:
    node: Any = root
    loc = root.loc
    for part in path:
        if (isinstance(node, LMap) and part in node) or (
            isinstance(node, LList) and isinstance(part, int) and part < len(node)
        ):
            loc = node.loc_of(part)
            node = node[part]
        else:
            break
    return loc


def _path_text(path: list[Any]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


@lru_cache(maxsize=1)
def _policy_validator() -> Any:
    """Built once per process: a monorepo scan validates one policy file per directory."""
    import jsonschema  # only a scan with a policy file needs it (a tenth of a second to import)

    return jsonschema.Draft202012Validator(
        load_json_schema("policy.schema.json"), format_checker=jsonschema.FormatChecker()
    )


def validate_policy_data(data: Any, shown: str) -> None:
    import jsonschema

    validator = _policy_validator()
    errors = sorted(validator.iter_errors(data), key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path))))
    if errors:
        best = jsonschema.exceptions.best_match(errors)
        path = list(best.absolute_path)
        loc = _error_loc(data, path) if isinstance(data, LMap) else Loc(shown)
        raise PolicyError(f"{loc}: invalid policy file at {_path_text(path)}: {best.message}")


def load_policy(path: Path, cwd: Path) -> Policy:
    """Read, validate and type a policy file named on the command line or found above
    the scanned tree (in-tree policy files are read by the loader like every file)."""
    real = Path(os.path.abspath(path))
    shown = display_path(real, real, cwd)
    documents, problems = parse_file(InputFile(real, shown))
    return policy_from_parsed([d.data for d in documents], problems, shown, real.parent)


def policy_from_parsed(documents: list[Any], problems: list, shown: str, directory: Path) -> Policy:
    """A policy from its parsed documents; PolicyError (a usage error) when it cannot be
    used: unparsable, not exactly one document, or invalid against the schema."""
    if problems:
        first = problems[0]
        raise PolicyError(f"{first.loc}: invalid policy file: {first.message}")
    if len(documents) != 1:
        raise PolicyError(f"{shown}:1:1: a policy file holds exactly one YAML document, found {len(documents)}")
    data = documents[0]
    validate_policy_data(data, shown)
    settings = _settings(data.get("settings"))
    return Policy(
        path=shown,
        settings=settings,
        security=_security(data.get("securityContext")),
        traffic=_traffic(data.get("traffic"), settings),
        raw=data,
        directory=directory,
        exceptions=exceptions.from_policy(data.get("exceptions"), posixpath.dirname(shown)),
        rules=_rule_settings(data.get("rules")),
        exclude=tuple(str(g) for g in data.get("exclude") or ()),
        render=_helm_renders(data.get("render"), directory),
    )


def _helm_renders(section: Any, directory: Path) -> tuple[HelmRender, ...]:
    """``render.helm`` with paths made absolute (relative to the policy's directory)."""
    items = section.get("helm") if isinstance(section, LMap) else None
    if not isinstance(items, LList):
        return ()
    out = []
    for i, item in enumerate(items):
        values = item.get("values") or ()
        out.append(
            HelmRender(
                Path(os.path.normpath(directory / str(item["chart"]))),
                items.loc_of(i),
                item.get("release"),
                item.get("namespace"),
                tuple(Path(os.path.normpath(directory / str(v))) for v in values),
            )
        )
    return tuple(out)


def is_policy_file_name(name: str) -> bool:
    return name in POLICY_FILE_NAMES


# --- Typed backup, retention and CI-gate sections (issue 9) --------------------------------
# The schema has validated the file, so types hold; these views only add locations.


@dataclass(frozen=True, slots=True)
class StagingVolume:
    """``backups[].stagingVolume``: the pod volume the dump is staged on, and its kind."""

    name: str
    source: str  # a volume source key: emptyDir, persistentVolumeClaim, ...
    loc: Loc
    name_loc: Loc
    source_loc: Loc
    description: str = ""


@dataclass(frozen=True, slots=True)
class BackupEntry:
    name: str
    cron_job: str  # namespace/name
    loc: Loc  # the list item
    schedule: str | None
    time_zone: str | None
    job_fields: Mapping[str, Any]  # concurrencyPolicy / successfulJobsHistoryLimit / failedJobsHistoryLimit
    active_deadline_seconds: int | None
    istio_sidecar: bool | None
    command_contains: tuple[str, ...]
    bucket: str | None
    region: str | None
    staging_volume: StagingVolume | None
    locs: Mapping[str, Loc]  # where each written key's value is ("destination.bucket" too)

    def where(self, key: str) -> Loc:
        return self.locs.get(key, self.loc)


def backup_entries(policy: Policy) -> tuple[BackupEntry, ...]:
    items = policy.section("backups")
    if not isinstance(items, LList):
        return ()
    out = []
    for i, e in enumerate(items):
        if not isinstance(e, LMap):
            continue
        locs = {str(k): e.loc_of(k) for k in e}
        dest = e.get("destination") if isinstance(e.get("destination"), LMap) else LMap(e.loc)
        locs.update({f"destination.{k}": dest.loc_of(k) for k in dest})
        staging = e.get("stagingVolume")
        out.append(
            BackupEntry(
                name=str(e.get("name")),
                cron_job=str(e.get("cronJob")),
                loc=items.loc_of(i),
                schedule=e.get("schedule"),
                time_zone=e.get("timeZone"),
                job_fields=MappingProxyType(
                    {
                        k: e[k]
                        for k in ("concurrencyPolicy", "successfulJobsHistoryLimit", "failedJobsHistoryLimit")
                        if k in e
                    }
                ),
                active_deadline_seconds=e.get("activeDeadlineSeconds"),
                istio_sidecar=e.get("istioSidecar"),
                command_contains=tuple(str(c) for c in e.get("commandContains") or ()),
                bucket=dest.get("bucket"),
                region=dest.get("region"),
                staging_volume=StagingVolume(
                    str(staging["name"]),
                    str(staging["source"]),
                    e.loc_of("stagingVolume"),
                    staging.loc_of("name"),
                    staging.loc_of("source"),
                    str(staging.get("description", "")),
                )
                if isinstance(staging, LMap)
                else None,
                locs=MappingProxyType(locs),
            )
        )
    return tuple(out)


@dataclass(frozen=True, slots=True)
class LifecycleEntry:
    """``retention.s3Lifecycle[]``: a lifecycle configuration file and what it promises."""

    file: str  # as written, relative to the policy file
    loc: Loc
    bucket: str | None
    rule_id: str | None
    prefix: str | None
    expiration_days: int | None
    locs: Mapping[str, Loc]

    def where(self, key: str) -> Loc:
        return self.locs.get(key, self.loc)


def lifecycle_entries(policy: Policy) -> tuple[LifecycleEntry, ...]:
    retention = policy.section("retention")
    items = retention.get("s3Lifecycle") if isinstance(retention, LMap) else None
    if not isinstance(items, LList):
        return ()
    return tuple(
        LifecycleEntry(
            str(e.get("file")),
            items.loc_of(i),
            e.get("bucket"),
            e.get("ruleId"),
            e.get("prefix"),
            e.get("expirationDays"),
            MappingProxyType({str(k): e.loc_of(k) for k in e}),
        )
        for i, e in enumerate(items)
        if isinstance(e, LMap)
    )


SEVERITIES = ("UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL")


@dataclass(frozen=True, slots=True)
class CiGate:
    """``ciGates[]``: a workflow job that must scan images before they ship."""

    name: str
    workflow: str  # as written, relative to the policy file
    job: str | None  # None: any job of the workflow
    scanner: str
    images: tuple[tuple[str, Loc], ...]
    severity: tuple[str, ...]  # severities the scan must cover; () promises none
    exit_code: int  # what the scan returns on findings; 0 = documented as report-only
    reason: str | None  # why it is report-only (required by the schema when exit_code is 0)
    expires: _dt.date | None
    loc: Loc
    locs: Mapping[str, Loc]

    def where(self, key: str) -> Loc:
        return self.locs.get(key, self.loc)


def ci_gates(policy: Policy) -> tuple[CiGate, ...]:
    items = policy.section("ciGates")
    if not isinstance(items, LList):
        return ()
    out = []
    for i, g in enumerate(items):
        if not isinstance(g, LMap):
            continue
        images = g.get("images") if isinstance(g.get("images"), LList) else LList(g.loc)
        expires = g.get("expires")
        out.append(
            CiGate(
                name=str(g.get("name")),
                workflow=str(g.get("workflow")),
                job=g.get("job"),
                scanner=str(g.get("scanner", "trivy")),
                images=tuple((str(image), images.loc_of(j)) for j, image in enumerate(images)),
                severity=tuple(str(s) for s in g.get("severity") or ()),
                exit_code=int(g.get("exitCode", 1)),
                reason=g.get("reason"),
                expires=_dt.date.fromisoformat(expires) if isinstance(expires, str) else None,
                loc=items.loc_of(i),
                locs=MappingProxyType({str(k): g.loc_of(k) for k in g}),
            )
        )
    return tuple(out)


GATE_KIND = "CiGate"  # how CI findings name their gate as an object (subject "CiGate <name>")


def ci_gate_exceptions(policy: Policy) -> tuple[Exception_, ...]:
    """A gate documented as report-only (``exitCode: 0`` with a reason) is an exception
    for its own CI002 findings (the exit code lets vulnerabilities pass) and nothing else:
    continue-on-error, --soft-fail and the like (CI005) still fail.  Applied, shown,
    lapsed (POL002) and reported unused (POL005) like every documented exception."""
    return tuple(
        Exception_(
            rules=("CI002",),
            reason=g.reason,
            loc=g.where("reason"),
            expires=g.expires,
            object_kind=GATE_KIND,
            name=g.name,
        )
        for g in ci_gates(policy)
        if g.exit_code == 0 and g.reason
    )
