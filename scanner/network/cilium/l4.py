"""L4 of a Cilium rule: ``toPorts[].ports`` and ``icmps``.

Sources: ``pkg/policy/api/l4.go`` (``PortProtocol``: ``port`` a string — a number,
``0`` for every port, or an IANA port name —, ``endPort``, ``protocol`` from the CRD
enum; ``PortRule`` with at most 40 ports), ``rule_validation.go``
(``PortProtocol.Validate``, ``PortRule.sanitize``, ``isExtendedIPProtocol``),
``pkg/policy/api/icmp.go`` (``ICMPField``: family IPv4/IPv6, type a number or a name,
at most 40 fields)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..parsing import At, PolicyContext
from ..ports import ICMP_MAX, IntervalSet, PortSet, is_port_name, port_range_set
from ..rules import API_SERVER, CILIUM_AGENT, L7, PortItem
from ..settings import NetworkSettings
from .l7 import has_dns, l7_kinds, l7_rules, parse_l7
from .scope import RuleScope, Side

MAX_PORTS = 40
MAX_ICMP_FIELDS = 40
PROTOCOLS = ("TCP", "UDP", "SCTP", "ANY")
# Protocols without transport ports, behind --enable-extended-ip-protocols
# (rule_validation.go isExtendedIPProtocol): VRRP and IGMP (PR #39872), the tunnel
# protocols from 1.20 (PR #44459).
EXTENDED_PROTOCOLS = ("VRRP", "IGMP")
TUNNEL_PROTOCOLS = ("GRE", "IPIP", "IPV6", "ESP", "AH")
# The CRD's pattern for ports[].port (l4.go PortProtocol kubebuilder marker).  Its
# alternatives are not anchored on both sides, so the API server lets through much
# that the agent then rejects ("70000", "http--x").
_CRD_PORT_PATTERN = re.compile(
    r"^(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4})"
    r"|([a-zA-Z0-9]-?)*[a-zA-Z](-?[a-zA-Z0-9])*$"
)
ICMP_V4_NAMES = {
    "EchoReply": 0,
    "DestinationUnreachable": 3,
    "Redirect": 5,
    "Echo": 8,
    "EchoRequest": 8,
    "RouterAdvertisement": 9,
    "RouterSelection": 10,
    "TimeExceeded": 11,
    "ParameterProblem": 12,
    "Timestamp": 13,
    "TimestampReply": 14,
    "Photuris": 40,
    "ExtendedEchoRequest": 42,
    "ExtendedEchoReply": 43,
}
ICMP_V6_NAMES = {
    "DestinationUnreachable": 1,
    "PacketTooBig": 2,
    "TimeExceeded": 3,
    "ParameterProblem": 4,
    "EchoRequest": 128,
    "EchoReply": 129,
    "MulticastListenerQuery": 130,
    "MulticastListenerReport": 131,
    "MulticastListenerDone": 132,
    "RouterSolicitation": 133,
    "RouterAdvertisement": 134,
    "NeighborSolicitation": 135,
    "NeighborAdvertisement": 136,
    "RedirectMessage": 137,
    "RouterRenumbering": 138,
    "ICMPNodeInformationQuery": 139,
    "ICMPNodeInformationResponse": 140,
    "InverseNeighborDiscoverySolicitation": 141,
    "InverseNeighborDiscoveryAdvertisement": 142,
    "HomeAgentAddressDiscoveryRequest": 144,
    "HomeAgentAddressDiscoveryReply": 145,
    "MobilePrefixSolicitation": 146,
    "MobilePrefixAdvertisement": 147,
    "DuplicateAddressRequestCodeSuffix": 157,
    "DuplicateAddressConfirmationCodeSuffix": 158,
    "ExtendedEchoRequest": 160,
    "ExtendedEchoReply": 161,
}


@dataclass(frozen=True, slots=True)
class PortRule:
    """One ``toPorts`` entry read: numeric ports, named ports (resolved per peer by the
    engine), and its L7 rules."""

    static: PortSet
    named: tuple[PortItem, ...]
    l7: L7 | None


def port_rule(raw: Any, at: At, side: Side, scope: RuleScope) -> PortRule | None:
    """A ``toPorts`` entry; None when refused (the error is recorded)."""
    if not isinstance(raw, dict):
        scope.ctx.schema("a toPorts entry must be a mapping", at)
        return None
    rules = l7_rules(raw, at, side, scope)
    if rules is None:
        return None
    kinds = l7_kinds(rules)
    items = _port_items(raw, at, kinds, has_dns(rules), scope)
    if items is None:
        return None
    l7 = parse_l7(raw, rules, kinds, items, at, scope.ctx) if kinds else None
    if kinds and l7 is None:
        return None
    static = PortSet()
    for it in items:
        if it.name is None:
            static = static.union(
                port_range_set(it.protocol, it.port, it.end_port or it.port, scope.env.settings.any_protocols)
            )
    return PortRule(static, tuple(it for it in items if it.name is not None), l7)


def _port_items(raw: Mapping, at: At, kinds: list[str], dns: bool, scope: RuleScope) -> list[PortItem] | None:
    """``ports``: at most 40; L7 rules other than DNS only on TCP
    (``PortRule.sanitize``)."""
    ports = raw.get("ports")
    if ports is None:
        ports = []
    here = at.field(raw, "ports")
    if not isinstance(ports, list):
        scope.ctx.schema("ports must be a list", here)
        return None
    if len(ports) > MAX_PORTS:
        scope.ctx.err(f"too many ports, the max is {MAX_PORTS}", here)
        return None
    items = []
    for m, p in enumerate(ports):
        item = port_item(p, here.item(ports, m), dns, scope.ctx, scope.env.settings)
        if item is None:
            return None
        if kinds and not dns and item.protocol != "TCP":
            scope.ctx.err(
                f"L7 rules can only apply to TCP (not {item.protocol}) except for DNS rules",
                here.item(ports, m).field(p, "protocol"),
            )
            return None
        items.append(item)
    return items


def extended_protocols(settings: NetworkSettings) -> tuple[str, ...]:
    return EXTENDED_PROTOCOLS + (TUNNEL_PROTOCOLS if settings.at_least("1.20") else ())


def port_item(p: Any, at: At, dns: bool, ctx: PolicyContext, settings: NetworkSettings) -> PortItem | None:
    """One ``ports[]`` entry (``PortProtocol.Validate``), with the CRD's own checks
    (type, enum, pattern, required) reported as the API server's."""
    if not isinstance(p, dict):
        ctx.schema("a ports entry must be a mapping {port, endPort, protocol}", at)
        return None
    protocol = _protocol(p, at, ctx, settings)
    if protocol is None:
        return None
    if protocol in extended_protocols(settings):
        return _extended_port_item(p, protocol, at, ctx, settings)
    port = _port_text(p, at, ctx, settings)
    if port is None:
        return None
    end = _end_port(p, at, ctx)
    if end is None:
        return None
    if is_port_name(port):
        return PortItem(protocol, 0, 0, port.lower())
    number = _port_number(port, at.field(p, "port"), ctx)
    if number is None:
        return None
    if dns and end > number:
        ctx.err("DNS rules do not support port ranges", at.field(p, "endPort"))
        return None
    return PortItem(protocol, number, end if end > number else 0, None)


