"""The documented traffic matrix against the computed graph (NET001-NET006,
scanner/checks/traffic_matrix.py): one focused test per semantic point, on small
trees written to tmp_path and scanned like the CLI does, plus the blog-system
example (as is and drifted).  NET002 has its own file, tests/test_zero_trust.py.
"""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest
from conftest import REPO, scan_path

from scanner.network.ports import PortSet, parse_port_items

NET_RULES = ("NET001", "NET002", "NET003", "NET004", "NET005", "NET006")
POLICY_HEADER = "apiVersion: kubematrix.dev/v1alpha1\nkind: Policy\n"
BLOG = REPO / "fixtures" / "blog-system"


# -- building trees ------------------------------------------------------------------


def deploy(
    name: str,
    ns: str = "shop",
    *,
    labels: dict | None = None,
    ports=(),
    host_network: bool = False,
    kind: str = "Deployment",
) -> str:
    """A Deployment (or CronJob) whose pods carry ``labels`` (default app=<name>) and
    declare ``ports`` as (name, number) pairs."""
    labels = labels or {"app": name}
    lab = ", ".join(f"{k}: {v}" for k, v in labels.items())
    container = [f"      - name: {name}", f"        image: example/{name}:1.0"]
    if ports:
        container.append("        ports:")
        container += [f"        - {{name: {n}, containerPort: {p}}}" for n, p in ports]
    pod = ["    metadata:", f"      labels: {{{lab}}}", "    spec:"]
    if host_network:
        pod.append("      hostNetwork: true")
    if kind == "CronJob":
        pod.append("      restartPolicy: OnFailure")
    pod += ["      containers:"] + container
    head = [
        "---",
        f"apiVersion: {'batch/v1' if kind == 'CronJob' else 'apps/v1'}",
        f"kind: {kind}",
        "metadata:",
        f"  name: {name}",
        f"  namespace: {ns}",
        "spec:",
    ]
    if kind == "CronJob":
        body = ['  schedule: "0 3 * * *"', "  jobTemplate:", "    spec:", "      template:"]
        body += ["    " + line for line in pod]
    else:
        body = ["  selector:", f"    matchLabels: {{{lab}}}", "  template:"] + pod
    return "\n".join(head + body) + "\n"


def _object(api: str, kind: str, name: str, ns: str | None, spec: str) -> str:
    meta = f"{{name: {name}, namespace: {ns}}}" if ns else f"{{name: {name}}}"
    body = textwrap.indent(textwrap.dedent(spec).strip("\n"), "  ")
    return f"---\napiVersion: {api}\nkind: {kind}\nmetadata: {meta}\nspec:\n{body}\n"


def cnp(name: str, spec: str, ns: str = "shop") -> str:
    return _object("cilium.io/v2", "CiliumNetworkPolicy", name, ns, spec)


def knp(name: str, spec: str, ns: str = "shop") -> str:
    return _object("networking.k8s.io/v1", "NetworkPolicy", name, ns, spec)


def service(name: str, spec: str, ns: str = "shop") -> str:
    return _object("v1", "Service", name, ns, spec)


WEB = deploy("web", ports=[("https", 8443)])
API = deploy("api", ports=[("http", 8080), ("metrics", 9090)])
DB = deploy("db", ports=[("mysql", 3306), ("mysqlx", 33060)])
WORKER = deploy("worker")
DNS_EGRESS = """
- toEndpoints:
  - matchLabels: {k8s:io.kubernetes.pod.namespace: kube-system, k8s-app: kube-dns}
  toPorts:
  - ports: [{port: "53", protocol: UDP}, {port: "53", protocol: TCP}]
    rules: {dns: [{matchPattern: "*"}]}
"""


def write_tree(root: Path, manifests: str, policy: str | None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "manifests.yaml").write_text(manifests, encoding="utf-8")
    if policy is not None:
        (root / "kubematrix.yaml").write_text(POLICY_HEADER + textwrap.dedent(policy), encoding="utf-8")
    return root


