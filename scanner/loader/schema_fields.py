"""Fields a Kubernetes API object may hold, and what happens to the others.

The API server decodes an object against its schema.  A field the schema does not
know is handled in one of two ways, depending on how the object is sent:

* ``kubectl apply`` asks for *strict* server-side field validation by default
  (kubectl >= 1.27, ``--validate=strict``; KEP-2885 "Server Side Unknown Field
  Validation"): the request fails with ``unknown field "spec.x"`` and nothing is
  stored;
* with validation off (``--validate=false``/``ignore``, most controllers and many
  GitOps tools) the field is dropped silently: built-in kinds ignore it when
  decoding, custom resources with a structural schema prune it
  (apiextensions-apiserver ``pkg/apiserver/schema/pruning``), and the rest of the
  object is stored and used.

This module describes object shapes as small declarative schemas, finds the unknown
fields of a located document (with a "did you mean" for near misses) and returns a
pruned copy, so downstream code sees exactly what a lenient API server would store.
Only the levels a schema describes are checked; a level described as ``ANY`` (or a
free-form map) is taken as written.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..located import LList, LMap, Loc


@dataclass(frozen=True, slots=True)
class Obj:
    """A mapping with a fixed set of fields (``name`` says what it is, for messages)."""

    name: str
    fields: Mapping[str, Shape]


@dataclass(frozen=True, slots=True)
class Arr:
    """A list whose items all have the shape ``item``."""

    item: Shape


@dataclass(frozen=True, slots=True)
class Any_:
    """Anything: a scalar, or a structure whose fields are not checked here."""


ANY = Any_()
Shape = Obj | Arr | Any_


def obj(what: str, /, **fields: Shape) -> Obj:
    return Obj(what, dict(fields))


def extend(base: Obj, what: str, /, **more: Shape) -> Obj:
    """``base`` plus more fields (Go struct embedding)."""
    return Obj(what, {**base.fields, **more})


def without(base: Obj, what: str, /, *names: str) -> Obj:
    return Obj(what, {k: v for k, v in base.fields.items() if k not in names})


@dataclass(frozen=True, slots=True)
class UnknownField:
    """A key the schema does not know, where it is written and what it may have meant."""

    key: str
    parent: str  # path of the mapping that holds it ("spec.egress[0]"), "" for the root
    loc: Loc  # where the key is written
    holder: str  # what the mapping is (Obj.name)
    suggestion: str | None  # the known field it most likely meant
    kept: frozenset[str] = field(default_factory=frozenset)  # known keys the mapping still holds

    @property
    def path(self) -> str:
        return f"{self.parent}.{self.key}" if self.parent else self.key


def suggest(key: str, known: Any) -> str | None:
    """The known field a typo most likely meant: same letters in another case
    (``HTTP`` -> ``http``), singular/plural (``fromEndpoint`` -> ``fromEndpoints``),
    else the closest spelling (``egres`` -> ``egress``)."""
    names = sorted(str(k) for k in known)
    lower = {n.lower(): n for n in names}
    if key.lower() in lower:
        return lower[key.lower()]
    for n in names:
        if n.lower() in (key.lower() + "s", key.lower() + "es") or key.lower() in (n.lower() + "s", n.lower() + "es"):
            return n
    for n in names:  # two letters swapped: form -> from
        if (
            len(n) == len(key) > 2
            and sorted(n.lower()) == sorted(key.lower())
            and sum(a != b for a, b in zip(n.lower(), key.lower(), strict=True)) == 2
        ):
            return n
    close = difflib.get_close_matches(key, names, n=1, cutoff=0.8)
    if not close:
        close = difflib.get_close_matches(key.lower(), list(lower), n=1, cutoff=0.8)
        close = [lower[c] for c in close]
    return close[0] if close else None


def _key_text(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(key)


def prune(value: Any, shape: Shape, path: str = "") -> tuple[Any, list[UnknownField]]:
    """(what a lenient API server stores, the unknown fields), walking ``value`` along
    ``shape``.  The original is never modified; unchanged subtrees are shared.
    Values of the wrong type are returned as they are (the consumers report those)."""
    found: list[UnknownField] = []
    result = _prune(value, shape, path or None, found)
    found.sort(key=lambda u: (u.loc, u.path))
    return result, found


# Paths are built only for the rare unknown field: a walk passes (parent, key) pairs.
_Path = Any  # None | str (the root's) | tuple[_Path, str | int]


def _path_text(path: _Path) -> str:
    parts: list[str] = []
    while isinstance(path, tuple):
        path, key = path
        parts.append(f"[{key}]" if isinstance(key, int) else key)
    if isinstance(path, str):
        parts.append(path)
    text = ""
    for part in reversed(parts):
        text += part if part.startswith("[") or not text else f".{part}"
    return text


def _prune(value: Any, shape: Shape, path: _Path, found: list[UnknownField]) -> Any:
    """The hot path of reading policies and workloads: no path strings, no sets, no
    copies unless something is unknown."""
    cls = shape.__class__
    if cls is Arr:
        item_shape = shape.item
        if value.__class__ is not LList or item_shape.__class__ is Any_:
            return value
        items = [_prune(item, item_shape, (path, i), found) for i, item in enumerate(value)]
        if all(new is old for new, old in zip(items, value, strict=True)):
            return value
        out = LList(value.loc)
        out.extend(items)
        out.item_locs = list(value.item_locs)
        return out
    if cls is not Obj or value.__class__ is not LMap:
        return value
    fields = shape.fields
    changed = False
    children: list[tuple[Any, Any]] = []
    for k, v in value.items():
        text = k if k.__class__ is str else _key_text(k)
        sub = fields.get(text)
        if sub is None:
            changed = True
            continue
        child = v if sub.__class__ is Any_ else _prune(v, sub, (path, text), found)
        children.append((k, child))
        changed = changed or child is not v
    if not changed:
        return value
    kept = frozenset(_key_text(k) for k, _ in children)
    parent = _path_text(path)
    for k in value:
        text = _key_text(k)
        if text not in fields:
            found.append(UnknownField(text, parent, value.key_loc(k), shape.name, suggest(text, fields), kept))
    out = LMap(value.loc)
    for k, child in children:
        out[k] = child
        out.key_locs[k] = value.key_loc(k)
        out.value_locs[k] = value.loc_of(k)
    return out


OBJECT_META = obj(
    "object metadata",
    name=ANY,
    generateName=ANY,
    namespace=ANY,
    selfLink=ANY,
    uid=ANY,
    resourceVersion=ANY,
    generation=ANY,
    creationTimestamp=ANY,
    deletionTimestamp=ANY,
    deletionGracePeriodSeconds=ANY,
    labels=ANY,
    annotations=ANY,
    ownerReferences=ANY,
    finalizers=ANY,
    managedFields=ANY,
)
# metav1.LabelSelector and its requirements.
LABEL_SELECTOR = obj(
    "label selector",
    matchLabels=ANY,
    matchExpressions=Arr(obj("label selector requirement", key=ANY, operator=ANY, values=ANY)),
)


def top_level(what: str, /, **fields: Shape) -> Obj:
    """An API object: ``apiVersion``, ``kind``, ``metadata`` and ``status`` plus ``fields``."""
    return obj(what, apiVersion=ANY, kind=ANY, metadata=OBJECT_META, status=ANY, **fields)


__all__ = [
    "ANY",
    "LABEL_SELECTOR",
    "OBJECT_META",
    "Arr",
    "Obj",
    "Shape",
    "UnknownField",
    "extend",
    "obj",
    "prune",
    "suggest",
    "top_level",
    "without",
]