def _protocol(p: Mapping, at: At, ctx: PolicyContext, settings: NetworkSettings) -> str | None:
    """Empty, null or missing is ``ANY``; otherwise the CRD enum, case-sensitive."""
    protocol = p.get("protocol")
    if protocol is None or protocol == "":
        protocol = "ANY"
    known = PROTOCOLS + extended_protocols(settings)
    if not isinstance(protocol, str) or protocol not in known:
        ctx.schema(
            f"invalid protocol {protocol!r}: the CRD enum is {', '.join(known)} (case-sensitive)",
            at.field(p, "protocol"),
        )
        return None
    return protocol


def _port_text(p: Mapping, at: At, ctx: PolicyContext, settings: NetworkSettings) -> str | None:
    port = p.get("port")
    if port is None or port == "":
        # The CRD required ports[].port until it made room for extended IP protocols.
        ctx.err(
            "port must be specified", at.field(p, "port"), CILIUM_AGENT if settings.at_least("1.19") else API_SERVER
        )
        return None
    if not isinstance(port, str):
        ctx.schema(
            f'port must be a string (write port: "{port}"); the CRD schema rejects a number', at.field(p, "port")
        )
        return None
    return port


def _end_port(p: Mapping, at: At, ctx: PolicyContext) -> int | None:
    end = p.get("endPort")
    if end is not None and (not isinstance(end, int) or isinstance(end, bool)):
        ctx.schema(f"endPort must be an integer, got {end!r}", at.field(p, "endPort"))
        return None
    end = int(end or 0)
    if not 0 <= end <= 65535:
        ctx.schema(f"endPort {end} is out of range 0-65535", at.field(p, "endPort"))
        return None
    return end


