"""The documented matrix against the composed decision (NET001, NET003) on drifted copies
of the blog-system example, and the exactness of witness requests (lang.py, l7diff.py)."""

from __future__ import annotations

import re
import shutil

import pytest
from conftest import REPO, scan_path
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scanner.network.istio import lang

BLOG = REPO / "fixtures" / "blog-system"


def _drift(tmp_path, edits: dict[str, list[tuple[str, str]]]):
    tree = tmp_path / "blog"
    shutil.copytree(BLOG, tree)
    for rel, pairs in edits.items():
        path = tree / rel
        text = path.read_text()
        for old, new in pairs:
            assert old in text, (rel, old)
            text = text.replace(old, new)
        path.write_text(text)
    return scan_path(tree)


def _messages(result, rule: str) -> list[str]:
    return [f.message for f in result.active() if f.rule_id == rule]


def _without_cilium_http_rule(text: str) -> str:
    start = text.index("      rules:\n        http:\n        - method: GET\n          path: /api/.*")
    end = text.index("  # Istio sidecar: Prometheus scrapes Envoy merged metrics on 15020", start)
    return text[:start] + text[end:]


def test_blog_system_keeps_every_promise_with_both_layers():
    result = scan_path(BLOG)
    assert result.active() == []
    flows = [r for r in result.promises if r.promise.family == "flows"]
    assert flows and all(r.status == "kept" for r in flows)


def test_istio_widening_is_invisible_while_cilium_holds_the_line(tmp_path):
    # The composed decision is the promise: Cilium's HTTP rule still refuses /admin.
    result = _drift(
        tmp_path, {"blog-system/istio-authz.yaml": [('paths: ["/actuator/*"]', 'paths: ["/actuator/*", "/admin"]')]}
    )
    assert _messages(result, "NET003") == []


def test_istio_widening_with_no_cilium_http_rule_is_reported_with_a_witness(tmp_path):
    tree = tmp_path / "blog"
    shutil.copytree(BLOG, tree)
    cnp = tree / "blog-system" / "cilium-netpol.yaml"
    cnp.write_text(_without_cilium_http_rule(cnp.read_text()))
    authz = tree / "blog-system" / "istio-authz.yaml"
    authz.write_text(authz.read_text().replace('paths: ["/actuator/*"]', 'paths: ["/actuator/*", "/admin"]'))
    (message,) = _messages(scan_path(tree), "NET003")
    assert (
        "GET /admin on blog-system/was:8080 is allowed by AuthorizationPolicy blog-system/was-authz rules[1]" in message
    )
    assert (
        "the document allows only DELETE /api/.*, GET /actuator/.*, GET /api/.*, POST /api/.*, PUT /api/.*" in message
    )


def test_a_documented_request_istio_denies_is_reported(tmp_path):
    result = _drift(
        tmp_path,
        {
            "blog-system/istio-authz.yaml": [
                ('methods: ["GET", "POST", "PUT", "DELETE"]', 'methods: ["GET", "POST", "PUT"]')
            ]
        },
    )
    (message,) = _messages(result, "NET003")
    assert re.search(
        r"DELETE /api/\S* on blog-system/was:8080 is documented but denied by Istio \(no ALLOW rule of "
        r"AuthorizationPolicy blog-system/was-authz",
        message,
    )


def test_an_istio_condition_no_manifest_decides_is_never_a_pass(tmp_path):
    result = _drift(
        tmp_path,
        {
            "blog-system/istio-authz.yaml": [
                (
                    '        paths: ["/actuator/*"]\n',
                    '        paths: ["/actuator/*"]\n    when:\n    - key: request.auth.claims[role]\n      values: ["ops"]\n',
                )
            ]
        },
    )
    (message,) = _messages(result, "NET003")
    assert "GET /actuator/ on blog-system/was:8080 cannot be decided offline" in message
    assert "request.auth.claims[role] (undecidable offline: JWT claims are not in the manifests)" in message


def test_istio_blocking_a_documented_flow_is_net001(tmp_path):
    result = _drift(
        tmp_path,
        {
            "blog-system/istio-authz.yaml": [
                (
                    "# web's own identity",
                    (
                        "# mysql admits nobody\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\n"
                        "metadata: {name: mysql-nothing, namespace: blog-system}\nspec:\n  selector: {matchLabels: {app: mysql}}\n---\n"
                        "# web's own identity"
                    ),
                )
            ]
        },
    )
    messages = _messages(result, "NET001")
    assert any(
        m.startswith(
            "documented flow blog-system/was -> blog-system/mysql on TCP 3306 is blocked on TCP 3306: Istio refuses it"
        )
        for m in messages
    )
    assert len(messages) == 3  # was, mysql-backup and the exporter all lose mysql


def test_plaintext_to_strict_is_net001(tmp_path):
    # The backup Job has no sidecar: a STRICT mysql refuses it before any authorization.
    result = _drift(
        tmp_path,
        {
            "blog-system/istio-authz.yaml": [
                ("  name: was-mtls", "  name: mysql-mtls"),
                ("      app: was\n  mtls:", "      app: mysql\n  mtls:"),
            ]
        },
    )
    (message,) = [m for m in _messages(result, "NET001") if "mysql-backup" in m]
    assert "mTLS is STRICT" in message and 'sidecar.istio.io/inject="false"' in message


# -- exactness of the witness machinery --------------------------------------------------

PATTERNS = st.sampled_from(["/api/.*", "/api/[a-z]+", "/(a|b)c?", "/x{2,3}", r"/\d+/.*", "/.*\\.json", "/api"])
ISTIO = st.sampled_from(["/api/*", "*.json", "/a", "*", "/x/{*}/y", "/f/{**}"])
PATHS = st.text(alphabet="/apix.jsonbcy0123?", min_size=1, max_size=10).map(lambda s: "/" + s)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(PATTERNS, PATHS)
def test_regex_automata_agree_with_the_regex_engine(pattern, path):
    assert lang.regex(pattern, lang.PATH_CHARS).matches(path) == (re.fullmatch(pattern, path) is not None)


@settings(max_examples=200, deadline=None)
@given(ISTIO, PATHS)
def test_istio_path_automata_agree_with_the_matcher(value, path):
    from scanner.network.istio.match import path_matches

    assert lang.istio_value(value, lang.PATH_CHARS, path=True).matches(path) == path_matches(value, path)


@settings(max_examples=60, deadline=None)
@given(st.lists(PATTERNS, min_size=1, max_size=3), st.lists(ISTIO, min_size=1, max_size=2), PATHS)
def test_every_path_falls_in_a_cell_whose_witness_answers_alike(regexes, values, path):
    # The cells partition the strings: any path's answers equal those of some cell's witness.
    atoms = [lang.regex(r, lang.PATH_CHARS) for r in regexes] + [
        lang.istio_value(v, lang.PATH_CHARS, path=True) for v in values
    ]
    cells = lang.cells(atoms, lang.normalized_paths(), lang.PATH_CHARS)
    assert cells
    if not lang.normalized_paths().matches(path):
        return
    answers = tuple(a.matches(path) for a in atoms)
    assert answers in {c.answers for c in cells}
    for c in cells:
        assert tuple(a.matches(c.witness) for a in atoms) == c.answers


@pytest.mark.parametrize("pattern", [r"(a)\1", "(?=a)a", "a{100}"])
def test_non_regular_or_huge_patterns_are_unsupported_not_guessed(pattern):
    with pytest.raises(lang.Unsupported):
        lang.regex(pattern, lang.PATH_CHARS)
