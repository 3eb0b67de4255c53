"""SARIF 2.1.0 for GitHub code scanning (and any other SARIF consumer).

The log is valid against the official OASIS schema and follows GitHub's
ingestion rules: exactly one run; every rule with short/full description and
help; ``security-severity`` as a string; every result with exactly one
location whose ``uri`` is relative to ``%SRCROOT%`` (the directory kubematrix
ran from, i.e. the repository root in CI) and a region starting at line >= 1;
``partialFingerprints.primaryLocationLineHash`` computed from the finding's
line-independent identity, so an alert survives lines moving above it.

The output is a pure function of the scan result: no timestamps, no absolute
paths, sorted keys, so two runs on the same input are byte-identical.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from .. import __version__
from ..catalog import Rule
from ..findings import Finding
from ..located import Loc
from ..scan import ScanResult

TOOL_NAME = "kubematrix"
INFORMATION_URI = "https://kubematrix.dev/"
SARIF_SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
SRCROOT = "%SRCROOT%"
# The kubematrix-specific fingerprint: the full hash of the identity, versioned
# so a future change of identity can use a new key without clashing.
FINGERPRINT_KEY = "kubematrixIdentityHash/v1"


def identity_hash(finding: Finding) -> str:
    """SHA-256 (hex) of the finding's line-independent identity (owned by Finding)."""
    return finding.fingerprint


def fingerprints(findings: Iterable[Finding]) -> list[str]:
    """``primaryLocationLineHash`` of each finding, in order.

    Like GitHub's own algorithm, the hash is suffixed with ``:<n>``, the
    occurrence number of that hash in the file: findings whose identities
    coincide still get distinct fingerprints.
    """
    seen: dict[str, int] = {}
    out = []
    for finding in findings:
        digest = identity_hash(finding)[:16]
        seen[digest] = seen.get(digest, 0) + 1
        out.append(f"{digest}:{seen[digest]}")
    return out


def is_security_rule(rule: Rule) -> bool:
    """The rule's ``kind`` (rules/*.yaml): GitHub shows security rules' findings as
    security alerts."""
    return rule.kind == "security"


def rule_tags(rule: Rule) -> list[str]:
    tags = list(rule.tags)
    if is_security_rule(rule) and "security" not in tags:
        tags.insert(0, "security")
    return tags[:20]  # GitHub rejects more than 20


def artifact_uri(path: str) -> dict[str, str]:
    """An artifactLocation: relative paths against %SRCROOT%, absolute ones as file URIs."""
    if path.startswith("/"):
        return {"uri": "file://" + quote(path, safe="/")}
    return {"uri": quote(path, safe="/"), "uriBaseId": SRCROOT}


def physical(loc: Loc) -> dict[str, Any]:
    return {
        "artifactLocation": artifact_uri(loc.path),
        "region": {"startLine": max(1, loc.line), "startColumn": max(1, loc.col)},
    }


def help_text(rule: Rule) -> str:
    text = (
        f"{rule.title}\n\n{rule.description}\n\nRemediation: {rule.remediation}\n\n"
        f"Passes:\n{rule.help_pass.rstrip()}\n\nFails:\n{rule.help_fail.rstrip()}\n"
    )
    if rule.references:
        text += "\nReferences:\n" + "".join(f"- {r}\n" for r in rule.references)
    return text


def rule_descriptor(rule: Rule) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "tags": rule_tags(rule),
        "precision": "high",
        "security-severity": str(rule.security_severity),
    }
    if not is_security_rule(rule):
        properties["problem.severity"] = {"error": "error", "warning": "warning"}.get(rule.severity, "recommendation")
    if rule.pss_level:
        properties["pss"] = {"level": rule.pss_level, "control": rule.pss_control}
    return {
        "id": rule.id,
        "name": rule.name,
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": rule.description},
        "help": {"text": help_text(rule), "markdown": rule.help_markdown()},
        "defaultConfiguration": {"level": rule.severity},
        "properties": properties,
    }


