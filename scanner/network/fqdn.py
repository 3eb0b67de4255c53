"""DNS names and Cilium ``matchName``/``matchPattern`` semantics.

Facts (cilium/cilium ``pkg/fqdn/matchpattern/matchpattern.go``, ``pkg/policy/api/fqdn.go``):

* names are case-insensitive and fully qualified (a trailing ``.`` is implied);
* a pattern made only of ``*`` (optionally ending in ``.``) matches every name;
* a leading ``**.`` (two or more ``*`` then ``.``) matches one or more whole labels
  (any depth of subdomains, never the apex itself);
* any other ``*`` matches zero or more DNS characters ``[-a-zA-Z0-9_]`` inside one
  label (``*.cilium.io`` matches ``a.cilium.io``, not ``cilium.io`` nor
  ``a.b.cilium.io``);
* allowed characters: ``matchName`` ``[-a-zA-Z0-9_.]``, ``matchPattern`` the same
  plus ``*``; at most 255 characters.

Graph nodes can be names or patterns (``fqdn:*.s3.amazonaws.com``), so besides
matching a concrete name we need "is every name of pattern P matched by selector S"
(``covers``).  Patterns are regular languages; we decide containment exactly by
exploring the product of the two patterns' automata (small: one state per
pattern position).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

MAX_LEN = 255
_NAME_CHARS = re.compile(r"^[-a-zA-Z0-9_.]+$")
_PATTERN_CHARS = re.compile(r"^[-a-zA-Z0-9_.*]+$")
_DNS_CHAR = "[-a-z0-9_]"


def normalize(name: str) -> str:
    """Lower-case, no trailing dot (the graph's spelling; ``fqdn:one.one.one.one``)."""
    name = name.strip().lower()
    return name[:-1] if name.endswith(".") and name != "." else name


def validate_name(name: str) -> str | None:
    if len(name.strip()) > MAX_LEN:
        return f"matchName {name!r} is longer than {MAX_LEN} characters"
    if not _NAME_CHARS.match(name):
        return f"invalid characters in matchName {name!r}: only 0-9, a-z, A-Z, '.', '-' and '_' are allowed"
    return None


def validate_pattern(pattern: str) -> str | None:
    if len(pattern.strip()) > MAX_LEN:
        return f"matchPattern {pattern!r} is longer than {MAX_LEN} characters"
    if not _PATTERN_CHARS.match(pattern):
        return f"invalid characters in matchPattern {pattern!r}: only 0-9, a-z, A-Z, '.', '-', '_' and '*' are allowed"
    return None


def is_match_all(pattern: str) -> bool:
    p = pattern.strip()
    if p.endswith("."):
        p = p[:-1]
    return bool(p) and set(p) == {"*"}


# A pattern compiles to tokens over the alphabet {label char, "."}:
#   ("lit", c)     one literal character
#   ("star",)      zero or more label characters (no ".")
#   ("labels",)    one or more whole labels each followed by "." ("**." prefix)
#   ("any",)       the match-all pattern


@lru_cache(maxsize=4096)
def tokens(pattern: str) -> tuple[tuple, ...]:
    p = normalize(pattern)
    if is_match_all(pattern):
        return (("any",),)
    out: list[tuple] = []
    i = 0
    lead = len(p) - len(p.lstrip("*"))
    if lead >= 2 and lead < len(p) and p[lead] == ".":
        out.append(("labels",))
        i = lead + 1
    while i < len(p):
        c = p[i]
        if c == "*":
            while i + 1 < len(p) and p[i + 1] == "*":
                i += 1
            out.append(("star",))
        else:
            out.append(("lit", c))
        i += 1
    return tuple(out)


@lru_cache(maxsize=4096)
def to_regex(pattern: str) -> re.Pattern:
    """Anchored regex over normalised names (no trailing dot)."""
    toks = tokens(pattern)
    if toks == (("any",),):
        return re.compile(r"^(" + _DNS_CHAR + r"+)(\." + _DNS_CHAR + r"+)*$|^$")
    parts = []
    for t in toks:
        if t[0] == "labels":
            parts.append("(" + _DNS_CHAR + r"+\.)+")
        elif t[0] == "star":
            parts.append(_DNS_CHAR + "*")
        else:
            parts.append(re.escape(t[1]))
    return re.compile("^" + "".join(parts) + "$")


def matches(selector_pattern: str, name: str, *, is_name: bool = False) -> bool:
    """Does a ``matchName`` (``is_name``) or ``matchPattern`` select the concrete ``name``?"""
    if is_name:
        return normalize(selector_pattern) == normalize(name)
    return bool(to_regex(selector_pattern).match(normalize(name)))


def _closure(toks: tuple[tuple, ...], states: frozenset[int]) -> frozenset[int]:
    """Epsilon closure: a ``star`` may match nothing."""
    out = set(states)
    stack = list(states)
    while stack:
        s = stack.pop()
        if s < len(toks) and toks[s][0] == "star" and s + 1 not in out:
            out.add(s + 1)
            stack.append(s + 1)
    return frozenset(out)


# Symbols of the product exploration: a representative label character that no
# pattern names literally ("#"), every literal character that occurs, and ".".


def _step(toks: tuple[tuple, ...], states: frozenset[int], sym: str, label_start: dict[int, bool]) -> frozenset[int]:
    """NFA step.  ``labels`` tokens are expanded: state ``(s, 'in')`` inside a label is
    encoded as negative numbers -(s+1)."""
    nxt: set[int] = set()
    for s in states:
        if s < 0:  # inside a "**." label run, token index -s-1
            t = -s - 1
            if sym == ".":
                nxt.add(t)  # finished one label: may start another or continue after
                nxt.add(t + 1)
            else:
                nxt.add(s)
            continue
        if s >= len(toks):
            continue
        t = toks[s]
        if t[0] == "lit":
            if t[1] == sym:
                nxt.add(s + 1)
        elif t[0] == "star" and sym != ".":
            nxt.add(s)
        elif t[0] == "labels" and sym != ".":
            nxt.add(-(s + 1))
    return _closure(toks, frozenset(nxt))


def covers(selector: str, node: str, *, selector_is_name: bool = False, node_is_name: bool = False) -> bool:
    """Is every name described by ``node`` selected by ``selector``?"""
    if selector_is_name:
        if node_is_name or not any(t[0] != "lit" for t in tokens(node)):
            return normalize(selector) == normalize(node)
        return False
    if node_is_name:
        return matches(selector, node)
    a, b = tokens(node), tokens(selector)
    if b == (("any",),):
        return True
    if a == (("any",),):
        return False
    return _contained(a, b)


def _contained(a: tuple[tuple, ...], b: tuple[tuple, ...]) -> bool:
    """L(a) ⊆ L(b) over valid DNS names (no empty label), by exploring the reachable
    (states of a, states of b, at-label-start) triples."""
    literals = {t[1] for t in a + b if t[0] == "lit"} | {"."}
    alphabet = sorted(literals | {"#"})  # "#": any label char not written in either pattern
    start = (_closure(a, frozenset({0})), _closure(b, frozenset({0})), True)
    seen = {start}
    stack = [start]
    while stack:
        sa, sb, fresh = stack.pop()
        if not fresh and len(a) in sa and len(b) not in sb:
            return False
        for sym in alphabet:
            if sym == "." and fresh:
                continue  # labels are never empty
            na = _step(a, sa, sym, {})
            if not na:
                continue
            nb = _step(b, sb, sym, {})
            state = (na, nb, sym == ".")
            if state not in seen:
                seen.add(state)
                stack.append(state)
    return True


@dataclass(frozen=True, slots=True, order=True)
class FqdnSelector:
    """One ``toFQDNs`` entry (or a DNS L7 rule): exactly one of name / pattern."""

    value: str
    is_name: bool

    def describe(self) -> str:
        return f"matchName: {self.value}" if self.is_name else f"matchPattern: {self.value}"

    def covers(self, node: str, node_is_name: bool) -> bool:
        return covers(self.value, node, selector_is_name=self.is_name, node_is_name=node_is_name)


def _accepts(toks: tuple[tuple, ...], states: frozenset[int]) -> bool:
    return len(toks) in states


def find_name(must: list[list[FqdnSelector]], must_not: list[FqdnSelector], limit: int = 100_000) -> str | None:
    """The shortest DNS name matched by at least one selector of every group of ``must``
    and by no selector of ``must_not`` (None when there is none).  Exact: a breadth-first
    exploration of the product of the patterns' automata; the symbol ``#`` stands for any
    label character no pattern writes literally.  Pure, so memoised: the same patterns
    recur in every copy of an application and in every scope of a monorepo."""
    return _find_name(tuple(tuple(g) for g in must), tuple(must_not), limit)


@lru_cache(maxsize=4096)
def _find_name(
    must: tuple[tuple[FqdnSelector, ...], ...], must_not: tuple[FqdnSelector, ...], limit: int
) -> str | None:
    if any(is_match_all(s.value) and not s.is_name for s in must_not):
        return None
    groups = [g for g in must if not any(is_match_all(s.value) and not s.is_name for s in g)]
    if any(not g for g in must):
        return None
    must_toks = [tuple(tokens(s.value) for s in g) for g in groups]
    not_toks = tuple(tokens(s.value) for s in must_not)
    literals = {t[1] for ts in [*(x for g in must_toks for x in g), *not_toks] for t in ts if t[0] == "lit"}
    other = next(c for c in "xyzwvqkjhgfedcba0123456789_-" if c not in literals) if literals else "x"
    alphabet = sorted((literals - {"."}) | {"#", "."})

    def start(toks: tuple[tuple, ...]) -> frozenset[int]:
        return _closure(toks, frozenset({0}))

    first = (tuple(tuple(start(t) for t in g) for g in must_toks), tuple(start(t) for t in not_toks), True)
    parents: dict[tuple, tuple[tuple, str] | None] = {first: None}
    queue = [first]
    for state in queue:
        if len(parents) > limit:
            return None
        m, n, fresh = state
        if state is not first and not fresh and _accepting(must_toks, m, not_toks, n):
            return _spell(state, parents, other)
        for sym in alphabet:
            if sym == "." and fresh:
                continue  # a label is never empty
            nm = tuple(
                tuple(_step(t, s, sym, {}) for t, s in zip(g, sg, strict=True))
                for g, sg in zip(must_toks, m, strict=True)
            )
            if any(not any(x for x in sg) for sg in nm):
                continue  # some group can no longer match
            nn = tuple(_step(t, s, sym, {}) for t, s in zip(not_toks, n, strict=True))
            nxt = (nm, nn, sym == ".")
            if nxt not in parents:
                parents[nxt] = (state, sym)
                queue.append(nxt)
    return None


def _accepting(must_toks, must_states, not_toks, not_states) -> bool:
    """Every required pattern group has a member in an accepting state, and no
    excluded pattern does."""
    return all(
        any(_accepts(t, s) for t, s in zip(g, sg, strict=True)) for g, sg in zip(must_toks, must_states, strict=True)
    ) and not any(_accepts(t, s) for t, s in zip(not_toks, not_states, strict=True))


def _spell(state: tuple, parents: dict, other: str) -> str:
    out = []
    while parents[state] is not None:
        state, sym = parents[state]
        out.append(other if sym == "#" else sym)
    return "".join(reversed(out))
