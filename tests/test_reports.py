"""Reporters: SARIF (schema + GitHub ingestion rules), JSON (own schema), text."""

from __future__ import annotations

import copy
import datetime as _dt
import json
import re
import shutil
from dataclasses import replace
from pathlib import Path

import jsonschema
import pytest
from conftest import REPO, scan_path
from rule_fixtures import RULE_FIXTURES

from scanner import __version__
from scanner.catalog import Rule, load_catalog
from scanner.findings import Finding, Suppression
from scanner.located import Loc
from scanner.promises import Promise, PromiseResult
from scanner.quote import MASK, mask_secrets, quote_lines
from scanner.report import render
from scanner.report.sarif import fingerprints, sarif_log
from scanner.scan import AppliedScope, ScanResult

SARIF_SCHEMA = json.loads((Path(__file__).parent / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
REPORT_SCHEMA = json.loads((REPO / "rules" / "schema" / "report.schema.json").read_text(encoding="utf-8"))
BLOG = REPO / "fixtures" / "blog-system"
ANSI = re.compile(r"\x1b\[")
FAIL_CASES = sorted(p.parent.name for p in RULE_FIXTURES.glob("*/fail")) if RULE_FIXTURES.is_dir() else []


def quoted(result: ScanResult) -> ScanResult:
    """A hand-made result with the quotes a scan would give it (read from the working
    directory, as the scan does for paths it did not read itself)."""
    return replace(result, quotes=quote_lines(result.findings, result.rules, frozenset(), {}, Path.cwd()))


# --------------------------------------------------------------------------- GitHub's rules


def github_ingestion_problems(sarif: dict) -> list[str]:
    """What GitHub code scanning would reject or mishandle in a SARIF log.

    From the GitHub docs ("SARIF support for code scanning", sarif limits) and
    the upload errors users hit: one run per tool/category, ``results`` present,
    every result with exactly one location with a relative ``uri`` and a region
    starting at line >= 1, rules with short/full descriptions and help text,
    ``security-severity`` as a string in 0.1-10.0, at most 20 tags per rule.
    """
    problems: list[str] = []
    if sarif.get("version") != "2.1.0":
        problems.append("version must be '2.1.0'")
    if not sarif.get("$schema"):
        problems.append("$schema missing")
    runs = sarif.get("runs")
    if not isinstance(runs, list) or len(runs) != 1:
        return problems + [f"exactly one run expected, found {len(runs) if isinstance(runs, list) else runs!r}"]
    run = runs[0]
    driver = run.get("tool", {}).get("driver", {})
    if not driver.get("name"):
        problems.append("tool.driver.name missing")
    rules = driver.get("rules")
    if not isinstance(rules, list):
        problems.append("tool.driver.rules missing")
        rules = []
    ids = [r.get("id") for r in rules]
    if len(set(ids)) != len(ids):
        problems.append("duplicate rule ids")
    for rule in rules:
        problems += _rule_problems(rule)
    category = run.get("automationDetails", {}).get("id")
    if category is not None and not category:
        problems.append("automationDetails.id is empty")
    results = run.get("results")
    if not isinstance(results, list):
        return problems + ["run.results missing (must be present, even empty)"]
    if len(results) > 25000:
        problems.append("more than 25,000 results")
    for n, result in enumerate(results):
        problems += _result_problems(
            f"result {n} ({result.get('ruleId')})", result, ids, run.get("originalUriBaseIds", {})
        )
    return problems


def _rule_problems(rule: dict) -> list[str]:
    problems = []
    rid = rule.get("id") or "?"
    for key in ("shortDescription", "fullDescription", "help"):
        text = (rule.get(key) or {}).get("text")
        if not isinstance(text, str) or not text.strip():
            problems.append(f"rule {rid}: {key}.text missing or empty")
        elif key != "help" and len(text) > 1024:
            problems.append(f"rule {rid}: {key}.text longer than 1024 characters")
    if rule.get("name") is not None and len(rule["name"]) > 255:
        problems.append(f"rule {rid}: name longer than 255 characters")
    props = rule.get("properties", {})
    severity = props.get("security-severity")
    if severity is not None and not isinstance(severity, str):
        problems.append(f"rule {rid}: security-severity must be a string, got {type(severity).__name__}")
    elif severity is not None and (
        not re.fullmatch(r"(10\.0|[0-9](\.[0-9])?)", severity) or not 0.1 <= float(severity) <= 10.0
    ):
        problems.append(f"rule {rid}: security-severity {severity!r} outside 0.1-10.0")
    if len(props.get("tags", [])) > 20:
        problems.append(f"rule {rid}: more than 20 tags")
    level = rule.get("defaultConfiguration", {}).get("level", "warning")
    if level not in ("none", "note", "warning", "error"):
        problems.append(f"rule {rid}: bad default level {level!r}")
    return problems


def _result_problems(where: str, result: dict, ids: list, base_ids: dict) -> list[str]:
    problems = []
    rid = result.get("ruleId")
    if rid not in ids:
        problems.append(f"{where}: ruleId not among the rules")
    elif "ruleIndex" in result and ids.index(rid) != result["ruleIndex"]:
        problems.append(f"{where}: ruleIndex does not point at the rule")
    if not (result.get("message") or {}).get("text"):
        problems.append(f"{where}: message.text missing")
    locations = result.get("locations")
    if not isinstance(locations, list) or len(locations) != 1:
        return problems + [f"{where}: exactly one location expected"]
    problems += _location_problems(where, locations[0].get("physicalLocation") or {}, base_ids)
    fingerprint = (result.get("partialFingerprints") or {}).get("primaryLocationLineHash")
    if not isinstance(fingerprint, str) or not re.fullmatch(r"[0-9a-f]+:[0-9]+", fingerprint):
        problems.append(f"{where}: partialFingerprints.primaryLocationLineHash missing or malformed")
    return problems


def _location_problems(where: str, physical: dict, base_ids: dict) -> list[str]:
    problems = []
    artifact = physical.get("artifactLocation") or {}
    uri = artifact.get("uri")
    if not uri:
        problems.append(f"{where}: physicalLocation.artifactLocation.uri missing")
    elif re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", uri) or uri.startswith("/"):
        problems.append(f"{where}: uri {uri!r} is not relative to the repository")
    elif re.search(r"[\s\\]|%(?![0-9A-Fa-f]{2})", uri) or uri.startswith("./") or "/../" in f"/{uri}":
        problems.append(f"{where}: uri {uri!r} is not a clean relative uri-reference")
    base = artifact.get("uriBaseId")
    if base is not None and base not in base_ids:
        problems.append(f"{where}: uriBaseId {base!r} not defined in originalUriBaseIds")
    region = physical.get("region") or {}
    if not isinstance(region.get("startLine"), int) or region["startLine"] < 1:
        problems.append(f"{where}: region.startLine must be >= 1")
    if "startColumn" in region and (not isinstance(region["startColumn"], int) or region["startColumn"] < 1):
        problems.append(f"{where}: region.startColumn must be >= 1")
    return problems


def schema_errors(document: dict, schema: dict) -> list[str]:
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    return [f"{e.json_path}: {e.message}" for e in validator.iter_errors(document)]


# --------------------------------------------------------------------------- a synthetic scan


def _rule(rule_id: str, severity: str, category: str, **extra) -> Rule:
    return Rule(
        id=rule_id,
        name=f"Rule{rule_id.replace('-', '')}",
        title=f"Title of {rule_id} with [bold]markup-like[/bold] text",
        severity=severity,
        security_severity=extra.pop("security_severity", "7.5"),
        category=category,
        kind=extra.pop(
            "kind", "security" if category in ("security-context", "pod-security", "network", "secrets") else "quality"
        ),
        tags=extra.pop("tags", ("kubernetes",)),
        description="What the rule checks and why it matters, long enough.",
        help_pass="securityContext:\n  runAsNonRoot: true\n",
        help_fail="securityContext:\n  runAsNonRoot: false\n",
        remediation="Set runAsNonRoot: true.",
        references=("https://kubernetes.io/docs/concepts/security/pod-security-standards/",),
        **extra,
    )


SYNTH_RULES = {
    r.id: r
    for r in (
        _rule("BAK001", "warning", "backup"),
        _rule("INPUT001", "note", "input", security_severity="2.0"),
        _rule("PSS-runAsNonRoot", "error", "pod-security", pss_level="restricted", pss_control="runAsNonRoot"),
        _rule("SEC001", "error", "security-context"),
        _rule("SECRET002", "error", "secrets", security_severity="9.1"),
    )
}

WEB_YAML = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  template:
    spec:
      containers:
        - name: nginx
          image: nginx
          env:
            - name: DB_PASSWORD
              value: hunter2-canary
          securityContext:
            runAsNonRoot: false
            privileged: true
"""


def synthetic_result(shift: int = 0) -> ScanResult:
    """A scan result with every kind of finding (``shift`` moves all lines down)."""
    web = "k8s/web app.yaml"  # a space: the SARIF uri must be percent-encoded
    findings = (
        Finding(
            "SEC001",
            "container 'nginx' of Deployment shop/web: runAsNonRoot is false [red]not markup[/red]",
            Loc(web, 16 + shift, 13),
            subject="Deployment shop/web",
            detail="runAsNonRoot",
            workload="shop/web",
            container="nginx",
            related=(Loc("kubematrix.yaml", 12 + shift, 5),),
            promises=("security-context:shop/web",),
        ),
        Finding(
            "SEC001",
            "container 'nginx' of Deployment shop/web: privileged",
            Loc(web, 17 + shift, 13),
            subject="Deployment shop/web",
            detail="privileged",
            workload="shop/web",
            container="nginx",
            suppression=Suppression(
                "legacy image; OPS-1", Loc("kubematrix.yaml", 20 + shift, 11), "external", _dt.date(2027, 1, 31)
            ),
            promises=("security-context:shop/web",),
        ),
        Finding(
            "PSS-runAsNonRoot",
            "container 'nginx' runs as root",
            Loc(web, 16 + shift, 13),
            subject="Deployment shop/web",
            workload="shop/web",
            container="nginx",
            suppression=Suppression("annotated", Loc(web, 4 + shift, 3), "inSource"),
        ),
        Finding(
            "SECRET002",
            "env var DB_PASSWORD carries a literal secret value (not shown)",
            Loc(web, 14 + shift, 22),
            subject="Deployment shop/web",
            detail="DB_PASSWORD",
        ),
        Finding(
            "BAK001",
            "documented backup 'db' names CronJob shop/backup, which is not in the manifests",
            Loc("kubematrix.yaml", 30 + shift, 14),
            subject="backup db",
            promises=("backup:db",),
        ),
        # Two findings with the same identity: distinct fingerprints all the same.
        Finding("INPUT001", "cannot parse YAML", Loc("k8s/broken.yaml", 2 + shift, 1), detail="parse"),
        Finding("INPUT001", "cannot parse YAML", Loc("k8s/broken.yaml", 9 + shift, 1), detail="parse"),
    )
    return quoted(
        ScanResult(
            findings=tuple(sorted(findings, key=lambda f: f.sort_key)),
            rules=SYNTH_RULES,
            files=("k8s/broken.yaml", web, "kubematrix.yaml"),
            document_counts={"kubernetes": 1, "kubematrix-policy": 1},
            workload_count=1,
            policy_path="kubematrix.yaml",
            scopes=(AppliedScope("kubematrix.yaml", "./", 3),),
            promises=(
                PromiseResult(
                    Promise(
                        "flows",
                        "shop/web -> shop/api on TCP 8080",
                        Loc("kubematrix.yaml", 8 + shift, 7),
                        "flow:shop/web -> shop/api on TCP 8080",
                    ),
                    "kept",
                    0,
                    "kubematrix.yaml",
                ),
                PromiseResult(
                    Promise(
                        "security-context",
                        "shop/web",
                        Loc("kubematrix.yaml", 12 + shift, 5),
                        "security-context:shop/web",
                    ),
                    "broken",
                    2,
                    "kubematrix.yaml",
                ),
                PromiseResult(
                    Promise("backups", "db (shop/backup)", Loc("kubematrix.yaml", 30 + shift, 7), "backup:db"),
                    "broken",
                    1,
                    "kubematrix.yaml",
                ),
            ),
        )
    )


@pytest.fixture
def synthetic_tree(tmp_path, monkeypatch):
    """The files of ``synthetic_result`` on disk, with the working directory at their root."""
    (tmp_path / "k8s").mkdir()
    (tmp_path / "k8s" / "web app.yaml").write_text(WEB_YAML, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _all_results(sarif: dict) -> list[dict]:
    return sarif["runs"][0]["results"]


# --------------------------------------------------------------------------- SARIF


def test_synthetic_sarif_is_valid_and_ingestible():
    sarif = json.loads(render(synthetic_result(), "sarif"))
    assert schema_errors(sarif, SARIF_SCHEMA) == []
    assert github_ingestion_problems(sarif) == []


def test_sarif_shape():
    result = synthetic_result()
    sarif = json.loads(render(result, "sarif"))
    assert sarif["version"] == "2.1.0" and sarif["$schema"].endswith("sarif-2.1.0.json")
    (run,) = sarif["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "kubematrix" and driver["semanticVersion"] == __version__
    assert driver["informationUri"].startswith("https://")
    assert [r["id"] for r in driver["rules"]] == sorted(SYNTH_RULES)
    assert run["automationDetails"] == {"id": "kubematrix/"}
    assert "%SRCROOT%" in run["originalUriBaseIds"]
    assert run["invocations"] == [{"executionSuccessful": True}]
    sec = next(r for r in driver["rules"] if r["id"] == "SEC001")
    rule = SYNTH_RULES["SEC001"]
    assert sec["name"] == rule.name
    assert sec["shortDescription"]["text"] == rule.title
    assert sec["fullDescription"]["text"] == rule.description
    assert sec["help"]["markdown"] == rule.help_markdown()
    assert rule.remediation in sec["help"]["text"]
    assert sec["defaultConfiguration"] == {"level": "error"}
    assert sec["properties"]["security-severity"] == "7.5"
    assert "security" in sec["properties"]["tags"] and sec["properties"]["precision"] == "high"
    backup = next(r for r in driver["rules"] if r["id"] == "BAK001")
    assert "security" not in backup["properties"]["tags"]
    results = _all_results(sarif)
    assert len(results) == len(result.findings)
    for finding, res in zip(result.findings, results, strict=True):
        assert res["ruleId"] == finding.rule_id
        assert driver["rules"][res["ruleIndex"]]["id"] == finding.rule_id
        assert res["level"] == SYNTH_RULES[finding.rule_id].severity
        assert res["message"]["text"] == finding.message
        (loc,) = res["locations"]
        assert loc["physicalLocation"]["region"] == {"startLine": finding.loc.line, "startColumn": finding.loc.col}
        assert loc["physicalLocation"]["artifactLocation"]["uriBaseId"] == "%SRCROOT%"
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results}
    assert "k8s/web%20app.yaml" in uris


def test_sarif_suppressions_carry_reason_kind_and_location():
    results = _all_results(sarif_log(synthetic_result()))
    suppressed = [r for r in results if "suppressions" in r]
    assert len(suppressed) == 2
    by_rule = {r["ruleId"]: r for r in suppressed}
    (external,) = by_rule["SEC001"]["suppressions"]
    assert external["kind"] == "external" and external["status"] == "accepted"
    assert external["justification"] == "legacy image; OPS-1 (expires 2027-01-31)"
    assert external["location"]["physicalLocation"]["artifactLocation"]["uri"] == "kubematrix.yaml"
    assert external["location"]["physicalLocation"]["region"]["startLine"] == 20
    assert any(rel["physicalLocation"]["region"]["startLine"] == 20 for rel in by_rule["SEC001"]["relatedLocations"])
    assert by_rule["PSS-runAsNonRoot"]["suppressions"][0]["kind"] == "inSource"
    unsuppressed = [r for r in results if "suppressions" not in r]
    assert len(unsuppressed) == len(results) - 2


def test_fingerprints_ignore_lines_and_tell_identities_apart():
    before = sarif_log(synthetic_result())
    after = sarif_log(synthetic_result(shift=5))
    prints_before = [r["partialFingerprints"] for r in _all_results(before)]
    prints_after = [r["partialFingerprints"] for r in _all_results(after)]
    assert prints_before == prints_after
    primary = [p["primaryLocationLineHash"] for p in prints_before]
    assert len(set(primary)) == len(primary), "every finding needs its own fingerprint"
    assert all(re.fullmatch(r"[0-9a-f]{16}:[0-9]+", p) for p in primary)
    # the two identical INPUT001 identities are told apart by the occurrence counter
    dupes = [p for r, p in zip(_all_results(before), primary, strict=True) if r["ruleId"] == "INPUT001"]
    assert [d.split(":")[1] for d in dupes] == ["1", "2"] and dupes[0].split(":")[0] == dupes[1].split(":")[0]
    # a different identity gives a different hash
    one = Finding("SEC001", "m", Loc("a.yaml", 3), subject="Deployment ns/a")
    other = Finding("SEC001", "m", Loc("a.yaml", 3), subject="Deployment ns/b")
    assert fingerprints([one]) != fingerprints([other])


def test_sarif_is_byte_identical_and_has_nothing_run_specific(tmp_path):
    first = render(synthetic_result(), "sarif")
    assert first == render(synthetic_result(), "sarif")
    assert first.endswith("}\n")
    assert str(tmp_path) not in first and str(Path.cwd()) not in first
    assert not re.search(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", first), "no timestamps"
    # keys are sorted at every level
    data = json.loads(first)
    assert json.dumps(data, indent=2, sort_keys=True, ensure_ascii=True) + "\n" == first


def test_absolute_paths_become_file_uris():
    result = synthetic_result()
    outside = Finding("INPUT001", "cannot read", Loc("/outside/tree.yaml", 1, 1))
    result = ScanResult((*result.findings, outside), result.rules, result.files, result.document_counts, 1, None)
    sarif = sarif_log(result)
    assert schema_errors(sarif, SARIF_SCHEMA) == []
    last = _all_results(sarif)[-1]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert last == {"uri": "file:///outside/tree.yaml"}
    # ... which GitHub would not accept as a repository path: the checker notices.
    assert any("not relative" in p for p in github_ingestion_problems(sarif))


@pytest.mark.parametrize(
    "breakage, expected",
    [
        (lambda s: s["runs"].append(copy.deepcopy(s["runs"][0])), "exactly one run"),
        (lambda s: s["runs"][0].pop("results"), "results missing"),
        (lambda s: s["runs"][0]["results"][0].update(locations=[]), "exactly one location"),
        (
            lambda s: s["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"].update(startLine=0),
            "startLine",
        ),
        (
            lambda s: s["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"].update(
                uri="/abs/x.yaml"
            ),
            "not relative",
        ),
        (
            lambda s: s["runs"][0]["tool"]["driver"]["rules"][0]["properties"].update({"security-severity": 7.5}),
            "must be a string",
        ),
        (
            lambda s: s["runs"][0]["tool"]["driver"]["rules"][0]["properties"].update(
                tags=[f"t{i}" for i in range(21)]
            ),
            "20 tags",
        ),
        (lambda s: s["runs"][0]["tool"]["driver"]["rules"][0].pop("help"), "help.text"),
        (lambda s: s["runs"][0]["tool"]["driver"]["rules"][0]["fullDescription"].update(text=""), "fullDescription"),
        (lambda s: s["runs"][0]["results"][0].pop("partialFingerprints"), "primaryLocationLineHash"),
    ],
)
def test_ingestion_checker_catches_what_github_rejects(breakage, expected):
    sarif = sarif_log(synthetic_result())
    breakage(sarif)
    problems = github_ingestion_problems(sarif)
    assert any(expected in p for p in problems), problems


def _sarif_of(path: Path, cwd: Path) -> dict:
    return json.loads(render(scan_path(path, cwd=cwd, report_unused=True), "sarif"))  # POL005 only when asked


def test_blog_system_sarif_is_valid_and_ingestible():
    sarif = _sarif_of(BLOG, REPO)
    assert schema_errors(sarif, SARIF_SCHEMA) == []
    assert github_ingestion_problems(sarif) == []
    assert [r["id"] for r in sarif["runs"][0]["tool"]["driver"]["rules"]] == list(load_catalog())
    for res in _all_results(sarif):
        assert res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].startswith("fixtures/blog-system/")


@pytest.mark.parametrize("rule_id", FAIL_CASES)
def test_failing_fixture_sarif_is_valid_and_ingestible(rule_id):
    sarif = _sarif_of(RULE_FIXTURES / rule_id / "fail", REPO)
    assert schema_errors(sarif, SARIF_SCHEMA) == []
    assert github_ingestion_problems(sarif) == []
    assert any(r["ruleId"] == rule_id for r in _all_results(sarif)), "the failing fixture must produce its rule"


def _shifted_copy(src: Path, dst: Path) -> set[str]:
    """Copy ``src`` with a blank line inserted at the top of every UTF-8 text file
    (binary, BOM and non-UTF-8 fixtures are left alone); the shifted paths."""
    shutil.copytree(src, dst, symlinks=True)
    shifted = set()
    for path in dst.rglob("*"):
        if path.is_file() and not path.is_symlink() and path.suffix in (".yaml", ".yml", ".json"):
            data = path.read_bytes()
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                continue
            if "\x00" in text or text.startswith("\ufeff"):
                continue
            path.write_bytes(b"\n" + data)
            shifted.add(path.relative_to(dst).as_posix())
    return shifted


def test_fingerprints_survive_a_blank_line_at_the_top_of_every_file(tmp_path):
    """The whole pipeline: rescanning after inserting a blank line at the top of
    each scanned file moves every finding one line down and changes no fingerprint."""
    assert len(FAIL_CASES) >= 60, "every rule has a failing fixture"
    moved = 0
    for rule_id in FAIL_CASES:
        case = RULE_FIXTURES / rule_id / "fail"
        before_dir, after_dir = tmp_path / rule_id / "a", tmp_path / rule_id / "b"
        shutil.copytree(case, before_dir, symlinks=True)
        shifted = _shifted_copy(case, after_dir)
        before = _all_results(_sarif_of(before_dir, before_dir))
        after = _all_results(_sarif_of(after_dir, after_dir))
        assert len(before) == len(after) > 0
        for old, new in zip(before, after, strict=True):
            assert old["partialFingerprints"] == new["partialFingerprints"]
            old_line = old["locations"][0]["physicalLocation"]["region"]["startLine"]
            new_line = new["locations"][0]["physicalLocation"]["region"]["startLine"]
            uri = new["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            if uri not in shifted:
                assert new_line == old_line
                continue
            if new_line == old_line == 1 and uri.endswith(".json"):
                continue  # JSON parsed by the json module carries no positions
            assert new_line == old_line + 1, (rule_id, old, new)
            moved += 1
    assert moved > 0


# --------------------------------------------------------------------------- JSON


def test_synthetic_json_report_matches_its_schema():
    report = json.loads(render(synthetic_result(), "json"))
    assert schema_errors(report, REPORT_SCHEMA) == []
    assert report["schemaVersion"] == "1"
    assert report["tool"] == {"name": "kubematrix", "version": __version__, "informationUri": "https://kubematrix.dev/"}
    assert report["summary"] == {
        "findings": 5,
        "bySeverity": {"error": 2, "warning": 1, "note": 2},
        "suppressed": 2,
        "files": 3,
        "excluded": 0,
        "documents": {"kubernetes": 1, "kubematrix-policy": 1},
        "workloads": 1,
        "rulesChecked": 5,
        "promises": {"kept": 1, "broken": 2, "excepted": 0},
        "baseline": None,
    }
    assert report["policies"] == [
        {"path": "kubematrix.yaml", "directory": "./", "files": 3, "excluded": 0, "rules": {}}
    ]
    assert [(p["key"], p["status"], p["findings"]) for p in report["promises"]] == [
        ("flow:shop/web -> shop/api on TCP 8080", "kept", 0),
        ("security-context:shop/web", "broken", 2),
        ("backup:db", "broken", 1),
    ]
    assert sorted(report["rules"]) == sorted({f.rule_id for f in synthetic_result().findings})
    first = report["findings"][0]
    assert set(first) == set(REPORT_SCHEMA["$defs"]["finding"]["required"])
    sup = next(f for f in report["findings"] if f["ruleId"] == "SEC001" and f["suppressed"])
    assert sup["suppressed"] == {
        "reason": "legacy image; OPS-1",
        "kind": "external",
        "path": "kubematrix.yaml",
        "line": 20,
        "column": 11,
        "expires": "2027-01-31",
    }
    assert sup["promises"] == ["security-context:shop/web"]
    bak = next(f for f in report["findings"] if f["ruleId"] == "BAK001")
    assert bak["workload"] is None and bak["container"] is None and bak["suppressed"] is None


def test_json_report_schema_rejects_a_wrong_report():
    report = json.loads(render(synthetic_result(), "json"))
    report["findings"][0]["line"] = 0
    report["summary"].pop("files")
    errors = schema_errors(report, REPORT_SCHEMA)
    assert any("files" in e for e in errors) and any("line" in e or "minimum" in e for e in errors)


@pytest.mark.parametrize("case", ["blog-system", *FAIL_CASES])
def test_json_report_of_fixtures_matches_its_schema(case):
    path = BLOG if case == "blog-system" else RULE_FIXTURES / case / "fail"
    result = scan_path(path, cwd=REPO)
    text = render(result, "json")
    report = json.loads(text)
    assert schema_errors(report, REPORT_SCHEMA) == []
    assert len(report["findings"]) == len(result.findings)
    assert report["summary"]["files"] == len(result.files)
    assert text == render(scan_path(path, cwd=REPO), "json")


# --------------------------------------------------------------------------- text


def test_text_plain_has_no_ansi_and_everything_in_place(synthetic_tree):
    out = render(synthetic_result(), "text", color=False, width=100)
    assert not ANSI.search(out)
    lines = out.splitlines()
    assert lines[0] == "k8s/broken.yaml:2:1  note  INPUT001"  # grouped by file, in scan order; path:line:col
    assert "k8s/web app.yaml:16:13  error  SEC001" in lines and "kubematrix.yaml:30:14  warning  BAK001" in lines
    assert "[red]not markup[/red]" in out, "messages are printed literally, never as rich markup"
    after = lines[lines.index("k8s/web app.yaml:16:13  error  SEC001") + 1]
    assert after.startswith("    container 'nginx'")
    assert "    fix: " + SYNTH_RULES["SEC001"].remediation.split(". ")[0] in out  # the rule's one-line fix
    assert "can be documented as an exception with a reason (kubematrix rules BAK001 shows how)" in " ".join(
        out.split()
    )
    # the offending line is shown under its finding
    assert "16 |             runAsNonRoot: false" in out
    # unreadable file (k8s/broken.yaml does not exist): no snippet, no complaint
    assert "2:1" in out and "No such file" not in out and "Errno" not in out
    section = out[out.index("Documented exceptions (2)") :]
    assert "legacy image; OPS-1" in section and "kubematrix.yaml:20:11" in section
    assert "k8s/web app.yaml:4:3" in section  # where the in-source exception is written
    summary = out[out.index("Summary") :]
    for label, count in (
        ("errors", 2),
        ("warnings", 1),
        ("notes", 2),
        ("suppressed (documented exceptions)", 2),
        ("files scanned", 3),
        ("documents: kubernetes", 1),
        ("workloads", 1),
    ):
        assert re.search(rf"{re.escape(label)}\s+{count}\b", summary), label
    assert " ".join(out.split("\n\n")[-1].split()) == (
        "5 findings (2 errors, 1 warning, 2 notes) in 3 files; 2 suppressed by documented exceptions; "
        "2 of 3 documented promises broken."
    )
    promises = out[out.index("Policy kubematrix.yaml governs ./ (3 files)") :]
    assert re.search(r"1 of 1\s+documented flows proven allowed", promises)
    assert re.search(r"0 of 1\s+SecurityContext table rows proven; 1 broken", promises)
    assert re.search(r"0 of 1\s+backups proven as documented; 1 broken", promises)
    assert "expires: 2027-01-31" in section
    assert all(len(line) <= 100 for line in lines)
    assert all(line == line.rstrip() for line in lines)


def test_text_never_shows_secret_values(synthetic_tree):
    out = render(synthetic_result(), "text", color=False)
    assert "hunter2" not in out
    assert f"14 |               value: {MASK}" in out


@pytest.mark.parametrize("case", [c for c in FAIL_CASES if c.startswith("SECRET")])
def test_text_of_secret_fixtures_hides_the_values(case, monkeypatch):
    fail = RULE_FIXTURES / case / "fail"
    monkeypatch.chdir(REPO)
    out = render(scan_path(fail, cwd=REPO), "text", color=False)
    assert case in out
    for path in fail.rglob("*.y*ml"):
        for line in path.read_text(encoding="utf-8").splitlines():
            for match in re.finditer(r"(?i)(?:password|token|secret|key)\w*:\s*['\"]?([^\s'\"#]{6,})", line):
                assert match.group(1) not in out, f"{path.name}: {line!r}"


@pytest.mark.parametrize(
    "line, shown",
    [
        ("  password: hunter2", f"  password: {MASK}"),
        ('    "apiToken": "abc123",', f'    "apiToken": {MASK}'),
        ("  - db_secret_key: 'x y z'  # comment", f"  - db_secret_key: {MASK}"),
        ("  AWS_SECRET_ACCESS_KEY: AKIA", f"  AWS_SECRET_ACCESS_KEY: {MASK}"),
        ("  credentials: s3cr3t", f"  credentials: {MASK}"),
        ("  password: |", "  password: |"),
        ("  secretKeyRef:", "  secretKeyRef:"),
        ("  data:  # comment", "  data:  # comment"),
        ("  image: nginx:1.25", "  image: nginx:1.25"),
        (
            '  command: ["mysql", "--password=hunter2", "-u", "root"]',
            f'  command: ["mysql", "--password={MASK}", "-u", "root"]',
        ),
    ],
)
def test_mask_secrets(line, shown):
    assert mask_secrets(line) == shown


def test_mask_secrets_always_masks_the_value_of_secret_rule_lines():
    assert mask_secrets("          value: hunter2", always=True) == f"          value: {MASK}"
    assert mask_secrets("  - hunter2", always=True) == f"  {MASK}"
    assert mask_secrets("data:  # expect", always=True) == "data:  # expect"


def test_text_color_uses_ansi_and_same_words(synthetic_tree):
    colored = render(synthetic_result(), "text", color=True, width=100)
    plain = render(synthetic_result(), "text", color=False, width=100)
    assert ANSI.search(colored)
    stripped = re.sub(r"\x1b\[[0-9;]*m", "", colored)
    assert [line.rstrip() for line in stripped.splitlines()] == plain.splitlines()


def test_text_ignores_the_environment(synthetic_tree, monkeypatch):
    baseline = render(synthetic_result(), "text", color=False, width=100)
    for name, value in (
        ("COLUMNS", "37"),
        ("LINES", "5"),
        ("FORCE_COLOR", "1"),
        ("TERM", "xterm-256color"),
        ("NO_COLOR", ""),
        ("TTY_COMPATIBLE", "1"),
        ("TTY_INTERACTIVE", "1"),
    ):
        monkeypatch.setenv(name, value)
    assert render(synthetic_result(), "text", color=False, width=100) == baseline


def test_text_no_findings_says_that_no_promise_was_checked():
    """Without a policy a green result must not read as a kept promise."""
    result = ScanResult((), SYNTH_RULES, ("a.yaml", "b.yaml"), {"kubernetes": 3}, 2, None, (AppliedScope(None, "", 2),))
    out = render(result, "text", color=False)
    assert " ".join(out.split()) == (
        "No policy file governs 2 files: only the generic rules ran on them (Pod Security Standards, input, "
        "network-policy validity). No findings: 2 files, 3 documents and 2 workloads checked against 5 rules; "
        "no policy file applied, so no documented promise was checked."
    )


def test_text_only_suppressed_findings_still_lists_the_exceptions_and_the_kept_promises(synthetic_tree):
    full = synthetic_result()
    kept = tuple(
        PromiseResult(p.promise, "excepted" if p.status == "broken" else p.status, p.findings, p.policy)
        for p in full.promises
    )
    result = ScanResult(
        tuple(full.suppressed()), full.rules, full.files, full.document_counts, 1, "kubematrix.yaml", full.scopes, kept
    )
    out = render(result, "text", color=False)
    assert "Documented exceptions (2)" in out
    assert " ".join(out.split("\n\n")[-1].split()) == (
        "No findings: 3 documented promises kept (2 by a documented exception); 3 files, 2 documents and 1 workload "
        "checked against 5 rules."
    )


def test_text_of_blog_system(monkeypatch):
    monkeypatch.chdir(REPO)
    result = scan_path(BLOG, cwd=REPO)
    out = render(result, "text", color=False)
    assert not ANSI.search(out)
    if result.active():
        assert "Summary" in out and result.active()[0].loc.path in out
    else:
        kept = sum(p.status != "broken" for p in result.promises)
        assert kept > 30, "the example proves every row of the reference document"
        assert " ".join(out.split("\n\n")[-1].split()).startswith(f"No findings: {kept} documented promises kept")
    for finding in result.suppressed():
        assert finding.suppression.reason in " ".join(out.split())


def test_text_escapes_control_characters_from_scanned_content(tmp_path, monkeypatch):
    """A manifest cannot drive the reader's terminal: ESC and friends are shown escaped."""
    (tmp_path / "evil.yaml").write_text('metadata:\n  name: "x\x1b[2J\x1b]0;pwned\x07"\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    finding = Finding(
        "SEC001", "name x\x1b[2J\x1b]0;pwned\x07 is odd\nsecond line", Loc("evil.yaml", 2, 9), suppression=None
    )
    sup = Finding("BAK001", "m", Loc("evil.yaml", 1, 1), suppression=Suppression("why\x1b[31m", Loc("evil.yaml", 1, 1)))
    result = quoted(ScanResult((sup, finding), SYNTH_RULES, ("evil.yaml",), {"kubernetes": 1}, 0, None))
    for color in (False, True):
        out = render(result, "text", color=color)
        assert "\x1b[2J" not in out and "\x07" not in out and "\x1b]0" not in out and "why\x1b[31m" not in out
        assert "\\x1b[2J" in out
    assert "is odd second line" in render(result, "text", color=False)


# -- the code frame masks secret values only (issue 8) ---------------------------------


def test_code_frame_shows_values_that_are_not_secrets(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "deploy.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec:\n"
        "  replicas: 2\n  replicas: 3\n  template:\n    spec:\n      containers: [{name: c, image: x}]\n",
        encoding="utf-8",
    )
    out = render(scan_path(tmp_path), "text")
    assert "6 |   replicas: 3" in out
    assert MASK not in out


def test_code_frame_masks_input_findings_inside_a_secret(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "secret.yaml").write_text(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: shop}\nstringData:\n"
        "  dbpass: first-value\n  dbpass: hunter2-second\n",
        encoding="utf-8",
    )
    out = render(scan_path(tmp_path), "text")
    assert "hunter2-second" not in out and "first-value" not in out
    assert f"6 |   dbpass: {MASK}" in out


def test_reporters_quote_what_the_scan_masked_and_never_read_scanned_files(tmp_path, monkeypatch):
    """Masking happens once, in the scan (scanner/quote.py): a reporter only formats, so a
    new one cannot leak a secret from a quoted line (issue 10)."""
    monkeypatch.chdir(tmp_path)
    secret = tmp_path / "secret.yaml"
    secret.write_text(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: shop}\nstringData:\n"
        "  dbpass: first-value\n  dbpass: hunter2-second\n",
        encoding="utf-8",
    )
    result = scan_path(tmp_path)
    assert f"  dbpass: {MASK}" in result.quotes.values()
    secret.write_text("apiVersion: v1\nkind: Secret\n# rewritten after the scan\n" * 3, encoding="utf-8")
    for fmt in ("text", "markdown"):
        out = render(result, fmt)
        assert "hunter2" not in out and "rewritten" not in out and MASK in out
    reporters = Path(__file__).parent.parent / "scanner" / "report"
    sources = {p.name: p.read_text(encoding="utf-8") for p in reporters.glob("*.py")}
    assert len(sources) >= 5
    for name, text in sources.items():
        assert "loader.files" not in text and "source_lines" not in text and "open(" not in text, name
