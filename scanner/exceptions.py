"""Documented exceptions: "not here, and why", for any rule.

Three places may document one, all with a reason and an optional expiry date:

* a row of the SecurityContext table (``securityContext.workloads.<ref>.exceptions``):
  that workload, optionally some containers;
* the policy file's top-level ``exceptions``: rule globs narrowed by the object the
  finding concerns (kind / namespace / name globs) and/or its file (path globs relative
  to the policy file's directory);
* the object itself, as annotations ``kubematrix.dev/ignore: "RULE[,RULE]"``,
  ``kubematrix.dev/ignore-reason`` and optionally ``kubematrix.dev/ignore-until`` (the
  SARIF ``inSource`` kind).

A matching exception keeps the finding, marked suppressed with its reason — never
dropped.  An exception without a reason never applies (POL004); one past its date
never applies and its lapse is reported (POL002); with ``--report-unused-exceptions``
one that matched nothing is reported (POL005).  This module is the only owner of the
matching rules; checks know nothing about exceptions.
"""

from __future__ import annotations

import datetime as _dt
import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass

from .findings import Finding, Suppression
from .located import LMap, Loc

ANNOTATION = "kubematrix.dev/ignore"
ANNOTATION_REASON = "kubematrix.dev/ignore-reason"
ANNOTATION_UNTIL = "kubematrix.dev/ignore-until"


@dataclass(frozen=True, slots=True)
class ObjectSpan:
    """An object of a manifest and the lines its document covers (for annotations)."""

    kind: str
    namespace: str | None
    name: str
    path: str
    first: int
    last: int  # inclusive; a large number for the last document of a file


@dataclass(frozen=True, slots=True)
class Exception_:
    """One documented exception.  ``None``/empty fields do not narrow it."""

    rules: tuple[str, ...]  # ids or globs
    reason: str
    loc: Loc  # where it is written
    kind: str = "external"  # external (policy file) | inSource (annotation)
    expires: _dt.date | None = None
    workload: str | None = None  # a table row: namespace/name
    containers: tuple[str, ...] = ()
    object_kind: str | None = None  # globs
    namespace: str | None = None
    name: str | None = None
    files: tuple[str, ...] = ()  # globs relative to ``base``
    base: str = ""  # the policy file's directory (display form), for ``files``
    span: ObjectSpan | None = None  # an annotation: the object that carries it

    def lapsed(self, today: _dt.date) -> bool:
        return self.expires is not None and today > self.expires

    def describe(self) -> str:
        what = ", ".join(self.rules)
        if self.workload:
            return f"the exception for {self.workload} ({what})"
        if self.span is not None:
            return f"the annotation on {self.span.kind} {_ref(self.span.namespace, self.span.name)} ({what})"
        narrowed = [
            f"{k} {v}" for k, v in (("kind", self.object_kind), ("namespace", self.namespace), ("name", self.name)) if v
        ]
        narrowed += [f"files {', '.join(self.files)}"] if self.files else []
        return f"the exception for {what}" + (f" ({'; '.join(narrowed)})" if narrowed else "")

    def matches(self, finding: Finding) -> bool:
        if not any(fnmatch.fnmatchcase(finding.rule_id, r) for r in self.rules):
            return False
        if self.workload is not None:
            if finding.workload != self.workload:
                return False
            return not self.containers or not finding.container or finding.container in self.containers
        if self.span is not None:
            return _in_object(finding, self.span)
        if (self.object_kind, self.namespace, self.name) != (None, None, None) and not self._object_matches(finding):
            return False
        return not self.files or any(
            fnmatch.fnmatchcase(_relative(finding.loc.path, self.base), g) or fnmatch.fnmatchcase(finding.loc.path, g)
            for g in self.files
        )

    def _object_matches(self, finding: Finding) -> bool:
        obj = finding_object(finding)
        if obj is None:
            return False
        kind, namespace, name = obj
        return all(
            pattern is None or (value is not None and fnmatch.fnmatchcase(value, pattern))
            for pattern, value in ((self.object_kind, kind), (self.namespace, namespace), (self.name, name))
        )


def _ref(namespace: str | None, name: str) -> str:
    return f"{namespace}/{name}" if namespace else name


def _relative(path: str, base: str) -> str:
    if base and base not in (".", "./") and path.startswith(base.rstrip("/") + "/"):
        return path[len(base.rstrip("/")) + 1 :]
    return path


def finding_object(finding: Finding) -> tuple[str | None, str | None, str] | None:
    """(kind, namespace, name) of the object a finding concerns, from its subject
    (``Deployment shop/api``, ``ClusterRole admin``) or its workload (``shop/api``)."""
    head, _, rest = finding.subject.partition(" ")
    if rest and " " not in rest and head[:1].isupper():
        ns, _, name = rest.rpartition("/")
        return head, ns or None, name
    if finding.workload:
        ns, _, name = finding.workload.partition("/")
        return None, ns, name
    return None


def _in_object(finding: Finding, span: ObjectSpan) -> bool:
    if finding.loc.path == span.path and span.first <= finding.loc.line <= span.last:
        return True
    obj = finding_object(finding)
    return obj is not None and obj[1:] == (span.namespace, span.name) and obj[0] in (None, span.kind)


# -- reading exceptions --------------------------------------------------------------------


