"""Regular languages over request attributes, to find witness requests exactly.

The documented ``http`` list and Cilium's HTTP rules are regular expressions (full
match); Istio's values are exact / prefix / suffix / presence matches or path
templates.  All are regular languages, so "which requests does the document allow that
the policies do not (and the reverse)" is decidable: for each attribute (method, path,
host) every test any layer performs is an *atom*; the strings of the attribute fall
into *cells* — sets of strings on which every atom answers alike.  Exploring the
product of the atoms' automata breadth-first gives the shortest string of every
non-empty cell.  Evaluating both sides on one witness per cell (and per combination of
cells across attributes) therefore finds a difference if and only if one exists.

Strings are over printable ASCII without space.  Paths are compared in normalized form
(``/``-rooted, no dot segments, no percent-encoding or backslashes — what Istio's BASE
normalization produces; "Authorization Policy Normalization" page), methods are
upper-case tokens, hosts ``[A-Za-z0-9.:-]+``.  Regex features that are not regular
(back-references, look-arounds, anchors inside a pattern) raise ``Unsupported``; an
exploration over budget raises ``Undecided``: both are reported, never guessed.
"""

from __future__ import annotations

import re
import re._constants as C  # the regex parser's opcodes
import re._parser as P
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise

PRINTABLE = frozenset(range(0x21, 0x7F))
UPPER = frozenset(range(ord("A"), ord("Z") + 1))
HOST_CHARS = frozenset(ord(c) for c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.:-")
PATH_CHARS = PRINTABLE - {ord("%"), ord("\\"), ord("#")}
MAX_STATES = 50_000
MAX_REPEAT = 64
_PREFERRED = "abcdefghijklmnopqrstuvwxyz0123456789/-._~ABCDEFGHIJKLMNOPQRSTUVWXYZ:?=&"


class Unsupported(ValueError):
    """A pattern that is not a regular expression we can turn into an automaton."""


class Undecided(Exception):
    """The exploration exceeded its budget."""


# -- NFA -------------------------------------------------------------------------------


class NFA:
    """Thompson automaton: per state, epsilon targets and (character set, target) edges."""

    def __init__(self) -> None:
        self.eps: list[list[int]] = []
        self.edges: list[list[tuple[frozenset[int], int]]] = []
        self.start = 0
        self.accept = 0

    def state(self) -> int:
        self.eps.append([])
        self.edges.append([])
        return len(self.eps) - 1

    def closure(self, states: Iterable[int]) -> frozenset[int]:
        out = set(states)
        stack = list(out)
        while stack:
            s = stack.pop()
            for t in self.eps[s]:
                if t not in out:
                    out.add(t)
                    stack.append(t)
        return frozenset(out)

    def step(self, states: frozenset[int], char: int) -> frozenset[int]:
        return self.closure(t for s in states for chars, t in self.edges[s] if char in chars)

    def initial(self) -> frozenset[int]:
        return self.closure([self.start])

    def accepts(self, states: frozenset[int]) -> bool:
        return self.accept in states

    def char_sets(self) -> set[frozenset[int]]:
        return {chars for edges in self.edges for chars, _ in edges}

    def matches(self, text: str) -> bool:
        states = self.initial()
        for ch in text:
            states = self.step(states, ord(ch))
            if not states:
                return False
        return self.accepts(states)


Frag = tuple[int, int]  # (entry, exit) states of a sub-automaton


def _chars(nfa: NFA, chars: frozenset[int]) -> Frag:
    a, b = nfa.state(), nfa.state()
    nfa.edges[a].append((chars, b))
    return a, b


def _empty(nfa: NFA) -> Frag:
    a = nfa.state()
    return a, a


def _concat(nfa: NFA, parts: Sequence[Frag]) -> Frag:
    if not parts:
        return _empty(nfa)
    for (_, end), (start, _) in pairwise(parts):
        nfa.eps[end].append(start)
    return parts[0][0], parts[-1][1]


def _alt(nfa: NFA, parts: Sequence[Frag]) -> Frag:
    a, b = nfa.state(), nfa.state()
    for start, end in parts:
        nfa.eps[a].append(start)
        nfa.eps[end].append(b)
    return a, b


def _star(nfa: NFA, frag: Frag) -> Frag:
    a, b = nfa.state(), nfa.state()
    nfa.eps[a] += [frag[0], b]
    nfa.eps[frag[1]] += [frag[0], b]
    return a, b


def _finish(nfa: NFA, frag: Frag) -> NFA:
    nfa.start, nfa.accept = frag
    return nfa


# -- from Python/RE2 regular expressions --------------------------------------------------

_CATEGORIES = {
    C.CATEGORY_DIGIT: frozenset(range(0x30, 0x3A)),
    C.CATEGORY_WORD: frozenset(ord(c) for c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"),
    C.CATEGORY_SPACE: frozenset(ord(c) for c in " \t\n\r\f\v"),
}
_NEGATED = {
    C.CATEGORY_NOT_DIGIT: C.CATEGORY_DIGIT,
    C.CATEGORY_NOT_WORD: C.CATEGORY_WORD,
    C.CATEGORY_NOT_SPACE: C.CATEGORY_SPACE,
}


def _class(items, universe: frozenset[int]) -> frozenset[int]:
    out: set[int] = set()
    negate = False
    for op, av in items:
        if op is C.NEGATE:
            negate = True
        elif op is C.LITERAL:
            out.add(av)
        elif op is C.RANGE:
            out |= set(range(av[0], av[1] + 1))
        elif op is C.CATEGORY and av in _CATEGORIES:
            out |= _CATEGORIES[av]
        elif op is C.CATEGORY and av in _NEGATED:
            out |= set(range(128)) - _CATEGORIES[_NEGATED[av]]
        else:
            raise Unsupported(f"character class item {op}")
    chars = frozenset(universe - out) if negate else frozenset(out)
    return chars & universe


def _build(nfa: NFA, items, universe: frozenset[int]) -> Frag:
    parts = []
    for op, av in items:
        if op is C.LITERAL:
            parts.append(_chars(nfa, frozenset({av}) & universe))
        elif op is C.NOT_LITERAL:
            parts.append(_chars(nfa, universe - {av}))
        elif op is C.ANY:
            parts.append(_chars(nfa, universe - {ord("\n")}))
        elif op is C.IN:
            parts.append(_chars(nfa, _class(av, universe)))
        elif op is C.BRANCH:
            parts.append(_alt(nfa, [_build(nfa, b, universe) for b in av[1]]))
        elif op is C.SUBPATTERN:
            if av[1] or av[2]:
                raise Unsupported("inline flags")
            parts.append(_build(nfa, av[3], universe))
        elif op in (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT):
            parts.append(_repeat(nfa, av, universe))
        elif op is C.CATEGORY and av in _CATEGORIES:
            parts.append(_chars(nfa, _CATEGORIES[av] & universe))
        else:
            raise Unsupported(f"{op} is not a regular construct we model")
    return _concat(nfa, parts)


def _repeat(nfa: NFA, av, universe: frozenset[int]) -> Frag:
    lo, hi, body = av
    if lo > MAX_REPEAT or (hi is not C.MAXREPEAT and hi > MAX_REPEAT):
        raise Unsupported(f"a repetition count above {MAX_REPEAT}")
    parts = [_build(nfa, body, universe) for _ in range(lo)]
    if hi is C.MAXREPEAT:
        parts.append(_star(nfa, _build(nfa, body, universe)))
    else:
        parts += [_alt(nfa, [_build(nfa, body, universe), _empty(nfa)]) for _ in range(hi - lo)]
    return _concat(nfa, parts)


def regex(pattern: str, universe: frozenset[int]) -> NFA:
    """The full-match language of a regular expression (Cilium/RE2 syntax, as Python
    parses it).  A leading ``^`` and trailing ``$`` are harmless in a full match."""
    try:
        items = list(P.parse(pattern))
    except RecursionError:
        raise Unsupported(f"regular expression nested too deeply: {pattern[:40]!r}...") from None
    except re.error as exc:
        raise Unsupported(f"invalid regular expression {pattern!r}: {exc}") from None
    if items and items[0] == (C.AT, C.AT_BEGINNING):
        items = items[1:]
    if items and items[-1] == (C.AT, C.AT_END):
        items = items[:-1]
    nfa = NFA()
    try:
        return _finish(nfa, _build(nfa, items, universe))
    except RecursionError:
        raise Unsupported(f"regular expression nested too deeply: {pattern[:40]!r}...") from None


# -- from Istio values ----------------------------------------------------------------


def _literal(nfa: NFA, text: str, universe: frozenset[int], ignore_case: bool) -> Frag:
    parts = []
    for ch in text:
        chars = {ord(ch.lower()), ord(ch.upper())} if ignore_case else {ord(ch)}
        parts.append(_chars(nfa, frozenset(chars) & universe))
    return _concat(nfa, parts)


def istio_value(value: str, universe: frozenset[int], *, ignore_case: bool = False, path: bool = False) -> NFA:
    """An Istio string match (``*`` presence, ``*x`` suffix, ``x*`` prefix, exact; a path
    template for ``{*}``/``{**}``).  Paths are matched without the query string, so for
    ``path`` an exact or suffix match may be followed by ``?...`` (a prefix contains no
    ``?``, so it spans the query already)."""
    nfa = NFA()
    anything = _star(nfa, _chars(nfa, universe))
    if value == "*":
        frag = _concat(nfa, [_chars(nfa, universe), anything])
    elif path and re.search(r"\{\*\*?\}", value):
        return _template(value, universe)
    elif value.startswith("*"):
        body = [
            _star(nfa, _chars(nfa, universe - {ord("?")})) if path else anything,
            _literal(nfa, value[1:], universe, ignore_case),
        ]
        frag = _concat(nfa, body + ([_query(nfa, universe)] if path else []))
    elif value.endswith("*"):
        frag = _concat(nfa, [_literal(nfa, value[:-1], universe, ignore_case), anything])
    else:
        frag = _concat(nfa, [_literal(nfa, value, universe, ignore_case)] + ([_query(nfa, universe)] if path else []))
    return _finish(nfa, frag)


def _query(nfa: NFA, universe: frozenset[int]) -> Frag:
    """``(\\?.*)?``: the query string the path matcher ignores."""
    q = _concat(nfa, [_chars(nfa, frozenset({ord("?")}) & universe), _star(nfa, _chars(nfa, universe))])
    return _alt(nfa, [q, _empty(nfa)])


def _template(value: str, universe: frozenset[int]) -> NFA:
    nfa = NFA()
    segment = universe - {ord("/"), ord("?")}
    parts, pos = [], 0
    for m in re.finditer(r"\{\*\*?\}", value):
        parts.append(_literal(nfa, value[pos : m.start()], universe, False))
        if m.group(0) == "{*}":
            parts.append(_concat(nfa, [_chars(nfa, segment), _star(nfa, _chars(nfa, segment))]))
        else:
            parts.append(_star(nfa, _chars(nfa, universe - {ord("?")})))
        pos = m.end()
    parts.append(_literal(nfa, value[pos:], universe, False))
    parts.append(_query(nfa, universe))
    return _finish(nfa, _concat(nfa, parts))


def normalized_paths() -> NFA:
    """``/``-rooted paths without ``.``/``..`` segments, then an optional query."""
    nfa = NFA()
    start, seg, dot1, dot2, normal, query = (nfa.state() for _ in range(6))
    slash, dot, qm = frozenset({ord("/")}), frozenset({ord(".")}), frozenset({ord("?")})
    other = PATH_CHARS - slash - dot - qm
    nfa.edges[start].append((slash, seg))
    nfa.edges[seg] += [(slash, seg), (dot, dot1), (qm, query), (other, normal)]
    nfa.edges[dot1] += [(dot, dot2), (other, normal)]
    nfa.edges[dot2] += [(dot | other, normal)]
    nfa.edges[normal] += [(slash, seg), (qm, query), (dot | other, normal)]
    nfa.edges[query].append((PATH_CHARS, query))
    accept = nfa.state()
    for s in (seg, normal, query):
        nfa.eps[s].append(accept)
    nfa.start, nfa.accept = start, accept
    return nfa


def tokens(universe: frozenset[int]) -> NFA:
    """One or more characters of ``universe`` (methods, hosts)."""
    nfa = NFA()
    return _finish(nfa, _concat(nfa, [_chars(nfa, universe), _star(nfa, _chars(nfa, universe))]))


# -- cells -------------------------------------------------------------------------------


def _classes(nfas: Sequence[NFA], universe: frozenset[int]) -> list[int]:
    """One representative character per class of characters no automaton tells apart."""
    classes = [universe]
    for nfa in nfas:
        for chars in nfa.char_sets():
            nxt = []
            for c in classes:
                inside, outside = c & chars, c - chars
                nxt += [x for x in (inside, outside) if x]
            classes = nxt
    out = []
    for c in classes:
        preferred = [ch for ch in _PREFERRED if ord(ch) in c]
        out.append(ord(preferred[0]) if preferred else min(c))
    return sorted(out)


@dataclass(frozen=True, slots=True)
class Cell:
    """A shortest string and the answer of every atom on it."""

    witness: str
    answers: tuple[bool, ...]


def cells(atoms: Sequence[NFA], shape: NFA, universe: frozenset[int], limit: int = MAX_STATES) -> list[Cell]:
    """Every non-empty cell of the atoms within ``shape``, with its shortest witness."""
    machines = [shape, *atoms]
    alphabet = _classes(machines, universe)
    first = tuple(m.initial() for m in machines)
    parents: dict[tuple, tuple[tuple, int] | None] = {first: None}
    queue = [first]
    found: dict[tuple[bool, ...], str] = {}
    for state in queue:
        if shape.accepts(state[0]):
            answers = tuple(m.accepts(s) for m, s in zip(atoms, state[1:], strict=True))
            if answers not in found:
                found[answers] = _spell(state, parents)
        for ch in alphabet:
            nxt_shape = shape.step(state[0], ch)
            if not nxt_shape:
                continue
            nxt = (nxt_shape,) + tuple(m.step(s, ch) for m, s in zip(atoms, state[1:], strict=True))
            if nxt not in parents:
                if len(parents) >= limit:
                    raise Undecided(f"more than {limit} automaton states")
                parents[nxt] = (state, ch)
                queue.append(nxt)
    return [Cell(w, a) for a, w in sorted(found.items(), key=lambda kv: (len(kv[1]), kv[1]))]


def _spell(state: tuple, parents: dict) -> str:
    out = []
    while parents[state] is not None:
        state, ch = parents[state]
        out.append(chr(ch))
    return "".join(reversed(out))


__all__ = [
    "HOST_CHARS",
    "NFA",
    "PATH_CHARS",
    "UPPER",
    "Cell",
    "Undecided",
    "Unsupported",
    "cells",
    "istio_value",
    "normalized_paths",
    "regex",
    "tokens",
]
