"""``kubematrix init`` (scanner/init.py): the drafted policy validates, and scanning the
same tree with it adds no finding and keeps every promise it makes — on the example,
every netpol-analyzer and Cilium connectivity corpus case, and every rule fixture."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

import pytest
from conftest import REPO
from rule_fixtures import RULE_FIXTURES

from scanner.cli.app import _run
from scanner.init import draft_policy
from scanner.loader.yamltext import parse_yaml_text
from scanner.policy import EMPTY_POLICY, policy_from_parsed
from scanner.scan import ScanOptions, run_scan

CORPORA = REPO.parent / "shared" / "corpora"
NETPOL = CORPORA / "netpol-analyzer" / "cases"
CILIUM = CORPORA / "cilium-connectivity"
TODAY = _dt.date(2026, 11, 26)


def cases() -> list[tuple[str, tuple[Path, ...]]]:
    out = [("blog-system", (REPO / "fixtures" / "blog-system",))]
    if NETPOL.is_dir():
        out += [
            (f"netpol/{c.name}", (c / "manifests",)) for c in sorted(NETPOL.iterdir()) if (c / "manifests").is_dir()
        ]
    if CILIUM.is_dir():
        out += [(f"cilium/{c.name}", (c, CILIUM / "topology.yaml")) for c in sorted(CILIUM.iterdir()) if c.is_dir()]
    out += [(f"rules/{c.parent.name}/{c.name}", (c,)) for c in sorted(RULE_FIXTURES.glob("*/*")) if c.is_dir()]
    return out


CASES = cases()


@pytest.mark.slow
@pytest.mark.parametrize("paths", [c[1] for c in CASES], ids=[c[0] for c in CASES])
def test_the_draft_keeps_every_promise_it_makes_and_adds_no_finding(paths, tmp_path):
    cwd = paths[0] if paths[0].is_dir() else paths[0].parent
    output = tmp_path / "kubematrix.yaml"
    text = draft_policy(list(paths), cwd, output)
    parsed = parse_yaml_text(text, "kubematrix.yaml")
    assert parsed.problems == []
    policy = policy_from_parsed([d.data for d in parsed.documents], [], "kubematrix.yaml", cwd)  # validates
    without = run_scan(ScanOptions(paths=paths, policy=EMPTY_POLICY, cwd=cwd, today=TODAY))
    with_draft = run_scan(ScanOptions(paths=paths, policy=policy, cwd=cwd, today=TODAY))
    before = {f.fingerprint for f in without.findings}
    added = [
        f"{f.rule_id} {f.loc} {f.message}"
        for f in with_draft.findings
        if f.fingerprint not in before and not f.rule_id.startswith("POL")
    ]
    assert added == []
    assert [p.promise.text for p in with_draft.promises if p.status == "broken"] == []


def test_the_draft_documents_the_example_as_its_authors_did(tmp_path):
    """On the reference system the draft finds the same matrix the hand-written policy
    documents: blog-system is zero trust with 17 flows, and every workload has a row."""
    root = REPO / "fixtures" / "blog-system"
    text = draft_policy([root], root, tmp_path / "kubematrix.yaml")
    assert "    namespaces: [blog-system]  # every workload here is isolated both ways" in text
    assert text.count("    - {from: ") == 17
    assert '{from: "entity:all", to: "blog-system/web", ports: ["80/TCP"]}' in text
    assert (
        '{name: monitoring-prometheus, namespace: "monitoring", labels: {"app.kubernetes.io/name": "prometheus"}}'
        in text
    )
    for workload in ("mysql", "mysql-backup", "mysql-exporter", "was", "web"):
        assert f"    blog-system/{workload}: " in text


def test_a_rule_the_file_cannot_name_keeps_the_namespace_out_of_zero_trust(tmp_path):
    (tmp_path / "app.yaml").write_text(
        """apiVersion: v1
kind: Pod
metadata: {name: db, namespace: shop, labels: {app: db}}
spec: {containers: [{name: db, image: postgres}]}
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: db, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: db}}
  ingress:
  - fromEndpoints: [{matchExpressions: [{key: app, operator: NotIn, values: [web]}]}]
  egress: [{}]
""",
        encoding="utf-8",
    )
    text = draft_policy([tmp_path], tmp_path, tmp_path / "kubematrix.yaml")
    assert "    namespaces: []" in text
    assert "# not shop: a rule admits peers no actor or entity can name exactly; review" in text


def test_init_never_overwrites_without_force(tmp_path, monkeypatch, capsys):
    (tmp_path / "kubematrix.yaml").write_text("# mine\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert _run(["init", "."], "kubematrix") == 2
    assert "exists" in capsys.readouterr().err and (tmp_path / "kubematrix.yaml").read_text() == "# mine\n"
    assert _run(["init", ".", "--force"], "kubematrix") == 0
    assert (tmp_path / "kubematrix.yaml").read_text().startswith("# Drafted by `kubematrix init`")
