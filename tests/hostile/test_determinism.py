"""Byte-identical reports: across repeated runs, across the order in which files
were created (directory listing order) and the way the path is spelled, and
across ``PYTHONHASHSEED`` values."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest

from .helpers import REPO, render_all, run_cli, scan_tree

BLOG = REPO / "fixtures" / "blog-system"

EXTRA = {
    "broken/tab.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n\tname: t\n",
    "broken/dup.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: d, namespace: blog-system}\ndata: {a: 1, a: 2, b: 1, b: 2}\n",
    "broken/tags.yaml": "a: !Ref x\nb: !GetAtt y\nc: !!python/name:os.system\nd: !Ref z\n",
    "broken/types.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: blog-system}\n"
    "spec:\n  containers: [{name: a, image: b, securityContext: 'yes', ports: [{containerPort: x}, 7]}, z]\n",
    "broken/list.yaml": "apiVersion: v1\nkind: List\nitems: [1, {kind: Pod}, {apiVersion: v1, kind: ConfigMap, metadata: {name: c}}]\n",
    "broken/bomb.yaml": "a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\n",
    "broken/helm.yaml": "kind: {{ .Values.kind }}\n",
    "broken/bin.yaml": b"\x00\x01binary",
    "broken/utf16.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: u, namespace: blog-system}\n".encode(
        "utf-16"
    ),
    "broken/same-line.yaml": "{a: 1, a: 2, a: 3}\n",
}


def build_tree(root: Path, seed: int | None) -> Path:
    """The example plus hostile files, created in an order that depends on ``seed``
    (so directory listings come back in different orders)."""
    files: dict[str, bytes] = {}
    for path in sorted(BLOG.rglob("*")):
        if path.is_file() and not path.is_symlink():
            files[path.relative_to(BLOG).as_posix()] = path.read_bytes()
    for name, content in EXTRA.items():
        files[name] = content if isinstance(content, bytes) else content.encode("utf-8")
    names = list(files)
    if seed is not None:
        random.Random(seed).shuffle(names)
    else:
        names.reverse()
    for name in names:
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(files[name])
    return root


def test_repeated_runs_are_byte_identical(tmp_path):
    tree = build_tree(tmp_path / "tree", 1)
    first = render_all(scan_tree(tree))
    for _ in range(2):
        assert render_all(scan_tree(tree)) == first


@pytest.mark.parametrize("seed", [None, 2, 3])
def test_file_creation_order_does_not_change_a_byte(tmp_path, seed):
    reference = render_all(scan_tree(build_tree(tmp_path / "a" / "tree", 1)))
    other = render_all(scan_tree(build_tree(tmp_path / "b" / "tree", seed)))
    assert other == reference


def test_the_spelling_of_the_path_does_not_change_a_byte(tmp_path):
    build_tree(tmp_path / "tree", 4)
    outputs = []
    for spelling in ("tree", "./tree", "tree/", str(tmp_path / "tree"), "tree/../tree"):
        proc = run_cli(["scan", spelling, "--format", "json"], cwd=tmp_path)
        assert proc.returncode == 1, proc.stderr
        outputs.append(proc.stdout)
    assert all(o == outputs[0] for o in outputs)


def test_pythonhashseed_does_not_change_a_byte(tmp_path):
    tree = build_tree(tmp_path / "tree", 5)
    shutil.copy(BLOG / "kubematrix.yaml", tree / "kubematrix.yaml")
    for fmt in ("json", "sarif", "text"):
        outputs = set()
        for seed in ("0", "4242", "random"):
            proc = run_cli(
                ["scan", ".", "--format", fmt, "--no-color"], cwd=tree, env={"PYTHONHASHSEED": seed}, process=True
            )
            assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
            outputs.add(proc.stdout)
        assert len(outputs) == 1, f"{fmt} output depends on the hash seed"
