"""One focused test per Istio authorization semantic, each citing its source.

Abbreviations: ``proto`` = istio/api security/v1beta1/authorization_policy.proto;
``generator.go``/``model.go`` = istio/istio pilot/pkg/security/authz/model/;
``ref §x`` = ../shared/reference/istio-authorization-semantics.md; "concepts page" =
istio.io /docs/concepts/security/.
"""

from __future__ import annotations

import pytest
from istio_helpers import (
    authz,
    composed,
    decide,
    mesh,
    meshed_ns,
    peer_auth,
    pod,
    service,
    status,
)

# Two meshed namespaces; api listens on 8080 (HTTP by its Service port name) and 9000.
BASE = (
    meshed_ns("shop")
    + meshed_ns("ops")
    + pod("web", "shop", sa="web")
    + pod("api", "shop", sa="api", ports=(8080, 9000))
    + pod("batch", "shop")
    + pod("tool", "ops", sa="tool")
    + service("api", "shop", {"app": "api"}, [("http", 80, 8080), ("grpc-admin", 9001, 9000)])
)

ALLOW_WEB_GET = authz(
    "api-authz",
    "shop",
    """
selector: {matchLabels: {app: api}}
action: ALLOW
rules:
- from: [{source: {principals: ["cluster.local/ns/shop/sa/web"]}}]
  to: [{operation: {methods: ["GET"], paths: ["/api/*"]}}]
""",
)


def test_no_istio_objects_means_istio_never_decides():
    # Without AuthorizationPolicy or PeerAuthentication nothing restricts traffic.
    t = mesh(BASE)
    assert status(t, "ops/tool", "shop/api") == "not-enforced"
    assert not t.istio.active


@pytest.mark.parametrize("version", ["v1", "v1beta1"])
def test_v1_and_v1beta1_are_one_schema(version):
    # authorization_policy.proto cue-gen: one CRD serving both versions (ref §2.1).
    t = mesh(
        BASE
        + authz("p", "shop", "selector: {matchLabels: {app: api}}\nrules: [{}]", version=version)
        + authz(
            "deny", "shop", "action: DENY\nrules: [{from: [{source: {principals: ['*/sa/tool']}}]}]", version=version
        )
    )
    assert status(t, "shop/web", "shop/api", method="GET", path="/") == "allow"
    assert status(t, "ops/tool", "shop/api", method="GET", path="/") == "deny"


def test_no_allow_policy_allows_and_any_allow_policy_denies_the_rest():
    # proto header: "If there are no ALLOW policies for the workload, allow the request";
    # "If any of the ALLOW policies match the request, allow" — else deny (ref §2.2).
    t = mesh(BASE + ALLOW_WEB_GET)
    assert status(t, "shop/web", "shop/api", method="GET", path="/api/x") == "allow"
    assert status(t, "shop/web", "shop/api", method="POST", path="/api/x") == "deny"
    assert status(t, "ops/tool", "shop/api", method="GET", path="/api/x") == "deny"
    assert status(t, "shop/api", "shop/web", method="DELETE", path="/") == "allow"  # web has no ALLOW policy


def test_deny_is_evaluated_before_allow():
    # proto header: CUSTOM, then DENY, then ALLOW (concepts page "Implicit enablement").
    t = mesh(
        BASE
        + ALLOW_WEB_GET
        + authz(
            "no-admin",
            "shop",
            """
selector: {matchLabels: {app: api}}
action: DENY
rules: [{to: [{operation: {paths: ["/api/admin*"]}}]}]
""",
        )
    )
    d = decide(t, "shop/web", "shop/api", method="GET", path="/api/admin/users")
    assert d.status == "deny" and d.decisions[0].stage == "deny"
    assert "AuthorizationPolicy shop/no-admin rules[0]" in d.reason


