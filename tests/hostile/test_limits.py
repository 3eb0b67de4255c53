"""Bounded work: the limits are exact, and whatever is accepted just under a limit
is cheap for every later traversal (model, checks, every report format)."""

from __future__ import annotations

import time

from scanner.loader import yamltext
from scanner.loader.yamltext import EXPANSION_FLOOR, EXPANSION_RATIO, MAX_DEPTH, parse_yaml_text

from .helpers import deadline, render_all, scan_tree


def _nested(depth: int) -> str:
    return "v: " + "[" * (depth - 1) + "]" * (depth - 1) + "\n"  # the root mapping is level 1


def test_depth_limit_is_exact():
    assert parse_yaml_text(_nested(MAX_DEPTH), "d.yaml").problems == []
    (problem,) = parse_yaml_text(_nested(MAX_DEPTH + 1), "d.yaml").problems
    assert problem.rule_id == "INPUT001" and f"deeper than {MAX_DEPTH} levels" in problem.message


def test_aliases_below_the_budget_are_fine_and_shared_not_copied():
    text = "base: &b {a: 1, b: [1, 2, 3]}\n" + "".join(f"k{i}: *b\n" for i in range(100))
    result = parse_yaml_text(text, "a.yaml")
    assert result.problems == []
    data = result.documents[0].data
    assert all(data[f"k{i}"] is data["base"] for i in range(100)), "aliases share one object"


def test_expansion_budget_is_per_file_so_many_small_bombs_do_not_add_up():
    # each document: 10 aliases of a 1,000-value list -> 11,015 values from 1,015 written (within its own 10x),
    # but fifty of them would expand to ~500,000 from ~50,000 written: over the file's budget
    doc = "a: &a [" + ",".join(["1"] * 1000) + "]\nb: [" + ",".join(["*a"] * 10) + "]\n"
    result = parse_yaml_text("---\n".join([doc] * 50), "many.yaml")
    accepted = len(result.documents)
    refused = [p for p in result.problems if "alias bomb" in p.message]
    assert accepted + len(refused) == 50 and refused, (accepted, len(refused))
    written_per_doc, expanded_per_doc = 1015, 11_015  # values written / values once aliases are expanded
    assert accepted * expanded_per_doc <= max(EXPANSION_FLOOR, EXPANSION_RATIO * 50 * written_per_doc)
    assert (accepted + 1) * expanded_per_doc > max(EXPANSION_FLOOR, EXPANSION_RATIO * 50 * written_per_doc)


def test_a_workload_just_under_the_alias_budget_scans_and_renders_quickly(tmp_path):
    """1,500 aliases of one container: ~47,000 values once expanded, just under the budget.
    The model builds 1,500 containers; checks and reports must stay fast."""
    container = (
        "&c {name: app, image: example/app:1.0, securityContext: {privileged: true, runAsUser: 0},"
        " ports: [{containerPort: 80, hostPort: 80}], env: [{name: A, value: b}]}"
    )
    items = ", ".join(["*c"] * 1500)
    text = (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: wide, namespace: shop}\nspec:\n  template:\n"
        f"    metadata: {{labels: {{x: {container}}}}}\n"
        f"    spec:\n      containers: [{items}]\n"
    )
    result = parse_yaml_text(text, "wide.yaml")
    assert [p.rule_id for p in result.problems if "alias" in p.message] == [], "just under the budget"
    (tmp_path / "wide.yaml").write_text(text, encoding="utf-8")
    with deadline(60):
        started = time.monotonic()
        scanned = scan_tree(tmp_path)
        reports = render_all(scanned)
        elapsed = time.monotonic() - started
    assert elapsed < 30, f"{elapsed:.1f}s for a document just under the alias budget"
    assert sum(len(r) for r in reports.values()) < 20_000_000


def test_a_bomb_inside_a_workload_is_refused_before_the_model_sees_it(tmp_path, monkeypatch):
    calls = []
    original = yamltext._Composer._end_document

    def spy(self, refused, root, root_size, where, written):
        calls.append(root_size)
        return original(self, refused, root, root_size, where, written)

    monkeypatch.setattr(yamltext._Composer, "_end_document", spy)
    lol = "&l0 [" + ",".join(["lol"] * 10) + "]"
    levels = [f"l1: &l1 [{','.join(['*l0'] * 10)}]"] + [
        f"l{i}: &l{i} [{','.join([f'*l{i - 1}'] * 10)}]" for i in range(2, 9)
    ]
    text = (
        "apiVersion: v1\nkind: Pod\nmetadata: {name: bomb, namespace: shop}\nspec:\n"
        f"  containers: [{{name: a, image: b, args: {lol}}}]\n"
        "  bombs:\n" + "".join(f"    {line}\n" for line in levels)
    )
    (tmp_path / "bomb.yaml").write_text(text, encoding="utf-8")
    with deadline(20):
        result = scan_tree(tmp_path)
        render_all(result)
    assert calls and calls[0] > 10**8
    assert [f.rule_id for f in result.findings] == ["INPUT001"] and result.workload_count == 0


def test_a_file_with_too_many_values_stops_at_the_cap(monkeypatch):
    monkeypatch.setattr(yamltext, "MAX_VALUES_PER_FILE", 1000)
    text = "a: 1\n---\n" + "[" + ",".join(["1"] * 2000) + "]\n---\nb: 2\n"
    result = parse_yaml_text(text, "many.json")
    assert [d.data for d in result.documents] == [{"a": 1}]
    (problem,) = result.problems
    assert (problem.rule_id, problem.loc.line) == ("INPUT001", 2)
    assert "more than 1,000 values; document 2 and the rest of the file are not scanned" in problem.message
