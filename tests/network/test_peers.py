"""Laws of the symbolic peer sets (scanner/network/peers.py, docs/zero-trust.md).

* the pod search agrees with brute force over every identity that can matter;
* a witness is admitted by the admitting selectors and by no covering one;
* address and name containment agree with direct evaluation;
* on whole trees: adding a documented flow never adds a NET002, and every known
  endpoint NET002 names as a witness is one the traffic graph's side really admits.
"""

from __future__ import annotations

import ipaddress
import itertools
import sys
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from scanner.network import fqdn as fqdnlib
from scanner.network.peers import (
    NOTHING,
    AddressSet,
    NameSet,
    PeerSet,
    Universe,
    address_identity,
    from_selectors,
    pod_witness,
    prefix_addresses,
    witness,
)
from scanner.network.selectors import (
    ANY,
    CIDR,
    CLUSTER,
    K8S,
    NAMESPACE_LABELS,
    POD_NAMESPACE,
    RESERVED,
    SERVICE_ACCOUNT,
    Label,
    Requirement,
    Selector,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # conftest (scan_path)
sys.path.insert(0, str(Path(__file__).resolve().parent))  # tree_strategies

KEYS = ("app", "tier")
VALUES = ("a", "b")
NAMESPACES = ("x", "y")
META = f"{NAMESPACE_LABELS}.kubernetes.io/metadata.name"
TEAM = f"{NAMESPACE_LABELS}.team"
UNIVERSE = Universe(namespaces={"x": {"kubernetes.io/metadata.name": "x", "team": "a"}})


@st.composite
def requirements(draw):
    kind = draw(st.sampled_from(["label", "label", "ns", "team", "meta", "reserved"]))
    op = draw(st.sampled_from(["In", "NotIn", "Exists", "DoesNotExist"]))
    if kind == "reserved":
        return Requirement(RESERVED, "world", op, ("",) if op in ("In", "NotIn") else ())
    key = {"label": draw(st.sampled_from(KEYS)), "ns": POD_NAMESPACE, "team": TEAM, "meta": META}[kind]
    pool = NAMESPACES if kind in ("ns", "meta") else VALUES
    values = (
        tuple(sorted(set(draw(st.lists(st.sampled_from(pool), min_size=1, max_size=2)))))
        if op in ("In", "NotIn")
        else ()
    )
    source = draw(st.sampled_from([K8S, ANY])) if kind == "label" else K8S
    return Requirement(source, key, op, values)


selectors = st.lists(requirements(), max_size=3).map(Selector.of)


def every_pod():
    """Every pod identity that can make a difference for selectors over KEYS/VALUES and
    the namespaces x (declared, team=a) and y / z (undeclared): values a, b, a fresh c, or
    absent per key; an undeclared namespace's team label free."""
    for ns in ("x", "y", "z"):
        teams = [None] if ns == "x" else [None, "a", "b", "c"]
        for labels in itertools.product(*[(None, "a", "b", "c")] * len(KEYS)):
            for team in teams:
                ident = {
                    Label(K8S, POD_NAMESPACE, ns),
                    Label(K8S, META, ns),
                    Label(K8S, SERVICE_ACCOUNT, "default"),
                    Label(K8S, CLUSTER, "default"),
                }
                if ns == "x":
                    ident.add(Label(K8S, TEAM, "a"))
                elif team is not None:
                    ident.add(Label(K8S, TEAM, team))
                ident |= {Label(K8S, k, v) for k, v in zip(KEYS, labels, strict=True) if v is not None}
                yield frozenset(ident)


PODS = list(every_pod())


def identity_of(labels: dict[str, str]) -> frozenset[Label]:
    from scanner.network.peers import pod_identity

    return pod_identity(labels, UNIVERSE)


@settings(max_examples=300, deadline=None)
@given(selectors, st.lists(selectors, max_size=4))
def test_pod_search_agrees_with_brute_force(include, exclude):
    found = pod_witness(include, exclude, UNIVERSE)
    brute = [p for p in PODS if include.matches(p) and not any(e.matches(p) for e in exclude)]
    if found is None:
        assert brute == [], f"missed counter-example {sorted(map(str, brute[0]))}"
    else:
        ident = identity_of(found)
        assert include.matches(ident), sorted(map(str, ident))
        assert not any(e.matches(ident) for e in exclude), sorted(map(str, ident))
        assert brute, "a witness the brute force cannot find"


@settings(max_examples=200, deadline=None)
@given(selectors, st.lists(selectors, max_size=3), selectors)
def test_covering_more_never_creates_a_witness(include, exclude, more):
    if pod_witness(include, exclude, UNIVERSE) is None:
        assert pod_witness(include, exclude + [more], UNIVERSE) is None


PREFIXES = ("10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24", "192.168.0.0/16", "0.0.0.0/0", "fd00::/8")


@st.composite
def cidr_selectors(draw):
    base = draw(st.sampled_from(PREFIXES))
    inner = [
        p
        for p in PREFIXES
        if p != base
        and ipaddress.ip_network(p).version == ipaddress.ip_network(base).version
        and ipaddress.ip_network(p).subnet_of(ipaddress.ip_network(base))
    ]
    excepts = draw(st.lists(st.sampled_from(inner), max_size=2, unique=True)) if inner else []
    return Selector.of([Requirement(CIDR, base, "Exists")] + [Requirement(CIDR, e, "DoesNotExist") for e in excepts])


@settings(max_examples=200, deadline=None)
@given(st.lists(cidr_selectors(), min_size=1, max_size=2), st.lists(st.sampled_from(PREFIXES), max_size=3))
def test_address_witness_is_admitted_and_not_covered(admitting, documented):
    admitted = from_selectors(admitting, UNIVERSE)
    covered = PeerSet(addresses=AddressSet())
    for p in documented:
        covered = covered.union(PeerSet(addresses=prefix_addresses(p)))
    w = witness(admitted, covered, UNIVERSE)
    probes = ["10.0.0.1", "10.1.0.1", "10.1.2.1", "192.168.0.1", "8.8.8.8", "fd00::1", "2001:db8::1"]
    uncovered = [
        a
        for a in probes
        if any(s.matches(address_identity(a, PREFIXES)) for s in admitting)
        and not any(ipaddress.ip_address(a) in ipaddress.ip_network(p) for p in documented)
    ]
    if w is None:
        assert uncovered == []
    else:
        ident = address_identity(w.address, PREFIXES)
        assert any(s.matches(ident) for s in admitting)
        assert not any(ipaddress.ip_address(w.address) in ipaddress.ip_network(p) for p in documented)


NAME_PATTERNS = ("*.example.com", "api.example.com", "**.example.com", "*", "*.s3.amazonaws.com", "a*.example.com")


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from(NAME_PATTERNS), min_size=1, max_size=2),
    st.lists(st.sampled_from(NAME_PATTERNS), max_size=3),
)
def test_name_witness_matches_the_rule_and_no_documented_name(rule, documented):
    def sel(p):
        return fqdnlib.FqdnSelector(p, "*" not in p)

    admitted = PeerSet(names=(NameSet((tuple(sel(p) for p in rule),)),))
    covered = PeerSet(names=tuple(NameSet(((sel(p),),)) for p in documented))
    w = witness(admitted, covered, UNIVERSE)
    probes = [
        "api.example.com",
        "x.example.com",
        "a.b.example.com",
        "example.com",
        "ab.example.com",
        "b.s3.amazonaws.com",
        "other.org",
    ]
    uncovered = [
        n
        for n in probes
        if any(sel(p).covers(n, True) for p in rule) and not any(sel(p).covers(n, True) for p in documented)
    ]
    if w is None:
        assert uncovered == []
    else:
        assert any(sel(p).covers(w.name, True) for p in rule), w.name
        assert not any(sel(p).covers(w.name, True) for p in documented), w.name


