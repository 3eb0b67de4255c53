"""``explain`` shows what is behind a verdict and only what concerns the pair (issue 8)."""

from __future__ import annotations

from helpers import pod, traffic
from test_dns_visibility import FQDN
from test_semantics import BASE, cnp

from scanner.network.explain import explain

REJECTED_FOR_API = cnp(
    "api-broken",
    "a",
    """
endpointSelector: {matchLabels: {app: api}}
ingress:
- fromEndpoints: [{}]
  fromEntities: [world]
""",
)
REJECTED_FOR_OTHER = cnp(
    "other-broken",
    "a",
    """
endpointSelector: {matchLabels: {app: other}}
egress:
- toEndpoints: [{}]
  toEntities: [world]
""",
)


def test_explain_lists_only_the_rejected_policies_that_concern_the_pair():
    t = traffic(BASE + pod("other", "a") + REJECTED_FOR_API + REJECTED_FOR_OTHER)
    assert len(t.rejections) == 2
    text, _ = explain(t, "a/web", "a/api", "TCP", 8080)
    assert "api-broken" in text
    assert "other-broken" not in text
    assert "the Cilium agent" in text


def test_explain_shows_the_from_requires_condition_behind_a_denial():
    t = traffic(
        BASE
        + cnp(
            "need-prod",
            "a",
            """
endpointSelector: {matchLabels: {app: api}}
ingress:
- fromEndpoints: [{}]
  fromRequires: [{matchLabels: {env: prod}}]
""",
        )
    )
    text, ok = explain(t, "a/web", "a/api", "TCP", 8080)
    assert not ok
    assert "fromRequires" in text and "env=prod" in text
    assert "a/web does not meet it" in text


def test_explain_shows_a_met_requires_condition_too():
    t = traffic(
        BASE
        + pod("prod-web", "a", {"app": "web", "env": "prod"})
        + cnp(
            "need-prod",
            "a",
            """
endpointSelector: {matchLabels: {app: api}}
ingress:
- fromEndpoints: [{}]
  fromRequires: [{matchLabels: {env: prod}}]
""",
        )
    )
    text, ok = explain(t, "a/prod-web", "a/api", "TCP", 8080)
    assert ok and "a/prod-web meets it" in text


def test_explain_names_the_dns_rule_that_misses_kube_dns():
    t = traffic(
        BASE
        + cnp(
            "p",
            "a",
            FQDN
            + """- toEndpoints: [{matchLabels: {k8s-app: kube-dns}}]
  toPorts:
  - ports: [{port: "53", protocol: UDP}]
    rules:
      dns: [{matchPattern: "*"}]
""",
        ),
        with_kube_dns=True,
        extra=["fqdn:api.example.com"],
    )
    text, ok = explain(t, "a/web", "fqdn:api.example.com", "TCP", 443)
    assert not ok
    assert "does not reach kube-dns" in text and "spec.egress[1].toPorts[0]" in text


def test_explain_shows_the_engines_remarks_on_the_deciding_policies():
    t = traffic(
        BASE
        + cnp(
            "overwrite",
            "a",
            """
endpointSelector: {matchLabels: {app: api, "k8s:io.kubernetes.pod.namespace": b}}
ingress:
- fromEndpoints: [{matchLabels: {app: web}}]
""",
        )
    )
    text, ok = explain(t, "a/web", "a/api", "TCP", 8080)
    assert ok and "remarks on the policies behind this verdict" in text and "overwrites" in text


def test_explain_says_the_verdict_assumes_a_misspelt_field_dropped():
    t = traffic(
        BASE
        + cnp(
            "typo",
            "a",
            """
endpointSelector: {matchLabels: {app: api}}
ingress:
- fromEndpoints: [{matchLabels: {app: web}}]
  toPorts:
  - ports: [{port: "8080", protocol: TCP}]
    rules: {HTTP: [{method: GET}]}
""",
        )
    )
    text, ok = explain(t, "a/web", "a/api", "TCP", 8080)
    assert ok
    assert "rules.HTTP' (NET008) is assumed dropped" in text and "strict validation would reject" in text