def test_custom_is_undecidable_offline_and_names_its_provider():
    # CUSTOM delegates to an external authorizer (ext_authz): no manifest can tell (ref §0).
    t = mesh(
        BASE
        + authz(
            "ext",
            "shop",
            """
selector: {matchLabels: {app: api}}
action: CUSTOM
provider: {name: opa}
rules: [{to: [{operation: {paths: ["/admin*"]}}]}]
""",
        )
    )
    d = decide(t, "shop/web", "shop/api", method="GET", path="/admin")
    assert d.status == "unknown"
    assert any(u.attribute == "CUSTOM" and "opa" in u.why and u.kind == "offline" for u in d.unknown)
    assert status(t, "shop/web", "shop/api", method="GET", path="/public") == "allow"


def test_audit_never_decides():
    # proto: AUDIT only marks requests for logging.
    t = mesh(BASE + authz("audit", "shop", "action: AUDIT\nrules: [{}]"))
    assert status(t, "shop/web", "shop/api", method="GET", path="/") == "allow"


def test_dry_run_policies_are_not_enforced_and_are_not_allow_policies():
    # builder.go isDryRun: shadow mode; an ALLOW in dry-run does not make others deny.
    t = mesh(
        BASE
        + authz(
            "shadow",
            "shop",
            "selector: {matchLabels: {app: api}}\nrules: [{from: [{source: {namespaces: [ops]}}]}]",
            annotations={"istio.io/dry-run": "true"},
        )
    )
    assert status(t, "shop/web", "shop/api", method="GET", path="/") == "allow"


@pytest.mark.parametrize("spec", ["{}", "action: ALLOW", "selector: {matchLabels: {app: api}}"])
def test_allow_without_rules_is_allow_nothing(spec):
    # proto: "spec: {}" / ALLOW without rules never matches -> deny all (builder.go rbacPolicyMatchNever).
    t = mesh(BASE + authz("nothing", "shop", spec))
    d = decide(t, "shop/web", "shop/api", method="GET", path="/")
    assert d.status == "deny" and d.decisions[0].stage == "no-rule-matched"


def test_empty_rule_allows_all_and_empty_deny_rule_denies_all():
    # proto: "rules: [{}]" matches everything (ALLOW: allow-all; DENY: deny-all).
    allow_all = mesh(BASE + ALLOW_WEB_GET + authz("all", "shop", "rules: [{}]"))
    assert status(allow_all, "ops/tool", "shop/api", 9000) == "allow"
    deny_all = mesh(BASE + authz("all", "shop", "action: DENY\nrules: [{}]"))
    assert status(deny_all, "shop/web", "shop/api", method="GET", path="/") == "deny"
    when_empty = mesh(BASE + ALLOW_WEB_GET + authz("w", "shop", "rules: [{when: []}]"))
    assert status(when_empty, "ops/tool", "shop/api", method="PUT", path="/") == "allow"


def test_selector_and_namespaces_of_candidate_policies():
    # model/authorization.go ListAuthorizationPolicies: the workload's namespace and the
    # root namespace; policyattachment.go isSelected: matchLabels subset, none = all.
    t = mesh(
        BASE
        + authz("other-ns", "ops", "rules: [{from: [{source: {namespaces: [nobody]}}]}]")
        + authz(
            "web-only",
            "shop",
            "selector: {matchLabels: {app: web}}\nrules: [{from: [{source: {namespaces: [nobody]}}]}]",
        )
    )
    assert status(t, "ops/tool", "shop/api", method="GET", path="/") == "allow"
    assert status(t, "shop/api", "shop/web", method="GET", path="/") == "deny"
    assert status(t, "shop/api", "ops/tool", method="GET", path="/") == "deny"


def test_root_namespace_policies_apply_mesh_wide_and_root_is_a_setting():
    # ref §2.1: rootNamespace (default istio-system) policies without selector apply everywhere.
    text = BASE + authz("mesh-deny", "istio-system", "action: DENY\nrules: [{to: [{operation: {ports: ['9000']}}]}]")
    assert status(mesh(text), "shop/web", "shop/api", 9000) == "deny"
    assert status(mesh(text, istio={"rootNamespace": "istio-config"}), "shop/web", "shop/api", 9000) == "allow"


