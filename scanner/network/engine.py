"""Per-direction policy evaluation, per identity class.

For a connection ``src -> dst`` (cilium/cilium ``pkg/policy`` resolution, deny.rst,
intro.rst; replies of an allowed connection are always allowed):

    allowed = egress_ok(src, dst) AND ingress_ok(dst, src)

and for one side (``subject``, ``peer``, ``direction``):

* ``R`` = every rule of every kind (CNP, CCNP, translated NetworkPolicy; ``spec`` and
  ``specs``) whose subject selector selects the subject's identity;
* the side is *isolated* (default deny) if some rule in ``R`` enables default deny for
  the direction (or the enforcement mode is ``always``); mode ``never`` enforces
  nothing;
* allowed ports = (union of the allow entries matching the peer, or everything when not
  isolated) minus the union of the deny entries matching the peer: deny always wins;
* an allow entry with L7 rules restricts its ports to those requests, except where a
  plain L4 allow covers the same port for the same peer (the L7 rule is then widened
  to allow-all, ``appendL7WildcardRule`` / layer7.rst);
* traffic from the local host (``reserved:host``) is always allowed on ingress
  (``allow-localhost=always`` in Kubernetes mode);
* ``toFQDNs`` allows only names the pod's own DNS proxy rules (``rules.dns`` on an
  egress rule selecting the pod) let it resolve (docs: "DNS-based" policy), and such a
  rule counts only if it actually lets the pod query the DNS server: its peer selects
  kube-dns, its ports include one kube-dns serves, no deny rule removes that, and
  kube-dns's ingress admits it (the proxy only sees queries that are allowed).

Everything is computed on identity classes with bit masks: a rule's subject selector
and each entry's peer selectors are evaluated once against all classes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .fqdn import FqdnSelector
from .identities import IdentityClass
from .ports import FULL, NOTHING, PortSet
from .rules import Entry, Origin, PolicyRule
from .selectors import Requirement, Selector, SelectorIndex, bits
from .settings import NetworkSettings


@dataclass(frozen=True, slots=True)
class Contribution:
    entry: Entry
    ports: PortSet


@dataclass(frozen=True, slots=True)
class L7Restriction:
    """On ``ports``, only requests matching ``rules`` (from ``entries``) pass."""

    kind: str
    ports: PortSet
    http: tuple
    dns: tuple
    entries: tuple[Entry, ...]


@dataclass(frozen=True, slots=True)
class SideResult:
    """What one side (egress of the source or ingress of the destination) allows
    towards one peer, and why."""

    direction: str
    enforced: bool
    isolated: bool
    isolating: tuple[Origin, ...]
    allowed: PortSet
    allows: tuple[Contribution, ...]
    denies: tuple[Contribution, ...]
    l7: tuple[L7Restriction, ...]
    localhost: bool = False
    fqdn_without_dns: tuple[Entry, ...] = ()
    # rules.dns entries of the subject that do not reach the DNS server (wrong peer, port,
    # or denied), so they give no DNS visibility: the reason behind fqdn_without_dns
    dns_not_reaching: tuple[Entry, ...] = ()
    # fromRequires/toRequires conditions ANDed into every endpoint peer of this side:
    # (the rule that states it, its requirements, whether it applies to deny entries)
    requires: tuple[tuple[Origin, tuple[Requirement, ...], bool], ...] = ()


@dataclass(slots=True)
class DirectionPolicy:
    enforced: bool
    isolated: bool
    isolating: tuple[Origin, ...]
    allows: list[tuple[Entry, int]]
    denies: list[tuple[Entry, int]]
    allow_union: int
    deny_union: int
    fqdn_blocked: list[tuple[Entry, int]] = field(default_factory=list)
    blocked_union: int = 0
    dns_not_reaching: tuple[Entry, ...] = ()
    requires: tuple[tuple[Origin, tuple[Requirement, ...], bool], ...] = ()
    memo: dict = field(default_factory=dict)  # side results by signature (matching entries, dest ports)
    allow_masks: tuple[int, ...] = ()
    deny_masks: tuple[int, ...] = ()
    any_named_egress: bool = False


class Engine:
    """Evaluates policy sides for identity classes.  Holds only caches of pure
    results; building it twice from the same inputs gives the same answers."""

    def __init__(
        self,
        classes: list[IdentityClass],
        rules: list[PolicyRule],
        settings: NetworkSettings,
        dns_servers: Mapping[int, PortSet] | None = None,
    ) -> None:
        self.classes = classes
        # class index -> the ports the DNS server (actor kube-dns) serves.  Without any
        # (an engine built without actors) every rules.dns entry counts, as before.
        self.dns_servers = dict(dns_servers or {})
        self.rules = rules
        self.settings = settings
        self.index = SelectorIndex.build([c.identity for c in classes])
        self.managed_mask = 0
        self.fqdn_classes: list[IdentityClass] = []
        self.host_classes = 0
        for c in classes:
            if c.managed:
                self.managed_mask |= 1 << c.index
            if c.fqdn is not None:
                self.fqdn_classes.append(c)
            if any(lab.source == "reserved" and lab.key == "host" for lab in c.identity):
                self.host_classes |= 1 << c.index
        self.rules_of: list[list[int]] = [[] for _ in classes]
        for r_i, rule in enumerate(rules):
            if rule.subject is None:
                continue  # host policies (nodeSelector) never apply to pods
            for ci in bits(self.index.mask(rule.subject) & self.managed_mask):
                self.rules_of[ci].append(r_i)
        self._entry_masks: dict[int, tuple[int, int]] = {}
        self._fqdn_masks: dict[tuple[FqdnSelector, ...], int] = {}
        self._req_masks: dict[tuple[Requirement, ...], int] = {}
        self._dirs: dict[str, list[DirectionPolicy | None]] = {
            "ingress": [None] * len(classes),
            "egress": [None] * len(classes),
        }
        self._ports: dict[tuple[int, int], PortSet] = {}
        # What the datapath carries at all (no SCTP unless enable-sctp): see NetworkSettings.carried.
        self.carried = settings.carried
        self._unenforced = {d: SideResult(d, False, False, (), self.carried, (), (), ()) for d in ("ingress", "egress")}

    # -- selectors ------------------------------------------------------------------
    def mask_of(self, selectors: Iterable[Selector]) -> int:
        m = 0
        for s in selectors:
            m |= self.index.mask(s)
        return m

    def _entry_mask(self, entry: Entry) -> tuple[int, int]:
        key = id(entry)
        got = self._entry_masks.get(key)
        if got is None:
            got = (self.mask_of(entry.endpoints), self.mask_of(entry.others))
            self._entry_masks[key] = got
        return got

    def _fqdn_mask(self, selectors: tuple[FqdnSelector, ...]) -> int:
        got = self._fqdn_masks.get(selectors)
        if got is None:
            got = 0
            for c in self.fqdn_classes:
                if any(s.covers(c.fqdn, c.fqdn_is_name) for s in selectors):
                    got |= 1 << c.index
            self._fqdn_masks[selectors] = got
        return got

    def _req_mask(self, reqs: tuple[Requirement, ...]) -> int:
        got = self._req_masks.get(reqs)
        if got is None:
            got = self.index.mask(Selector.of(reqs))
            self._req_masks[reqs] = got
        return got

    # -- one subject, one direction -----------------------------------------------------
    def direction(self, ci: int, direction: str) -> DirectionPolicy:
        got = self._dirs[direction][ci]
        if got is not None:
            return got
        cls = self.classes[ci]
        mode = self.settings.policy_enforcement_mode
        enforced = cls.managed and mode != "never"
        rules = [self.rules[i] for i in self.rules_of[ci]] if enforced else []
        isolating = tuple(r.origin for r in rules if r.default_deny(direction))
        isolated = enforced and (mode == "always" or bool(isolating))
        req_allow, req_deny, conditions = _requirements(rules, direction)
        base: list[tuple[Entry, int]] = []
        for r in rules:
            for e in r.entries:
                if e.direction != direction:
                    continue
                ep, other = self._entry_mask(e)
                reqs = req_deny if e.deny else req_allow
                if reqs and ep:
                    ep &= self._req_mask(tuple(sorted(set(reqs))))
                base.append((e, ep | other))
        dns_rules, dns_missing = self._dns_visibility(ci, base) if direction == "egress" else ([], [])
        allows, denies, blocked = self._visible_entries(base, dns_rules)
        dp = DirectionPolicy(
            enforced,
            isolated,
            isolating,
            allows,
            denies,
            _union(allows),
            _union(denies),
            blocked,
            _union(blocked),
            tuple(dns_missing),
            tuple(conditions),
        )
        dp.allow_masks = tuple(m for _, m in allows)
        dp.deny_masks = tuple(m for _, m in denies)
        dp.any_named_egress = direction == "egress" and any(e.named for e, _ in allows + denies)
        self._dirs[direction][ci] = dp
        return dp

    def _visible_entries(self, base: list[tuple[Entry, int]], dns_rules: list[FqdnSelector]) -> tuple[list, list, list]:
        """(allow entries, deny entries, FQDN entries blocked for lack of DNS
        visibility) with the identity masks each reaches: a toFQDNs peer is reached
        only for names the pod's DNS proxy rules let it resolve."""
        allows: list[tuple[Entry, int]] = []
        denies: list[tuple[Entry, int]] = []
        blocked: list[tuple[Entry, int]] = []
        visible = self._fqdn_mask(tuple(dns_rules)) if dns_rules and any(e.fqdns for e, _ in base) else 0
        for e, m in base:
            if e.fqdns:
                wanted = self._fqdn_mask(e.fqdns)
                m |= wanted & visible
                if wanted & ~visible:
                    blocked.append((e, wanted & ~visible))
            if m:
                (denies if e.deny else allows).append((e, m))
        return allows, denies, blocked

    def _dns_visibility(self, ci: int, base: list[tuple[Entry, int]]) -> tuple[list[FqdnSelector], list[Entry]]:
        """(the DNS patterns the pod's DNS proxy rules let it resolve, the rules.dns
        entries that do not reach the DNS server and so give no visibility)."""
        candidates = [(e, m) for e, m in base if not e.deny and e.l7 is not None and e.l7.kind == "dns"]
        if not self.dns_servers:
            return [d for e, _ in candidates for d in e.l7.dns], []
        patterns: list[FqdnSelector] = []
        missing: list[Entry] = []
        for e, m in candidates:
            if any(self._reaches(ci, e, m, c, served, base) for c, served in sorted(self.dns_servers.items())):
                patterns.extend(e.l7.dns)
            else:
                missing.append(e)
        return patterns, missing

    def _reaches(
        self, ci: int, e: Entry, mask: int, server: int, served: PortSet, base: list[tuple[Entry, int]]
    ) -> bool:
        """Whether the allow entry ``e`` lets class ``ci`` query DNS server ``server``."""
        if not mask & (1 << server):
            return False
        ports = self.entry_ports(e, server).intersect(served)
        for d, dm in base:
            if d.deny and dm & (1 << server):
                ports = ports.subtract(self.entry_ports(d, server))
        if not ports:
            return False
        return bool(ports.intersect(self.side(server, "ingress", ci).allowed))

    def entry_ports(self, entry: Entry, dest: int) -> PortSet:
        """Ports of an entry for one destination class (named ports resolve there)."""
        if entry.l3_only:
            return FULL
        if not entry.named:
            return entry.static
        named = self.classes[dest].named_ports
        key = (id(entry), named)
        got = self._ports.get(key)
        if got is None:
            got = entry.static
            for item in entry.named:
                for name, proto, number in named:
                    if name == item.name and (
                        (item.protocol == "ANY" and proto in self.settings.any_protocols) or proto == item.protocol
                    ):
                        got = got.union(PortSet.single(proto, number))
            self._ports[key] = got
        return got

    def side(self, subject: int, direction: str, peer: int) -> SideResult:
        """Egress of ``subject`` towards ``peer``, or ingress of ``subject`` from ``peer``.

        Results are shared between peers that match the same entries (and, for named
        ports, have the same named ports), so the cost follows distinct situations."""
        dp = self.direction(subject, direction)
        if not dp.enforced:
            return self._unenforced[direction]
        bit = 1 << peer
        localhost = direction == "ingress" and bool(self.host_classes & bit)
        if not localhost and not ((dp.allow_union | dp.deny_union | dp.blocked_union) & bit):
            sig = None
        else:
            ai = tuple([i for i, m in enumerate(dp.allow_masks) if m & bit]) if dp.allow_union & bit else ()
            di = tuple([i for i, m in enumerate(dp.deny_masks) if m & bit]) if dp.deny_union & bit else ()
            bi = tuple(i for i, (_, m) in enumerate(dp.fqdn_blocked) if m & bit) if dp.blocked_union & bit else ()
            named = self.classes[peer].named_ports if dp.any_named_egress else None
            sig = (ai, di, bi, localhost, named)
        got = dp.memo.get(sig)
        if got is None:
            got = self._compute_side(subject, direction, peer, dp, localhost, sig)
            dp.memo[sig] = got
        return got

    def _compute_side(
        self, subject: int, direction: str, peer: int, dp: DirectionPolicy, localhost: bool, sig
    ) -> SideResult:
        dest = peer if direction == "egress" else subject
        if sig is None:
            return SideResult(
                direction,
                True,
                dp.isolated,
                dp.isolating,
                NOTHING if dp.isolated else self.carried,
                (),
                (),
                (),
                requires=dp.requires,
            )
        ai, di, bi = sig[0], sig[1], sig[2]
        allows = tuple(
            Contribution(dp.allows[i][0], p) for i in ai for p in (self.entry_ports(dp.allows[i][0], dest),) if p
        )
        denies = tuple(
            Contribution(dp.denies[i][0], p) for i in di for p in (self.entry_ports(dp.denies[i][0], dest),) if p
        )
        denied = NOTHING
        for c in denies:
            denied = denied.union(c.ports)
        l4 = NOTHING
        for c in allows:
            if c.entry.l7 is None:
                l4 = l4.union(c.ports)
        if localhost:
            l4 = FULL
        if dp.isolated:
            granted = l4
            for c in allows:
                if c.entry.l7 is not None:
                    granted = granted.union(c.ports)
        else:
            granted = FULL
        allowed = granted.subtract(denied).intersect(self.carried)
        restrictions = _l7_restrictions(allows, l4, denied)
        blocked = tuple(dp.fqdn_blocked[i][0] for i in bi)
        return SideResult(
            direction,
            True,
            dp.isolated,
            dp.isolating,
            allowed,
            allows,
            denies,
            restrictions,
            localhost,
            blocked,
            dp.dns_not_reaching if blocked else (),
            dp.requires,
        )


