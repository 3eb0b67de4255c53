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
from pathlib import Path
from types import MappingProxyType
from typing import Any

import jsonschema

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
class TrafficSection:
    """The documented traffic matrix (``traffic``).  ``present`` is False without the
    section: then no matrix promise is made."""

    present: bool = False
    zero_trust: Mapping[str, Loc] = field(default_factory=lambda: MappingProxyType({}))  # namespace -> where written
    flows: tuple[Flow, ...] = ()
    loc: Loc | None = None


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
        return tuple(e for row in self.security.workloads.values() for e in row.exceptions) + self.exceptions

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
        out.append(Exception_(
            rules=tuple(item["rules"]), reason=str(item["reason"]), loc=data.loc_of(i),
            expires=_dt.date.fromisoformat(expires) if isinstance(expires, str) else None,
            workload=ref, containers=tuple(item.get("containers", ())),
        ))
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
    out = {str(rule): RuleSetting(value.get("enabled", True) is not False, value.get("severity"),
                                  str(value.get("reason", "")), section.key_loc(rule))
           for rule, value in section.items() if isinstance(value, LMap)}
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
        namespace_locs=MappingProxyType({str(n): names.loc_of(i) for i, n in enumerate(names)} if isinstance(names, LList) else {}),
        workloads=MappingProxyType(dict(sorted(workloads.items()))),
        loc=section.loc,
    )


def _http(items: Any) -> tuple | None:
    if items is None:
        return None
    return tuple(sorted({(i.get("method"), i.get("path"), i.get("host")) for i in items if isinstance(i, dict)},
                        key=lambda t: tuple(x or "" for x in t)))


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
        flows.append(Flow(str(f.get("from")), str(f.get("to")), ports, named, _http(f.get("http")),
                          raw.loc_of(i), f.loc_of("from"), f.loc_of("to")))
    return TrafficSection(True, MappingProxyType(dict(sorted(zero_trust.items()))), tuple(flows), section.loc)


def _settings(section: Any) -> Settings:
    if not isinstance(section, LMap):
        return Settings()
    pss = section.get("podSecurity") or {}
    return Settings(
        default_namespace=str(section.get("defaultNamespace", "default")),
        pod_security_default=str(pss.get("defaultLevel", "baseline")),
        cilium=MappingProxyType(dict(section.get("cilium") or {})),
    )


def _error_loc(root: LMap, path: list[Any]) -> Loc:
    node: Any = root
    loc = root.loc
    for part in path:
        if isinstance(node, LMap) and part in node or isinstance(node, LList) and isinstance(part, int) and part < len(node):
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


def validate_policy_data(data: Any, shown: str) -> None:
    schema = load_json_schema("policy.schema.json")
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
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
        out.append(HelmRender(Path(os.path.normpath(directory / str(item["chart"]))), items.loc_of(i),
                              item.get("release"), item.get("namespace"),
                              tuple(Path(os.path.normpath(directory / str(v))) for v in values)))
    return tuple(out)


def is_policy_file_name(name: str) -> bool:
    return name in POLICY_FILE_NAMES