def test_target_refs_policies_do_not_apply_to_sidecars():
    # policyattachment.go ShouldAttachPolicy: targetRefs attach to gateways/waypoints only (ref §2.1, pitfall 9).
    t = mesh(
        BASE + authz("gw", "shop", "targetRefs: [{kind: Service, group: '', name: api}]\naction: DENY\nrules: [{}]")
    )
    assert status(t, "shop/web", "shop/api", method="GET", path="/") == "allow"


def _principal_policy(values: str, field: str = "principals") -> str:
    return authz(
        "p", "shop", f"selector: {{matchLabels: {{app: api}}}}\nrules: [{{from: [{{source: {{{field}: {values}}}}}]}}]"
    )


@pytest.mark.parametrize(
    "value, web, tool",
    [
        ('["cluster.local/ns/shop/sa/web"]', "allow", "deny"),  # exact, spiffe:// prepended
        ('["cluster.local/ns/shop/*"]', "allow", "deny"),  # prefix
        ('["*/sa/tool"]', "deny", "allow"),  # suffix (no prefix prepended)
        ('["*"]', "allow", "allow"),  # any authenticated peer
        ('["spiffe://cluster.local/ns/shop/sa/web"]', "deny", "deny"),  # scheme written twice never matches
        ('["example.org/ns/shop/sa/web"]', "deny", "deny"),  # another trust domain
    ],
)
def test_principals(value, web, tool):
    # generator.go srcPrincipalGenerator + matcher/string.go StringMatcherWithPrefix(v, "spiffe://");
    # ref §3 (ghilbut/platform#478 for the doubled scheme).
    t = mesh(BASE + _principal_policy(value))
    assert status(t, "shop/web", "shop/api", method="GET", path="/") == web
    assert status(t, "ops/tool", "shop/api", method="GET", path="/") == tool


def test_principals_naming_a_trust_domain_alias_match_local_identities():
    # pilot/pkg/security/trustdomain/bundle.go: local domain, aliases and cluster.local are one.
    text = BASE + _principal_policy('["old.example/ns/shop/sa/web"]')
    assert status(mesh(text), "shop/web", "shop/api", method="GET", path="/") == "deny"
    t = mesh(text, istio={"trustDomain": "new.example", "trustDomainAliases": ["old.example"]})
    assert status(t, "shop/web", "shop/api", method="GET", path="/") == "allow"


@pytest.mark.parametrize(
    "value, tool", [('["ops"]', "allow"), ('["o*"]', "allow"), ('["*s"]', "allow"), ('["shop"]', "deny")]
)
def test_namespaces_are_a_glob_on_the_identity(value, tool):
    # generator.go srcNamespaceGenerator: regex ".*/ns/<v with * -> .*>/.*".
    t = mesh(BASE + _principal_policy(value, "namespaces"))
    assert status(t, "ops/tool", "shop/api", method="GET", path="/") == tool


def test_service_accounts_default_to_the_policy_namespace():
    # generator.go serviceAccountRegex: "name" means <policy namespace>/name.
    t = mesh(BASE + _principal_policy('["web", "ops/tool"]', "serviceAccounts"))
    assert status(t, "shop/web", "shop/api", method="GET", path="/") == "allow"
    assert status(t, "ops/tool", "shop/api", method="GET", path="/") == "allow"
    assert status(t, "shop/batch", "shop/api", method="GET", path="/") == "deny"  # sa default


def test_identity_needs_mtls_a_plaintext_peer_matches_not_forms():
    # concepts page "Dependency on mutual TLS"; ISTIO-SECURITY-2021-004: without a sidecar
    # there is no identity: principals never match, notNamespaces always does.
    text = (
        BASE
        + pod("legacy", "shop", annotations={"sidecar.istio.io/inject": "false"})
        + authz(
            "p",
            "shop",
            """
selector: {matchLabels: {app: api}}
rules: [{from: [{source: {notNamespaces: ["ops"]}}]}]
""",
        )
    )
    t = mesh(text)
    d = decide(t, "shop/legacy", "shop/api", method="GET", path="/")
    assert d.status == "allow"
    assert "no Istio proxy" in d.decisions[0].peer.identity_why
    assert status(t, "ops/tool", "shop/api", method="GET", path="/") == "deny"
    positive = mesh(
        BASE
        + pod("legacy", "shop", annotations={"sidecar.istio.io/inject": "false"})
        + _principal_policy('["shop"]', "namespaces")
    )
    assert status(positive, "shop/legacy", "shop/api", method="GET", path="/") == "deny"