def from_policy(items: object, base: str) -> tuple[Exception_, ...]:
    """The top-level ``exceptions`` of a policy file (validated by its schema)."""
    out = []
    if not isinstance(items, list):
        return ()
    for i, item in enumerate(items):
        if not isinstance(item, LMap):
            continue
        out.append(
            Exception_(
                rules=tuple(str(r) for r in item.get("rules") or ()),
                reason=str(item.get("reason", "")),
                loc=items.loc_of(i),
                expires=_date(item.get("expires")),
                object_kind=_opt(item.get("kind")),
                namespace=_opt(item.get("namespace")),
                name=_opt(item.get("name")),
                files=tuple(str(f) for f in item.get("files") or ()),
                base=base,
            )
        )
    return tuple(out)


def _opt(value: object) -> str | None:
    return None if value is None else str(value)


def _date(value: object) -> _dt.date | None:
    if isinstance(value, _dt.date):
        return value
    if isinstance(value, str):
        try:
            return _dt.date.fromisoformat(value)
        except ValueError:
            return None
    return None


def from_annotations(
    spans_and_annotations: Iterable[tuple[ObjectSpan, LMap]],
) -> tuple[list[Exception_], list[Finding]]:
    """Exceptions written on objects, and POL004 for the ones that cannot apply."""
    out: list[Exception_] = []
    problems: list[Finding] = []
    for span, notes in spans_and_annotations:
        raw = notes.get(ANNOTATION)
        if raw is None:
            continue
        loc = notes.key_loc(ANNOTATION)
        subject = f"{span.kind} {_ref(span.namespace, span.name)}"
        rules = tuple(r.strip() for r in str(raw).split(",") if r.strip())
        reason = notes.get(ANNOTATION_REASON)
        until_raw = notes.get(ANNOTATION_UNTIL)
        until = _date(until_raw)
        why = None
        if not rules:
            why = f"{ANNOTATION} names no rule"
        elif not isinstance(reason, str) or len(reason.strip()) < 3:
            why = f"it has no {ANNOTATION_REASON} (say why the finding does not apply here)"
        elif until_raw is not None and until is None:
            why = f"{ANNOTATION_UNTIL} {str(until_raw)!r} is not a date (YYYY-MM-DD)"
        if why is not None:
            problems.append(
                Finding(
                    "POL004",
                    f"the exception annotation on {subject} is not applied: {why}",
                    loc,
                    subject=subject,
                    detail="annotation",
                )
            )
            continue
        out.append(
            Exception_(rules=rules, reason=str(reason).strip(), loc=loc, kind="inSource", expires=until, span=span)
        )
    return out, problems


# -- applying them ---------------------------------------------------------------------------


def apply(
    findings: list[Finding], exceptions: Iterable[Exception_], today: _dt.date, report_unused: bool = False
) -> list[Finding]:
    """Findings with matching exceptions marked suppressed, plus POL002 for every lapsed
    exception and (``report_unused``) POL005 for every one that matched nothing."""
    live = [e for e in exceptions if not e.lapsed(today)]
    lapsed = [e for e in exceptions if e.lapsed(today)]
    used: set[int] = set()
    out = []
    for finding in findings:
        match = next((i for i, e in enumerate(live) if e.matches(finding)), None)
        if match is not None:
            e = live[match]
            used.add(match)
            finding = finding.suppressed(Suppression(e.reason, e.loc, e.kind, e.expires))
        out.append(finding)
    out += [_lapse(e, today) for e in lapsed]
    if report_unused:
        out += [
            Finding(
                "POL005",
                f"{e.describe()} matched no finding: remove it, or fix what it was meant to cover (reason: {e.reason})",
                e.loc,
                subject=e.describe(),
                detail="unused",
            )
            for i, e in enumerate(live)
            if i not in used
        ]
    return out


def _lapse(e: Exception_, today: _dt.date) -> Finding:
    assert e.expires is not None
    days = (today - e.expires).days
    return Finding(
        "POL002",
        f"{e.describe()} expired on {e.expires.isoformat()}, {days} day{'s' if days != 1 else ''} ago; the findings it "
        f"covered are reported again (reason was: {e.reason})",
        e.loc,
        subject=e.describe(),
        detail=f"expired:{','.join(e.rules)}",
        workload=e.workload or "",
    )


def spans(objects: Iterable, default_namespace: str) -> list[tuple[ObjectSpan, LMap]]:
    """(object span, its annotations) for every object that carries the ignore annotation."""
    by_file: dict[str, list] = {}
    for o in objects:
        by_file.setdefault(o.body.loc.path, []).append(o)
    out = []
    for path, objs in by_file.items():
        objs.sort(key=lambda o: o.body.loc.line)
        for i, o in enumerate(objs):
            annotations = o.metadata.get("annotations")
            if not isinstance(annotations, LMap) or ANNOTATION not in annotations:
                continue
            last = objs[i + 1].body.loc.line - 1 if i + 1 < len(objs) else 10**9
            ns = o.namespace or (default_namespace if o.kind not in _CLUSTER_KINDS else None)
            out.append((ObjectSpan(o.kind, ns, o.name, path, o.body.loc.line, last), annotations))
    return out


_CLUSTER_KINDS = frozenset(
    {
        "Namespace",
        "CiliumClusterwideNetworkPolicy",
        "ClusterRole",
        "ClusterRoleBinding",
        "PersistentVolume",
        "StorageClass",
        "Node",
        "CustomResourceDefinition",
    }
)
