"""The internal rule representation shared by CNP, CCNP and Kubernetes NetworkPolicy.

Like Cilium, every policy kind is translated into one list of rules per cluster
(cilium/cilium ``pkg/policy/types`` ``PolicyEntry``: subject selector, direction,
verdict allow/deny, peer selectors, L4 ports, L7 rules, default-deny flag).  A
``PolicyRule`` is one Cilium ``api.Rule`` (a ``spec`` or one of ``specs``) or one
translated NetworkPolicy; its ``entries`` are its ingress/egress (deny) items, one
per ``toPorts`` item so that each carries a single L7 rule set.  Every object keeps
its provenance (``Origin``): policy kind, namespace, name, spec index, rule
direction and index, file and line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..located import Loc
from .fqdn import FqdnSelector
from .ports import NOTHING, PortSet
from .selectors import Requirement, Selector

CNP = "CiliumNetworkPolicy"
# Who refuses a policy: the API server (CRD schema or built-in validation: the object is
# never stored, ``kubectl apply`` fails) or the Cilium agent (the object is stored but
# its status says VALID=False and nothing of it is enforced).
API_SERVER = "api-server"
CILIUM_AGENT = "cilium-agent"
CCNP = "CiliumClusterwideNetworkPolicy"
KNP = "NetworkPolicy"
BUILTIN = "built-in"


@dataclass(frozen=True, slots=True, order=True)
class Origin:
    """Where a rule (or a whole policy) comes from."""

    kind: str
    namespace: str | None
    name: str
    path: str  # "spec.egress[0]", "specs[1].ingressDeny[0].toPorts[1]", "spec.ingress[2]"
    loc: Loc

    @property
    def policy(self) -> str:
        ns = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {ns}{self.name}"

    @property
    def where(self) -> str:
        return f"{self.loc.path}:{self.loc.line}"

    def text(self) -> str:
        path = f" {self.path}" if self.path else ""
        return f"{self.policy}{path} ({self.where})"

    def to_json(self) -> dict:
        return {
            "policy": self.policy,
            "kind": self.kind,
            "namespace": self.namespace,
            "name": self.name,
            "rule": self.path,
            "file": self.loc.path,
            "line": self.loc.line,
        }


@dataclass(frozen=True, slots=True, order=True)
class PortItem:
    """One ``ports[]`` entry.  ``port == 0`` means every port; ``name`` is a named port
    (lower-cased, resolved on the destination pod)."""

    protocol: str  # TCP, UDP, SCTP or ANY
    port: int = 0
    end_port: int = 0
    name: str | None = None


@dataclass(frozen=True, slots=True, order=True)
class HttpRule:
    """``rules.http[]``: method/path/host are RE2 regexes matched against the whole
    value (Envoy ``safe_regex`` header matchers, ``pkg/envoy`` ``getHTTPRule``);
    ``headers`` are ``"Name"`` (presence) or ``"Name: value"`` (exact value)."""

    method: str | None = None
    path: str | None = None
    host: str | None = None
    headers: tuple[tuple[str, str | None], ...] = ()
    header_matches: tuple[tuple[str, str | None, str | None], ...] = ()  # name, value, mismatch action

    def matches(self, method: str | None, path: str | None, host: str | None, headers: Mapping[str, str]) -> bool:
        if self.method is not None and not _full(self.method, method or ""):
            return False
        if self.path is not None and not _full(self.path, path or ""):
            return False
        if self.host is not None and not _full(self.host, host or ""):
            return False
        lower = {k.lower(): v for k, v in headers.items()}
        for name, value in self.headers:
            got = lower.get(name.lower())
            if got is None or (value is not None and got != value):
                return False
        for name, value, mismatch in self.header_matches:
            if mismatch:  # LOG/ADD/DELETE/REPLACE never deny
                continue
            got = lower.get(name.lower())
            if got is None or (value is not None and got != value):
                return False
        return True

    def to_json(self) -> dict:
        return {
            "method": self.method,
            "path": self.path,
            "host": self.host,
            "headers": [n if v is None else f"{n}: {v}" for n, v in self.headers]
            + [f"{n}: {v}" if v is not None else n for n, v, m in self.header_matches if not m],
        }

    def describe(self) -> str:
        parts = [p for p in (self.method, self.path) if p is not None]
        if self.host is not None:
            parts.append(f"host {self.host}")
        parts += [n if v is None else f"{n}: {v}" for n, v in self.headers]
        return " ".join(parts) if parts else "any request"


def _full(pattern: str, value: str) -> bool:
    try:
        return re.fullmatch(pattern, value) is not None
    except re.error:
        return False


@dataclass(frozen=True, slots=True, order=True)
class L7:
    """The L7 rules of one ``toPorts`` item.  ``kind`` is http, dns, kafka or the
    ``l7proto`` name; ``http``/``dns`` hold the rules (an empty tuple: every request)."""

    kind: str
    http: tuple[HttpRule, ...] = ()
    dns: tuple[FqdnSelector, ...] = ()
    other: tuple[str, ...] = ()  # kafka / generic rules, kept as text

    def describe(self) -> str:
        if self.kind == "http":
            return "HTTP " + ("; ".join(r.describe() for r in self.http) if self.http else "(any request)")
        if self.kind == "dns":
            return "DNS " + (", ".join(d.describe() for d in self.dns) if self.dns else "(any name)")
        return f"{self.kind} " + ("; ".join(self.other) if self.other else "(any)")


@dataclass(frozen=True, slots=True)
class Entry:
    """One allow or deny item of a rule, for one direction.

    ``endpoints`` are label selectors of pods (namespace scoping already applied;
    ``fromRequires``/``toRequires`` are ANDed into these only); ``others`` are selectors
    of entities, CIDR prefixes, nodes and the wildcard; ``fqdns`` are ``toFQDNs``.
    ``ports`` is ``None`` for an L3-only item (every protocol, ICMP included);
    otherwise the allowed numeric ports (``static``) plus ``named`` ports resolved per
    destination pod, and ICMP types in ``static`` for ``icmps`` items."""

    origin: Origin
    direction: str  # "ingress" or "egress"
    deny: bool
    endpoints: tuple[Selector, ...] = ()
    others: tuple[Selector, ...] = ()
    fqdns: tuple[FqdnSelector, ...] = ()
    l3_only: bool = True
    static: PortSet = NOTHING
    named: tuple[PortItem, ...] = ()
    l7: L7 | None = None
    peer_text: str = ""  # how the peers were written, for explanations

    @property
    def selects_nothing(self) -> bool:
        return not (self.endpoints or self.others or self.fqdns)


@dataclass(frozen=True, slots=True)
class PolicyRule:
    """One Cilium rule after translation.  ``subject`` is None for host policies
    (``nodeSelector``), which never select pods."""

    origin: Origin
    subject: Selector | None
    node_selector: Selector | None
    default_deny_ingress: bool
    default_deny_egress: bool
    entries: tuple[Entry, ...]
    requires_ingress: tuple[Requirement, ...] = ()
    requires_egress: tuple[Requirement, ...] = ()
    requires_ingress_deny: tuple[Requirement, ...] = ()
    requires_egress_deny: tuple[Requirement, ...] = ()

    def default_deny(self, direction: str) -> bool:
        return self.default_deny_ingress if direction == "ingress" else self.default_deny_egress


@dataclass(frozen=True, slots=True, order=True)
class Rejection:
    """A policy the engine (Cilium or the API server) rejects as a whole: not applied."""

    kind: str
    namespace: str | None
    name: str
    message: str
    loc: Loc
    path: str = ""
    by: str = CILIUM_AGENT  # API_SERVER or CILIUM_AGENT
    # What the policy would have selected (its subject selectors), for ``explain`` to
    # tell whether the rejection matters for a pair; None when unknown.
    subjects: tuple[Selector, ...] | None = field(default=None, compare=False)

    def concerns(self, identity: frozenset) -> bool:
        """Whether the rejected policy would have applied to an endpoint with ``identity``
        (True when that cannot be told)."""
        return self.subjects is None or any(s.matches(identity) for s in self.subjects)

    @property
    def policy(self) -> str:
        ns = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {ns}{self.name}"

    @property
    def component(self) -> str:
        """Who rejects it, in words."""
        if self.by == API_SERVER:
            return "the API server" + (" (its built-in validation)" if self.kind == KNP else " (the CRD schema)")
        return "the Cilium agent (policy validation)"


@dataclass(frozen=True, slots=True, order=True)
class Note:
    """A non-fatal remark about a policy (shown by ``explain``), e.g. a
    NetworkPolicy whose egress section Cilium enforces although policyTypes omits it."""

    policy: str
    message: str
    loc: Loc


@dataclass(frozen=True, slots=True, order=True)
class PrunedField:
    """A field of a policy that its schema does not have (rule NET008).  ``kubectl
    apply`` with strict field validation (the default) rejects the object; with
    validation off the API server drops the field and ``effect`` describes the
    rule that remains, which is what the engine applies."""

    loc: Loc
    policy: str
    path: str  # "spec.egress[0].fromEndpoint"
    key: str
    suggestion: str | None
    effect: str


@dataclass(slots=True)
class ParsedPolicies:
    rules: list[PolicyRule] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    pruned: list[PrunedField] = field(default_factory=list)  # unknown fields dropped before parsing (NET008)
    policies: list[Origin] = field(default_factory=list)  # every policy object seen (applied or not)
    entities: set[str] = field(default_factory=set)  # entity names written in applied policies
