"""A green result must say what it proved (scanner/promises.py): every documented promise
is listed with kept / broken / excepted, and a finding breaks exactly its own promise."""

from __future__ import annotations

import shutil
from collections import Counter

import pytest
from conftest import REPO, scan_path

from scanner.cli.app import _run

BLOG = REPO / "fixtures" / "blog-system"


def statuses(result) -> Counter:
    return Counter((p.promise.family, p.status) for p in result.promises)


def test_the_example_proves_every_promise_of_the_reference_document():
    result = scan_path(BLOG, cwd=REPO)
    assert result.active() == []
    got = statuses(result)
    assert got[("flows", "kept")] == 17
    assert got[("zero-trust", "kept")] == 10  # 5 workloads x ingress/egress
    assert got[("security-context", "excepted")] == 1  # web: nginx binds :80 as root, documented
    assert got[("security-context", "kept")] == 4
    assert got[("backups", "kept")] >= 1 and got[("retention", "kept")] == 2 and got[("secrets", "kept")] == 1
    assert not any(status == "broken" for _, status in got)


def test_a_broken_promise_is_named_and_only_it(tmp_path):
    root = tmp_path / "blog"
    shutil.copytree(BLOG, root)
    netpol = root / "blog-system" / "cilium-netpol.yaml"
    text = netpol.read_text(encoding="utf-8")
    # mysql admits every pod of blog-system on 3306: its ingress promise breaks
    text = text.replace(
        "  ingress:\n  # was -> mysql:3306\n  - fromEndpoints:\n    - matchLabels:\n        app: was\n",
        "  ingress:\n  # was -> mysql:3306\n  - fromEndpoints:\n    - {}\n",
        1,
    )
    netpol.write_text(text, encoding="utf-8")
    result = scan_path(root, cwd=root)
    broken = [(p.promise.family, p.promise.text) for p in result.promises if p.status == "broken"]
    assert broken == [("zero-trust", "blog-system/mysql ingress")]
    finding = next(f for f in result.active() if f.rule_id == "NET002")
    assert finding.promises == ("zero-trust:blog-system/mysql:ingress",)


def test_every_finding_of_a_documented_family_is_tied_to_a_promise():
    """On every failing rule fixture, a finding of a rule that checks a documented promise
    (flows, zero trust, table rows, backups, retention) names a promise of the scan."""
    from rule_fixtures import RULE_FIXTURES, rule_cases

    families = (
        "NET001",
        "NET002",
        "NET003",
        "NET004",
        "NET006",
        "SEC001",
        "SEC002",
        "SEC003",
        "SEC005",
        "SEC006",
        "SEC007",
        "BAK",
        "RET",
    )
    checked = 0
    for rule_id in rule_cases():
        result = scan_path(RULE_FIXTURES / rule_id / "fail")
        keys = {p.promise.key for p in result.promises}
        for f in result.active():
            if f.rule_id.startswith(families) and result.policy_path is not None:
                assert f.promises and set(f.promises) <= keys, (rule_id, f.rule_id, f.promises, f.message)
                checked += 1
    assert checked > 20


@pytest.mark.parametrize("fmt", ["text", "json", "sarif"])
def test_every_format_names_the_policy_and_the_promises(tmp_path, fmt, capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    assert _run(["scan", "fixtures/blog-system", "--format", fmt], "kubematrix") == 0
    out = capsys.readouterr().out
    assert "fixtures/blog-system/kubematrix.yaml" in out
    if fmt == "text":
        assert "17 of 17  documented flows proven allowed" in out
    elif fmt == "json":
        import json

        data = json.loads(out)
        assert data["summary"]["promises"]["broken"] == 0 and data["summary"]["promises"]["kept"] > 30
    else:
        import json

        props = json.loads(out)["runs"][0]["properties"]["kubematrix"]
        assert props["policies"] == [
            {
                "path": "fixtures/blog-system/kubematrix.yaml",
                "directory": "fixtures/blog-system/",
                "files": 13,
                "excluded": 0,
            }
        ]
        assert props["promises"]["broken"] == 0
