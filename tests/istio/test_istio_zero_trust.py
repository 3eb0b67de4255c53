"""NET010: Istio ALLOW rules of zero-trust workloads, for every peer that could exist.

Laws (the Istio counterparts of NET002's, docs/zero-trust.md):
* a reported identity witness is admitted by the rule and is no documented source's identity;
* documenting a flow never adds a finding;
* STRICT mTLS takes plaintext peers out; a matching DENY rule takes its peers out.
"""

from __future__ import annotations

import re
import textwrap

import pytest
from conftest import scan_path
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.network.istio.match import Peer, principal_matches

BASE = """\
apiVersion: v1
kind: Namespace
metadata: {name: mesh, labels: {istio-injection: enabled}}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: mesh, labels: {app: web}}
spec: {serviceAccountName: web, containers: [{name: c, image: x}]}
---
apiVersion: v1
kind: Pod
metadata: {name: api, namespace: mesh, labels: {app: api}}
spec: {containers: [{name: c, image: x, ports: [{containerPort: 8080}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: batch, namespace: mesh, labels: {app: batch}}
spec: {containers: [{name: c, image: x}]}
---
apiVersion: v1
kind: Pod
metadata: {name: legacy, namespace: mesh, labels: {app: legacy}, annotations: {sidecar.istio.io/inject: "false"}}
spec: {serviceAccountName: legacy, containers: [{name: c, image: x}]}
"""


def _tree(tmp_path, rules: str, flows: list[str], extra: str = ""):
    (tmp_path / "w.yaml").write_text(BASE + extra)
    (tmp_path / "istio.yaml").write_text(
        "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: api, namespace: mesh}\n"
        "spec:\n  selector: {matchLabels: {app: api}}\n  rules:\n"
        + textwrap.indent(textwrap.dedent(rules).strip("\n"), "  ")
        + "\n"
    )
    (tmp_path / "kubematrix.yaml").write_text(
        "apiVersion: kubematrix.dev/v1alpha1\nkind: Policy\ntraffic:\n  zeroTrust: {namespaces: [mesh]}\n  flows:"
        + ("\n" + "".join(f"    - {f}\n" for f in flows) if flows else " []\n")
    )
    return [f for f in scan_path(tmp_path).active() if f.rule_id == "NET010"]


WEB_8080 = "{from: mesh/web, to: mesh/api, ports: [8080]}"


def test_documented_identity_only_is_clean(tmp_path):
    assert (
        _tree(
            tmp_path,
            """
- from: [{source: {principals: ["cluster.local/ns/mesh/sa/web"]}}]
  to: [{operation: {ports: ["8080"]}}]
""",
            [WEB_8080],
        )
        == []
    )


def test_an_undocumented_port_is_an_excess(tmp_path):
    (f,) = _tree(tmp_path, '- from: [{source: {principals: ["cluster.local/ns/mesh/sa/web"]}}]', [WEB_8080])
    assert "on TCP 1-8079,8081-15019,15022-15089,15091-65535:" in f.message  # 15020/15021/15090 bypass the sidecar
    assert "identity cluster.local/ns/mesh/sa/web" in f.message  # web itself, beyond its documented port


def test_shared_service_accounts_are_named(tmp_path):
    # batch and api both run as "default": a rule admitting web's... no, admitting default admits batch.
    (f,) = _tree(
        tmp_path,
        """
- from: [{source: {principals: ["cluster.local/ns/mesh/sa/default"]}}]
  to: [{operation: {ports: ["8080"]}}]
""",
        ["{from: mesh/batch, to: mesh/api, ports: [8080]}"],
        extra="""---
apiVersion: v1
kind: Pod
metadata: {name: cron, namespace: mesh, labels: {app: cron}}
spec: {containers: [{name: c, image: x}]}
""",
    )
    assert "in these manifests: mesh/cron" in f.message
    assert "e.g." not in f.message  # no other identity: the excess is the shared one


def test_namespace_wide_rule_has_an_identity_witness(tmp_path):
    (f,) = _tree(
        tmp_path, '- from: [{source: {namespaces: ["mesh"]}}]\n  to: [{operation: {ports: ["8080"]}}]', [WEB_8080]
    )
    m = re.search(r"identity (cluster\.local/ns/(\S+)/sa/(\S+))\)", f.message)
    assert m and m.group(2) == "mesh" and m.group(3) != "web"
    assert principal_matches("cluster.local/ns/mesh/*", "spiffe://" + m.group(1), _settings())
    assert "mesh/batch" in f.message