def _requirements(rules: list[PolicyRule], direction: str) -> tuple[list[Requirement], list[Requirement], list]:
    """The deprecated fromRequires/toRequires of a subject's rules: ANDed into every
    allow (resp. deny) selector of that direction, each kept as a condition explain
    shows."""
    req_allow: list[Requirement] = []
    req_deny: list[Requirement] = []
    conditions: list[tuple[Origin, tuple[Requirement, ...], bool]] = []
    for r in rules:
        allow_reqs = r.requires_ingress if direction == "ingress" else r.requires_egress
        deny_reqs = r.requires_ingress_deny if direction == "ingress" else r.requires_egress_deny
        req_allow += allow_reqs
        req_deny += deny_reqs
        conditions += [(r.origin, reqs, deny) for reqs, deny in ((allow_reqs, False), (deny_reqs, True)) if reqs]
    return req_allow, req_deny, conditions


def _union(entries: list[tuple[Entry, int]]) -> int:
    out = 0
    for _, m in entries:
        out |= m
    return out


def _l7_restrictions(allows: tuple[Contribution, ...], l4: PortSet, denied: PortSet) -> tuple[L7Restriction, ...]:
    """Ports where only L7 rules grant access: requests pass if they match any L7 rule
    covering the port, so ports are split by the exact set of entries covering them."""
    restrictions: list[L7Restriction] = []
    by_kind: dict[str, list[Contribution]] = {}
    for c in allows:
        if c.entry.l7 is not None:
            by_kind.setdefault(c.entry.l7.kind, []).append(c)
    for kind, contribs in sorted(by_kind.items()):
        restricted = NOTHING
        for c in contribs:
            restricted = restricted.union(c.ports)
        restricted = restricted.subtract(l4).subtract(denied)
        if not restricted:
            continue
        for group_ports, group in _partition(contribs, restricted):
            http = tuple(sorted({h for c in group for h in c.entry.l7.http}))
            dns = tuple(sorted({d for c in group for d in c.entry.l7.dns}))
            any_request = kind == "http" and any(not c.entry.l7.http for c in group)
            restrictions.append(
                L7Restriction(kind, group_ports, () if any_request else http, dns, tuple(c.entry for c in group))
            )
    return tuple(restrictions)


