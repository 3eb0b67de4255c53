"""One scan, end to end: files -> documents -> model -> checks -> findings.

Data flows one way.  Reporters receive the ``ScanResult`` and only format it.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from pathlib import Path

from .catalog import Rule, load_catalog, severity_rank
from .checks import CheckContext, all_checks
from .findings import Finding, Suppression
from .loader.documents import DocClass, LoadResult, load
from .model.build import Model, build_model
from .policy import Policy
from .promises import PromiseResult, documented, evaluate
from .scopes import Scope, plan


@dataclass(frozen=True, slots=True)
class ScanOptions:
    paths: tuple[Path, ...]
    policy: Policy | None = None  # --policy: governs every scanned file; None: discover (scanner/scopes.py)
    namespace: str | None = None  # --namespace: default for objects without one
    cwd: Path = field(default_factory=Path.cwd)
    today: _dt.date = field(default_factory=_dt.date.today)


@dataclass(frozen=True, slots=True)
class AppliedScope:
    """What a report says about one scope: which policy governed how many files."""

    policy_path: str | None  # None: no policy, generic rules only
    directory: str
    files: int


@dataclass(frozen=True, slots=True)
class ScanResult:
    findings: tuple[Finding, ...]  # sorted; suppressed ones included (they carry .suppression)
    rules: dict[str, Rule]
    files: tuple[str, ...]
    document_counts: dict[str, int]
    workload_count: int
    policy_path: str | None  # the first policy applied (see ``scopes`` for all)
    scopes: tuple[AppliedScope, ...] = ()
    promises: tuple[PromiseResult, ...] = ()  # every documented promise and what the scan proved

    def active(self) -> list[Finding]:
        return [f for f in self.findings if f.suppression is None]

    def suppressed(self) -> list[Finding]:
        return [f for f in self.findings if f.suppression is not None]

    def failing(self, fail_on: str) -> list[Finding]:
        if fail_on == "never":
            return []
        threshold = severity_rank(fail_on)
        return [f for f in self.active() if self.rules[f.rule_id].rank >= threshold]


def apply_exceptions(findings: list[Finding], policy: Policy, today: _dt.date) -> list[Finding]:
    """Documented exceptions (policy file) suppress matching findings, visibly."""
    table = policy.security.workloads
    out = []
    for finding in findings:
        entry = table.get(finding.workload) if finding.workload else None
        match = None
        if entry is not None:
            match = next((e for e in entry.exceptions if e.covers(finding.rule_id, finding.container or None, today)), None)
        if match is not None:
            finding = finding.suppressed(Suppression(match.reason, match.loc, "external", match.expires))
        out.append(finding)
    return out


def _dedupe(findings: list[Finding]) -> list[Finding]:
    seen: set[tuple] = set()
    out = []
    for f in findings:
        key = (f.rule_id, f.loc, f.message)
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


@dataclass(frozen=True, slots=True)
class _ScopeResult:
    findings: list[Finding]
    workloads: int
    promises: list[PromiseResult]


def _check_scope(scope: Scope, inputs: LoadResult, options: ScanOptions) -> _ScopeResult:
    """Every check, for the files one policy governs, and what they proved."""
    part = inputs.subset(set(scope.files))
    default_ns = options.namespace or scope.policy.settings.default_namespace
    model: Model = build_model(part.objects, default_ns)
    ctx = CheckContext(model=model, inputs=part, policy=scope.policy, today=options.today, default_namespace=default_ns)
    findings: list[Finding] = list(model.problems)
    for check in all_checks().values():
        findings.extend(check(ctx))
    findings = apply_exceptions(findings, scope.policy, options.today)
    return _ScopeResult(findings, len(model.workloads), evaluate(documented(ctx), findings, scope.policy.path))


def run_scan(options: ScanOptions) -> ScanResult:
    """Load once, split the files by governing policy, check each part, merge.  Raises
    PolicyError for an invalid or ambiguous policy file (a usage error)."""
    catalog = load_catalog()
    inputs: LoadResult = load(list(options.paths), options.cwd)
    scopes, unapplied = plan(inputs, list(options.paths), options.policy, options.cwd)
    findings: list[Finding] = list(inputs.problems) + unapplied
    workloads = 0
    promises: list[PromiseResult] = []
    for scope in scopes:
        done = _check_scope(scope, inputs, options)
        findings.extend(done.findings)
        workloads += done.workloads
        promises += done.promises
    findings = _dedupe(findings)
    findings.sort(key=lambda f: f.sort_key)
    counts: dict[str, int] = {}
    for doc in inputs.documents:
        counts[doc.cls.value] = counts.get(doc.cls.value, 0) + 1
    counts = {c.value: counts[c.value] for c in DocClass if c.value in counts}
    used = {f.rule_id for f in findings}
    unknown = used - set(catalog)
    if unknown:
        raise RuntimeError(f"findings for rules missing from the catalogue: {sorted(unknown)}")
    applied = tuple(AppliedScope(s.policy.path, s.directory, len(s.files)) for s in scopes)
    return ScanResult(
        findings=tuple(findings),
        rules=catalog,
        files=tuple(inputs.files),
        document_counts=counts,
        workload_count=workloads,
        policy_path=next((s.policy_path for s in applied if s.policy_path), None),
        scopes=applied,
        promises=tuple(promises),
    )
