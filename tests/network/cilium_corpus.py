"""Helpers to evaluate the probes of Cilium's own connectivity tests.

The policies and the hand-written topology are a copy of
``../shared/corpora/cilium-connectivity`` (Apache-2.0, Copyright Authors of Cilium;
see ``data/cilium-connectivity/README.md``), kept in ``data/`` so the tests do not
depend on the shared folder.  Expected verdicts: ``data/cilium_expectations.yaml``.
"""

from __future__ import annotations

from functools import cache, lru_cache
from pathlib import Path

import yaml

from scanner.loader.documents import load
from scanner.model.build import build_model
from scanner.network import KUBE_DNS, build_traffic

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "data" / "cilium-connectivity"
EXPECTATIONS = HERE / "data" / "cilium_expectations.yaml"
TEST_NAMESPACE = "cilium-test"  # cilium-cli applies the namespaced policies there


@lru_cache(maxsize=1)
def expectations() -> dict:
    return yaml.safe_load(EXPECTATIONS.read_text(encoding="utf-8"))["cases"]


@cache
def case_traffic(case: str):
    files = [CORPUS / "topology.yaml"] + sorted(p for p in (CORPUS / case).glob("*.yaml"))
    inputs = load(files, CORPUS)
    model = build_model(inputs.objects, TEST_NAMESPACE)
    probes = expectations()[case].get("probes") or []
    extra = sorted({p[k] for p in probes for k in ("from", "to") if ":" in p[k]})
    # kube-dns is the topology's coredns Deployment here, not an actor.
    return build_traffic(model, inputs.objects, None, [], extra, TEST_NAMESPACE), inputs


def probe_status(case: str, probe: dict) -> str:
    traffic, _ = case_traffic(case)
    http = probe.get("http")
    if http is not None and probe.get("scheme") == "https":
        http = None
    v = traffic.verdict(probe["from"], probe["to"], probe["protocol"], probe.get("port"), http)
    # l7-restricted: the connection is made (the probe's request, if any, is not refused)
    if v.status in ("allowed", "l7-restricted"):
        return "allow"
    if v.status == "l7-denied":
        return "l7-deny"
    return "deny"


__all__ = ["KUBE_DNS", "case_traffic", "expectations", "probe_status"]
