"""NET002: zero trust for every pod that could exist (docs/zero-trust.md).

Each test builds a small tree (the shop app: web -> api:8080 -> db:5432) and scans it
like the CLI does.  A finding is expected exactly where a rule admits a peer or port the
documented matrix does not list — including peers that are in no manifest.
"""

from __future__ import annotations

import pytest
from test_traffic_matrix import (
    API,
    DB,
    DNS_EGRESS,
    WEB,
    WORKER,
    ZT_SHOP,
    cnp,
    deploy,
    knp,
    line,
    net,
)

SHOP_FLOWS = (
    ZT_SHOP
    + """
  flows:
    - {from: entity:world, to: shop/web, ports: [8443]}
    - {from: shop/web, to: shop/api, ports: [8080]}
    - {from: shop/api, to: shop/db, ports: [5432]}
"""
)
CLOSED_EGRESS = "egress:\n- {}\n"  # default-deny egress, nothing allowed


def shop(db_ingress: str, *, extra: str = "") -> str:
    """web, api and db, each isolated both ways; db's ingress rules are the variable."""
    return (
        WEB
        + API
        + DB
        + cnp(
            "web",
            """
endpointSelector: {matchLabels: {app: web}}
ingress:
- fromEntities: [world]
  toPorts: [{ports: [{port: "8443", protocol: TCP}]}]
egress:
- toEndpoints: [{matchLabels: {app: api}}]
  toPorts: [{ports: [{port: "8080", protocol: TCP}]}]
""",
        )
        + cnp(
            "api",
            """
endpointSelector: {matchLabels: {app: api}}
ingress:
- fromEndpoints: [{matchLabels: {app: web}}]
  toPorts: [{ports: [{port: "8080", protocol: TCP}]}]
egress:
- toEndpoints: [{matchLabels: {app: db}}]
  toPorts: [{ports: [{port: "5432", protocol: TCP}]}]
""",
        )
        + cnp(
            "db",
            f"""
endpointSelector: {{matchLabels: {{app: db}}}}
ingress:
{db_ingress.strip(chr(10))}
{CLOSED_EGRESS}""",
        )
        + extra
    )


def test_the_shop_as_documented_is_clean(tmp_path):
    manifests = shop("""
- fromEndpoints: [{matchLabels: {app: api}}]
  toPorts: [{ports: [{port: "5432", protocol: TCP}]}]
""")
    assert net(tmp_path, manifests, SHOP_FLOWS) == []


def test_every_pod_of_the_namespace_is_admitted_though_no_known_pod_can_send(tmp_path):
    """The blind spot of a graph-only check: db admits every pod of shop; every known pod's
    egress happens to be closed towards db, but a `kubectl run` pod has no egress policy."""
    manifests = shop("""
- fromEndpoints: [{}]
  toPorts: [{ports: [{port: "5432", protocol: TCP}]}]  # mark:db-in
""")
    found = net(tmp_path, manifests, SHOP_FLOWS)
    assert [(f.rule_id, f.loc.line) for f in found] == [("NET002", line(tmp_path, "mark:db-in"))]
    message = found[0].message
    assert message.startswith(
        "CiliumNetworkPolicy shop/db spec.ingress[0].toPorts[0] lets shop/db accept connections "
        "the documented matrix does not list: from every pod in namespace shop on TCP 5432"
    )
    assert "e.g. a pod in namespace shop with labels {} would be admitted" in message
    assert "(in these manifests: shop/web)" in message  # web is a known witness; api is documented


def test_every_pod_of_a_namespace_without_manifests(tmp_path):
    manifests = shop("""
- fromEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: payments}}]
  toPorts: [{ports: [{port: "5432", protocol: TCP}]}]  # mark:db-in
- fromEndpoints: [{matchLabels: {app: api}}]
  toPorts: [{ports: [{port: "5432", protocol: TCP}]}]
""")
    found = net(tmp_path, manifests, SHOP_FLOWS)
    assert [(f.rule_id, f.loc.line) for f in found] == [("NET002", line(tmp_path, "mark:db-in"))]
    assert "from every pod in namespace payments on TCP 5432" in found[0].message
    assert "e.g. a pod in namespace payments with labels {} would be admitted" in found[0].message
    assert "in these manifests" not in found[0].message  # no known pod witnesses it