def net(root: Path, manifests: str | None = None, policy: str | None = None, rule: str | None = None):
    """Scan ``root`` (writing the tree first when given) -> its NET001-NET006 findings."""
    if manifests is not None:
        write_tree(root, manifests, policy)
    found = [f for f in scan_path(root).active() if f.rule_id in NET_RULES]
    return [f for f in found if rule is None or f.rule_id == rule]


def line(root: Path, needle: str, file: str = "manifests.yaml", *, whole: bool = False) -> int:
    """1-based line of the only line of ``file`` containing ``needle`` (or equal to it)."""
    hits = [
        i
        for i, text in enumerate((root / file).read_text(encoding="utf-8").splitlines(), 1)
        if (text == needle if whole else needle in text)
    ]
    assert len(hits) == 1, (needle, hits)
    return hits[0]


def at(findings) -> set[tuple[str, str, int]]:
    return {(f.rule_id, f.loc.path, f.loc.line) for f in findings}


# -- NET001: documented flows that are blocked ------------------------------------------


def test_flow_denied_on_the_egress_side_names_the_egress_policy(tmp_path):
    manifests = (
        WEB
        + API
        + cnp(
            "web",
            """
endpointSelector: {matchLabels: {app: web}}
egress:
- toEndpoints: [{matchLabels: {app: db}}]
  toPorts: [{ports: [{port: "3306", protocol: TCP}]}]
""",
        )
        + cnp(
            "api",
            """
endpointSelector: {matchLabels: {app: api}}
ingress:
- fromEndpoints: [{matchLabels: {app: web}}]
  toPorts: [{ports: [{port: "8080", protocol: TCP}]}]
""",
        )
    )
    found = net(
        tmp_path,
        manifests,
        """
traffic:
  flows:
    - {from: shop/web, to: shop/api, ports: [8080]}
""",
    )
    assert [f.rule_id for f in found] == ["NET001"]
    msg = found[0].message
    assert "blocked on TCP 8080: egress is default-deny (CiliumNetworkPolicy shop/web spec" in msg
    assert "ingress" not in msg  # the destination admits it
    assert (found[0].loc.path, found[0].loc.line) == ("kubematrix.yaml", line(tmp_path, "shop/api", "kubematrix.yaml"))


def test_flow_denied_on_the_ingress_side_names_the_ingress_policy(tmp_path):
    manifests = (
        WEB
        + API
        + cnp(
            "web",
            """
endpointSelector: {matchLabels: {app: web}}
egress:
- toEndpoints: [{matchLabels: {app: api}}]
  toPorts: [{ports: [{port: "8080", protocol: TCP}]}]
""",
        )
        + cnp(
            "api-lockdown",
            """
endpointSelector: {matchLabels: {app: api}}
ingress:
- {}
""",
        )
    )
    found = net(
        tmp_path,
        manifests,
        """
traffic:
  flows:
    - {from: shop/web, to: shop/api, ports: [8080]}
""",
    )
    assert [f.rule_id for f in found] == ["NET001"]
    msg = found[0].message
    assert "ingress is default-deny (CiliumNetworkPolicy shop/api-lockdown spec" in msg
    assert "egress" not in msg


def test_flow_removed_by_a_deny_rule_names_the_deny_rule(tmp_path):
    manifests = (
        WEB
        + API
        + cnp(
            "no-web",
            """
endpointSelector: {matchLabels: {app: api}}
ingressDeny:
- fromEndpoints: [{matchLabels: {app: web}}]
  toPorts: [{ports: [{port: "8080", protocol: TCP}]}]
""",
        )
    )
    found = net(
        tmp_path,
        manifests,
        """
traffic:
  flows:
    - {from: shop/web, to: shop/api, ports: [8080]}
""",
    )
    assert (
        len(found) == 1 and "ingress denied by CiliumNetworkPolicy shop/no-web spec.ingressDeny[0]" in found[0].message
    )


