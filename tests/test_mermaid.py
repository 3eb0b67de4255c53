"""Every Mermaid diagram kubematrix emits parses with the real Mermaid parser.

``tests/mermaid/validate.mjs`` runs ``mermaid.parse`` (npm ``mermaid@11``, in Node.js
with ``jsdom`` for the DOM it needs) on the diagrams of ``kubematrix graph --format
mermaid`` and of the markdown report, for the blog-system example, the network rule
fixtures and a tree of hostile names.  The packages are found through
``KUBEMATRIX_NODE_MODULES`` (the ``node_modules`` directory; ``.ci/run`` installs them);
without them these tests are skipped, saying what to install.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

from conftest import FIXED_TODAY, REPO, missing_tool

from scanner.cli.app import _run
from scanner.network.graph import mermaid_id
from scanner.report import render
from scanner.scan import ScanOptions, run_scan

VALIDATOR = REPO / "tests" / "mermaid" / "validate.mjs"
HOW = (
    "npm install --prefix DIR mermaid@11 jsdom, then set KUBEMATRIX_NODE_MODULES=DIR/node_modules "
    "(bash .ci/run does both)"
)
NETWORK_CASES = ["NET001", "NET002", "NET003", "NET004", "NET005", "NET006", "NET007", "NET008"]


def _node_modules() -> Path:
    where = os.environ.get("KUBEMATRIX_NODE_MODULES")
    if shutil.which("node") is None:
        missing_tool(f"Node.js is not installed: the Mermaid parser runs in it ({HOW})")
    if not where:
        missing_tool(f"KUBEMATRIX_NODE_MODULES is not set: {HOW}")
    missing = [p for p in ("mermaid", "jsdom") if not (Path(where) / p / "package.json").is_file()]
    if missing:
        missing_tool(f"{', '.join(missing)} not in {where}: {HOW}")
    return Path(where)


def validate(files: list[Path]) -> dict[str, str]:
    """file name -> "OK" or the parser's error."""
    env = {**os.environ, "KUBEMATRIX_NODE_MODULES": str(_node_modules())}
    done = subprocess.run(
        ["node", str(VALIDATOR), *map(str, files)], capture_output=True, text=True, env=env, timeout=300, check=False
    )
    assert done.returncode in (0, 1), done.stderr
    out = {}
    for line in done.stdout.splitlines():
        status, _, rest = line.partition(" ")
        name, _, error = rest.partition(": ") if status == "ERROR" else (rest, "", "")
        out[Path(name).name] = "OK" if status == "OK" else error
    assert len(out) == len(files), done.stdout + done.stderr
    return out


def markdown_diagrams(text: str) -> list[str]:
    return re.findall(r"^```mermaid\n(.*?)^```$", text, re.MULTILINE | re.DOTALL)


def _graph_mermaid(directory: Path, target: Path, monkeypatch) -> None:
    monkeypatch.chdir(directory)
    assert _run(["graph", ".", "--format", "mermaid", "--output", str(target)], "kubematrix") == 0


def _markdown(directory: Path) -> str:
    result = run_scan(ScanOptions(paths=(directory,), cwd=directory, today=FIXED_TODAY, matrix_view=True))
    return render(result, "markdown")


def _collect(cases: dict[str, Path], out: Path, monkeypatch) -> list[Path]:
    files = []
    for name, directory in cases.items():
        graph = out / f"{name}.graph.mmd"
        _graph_mermaid(directory, graph, monkeypatch)
        files.append(graph)
        for i, diagram in enumerate(markdown_diagrams(_markdown(directory))):
            files.append(out / f"{name}.markdown-{i}.mmd")
            files[-1].write_text(diagram, encoding="utf-8")
    return files


def test_the_validator_rejects_a_broken_diagram(tmp_path):
    # No false green: a diagram Mermaid cannot read must come back as an error.
    good, bad = tmp_path / "good.mmd", tmp_path / "bad.mmd"
    good.write_text("flowchart LR\n  a --> b\n", encoding="utf-8")
    bad.write_text("flowchart LR\n  a -->\n  linkStyle 7 stroke:#f00\n", encoding="utf-8")
    got = validate([good, bad])
    assert got["good.mmd"] == "OK"
    assert "Parse error" in got["bad.mmd"]


def test_blog_system_diagrams_parse(tmp_path, monkeypatch):
    files = _collect({"blog-system": REPO / "fixtures" / "blog-system"}, tmp_path, monkeypatch)
    assert len(files) == 2  # the graph and the markdown report's diagram
    assert validate(files) == {f.name: "OK" for f in files}


def test_network_rule_fixture_diagrams_parse(tmp_path, monkeypatch):
    cases = {
        f"{rule}-{kind}": REPO / "fixtures" / "rules" / rule / kind
        for rule in NETWORK_CASES
        for kind in ("pass", "fail")
    }
    files = _collect(cases, tmp_path, monkeypatch)
    drawn = [f for f in files if ".markdown-" in f.name]
    assert len(drawn) >= 8, "the fixtures with a traffic matrix draw one"
    assert validate(files) == {f.name: "OK" for f in files}
    # the three kinds of edge all occur, so each arrow style was parsed
    text = "".join(f.read_text(encoding="utf-8") for f in drawn)
    assert " ==>|" in text and " -->|" in text and " -.-x|" in text


HOSTILE = """\
apiVersion: v1
kind: Pod
metadata: {{name: {name}, namespace: {ns}, labels: {{app: {app}}}}}
spec: {{containers: [{{name: c, image: x}}]}}
"""


def test_hostile_names_still_parse(tmp_path, monkeypatch):
    # Names a lenient loader accepts, with every character Mermaid would read as syntax;
    # the documented flow (the schema allows only DNS names there) makes every edge kind occur.
    tree = tmp_path / "tree"
    tree.mkdir()
    pods = [
        ("n`s#1", 'we"b<script>', "x"),
        ("n`s#1", "end", "y"),
        ("n`s#1", "a|b]c", "z"),
        ("shop", "web", "web"),
        ("shop", "db", "db"),
    ]
    (tree / "pods.yaml").write_text(
        "---\n".join(HOSTILE.format(ns=json.dumps(ns), name=json.dumps(name), app=app) for ns, name, app in pods),
        encoding="utf-8",
    )
    (tree / "kubematrix.yaml").write_text(
        "apiVersion: kubematrix.dev/v1alpha1\nkind: Policy\ntraffic:\n  flows:\n"
        "    - {from: shop/web, to: shop/db, ports: [5432]}\n    - {from: shop/db, to: shop/web, ports: [{port: http}]}\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    out.mkdir()
    files = _collect({"hostile": tree}, out, monkeypatch)
    assert len(files) == 2
    assert validate(files) == {f.name: "OK" for f in files}
    text = "".join(f.read_text(encoding="utf-8") for f in files)
    assert text.count(mermaid_id('n`s#1/we"b<script>') + '["we#34;b#60;script#62;"]') == 2
    assert "<script>" not in text and " -.-x|" in text
