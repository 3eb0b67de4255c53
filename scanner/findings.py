"""The one thing every stage produces and every reporter consumes: a finding."""

from __future__ import annotations

import datetime as _dt
import hashlib
from dataclasses import dataclass, field, replace

from .located import Loc


@dataclass(frozen=True, slots=True)
class Suppression:
    """Why a finding does not count: a documented exception or an annotation."""

    reason: str
    source: Loc  # where the exception is written (policy file or manifest annotation)
    kind: str = "external"  # SARIF suppression kind: "external" (policy file) or "inSource"
    expires: _dt.date | None = None  # after this day the exception no longer applies (POL002 then)


@dataclass(frozen=True, slots=True)
class Finding:
    """A rule violation at a precise location.

    ``subject`` names the object the finding is about (``Rollout blog-system/web``)
    and, with ``rule_id``, forms the stable identity used for SARIF fingerprints,
    so a finding keeps its fingerprint when lines move.
    """

    rule_id: str
    message: str
    loc: Loc
    subject: str = ""  # the object the finding is about, e.g. "Rollout blog-system/web"
    detail: str = ""  # distinguishes several findings of one rule on one subject (field, port ...)
    workload: str = ""  # "namespace/name" when the finding concerns a workload (for exceptions)
    container: str = ""  # container name when it concerns one container
    suppression: Suppression | None = None
    related: tuple[Loc, ...] = field(default=())
    promises: tuple[str, ...] = ()  # keys of the documented promises it breaks (scanner/promises.py)
    severity: str = ""  # set when the governing policy overrides the rule's severity (rules.<ID>.severity)
    baseline: bool = False  # known from the --baseline file: reported, but does not fail the build
    # The line it points at may hold a secret value (inside a Secret, a ConfigMap, a
    # values file, an env entry): reporters show the line with its value masked.
    sensitive: bool = False

    def suppressed(self, suppression: Suppression) -> Finding:
        return replace(self, suppression=suppression)

    @property
    def sort_key(self) -> tuple:
        return (self.loc.path, self.loc.line, self.loc.col, self.rule_id, self.subject, self.detail, self.message)

    @property
    def identity(self) -> str:
        """Line-independent identity: rule, file, subject and detail."""
        return "|".join((self.rule_id, self.loc.path, self.subject, self.container, self.detail))

    @property
    def fingerprint(self) -> str:
        """SHA-256 (hex) of the identity: stable when lines move (SARIF partial fingerprint,
        JSON ``fingerprint``, baseline files)."""
        return hashlib.sha256(self.identity.encode("utf-8")).hexdigest()