def test_an_egress_rule_reaching_db_pods_of_any_namespace(tmp_path):
    """api's NetworkPolicy egress selects app=db in every namespace: another team's db."""
    manifests = shop("""
- fromEndpoints: [{matchLabels: {app: api}}]
  toPorts: [{ports: [{port: "5432", protocol: TCP}]}]
""").replace(
        cnp(
            "api",
            """
endpointSelector: {matchLabels: {app: api}}
ingress:
- fromEndpoints: [{matchLabels: {app: web}}]
  toPorts: [{ports: [{port: "8080", protocol: TCP}]}]
egress:
- toEndpoints: [{matchLabels: {app: db}}]
  toPorts: [{ports: [{port: "5432", protocol: TCP}]}]
""",
        ),
        knp(
            "api",
            """
podSelector: {matchLabels: {app: api}}
policyTypes: [Ingress, Egress]
ingress:
- from: [{podSelector: {matchLabels: {app: web}}}]
  ports: [{port: 8080}]
egress:
- to:
  - namespaceSelector: {}  # mark:api-out
    podSelector: {matchLabels: {app: db}}
  ports: [{port: 5432}]
""",
        ),
    )
    assert "mark:api-out" in manifests
    found = net(tmp_path, manifests, SHOP_FLOWS)
    assert [(f.rule_id, f.loc.line) for f in found] == [("NET002", line(tmp_path, "mark:api-out"))]
    assert "to pods labelled app=db in any namespace on TCP 5432" in found[0].message
    assert "e.g. a pod in namespace other-namespace with labels {app: db} would be reachable" in found[0].message


def test_ingress_is_judged_even_while_every_known_source_blocks_it(tmp_path):
    """db admits worker on 5432, undocumented; worker's own egress blocks it, which the
    graph shows as no edge — the promise about db's ingress is broken all the same."""
    manifests = shop(
        """
- fromEndpoints: [{matchLabels: {app: api}}]
  toPorts: [{ports: [{port: "5432", protocol: TCP}]}]
- fromEndpoints: [{matchLabels: {app: worker}}]
  toPorts: [{ports: [{port: "5432", protocol: TCP}]}]  # mark:db-in
""",
        extra=WORKER
        + cnp("worker", "endpointSelector: {matchLabels: {app: worker}}\ningress:\n- {}\n" + CLOSED_EGRESS),
    )
    found = net(tmp_path, manifests, SHOP_FLOWS)
    assert [(f.rule_id, f.loc.line) for f in found] == [("NET002", line(tmp_path, "mark:db-in"))]
    assert "(in these manifests: shop/worker)" in found[0].message


def test_entity_cluster_is_named_as_the_whole_cluster(tmp_path):
    manifests = shop("""
- fromEntities: [cluster]
  toPorts: [{ports: [{port: "5432", protocol: TCP}]}]  # mark:db-in
""")
    found = net(tmp_path, manifests, SHOP_FLOWS)
    assert [(f.rule_id, f.loc.line) for f in found] == [("NET002", line(tmp_path, "mark:db-in"))]
    assert "from every pod and node of the cluster (entity cluster) on TCP 5432" in found[0].message
    assert "kube-dns" not in found[0].message.split("e.g.")[0]


def test_entity_cluster_documented_covers_entity_cluster(tmp_path):
    manifests = shop("""
- fromEntities: [cluster]
  toPorts: [{ports: [{port: "5432", protocol: TCP}]}]
""")
    assert net(tmp_path, manifests, SHOP_FLOWS + "    - {from: entity:cluster, to: shop/db, ports: [5432]}\n") == []