def _port_number(port: str, at: At, ctx: PolicyContext) -> int | None:
    """The agent parses the port with Go's ``strconv.ParseUint(port, 0, 16)``: 0x, 0o
    and 0b prefixes are numbers too.  What the CRD pattern already refuses never
    reaches it."""
    by = CILIUM_AGENT if _CRD_PORT_PATTERN.search(port) else API_SERVER
    try:
        number = int(port, 0) if port.lower().startswith(("0x", "0o", "0b")) else int(port, 10)
    except ValueError:
        ctx.err(f"unable to parse port {port!r}: neither a number nor a port name", at, by)
        return None
    if not 0 <= number <= 65535:
        ctx.err(f"unable to parse port {port!r}: out of range 0-65535", at, by)
        return None
    return number


def _extended_port_item(
    p: Mapping, protocol: str, at: At, ctx: PolicyContext, settings: NetworkSettings
) -> PortItem | None:
    """A protocol without transport ports (VRRP, IGMP, GRE ...): only with
    --enable-extended-ip-protocols, and only with no port or port "0"."""
    if not settings.extended_ip_protocols:
        ctx.err(
            f"protocol {protocol} needs enable-extended-ip-protocols (settings.cilium.extendedIPProtocols); "
            "without it Cilium rejects the policy",
            at.field(p, "protocol"),
        )
        return None
    if p.get("port") not in (None, "", "0"):
        ctx.err(f"port must be empty or 0 for protocol {protocol}", at.field(p, "port"))
        return None
    ctx.note(
        f"protocol {protocol} is accepted, but the traffic graph models only TCP, UDP, SCTP and ICMP: "
        f"what this entry allows for {protocol} is not shown",
        at.field(p, "protocol"),
    )
    return PortItem(protocol, 0, 0, None)


def icmp_ports(icmps: list, at: At, ctx: PolicyContext) -> PortSet:
    """``icmps``: every listed type of each family (``ICMP`` = IPv4, ``ICMPv6``)."""
    types: dict[str, list[tuple[int, int]]] = {"ICMP": [], "ICMPv6": []}
    for k, rule in enumerate(icmps):
        for protocol, code in _icmp_rule(rule, at.item(icmps, k), ctx):
            types[protocol].append((code, code))
    return PortSet.of({p: IntervalSet.of(v) for p, v in types.items() if v})


def _icmp_rule(rule: Any, at: At, ctx: PolicyContext) -> list[tuple[str, int]]:
    fields = rule.get("fields") if isinstance(rule, dict) else None
    if fields is None:
        return []
    here = at.field(rule, "fields")
    if not isinstance(fields, list):
        ctx.schema("icmps[].fields must be a list", here)
        return []
    if len(fields) > MAX_ICMP_FIELDS:
        ctx.err(f"too many ICMP types, the max is {MAX_ICMP_FIELDS}", here)
        return []
    got = [_icmp_field(f, here.item(fields, m), ctx) for m, f in enumerate(fields)]
    return [g for g in got if g is not None]


def _icmp_field(f: Any, at: At, ctx: PolicyContext) -> tuple[str, int] | None:
    if not isinstance(f, dict):
        ctx.schema("an ICMP field must be a mapping {family, type}", at)
        return None
    family = f.get("family") or "IPv4"  # null and "" are the CRD default
    if family not in ("IPv4", "IPv6"):
        ctx.schema(f"wrong ICMP family: {family} (the CRD enum is IPv4, IPv6)", at.field(f, "family"))
        return None
    code = _icmp_type(f.get("type"), family, at.field(f, "type"), ctx)
    if code is None:
        return None
    return ("ICMP" if family == "IPv4" else "ICMPv6", code)


def _icmp_type(value: Any, family: str, at: At, ctx: PolicyContext) -> int | None:
    """A number 0-255 or a type name of the family (``ICMPField`` ``Type``, an
    IntOrString)."""
    if isinstance(value, bool) or value is None:
        ctx.schema("ICMP type must be a number 0-255 or a type name", at)
        return None
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        if not 0 <= int(value) <= ICMP_MAX:
            ctx.schema(f"ICMP type {value} is out of range 0-255", at)
            return None
        return int(value)
    names = ICMP_V6_NAMES if family == "IPv6" else ICMP_V4_NAMES
    if isinstance(value, str) and value in names:
        return names[value]
    ctx.schema(f"ICMP type {value} not found in {family}", at)
    return None
