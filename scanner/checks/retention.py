"""RET001-RET002: documented retention (S3 lifecycle, Loki) against the files that set it.

Files named in the policy are resolved relative to the policy file and must be
among the scanned inputs, so a lifecycle or values file that silently left the
tree is itself a finding.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from ..findings import Finding
from ..loader.documents import Document
from ..located import LMap, Loc
from ..names import did_you_mean
from ..policy import LifecycleEntry
from ..promises import retention_key
from .base import CheckContext

# Prometheus/Loki model durations: a sequence of <number><unit>, e.g. 168h, 7d, 1w2d.
_DURATION = re.compile(r"^(?:(\d+)(ms|s|m|h|d|w|y))+$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


def duration_seconds(text: str) -> float | None:
    """Seconds in a Loki duration (``168h``, ``7d``), or None if it is not one."""
    if not isinstance(text, str) or not _DURATION.match(text):
        return None
    return sum(int(n) * _UNIT_SECONDS[u] for n, u in re.findall(r"(\d+)(ms|s|m|h|d|w|y)", text))


def _policy_relative(ctx: CheckContext, file: str) -> str:
    base = posixpath.dirname(ctx.policy.path or "")
    return posixpath.normpath(posixpath.join(base, file))


def _documents(ctx: CheckContext, path: str) -> list[Document]:
    return [d for d in ctx.inputs.documents if d.path == path]


def _section_entries(ctx: CheckContext, key: str) -> Iterator[LMap]:
    retention = ctx.policy.section("retention")
    if isinstance(retention, LMap) and isinstance(retention.get(key), list):
        yield from (e for e in retention[key] if isinstance(e, LMap))


def _documented_files(
    ctx: CheckContext, key: str, rule: str, what: str
) -> Iterator[tuple[LMap, str, Document | Finding]]:
    """(entry, path, its first document) per policy entry, or a finding when the
    file the entry names is not among the scanned files."""
    for entry in _section_entries(ctx, key):
        path = _policy_relative(ctx, str(entry.get("file")))
        docs = _documents(ctx, path)
        if docs:
            yield entry, path, docs[0]
        else:
            yield (
                entry,
                path,
                Finding(
                    rule,
                    f"documented {what} file {path} is not among the scanned files"
                    f"{did_you_mean(path, ctx.inputs.files)}",
                    entry.loc_of("file"),
                    subject=path,
                    detail="missing-file",
                ),
            )


def _lifecycle_prefix(rule: LMap) -> tuple[Any, Loc]:
    filt = rule.get("Filter")
    if isinstance(filt, LMap):
        if "Prefix" in filt:
            return filt["Prefix"], filt.loc_of("Prefix")
        both = filt.get("And")
        if isinstance(both, LMap) and "Prefix" in both:
            return both["Prefix"], both.loc_of("Prefix")
        return "", filt.loc
    if "Prefix" in rule:  # the legacy, filter-less form
        return rule["Prefix"], rule.loc_of("Prefix")
    return "", rule.loc


def _candidates(rules: list, want_id: Any, want_prefix: Any) -> list[LMap]:
    """The lifecycle rules a policy entry means: by ID, else by prefix, else all."""
    candidates = [r for r in rules if isinstance(r, LMap)]
    if want_id is not None:
        return [r for r in candidates if r.get("ID") == want_id]
    if want_prefix is not None:
        return [r for r in candidates if _lifecycle_prefix(r)[0] == want_prefix]
    return candidates


@dataclass(frozen=True, slots=True)
class LifecycleRule:
    """The rule a ``retention.s3Lifecycle`` entry means, as its file writes it."""

    path: str  # the lifecycle file (display path)
    rule_id: str
    prefix: Any  # Filter.Prefix (or And.Prefix, or the legacy Prefix); "" for every object
    prefix_loc: Loc
    enabled: bool


def lifecycle_rule(ctx: CheckContext, entry: LifecycleEntry) -> LifecycleRule | None:
    """The rule an entry means, or None when its file or rule is missing (RET001 says so)."""
    path = _policy_relative(ctx, entry.file)
    docs = _documents(ctx, path)
    rules = docs[0].data.get("Rules") if docs and isinstance(docs[0].data, LMap) else None
    if not isinstance(rules, list):
        return None
    candidates = _candidates(rules, entry.rule_id, entry.prefix)
    if not candidates:
        return None
    rule = candidates[0]
    prefix, where = _lifecycle_prefix(rule)
    return LifecycleRule(path, str(rule.get("ID", "?")), prefix, where, rule.get("Status") == "Enabled")


def check_s3_lifecycle(ctx: CheckContext) -> Iterator[Finding]:
    for entry, path, doc in _documented_files(ctx, "s3Lifecycle", "RET001", "S3 lifecycle"):
        if isinstance(doc, Finding):
            yield doc
            continue
        data = doc.data
        rules = data.get("Rules") if isinstance(data, LMap) else None
        if not isinstance(rules, list):
            yield Finding(
                "RET001", "S3 lifecycle configuration has no 'Rules' list", doc.loc, subject=path, detail="rules"
            )
            continue
        want_id, want_prefix, want_days = entry.get("ruleId"), entry.get("prefix"), entry.get("expirationDays")
        candidates = _candidates(rules, want_id, want_prefix)
        if not candidates:
            what = f"ID {want_id!r}" if want_id is not None else f"prefix {want_prefix!r}"
            yield Finding(
                "RET001",
                f"no lifecycle rule with {what}: backups are never expired",
                rules.loc,
                subject=path,
                detail="rule",
            )
            continue
        rule = candidates[0]
        subject = f"{path} rule {rule.get('ID', '?')}"
        if rule.get("Status") != "Enabled":
            yield Finding(
                "RET001",
                f"lifecycle rule status is {rule.get('Status')!r}, not 'Enabled': nothing expires",
                rule.loc_of("Status"),
                subject=subject,
                detail="status",
            )
        prefix, prefix_loc = _lifecycle_prefix(rule)
        if want_prefix is not None and prefix != want_prefix:
            yield Finding(
                "RET001",
                f"lifecycle rule applies to prefix {prefix!r}, the document says {want_prefix!r}",
                prefix_loc,
                subject=subject,
                detail="prefix",
            )
        expiration = rule.get("Expiration")
        if not isinstance(expiration, LMap):
            yield Finding(
                "RET001",
                "lifecycle rule has no Expiration: objects are kept forever",
                rule.loc,
                subject=subject,
                detail="expiration",
            )
            continue
        days = expiration.get("Days")
        if not isinstance(days, int) or isinstance(days, bool) or days < 1:
            yield Finding(
                "RET001",
                f"Expiration.Days must be a positive whole number, got {type(days).__name__} {days!r}",
                expiration.loc_of("Days"),
                subject=subject,
                detail="days",
            )
        elif want_days is not None and days != want_days:
            yield Finding(
                "RET001",
                f"objects expire after {days} days, the document says {want_days}",
                expiration.loc_of("Days"),
                subject=subject,
                detail="days",
            )


def _dig(data: Any, *keys: str) -> tuple[Any, Loc | None]:
    node, loc = data, None
    for key in keys:
        if not isinstance(node, LMap) or key not in node:
            return None, None
        loc = node.loc_of(key)
        node = node[key]
    return node, loc


# Where Loki charts keep retention: loki-stack/table manager (older) and the
# compactor + limits_config form (Loki >= 2.x chart "loki").
_PERIOD_PATHS = (
    ("loki", "config", "table_manager", "retention_period"),
    ("loki", "config", "limits_config", "retention_period"),
    ("loki", "limits_config", "retention_period"),
)
_ENABLED_PATHS = (
    ("loki", "config", "table_manager", "retention_deletes_enabled"),
    ("loki", "config", "compactor", "retention_enabled"),
    ("loki", "compactor", "retention_enabled"),
)
_SIZE_PATHS = (("loki", "persistence", "size"), ("singleBinary", "persistence", "size"))


def check_loki(ctx: CheckContext) -> Iterator[Finding]:
    for entry, path, doc in _documented_files(ctx, "loki", "RET002", "Loki values"):
        if isinstance(doc, Finding):
            yield doc
            continue
        data, root = doc.data, doc.loc
        want = str(entry.get("retentionPeriod"))
        found = [(v, loc) for p in _PERIOD_PATHS for v, loc in [_dig(data, *p)] if loc is not None]
        if not found:
            yield Finding(
                "RET002",
                f"no Loki retention_period is set: logs are kept until the volume fills (document: {want})",
                root,
                subject=path,
                detail="period",
            )
        for value, loc in found:
            seconds = duration_seconds(value)
            if seconds is None:
                yield Finding(
                    "RET002",
                    f"retention_period {value!r} is not a duration like 168h",
                    loc,
                    subject=path,
                    detail="period",
                )
            elif seconds != duration_seconds(want):
                yield Finding(
                    "RET002",
                    f"retention_period is {value}, the document says {want}",
                    loc,
                    subject=path,
                    detail="period",
                )
            elif seconds == 0:
                yield Finding("RET002", "retention_period 0 keeps logs forever", loc, subject=path, detail="period")
        enabled = [(v, loc) for p in _ENABLED_PATHS for v, loc in [_dig(data, *p)] if loc is not None]
        if found and not any(v is True for v, _ in enabled):
            where = enabled[0][1] if enabled else found[0][1]
            yield Finding(
                "RET002",
                "retention deletes are not enabled (retention_deletes_enabled / compactor.retention_enabled): the period is never enforced",
                where,
                subject=path,
                detail="enabled",
            )
        want_size = entry.get("pvcSize")
        if want_size is not None:
            sizes = [(v, loc) for p in _SIZE_PATHS for v, loc in [_dig(data, *p)] if loc is not None]
            for value, loc in sizes:
                if str(value) != str(want_size):
                    yield Finding(
                        "RET002",
                        f"log volume size is {value}, the document says {want_size}",
                        loc,
                        subject=path,
                        detail="size",
                    )


def _promised(check, key: str):
    """Tag each finding with the documented retention entry whose file it is about."""

    def run(ctx: CheckContext) -> Iterator[Finding]:
        files = {
            _policy_relative(ctx, str(e.get("file"))): retention_key(key, str(e.get("file")))
            for e in _section_entries(ctx, key)
        }
        for f in check(ctx):
            owner = next((k for path, k in files.items() if f.subject == path or f.subject.startswith(path + " ")), "")
            yield replace(f, promises=(owner,) if owner else ())

    run.__doc__ = check.__doc__
    return run


CHECKS = {
    "RET001": _promised(check_s3_lifecycle, "s3Lifecycle"),
    "RET002": _promised(check_loki, "loki"),
}