def test_the_local_host_is_never_reported_but_remote_nodes_are(tmp_path):
    """Kubelet probes (entity host) are always admitted by Cilium; a rule allowing them
    changes nothing.  A rule admitting remote nodes does."""
    host = shop("""
- fromEndpoints: [{matchLabels: {app: api}}]
  toPorts: [{ports: [{port: "5432", protocol: TCP}]}]
- fromEntities: [host]
  toPorts: [{ports: [{port: "5432", protocol: TCP}]}]
""")
    assert net(tmp_path / "host", host, SHOP_FLOWS) == []
    found = net(tmp_path / "remote", host.replace("[host]", "[remote-node]"), SHOP_FLOWS)
    assert len(found) == 1 and "from entity remote-node on TCP 5432" in found[0].message
    assert "another node of the cluster or a hostNetwork pod (entity remote-node)" in found[0].message


def test_deny_entries_and_requires_narrow_what_is_admitted(tmp_path):
    """fromEndpoints [{}] with an ingressDeny of everything but api, or with fromRequires
    app=api, admits only api: contained in the matrix."""
    deny = shop("""
- fromEndpoints: [{}]
  toPorts: [{ports: [{port: "5432", protocol: TCP}]}]
ingressDeny:
- fromEndpoints: [{matchExpressions: [{key: app, operator: NotIn, values: [api]}]}]
""")
    assert net(tmp_path / "deny", deny, SHOP_FLOWS) == []
    requires = shop("""
- fromEndpoints: [{}]
  fromRequires: [{matchLabels: {app: api}}]
  toPorts: [{ports: [{port: "5432", protocol: TCP}]}]
""")
    assert net(tmp_path / "requires", requires, SHOP_FLOWS) == []
    # the deny only on 5432: 5433 stays admitted for every pod
    wider = shop("""
- fromEndpoints: [{}]
  toPorts: [{ports: [{port: "5432", endPort: 5433, protocol: TCP}]}]  # mark:db-in
ingressDeny:
- fromEndpoints: [{matchExpressions: [{key: app, operator: NotIn, values: [api]}]}]
  toPorts: [{ports: [{port: "5432", protocol: TCP}]}]
""")
    found = net(tmp_path / "wider", wider, SHOP_FLOWS)
    assert [(f.rule_id, f.loc.line) for f in found] == [("NET002", line(tmp_path / "wider", "mark:db-in"))]
    assert "on TCP 5433; e.g. a pod in namespace shop with labels {} would be admitted" in found[0].message


def test_the_workload_is_what_its_controller_selects(tmp_path):
    """web's Deployment selects app=web; its pods also carry version=v1.  A rule on app=web
    admits exactly web's pods (Kubernetes' own membership); a rule on version=v1 admits
    pods of any app with that label."""
    web = deploy("web", labels={"app": "web", "version": "v1"}).replace(
        "    matchLabels: {app: web, version: v1}", "    matchLabels: {app: web}"
    )
    policy = ZT_SHOP + "  flows:\n    - {from: shop/web, to: shop/api, ports: [8080]}\n"

    def tree(selector: str) -> str:
        return (
            web
            + API
            + cnp(
                "api",
                f"""
endpointSelector: {{matchLabels: {{app: api}}}}
ingress:
- fromEndpoints: [{{matchLabels: {selector}}}]
  toPorts: [{{ports: [{{port: "8080", protocol: TCP}}]}}]  # mark:api-in
{CLOSED_EGRESS}""",
            )
            + cnp("web", "endpointSelector: {matchLabels: {app: web}}\ningress:\n- {}\n" + CLOSED_EGRESS)
        )

    assert net(tmp_path / "app", tree("{app: web}"), policy, rule="NET002") == []
    assert net(tmp_path / "both", tree("{app: web, version: v1}"), policy, rule="NET002") == []
    found = net(tmp_path / "version", tree("{version: v1}"), policy, rule="NET002")
    assert [(f.rule_id, f.loc.line) for f in found] == [("NET002", line(tmp_path / "version", "mark:api-in"))]
    assert "a pod in namespace shop with labels {version: v1}" in found[0].message