def test_peer_authentication_disable_makes_every_peer_anonymous():
    # ref §4: under DISABLE the client sends plaintext; principals cannot match.
    t = mesh(
        BASE + _principal_policy('["cluster.local/ns/shop/sa/web"]') + peer_auth("off", "shop", "mtls: {mode: DISABLE}")
    )
    d = decide(t, "shop/web", "shop/api", method="GET", path="/")
    assert d.status == "deny" and "DISABLE" in d.decisions[0].peer.identity_why


def test_strict_refuses_plaintext_before_authorization():
    # peer_authentication.proto STRICT: mTLS required; plaintext never reaches authz (ref §0).
    t = mesh(
        BASE
        + pod("legacy", "shop", annotations={"sidecar.istio.io/inject": "false"})
        + peer_auth("strict", "shop", "mtls: {mode: STRICT}")
    )
    d = decide(t, "shop/legacy", "shop/api", method="GET", path="/")
    assert d.status == "deny" and d.decisions[0].stage == "mtls"
    assert status(t, "shop/web", "shop/api", method="GET", path="/") == "allow"


def test_ip_blocks_on_external_peers_and_pods():
    # generator.go srcIPGenerator: the directly connected peer's IP.  Pod IPs are not in
    # manifests: undecidable unless settings.istio.podCidrs rules them out (ref §2.10).
    text = BASE + authz(
        "p",
        "shop",
        """
selector: {matchLabels: {app: api}}
rules: [{from: [{source: {ipBlocks: ["203.0.113.0/24"]}}]}]
""",
    )
    t = mesh(text, extra=("entity:world", "cidr:203.0.113.0/25", "cidr:198.51.100.0/24"))
    assert status(t, "cidr:203.0.113.0/25", "shop/api", method="GET", path="/") == "allow"
    assert status(t, "cidr:198.51.100.0/24", "shop/api", method="GET", path="/") == "deny"
    assert status(t, "entity:world", "shop/api", method="GET", path="/") == "unknown"  # the rest of IPv4, partly inside
    d = decide(t, "shop/web", "shop/api", method="GET", path="/")
    assert d.status == "unknown" and any(u.attribute == "source.ip" for u in d.unknown)
    known = mesh(text, istio={"podCidrs": ["10.244.0.0/16"]})
    assert status(known, "shop/web", "shop/api", method="GET", path="/") == "deny"


@pytest.mark.parametrize(
    "host, expected",
    [
        ("API.example.com", "allow"),
        ("api.example.com", "allow"),
        ("api.example.com:8080", "deny"),
        ("x.example.com", "deny"),
    ],
)
def test_hosts_are_case_insensitive_and_include_the_port(host, expected):
    # generator.go hostGenerator (ignore case); "Security Best Practices": write "host:*" too.
    t = mesh(
        BASE
        + authz(
            "p",
            "shop",
            "selector: {matchLabels: {app: api}}\nrules: [{to: [{operation: {hosts: ['api.example.com']}}]}]",
        )
    )
    assert status(t, "shop/web", "shop/api", method="GET", path="/", host=host) == expected


def test_methods_are_case_sensitive():
    # generator.go methodGenerator: exact header match on :method.
    t = mesh(BASE + ALLOW_WEB_GET)
    assert status(t, "shop/web", "shop/api", method="get", path="/api/x") == "deny"