def test_not_forms_admit_plaintext_unless_strict(tmp_path):
    rules = '- from: [{source: {notNamespaces: ["other"]}}]\n  to: [{operation: {ports: ["8080"]}}]'
    flows = [WEB_8080, "{from: mesh/batch, to: mesh/api, ports: [8080]}"]
    (tmp_path / "a").mkdir()
    (f,) = _tree(tmp_path / "a", rules, flows)
    assert "mesh/legacy" in f.message
    strict = """---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: strict, namespace: mesh}
spec: {mtls: {mode: STRICT}}
"""
    (tmp_path / "b").mkdir()
    (g,) = _tree(tmp_path / "b", rules, flows, extra=strict)
    assert "mesh/legacy" not in g.message  # STRICT refuses the plaintext pod


def test_a_matching_deny_rule_takes_peers_out(tmp_path):
    (tmp_path / "a").mkdir()
    assert _tree(
        tmp_path / "a",
        '- from: [{source: {principals: ["cluster.local/ns/mesh/sa/web", "cluster.local/ns/mesh/sa/default"]}}]\n'
        '  to: [{operation: {ports: ["8080"]}}]',
        [WEB_8080],
    )
    deny = """---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-default, namespace: mesh}
spec:
  selector: {matchLabels: {app: api}}
  action: DENY
  rules: [{from: [{source: {principals: ["cluster.local/ns/mesh/sa/default"]}}]}]
"""
    (tmp_path / "b").mkdir()
    assert (
        _tree(
            tmp_path / "b",
            '- from: [{source: {principals: ["cluster.local/ns/mesh/sa/web", "cluster.local/ns/mesh/sa/default"]}}]\n'
            '  to: [{operation: {ports: ["8080"]}}]',
            [WEB_8080],
            extra=deny,
        )
        == []
    )


def _settings():
    from scanner.network.istio.settings import IstioSettings

    return IstioSettings()


SOURCES = st.lists(
    st.sampled_from(["mesh/web", "mesh/batch", "mesh/legacy", "entity:world", "entity:cluster"]),
    max_size=3,
    unique=True,
)
RULES = st.sampled_from(
    [
        '- from: [{source: {namespaces: ["mesh"]}}]',
        '- from: [{source: {principals: ["cluster.local/ns/mesh/sa/web"]}}]',
        '- from: [{source: {notPrincipals: ["cluster.local/ns/mesh/sa/web"]}}]',
        '- from: [{source: {principals: ["*"]}}]\n  to: [{operation: {ports: ["8080"]}}]',
        '- from: [{source: {ipBlocks: ["203.0.113.0/24"]}}]',
    ]
)


@settings(max_examples=25, deadline=None)
@given(RULES, SOURCES, st.sampled_from(["mesh/web", "mesh/batch", "entity:cluster"]))
def test_documenting_a_flow_never_adds_a_finding(tmp_path_factory, rule, sources, extra_source):
    flows = [f"{{from: {s}, to: mesh/api, ports: [8080]}}" for s in sources]
    before = _tree(tmp_path_factory.mktemp("a"), rule, flows)
    after = _tree(
        tmp_path_factory.mktemp("b"), rule, [*flows, f"{{from: {extra_source}, to: mesh/api, ports: [8080]}}"]
    )
    assert len(after) <= len(before)


@pytest.mark.parametrize(
    "witness_rule", ['- from: [{source: {namespaces: ["m*"]}}]\n  to: [{operation: {ports: ["8080"]}}]']
)
def test_identity_witnesses_are_admitted_and_undocumented(tmp_path, witness_rule):
    (f,) = _tree(tmp_path, witness_rule, [WEB_8080])
    ident = re.search(r"identity (\S+)\)", f.message).group(1)
    assert ident != "cluster.local/ns/mesh/sa/web"
    from scanner.network.istio.match import namespace_regex

    assert namespace_regex("m*").fullmatch("spiffe://" + ident)
    _ = Peer  # the witness is an mTLS identity, evaluated as a Peer by the rule