def test_sctp_from_protocol_any_only_when_the_datapath_carries_it(tmp_path):
    """protocol ANY on a DNS rule: TCP and UDP 53 under Cilium's default (enable-sctp off);
    with settings.cilium.sctp the rule also admits SCTP 53, which is undocumented."""
    manifests = WEB + cnp(
        "web",
        """
endpointSelector: {matchLabels: {app: web}}
ingress:
- {}
egress:
- toEndpoints:
  - matchLabels: {k8s:io.kubernetes.pod.namespace: kube-system, k8s-app: kube-dns}
  toPorts:
  - ports: [{port: "53", protocol: ANY}]  # mark:dns
""",
    )
    policy = ZT_SHOP + '  flows:\n    - {from: shop/web, to: actor:kube-dns, ports: ["53/UDP", "53/TCP"]}\n'
    assert net(tmp_path / "default", manifests, policy) == []
    found = net(tmp_path / "sctp", manifests, "settings:\n  cilium: {sctp: true}\n" + policy)
    assert [(f.rule_id, f.loc.line) for f in found] == [("NET002", line(tmp_path / "sctp", "mark:dns"))]
    assert "on SCTP 53" in found[0].message


def test_internet_peers_addresses_and_names(tmp_path):
    """A documented entity:world covers every address and name; a documented prefix covers
    the addresses inside it; a documented name covers only the names it matches."""
    manifests = (
        WEB
        + API
        + cnp(
            "web",
            """
endpointSelector: {matchLabels: {app: web}}
ingress:
- {}
egress:
- toEntities: [world]
  toPorts: [{ports: [{port: "443", protocol: TCP}]}]
""",
        )
        + cnp(
            "api",
            """
endpointSelector: {matchLabels: {app: api}}
ingress:
- {}
egress:
- toCIDRSet: [{cidr: 10.0.0.0/8, except: [10.2.0.0/16]}]
  toPorts: [{ports: [{port: "5432", protocol: TCP}]}]  # mark:cidr
- toFQDNs: [{matchPattern: "*.example.com"}]
  toPorts: [{ports: [{port: "443", protocol: TCP}]}]  # mark:fqdn
"""
            + DNS_EGRESS.strip("\n"),
        )
    )
    policy = (
        ZT_SHOP
        + """
  flows:
    - {from: shop/web, to: entity:world, ports: [443]}
    - {from: shop/api, to: "cidr:10.0.0.0/8", ports: [5432]}
    - {from: shop/api, to: "fqdn:*.example.com", ports: [443]}
    - {from: shop/api, to: actor:kube-dns, ports: ["53/UDP", "53/TCP"]}
"""
    )
    assert net(tmp_path / "covered", manifests, policy) == []
    narrow = policy.replace("cidr:10.0.0.0/8", "cidr:10.1.0.0/16").replace("fqdn:*.example.com", "fqdn:api.example.com")
    found = sorted(net(tmp_path / "narrow", manifests, narrow), key=lambda f: f.loc.line)
    assert [f.loc.line for f in found] == [
        line(tmp_path / "narrow", "mark:cidr"),
        line(tmp_path / "narrow", "mark:fqdn"),
    ]
    assert "to addresses in 10.0.0.0/8 except 10.2.0.0/16 on TCP 5432; e.g. the address 10.0.0.1" in found[0].message
    assert (
        "to names matching *.example.com on TCP 443; e.g. the name y.example.com would be reachable" in found[1].message
    )