def test_partially_allowed_ports_name_only_the_blocked_port(tmp_path):
    """Documented 3306 and 33060, only 3306 allowed: NET001 is about 33060 alone."""
    manifests = (
        API
        + DB
        + cnp(
            "db",
            """
endpointSelector: {matchLabels: {app: db}}
ingress:
- fromEndpoints: [{matchLabels: {app: api}}]
  toPorts: [{ports: [{port: "3306", protocol: TCP}]}]
""",
        )
    )
    found = net(
        tmp_path,
        manifests,
        """
traffic:
  flows:
    - {from: shop/api, to: shop/db, ports: [3306, 33060]}
""",
    )
    assert [f.rule_id for f in found] == ["NET001"]
    assert found[0].detail == "TCP 33060"
    assert "is blocked on TCP 33060: ingress is default-deny" in found[0].message
    assert "no rule allows TCP 33060" in found[0].message


def test_from_all_sources_is_a_promise_about_the_destination_ingress_only(tmp_path):
    """entity:all -> web: sources whose own egress forbids web are not a violation."""
    manifests = (
        WEB
        + API
        + cnp(
            "web",
            """
endpointSelector: {matchLabels: {app: web}}
ingress:
- fromEntities: [all]
  toPorts: [{ports: [{port: "8443", protocol: TCP}]}]
""",
        )
        + cnp(
            "api",
            """
endpointSelector: {matchLabels: {app: api}}
egress:
- toEntities: [world]
  toPorts: [{ports: [{port: "443", protocol: TCP}]}]
""",
        )
    )
    policy = """
traffic:
  flows:
    - {from: entity:all, to: shop/web, ports: [8443]}
"""
    assert net(tmp_path / "ok", manifests, policy) == []
    # web admitting only the world breaks the promise for every cluster source
    narrow = manifests.replace("fromEntities: [all]", "fromEntities: [world]")
    found = net(tmp_path / "narrow", narrow, policy)
    assert [f.rule_id for f in found] == ["NET001"]
    assert "blocked for 2 of the sources: actor:kube-dns, shop/api (ingress is default-deny" in found[0].message


def test_a_flow_documented_on_the_container_port_works_behind_a_service(tmp_path):
    """Policies see the backend pod and its target port, never the Service port."""
    manifests = (
        WEB
        + API
        + service(
            "api",
            """
selector: {app: api}
ports:
- {port: 80, targetPort: http}
""",
        )
        + cnp(
            "api",
            """
endpointSelector: {matchLabels: {app: api}}
ingress:
- fromEndpoints: [{matchLabels: {app: web}}]
  toPorts: [{ports: [{port: "http", protocol: TCP}]}]
""",
        )
    )
    container_port = net(
        tmp_path / "8080",
        manifests,
        """
traffic:
  flows:
    - {from: shop/web, to: shop/api, ports: [8080]}
""",
    )
    assert container_port == []
    service_port = net(
        tmp_path / "80",
        manifests,
        """
traffic:
  flows:
    - {from: shop/web, to: shop/api, ports: [80]}
""",
    )
    assert [(f.rule_id, f.detail) for f in service_port] == [("NET001", "TCP 80")]


def test_a_named_port_in_a_flow_resolves_on_the_destination(tmp_path):
    manifests = (
        WEB
        + API
        + cnp(
            "api",
            """
endpointSelector: {matchLabels: {app: api}}
ingress:
- fromEndpoints: [{matchLabels: {app: web}}]
  toPorts: [{ports: [{port: "8080", protocol: TCP}]}]
""",
        )
    )
    assert (
        net(
            tmp_path / "http",
            manifests,
            """
traffic:
  flows:
    - {from: shop/web, to: shop/api, ports: [{port: http}]}
""",
        )
        == []
    )
    metrics = net(
        tmp_path / "metrics",
        manifests,
        """
traffic:
  flows:
    - {from: shop/web, to: shop/api, ports: [{port: metrics}]}
""",
    )
    assert [(f.rule_id, f.detail) for f in metrics] == [("NET001", "TCP 9090")]
    unknown = net(
        tmp_path / "grpc",
        manifests,
        """
traffic:
  flows:
    - {from: shop/web, to: shop/api, ports: [{port: grpc}]}
""",
    )
    assert [(f.rule_id, f.detail) for f in unknown] == [("NET001", "named-port")]
    assert "names port 'grpc', which shop/api does not declare" in unknown[0].message


