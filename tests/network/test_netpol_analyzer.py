"""Differential test against np-guard/netpol-analyzer's golden connectivity lists.

The corpus and its scorer live in ``../shared/corpora/netpol-analyzer`` next to the
checkout (a read-only copy in CI).  Everything agrees when hostNetwork pods are treated
like ordinary pods (``hostNetworkPods: pod``) and the datapath carries SCTP
(``sctp: true``), which is what the analyzer (the Kubernetes specification) assumes.  With the
default (Cilium) semantics, hostNetwork pods are not Cilium endpoints: no policy selects
them and their traffic carries the node identity, so the pairs involving them differ.
That difference is real and documented in docs/semantics.md; it is pinned here.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from functools import cache, lru_cache
from pathlib import Path

import pytest

from scanner.loader.documents import load
from scanner.model.build import build_model
from scanner.network import NetworkSettings, build_traffic
from scanner.network.graph import graph_to_json

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO.parent / "shared" / "corpora" / "netpol-analyzer"
pytestmark = [
    pytest.mark.skipif(
        not (CORPUS / "score.py").is_file(),
        reason=f"netpol-analyzer corpus not found at {CORPUS} (../shared next to the checkout)",
    ),
    pytest.mark.slow,
]


@lru_cache(maxsize=1)
def scorer():
    spec = importlib.util.spec_from_file_location("netpol_score", CORPUS / "score.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cases() -> list[str]:
    if not (CORPUS / "cases").is_dir():
        return []
    return sorted(p.name for p in (CORPUS / "cases").iterdir() if (p / "expected.json").is_file())


@cache
def loaded(case: str):
    mdir = CORPUS / "cases" / case / "manifests"
    inputs = load([mdir], mdir)
    return inputs, build_model(inputs.objects)


def compare(case: str, host_network_pods: str, sctp: bool = True):
    """(differing pairs, hostNetwork workload ids) for one case."""
    s = scorer()
    exp = json.loads((CORPUS / "cases" / case / "expected.json").read_text(encoding="utf-8"))
    inputs, model = loaded(case)
    t = build_traffic(model, inputs.objects, NetworkSettings(host_network_pods=host_network_pods, sctp=sctp))
    graph = graph_to_json(t.graph)
    aliases = exp.get("aliases", {})
    act, _ = s.actual_pairs(graph, aliases)
    want = s.expected_pairs(exp)
    diffs = sorted(k for k in set(want) | set(act) if want.get(k, {}) != act.get(k, {}))
    host = {aliases.get(e, e) for e, ep in t.endpoints.items() if ep.host_network}
    return diffs, host


@pytest.mark.parametrize("case", cases())
def test_agrees_when_host_network_pods_are_pods(case):
    diffs, _ = compare(case, "pod")
    assert diffs == []


# Cases whose pairs differ under Cilium semantics (hostNetwork pods), with the number of
# differing pairs.  Any other difference is a regression.
HOST_NETWORK_DIFFERENCES = {
    "ipblockstest": 63,
    "ipblockstest_2": 63,
    "ipblockstest_3": 63,
    "ipblockstest_4": 63,
    "multiple_topology_resources_1": 44,
    "multiple_topology_resources_2": 44,
    "semanticDiff-same-topologies-new1": 2,
    "semanticDiff-same-topologies-new1a": 3,
    "semanticDiff-same-topologies-new2": 2,
    "semanticDiff-same-topologies-new3": 3,
    "semanticDiff-same-topologies-old1": 2,
    "semanticDiff-same-topologies-old2": 2,
    "semanticDiff-same-topologies-old3": 3,
}


@pytest.mark.parametrize("case", cases())
def test_cilium_semantics_differ_only_for_host_network_pods(case):
    diffs, host = compare(case, "node")
    assert len(diffs) == HOST_NETWORK_DIFFERENCES.get(case, 0), diffs[:5]
    for src, dst in diffs:
        assert src in host or dst in host, (src, dst)


@pytest.mark.parametrize("case", cases())
def test_without_sctp_only_sctp_ports_differ(case):
    """Cilium's default datapath drops SCTP (enable-sctp=false): every difference from the
    analyzer is then an SCTP port range it lists and the graph does not."""
    s = scorer()
    exp = json.loads((CORPUS / "cases" / case / "expected.json").read_text(encoding="utf-8"))
    inputs, model = loaded(case)
    graph = graph_to_json(build_traffic(model, inputs.objects, NetworkSettings(host_network_pods="pod")).graph)
    act, _ = s.actual_pairs(graph, exp.get("aliases", {}))
    want = s.expected_pairs(exp)
    assert set(act) <= set(want)
    for pair, ports in want.items():
        assert {k: v for k, v in ports.items() if k != "SCTP"} == {
            k: v for k, v in act.get(pair, {}).items() if k != "SCTP"
        }, pair
        assert "SCTP" not in act.get(pair, {}), pair


def test_scorer_runs_the_cli():
    """The scorer itself, on the CLI, as documented in the corpus README (two small cases)."""
    policy = REPO / "tests" / "network" / "data" / "sctp.kubematrix.yaml"
    cmd = f"{sys.executable} -m scanner graph {{dir}} --policy {policy} --format json"
    out = subprocess.run(
        [
            sys.executable,
            str(CORPUS / "score.py"),
            "--cmd",
            cmd,
            "--case",
            "onlineboutique",
            "--case",
            "with_end_port_example",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=600,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "netpol-analyzer: 2/2 cases agree" in out.stdout
