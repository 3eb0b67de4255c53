"""Documented exceptions for any rule (scanner/exceptions.py): the policy file's
top-level ``exceptions``, in-manifest annotations, rule settings and excludes."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import scan_path

from scanner.cli.app import _run

POLICY = "apiVersion: kubematrix.dev/v1alpha1\nkind: Policy\n"
AGENT = """apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
  namespace: {namespace}
{annotations}spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      hostNetwork: true
      containers: [{name: agent, image: example/agent:1.0}]
"""


def tree(root: Path, policy: str | None, files: dict[str, str]) -> Path:
    (root / ".git").mkdir(parents=True)
    if policy is not None:
        (root / "kubematrix.yaml").write_text(POLICY + policy, encoding="utf-8")
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    return root


def agent(ns: str = "vendor", annotations: str = "") -> str:
    return AGENT.replace("{namespace}", ns).replace("{annotations}", annotations)


def rules_of(result, active: bool = True) -> list[tuple[str, str]]:
    found = result.active() if active else result.suppressed()
    return sorted((f.rule_id, f.loc.path) for f in found)


def test_a_top_level_exception_narrowed_by_object_and_files(tmp_path):
    root = tree(
        tmp_path,
        """exceptions:
  - rules: ["PSS-host*"]
    kind: DaemonSet
    namespace: vend*
    files: ["vendor/**"]
    reason: "vendored node agent: upstream owns its manifests"
    expires: "2027-01-31"
""",
        {"vendor/agent.yaml": agent(), "apps/agent.yaml": agent("apps")},
    )
    result = scan_path(root)
    assert rules_of(result) == [("PSS-hostNamespaces", "apps/agent.yaml")]  # another namespace and file
    (sup,) = result.suppressed()
    assert sup.loc.path == "vendor/agent.yaml" and sup.suppression.reason.startswith("vendored node agent")
    assert sup.suppression.expires.isoformat() == "2027-01-31" and sup.suppression.kind == "external"


def test_an_annotation_excepts_findings_about_its_own_object_only(tmp_path):
    annotated = agent(
        annotations='  annotations:\n    kubematrix.dev/ignore: "PSS-hostNamespaces"\n'
        '    kubematrix.dev/ignore-reason: "node agent needs the host network"\n'
    )
    root = tree(tmp_path, None, {"agents.yaml": annotated + "---\n" + agent("other")})
    result = scan_path(root)
    assert [(f.rule_id, f.subject) for f in result.suppressed()] == [("PSS-hostNamespaces", "DaemonSet vendor/agent")]
    assert result.suppressed()[0].suppression.kind == "inSource"
    assert [(f.rule_id, f.subject) for f in result.active()] == [("PSS-hostNamespaces", "DaemonSet other/agent")]


def test_an_expired_annotation_no_longer_applies_and_says_so(tmp_path):
    annotated = agent(
        annotations='  annotations:\n    kubematrix.dev/ignore: "PSS-hostNamespaces"\n'
        '    kubematrix.dev/ignore-reason: "until the agent moves to the host firewall"\n'
        '    kubematrix.dev/ignore-until: "2026-06-30"\n'
    )
    result = scan_path(tree(tmp_path, None, {"agent.yaml": annotated}))
    assert sorted(f.rule_id for f in result.active()) == ["POL002", "PSS-hostNamespaces"]
    lapse = next(f for f in result.active() if f.rule_id == "POL002")
    assert "the annotation on DaemonSet vendor/agent (PSS-hostNamespaces) expired on 2026-06-30" in lapse.message


def test_rule_settings_turn_rules_off_or_down_and_are_visible(tmp_path, capsys, monkeypatch):
    root = tree(
        tmp_path,
        """rules:
  PSS-hostNamespaces: {severity: note, reason: "node agents are reviewed by hand"}
  NET007: {enabled: false}
""",
        {"agent.yaml": agent()},
    )
    result = scan_path(root)
    (f,) = result.active()
    assert f.rule_id == "PSS-hostNamespaces" and result.level(f) == "note" and result.failing("warning") == []
    monkeypatch.chdir(root)
    assert _run(["scan", "."], "scan") == 0  # a note does not fail the default --fail-on warning
    out = " ".join(capsys.readouterr().out.split())
    assert "rule NET007 turned off" in out and "rule PSS-hostNamespaces severity set to note (node agents" in out
    assert _run(["scan", ".", "--format", "sarif"], "scan") == 0
    sarif = json.loads(capsys.readouterr().out)["runs"][0]
    overrides = {
        o["descriptor"]["id"]: o["configuration"] for o in sarif["invocations"][0]["ruleConfigurationOverrides"]
    }
    assert overrides == {"NET007": {"enabled": False}, "PSS-hostNamespaces": {"enabled": True, "level": "note"}}
    assert sarif["results"][0]["level"] == "note"


def test_excluded_files_are_not_scanned_and_are_counted(tmp_path, capsys, monkeypatch):
    root = tree(
        tmp_path,
        'exclude: ["charts/**"]\n',
        {"charts/agent/agent.yaml": agent(), "agent.yaml": agent("apps"), "testdata/agent.yaml": agent("test")},
    )
    result = scan_path(root)
    assert rules_of(result) == [("PSS-hostNamespaces", "agent.yaml"), ("PSS-hostNamespaces", "testdata/agent.yaml")]
    assert result.excluded == ("charts/agent/agent.yaml",)
    monkeypatch.chdir(root)
    assert _run(["scan", ".", "--exclude", "testdata/*", "--format", "json"], "scan") == 1
    report = json.loads(capsys.readouterr().out)
    assert report["summary"]["excluded"] == 2 and report["policies"][0]["excluded"] == 1
    assert [f["path"] for f in report["findings"]] == ["agent.yaml"]