def test_entities_are_finite():
    host = Selector((Requirement(RESERVED, "host", "Exists"),))
    admitted = from_selectors([host, Selector((Requirement(RESERVED, "remote-node", "Exists"),))], UNIVERSE)
    assert witness(admitted, PeerSet(entities=frozenset({"host", "remote-node"})), UNIVERSE) is None
    w = witness(admitted, PeerSet(entities=frozenset({"host"})), UNIVERSE)
    assert w is not None and w.sort == "entity" and w.name == "remote-node"
    assert witness(NOTHING, NOTHING, UNIVERSE) is None


# -- whole trees: monotonicity and agreement with the traffic graph --------------------------


def _scan(root: Path, manifests: str, flows: list[tuple[str, str, list[str]]]):
    import json

    from conftest import scan_path

    lines = [
        "apiVersion: kubematrix.dev/v1alpha1",
        "kind: Policy",
        "traffic:",
        "  zeroTrust: {namespaces: [zt]}",
        "  flows:" if flows else "  flows: []",
    ]
    lines += [f"    - {{from: {json.dumps(s)}, to: {json.dumps(d)}, ports: {json.dumps(p)}}}" for s, d, p in flows]
    (root / "manifests.yaml").write_text(manifests, encoding="utf-8")
    (root / "kubematrix.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return scan_path(root)


FLOW_CHOICES = [
    ("zt/a", "zt/b", ["80"]),
    ("zt/b", "zt/a", ["8080"]),
    ("zt/a", "entity:world", ["443"]),
    ("entity:all", "zt/c", ["80"]),
    ("zt/c", "actor:kube-dns", ["53/UDP"]),
    ("zt/a", "zt/c", ["1-65535/ANY"]),
]


def _findings(result):
    return {(f.loc.path, f.loc.line, f.subject) for f in result.active() if f.rule_id == "NET002"}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_documenting_more_never_adds_a_finding_and_witnesses_agree_with_the_graph(data):
    from tree_strategies import cluster_manifests

    manifests = data.draw(cluster_manifests())
    chosen = data.draw(st.lists(st.integers(0, len(FLOW_CHOICES) - 1), max_size=3, unique=True))
    flows = [FLOW_CHOICES[i] for i in chosen]
    extra = data.draw(st.sampled_from(FLOW_CHOICES))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        before = _scan(root, manifests, flows)
        after = _scan(root, manifests, flows + [extra])
        assert _findings(after) <= _findings(before)
        checked = _known_witnesses_are_admitted_by_the_graph(root, before)
        event("known witnesses checked against the graph" if checked else "no known witness")


def test_known_witnesses_of_the_rule_fixture_are_admitted_by_the_graph():
    from conftest import REPO, scan_path

    root = REPO / "fixtures" / "rules" / "NET002" / "fail"
    assert _known_witnesses_are_admitted_by_the_graph(root, scan_path(root)) >= 5


def _known_witnesses_are_admitted_by_the_graph(root: Path, result) -> int:
    """Every known endpoint a NET002 names is admitted by the reported rule in the graph's
    side; returns how many (finding, endpoint) pairs were checked."""
    from conftest import FIXED_TODAY

    from scanner.checks.base import CheckContext
    from scanner.loader.documents import load
    from scanner.model.build import build_model
    from scanner.policy import load_policy

    inputs = load([root], root)
    ctx = CheckContext(
        model=build_model(inputs.objects),
        inputs=inputs,
        policy=load_policy(root / "kubematrix.yaml", root),
        today=FIXED_TODAY,
    )
    traffic = ctx.traffic()
    checked = 0
    for f in result.active():
        if f.rule_id != "NET002" or "(in these manifests: " not in f.message:
            continue
        known = f.message.split("(in these manifests: ", 1)[1].rstrip(")").split(" and ")[0].split(", ")
        direction = f.detail.split(":", 1)[0]
        for peer in known:
            egress, ingress = (
                traffic.sides(f.subject, peer) if direction == "egress" else traffic.sides(peer, f.subject)
            )
            side = egress if direction == "egress" else ingress
            assert any(c.entry.origin.loc.line == f.loc.line for c in side.allows), (f.message, peer)
            checked += 1
    return checked


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_every_rule_the_graph_shows_admitting_a_known_peer_is_reported_when_nothing_is_documented(data):
    """The converse of the graph-agreement law: with no documented flow, every allow
    entry through which an isolated zero-trust side admits a known endpoint (other than
    the always-admitted local host) is a NET002 at that entry."""
    from conftest import FIXED_TODAY
    from tree_strategies import cluster_manifests

    from scanner.checks.base import CheckContext
    from scanner.loader.documents import load
    from scanner.model.build import build_model
    from scanner.policy import load_policy

    manifests = data.draw(cluster_manifests())
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        result = _scan(root, manifests, [])
        inputs = load([root], root)
        ctx = CheckContext(
            model=build_model(inputs.objects),
            inputs=inputs,
            policy=load_policy(root / "kubematrix.yaml", root),
            today=FIXED_TODAY,
        )
        graph = ctx.traffic().graph
        expected = set()
        for src, dst, edge in graph.edges(data=True):
            for subject, side in ((dst, edge["ingress"]), (src, edge["egress"])):
                if not subject.startswith("zt/") or not side.isolated or src == "entity:host":
                    continue
                expected |= {(c.entry.origin.loc.line, subject) for c in side.allows if c.ports}
        event("decided edges" if expected else "no decided edge")
        reported = {(f.loc.line, f.subject) for f in result.active() if f.rule_id == "NET002"}
        assert expected <= reported
