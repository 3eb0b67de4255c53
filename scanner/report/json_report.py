"""JSON report: a small, versioned, documented format for scripts and dashboards.

The format is described by ``rules/schema/report.schema.json`` and
``docs/json-report.md``.  ``schemaVersion`` changes only on incompatible
changes (a field removed or its meaning changed); new fields may appear
within a version.  Output is deterministic: fixed key order, findings in scan order, rules by id, no timestamps.
"""

from __future__ import annotations

import json
from typing import Any

from .. import __version__
from ..catalog import Rule
from ..findings import Finding
from ..located import Loc
from ..promises import PromiseResult
from ..scan import ScanResult
from .sarif import INFORMATION_URI, TOOL_NAME, identity_hash

SCHEMA_VERSION = "1"
SEVERITIES = ("error", "warning", "note")


def _where(loc: Loc) -> dict[str, Any]:
    return {"path": loc.path, "line": loc.line, "column": loc.col}


def _finding(finding: Finding, rule: Rule, baselined: bool = False) -> dict[str, Any]:
    sup = finding.suppression
    return {
        "ruleId": finding.rule_id,
        "severity": finding.severity or rule.severity,
        "message": finding.message,
        **_where(finding.loc),
        "subject": finding.subject or None,
        "workload": finding.workload or None,
        "container": finding.container or None,
        "fingerprint": identity_hash(finding),
        "related": [_where(loc) for loc in finding.related],
        "suppressed": None
        if sup is None
        else {
            "reason": sup.reason,
            "kind": sup.kind,
            **_where(sup.source),
            "expires": sup.expires.isoformat() if sup.expires else None,
        },
        "promises": list(finding.promises),
        "baseline": _baseline_state(finding, baselined),
    }


def _baseline_state(finding: Finding, baselined: bool) -> str | None:
    if not baselined or finding.suppression is not None:
        return None
    return "unchanged" if finding.baseline else "new"


def _rule(rule: Rule) -> dict[str, Any]:
    return rule.to_json()


def summary(result: ScanResult) -> dict[str, Any]:
    by_severity = {level: 0 for level in SEVERITIES}
    for finding in result.active():
        by_severity[result.level(finding)] += 1
    return {
        "findings": len(result.active()),
        "bySeverity": by_severity,
        "suppressed": len(result.suppressed()),
        "files": len(result.files),
        "excluded": len(result.excluded),
        "documents": dict(result.document_counts),
        "workloads": result.workload_count,
        "rulesChecked": len(result.rules),
        "promises": {
            status: sum(p.status == status for p in result.promises) for status in ("kept", "broken", "excepted")
        },
        "baseline": None
        if result.baseline_fixed is None
        else {
            "known": sum(1 for f in result.active() if f.baseline),
            "new": sum(1 for f in result.active() if not f.baseline),
            "fixed": len(result.baseline_fixed),
        },
    }


def _scope(scope, result: ScanResult) -> dict[str, Any]:
    rules = {
        rule: {"enabled": st.enabled, "severity": st.severity, "reason": st.reason or None}
        for policy, rule, st in result.rule_settings
        if policy == scope.policy_path
    }
    return {
        "path": scope.policy_path,
        "directory": scope.directory,
        "files": scope.files,
        "excluded": scope.excluded,
        "rules": rules,
    }


def _promise(p: PromiseResult) -> dict[str, Any]:
    return {
        "key": p.promise.key,
        "family": p.promise.family,
        "text": p.promise.text,
        "policy": p.policy,
        **_where(p.promise.loc),
        "status": p.status,
        "findings": p.findings,
    }


def _rendered(result: ScanResult) -> dict[str, Any] | None:
    if not result.outputs and not result.replaced:
        return None
    return {
        "commands": [{"command": o.command, "documents": o.documents, "failed": o.failed} for o in result.outputs],
        "replacedFiles": list(result.replaced),
    }


def json_report(result: ScanResult) -> dict[str, Any]:
    used = sorted({f.rule_id for f in result.findings})
    return {
        "schemaVersion": SCHEMA_VERSION,
        "tool": {"name": TOOL_NAME, "version": __version__, "informationUri": INFORMATION_URI},
        "policy": result.policy_path,
        "policies": [_scope(s, result) for s in result.scopes],
        "summary": summary(result),
        "promises": [_promise(p) for p in result.promises],
        "findings": [_finding(f, result.rules[f.rule_id], result.baseline_fixed is not None) for f in result.findings],
        "baselineFixed": None if result.baseline_fixed is None else [e.to_json() for e in result.baseline_fixed],
        "rendered": _rendered(result),
        "rules": {rid: _rule(result.rules[rid]) for rid in used},
    }


def render_json(result: ScanResult) -> str:
    # Insertion order is deterministic and keeps the documented field order.
    return json.dumps(json_report(result), indent=2, ensure_ascii=True) + "\n"
