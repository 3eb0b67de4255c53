"""Port sets: merged integer intervals per protocol.

A ``PortSet`` is what one side of a connection allows towards one peer: for each
protocol an ``IntervalSet`` of ports (TCP, UDP, SCTP: 1..65535) or of ICMP types
(ICMP = ICMPv4, ICMPv6: 0..255).  Everything is immutable and canonical (sorted,
merged), so equal sets compare and hash equal and output is deterministic.

Sources: Cilium ``PortProtocol`` (``pkg/policy/api/l4.go``): protocol ``TCP``,
``UDP``, ``SCTP`` or ``ANY`` (empty = ``ANY`` = TCP+UDP+SCTP, never ICMP); port
``"0"`` = every port of the protocol; ``endPort`` makes a range.  A rule with peers
but no ``toPorts``/``icmps`` allows every protocol including ICMP
(``pkg/policy/rule.go``, "L3-only" rules; Documentation/security/policy/layer4.rst).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache

L4_PROTOCOLS = ("TCP", "UDP", "SCTP")
ICMP_PROTOCOLS = ("ICMP", "ICMPv6")
ALL_PROTOCOLS = L4_PROTOCOLS + ICMP_PROTOCOLS
PORT_MIN, PORT_MAX = 1, 65535
ICMP_MIN, ICMP_MAX = 0, 255


_PORT_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$", re.IGNORECASE)


def is_port_name(text: str) -> bool:
    """An IANA service name, as Kubernetes and Cilium accept for a named port
    (``k8s.io/apimachinery`` ``IsValidPortName``, Cilium ``pkg/iana``): at most 15
    characters of [a-z0-9-], at least one letter, no leading, trailing or double
    hyphen."""
    return bool(_PORT_NAME.match(text)) and "--" not in text and any(c.isalpha() for c in text)


def domain(protocol: str) -> tuple[int, int]:
    return (ICMP_MIN, ICMP_MAX) if protocol in ICMP_PROTOCOLS else (PORT_MIN, PORT_MAX)


@dataclass(frozen=True, slots=True)
class IntervalSet:
    """Disjoint, sorted, non-adjacent closed intervals of integers."""

    spans: tuple[tuple[int, int], ...] = ()

    @staticmethod
    def of(pairs: Iterable[tuple[int, int]]) -> IntervalSet:
        out: list[list[int]] = []
        for lo, hi in sorted((int(a), int(b)) for a, b in pairs if a <= b):
            if out and lo <= out[-1][1] + 1:
                out[-1][1] = max(out[-1][1], hi)
            else:
                out.append([lo, hi])
        return IntervalSet(tuple((a, b) for a, b in out))

    def __bool__(self) -> bool:
        return bool(self.spans)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return iter(self.spans)

    def __contains__(self, value: int) -> bool:
        for lo, hi in self.spans:
            if lo <= value <= hi:
                return True
            if lo > value:
                return False
        return False

    def union(self, other: IntervalSet) -> IntervalSet:
        if not other.spans:
            return self
        if not self.spans:
            return other
        return IntervalSet.of(self.spans + other.spans)

    def intersect(self, other: IntervalSet) -> IntervalSet:
        out = []
        i = j = 0
        a, b = self.spans, other.spans
        while i < len(a) and j < len(b):
            lo = max(a[i][0], b[j][0])
            hi = min(a[i][1], b[j][1])
            if lo <= hi:
                out.append((lo, hi))
            if a[i][1] < b[j][1]:
                i += 1
            else:
                j += 1
        return IntervalSet(tuple(out))

    def subtract(self, other: IntervalSet) -> IntervalSet:
        if not other.spans or not self.spans:
            return self
        out = []
        for lo, hi in self.spans:
            cur = lo
            for olo, ohi in other.spans:
                if ohi < cur or olo > hi:
                    continue
                if olo > cur:
                    out.append((cur, olo - 1))
                cur = max(cur, ohi + 1)
                if cur > hi:
                    break
            if cur <= hi:
                out.append((cur, hi))
        return IntervalSet(tuple(out))

    def covers(self, other: IntervalSet) -> bool:
        return not other.subtract(self).spans

    def size(self) -> int:
        return sum(hi - lo + 1 for lo, hi in self.spans)


EMPTY_INTERVALS = IntervalSet()


@dataclass(frozen=True, slots=True)
class PortSet:
    """Allowed ports per protocol.  Protocols with nothing allowed are absent."""

    by_protocol: tuple[tuple[str, IntervalSet], ...] = ()

    @staticmethod
    def of(mapping: dict[str, IntervalSet]) -> PortSet:
        items = tuple((p, mapping[p]) for p in ALL_PROTOCOLS if p in mapping and mapping[p].spans)
        return PortSet(items)

    @staticmethod
    def full() -> PortSet:
        return FULL

    @staticmethod
    def single(protocol: str, lo: int, hi: int | None = None) -> PortSet:
        return PortSet.of({protocol: IntervalSet.of([(lo, lo if hi is None else hi)])})

    def get(self, protocol: str) -> IntervalSet:
        for p, s in self.by_protocol:
            if p == protocol:
                return s
        return EMPTY_INTERVALS

    def as_dict(self) -> dict[str, IntervalSet]:
        return dict(self.by_protocol)

    def __bool__(self) -> bool:
        return bool(self.by_protocol)

    def protocols(self) -> tuple[str, ...]:
        return tuple(p for p, _ in self.by_protocol)

    def union(self, other: PortSet) -> PortSet:
        if not other.by_protocol:
            return self
        if not self.by_protocol or self is FULL:
            return other if not self.by_protocol else self
        d = self.as_dict()
        for p, s in other.by_protocol:
            d[p] = d[p].union(s) if p in d else s
        return PortSet.of(d)

    def intersect(self, other: PortSet) -> PortSet:
        if self is FULL:
            return other
        if other is FULL:
            return self
        d = {}
        for p, s in self.by_protocol:
            o = other.get(p)
            if o.spans:
                d[p] = s.intersect(o)
        return PortSet.of(d)

    def subtract(self, other: PortSet) -> PortSet:
        if not other.by_protocol:
            return self
        d = {p: s.subtract(other.get(p)) for p, s in self.by_protocol}
        return PortSet.of(d)

    def covers(self, other: PortSet) -> bool:
        return not other.subtract(self).by_protocol

    def contains(self, protocol: str, port: int | None) -> bool:
        s = self.get(protocol)
        if port is None:
            return s.spans == (domain(protocol),)
        return port in s

    def is_full(self) -> bool:
        return all(self.get(p).spans == (domain(p),) for p in ALL_PROTOCOLS)

    def describe(self) -> str:
        """Short human text: ``TCP 80,8080-8090; UDP 53`` or ``all``."""
        if not self.by_protocol:
            return "nothing"
        if self.is_full():
            return "all ports and protocols"
        parts = []
        for p, s in self.by_protocol:
            if s.spans == (domain(p),):
                parts.append(f"{p} all" if p in L4_PROTOCOLS else f"{p} all types")
            else:
                txt = ",".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in s.spans)
                parts.append(f"{p} {txt}" if p in L4_PROTOCOLS else f"{p} type {txt}")
        return "; ".join(parts)

    def to_json(self) -> list[dict]:
        """The graph contract: ``{"protocol", "port", "endPort"}`` entries for TCP/UDP/SCTP;
        ICMP entries are ``{"protocol": "ICMP", "family": "IPv4"|"IPv6"}`` with no port
        fields, plus ``type``/``endType`` only when not every type is allowed."""
        out: list[dict] = []
        for p, s in self.by_protocol:
            for lo, hi in s.spans:
                if p in L4_PROTOCOLS:
                    out.append({"protocol": p, "port": lo, "endPort": hi})
                    continue
                entry = {"protocol": "ICMP", "family": "IPv4" if p == "ICMP" else "IPv6"}
                if (lo, hi) != domain(p):
                    entry.update({"type": lo, "endType": hi})
                out.append(entry)
        return out


FULL = PortSet(tuple((p, IntervalSet(((domain(p)),))) for p in ALL_PROTOCOLS))
NOTHING = PortSet()
ALL_L4 = PortSet(tuple((p, IntervalSet((domain(p),))) for p in L4_PROTOCOLS))


def protocols_for(protocol: str, any_protocols: tuple[str, ...] = L4_PROTOCOLS) -> tuple[str, ...]:
    """``ANY`` (or empty) expands to the L4 protocols the datapath carries
    (``NetworkSettings.any_protocols``: TCP and UDP, plus SCTP when enabled), never ICMP."""
    return any_protocols if protocol in ("", "ANY") else (protocol,)


@lru_cache(maxsize=4096)
def port_range_set(protocol: str, lo: int, hi: int, any_protocols: tuple[str, ...] = L4_PROTOCOLS) -> PortSet:
    """``port: 0`` means every port; an ``endPort`` below ``port`` is just ``port``."""
    if lo == 0:
        lo, hi = PORT_MIN, PORT_MAX
    hi = max(hi, lo)
    return PortSet.of({p: IntervalSet.of([(lo, min(hi, PORT_MAX))]) for p in protocols_for(protocol, any_protocols)})


_PORT_TEXT = re.compile(r"^(\d{1,5})(?:-(\d{1,5}))?(?:/(TCP|UDP|SCTP|ANY))?$")
ALL_ICMP = PortSet.single("ICMP", 0, 255).union(PortSet.single("ICMPv6", 0, 255))


def parse_port_items(
    items: Iterable, any_protocols: tuple[str, ...] = L4_PROTOCOLS
) -> tuple[PortSet, tuple[tuple[str, str], ...]]:
    """The policy file's port spellings -> (numeric ports, named ports as (name, protocol)).

    ``8080``, ``"53/UDP"``, ``"30000-32767/TCP"``, ``"ICMP"``, ``{port, endPort, protocol}``
    (``port`` a number, a numeric string or a port name).  A bare number means TCP,
    ``ANY`` what the datapath carries, ``ICMP`` every ICMP and ICMPv6 type (the schema
    has validated the shapes)."""
    total = PortSet()
    named: list[tuple[str, str]] = []
    for item in items or ():
        if isinstance(item, bool):
            continue
        if isinstance(item, int):
            total = total.union(port_range_set("TCP", item, item))
        elif isinstance(item, str) and item.strip().upper() == "ICMP":
            total = total.union(ALL_ICMP)
        elif isinstance(item, str):
            match = _PORT_TEXT.match(item.strip())
            if match:
                lo = int(match.group(1))
                hi = int(match.group(2) or lo)
                total = total.union(port_range_set(match.group(3) or "TCP", lo, hi, any_protocols))
        elif isinstance(item, dict):
            lo = item.get("port")
            protocol = str(item.get("protocol") or "TCP").upper()
            if isinstance(lo, str) and lo.strip().isdigit():
                lo = int(lo)
            if isinstance(lo, int) and not isinstance(lo, bool):
                hi = item.get("endPort") or lo
                total = total.union(port_range_set(protocol, lo, hi, any_protocols))
            elif isinstance(lo, str) and lo.strip():
                named.append((lo.strip().lower(), protocol))
    return total, tuple(sorted(set(named)))
