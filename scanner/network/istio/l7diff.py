"""The documented HTTP allow-list against the composed L7 decision, with witness requests.

A documented flow's ``http`` list is the promise: exactly those requests (method, path,
host regexes, full match, as in Cilium) pass; without ``http`` every request passes
(plain L4).  The composed decision on a port that L3/L4 allows is

    Cilium's HTTP rules (the sides that carry them) AND Istio's decision at the destination.

``compare`` finds every difference, exactly: each string test any of the three makes is
an atom of its attribute, the attribute's strings split into cells on which every atom
answers alike (``lang.py``), and one witness request per combination of cells is
evaluated on both sides.  A request Istio cannot decide offline is a difference too
("undecidable"), never a silent pass.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import product

from ..engine import L7Restriction, l7_allows_request
from . import lang
from .authz import Decision
from .layer import IstioLayer, IstioVerdict
from .match import Request

DocRule = tuple[str | None, str | None, str | None]  # (method, path, host) regexes


@dataclass(frozen=True, slots=True)
class Difference:
    request: Request
    documented: bool  # the document allows it
    allowed: bool | None  # the composed decision (None: undecidable offline)
    why: str

    def text(self, dst: str, port: int) -> str:
        return f"{self.request.text()} on {dst}:{port} {self.why}"


@dataclass(frozen=True, slots=True)
class Comparison:
    differences: tuple[Difference, ...] = ()
    undecided: str = ""  # why the comparison could not be completed (never a silent pass)
    requests: int = 0  # witness requests compared


def doc_text(doc: Sequence[DocRule] | None) -> str:
    if doc is None:
        return "every request (plain L4)"
    parts = [
        " ".join(x for x in (m or "<any method>", p or "<any path>") if x) + (f" host {h}" if h else "")
        for m, p, h in doc
    ]
    return ", ".join(parts) if parts else "no request"


def _doc_allows(doc: Sequence[DocRule] | None, r: Request) -> bool:
    """Regexes matched against the whole value, as Cilium matches its HTTP rules."""
    if doc is None:
        return True
    return any(
        all(
            re.fullmatch(pat, val or "") is not None
            for pat, val in ((m, r.method), (p, r.path), (h, r.host))
            if pat is not None
        )
        for m, p, h in doc
    )


_UNIVERSE = {"method": lang.UPPER, "path": lang.PATH_CHARS, "host": lang.HOST_CHARS}
_SHAPES = {
    "method": lambda: lang.tokens(lang.UPPER),
    "path": lang.normalized_paths,
    "host": lambda: lang.tokens(lang.HOST_CHARS),
}
_ISTIO_ATTR = {"request.method": "method", "request.path": "path", "request.host": "host"}


# One string test of a request attribute: ("regex", pattern) for the document's and
# Cilium's patterns, ("istio", value) for an Istio match.  Specs rather than automata,
# so the witnesses of a set of tests are computed once per scan however many flows,
# scopes or copies of an application use the same patterns.
Spec = tuple[str, str]


def _atoms(
    doc: Sequence[DocRule] | None, restrictions: Sequence[L7Restriction], decisions_policies
) -> tuple[dict[str, tuple[Spec, ...]], set]:
    """Per attribute, every string test (as specs, in order); and the header names tested."""
    atoms: dict[str, list[Spec]] = {"method": [], "path": [], "host": []}
    headers: set[str] = set()
    cilium = [(rule.method, rule.path, rule.host) for r in restrictions for rule in r.http]
    for m, p, h in [*(doc or ()), *cilium]:
        for attr, pat in (("method", m), ("path", p), ("host", h)):
            if pat is not None:
                atoms[attr].append(("regex", pat))
    for r in restrictions:
        for rule in r.http:
            headers |= {n.lower() for n, _ in rule.headers} | {n.lower() for n, _, mm in rule.header_matches if not mm}
    for f in (f for policy in decisions_policies for rule in policy.rules or () for f in rule.fields):
        _istio_atoms(f, atoms, headers)
    return {attr: tuple(specs) for attr, specs in atoms.items()}, headers


def _istio_atoms(f, atoms: dict[str, list[Spec]], headers: set[str]) -> None:
    """One Istio ``to``/``when`` field: its values and notValues as tests, or the
    header it tests."""
    attr = _ISTIO_ATTR.get(f.attribute)
    if attr is not None:
        atoms[attr].extend(("istio", v) for v in f.values + f.not_values)
    elif f.attribute.startswith("request.headers["):
        headers.add(f.attribute[len("request.headers[") : -1].lower())


def _automaton(attr: str, spec: Spec) -> lang.NFA:
    kind, text = spec
    if kind == "regex":
        return lang.regex(text, _UNIVERSE[attr])
    return lang.istio_value(text, _UNIVERSE[attr], ignore_case=attr == "host", path=attr == "path")


@lru_cache(maxsize=4096)
def _cell_witnesses(attr: str, specs: tuple[Spec, ...]) -> tuple[str | None, ...]:
    """One request value per cell of the partition the tests make (pure: memoised)."""
    if attr == "host" and not specs:
        return (None,)  # nothing tests the host: any will do
    items = [_automaton(attr, s) for s in specs]
    return tuple(c.witness for c in lang.cells(items, _SHAPES[attr](), _UNIVERSE[attr]))


def _witnesses(atoms: dict[str, tuple[Spec, ...]]) -> dict[str, tuple[str | None, ...]]:
    return {attr: _cell_witnesses(attr, specs) for attr, specs in atoms.items()}


def _cilium_allows(restrictions: Sequence[L7Restriction], port: int, r: Request) -> tuple[bool, str]:
    ok, hits = l7_allows_request(
        restrictions, "TCP", port, {"method": r.method, "path": r.path, "host": r.host, "headers": {}}
    )
    where = sorted({e.origin.text() for h in hits for e in h.entries})
    return ok is not False, ", ".join(where)


def _istio_text(v: IstioVerdict) -> str:
    d: Decision = v.decisions[0]
    hits = d.deciding
    if v.status == "not-enforced":
        return f"Istio, which does not enforce it ({d.reason})"
    if d.stage == "no-allow-policy":
        return "Istio (no ALLOW policy selects the destination)"
    if hits:
        return ", ".join(r.where for r in hits)
    if d.stage == "no-rule-matched":
        refs = sorted({f"{r.policy.ref} ({r.policy.where()})" for r in d.results if r.policy.action == "ALLOW"})
        return f"no ALLOW rule of {', '.join(refs)} matches"
    return d.reason


def _difference(r: Request, documented: bool, cilium: tuple[bool, str], iv: IstioVerdict, doc) -> Difference | None:
    c_ok, c_where = cilium
    i_ok = iv.allowed
    if not c_ok:
        allowed: bool | None = False
    elif i_ok is None:
        allowed = None
    else:
        allowed = i_ok
    if allowed is documented:
        return None
    if allowed is None:
        reasons = "; ".join(u.text() for u in sorted(iv.unknown) if u.kind == "offline") or iv.reason
        return Difference(r, documented, None, f"cannot be decided offline: Istio's decision depends on {reasons}")
    if allowed:
        by = [f"{_istio_text(iv)}"] + ([f"Cilium's HTTP rule in {c_where}"] if c_where else [])
        return Difference(
            r, documented, True, f"is allowed by {' and '.join(by)}; the document allows only {doc_text(doc)}"
        )
    who = [f"Cilium's HTTP rules ({c_where})"] if not c_ok else []
    if i_ok is False:
        who.append(f"Istio ({_istio_text(iv)})")
    return Difference(r, documented, False, f"is documented but denied by {' and '.join(who)}")


def compare(
    layer: IstioLayer,
    src: str,
    dst: str,
    port: int,
    restrictions: Sequence[L7Restriction],
    doc: Sequence[DocRule] | None,
    limit: int = 20,
) -> Comparison:
    """Every difference between the document and the composed L7 decision on ``port``.
    ``restrictions``: the Cilium HTTP restrictions of the sides that count for the flow."""
    hits = [r for r in restrictions if r.kind == "http" and r.ports.contains("TCP", port)]
    policies = layer.policies_for(dst)
    try:
        atoms, headers = _atoms(doc, hits, policies)
        witnesses = _witnesses(atoms)
    except (lang.Unsupported, lang.Undecided) as exc:
        return Comparison(undecided=f"the request languages could not be compared ({exc})")
    out: list[Difference] = []
    seen = 0
    for method, path, host in product(witnesses["method"], witnesses["path"], witnesses["host"]):
        seen += 1
        r = Request(method, path, host, {})
        diff = _difference(
            r, _doc_allows(doc, r), _cilium_allows(hits, port, r), layer.decide(src, dst, "TCP", port, r), doc
        )
        if diff is not None:
            out.append(diff)
    undecided = ""
    if headers and not out:
        undecided = (
            f"the policies test request headers ({', '.join(sorted(headers))}), which the document does not "
            "mention and the witness requests do not carry"
        )
    return Comparison(tuple(out[:limit]), undecided, seen)


__all__ = ["Comparison", "Difference", "compare", "doc_text"]
