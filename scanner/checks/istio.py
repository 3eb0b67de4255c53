"""NET009: Istio security objects that Istio refuses (scanner/network/istio/objects.py).

A refused AuthorizationPolicy or PeerAuthentication is not applied; the Istio layer
computes every verdict as if it did not exist.  Reported at the offending field.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..findings import Finding
from ..network.istio.objects import parse_istio
from .base import CheckContext


def istio_rejected(ctx: CheckContext) -> Iterator[Finding]:
    """NET009: an AuthorizationPolicy or PeerAuthentication Istio refuses."""
    parsed = parse_istio(ctx.inputs.objects, ctx.default_namespace)
    for r in parsed.rejections:
        yield Finding(
            "NET009",
            f"{r.policy} is refused by Istio ({r.message}); it is not applied, so the workloads it was meant to "
            "protect are not protected by it",
            r.loc,
            subject=r.policy,
            detail=r.path or r.message,
        )


CHECKS = {"NET009": istio_rejected}
