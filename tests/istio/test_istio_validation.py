"""What Istio refuses (validation.go ValidateAuthorizationPolicy / ValidatePeerAuthentication,
security.go, the CRD schema): the object is reported at the offending field and not applied.
ref §5 = ../shared/reference/istio-authorization-semantics.md."""

from __future__ import annotations

import pytest
from istio_helpers import authz, mesh, meshed_ns, peer_auth, pod, status

from scanner.network.istio.objects import parse_istio

BASE = meshed_ns("shop") + pod("web", "shop", sa="web") + pod("api", "shop")


@pytest.mark.parametrize(
    "spec, message",
    [
        ("action: DENY", "a DENY policy needs rules"),
        ("action: DENY\nrules: []", "a DENY policy needs rules"),
        ("rules: [{from: []}]", "from is an empty list"),
        ("rules: [{to: []}]", "to is an empty list"),
        ("rules: [{from: [{source: {}}]}]", "sets no field"),
        ("rules: [{from: [{source: {namespaces: []}}]}]", "sets no field"),
        ("rules: [{to: [{operation: {}}]}]", "sets no field"),
        ("rules: [{from: [{}]}]", "missing or sets no field"),
        ("rules: [null]", "null or not a mapping"),
        ("rules: [{when: [{key: '', values: [a]}]}]", "key is empty"),
        ("rules: [{when: [{key: source.ip}]}]", "neither values nor notValues"),
        ("rules: [{when: [{key: destination.namespace, values: [a]}]}]", "no longer supported"),
        ("rules: [{when: [{key: request.colour, values: [a]}]}]", "unknown when key"),
        ("rules: [{when: [{key: request.headers, values: [a]}]}]", "must look like"),
        ("rules: [{to: [{operation: {ports: ['80-90']}}]}]", "invalid port"),
        ("rules: [{to: [{operation: {ports: [8080]}}]}]", "must be a string"),
        ("rules: [{from: [{source: {ipBlocks: ['1.2.3.300']}}]}]", "invalid IP address"),
        ("rules: [{from: [{source: {principals: ['']}}]}]", "empty string"),
        ("rules: [{from: [{source: {serviceAccounts: ['a'], principals: ['b']}}]}]", "cannot be combined"),
        ("rules: [{from: [{source: {serviceAccounts: ['ns/*']}}]}]", "invalid service account"),
        ("action: ALLOW\nprovider: {name: x}\nrules: [{}]", "only allowed with action CUSTOM"),
        ("action: CUSTOM\nrules: [{}]", "needs rules and provider.name"),
        (
            "action: CUSTOM\nprovider: {name: x}\nrules: [{from: [{source: {namespaces: [a]}}]}]",
            "cannot use source.namespace",
        ),
        ("action: MAYBE", "is not one of"),
        ("selector: {matchLabels: {app: '*'}}", "wildcard"),
        ("selector: {matchLabels: {app: a}}\ntargetRefs: [{kind: Service, group: '', name: a}]", "only one of"),
        ("targetRefs: [{kind: Deployment, group: apps, name: a}]", "is not Service"),
        ("rules: [{from: [{source: {principals: [a]}}], frm: []}]", "unknown field 'frm'"),
    ],
)
def test_refused_authorization_policies(spec, message):
    parsed = parse_istio(mesh_objects(BASE + authz("bad", "shop", spec)))
    assert not parsed.policies
    (rej,) = parsed.rejections
    assert message in rej.message
    assert rej.loc.path == "test.yaml" and rej.loc.line > 1


def mesh_objects(text):
    from istio_helpers import objects_from

    return objects_from(text)


def test_dry_run_annotation_must_be_a_boolean_on_allow_or_deny():
    bad = parse_istio(mesh_objects(BASE + authz("x", "shop", "rules: [{}]", annotations={"istio.io/dry-run": "yes"})))
    assert "must be true or false" in bad.rejections[0].message
    audit = parse_istio(
        mesh_objects(BASE + authz("x", "shop", "action: AUDIT\nrules: [{}]", annotations={"istio.io/dry-run": "true"}))
    )
    assert "only supported for ALLOW and DENY" in audit.rejections[0].message


@pytest.mark.parametrize(
    "spec, message",
    [
        ("portLevelMtls: {8080: {mode: STRICT}}", "requires a selector"),
        ("selector: {matchLabels: {app: api}}\nportLevelMtls: {}", "not be empty"),
        ("selector: {matchLabels: {app: api}}\nportLevelMtls: {0: {mode: STRICT}}", "between 1 and 65535"),
        ("mtls: {mode: STRICTEST}", "is not one of"),
    ],
)
def test_refused_peer_authentications(spec, message):
    parsed = parse_istio(mesh_objects(BASE + peer_auth("bad", "shop", spec)))
    assert not parsed.peer_auths and message in parsed.rejections[0].message


def test_a_refused_policy_is_not_applied():
    # ref §5: report, then evaluate as if the object were absent.
    t = mesh(BASE + authz("bad", "shop", "action: DENY"))
    assert [r.name for r in t.istio.parsed.rejections] == ["bad"]
    assert status(t, "shop/web", "shop/api", method="GET", path="/") == "not-enforced"


def test_valid_edge_forms_are_accepted():
    # `when: []` is valid (same as no when); trustDomains is read; v1beta1 too.
    parsed = parse_istio(
        mesh_objects(
            BASE
            + authz("ok", "shop", "rules: [{when: []}]", version="v1beta1")
            + authz("td", "shop", "rules: [{from: [{source: {trustDomains: [cluster.local]}}]}]")
        )
    )
    assert not parsed.rejections and len(parsed.policies) == 2


def test_duplicates_keep_the_first_by_file_and_line():
    parsed = parse_istio(
        mesh_objects(BASE + authz("p", "shop", "rules: [{}]") + authz("p", "shop", "action: DENY\nrules: [{}]"))
    )
    assert [p.action for p in parsed.policies] == ["ALLOW"] and parsed.notes
