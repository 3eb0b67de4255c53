"""Unit tests of the building blocks: interval sets, FQDN patterns, label filter, selectors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scanner.network import fqdn
from scanner.network.labelfilter import DEFAULT_FILTER, LabelFilter
from scanner.network.ports import FULL, IntervalSet, PortSet, port_range_set
from scanner.network.selectors import Label, Requirement, Selector, SelectorIndex, parse_label_selector, split_source

spans = st.lists(st.tuples(st.integers(1, 60), st.integers(1, 60)).map(lambda t: (min(t), max(t))), max_size=5)


def members(s: IntervalSet) -> set[int]:
    return {x for lo, hi in s for x in range(lo, hi + 1)}


@given(spans, spans)
def test_interval_set_algebra(a, b):
    x, y = IntervalSet.of(a), IntervalSet.of(b)
    assert members(x.union(y)) == members(x) | members(y)
    assert members(x.intersect(y)) == members(x) & members(y)
    assert members(x.subtract(y)) == members(x) - members(y)
    assert x.union(y) == y.union(x)
    # canonical: merged and sorted, no adjacent spans
    for (_lo1, h1), (l2, _hi2) in zip(x.spans, x.spans[1:], strict=False):
        assert h1 + 1 < l2


def test_port_set_json_and_any():
    assert port_range_set("ANY", 53, 53).describe() == "TCP 53; UDP 53; SCTP 53"
    assert port_range_set("TCP", 0, 0).to_json() == [{"protocol": "TCP", "port": 1, "endPort": 65535}]
    assert {"protocol": "ICMP", "family": "IPv4"} in FULL.to_json()
    assert {"protocol": "ICMP", "family": "IPv6"} in FULL.to_json()
    assert PortSet.single("ICMP", 8).to_json() == [{"protocol": "ICMP", "family": "IPv4", "type": 8, "endType": 8}]


@pytest.mark.parametrize(
    "selector, node, expected",
    [
        ("*.example.com", "*.example.com", True),
        ("**.example.com", "*.example.com", True),
        ("*.example.com", "**.example.com", False),
        ("*", "**.anything", True),
        ("a*.example.com", "ab*.example.com", True),
        ("ab*.example.com", "a*.example.com", False),
        ("*.s3.amazonaws.com", "x.s3.amazonaws.com", True),
        ("*.amazonaws.com", "s3.eu-west-1.amazonaws.com", False),
        ("**.amazonaws.com", "s3.eu-west-1.amazonaws.com", True),
    ],
)
def test_fqdn_pattern_containment(selector, node, expected):
    assert fqdn.covers(selector, node, node_is_name="*" not in node) is expected


def test_fqdn_names_are_case_insensitive_and_fully_qualified():
    assert fqdn.matches("One.One.One.One.", "one.one.one.one", is_name=True)
    assert fqdn.matches("*.Cilium.io", "docs.cilium.io.")


@pytest.mark.parametrize(
    "key, kept",
    [
        ("app", True),
        ("app.kubernetes.io/name", True),
        ("pod-template-hash", False),
        ("controller-revision-hash", False),
        ("kubernetes.io/hostname", False),
        ("statefulset.kubernetes.io/pod-name", False),
        ("io.kubernetes.pod.namespace", True),
        ("io.kubernetes.container.name", False),
        ("beta.kubernetes.io/arch", False),
        ("io.cilium.k8s.namespace.labels.team", True),
        ("annotation.foo", False),
    ],
)
def test_label_filter(key, kept):
    assert DEFAULT_FILTER.keeps(key) is kept


def test_label_filter_user_prefix_makes_a_whitelist():
    f = LabelFilter.parse(extra=("k8s:app",))
    assert f.keeps("app") and not f.keeps("team")


def test_source_prefix_parsing():
    assert split_source("k8s:app") == ("k8s", "app")
    assert split_source("app") == ("any", "app")
    assert split_source("reserved:host") == ("reserved", "host")
    sel = parse_label_selector({"matchLabels": {"k8s:a": "1", "b": "2"}})
    assert sel.requirements == (Requirement("any", "b", "In", ("2",)), Requirement("k8s", "a", "In", ("1",)))


def test_selector_index_matches_direct_evaluation():
    ids = [
        frozenset({Label("k8s", "app", "x"), Label("k8s", "tier", "1")}),
        frozenset({Label("k8s", "app", "y")}),
        frozenset({Label("reserved", "world")}),
    ]
    idx = SelectorIndex.build(ids)
    sels = [
        Selector(),
        Selector.of([Requirement("any", "app", "In", ("x", "y"))]),
        Selector.of([Requirement("k8s", "tier", "NotIn", ("1",))]),
        Selector.of([Requirement("k8s", "tier", "DoesNotExist")]),
        Selector.of([Requirement("reserved", "world", "Exists")]),
        Selector.of([Requirement("k8s", "world", "Exists")]),
    ]
    for s in sels:
        direct = sum(1 << i for i, ident in enumerate(ids) if s.matches(ident))
        assert idx.mask(s) == direct, s
