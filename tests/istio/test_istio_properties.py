"""Laws of the Istio evaluator (Hypothesis), from the order in authorization_policy.proto:

* with an ALLOW policy present, adding an ALLOW rule never removes an allowed request;
* a matching DENY rule always wins; adding a DENY rule never allows more;
* the order of policies in the manifests never matters;
* three-valued soundness: a verdict reached without a path holds for every path;
* a dry-run policy changes nothing (builder.go isDryRun).
"""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from istio_helpers import authz, decide, mesh, meshed_ns, pod

WORLD = meshed_ns("m") + pod("web", "m", sa="web") + pod("batch", "m") + pod("api", "m", ports=(8080, 9090))
SOURCES = ("m/web", "m/batch", "entity:world")
REQUESTS = [
    (port, method, path)
    for port in (8080, 9090)
    for method in ("GET", "POST", "PUT")
    for path in ("/a", "/a/x", "/b", "/c")
]

PRINCIPALS = st.sampled_from(["cluster.local/ns/m/sa/web", "cluster.local/ns/m/sa/default", "*", "*/sa/web"])
SOURCE = st.one_of(
    st.builds(lambda v: {"principals": [v]}, PRINCIPALS),
    st.builds(lambda v: {"notPrincipals": [v]}, PRINCIPALS),
    st.builds(lambda v: {"namespaces": [v]}, st.sampled_from(["m", "other", "*"])),
    st.builds(lambda v: {"notNamespaces": [v]}, st.sampled_from(["m", "other"])),
    st.just({"ipBlocks": ["0.0.0.0/0"]}),
)
OPERATION = st.fixed_dictionaries(
    {},
    optional={
        "methods": st.lists(st.sampled_from(["GET", "POST"]), min_size=1, max_size=2, unique=True),
        "notMethods": st.lists(st.sampled_from(["PUT"]), min_size=1, max_size=1),
        "paths": st.lists(st.sampled_from(["/a*", "/b", "*"]), min_size=1, max_size=2, unique=True),
        "notPaths": st.lists(st.sampled_from(["/a/x"]), min_size=1, max_size=1),
        "ports": st.lists(st.sampled_from(["8080", "9090"]), min_size=1, max_size=1),
    },
).filter(bool)
RULE = st.fixed_dictionaries(
    {},
    optional={
        "from": st.lists(SOURCE.map(lambda s: {"source": s}), min_size=1, max_size=2),
        "to": st.lists(OPERATION.map(lambda o: {"operation": o}), min_size=1, max_size=2),
        "when": st.lists(st.just({"key": "destination.port", "values": ["8080"]}), min_size=1, max_size=1),
    },
)
RULES = st.lists(RULE, min_size=1, max_size=3)


def _policy(name: str, action: str, rules: list, annotations=None) -> str:
    return authz(
        name,
        "m",
        f"selector: {{matchLabels: {{app: api}}}}\naction: {action}\nrules: {json.dumps(rules)}",
        annotations=annotations,
    )


def _verdicts(text: str) -> dict:
    t = mesh(WORLD + text)
    return {
        (s, port, m, p): decide(t, s, "m/api", port, method=m, path=p).status
        for s in SOURCES
        for port, m, p in REQUESTS
    }


PROPS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPS
@given(RULES, RULE)
def test_adding_an_allow_rule_never_removes_an_allowed_request(rules, extra):
    before = _verdicts(_policy("a", "ALLOW", rules))
    after = _verdicts(_policy("a", "ALLOW", rules) + _policy("b", "ALLOW", [extra]))
    lost = [k for k, v in before.items() if v == "allow" and after[k] != "allow"]
    assert lost == []


@PROPS
@given(RULES, RULES)
def test_deny_wins_and_never_allows_more(allow, deny):
    base = _verdicts(_policy("a", "ALLOW", allow))
    with_deny = _verdicts(_policy("a", "ALLOW", allow) + _policy("d", "DENY", deny))
    assert [k for k, v in with_deny.items() if v == "allow" and base[k] != "allow"] == []
    everything = _verdicts(_policy("a", "ALLOW", allow) + _policy("d", "DENY", [{}]))
    assert set(everything.values()) == {"deny"}


@PROPS
@given(RULES, RULES)
def test_policy_order_never_matters(allow, deny):
    a, d = _policy("a", "ALLOW", allow), _policy("d", "DENY", deny)
    assert _verdicts(a + d) == _verdicts(d + a)


@PROPS
@given(RULES, RULES)
def test_a_verdict_without_a_path_holds_for_every_path(allow, deny):
    t = mesh(WORLD + _policy("a", "ALLOW", allow) + _policy("d", "DENY", deny))
    for s in SOURCES:
        for port in (8080, 9090):
            partial = decide(t, s, "m/api", port, method="GET").status
            fulls = {decide(t, s, "m/api", port, method="GET", path=path).status for path in ("/a", "/a/x", "/b", "/c")}
            assert fulls <= {"allow", "deny"}  # a complete request is always decided here
            if partial != "unknown":
                assert fulls == {partial}


@PROPS
@given(RULES)
def test_dry_run_changes_nothing(rules):
    allowed = {"allow", "not-enforced"}
    shadow = _verdicts(_policy("a", "ALLOW", rules, annotations={"istio.io/dry-run": "true"}))
    assert {k: v in allowed for k, v in shadow.items()} == {k: v in allowed for k, v in _verdicts("").items()}
    assert all(v == "allow" for v in shadow.values())
