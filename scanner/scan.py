"""One scan, end to end: files -> documents -> model -> checks -> findings.

Data flows one way.  Reporters receive the ``ScanResult`` and only format it.
"""

from __future__ import annotations

import datetime as _dt
import gc
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from . import baseline, exceptions
from .baseline import Entry as BaselineEntry
from .catalog import Rule, load_catalog, severity_rank
from .checks import CheckContext, all_checks
from .findings import Finding
from .loader.documents import (
    NO_REPLACEMENT,
    DocClass,
    LoadResult,
    Progress,
    RenderedOutput,
    Replacement,
    Stream,
    load,
)
from .matrixview import MatrixView, build_view
from .model.build import Model, build_model
from .policy import Policy, RuleSetting
from .promises import PromiseResult, documented, evaluate
from .quote import quote_lines
from .scopes import Scope, plan


@dataclass(frozen=True, slots=True)
class ScanOptions:
    paths: tuple[Path, ...]
    policy: Policy | None = None  # --policy: governs every scanned file; None: discover (scanner/scopes.py)
    namespace: str | None = None  # --namespace: default for objects without one
    cwd: Path = field(default_factory=Path.cwd)
    today: _dt.date = field(default_factory=_dt.date.today)
    report_unused_exceptions: bool = False  # POL005 for exceptions that matched nothing
    exclude: tuple[str, ...] = ()  # --exclude globs: files not read at all
    baseline: tuple[BaselineEntry, ...] | None = None  # --baseline: known findings do not fail the build
    streams: tuple[Stream, ...] = ()  # manifests from stdin or a renderer (scan -, --render)
    matrix_view: bool = False  # judge every edge of the traffic graph for a diagram (--format markdown)
    replacement: Replacement = NO_REPLACEMENT  # --render: raw files its output replaces (render.py)
    problems: tuple[Finding, ...] = ()  # found before loading: what --render refused to render
    progress: Progress | None = None  # (stage, done, total) as files are read and scopes checked


@dataclass(frozen=True, slots=True)
class AppliedScope:
    """What a report says about one scope: which policy governed how many files."""

    policy_path: str | None  # None: no policy, generic rules only
    directory: str
    files: int
    excluded: int = 0  # files its policy's ``exclude`` left out


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
    excluded: tuple[str, ...] = ()  # files left out on purpose (--exclude, a policy's exclude)
    rule_settings: tuple[tuple[str, str, RuleSetting], ...] = ()  # (policy, rule, setting) from policies' ``rules``
    baseline_fixed: tuple[BaselineEntry, ...] | None = (
        None  # None: no baseline applied; else entries that no longer occur
    )
    rendered: frozenset[str] = frozenset()  # paths whose line numbers are lines of rendered output
    matrix: tuple[MatrixView, ...] = ()  # per policy with a traffic matrix, when ScanOptions.matrix_view
    replaced: tuple[str, ...] = ()  # raw files --render read from rendered output instead
    outputs: tuple[RenderedOutput, ...] = ()  # what --render ran, and how many documents each gave
    quotes: Mapping[Finding, str] = field(default_factory=dict)  # each finding's source line, masked (quote.py)

    def active(self) -> list[Finding]:
        return [f for f in self.findings if f.suppression is None]

    def suppressed(self) -> list[Finding]:
        return [f for f in self.findings if f.suppression is not None]

    def failing(self, fail_on: str) -> list[Finding]:
        if fail_on == "never":
            return []
        threshold = severity_rank(fail_on)
        return [f for f in self.active() if not f.baseline and severity_rank(self.level(f)) >= threshold]

    def level(self, finding: Finding) -> str:
        """The finding's severity: the rule's, unless the governing policy overrides it."""
        return finding.severity or self.rules[finding.rule_id].severity


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
    view: MatrixView | None = None


def load_inputs(options: ScanOptions) -> LoadResult:
    """Every file and stream of the scan, read once (``scan``, ``graph``, ``explain``
    and ``paths`` all start here)."""
    return load(
        list(options.paths), options.cwd, options.exclude, options.streams, options.replacement, options.progress
    )


def check_context(inputs: LoadResult, policy: Policy, options: ScanOptions) -> CheckContext:
    """The model of ``inputs`` under ``policy`` and what checks (and the graph commands)
    read from it: objects without a namespace get ``--namespace``, else the policy's."""
    default_ns = options.namespace or policy.settings.default_namespace
    model: Model = build_model(inputs.objects, default_ns)
    return CheckContext(model=model, inputs=inputs, policy=policy, today=options.today, default_namespace=default_ns)


