"""Input is data, never code: no tag is ever constructed, nothing is executed.

Each payload would create a canary file if any YAML constructor ran it.  The
payloads go through every path that reads YAML: manifests, JSON files, the
policy file (discovered and explicit), the library API and the command line.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from scanner.loader.documents import load
from scanner.policy import PolicyError, load_policy

from .helpers import GOOD, render_all, run_cli, scan_tree


def payloads(canary: Path) -> dict[str, str]:
    c = str(canary)
    py = sys.executable
    return {
        "apply-os-system": f'!!python/object/apply:os.system ["touch {c}"]',
        "apply-subprocess": f'!!python/object/apply:subprocess.check_call [["touch", "{c}"]]',
        "new-os-system": f'!!python/object/new:os.system ["touch {c}"]',
        "apply-exec": f"!!python/object/apply:exec [\"open('{c}', 'w').close()\"]",
        "apply-eval-import": f"!!python/object/apply:eval [\"__import__('pathlib').Path('{c}').touch()\"]",
        "name-then-call": f'!!python/object/apply:subprocess.run [["{py}", "-c", "open(\'{c}\', \'w\')"]]',
        "state-setstate": "!!python/object/new:type\n    args: [z, !!python/tuple [], {}]\n"
        f"    state: {{extend: !!python/name:exec , listitems: \"open('{c}', 'w')\"}}",
        "module": "!!python/module:os",
        "name": "!!python/name:os.system",
    }


@pytest.fixture
def canary(tmp_path: Path) -> Path:
    path = tmp_path / "CANARY-created-by-input"
    yield path
    assert not path.exists(), "a YAML tag was constructed and executed"


@pytest.mark.parametrize("payload", sorted(payloads(Path("/x"))))
def test_python_tags_in_a_manifest_are_reported_never_constructed(tmp_path, canary, payload):
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "good.yaml").write_text(GOOD, encoding="utf-8")
    value = payloads(canary)[payload]
    (tree / "evil.yaml").write_text(
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: evil\ndata:\n  run: {value}\n", encoding="utf-8"
    )
    result = scan_tree(tree)
    render_all(result)
    evil = [f for f in result.findings if f.loc.path == "evil.yaml"]
    assert evil and all(f.rule_id == "INPUT001" for f in evil)
    assert any("never constructed" in f.message and f.loc.line == 6 for f in evil)
    assert result.workload_count == 1


def test_python_tags_in_json_and_at_top_level(tmp_path, canary):
    c = payloads(canary)
    (tmp_path / "evil.json").write_text('{"a": ' + c["apply-os-system"] + "}", encoding="utf-8")
    (tmp_path / "top.yaml").write_text(c["apply-subprocess"] + "\n", encoding="utf-8")
    (tmp_path / "key.yaml").write_text("? " + c["apply-exec"] + "\n: v\n", encoding="utf-8")
    result = load([tmp_path], tmp_path)
    assert {p.loc.path for p in result.problems} == {"evil.json", "top.yaml", "key.yaml"}


def test_python_tags_in_the_policy_file_are_refused(tmp_path, canary):
    for name, value in payloads(canary).items():
        policy = tmp_path / f"{name}.yaml"
        policy.write_text(f"apiVersion: kubematrix.dev/v1\nkind: Policy\nsettings: {value}\n", encoding="utf-8")
        with pytest.raises(PolicyError, match="never constructed"):
            load_policy(policy, tmp_path)


def test_the_command_line_never_executes_input(tmp_path, canary):
    tree = tmp_path / "tree"
    tree.mkdir()
    for i, value in enumerate(payloads(canary).values()):
        (tree / f"evil-{i}.yaml").write_text(f"a: {value}\n", encoding="utf-8")
    (tree / "kubematrix.yaml").write_text(
        f"apiVersion: kubematrix.dev/v1\nkind: Policy\nsettings: {payloads(canary)['apply-os-system']}\n",
        encoding="utf-8",
    )
    # with the discovered (hostile) policy file: a usage error, exit 2
    proc = run_cli(["scan", ".", "--format", "json"], cwd=tree, process=True)  # the real console script
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "never constructed" in proc.stderr
    # without it: the manifests are scanned and their tags reported
    (tree / "kubematrix.yaml").unlink()
    for fmt in ("text", "json", "sarif"):
        proc = run_cli(["scan", ".", "--format", fmt], cwd=tree)
        assert proc.returncode == 1, proc.stderr
        assert "Traceback" not in proc.stderr