def parse_ports(items, sctp: bool = True) -> PortSet:
    return parse_port_items(items, ("TCP", "UDP", "SCTP") if sctp else ("TCP", "UDP"))[0]


def test_port_spellings():
    assert parse_ports([8080]).describe() == "TCP 8080"
    assert parse_ports(["53/UDP", "53/TCP"]).describe() == "TCP 53; UDP 53"
    assert parse_ports(["30000-32767/ANY"]).describe() == "TCP 30000-32767; UDP 30000-32767; SCTP 30000-32767"
    # ANY is what the datapath carries: no SCTP under Cilium's default enable-sctp=false
    assert parse_ports(["30000-32767/ANY"], sctp=False).describe() == "TCP 30000-32767; UDP 30000-32767"
    assert (
        parse_ports([{"port": "8080"}, {"port": 9000, "endPort": 9010, "protocol": "UDP"}]).describe()
        == "TCP 8080; UDP 9000-9010"
    )
    # ICMP covers both families: the schema has no ICMPv6 spelling, and an L3-only rule allows both
    assert parse_ports(["ICMP"]) == PortSet.single("ICMP", 0, 255).union(PortSet.single("ICMPv6", 0, 255))
    assert parse_port_items([{"port": "http"}]) == (PortSet(), (("http", "TCP"),))  # named: resolved per destination


def test_a_documented_sctp_flow_is_blocked_without_sctp_in_the_datapath(tmp_path):
    manifests = WEB + API
    doc = """
traffic:
  flows:
    - {from: shop/web, to: shop/api, ports: ["9000/SCTP"]}
"""
    found = net(tmp_path / "off", manifests, doc)
    assert [f.rule_id for f in found] == ["NET001"]
    assert "the datapath carries no SCTP (settings.cilium.sctp is false" in found[0].message
    assert net(tmp_path / "on", manifests, "settings:\n  cilium: {sctp: true}\n" + doc) == []


# NET002 (zero trust for every pod that could exist) is tested in tests/test_zero_trust.py.

ZT_SHOP = """
traffic:
  zeroTrust: {namespaces: [shop]}
"""


# -- NET003: HTTP rules ------------------------------------------------------------------


def _l7_tree(extra_policies: str = "", rules: str = '{http: [{method: GET, path: "/api/.*"}]}') -> str:
    return (
        WEB
        + API
        + cnp(
            "api",
            f"""
endpointSelector: {{matchLabels: {{app: api}}}}
ingress:
- fromEndpoints: [{{matchLabels: {{app: web}}}}]
  toPorts:
  - ports: [{{port: "8080", protocol: TCP}}]
    rules: {rules}
""",
        )
        + extra_policies
    )


DOC_GET_API = """
traffic:
  flows:
    - from: shop/web
      to: shop/api
      ports: [8080]
      http: [{method: GET, path: "/api/.*"}]
"""
DOC_PLAIN = """
traffic:
  flows:
    - {from: shop/web, to: shop/api, ports: [8080]}
"""


def test_http_rules_as_documented(tmp_path):
    assert net(tmp_path, _l7_tree(), DOC_GET_API) == []


def test_http_rules_missing(tmp_path):
    found = net(tmp_path, _l7_tree(rules="null"), DOC_GET_API)
    assert [(f.rule_id, f.detail) for f in found] == [("NET003", "l7-missing")]
    assert "promises an HTTP restriction, but every request is allowed at L7 on TCP 8080" in found[0].message
    assert (found[0].loc.line) == line(tmp_path, "from: shop/web", "kubematrix.yaml")


def test_http_rules_extra(tmp_path):
    found = net(tmp_path, _l7_tree(), DOC_PLAIN)
    assert [(f.rule_id, f.detail) for f in found] == [("NET003", "l7-extra")]
    assert "promises plain L4 access, but CiliumNetworkPolicy shop/api spec.ingress[0].toPorts[0]" in found[0].message


def test_an_http_rule_matching_every_request_is_no_restriction(tmp_path):
    """``http: [{}]`` (L7 visibility) lets every request through: plain L4 as documented."""
    assert net(tmp_path, _l7_tree(rules="{http: [{}]}"), DOC_PLAIN) == []


