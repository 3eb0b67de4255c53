"""Generated documentation is committed and up to date; hand-written docs are sane."""

from __future__ import annotations

import difflib
import json
import re

import pytest
from conftest import REPO

from scanner import docs_gen
from scanner.catalog import load_catalog, load_json_schema

REGENERATE = "regenerate with: python -m scanner.docs_gen  (then commit docs/)"


@pytest.mark.parametrize("rel", [str(docs_gen.RULES_DOC), str(docs_gen.POLICY_DOC)])
def test_generated_doc_is_up_to_date(rel):
    expected = docs_gen.generated_docs(REPO)[docs_gen.Path(rel)]
    target = REPO / rel
    assert target.is_file(), f"{rel} is missing; {REGENERATE}"
    current = target.read_text(encoding="utf-8")
    if current != expected:
        diff = "".join(
            list(
                difflib.unified_diff(
                    current.splitlines(True), expected.splitlines(True), f"{rel} (committed)", f"{rel} (generated)"
                )
            )[:60]
        )
        pytest.fail(f"{rel} is stale; {REGENERATE}\n{diff}")


def test_check_mode_reports_a_stale_doc(tmp_path, capsys):
    for rel, text in docs_gen.generated_docs(REPO).items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text, encoding="utf-8")
    (tmp_path / docs_gen.EXAMPLE_POLICY).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / docs_gen.EXAMPLE_POLICY).write_text(
        (REPO / docs_gen.EXAMPLE_POLICY).read_text(encoding="utf-8"), encoding="utf-8"
    )
    assert docs_gen.main(["--root", str(tmp_path), "--check"]) == 0
    (tmp_path / docs_gen.RULES_DOC).write_text("# edited by hand\n", encoding="utf-8")
    assert docs_gen.main(["--root", str(tmp_path), "--check"]) == 1
    assert "docs/rules.md is stale; run: python -m scanner.docs_gen" in capsys.readouterr().err
    assert docs_gen.main(["--root", str(tmp_path)]) == 0
    assert docs_gen.stale_docs(tmp_path) == []


def test_rules_doc_covers_every_rule_with_its_metadata():
    text = (REPO / "docs" / "rules.md").read_text(encoding="utf-8")
    catalog = load_catalog()
    assert len(catalog) >= 60 and text.count("\n### ") >= len(catalog)
    for rule in catalog.values():
        section = text[text.index(f"\n### {rule.id}\n") :]
        section = section[: section.find("\n### ", 1) if "\n### " in section[1:] else len(section)]
        assert rule.title in section
        assert f"| Severity | {rule.severity} |" in section
        assert f"| Security severity | {rule.security_severity} |" in section
        assert rule.remediation.split("\n")[0] in section
        assert rule.help_fail.strip().splitlines()[0] in section
        for ref in rule.references:
            assert f"<{ref}>" in section
        assert f"(#{rule.id.lower()})" in text, "table of contents links to the rule"


def test_policy_doc_covers_every_schema_field():
    text = (REPO / "docs" / "policy-file.md").read_text(encoding="utf-8")
    schema = load_json_schema("policy.schema.json")
    for section in schema["properties"]:
        assert f"\n## {section}\n" in text
    documented = set(re.findall(r"^\| `([^`]+)` \|", text, re.M))
    names = {path.rsplit(".", 1)[-1].rstrip("[]") for path in documented}
    for field in ("defaultLevel", "flows", "exceptions", "expires", "retentionPeriod", "allowLiteralEnv", "cronJob"):
        assert field in names, field
    example = (REPO / docs_gen.EXAMPLE_POLICY).read_text(encoding="utf-8")
    assert example in text, "the example policy is included verbatim"


def test_anchor_matches_github():
    assert docs_gen._anchor("PSS-runAsNonRoot") == "pss-runasnonroot"
    assert docs_gen._anchor("Network (traffic matrix)") == "network-traffic-matrix"
    assert docs_gen._anchor("SecurityContext table") == "securitycontext-table"


def test_json_report_doc_lists_every_field_of_the_schema():
    text = (REPO / "docs" / "json-report.md").read_text(encoding="utf-8")
    schema = json.loads((REPO / "rules" / "schema" / "report.schema.json").read_text(encoding="utf-8"))
    fields = set(schema["properties"]) | set(schema["properties"]["summary"]["properties"])
    fields |= set(schema["$defs"]["finding"]["properties"])
    assert len(fields) >= 20
    for name in fields:
        assert f"`{name}`" in text, name


def test_github_actions_doc_has_a_working_upload_workflow():
    text = (REPO / "docs" / "github-actions.md").read_text(encoding="utf-8")
    for needle in (
        "security-events: write",
        "--format sarif",
        "--output kubematrix.sarif",
        "github/codeql-action/upload-sarif",
        "category:",
        "sarif_file: kubematrix.sarif",
    ):
        assert needle in text, needle
    assert "--fail-on never" in text or "continue-on-error: true" in text
