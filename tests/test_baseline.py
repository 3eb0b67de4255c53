"""Baselines (scanner/baseline.py): only what is new fails the build."""

from __future__ import annotations

import json

from conftest import scan_path

from scanner.cli.app import _run

POD = """apiVersion: v1
kind: Pod
metadata: {name: NAME, namespace: shop}
spec:
  hostNetwork: true
  containers: [{name: app, image: example/app:1.0}]
"""


def test_written_baseline_makes_known_findings_pass_and_new_ones_fail(tmp_path, monkeypatch, capsys):
    (tmp_path / "a.yaml").write_text(POD.replace("NAME", "a"), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert _run(["scan", ".", "--write-baseline", "baseline.json"], "scan") == 0
    recorded = json.loads((tmp_path / "baseline.json").read_text(encoding="utf-8"))
    assert [f["ruleId"] for f in recorded["findings"]] == ["PSS-hostNamespaces"]
    capsys.readouterr()
    # lines move: still known
    (tmp_path / "a.yaml").write_text("# moved\n\n" + POD.replace("NAME", "a"), encoding="utf-8")
    assert _run(["scan", ".", "--baseline", "baseline.json"], "scan") == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "No new findings: 1 finding known from the baseline (not failing)" in out
    # a new object with the same problem is new
    (tmp_path / "b.yaml").write_text(POD.replace("NAME", "b"), encoding="utf-8")
    assert _run(["scan", ".", "--baseline", "baseline.json", "--format", "json"], "scan") == 1
    report = json.loads(capsys.readouterr().out)
    assert report["summary"]["baseline"] == {"known": 1, "new": 1, "fixed": 0}
    assert sorted((f["path"], f["baseline"]) for f in report["findings"]) == [
        ("a.yaml", "unchanged"),
        ("b.yaml", "new"),
    ]


def test_fixed_entries_are_listed_so_the_baseline_shrinks(tmp_path, monkeypatch, capsys):
    (tmp_path / "a.yaml").write_text(POD.replace("NAME", "a"), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert _run(["scan", ".", "--write-baseline", "baseline.json"], "scan") == 0
    (tmp_path / "a.yaml").write_text(POD.replace("NAME", "a").replace("  hostNetwork: true\n", ""), encoding="utf-8")
    capsys.readouterr()
    assert _run(["scan", ".", "--baseline", "baseline.json", "--format", "sarif"], "scan") == 0
    run = json.loads(capsys.readouterr().out)["runs"][0]
    assert run["properties"]["kubematrix"]["baselineFixed"] == 1 and run["results"] == []
    assert _run(["scan", ".", "--baseline", "baseline.json"], "scan") == 0
    out = capsys.readouterr().out
    assert (
        "Fixed since the baseline (1): remove them from it" in out and "PSS-hostNamespaces  a.yaml  Pod shop/a" in out
    )


def test_a_bad_baseline_is_a_usage_error(tmp_path, monkeypatch, capsys):
    (tmp_path / "baseline.json").write_text('{"findings": []}', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert _run(["scan", ".", "--baseline", "baseline.json"], "scan") == 2
    assert "not a baseline file" in capsys.readouterr().err
    assert _run(["scan", ".", "--baseline", "missing.json"], "scan") == 2


def test_duplicated_identities_count_their_occurrences(tmp_path):
    from scanner import baseline

    (tmp_path / "a.yaml").write_text(POD.replace("NAME", "a"), encoding="utf-8")
    found = scan_path(tmp_path).active()
    twice = baseline.parse(baseline.render(found), "b.json")
    marked, fixed = baseline.apply(found + found, twice[:1])
    assert [f.baseline for f in marked] == [True, False] and fixed == ()