def _partition(contribs: list[Contribution], within: PortSet) -> list[tuple[PortSet, list[Contribution]]]:
    """Split ``within`` into pieces covered by the same set of contributions."""
    pieces: list[tuple[PortSet, list[Contribution]]] = [(within, [])]
    for c in contribs:
        nxt = []
        for ports, group in pieces:
            inside = ports.intersect(c.ports)
            outside = ports.subtract(c.ports)
            if inside:
                nxt.append((inside, group + [c]))
            if outside:
                nxt.append((outside, group))
        pieces = nxt
    return [(p, g) for p, g in pieces if g]


def l7_allows_request(
    restrictions: Iterable[L7Restriction], protocol: str, port: int, request: dict | None
) -> tuple[bool | None, tuple[L7Restriction, ...]]:
    """Whether an HTTP request passes the L7 restrictions covering ``protocol/port``.
    ``None`` when restricted but no request was given."""
    hits = tuple(r for r in restrictions if r.ports.contains(protocol, port))
    if not hits:
        return True, ()
    if request is None:
        return None, hits
    for r in hits:
        if r.kind != "http":
            continue
        if not r.http:
            continue
        headers = request.get("headers") or {}
        if not any(h.matches(request.get("method"), request.get("path"), request.get("host"), headers) for h in r.http):
            return False, hits
    return True, hits


__all__ = ["Contribution", "DirectionPolicy", "Engine", "L7Restriction", "SideResult", "l7_allows_request"]