def test_http_rules_different(tmp_path):
    found = net(
        tmp_path,
        _l7_tree(rules='{http: [{method: GET, path: "/api/.*"}, {method: DELETE, path: "/.*"}]}'),
        DOC_GET_API.replace(
            'http: [{method: GET, path: "/api/.*"}]',
            'http: [{method: GET, path: "/api/.*"}, {method: POST, path: "/api/.*"}]',
        ),
    )
    assert [(f.rule_id, f.detail) for f in found] == [("NET003", "l7-differs")]
    assert "policies also allow DELETE /.*; policies do not allow POST /api/.*" in found[0].message


def test_a_plain_l4_allow_on_the_same_port_widens_the_http_rule(tmp_path):
    """A second policy allowing 8080 from web without rules: Cilium widens the L7 rule to
    every request, so the documented restriction is no longer enforced."""
    widen = cnp(
        "api-debug",
        """
endpointSelector: {matchLabels: {app: api}}
ingress:
- fromEndpoints: [{matchLabels: {app: web}}]
  toPorts: [{ports: [{port: "8080", protocol: TCP}]}]
""",
    )
    found = net(tmp_path, _l7_tree(widen), DOC_GET_API)
    assert [(f.rule_id, f.detail) for f in found] == [("NET003", "l7-missing")]


def test_http_restriction_on_only_some_documented_ports(tmp_path):
    manifests = (
        WEB
        + API
        + cnp(
            "api",
            """
endpointSelector: {matchLabels: {app: api}}
ingress:
- fromEndpoints: [{matchLabels: {app: web}}]
  toPorts:
  - ports: [{port: "8080", protocol: TCP}]
    rules: {http: [{method: GET, path: "/api/.*"}]}
  - ports: [{port: "9090", protocol: TCP}]
""",
        )
    )
    found = net(tmp_path, manifests, DOC_GET_API.replace("ports: [8080]", "ports: [8080, 9090]"))
    assert [(f.rule_id, f.detail) for f in found] == [("NET003", "l7-missing")]
    assert found[0].message.endswith("every request is allowed at L7 on TCP 9090")


def test_http_rules_on_both_sides_are_anded(tmp_path):
    """web's egress allows only GET /api/.*; api's ingress also allows DELETE: a request
    must pass both, so what passes is the documented GET /api/.*."""
    egress = cnp(
        "web",
        """
endpointSelector: {matchLabels: {app: web}}
egress:
- toEndpoints: [{matchLabels: {app: api}}]
  toPorts:
  - ports: [{port: "8080", protocol: TCP}]
    rules: {http: [{method: GET, path: "/api/.*"}]}
""",
    )
    wide = '{http: [{method: GET, path: "/api/.*"}, {method: DELETE, path: "/.*"}]}'
    assert net(tmp_path / "subset", _l7_tree(egress, rules=wide), DOC_GET_API) == []
    other = egress.replace('path: "/api/.*"', 'path: "/v2/.*"')
    found = net(tmp_path / "incomparable", _l7_tree(other, rules=wide), DOC_GET_API)
    assert [(f.rule_id, f.detail) for f in found] == [("NET003", "l7-differs")]
    assert "egress allows GET /v2/.* but ingress allows" in found[0].message


def test_http_rules_on_a_flow_from_all_sources(tmp_path):
    """For entity:all -> api only api's ingress is the promise, for every source."""
    manifests = _l7_tree().replace("fromEndpoints: [{matchLabels: {app: web}}]", "fromEntities: [all]")
    doc = DOC_GET_API.replace("from: shop/web", "from: entity:all")
    assert net(tmp_path / "same", manifests, doc) == []
    found = net(tmp_path / "plain", manifests, DOC_PLAIN.replace("from: shop/web", "from: entity:all"))
    assert [(f.rule_id, f.detail) for f in found] == [("NET003", "l7-extra")]
    assert "(for 3 of the sources (actor:kube-dns, entity:world, shop/web))" in found[0].message


