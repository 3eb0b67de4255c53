"""toFQDNs counts only when the pod's DNS lookups pass Cilium's DNS proxy (issue 8).

The proxy sees a lookup only if an egress rule of the pod with ``rules.dns`` allows the
query *to the DNS server*: its peer must select kube-dns, on the port kube-dns serves,
not removed by a deny rule, and kube-dns must accept it; its patterns must cover the
name (docs "DNS based" / "Obtaining DNS data for use by toFQDNs"; ref §1.8, pitfall 22).
"""

from __future__ import annotations

from helpers import allowed, traffic
from test_semantics import BASE, cnp

FQDN = """
endpointSelector: {matchLabels: {app: web}}
egress:
- toFQDNs: [{matchName: api.example.com}]
  toPorts: [{ports: [{port: "443", protocol: TCP}]}]
"""


def dns_rule(peer: str, ports: str = '[{port: "53", protocol: ANY}]') -> str:
    return f"""- {peer}
  toPorts:
  - ports: {ports}
    rules:
      dns: [{{matchPattern: "*"}}]
"""


KUBE_DNS_PEER = 'toEndpoints: [{matchLabels: {"k8s:io.kubernetes.pod.namespace": kube-system, k8s-app: kube-dns}}]'


def fqdn_allowed(extra_rules: str, extra_policies: str = "") -> bool:
    t = traffic(BASE + cnp("p", "a", FQDN + extra_rules) + extra_policies, with_kube_dns=True)
    return allowed(t, "a/web", "fqdn:api.example.com", port=443)


def test_dns_rule_reaching_kube_dns_counts():
    assert fqdn_allowed(dns_rule(KUBE_DNS_PEER))


def test_dns_rule_whose_peer_misses_kube_dns_does_not_count():
    """Namespace-scoped peer: selects k8s-app=kube-dns in namespace a, where there is none."""
    assert not fqdn_allowed(dns_rule("toEndpoints: [{matchLabels: {k8s-app: kube-dns}}]"))


def test_dns_rule_on_another_port_does_not_count():
    assert not fqdn_allowed(dns_rule(KUBE_DNS_PEER, '[{port: "5353", protocol: UDP}]'))


def test_dns_rule_denied_by_an_egress_deny_does_not_count():
    deny = """egressDeny:
- toEndpoints: [{matchLabels: {"k8s:io.kubernetes.pod.namespace": kube-system}}]
"""
    assert not fqdn_allowed(dns_rule(KUBE_DNS_PEER) + deny)


def test_dns_rule_refused_by_kube_dns_ingress_does_not_count():
    closed = cnp(
        "dns-closed",
        "kube-system",
        """
endpointSelector: {matchLabels: {k8s-app: kube-dns}}
ingress:
- fromEndpoints: [{matchLabels: {app: nobody}}]
""",
    )
    assert not fqdn_allowed(dns_rule(KUBE_DNS_PEER), closed)


def test_ports_only_dns_rule_reaches_kube_dns():
    """No L3 field: the rule applies to every peer, kube-dns included."""
    assert fqdn_allowed("""- toPorts:
  - ports: [{port: "53", protocol: UDP}]
    rules:
      dns: [{matchPattern: "*"}]
""")


def test_explain_names_the_dns_rule_that_misses_kube_dns():
    t = traffic(
        BASE + cnp("p", "a", FQDN + dns_rule("toEndpoints: [{matchLabels: {k8s-app: kube-dns}}]")), with_kube_dns=True
    )
    side = t.verdict("a/web", "fqdn:api.example.com", "TCP", 443).egress
    assert side.fqdn_without_dns
    assert [e.origin.path for e in side.dns_not_reaching] == ["spec.egress[1].toPorts[0]"]