def test_fqdn_names_count_only_when_the_dns_proxy_sees_them(tmp_path):
    """toFQDNs *.example.com, but the DNS rule lets the pod resolve only api.example.com:
    only that name can ever be reached (the rest is NET005's business)."""
    dns = DNS_EGRESS.replace('matchPattern: "*"', "matchName: api.example.com")
    manifests = API + cnp(
        "api",
        """
endpointSelector: {matchLabels: {app: api}}
ingress:
- {}
egress:
- toFQDNs: [{matchPattern: "*.example.com"}]
  toPorts: [{ports: [{port: "443", protocol: TCP}]}]
"""
        + dns.strip("\n"),
    )
    policy = (
        ZT_SHOP
        + """
  flows:
    - {from: shop/api, to: "fqdn:api.example.com", ports: [443]}
    - {from: shop/api, to: actor:kube-dns, ports: ["53/UDP", "53/TCP"]}
"""
    )
    assert [f.rule_id for f in net(tmp_path, manifests, policy)] == ["NET005"]


def test_a_named_port_in_egress_is_unknown_on_pods_that_do_not_exist_yet(tmp_path):
    """web egress to every pod of shop on port 'http': api declares http=8080, which is
    documented; another pod of shop may give any number the name http."""
    manifests = (
        WEB
        + API
        + cnp(
            "web",
            """
endpointSelector: {matchLabels: {app: web}}
ingress:
- {}
egress:
- toEndpoints: [{matchLabels: {app: api}}]
  toPorts: [{ports: [{port: http, protocol: TCP}]}]
- toEndpoints: [{}]
  toPorts: [{ports: [{port: http, protocol: TCP}]}]  # mark:any-http
""",
        )
    )
    policy = ZT_SHOP + "  flows:\n    - {from: shop/web, to: shop/api, ports: [8080]}\n"
    found = net(tmp_path, manifests, policy, rule="NET002")
    assert [(f.rule_id, f.loc.line) for f in found] == [("NET002", line(tmp_path, "mark:any-http"))]
    assert "on port 'http'/TCP" in found[0].message


def test_an_open_direction_is_one_net004_and_wide_sources_are_net002(tmp_path):
    """Nothing isolates api's ingress: one NET004.  The sources' egress rule opening api on
    every port is a decision: NET002 at that rule, once per source workload."""
    manifests = (
        WEB
        + API
        + WORKER
        + DB
        + cnp("api", "endpointSelector: {matchLabels: {app: api}}\n" + CLOSED_EGRESS)
        + cnp(
            "others",
            """
endpointSelector: {matchExpressions: [{key: app, operator: In, values: [web, worker, db]}]}
ingress:
- {}
egress:
- toEndpoints: [{matchLabels: {app: api}}]
""",
        )
    )
    found = net(tmp_path, manifests, ZT_SHOP + "  flows:\n    - {from: shop/web, to: shop/api, ports: [8080]}\n")
    assert [(f.subject, f.detail) for f in found if f.rule_id == "NET004"] == [("Deployment shop/api", "ingress")]
    net002 = [f for f in found if f.rule_id == "NET002"]
    assert {f.subject for f in net002} == {"shop/db", "shop/web", "shop/worker"}
    assert all(f.detail.startswith("egress:") for f in net002)
    web = next(f for f in net002 if f.subject == "shop/web")
    assert "on TCP 1-8079,8081-65535; UDP all; ICMP all types; ICMPv6 all types" in web.message


@pytest.mark.parametrize(
    "documented, expected",
    [
        ('["1-65535/ANY", ICMP]', []),
        ("[8080]", ["TCP 1-8079,8081-65535; UDP all; ICMP all types; ICMPv6 all types"]),
    ],
)
def test_an_l3_only_rule_admits_every_protocol(tmp_path, documented, expected):
    manifests = (
        WEB
        + API
        + cnp(
            "api",
            """
endpointSelector: {matchLabels: {app: api}}
ingress:
- fromEndpoints: [{matchLabels: {app: web}}]
"""
            + CLOSED_EGRESS,
        )
    )
    found = net(
        tmp_path,
        manifests,
        ZT_SHOP + f"  flows:\n    - {{from: shop/web, to: shop/api, ports: {documented}}}\n",
        rule="NET002",
    )
    assert [f.message.split(" on ", 1)[1].split("; e.g.")[0] for f in found] == expected