# -- NET004: directions nothing isolates -------------------------------------------------


def test_not_isolated_direction_is_reported_at_the_workload(tmp_path):
    manifests = (
        API
        + cnp(
            "api",
            """
endpointSelector: {matchLabels: {app: api}}
ingress:
- {}
""",
        )
        + deploy("tool", ns="tools")
    )
    found = net(tmp_path, manifests, ZT_SHOP)
    assert [(f.rule_id, f.subject, f.detail) for f in found] == [("NET004", "Deployment shop/api", "egress")]
    assert found[0].loc.line == line(tmp_path, "  name: api", whole=True)  # metadata.name
    assert "no network policy selects it for egress" in found[0].message


@pytest.mark.parametrize(
    "mode, expected",
    [
        (
            "default",
            {
                ("Deployment shop/agent", "ingress"),
                ("Deployment shop/agent", "egress"),
                ("Deployment shop/web", "egress"),
            },
        ),
        ("always", {("Deployment shop/agent", "ingress"), ("Deployment shop/agent", "egress")}),
        ("never", {(f"Deployment shop/{w}", d) for w in ("agent", "web") for d in ("ingress", "egress")}),
    ],
)
def test_isolation_under_each_enforcement_mode(tmp_path, mode, expected):
    """always isolates every endpoint; never enforces nothing (so nothing is isolated);
    a hostNetwork pod is not a Cilium endpoint in any mode."""
    manifests = (
        WEB
        + deploy("agent", host_network=True)
        + cnp(
            "web",
            """
endpointSelector: {matchLabels: {app: web}}
ingress:
- fromEntities: [world]
  toPorts: [{ports: [{port: "8443", protocol: TCP}]}]
""",
        )
    )
    found = net(
        tmp_path, manifests, f"settings:\n  cilium: {{policyEnforcementMode: {mode}}}\n" + ZT_SHOP, rule="NET004"
    )
    assert {(f.subject, f.detail) for f in found} == expected
    agent = [f.message for f in found if "agent" in f.subject]
    if mode == "never":
        assert all("policyEnforcementMode is never" in m for m in agent)
    else:
        assert all("hostNetwork" in m for m in agent)


def test_enforcement_mode_always_is_named_as_the_reason(tmp_path):
    """Under policyEnforcementMode always even an unselected actor is default-deny."""
    found = net(
        tmp_path,
        API
        + cnp(
            "api",
            """
endpointSelector: {matchLabels: {app: api}}
ingress:
- fromEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: monitoring, app: prometheus}}]
  toPorts: [{ports: [{port: "9090", protocol: TCP}]}]
""",
        ),
        """
settings:
  cilium: {policyEnforcementMode: always}
traffic:
  actors:
    - {name: prometheus, namespace: monitoring, labels: {app: prometheus}}
  flows:
    - {from: actor:prometheus, to: shop/api, ports: [9090]}
""",
    )
    assert [f.rule_id for f in found] == ["NET001"]
    assert "egress is default-deny (policyEnforcementMode is always) and no rule allows TCP 9090" in found[0].message


def test_workloads_sharing_a_name_are_each_checked(tmp_path):
    manifests = deploy("report") + deploy("report", kind="CronJob", labels={"app": "report-job"})
    found = net(
        tmp_path,
        manifests,
        ZT_SHOP
        + """
  flows:
    - {from: shop/report, to: entity:world, ports: [443]}
""",
    )
    assert {(f.rule_id, f.subject) for f in found if f.rule_id == "NET004"} == {
        ("NET004", "Deployment shop/report"),
        ("NET004", "CronJob shop/report"),
    }
    ambiguous = [f for f in found if f.rule_id == "NET006"]
    assert len(ambiguous) == 1
    assert "names several workloads (shop/report[CronJob], shop/report[Deployment])" in ambiguous[0].message


# -- NET005: toFQDNs without DNS visibility ----------------------------------------------


FQDN_RULE = """
- toFQDNs:
  - matchName: api.stripe.com
  - matchPattern: "*.s3.amazonaws.com"
  toPorts:
  - ports: [{port: "443", protocol: TCP}]  # mark:fqdn
  - ports: [{port: "8443", protocol: TCP}]
"""


