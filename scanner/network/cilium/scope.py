"""What every item of one Cilium rule is read against, and which of the rule's four
lists an item comes from."""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import fqdn as fqdnlib
from ..parsing import ParseEnv, PolicyContext
from ..selectors import Requirement, Selector

# The L3 peer fields of an item (pkg/policy/api/ingress.go, egress.go).
INGRESS_L3 = ("fromEndpoints", "fromCIDR", "fromCIDRSet", "fromEntities", "fromNodes", "fromGroups")
EGRESS_L3 = ("toEndpoints", "toCIDR", "toCIDRSet", "toEntities", "toServices", "toGroups", "toNodes")
DIRECTIONS = ("ingress", "ingressDeny", "egress", "egressDeny")


@dataclass(frozen=True, slots=True)
class Side:
    """One of a rule's four lists: ``ingress``, ``ingressDeny``, ``egress``, ``egressDeny``
    (``SIDES``: built once, read for every field of every item)."""

    name: str
    ingress: bool
    deny: bool
    direction: str  # ingress | egress
    prefix: str  # from | to: the L3 keys' prefix
    l3_keys: tuple[str, ...]

    @staticmethod
    def of(name: str) -> Side:
        ingress, deny = name.startswith("ingress"), name.endswith("Deny")
        # EgressDenyRule has no toFQDNs (the CRD prunes it: NET008).
        keys = INGRESS_L3 if ingress else EGRESS_L3 if deny else EGRESS_L3 + ("toFQDNs",)
        return Side(name, ingress, deny, "ingress" if ingress else "egress", "from" if ingress else "to", keys)


SIDES = {name: Side.of(name) for name in DIRECTIONS}


@dataclass(frozen=True, slots=True)
class RuleScope:
    """One rule's reading context.  ``namespace`` is None for a clusterwide policy;
    ``matches_init``: the subject selects ``reserved:init`` (its peers are not
    namespace-scoped); ``host_policy``: the rule has a nodeSelector.  ``requires``
    collects the deprecated ``fromRequires``/``toRequires`` per list."""

    env: ParseEnv
    ctx: PolicyContext
    namespace: str | None
    matches_init: bool = False
    host_policy: bool = False
    requires: dict[str, list[Requirement]] = field(default_factory=lambda: {d: [] for d in DIRECTIONS})


@dataclass(slots=True)
class Peers:
    """What one item's L3 fields select, and how explain names it."""

    endpoints: list[Selector] = field(default_factory=list)
    others: list[Selector] = field(default_factory=list)
    fqdns: list[fqdnlib.FqdnSelector] = field(default_factory=list)
    text: str = ""