def _result(finding: Finding, rule: Rule, index: int, fingerprint: str, baselined: bool = False) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": finding.rule_id,
        "ruleIndex": index,
        "level": finding.severity or rule.severity,
        "message": {"text": finding.message},
        "locations": [{"physicalLocation": physical(finding.loc)}],
        "partialFingerprints": {
            "primaryLocationLineHash": fingerprint,
            FINGERPRINT_KEY: identity_hash(finding),
        },
    }
    related = []
    for loc in finding.related:
        related.append({"id": len(related), "physicalLocation": physical(loc), "message": {"text": "related location"}})
    properties = {
        key: value
        for key, value in (
            ("subject", finding.subject),
            ("workload", finding.workload),
            ("container", finding.container),
        )
        if value
    }
    if properties:
        result["properties"] = properties
    if baselined and finding.suppression is None:
        result["baselineState"] = "unchanged" if finding.baseline else "new"
    if finding.suppression is not None:
        sup = finding.suppression
        where = {"physicalLocation": physical(sup.source), "message": {"text": "documented exception"}}
        result["suppressions"] = [
            {
                "kind": sup.kind if sup.kind in ("inSource", "external") else "external",
                "status": "accepted",
                "justification": sup.reason + (f" (expires {sup.expires.isoformat()})" if sup.expires else ""),
                "location": where,
            }
        ]
        related.append({"id": len(related), **where})
    if related:
        result["relatedLocations"] = related
    return result


def _invocation(result: ScanResult, index: dict[str, int]) -> dict[str, Any]:
    """Rule settings of the policies, as SARIF configuration overrides (the same rule
    set differently by two policies appears once per setting)."""
    out: dict[str, Any] = {"executionSuccessful": True}
    overrides = []
    for policy, rule, st in result.rule_settings:
        if rule not in index:
            continue
        config: dict[str, Any] = {"enabled": st.enabled}
        if st.severity:
            config["level"] = st.severity
        overrides.append(
            {
                "descriptor": {"id": rule, "index": index[rule]},
                "configuration": config,
                "properties": {"policy": policy, "reason": st.reason},
            }
        )
    if overrides:
        out["ruleConfigurationOverrides"] = overrides
    return out


def sarif_log(result: ScanResult) -> dict[str, Any]:
    """The SARIF log as a Python object (``render_sarif`` serialises it)."""
    rules = list(result.rules.values())  # the whole catalogue, in id order
    index = {rule.id: i for i, rule in enumerate(rules)}
    prints = fingerprints(result.findings)
    results = [
        _result(finding, result.rules[finding.rule_id], index[finding.rule_id], fp, result.baseline_fixed is not None)
        for finding, fp in zip(result.findings, prints, strict=True)
    ]
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": TOOL_NAME,
                "semanticVersion": __version__,
                "version": __version__,
                "informationUri": INFORMATION_URI,
                "rules": [rule_descriptor(rule) for rule in rules],
            }
        },
        "automationDetails": {"id": f"{TOOL_NAME}/"},
        "originalUriBaseIds": {
            SRCROOT: {"description": {"text": "The directory kubematrix ran from (the repository root in CI)."}}
        },
        "invocations": [_invocation(result, index)],
        # What a green run proved: which policy governed which files, and the promises' outcomes.
        "properties": {
            "kubematrix": {
                "policies": [
                    {"path": sc.policy_path, "directory": sc.directory, "files": sc.files, "excluded": sc.excluded}
                    for sc in result.scopes
                ],
                "excludedFiles": len(result.excluded),
                "baselineFixed": None if result.baseline_fixed is None else len(result.baseline_fixed),
                "promises": {
                    status: sum(p.status == status for p in result.promises)
                    for status in ("kept", "broken", "excepted")
                },
                # --render: the commands run, and how many raw files their output replaced
                "rendered": None
                if not (result.outputs or result.replaced)
                else {
                    "commands": [
                        {"command": o.command, "documents": o.documents, "failed": o.failed} for o in result.outputs
                    ],
                    "replacedFiles": len(result.replaced),
                },
            }
        },
        "columnKind": "unicodeCodePoints",
        "results": results,
    }
    return {"$schema": SARIF_SCHEMA_URI, "version": "2.1.0", "runs": [run]}


def render_sarif(result: ScanResult) -> str:
    return json.dumps(sarif_log(result), indent=2, sort_keys=True, ensure_ascii=True) + "\n"