def _fqdn_tree(dns_rules: str | None) -> str:
    """api and worker reach two names by toFQDNs; ``dns_rules`` replaces the DNS rule's
    ``rules`` (None: keep matchPattern "*", "": drop rules.dns altogether)."""
    dns = DNS_EGRESS
    if dns_rules == "":
        dns = DNS_EGRESS.replace('    rules: {dns: [{matchPattern: "*"}]}\n', "")
    elif dns_rules is not None:
        dns = DNS_EGRESS.replace('{dns: [{matchPattern: "*"}]}', dns_rules)
    return (
        API
        + deploy("worker", labels={"app": "worker", "tier": "backend"})
        + cnp(
            "egress",
            f"""
endpointSelector: {{matchExpressions: [{{key: app, operator: In, values: [api, worker]}}]}}
egress:
{dns.strip(chr(10))}
{FQDN_RULE.strip(chr(10))}
""",
        )
    )


def test_fqdn_rule_with_dns_visibility(tmp_path):
    assert net(tmp_path, _fqdn_tree(None), "traffic: {}\n") == []


def test_fqdn_rule_without_dns_visibility_once_per_rule_and_workload(tmp_path):
    manifests = _fqdn_tree("")
    assert "rules" not in manifests
    found = net(tmp_path, manifests, "traffic: {}\n")
    assert {(f.rule_id, f.loc.line, f.subject) for f in found} == {
        ("NET005", line(tmp_path, "mark:fqdn"), "Deployment shop/api"),
        ("NET005", line(tmp_path, "mark:fqdn"), "Deployment shop/worker"),
    }
    assert len(found) == 2  # not one per toPorts item
    assert "to reach *.s3.amazonaws.com, api.stripe.com by name" in found[0].message


def test_fqdn_rule_partly_visible_names_what_is_not(tmp_path):
    found = net(tmp_path, _fqdn_tree("{dns: [{matchName: api.stripe.com}]}"), "traffic: {}\n")
    assert len(found) == 2
    assert all("to reach *.s3.amazonaws.com by name" in f.message for f in found)


# -- NET006: unknown endpoints -----------------------------------------------------------


def test_unknown_workloads_and_actors(tmp_path):
    found = net(
        tmp_path,
        WEB + API,
        """
traffic:
  actors:
    - {name: prometheus, namespace: monitoring, labels: {app: prometheus}}
  flows:
    - {from: actor:prometheus, to: shop/api, ports: [9090]}
    - {from: shop/web, to: shop/apii, ports: [8080]}
    - {from: actor:grafana, to: shop/api, ports: [9090]}
    - {from: shop/web, to: entity:wrld, ports: [443]}
""",
    )
    assert sorted((f.rule_id, f.detail, f.loc.line) for f in found) == [
        ("NET006", "actor:grafana", line(tmp_path, "actor:grafana", "kubematrix.yaml")),
        ("NET006", "entity:wrld", line(tmp_path, "entity:wrld", "kubematrix.yaml")),
        ("NET006", "shop/apii", line(tmp_path, "shop/apii", "kubematrix.yaml")),
    ]


def test_an_invalid_cidr_in_a_flow_is_net006_not_a_crash(tmp_path):
    found = net(
        tmp_path,
        WEB,
        """
traffic:
  flows:
    - {from: shop/web, to: "cidr:10.0.0.0/33", ports: [443]}
""",
    )
    assert [f.rule_id for f in found] == ["NET006"]


# -- without a traffic section ------------------------------------------------------------


