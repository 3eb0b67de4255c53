"""Address prefixes: one reader for every policy kind and the policy file, and the
two rules for ``except`` (Cilium's and the Kubernetes API's).

A CIDR peer becomes a label selector over CIDR identities (``cidr_selector``): each
prefix a policy names is its own identity, and an address belongs to every prefix
that contains it (``identities.cidr_identity``)."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from .selectors import CIDR, Requirement, Selector
from .settings import NetworkSettings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_prefix(text: object, *, bare_ip: bool = False) -> Network:
    """``10.0.0.0/8`` (host bits cleared) or, when ``bare_ip``, ``1.1.1.1`` as a /32.
    Raises ValueError with a message for the user."""
    written = str(text).strip()
    if "/" not in written:
        if not bare_ip:
            raise ValueError(f"{written!r} is not a prefix: an address/length is required")
        address = ipaddress.ip_address(written)
        return ipaddress.ip_network(f"{address}/{address.max_prefixlen}")
    return ipaddress.ip_network(written, strict=False)


def normalize_prefix(text: str) -> str:
    """``1.1.1.1`` -> ``1.1.1.1/32``; host bits cleared.  Raises ValueError."""
    return str(parse_prefix(text, bare_ip=True))


@lru_cache(maxsize=65536)
def _network(prefix: str) -> Network:
    return ipaddress.ip_network(prefix)


def contains(outer: str, inner: str) -> bool:
    """Whether canonical prefix ``inner`` lies inside ``outer`` (same family).  Called
    for every pair of prefixes a graph names, so parsed prefixes are memoised."""
    a, b = _network(outer), _network(inner)
    return a.version == b.version and b.subnet_of(a)


def cidr_selector(prefix: str, excepts: tuple[str, ...] = ()) -> Selector:
    """A CIDR peer as a label selector over CIDR identities: ``cidr:<prefix>`` present
    and none of the ``cidr:<except>`` labels (each except is its own, more specific
    identity)."""
    reqs = [Requirement(CIDR, prefix, "Exists")] + [Requirement(CIDR, e, "DoesNotExist") for e in excepts]
    return Selector.of(reqs)


def cilium_except_allowed(net: Network, written: str, excluded: Network, settings: NetworkSettings) -> bool:
    """``CIDRRule.Validate`` (rule_validation.go): the cidr must contain the except's
    *address* as written (``netip.Prefix.Contains(except.Addr())``, which also fails
    across address families).  From 1.20 the except may not be wider than the cidr
    either (``prefix.Bits() > except.Bits()``, PR #44637); before, ``10.0.0.0/8``
    except ``10.0.0.0/7`` is accepted and the except swallows the whole prefix."""
    address = ipaddress.ip_address(written.strip().split("/", 1)[0])
    if address.version != net.version or address not in net:
        return False
    return not (settings.at_least("1.20") and excluded.prefixlen < net.prefixlen)


def k8s_except_allowed(net: Network, excluded: Network) -> bool:
    """``ValidateIPBlock`` (k8s.io/kubernetes pkg/apis/networking/validation): each
    except must be a strict subset of the cidr."""
    return excluded.version == net.version and excluded.subnet_of(net) and excluded.prefixlen > net.prefixlen
