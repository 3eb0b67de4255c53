"""Mermaid and DOT diagrams name every node uniquely: ``web-v1`` and ``web.v1`` are two
workloads, so they must be two boxes (a plain replacement of punctuation by ``_``
merged them into one, drawing the edges of both on it)."""

from __future__ import annotations

import re

from helpers import objects_from, pod
from hypothesis import given
from hypothesis import strategies as st

from scanner.network import NetworkSettings, build_traffic
from scanner.network.graph import (
    mermaid_id,
    mermaid_subgraph_id,
    mermaid_text,
    to_dot,
    to_mermaid,
)

# Two workloads whose names differ only in punctuation, each allowed to reach a third.
TWINS = pod("web-v1", "shop") + pod("web.v1", "shop") + pod("web_v1", "shop") + pod("db", "shop")


def _graph():
    from scanner.model.build import build_model

    objects = objects_from(TWINS)
    return build_traffic(build_model(objects), objects, NetworkSettings(), ()).graph


def test_mermaid_gives_each_node_its_own_id():
    text = to_mermaid(_graph())
    boxes = re.findall(r'^\s+(n_\w+)\["([^"]*)"\]$', text, re.MULTILINE)
    ids = [i for i, _ in boxes]
    assert sorted(label for _, label in boxes) == ["db", "web-v1", "web.v1", "web_v1"]
    assert len(set(ids)) == len(ids) == 4
    # every pair of the four workloads may talk (nothing isolates them): 12 distinct edges among them
    edges = re.findall(r"^\s+(n_\w+) -->\|[^|]*\| (n_\w+)$", text, re.MULTILINE)
    among = [(u, v) for u, v in edges if u in ids and v in ids]
    assert len(among) == len(set(among)) == 12
    assert {mermaid_id("shop/web-v1"), mermaid_id("shop/web.v1"), mermaid_id("shop/web_v1")} <= set(ids)


def test_dot_gives_each_node_its_own_id():
    text = to_dot(_graph())
    nodes = re.findall(r'^\s+("(?:[^"\\]|\\.)*") \[label=', text, re.MULTILINE)
    assert sorted(nodes) == ['"shop/db"', '"shop/web-v1"', '"shop/web.v1"', '"shop/web_v1"']
    edges = re.findall(r'^\s+("(?:[^"\\]|\\.)*") -> ("(?:[^"\\]|\\.)*")', text, re.MULTILINE)
    among = [(u, v) for u, v in edges if u in nodes and v in nodes]
    assert len(among) == len(set(among)) == 12


@given(st.text(max_size=12), st.text(max_size=12))
def test_mermaid_ids_are_injective_and_plain(a, b):
    for text in (a, b):
        assert re.fullmatch(r"n_[A-Za-z0-9_]*", mermaid_id(text))
        assert re.fullmatch(r"s_[A-Za-z0-9_]*", mermaid_subgraph_id(text))
    assert (mermaid_id(a) == mermaid_id(b)) == (a == b)
    assert mermaid_id(a) != mermaid_subgraph_id(b)


def test_mermaid_labels_hold_nothing_mermaid_would_read():
    shown = mermaid_text('a"b#c<d>e`f\ng')
    assert not set(shown) & set('"<>`\n')
    assert shown == "a#34;b#35;c#60;d#62;e#96;f g"
