"""Three-valued (Kleene) truth for offline Istio decisions.

A match can be TRUE, FALSE or UNKNOWN.  UNKNOWN carries *why*: the attributes that
could not be decided, each either ``request`` (the question did not give it, e.g. no
``--path``) or ``offline`` (no manifest can tell, e.g. a JWT claim or a pod IP).
Combining follows Kleene's strong logic (AND: any FALSE wins; OR: any TRUE wins), as
recommended by ../shared/reference/istio-authorization-semantics.md §2.10: never a
silent guess — an UNKNOWN stays visible up to the verdict.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, order=True)
class Unknown:
    """One attribute the decision depends on and that is not known."""

    attribute: str  # e.g. "request.auth.claims[iss]", "path", "source.ip"
    kind: str  # "request": the query did not give it | "offline": no manifest can tell
    why: str = ""

    def text(self) -> str:
        if self.kind == "request":
            return f"{self.attribute} (not given)"
        return f"{self.attribute} (undecidable offline{': ' + self.why if self.why else ''})"


@dataclass(frozen=True, slots=True)
class Tri:
    value: bool | None
    unknown: frozenset[Unknown] = frozenset()

    @property
    def is_true(self) -> bool:
        return self.value is True

    @property
    def is_false(self) -> bool:
        return self.value is False

    @property
    def is_unknown(self) -> bool:
        return self.value is None

    def __bool__(self) -> bool:  # a Tri must never be used as a plain bool by accident
        raise TypeError("use .is_true / .is_false / .is_unknown")


TRUE = Tri(True)
FALSE = Tri(False)


def unknown(attribute: str, kind: str, why: str = "") -> Tri:
    return Tri(None, frozenset({Unknown(attribute, kind, why)}))


def of(value: bool) -> Tri:
    return TRUE if value else FALSE


def and_(items: Iterable[Tri]) -> Tri:
    """Kleene AND; an empty conjunction is TRUE."""
    reasons: set[Unknown] = set()
    seen_unknown = False
    for t in items:
        if t.value is False:
            return FALSE
        if t.value is None:
            seen_unknown = True
            reasons |= t.unknown
    return Tri(None, frozenset(reasons)) if seen_unknown else TRUE


def or_(items: Iterable[Tri]) -> Tri:
    """Kleene OR; an empty disjunction is FALSE."""
    reasons: set[Unknown] = set()
    seen_unknown = False
    for t in items:
        if t.value is True:
            return TRUE
        if t.value is None:
            seen_unknown = True
            reasons |= t.unknown
    return Tri(None, frozenset(reasons)) if seen_unknown else FALSE


def not_(t: Tri) -> Tri:
    if t.value is None:
        return t
    return of(not t.value)


__all__ = ["FALSE", "TRUE", "Tri", "Unknown", "and_", "not_", "of", "or_", "unknown"]
