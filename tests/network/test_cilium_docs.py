"""Policies in the shapes of Cilium's documentation examples (data/cilium-docs/,
written for this test) scan without NET007, except where Cilium really rejects them
under the stated settings (issue 8)."""

from __future__ import annotations

from pathlib import Path

from conftest import scan_path
from rule_fixtures import expected_findings

from scanner.loader.documents import load
from scanner.model.build import build_model
from scanner.network import NetworkSettings, parse_policies

DOCS = Path(__file__).parent / "data" / "cilium-docs"


def test_only_what_cilium_rejects_under_the_default_settings_is_net007():
    result = scan_path(DOCS)
    found = {(f.loc.path, f.loc.line, f.rule_id) for f in result.findings if f.rule_id in ("NET007", "NET008")}
    expected = {e for e in expected_findings(DOCS) if e[2] in ("NET007", "NET008")}
    assert found == expected
    assert len([e for e in expected if e[2] == "NET007"]) == 2
    messages = [f.message for f in sorted(result.findings, key=lambda f: f.sort_key) if f.rule_id == "NET007"]
    assert "enable-extended-ip-protocols" in messages[0] and "enable-node-selector-labels" in messages[1]


def test_nothing_is_rejected_with_the_flags_those_shapes_need():
    objects = load([DOCS], DOCS).objects
    settings = NetworkSettings(extended_ip_protocols=True, node_selector_labels=True)
    parsed = parse_policies(objects, settings, services=build_model(objects).services)
    assert parsed.rejections == []
    assert len(parsed.policies) == 34


def test_from_1_20_the_wide_except_is_rejected_too():
    objects = load([DOCS], DOCS).objects
    settings = NetworkSettings(extended_ip_protocols=True, node_selector_labels=True, release="1.20")
    parsed = parse_policies(objects, settings, services=build_model(objects).services)
    assert sorted(r.name for r in parsed.rejections) == ["prod-needs-prod", "wide-except"]


def test_from_1_19_from_requires_is_rejected_by_the_crd():
    objects = load([DOCS], DOCS).objects
    settings = NetworkSettings(extended_ip_protocols=True, node_selector_labels=True, release="1.19")
    parsed = parse_policies(objects, settings, services=build_model(objects).services)
    assert [(r.name, r.by) for r in parsed.rejections] == [("prod-needs-prod", "api-server")]


def test_the_connectivity_test_policies_have_no_unknown_field():
    """Cilium's own connectivity-test manifests (data/cilium-connectivity) use only known
    fields: NET008 stays silent on them."""
    corpus = DOCS.parent / "cilium-connectivity"
    objects = load([corpus], corpus).objects
    parsed = parse_policies(objects, NetworkSettings(), services=build_model(objects).services)
    assert len(parsed.policies) > 50
    assert parsed.pruned == []
