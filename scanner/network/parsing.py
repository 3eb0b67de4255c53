"""What the Cilium and Kubernetes policy readers share: the environment a policy is
read in, where each of its fields is written (``At``), and the collector of one
object's rejections and notes (``PolicyContext``).

Both readers report a problem at the field that causes it, and say who refuses it:
the API server (the CRD or built-in schema) or the Cilium agent (``Rule.Validate``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..loader.documents import KubeObject
from ..loader.schema_fields import prune
from ..located import LList, LMap, Loc
from ..model.types import Service
from .policy_schema import effect_of_dropping
from .rules import API_SERVER, CILIUM_AGENT, Note, Origin, ParsedPolicies, PrunedField, Rejection
from .settings import NetworkSettings


@dataclass(frozen=True, slots=True)
class CidrGroup:
    """A CiliumCIDRGroup: its labels (for ``cidrGroupSelector``) and external CIDRs."""

    name: str
    labels: Mapping[str, str]
    cidrs: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ParseEnv:
    """What a policy is read against: the datapath settings, the CIDR groups and the
    Services of the same manifests (``toServices``), the namespace of unnamespaced
    objects."""

    settings: NetworkSettings
    cidr_groups: tuple[CidrGroup, ...] = ()
    services: tuple[Service, ...] = ()
    default_namespace: str = "default"


def field_loc(container: Any, key: Any, fallback: Loc) -> Loc:
    """Where ``container[key]`` is written: the key's line for a nested list or mapping
    (``toPorts:``), the value's position for a scalar, the item's for a list index."""
    if isinstance(container, LMap) and key in container:
        if isinstance(container[key], (LMap, LList)):
            return container.key_loc(key)
        return container.loc_of(key)
    if isinstance(container, LList) and isinstance(key, int):
        return container.loc_of(key)
    if isinstance(container, (LMap, LList)):
        return container.loc
    return fallback


class At:
    """A place in one policy object: its path (``spec.ingress[0].toPorts``) and where
    it is written.  Readers make one for every field they descend into, but only
    problems and rule origins ask where it is, so path and location are worked out
    on first use."""

    __slots__ = ("_container", "_key", "_loc", "_parent", "_path")

    def __init__(self, path: str, loc: Loc) -> None:
        self._path: str | None = path
        self._loc: Loc | None = loc
        self._parent: At | None = None
        self._container: Any = None
        self._key: str | int = ""

    @staticmethod
    def _child(parent: At, container: Any, key: str | int) -> At:
        at = At.__new__(At)
        at._path = at._loc = None
        at._parent, at._container, at._key = parent, container, key
        return at

    def field(self, container: Any, key: str) -> At:
        return At._child(self, container, key)

    def item(self, container: Any, index: int) -> At:
        return At._child(self, container, index)

    @property
    def path(self) -> str:
        if self._path is None:
            above, key = self._parent.path, self._key
            self._path = f"{above}[{key}]" if isinstance(key, int) else f"{above}.{key}" if above else key
        return self._path

    @property
    def loc(self) -> Loc:
        if self._loc is None:
            self._loc = field_loc(self._container, self._key, self._parent.loc)
        return self._loc


@dataclass(slots=True)
class PolicyContext:
    """Collects one policy object's rejections and notes, and the entities it names."""

    kind: str
    namespace: str | None
    name: str
    errors: list[Rejection] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    entities: set[str] = field(default_factory=set)

    def err(self, message: str, at: At, by: str = CILIUM_AGENT) -> None:
        """A violation the Cilium agent's validation (``Rule.Validate``) rejects."""
        self.errors.append(Rejection(self.kind, self.namespace, self.name, message, at.loc, at.path, by))

    def schema(self, message: str, at: At) -> None:
        """A violation of the CRD or built-in schema (types, enums, patterns, oneOf,
        required): the API server refuses the object before Cilium ever sees it."""
        self.err(message, at, API_SERVER)

    def note(self, message: str, at: At) -> None:
        ns = f"{self.namespace}/" if self.namespace else ""
        self.notes.append(Note(f"{self.kind} {ns}{self.name}", message, at.loc))

    def origin(self, at: At) -> Origin:
        return Origin(self.kind, self.namespace, self.name, at.path, at.loc)


def record_pruned(obj: KubeObject, policy: str, schema: Any, out: ParsedPolicies) -> LMap:
    """Drop the fields ``schema`` does not know, as a lenient API server does, and record
    each for NET008; returns the body the engine then parses."""
    body, unknown = prune(obj.body, schema)
    for u in unknown:
        out.pruned.append(PrunedField(u.loc, policy, u.path, u.key, u.suggestion, effect_of_dropping(u)))
    return body