def test_without_a_traffic_section_only_the_intrinsic_net005_runs(tmp_path):
    """No traffic section: nothing is documented, nothing is zero trust.  NET005 is a
    fact about the policies alone (like NET007) and still runs."""
    manifests = (
        WEB
        + API
        + cnp(
            "web",
            """
endpointSelector: {matchLabels: {app: web}}
egress:
- toFQDNs: [{matchName: api.example.com}]
  toPorts: [{ports: [{port: "443", protocol: TCP}]}]
""",
        )
    )
    found = net(tmp_path / "no-traffic", manifests, "securityContext:\n  defaults: {runAsNonRoot: true}\n")
    assert [f.rule_id for f in found] == ["NET005"]
    assert [f.rule_id for f in net(tmp_path / "no-policy", manifests, None)] == ["NET005"]
    # the same tree with a traffic section has matrix findings
    with_traffic = net(
        tmp_path / "traffic",
        manifests,
        ZT_SHOP
        + """
  flows:
    - {from: shop/web, to: shop/nope, ports: [443]}
""",
    )
    assert {"NET004", "NET005", "NET006"} <= {f.rule_id for f in with_traffic}


# -- the blog-system example -------------------------------------------------------------


def test_the_blog_system_example_satisfies_its_matrix():
    assert net(BLOG) == []


def test_a_drifted_blog_system_reports_each_drift(tmp_path):
    root = tmp_path / "blog"
    shutil.copytree(BLOG, root)
    netpol = root / "blog-system" / "cilium-netpol.yaml"
    text = netpol.read_text(encoding="utf-8")
    # 1. mysql-backup's ingress is no longer isolated
    text = text.replace("  ingress:\n  - {}\n", "", 1)
    # 2. was -> mysql widened to 3306-3310 on both sides
    text = text.replace(
        '  - fromEndpoints:\n    - matchLabels:\n        app: was\n    toPorts:\n    - ports:\n      - port: "3306"\n',
        "  - fromEndpoints:\n    - matchLabels:\n        app: was\n    toPorts:\n    - ports:  # mark:mysql-in\n"
        '      - port: "3306"\n        endPort: 3310\n',
        1,
    )
    text = text.replace(
        "  # was -> mysql:3306\n  - toEndpoints:\n    - matchLabels:\n        app: mysql\n    toPorts:\n"
        '    - ports:\n      - port: "3306"\n',
        "  # was -> mysql:3306\n  - toEndpoints:\n    - matchLabels:\n        app: mysql\n    toPorts:\n"
        '    - ports:  # mark:was-out\n      - port: "3306"\n        endPort: 3310\n',
        1,
    )
    # 3. mysql-backup's DNS no longer goes through the DNS proxy
    text = text.replace('      rules:\n        dns:\n        - matchPattern: "*"\n', "", 1)
    text = text.replace(
        "  # backup -> S3 (Seoul) :443\n  - toFQDNs:\n    - matchName: s3.ap-northeast-2.amazonaws.com\n"
        '    - matchPattern: "*.s3.ap-northeast-2.amazonaws.com"\n    toPorts:\n    - ports:\n',
        "  # backup -> S3 (Seoul) :443\n  - toFQDNs:\n    - matchName: s3.ap-northeast-2.amazonaws.com\n"
        '    - matchPattern: "*.s3.ap-northeast-2.amazonaws.com"\n    toPorts:\n    - ports:  # mark:s3\n',
        1,
    )
    netpol.write_text(text, encoding="utf-8")
    for mark in ("mark:mysql-in", "mark:was-out", "mark:s3"):
        assert mark in text
    found = net(root)
    rel = "blog-system/cilium-netpol.yaml"
    policy_file = "kubematrix.yaml"
    cronjob = "blog-system/mysql-backup-cronjob.yaml"
    assert at(found) == {
        ("NET004", cronjob, line(root, "name: mysql-backup", cronjob)),
        ("NET002", rel, line(root, "mark:mysql-in", rel)),
        ("NET002", rel, line(root, "mark:was-out", rel)),
        ("NET005", rel, line(root, "mark:s3", rel)),
        ("NET001", policy_file, line(root, 'to: "fqdn:*.s3', policy_file)),
        ("NET001", policy_file, line(root, 'to: "fqdn:s3', policy_file)),
    }
    by_rule = {f.rule_id: f for f in found}
    assert "is not isolated for ingress" in by_rule["NET004"].message
    assert all("on TCP 3307-3310" in f.message for f in found if f.rule_id == "NET002")
    assert all("see NET005" in f.message for f in found if f.rule_id == "NET001")