@pytest.mark.parametrize(
    "pattern, path, expected",
    [
        ("/api/*", "/api/v1?x=1", "allow"),  # prefix; the query string is ignored
        ("/api/*", "/apix", "deny"),
        ("*.json", "/a/b.json", "allow"),  # suffix
        ("/health", "/health?full=1", "allow"),  # exact, query ignored
        ("/health", "/health/x", "deny"),
        ("*", "/anything", "allow"),  # presence
        ("/users/{*}/profile", "/users/7/profile", "allow"),  # path template, one segment
        ("/users/{*}/profile", "/users/7/8/profile", "deny"),
        ("/files/{**}", "/files/a/b/c", "allow"),
    ],
)
def test_paths(pattern, path, expected):
    # matcher/header.go PathMatcher (url_path: no query); proto "paths" templates {*}, {**}.
    t = mesh(
        BASE
        + authz(
            "p",
            "shop",
            f"selector: {{matchLabels: {{app: api}}}}\nrules: [{{to: [{{operation: {{paths: ['{pattern}']}}}}]}}]",
        )
    )
    assert status(t, "shop/web", "shop/api", method="GET", path=path) == expected


def test_not_forms_and_fields_and_together():
    # proto Source/Operation: fields ANDed, values ORed, notValues excluded (model.go).
    t = mesh(
        BASE
        + authz(
            "p",
            "shop",
            """
selector: {matchLabels: {app: api}}
rules:
- to: [{operation: {methods: ["GET", "PUT"], notMethods: ["PUT"], notPaths: ["/private*"]}}]
""",
        )
    )
    assert status(t, "shop/web", "shop/api", method="GET", path="/public") == "allow"
    assert status(t, "shop/web", "shop/api", method="PUT", path="/public") == "deny"
    assert status(t, "shop/web", "shop/api", method="GET", path="/private/x") == "deny"


def test_ports_are_the_container_port_not_the_service_port():
    # istio/api#3075 after istio/istio#49098: ports mean the port the pod receives on (ref §2.9).
    t = mesh(
        BASE + authz("p", "shop", "selector: {matchLabels: {app: api}}\nrules: [{to: [{operation: {ports: ['80']}}]}]")
    )
    assert status(t, "shop/web", "shop/api", 8080, method="GET", path="/") == "deny"
    t2 = mesh(
        BASE
        + authz("p", "shop", "selector: {matchLabels: {app: api}}\nrules: [{to: [{operation: {ports: ['8080']}}]}]")
    )
    assert status(t2, "shop/web", "shop/api", 8080, method="GET", path="/") == "allow"


def test_when_conditions_decidable_and_undecidable_offline():
    # ref §2.10: destination.port is decidable; request.auth.claims never is (JWT);
    # request.headers only when the question gives headers.
    t = mesh(
        BASE
        + authz(
            "p",
            "shop",
            """
selector: {matchLabels: {app: api}}
rules:
- when: [{key: destination.port, values: ["9000"]}]
- to: [{operation: {ports: ["8080"]}}]
  when: [{key: "request.auth.claims[groups]", values: ["admins"]}]
- to: [{operation: {paths: ["/h"]}}]
  when: [{key: "request.headers[x-token]", values: ["s3cret"]}]
""",
        )
    )
    assert status(t, "shop/web", "shop/api", 9000) == "allow"
    d = decide(t, "shop/web", "shop/api", 8080, method="GET", path="/x")
    assert d.status == "unknown"
    assert [(u.attribute, u.kind) for u in d.unknown] == [("request.auth.claims[groups]", "offline")]
    assert status(t, "shop/web", "shop/api", 8080, method="GET", path="/h", headers={"X-Token": "s3cret"}) == "allow"
    d = decide(t, "shop/web", "shop/api", 8080, method="GET", path="/h")
    assert {u.attribute for u in d.unknown} == {"request.headers[x-token]", "request.auth.claims[groups]"}


