"""Cilium's own connectivity tests (cilium-cli ``connectivity/builder``): every probe of
``data/cilium_expectations.yaml`` against the verdict of the engine.

Each probe is a connection cilium-cli makes in CI against a real Cilium, with the result
Cilium gave (allow / deny / l7-deny = HTTP 403).  When the recorded reason names the
kind of drop (``ResultPolicyDeny*`` = an explicit deny rule, ``ResultDefaultDeny*`` =
default deny), the explanation must name the same kind.
"""

from __future__ import annotations

import pytest
from cilium_corpus import case_traffic, expectations


def _probes():
    out = []
    for case, data in sorted(expectations().items()):
        for i, p in enumerate(data.get("probes") or []):
            out.append(pytest.param(case, p, id=f"{case}-{i}"))
    return out


def _status(v) -> str:
    if v.status == "l7-denied":
        return "l7-deny"
    return "allow" if v.allowed else "deny"


def _covers(ports, protocol, port):
    return bool(ports.get(protocol)) if port is None else ports.contains(protocol, port)


@pytest.mark.parametrize("case, probe", _probes())
def test_probe(case, probe):
    traffic, _ = case_traffic(case)
    http = probe.get("http") if probe.get("scheme") != "https" else None
    v = traffic.verdict(probe["from"], probe["to"], probe["protocol"], probe.get("port"), http)
    assert _status(v) == probe["expect"], probe.get("reason", "")
    reason = probe.get("reason", "")
    if probe["expect"] != "deny":
        return
    explicit = any(_covers(c.ports, v.protocol, v.port) for side in (v.egress, v.ingress) for c in side.denies)
    if "PolicyDeny" in reason:
        assert explicit, "Cilium dropped it with an explicit deny rule"
        side = v.egress if "Egress" in reason else v.ingress
        assert any(_covers(c.ports, v.protocol, v.port) for c in side.denies)
    elif "DefaultDeny" in reason:
        assert not explicit, "Cilium dropped it by default deny, not by a deny rule"
        side = v.egress if "Egress" in reason else v.ingress
        assert side.isolated and not _covers(side.allowed, v.protocol, v.port)


def test_every_case_has_its_policies_accepted():
    """None of the connectivity-test policies is rejected (they all run in Cilium's CI)."""
    assert len(expectations()) >= 10
    for case in expectations():
        traffic, _ = case_traffic(case)
        assert traffic.rejections == [], case


def test_corpus_copy_matches_shared_corpus_when_present():
    """The copy under data/ is byte-identical to ../shared/corpora/cilium-connectivity."""
    from pathlib import Path

    from cilium_corpus import CORPUS

    shared = Path(__file__).resolve().parents[3] / "shared" / "corpora" / "cilium-connectivity"
    if not shared.is_dir():
        pytest.skip(f"{shared} not present")
    mine = sorted(p.relative_to(CORPUS) for p in CORPUS.rglob("*") if p.is_file())
    theirs = sorted(p.relative_to(shared) for p in shared.rglob("*") if p.is_file())
    assert mine == theirs
    for rel in mine:
        assert (CORPUS / rel).read_bytes() == (shared / rel).read_bytes(), rel
