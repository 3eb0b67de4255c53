"""The real program on a hostile tree: every format, the documented exit code,
one finding per problem with file and line, and never a Python traceback."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from .helpers import GOOD, run_cli
from .test_malformed import CASES, _write

TRACEBACK = "Traceback (most recent call last)"


@pytest.fixture(scope="module")
def hostile_tree(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("hostile")
    (root / "good.yaml").write_text(GOOD, encoding="utf-8")
    for case in CASES:
        _write(root, case)
    if hasattr(os, "symlink"):
        os.symlink("/etc/passwd", root / "passwd.yaml")
        os.symlink(".", root / "loop")
    if hasattr(os, "mkfifo"):
        os.mkfifo(root / "pipe.yaml")
    return root


@pytest.mark.parametrize("fmt", ["text", "json", "sarif"])
def test_a_hostile_tree_gives_findings_and_exit_1_never_a_traceback(hostile_tree, fmt):
    proc = run_cli(["scan", ".", "--format", fmt], cwd=hostile_tree, timeout=300)
    assert TRACEBACK not in proc.stderr and TRACEBACK not in proc.stdout
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr == ""
    assert "root:x:0" not in proc.stdout, "a link out of the tree was followed"
    if fmt == "json":
        report = json.loads(proc.stdout)
        paths = {f["path"] for f in report["findings"]}
        for case in CASES:
            if case.expect:
                assert case.name in paths, case.id
        assert all(f["line"] >= 1 for f in report["findings"])
    if fmt == "sarif":
        sarif = json.loads(proc.stdout)
        results = sarif["runs"][0]["results"]
        assert results and all(r["locations"][0]["physicalLocation"]["region"]["startLine"] >= 1 for r in results)


def test_fail_on_error_still_fails_for_unparsable_input(hostile_tree):
    proc = run_cli(["scan", ".", "--fail-on", "error", "--format", "json"], cwd=hostile_tree, timeout=300)
    assert proc.returncode == 1 and TRACEBACK not in proc.stderr


def test_fail_on_never_exits_0_even_for_a_hostile_tree(hostile_tree):
    proc = run_cli(["scan", ".", "--fail-on", "never", "--format", "json"], cwd=hostile_tree, timeout=300)
    assert proc.returncode == 0 and TRACEBACK not in proc.stderr


POLICIES = {
    "tab": "apiVersion: kubematrix.dev/v1\nkind: Policy\n\tsettings: {}\n",
    "scalar": "just text\n",
    "list": "- a\n- b\n",
    "empty": "",
    "two-documents": "apiVersion: kubematrix.dev/v1\nkind: Policy\n---\napiVersion: kubematrix.dev/v1\nkind: Policy\n",
    "wrong-types": "apiVersion: kubematrix.dev/v1\nkind: Policy\nsecurityContext: yes\nsettings: [1]\n",
    "binary": b"\x00\xff\x00",
    "utf16": "apiVersion: kubematrix.dev/v1\nkind: Policy\nsecurityContext: 7\n".encode("utf-16"),
    "bomb": "apiVersion: kubematrix.dev/v1\nkind: Policy\n"
    "x: &a [1,1,1,1,1,1,1,1,1,1]\ny: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nz: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "w: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\nv: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\n",
    "deep": "apiVersion: kubematrix.dev/v1\nkind: Policy\nsettings: " + "[" * 5000 + "]" * 5000 + "\n",
    "helm": "apiVersion: kubematrix.dev/v1\nkind: Policy\nsettings: {{ .Values.settings }}\n",
}


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_a_hostile_policy_file_is_a_usage_error_with_file_and_line(tmp_path, name):
    (tmp_path / "good.yaml").write_text(GOOD, encoding="utf-8")
    content = POLICIES[name]
    policy = tmp_path / "kubematrix.yaml"
    policy.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    proc = run_cli(["scan", "."], cwd=tmp_path)
    assert TRACEBACK not in proc.stderr
    assert proc.returncode == 2, (proc.returncode, proc.stderr, proc.stdout[-500:])
    assert proc.stderr.startswith("kubematrix: error: kubematrix.yaml:"), proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_usage_errors_are_one_line_exit_2(tmp_path):
    for args in (
        ["scan", "/no/such/dir"],
        ["scan", ".", "--policy", "/no/such.yaml"],
        ["scan", ".", "--format", "xml"],
    ):
        proc = run_cli(args, cwd=tmp_path)
        assert proc.returncode == 2 and TRACEBACK not in proc.stderr, (args, proc.stderr)


def test_output_to_a_directory_is_a_usage_error(tmp_path):
    (tmp_path / "good.yaml").write_text(GOOD, encoding="utf-8")
    (tmp_path / "out").mkdir()
    proc = run_cli(["scan", "good.yaml", "--output", "out"], cwd=tmp_path)
    assert TRACEBACK not in proc.stderr
    assert proc.returncode == 2, proc.stderr
