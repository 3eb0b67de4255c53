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
from .policy import EMPTY_POLICY, Policy


@dataclass(frozen=True, slots=True)
class ScanOptions:
    paths: tuple[Path, ...]
    policy: Policy = EMPTY_POLICY
    namespace: str | None = None  # --namespace: default for objects without one
    cwd: Path = field(default_factory=Path.cwd)
    today: _dt.date = field(default_factory=_dt.date.today)


@dataclass(frozen=True, slots=True)
class ScanResult:
    findings: tuple[Finding, ...]  # sorted; suppressed ones included (they carry .suppression)
    rules: dict[str, Rule]
    files: tuple[str, ...]
    document_counts: dict[str, int]
    workload_count: int
    policy_path: str | None

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
            finding = finding.suppressed(Suppression(match.reason, match.loc, "external"))
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


def run_scan(options: ScanOptions) -> ScanResult:
    catalog = load_catalog()
    inputs: LoadResult = load(list(options.paths), options.cwd)
    default_ns = options.namespace or options.policy.settings.default_namespace
    model: Model = build_model(inputs.objects, default_ns)
    ctx = CheckContext(model=model, inputs=inputs, policy=options.policy, today=options.today, default_namespace=default_ns)
    findings: list[Finding] = list(inputs.problems) + list(model.problems)
    for rule_id, check in all_checks().items():
        findings.extend(check(ctx))
    findings = apply_exceptions(_dedupe(findings), options.policy, options.today)
    findings.sort(key=lambda f: f.sort_key)
    counts: dict[str, int] = {}
    for doc in inputs.documents:
        counts[doc.cls.value] = counts.get(doc.cls.value, 0) + 1
    counts = {c.value: counts[c.value] for c in DocClass if c.value in counts}
    used = {f.rule_id for f in findings}
    unknown = used - set(catalog)
    if unknown:
        raise RuntimeError(f"findings for rules missing from the catalogue: {sorted(unknown)}")
    return ScanResult(
        findings=tuple(findings),
        rules=catalog,
        files=tuple(inputs.files),
        document_counts=counts,
        workload_count=len(model.workloads),
        policy_path=options.policy.path,
    )