def _check_scope(scope: Scope, part: LoadResult, options: ScanOptions, found: list[Finding]) -> _ScopeResult:
    """Every enabled check, for the files one policy governs (``part`` of the inputs),
    with the problems already found in those files; the policy's rule settings and
    exceptions applied; and what the checks proved."""
    policy = scope.policy
    ctx = check_context(part, policy, options)
    model = ctx.model
    findings: list[Finding] = found + list(model.problems)
    for rule_id, check in all_checks().items():
        if policy.enabled(rule_id):
            findings.extend(check(ctx))
    annotated, problems = exceptions.from_annotations(exceptions.spans(part.objects, ctx.default_namespace))
    findings = [_with_settings(f, policy) for f in findings + problems if policy.enabled(f.rule_id)]
    findings = exceptions.apply(
        findings, policy.all_exceptions + tuple(annotated), options.today, options.report_unused_exceptions
    )
    view = build_view(ctx) if options.matrix_view and policy.path and policy.traffic.present else None
    return _ScopeResult(findings, len(model.workloads), evaluate(documented(ctx), findings, policy.path), view)


def _with_settings(finding: Finding, policy: Policy) -> Finding:
    severity = policy.severity(finding.rule_id)
    return replace(finding, severity=severity) if severity else finding


def run_scan(options: ScanOptions) -> ScanResult:
    """Load once, split the files by governing policy, check each part, merge.  Raises
    PolicyError for an invalid or ambiguous policy file (a usage error).

    A scan allocates millions of small objects that live until it ends and form almost
    no cycles; the cyclic garbage collector would walk all of them again and again for
    nothing (a third of a large scan's time), so it is paused for the scan and
    restored afterwards (reference counting still frees everything acyclic)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _run_scan(options)
    finally:
        if was_enabled:
            gc.enable()


def _run_scan(options: ScanOptions) -> ScanResult:
    catalog = load_catalog()
    inputs = load_inputs(options)
    scopes, unapplied = plan(inputs, list(options.paths), options.policy, options.cwd)
    pending: list[Finding] = list(inputs.problems) + list(options.problems) + unapplied
    findings: list[Finding] = []
    workloads = 0
    promises: list[PromiseResult] = []
    views: list[MatrixView] = []
    # Each file belongs to at most one scope: index once instead of filtering per scope.
    scope_of = {f: n for n, s in enumerate(scopes) for f in s.files}
    claimed_paths = set(scope_of) | {f for s in scopes for f in s.excluded}
    found: list[list[Finding]] = [[] for _ in scopes]
    for f in pending:
        if f.loc.path in scope_of:
            found[scope_of[f.loc.path]].append(f)
    parts = inputs.partition([s.files for s in scopes])
    for n, (scope, part) in enumerate(zip(scopes, parts, strict=True)):
        if options.progress is not None:
            options.progress("checking", n, len(scopes))
        done = _check_scope(scope, part, options, found[n])
        findings.extend(done.findings)
        workloads += done.workloads
        promises += done.promises
        views += [done.view] if done.view is not None else []
    findings += [f for f in pending if f.loc.path not in claimed_paths]  # e.g. a directory that cannot be read
    findings = _dedupe(findings)
    findings.sort(key=lambda f: f.sort_key)
    fixed = None
    if options.baseline is not None:
        findings, fixed = baseline.apply(findings, list(options.baseline))
    counts: dict[str, int] = {}
    for doc in inputs.documents:
        counts[doc.cls.value] = counts.get(doc.cls.value, 0) + 1
    counts = {c.value: counts[c.value] for c in DocClass if c.value in counts}
    used = {f.rule_id for f in findings}
    unknown = used - set(catalog)
    if unknown:
        raise RuntimeError(f"findings for rules missing from the catalogue: {sorted(unknown)}")
    applied = tuple(AppliedScope(s.policy.path, s.directory, len(s.files), len(s.excluded)) for s in scopes)
    return ScanResult(
        findings=tuple(findings),
        rules=catalog,
        files=tuple(inputs.files),
        document_counts=counts,
        workload_count=workloads,
        policy_path=next((s.policy_path for s in applied if s.policy_path), None),
        scopes=applied,
        promises=tuple(promises),
        excluded=tuple(sorted(inputs.excluded + [f for s in scopes for f in s.excluded])),
        rule_settings=tuple(
            (s.policy.path or "", rule, setting) for s in scopes for rule, setting in s.policy.rules.items()
        ),
        baseline_fixed=fixed,
        rendered=frozenset(inputs.rendered),
        matrix=tuple(views),
        replaced=tuple(inputs.replaced),
        outputs=tuple(inputs.outputs),
        quotes=quote_lines(findings, catalog, frozenset(inputs.rendered), inputs.sources, options.cwd),
    )
