"""Identity labels and label selectors with Cilium's source prefixes.

An identity is a frozen set of ``Label(source, key, value)``.  A selector key is
written ``source:key`` (``k8s:app``, ``reserved:host``) or without a source, which
Cilium reads as ``any:key`` — a label of that key from any source
(``pkg/labels``: ``GetExtendedKeyFrom``/``ParseSource``; Documentation
security/policy/language "Label sources").  Matching follows Kubernetes
label-selector semantics: ``matchLabels`` AND every ``matchExpressions`` entry,
operators ``In``/``NotIn``/``Exists``/``DoesNotExist``; ``NotIn`` and
``DoesNotExist`` also match identities without the key.

Selectors are evaluated against many identity classes at once with bit masks
(``SelectorIndex``): one Python int per label, one bit per identity class.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

ANY = "any"
K8S = "k8s"
RESERVED = "reserved"
CIDR = "cidr"

# Special identity label keys (pkg/k8s/apis/cilium.io/const.go).
POD_NAMESPACE = "io.kubernetes.pod.namespace"
NAMESPACE_LABELS = "io.cilium.k8s.namespace.labels"
SERVICE_ACCOUNT = "io.cilium.k8s.policy.serviceaccount"
CLUSTER = "io.cilium.k8s.policy.cluster"

OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


@dataclass(frozen=True, slots=True, order=True)
class Label:
    source: str
    key: str
    value: str = ""

    def __str__(self) -> str:
        return f"{self.source}:{self.key}" + (f"={self.value}" if self.value else "")


def split_source(key: str, default: str = ANY) -> tuple[str, str]:
    """``k8s:app`` -> (k8s, app); ``app`` -> (any, app); ``$host`` -> (reserved, host).
    Kubernetes label keys cannot contain ``:``, so the first ``:`` separates the source."""
    if key.startswith("$"):
        return RESERVED, key[1:]
    if ":" in key:
        src, rest = key.split(":", 1)
        return src, rest
    return default, key


@dataclass(frozen=True, slots=True, order=True)
class Requirement:
    source: str  # "any" matches a label of any source
    key: str
    operator: str  # In, NotIn, Exists, DoesNotExist
    values: tuple[str, ...] = ()

    def matches(self, identity: frozenset[Label]) -> bool:
        present = [lab for lab in identity if lab.key == self.key and (self.source == ANY or lab.source == self.source)]
        if self.operator == "Exists":
            return bool(present)
        if self.operator == "DoesNotExist":
            return not present
        hit = any(lab.value in self.values for lab in present)
        return hit if self.operator == "In" else not hit

    def describe(self) -> str:
        k = f"{self.source}:{self.key}"
        if self.operator == "In" and len(self.values) == 1:
            return f"{k}={self.values[0]}"
        if self.operator in ("Exists", "DoesNotExist"):
            return f"{k} {self.operator}"
        return f"{k} {self.operator} ({', '.join(self.values)})"


@dataclass(frozen=True, slots=True, order=True)
class Selector:
    """A normalised endpoint selector: the AND of its requirements.  No requirement
    at all selects every identity (Cilium's ``WildcardEndpointSelector``)."""

    requirements: tuple[Requirement, ...] = ()

    @staticmethod
    def of(reqs: Iterable[Requirement]) -> Selector:
        return Selector(tuple(sorted(set(reqs))))

    def and_(self, *reqs: Requirement) -> Selector:
        return Selector.of(self.requirements + tuple(reqs))

    def without_key(self, source: str, key: str) -> Selector:
        return Selector(tuple(r for r in self.requirements if not (r.source == source and r.key == key)))

    def has_key(self, source: str, key: str) -> bool:
        return any(r.source == source and r.key == key for r in self.requirements)

    def has_key_prefix(self, source: str, prefix: str) -> bool:
        return any(r.source == source and r.key.startswith(prefix) for r in self.requirements)

    def has_source(self, source: str) -> bool:
        return any(r.source == source for r in self.requirements)

    def matches(self, identity: frozenset[Label]) -> bool:
        return all(r.matches(identity) for r in self.requirements)

    @property
    def is_wildcard(self) -> bool:
        return not self.requirements

    def describe(self) -> str:
        if not self.requirements:
            return "{} (everything)"
        return "{" + ", ".join(r.describe() for r in self.requirements) + "}"


WILDCARD = Selector()
NONE_SELECTOR = Selector((Requirement(RESERVED, "none", "Exists"),))


def entity_selector(name: str) -> Selector:
    """``reserved:<name>`` (matchLabels ``reserved:host: ""``)."""
    return Selector((Requirement(RESERVED, name, "Exists"),))


class SelectorError(ValueError):
    """A label selector that the API server or the Cilium agent rejects; ``path`` is
    where (keys inside the selector mapping), ``by`` who (``rules.API_SERVER`` for the
    schema's types and enums, else the agent's ``LabelSelectorAsSelector``)."""

    def __init__(self, message: str, path: tuple = (), by: str = "api-server"):
        super().__init__(message)
        self.path = path
        self.by = by


# The CRD's matchLabels value pattern and length (ciliumnetworkpolicies.yaml,
# MatchLabelsValue); Kubernetes validates label values of built-in kinds the same way
# (apimachinery validation IsValidLabelValue).
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def parse_label_selector(
    data: Mapping | None,
    *,
    default_source: str = ANY,
    force_source: str | None = None,
    key_prefix: str = "",
) -> Selector:
    """Read a Kubernetes ``LabelSelector`` mapping.  ``force_source`` puts every key in
    that source (Kubernetes NetworkPolicy selectors are translated with the ``k8s``
    source, ``pkg/k8s/network_policy.go``); ``key_prefix`` is prepended to every key
    (namespace selectors become ``io.cilium.k8s.namespace.labels.<key>``).
    Raises ``SelectorError`` for what the API server rejects."""
    if data is None:
        return WILDCARD
    if not isinstance(data, dict):
        raise SelectorError("a label selector must be a mapping")
    unknown = [k for k in data if k not in ("matchLabels", "matchExpressions")]
    if unknown:
        raise SelectorError(f"unknown field '{unknown[0]}' in a label selector", (unknown[0],))

    def key_of(raw: object, where: tuple) -> tuple[str, str]:
        if not isinstance(raw, str) or not raw:
            raise SelectorError(
                "a label key must be a non-empty string",
                where,
                by="cilium-agent" if isinstance(raw, str) else "api-server",
            )
        if force_source is not None:
            return force_source, key_prefix + raw
        src, key = split_source(raw, default_source)
        return src, key_prefix + key

    reqs = _match_labels(data.get("matchLabels"), key_of) + _match_expressions(data.get("matchExpressions"), key_of)
    return Selector.of(reqs)


KeyReader = Callable[[object, tuple], tuple[str, str]]


def _match_labels(labels: Any, key_of: KeyReader) -> list[Requirement]:
    if labels is None:
        return []
    if not isinstance(labels, dict):
        raise SelectorError("matchLabels must be a mapping", ("matchLabels",))
    reqs = []
    for k, v in labels.items():
        if v is None:
            v = ""
        if isinstance(v, bool):
            v = "true" if v else "false"
        if not isinstance(v, (str, int, float)):
            raise SelectorError(f"matchLabels.{k} must be a string", ("matchLabels", k))
        if isinstance(v, str) and (len(v) > 63 or not _LABEL_VALUE.match(v)):
            raise SelectorError(
                f"matchLabels.{k}: {v[:70]!r} is not a valid label value (at most 63 characters "
                "of [-A-Za-z0-9_.], starting and ending alphanumeric)",
                ("matchLabels", k),
            )
        src, key = key_of(k, ("matchLabels", k))
        reqs.append(Requirement(src, key, "In", (str(v),)))
    return reqs


def _match_expressions(exprs: Any, key_of: KeyReader) -> list[Requirement]:
    if exprs is None:
        return []
    if not isinstance(exprs, list):
        raise SelectorError("matchExpressions must be a list", ("matchExpressions",))
    return [_match_expression(e, ("matchExpressions", i), key_of) for i, e in enumerate(exprs)]


def _match_expression(e: Any, where: tuple, key_of: KeyReader) -> Requirement:
    """One ``LabelSelectorRequirement``: the API server checks the operator enum; the
    agent refuses In/NotIn without values and Exists/DoesNotExist with values."""
    if not isinstance(e, dict):
        raise SelectorError("a matchExpressions entry must be a mapping", where)
    op = e.get("operator")
    if op not in OPERATORS:
        raise SelectorError(
            f"operator {op!r} is not one of In, NotIn, Exists, DoesNotExist (the enum is case-sensitive)",
            where + ("operator",),
        )
    values = e.get("values")
    if values is None:
        values = []
    if not isinstance(values, list):
        raise SelectorError("values must be a list", where + ("values",))
    if op in ("In", "NotIn") and not values:
        raise SelectorError(f"operator {op} needs at least one value", where, by="cilium-agent")
    if op in ("Exists", "DoesNotExist") and values:
        raise SelectorError(f"operator {op} must not have values", where + ("values",), by="cilium-agent")
    src, key = key_of(e.get("key"), where + ("key",))
    return Requirement(src, key, op, tuple(sorted(str(v) for v in values)))


@dataclass(slots=True)
class SelectorIndex:
    """Bit-mask index of identity classes by label, to evaluate selectors fast.

    Class ``i`` is bit ``1 << i``.  ``mask(selector)`` is the set of classes it
    selects.  Results are memoised per selector (selectors are immutable values)."""

    identities: list[frozenset[Label]]
    all_mask: int = 0
    by_skv: dict[tuple[str, str, str], int] = field(default_factory=dict)
    by_kv: dict[tuple[str, str], int] = field(default_factory=dict)
    by_sk: dict[tuple[str, str], int] = field(default_factory=dict)
    by_k: dict[str, int] = field(default_factory=dict)
    cache: dict[Selector, int] = field(default_factory=dict)

    @staticmethod
    def build(identities: list[frozenset[Label]]) -> SelectorIndex:
        idx = SelectorIndex(identities=identities, all_mask=(1 << len(identities)) - 1)
        for i, ident in enumerate(identities):
            bit = 1 << i
            for lab in ident:
                for table, key in (
                    (idx.by_skv, (lab.source, lab.key, lab.value)),
                    (idx.by_kv, (lab.key, lab.value)),
                    (idx.by_sk, (lab.source, lab.key)),
                    (idx.by_k, lab.key),
                ):
                    table[key] = table.get(key, 0) | bit
        return idx

    def _present(self, r: Requirement) -> int:
        return self.by_k.get(r.key, 0) if r.source == ANY else self.by_sk.get((r.source, r.key), 0)

    def _with_value(self, r: Requirement) -> int:
        m = 0
        for v in r.values:
            m |= self.by_kv.get((r.key, v), 0) if r.source == ANY else self.by_skv.get((r.source, r.key, v), 0)
        return m

    def requirement_mask(self, r: Requirement) -> int:
        if r.operator == "Exists":
            return self._present(r)
        if r.operator == "DoesNotExist":
            return self.all_mask & ~self._present(r)
        if r.operator == "In":
            return self._with_value(r)
        return self.all_mask & ~self._with_value(r)

    def mask(self, selector: Selector) -> int:
        hit = self.cache.get(selector)
        if hit is not None:
            return hit
        m = self.all_mask
        for r in selector.requirements:
            m &= self.requirement_mask(r)
            if not m:
                break
        self.cache[selector] = m
        return m


def bits(mask: int) -> Iterable[int]:
    """Indices of the set bits, ascending."""
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low
