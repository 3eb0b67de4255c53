"""Wrong Istio objects and hostile patterns never crash a scan, explain, graph or paths:
findings with file and line, or a clear "undecided", never a traceback."""

from __future__ import annotations

import contextlib
import tempfile
import time
from pathlib import Path

import yaml
from conftest import REPO
from hostile.helpers import render_all, scan_tree
from hostile.test_fuzz import _mutate, budget
from hypothesis import given
from hypothesis import strategies as st

from scanner.cli.app import _run
from scanner.network.istio import lang

BLOG = REPO / "fixtures" / "blog-system"
ISTIO_OBJECTS = list(yaml.safe_load_all((BLOG / "blog-system" / "istio-authz.yaml").read_text()))
EXTRA = list(
    yaml.safe_load_all("""
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: {name: mix, namespace: blog-system, annotations: {istio.io/dry-run: "false"}}
spec:
  action: DENY
  rules:
  - from: [{source: {notPrincipals: ["*"], ipBlocks: ["10.0.0.0/8"], notNamespaces: [x]}}]
    to: [{operation: {hosts: ["a.example:*"], notPaths: ["/x/{**}"], ports: ["8080"]}}]
    when: [{key: "request.headers[x-a]", values: ["1"]}, {key: source.ip, notValues: ["1.2.3.4"]}]
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: ns, namespace: blog-system}
spec: {mtls: {mode: PERMISSIVE}}
""")
)


@budget(40)
@given(data=st.data())
def test_any_wrong_istio_object_gives_findings_never_an_exception(data):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "blog"
        import shutil

        shutil.copytree(BLOG, root)
        objects = [_mutate(o, data.draw, data.draw(st.integers(0, 4), label="rounds")) for o in ISTIO_OBJECTS + EXTRA]
        (root / "blog-system" / "istio-authz.yaml").write_text(
            yaml.safe_dump_all(objects, sort_keys=False), encoding="utf-8"
        )
        started = time.monotonic()
        result = scan_tree(root)
        render_all(result)
        assert time.monotonic() - started < 20
        for finding in result.findings:
            assert finding.loc.line >= 1 and finding.rule_id in result.rules
        for args in (
            ["graph", str(root), "--format", "json"],
            ["paths", str(root), "--from", "entity:world", "--to", "blog-system/mysql", "--limit", "2"],
            [
                "explain",
                str(root),
                "--from",
                "blog-system/web",
                "--to",
                "blog-system/was",
                "--port",
                "8080",
                "--method",
                "GET",
                "--path",
                "/api/x",
            ],
        ):
            assert _run(args, "kubematrix") in (0, 1, 2)


def test_pathological_patterns_are_undecided_not_crashes():
    nested = "(" * 400 + "a" + ")" * 400
    for pattern in (nested, "(a|aa)*b{0,64}(c|cc)*" * 3, "[", r"\1"):
        with contextlib.suppress(lang.Unsupported):  # undecided is fine; any other exception fails
            lang.regex(pattern, lang.PATH_CHARS)


def test_an_exploding_product_is_undecided(monkeypatch):
    atoms = [lang.regex(f".*a.{{{n}}}", lang.PATH_CHARS) for n in (5, 6, 7, 8)]
    try:
        lang.cells(atoms, lang.normalized_paths(), lang.PATH_CHARS, limit=500)
    except lang.Undecided as exc:
        assert "500" in str(exc)
    else:
        raise AssertionError("the budget must bound the exploration")