def test_http_fields_on_a_tcp_port():
    # model.go checkError; builder testdata tcp/allow-both-http-tcp and deny-both-http-tcp (ref §2.8):
    # on a TCP port an ALLOW rule with an HTTP field is dropped whole, a DENY rule loses it (wider).
    text = BASE + pod("db", "shop", ports=(3306,)) + service("db", "shop", {"app": "db"}, [("mysql", 3306, 3306)])
    allow = mesh(
        text
        + authz(
            "p",
            "shop",
            """
selector: {matchLabels: {app: db}}
rules:
- to: [{operation: {ports: ["3306"], methods: ["GET"]}}]
""",
        )
    )
    d = decide(allow, "shop/web", "shop/db", 3306)
    assert d.status == "deny" and d.protocol == "tcp"
    assert d.decisions[0].results[0].rewritten == "dropped"
    deny = mesh(
        text
        + authz(
            "p",
            "shop",
            """
selector: {matchLabels: {app: db}}
action: DENY
rules: [{to: [{operation: {methods: ["DELETE"]}}]}]
""",
        )
    )
    assert status(deny, "shop/web", "shop/db", 3306) == "deny"  # every TCP connection
    assert status(deny, "shop/web", "shop/api", 8080, method="GET", path="/") == "allow"  # not selected


def test_service_port_protocol_selection():
    # pkg/config/kube/conversion.go ConvertProtocol: appProtocol, else the name prefix; well-known
    # ports are TCP; otherwise sniffed (protocol-selection page).
    text = (
        BASE
        + pod("x", "shop", ports=(5000, 3306, 7000))
        + service("x", "shop", {"app": "x"}, [("http-web", 80, 5000), (None, 3306, 3306), ("metrics", 7000, 7000)])
    )
    t = mesh(text)
    assert t.istio.port_protocol("shop/x", 5000)[0] == "http"
    assert t.istio.port_protocol("shop/x", 3306)[0] == "tcp"
    assert t.istio.port_protocol("shop/x", 7000)[0] == "auto"
    grpc = mesh(
        BASE
        + pod("g", "shop", ports=(50051,))
        + service("g", "shop", {"app": "g"}, [("x", 50051, 50051)], app_protocol="grpc")
    )
    assert grpc.istio.port_protocol("shop/g", 50051)[0] == "http"


def test_a_sniffed_port_without_a_request_is_decided_per_chain():
    # listener_inbound.go passthrough chains: HTTP requests meet the HTTP chain, other bytes TCP.
    t = mesh(
        BASE
        + pod("y", "shop", ports=(7000,))
        + authz(
            "p",
            "shop",
            """
selector: {matchLabels: {app: y}}
rules: [{to: [{operation: {methods: ["GET"]}}]}]
""",
        )
    )
    v = decide(t, "shop/web", "shop/y", 7000)
    assert v.protocol == "auto" and v.status == "unknown"
    assert sorted((d.chain, d.status) for d in v.decisions) == [("http", "unknown"), ("tcp", "deny")]
    assert status(t, "shop/web", "shop/y", 7000, method="GET", path="/") == "allow"


def test_non_tcp_traffic_never_meets_istio():
    # Istio captures TCP only (sidecar iptables; ref §1).
    t = mesh(BASE + authz("p", "shop", "action: DENY\nrules: [{}]"))
    assert status(t, "shop/web", "shop/api", 53, protocol="UDP") == "not-enforced"


def test_composition_requires_both_layers():
    # A request passes when Cilium AND Istio allow it.
    cnp = """---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: api, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: api}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: web}}]
    toPorts: [{ports: [{port: "8080", protocol: TCP}]}]
"""
    t = mesh(BASE + ALLOW_WEB_GET + cnp)
    assert composed(t, "shop/web", "shop/api", method="GET", path="/api/x").status == "allowed"
    c = composed(t, "shop/web", "shop/api", method="POST", path="/api/x")
    assert c.status == "l7-denied" and c.denied_by == ("Istio",)
    c = composed(t, "ops/tool", "shop/api", method="GET", path="/api/x")
    assert c.status == "denied" and c.denied_by[0] == "Cilium"
    assert composed(t, "shop/web", "shop/api").status == "l7-restricted"
