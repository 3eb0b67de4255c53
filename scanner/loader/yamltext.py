"""Parse YAML/JSON text into located documents, safely and with bounded work.

We never let PyYAML *compose* or *construct* anything.  We read the parser's
event stream (libyaml's C parser, ``yaml.CSafeLoader``, when available, else
the pure-Python ``SafeLoader``; both parsers are iterative) and build
``LMap``/``LList``/scalars ourselves.  That lets us

* keep the line and column of every key and value;
* refuse every non-standard tag (``!!python/object/apply``, ``!Ref`` ...)
  without ever constructing it: the value is read as plain data and reported;
* report duplicate keys (strict Kubernetes field validation rejects them; we
  keep the last value, as lenient YAML readers do);
* bound the work on alias-heavy input ("billion laughs"): aliases are shared,
  never copied, the *expanded* size of each document is computed as it is
  read, and a document that would expand far beyond its written size is
  refused before anything walks it; a recursive alias is refused too;
* bound nesting depth while streaming (no recursion anywhere, so no
  RecursionError, and no checker downstream ever sees an absurdly deep tree);
* read plain scalars as YAML 1.1 (as Kubernetes' own YAML reader does), except
  in ``.json`` files, which get JSON's rules, and never turn a very long plain
  scalar into a number (no quadratic base-60 arithmetic on a megabyte of ``1:1:1``).

Documents before a syntax error are kept; a bad document is skipped and the
following documents of the same stream are still read (parsing resumes at the next
``---`` line).  A document holding an unrendered Helm template (``{{ .Values.x }}``,
quoted or not, or a template line that breaks YAML) is marked with its first
placeholder, so the loader can report it once and not judge its content; ``{{``
that is not Helm's (an Argo ``{{args.x}}`` left unquoted) is a problem of that value
only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.events import (
    AliasEvent,
    DocumentEndEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)
from yaml.nodes import ScalarNode

from ..findings import Finding
from ..located import LList, LMap, Loc

try:  # libyaml is several times faster; the pure-Python parser is the fallback.
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader

#: Deeper documents are refused.  Real manifests (CRD schemas included) stay well
#: under 100 levels; libyaml itself stops at 1000.
MAX_DEPTH = 200
#: The documents of a file may expand through aliases to at most
#: ``max(EXPANSION_FLOOR, EXPANSION_RATIO * values written in the file)`` values.
EXPANSION_FLOOR = 50_000
EXPANSION_RATIO = 10
#: A file may hold at most this many values (memory stays bounded: ~150 bytes each).
MAX_VALUES_PER_FILE = 1_000_000
#: Text whose brackets nest deeper than this is refused before parsing.
PRESCAN_DEPTH = 1000
#: Plain scalars longer than this are strings, never numbers, booleans or nulls.
MAX_NUMBER_CHARS = 100
#: Longest excerpt of input text quoted in a message.
SHOWN_CHARS = 60

_STD = "tag:yaml.org,2002:"
_STR, _INT, _FLOAT, _BOOL, _NULL = (f"{_STD}{t}" for t in ("str", "int", "float", "bool", "null"))
_MERGE = f"{_STD}merge"
_AS_TEXT = {f"{_STD}{t}" for t in ("timestamp", "binary", "value", "merge")}
_COLLECTION_TAGS = {None, "!", f"{_STD}map", f"{_STD}seq", f"{_STD}omap", f"{_STD}set"}
_SIZE_CAP = 10**15  # expanded sizes are capped so bomb arithmetic stays small

_RESOLVER = yaml.resolver.Resolver()
_CTOR = yaml.constructor.SafeConstructor()
_CONSTRUCT = {
    _INT: _CTOR.construct_yaml_int,
    _FLOAT: _CTOR.construct_yaml_float,
    _BOOL: _CTOR.construct_yaml_bool,
    _NULL: _CTOR.construct_yaml_null,
}
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?\Z")
_JSON_WORDS = {"true": True, "false": False, "null": None}


@dataclass(frozen=True, slots=True)
class TemplateHit:
    """Where a document shows itself to be an unrendered Helm template."""

    loc: Loc
    placeholder: str  # the first ``{{ ... }}`` found, as written (shortened)


@dataclass(frozen=True, slots=True)
class ParsedDocument:
    index: int  # 0-based position in the file's stream
    loc: Loc  # start of the document's root node
    data: Any
    template: TemplateHit | None = None  # an unrendered Helm template (data may be None)
    held: tuple[Finding, ...] = ()  # problems inside a template document, set aside


@dataclass(slots=True)
class ParseResult:
    documents: list[ParsedDocument]
    problems: list[Finding]


def shown(value: Any, limit: int = SHOWN_CHARS) -> str:
    """A short, single-line, printable rendering of a piece of *structure* from the
    input (a key, a tag, a kind) for messages.  Never use it for values: a value
    may be a secret (see ``describe_value``)."""
    text = value if isinstance(value, str) else repr(value)
    if len(text) > limit:
        text = text[:limit] + "..."
    return repr(text) if isinstance(value, str) else ascii(text)[1:-1]


def _at_least(size: int) -> str:
    return f"more than {_SIZE_CAP:,}" if size >= _SIZE_CAP else f"{size:,}"


def without_surrogates(text: str) -> str:
    """``text`` with lone surrogates (from escapes such as ``\\ud800``) replaced by U+FFFD."""
    return "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in text)


# Field paths whose values may be secrets (env values, annotations, secret-like keys,
# HTTP header matches): a message never shows them and a report masks their line.
SENSITIVE_PATH = re.compile(r"(?i)(env|annotation|secret|password|passwd|token|key|credential|auth|header)")


def describe_value(value: Any) -> str:
    """What a value is, without ever echoing it (it may be a password)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "an empty string" if not value else f"a string ({len(value)} characters)"
    if isinstance(value, list):
        return f"a list ({len(value)} items)"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


# --------------------------------------------------------------------------- scalars

_plain_cache: dict[str, Any] = {}


def _plain_yaml(value: str) -> tuple[Any, bool]:
    """A plain (unquoted, untagged) scalar read as YAML 1.1; (value, ok)."""
    if len(value) > MAX_NUMBER_CHARS:
        return value, True
    cached = _plain_cache.get(value, _MISSING)
    if cached is not _MISSING:
        return cached, True
    tag = _RESOLVER.resolve(ScalarNode, value, (True, False))
    result, ok = value, True
    if tag in _CONSTRUCT:
        try:
            result = _CONSTRUCT[tag](ScalarNode(tag, value))
        except Exception:
            result, ok = value, False
    if len(_plain_cache) > 50_000:
        _plain_cache.clear()
    _plain_cache[value] = result
    return result, ok


_json_cache: dict[str, Any] = {}
_MISSING = object()


def _plain_json(value: str) -> Any:
    cached = _json_cache.get(value, _MISSING)
    if cached is not _MISSING:
        return cached
    result: Any = value  # not JSON at all unless it matches: the strict JSON check reports the file
    if value in _JSON_WORDS:
        result = _JSON_WORDS[value]
    elif len(value) <= MAX_NUMBER_CHARS:
        match = _JSON_NUMBER.match(value)
        if match is not None:
            result = float(value) if match.group(1) or match.group(2) else int(value)
    if len(_json_cache) > 50_000:
        _json_cache.clear()
    _json_cache[value] = result
    return result


# --------------------------------------------------------------------------- composer


class _Frame:
    __slots__ = ("anchor", "has_key", "is_map", "key", "key_loc", "loc", "merge_key", "merges", "size", "value")

    def __init__(self, value: Any, is_map: bool, anchor: str | None, loc: Loc) -> None:
        self.value = value
        self.is_map = is_map
        self.key: Any = None
        self.key_loc: Loc | None = None
        self.has_key = False
        self.merge_key = False
        self.merges: list[tuple[Any, Loc]] | None = None
        self.anchor = anchor
        self.size = 1
        self.loc = loc


class _Refused(Exception):
    """The current document is not scanned; carries the finding that says why."""

    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.message)
        self.finding = finding


class _Composer:
    """Turns one stream of parser events into located documents, iteratively.

    ``run`` is the hot loop of the whole scanner, hence its flat shape (above the
    complexity ceiling on purpose): a method per event kind would add a call to each of
    the ~1.5 million events of the 10,000-document bench tree.  The rare cases (tags,
    merge keys, duplicate keys, refusals) live in methods.
    """

    def __init__(self, path: str, json_mode: bool, text: str = "") -> None:
        self.path = path
        self.json_mode = json_mode
        self.text = text
        self.documents: list[ParsedDocument] = []
        self.problems: list[Finding] = []
        self.tags: dict[str, list] = {}  # unsupported tag -> [first loc, count]
        self.hit: TemplateHit | None = None  # of the current document
        self.doc_problems = 0  # len(self.problems) when the current document started
        self.doc_start = Loc(path, 1, 1)
        self.braces: set[Loc] = set()  # non-Helm '{{' read as mappings (reported once, at the value)
        self.budget = MAX_VALUES_PER_FILE  # values the rest of the file may hold
        self.first_line = 1  # line of the file where the text being parsed starts
        self.index = -1
        self.written_total = 0  # values written in the file so far
        self.expanded_total = 0  # values of the accepted documents, aliases expanded

    def run(self, loader: Any) -> None:  # noqa: C901 - the hot loop: flat by design (class docstring)
        path, json_mode = self.path, self.json_mode
        new_tuple, plain_yaml, plain_json = tuple.__new__, _plain_yaml, _plain_json  # new_tuple(Loc, ...): a Loc
        check_event, get_event = loader.check_event, loader.get_event
        containers = (LMap, LList)
        stack: list[_Frame] = []
        anchors: dict[str, tuple[Any, int]] = {}
        open_anchors: set[str] = set()
        written = 0
        root: Any = None
        root_size = 0
        root_loc: Loc | None = None
        refused: Finding | None = None
        doc_start = Loc(path, 1, 1)
        budget = self.budget  # values this file may still hold (kept across recoveries)
        first_line = self.first_line  # the text parsed starts at this line of the file
        while check_event():
            event = get_event()
            kind = event.__class__
            try:
                if kind is DocumentStartEvent:
                    self.index += 1
                    stack, anchors, open_anchors = [], {}, set()
                    written, root, root_size, root_loc, refused = 0, None, 0, None, None
                    mark = event.start_mark
                    doc_start = new_tuple(Loc, (path, mark.line + first_line, mark.column + 1))
                    self.doc_start, self.hit, self.doc_problems = doc_start, None, len(self.problems)
                    continue
                if kind is DocumentEndEvent:
                    where = root_loc if root_loc is not None and root is not None else doc_start
                    self._end_document(refused, root, root_size, where, written)
                    budget -= written
                    self.budget = budget
                    stack, anchors, open_anchors = [], {}, set()
                    written, root, root_size, root_loc, refused = 0, None, 0, None, None
                    continue
                if refused is not None:
                    continue
                written += 1
                if written > budget:
                    self.problems.append(
                        Finding(
                            "INPUT001",
                            f"the file holds more than {MAX_VALUES_PER_FILE:,} values; document "
                            f"{self.index + 1} and the rest of the file are not scanned",
                            doc_start,
                            detail="values",
                        )
                    )
                    return
                mark = event.start_mark
                where = new_tuple(Loc, (path, mark.line + first_line, mark.column + 1))
                merge_key = False
                if kind is ScalarEvent:
                    tag, value = event.tag, event.value
                    if tag is None:
                        if event.implicit[0]:
                            text = value
                            if json_mode:
                                value = plain_json(text)
                            else:
                                value = plain_yaml(text)[0]
                                merge_key = text == "<<"
                            if "{{" in text and self.hit is None and _HELM_OBJECT.search(text):
                                self._template(where, text)  # unquoted Helm: image: repo/{{ .Values.image }}
                        elif (
                            "{{" in value and self.hit is None and event.style in _QUOTED and _HELM_OBJECT.search(value)
                        ):
                            self._template(where, value)  # quoted Helm: matchName: "{{ .Values.host }}"
                    elif tag != "!" and tag != _STR:
                        value, merge_key = self._tagged_scalar(tag, value, where)
                    if event.style == '"' and value.__class__ is str and not value.isascii():
                        value = self._no_surrogates(value, where)
                    if event.anchor is not None:
                        anchors[event.anchor] = (value, 1)
                    size = 1
                elif kind is MappingStartEvent or kind is SequenceStartEvent:
                    if len(stack) >= MAX_DEPTH:
                        self._refuse(f"nesting is deeper than {MAX_DEPTH} levels", where, "depth")
                    is_map = kind is MappingStartEvent
                    if event.tag not in _COLLECTION_TAGS:
                        self._unsupported_tag(event.tag, where)
                    if is_map and stack and self.hit is None:
                        self._check_template_braces(stack[-1], where, event)
                    if event.anchor is not None:
                        open_anchors.add(event.anchor)
                    stack.append(_Frame(LMap(where) if is_map else LList(where), is_map, event.anchor, where))
                    continue
                elif kind is MappingEndEvent or kind is SequenceEndEvent:
                    written -= 1  # an end is not a value
                    frame = stack.pop()
                    value, size, where = frame.value, frame.size, frame.loc
                    if frame.merges:
                        self._merge(value, frame.merges)
                    if frame.anchor is not None:
                        open_anchors.discard(frame.anchor)
                        anchors[frame.anchor] = (value, size)
                elif kind is AliasEvent:
                    name = event.anchor
                    if name in open_anchors:
                        self._refuse(
                            f"alias *{shown(name)[1:-1]} refers to a collection that contains it (a recursive alias)",
                            where,
                            "recursive-alias",
                        )
                    if name not in anchors:
                        self._refuse(f"alias *{shown(name)[1:-1]} refers to no anchor", where, "undefined-alias")
                    value, size = anchors[name]
                else:  # stream start/end
                    written -= 1
                    continue
                # attach the finished value to its parent
                if not stack:
                    root, root_size, root_loc = value, size, where
                    continue
                frame = stack[-1]
                total = frame.size + size
                frame.size = total if total < _SIZE_CAP else _SIZE_CAP
                if not frame.is_map:
                    frame.value.append(value)
                    frame.value.item_locs.append(where)
                elif not frame.has_key:
                    if value.__class__ in containers:
                        value = self._complex_key(value, where)
                    frame.key, frame.key_loc, frame.has_key, frame.merge_key = value, where, True, merge_key
                else:
                    frame.has_key = False
                    if frame.merge_key:
                        if frame.merges is None:
                            frame.merges = []
                        frame.merges.append((value, where))
                        continue
                    key, target = frame.key, frame.value
                    if key in target:
                        self._duplicate(target, key, frame.key_loc)
                    target[key] = value
                    target.key_locs[key] = frame.key_loc
                    target.value_locs[key] = where
            except _Refused as refusal:
                refused = refusal.finding

    # --- the rare cases
    def failed(self, message: str, where: Loc, resume: int | None) -> None:
        """A syntax error in the current document.  If its text holds a Helm template,
        the template is the cause: it is reported as such (the loader does), not as a
        YAML error; otherwise the error is reported.  The document is lost either way."""
        end = _offset_of_line(self.text, resume) if resume is not None else len(self.text)
        start = max(_offset_of_line(self.text, self.doc_start.line), 0)
        region = self.text[start : end if end >= 0 else len(self.text)]
        match = _HELM_OBJECT.search(region)
        if self.hit is None and match is not None:
            line = self.doc_start.line + region.count("\n", 0, match.start())
            col = match.start() - (region.rfind("\n", 0, match.start()) + 1) + 1
            self._template(Loc(self.path, line, col), region[match.start() :])
        problem = Finding("INPUT001", message + ("" if self.hit else _hint(self.text, where)), where, detail="parse")
        if self.hit is None:
            self.problems.append(problem)
            return
        held = self.problems[self.doc_problems :] + [problem]
        del self.problems[self.doc_problems :]
        self.documents.append(ParsedDocument(max(self.index, 0), self.doc_start, None, self.hit, tuple(held)))
        self.hit = None

    def _end_document(self, refused: Finding | None, root: Any, root_size: int, where: Loc, written: int) -> None:
        # The budget is per file, so a thousand small bombs in one stream cannot add up either.
        self.written_total += written
        limit = max(EXPANSION_FLOOR, EXPANSION_RATIO * self.written_total) - self.expanded_total
        problem = refused
        if problem is None and root_size > limit:
            problem = Finding(
                "INPUT001",
                f"document {self.index + 1} would expand through YAML aliases to {_at_least(root_size)} values "
                f"from {written:,} written, beyond this file's budget of {max(limit, 0):,} (an alias bomb?); "
                "it is not scanned",
                where,
                detail=f"doc:{self.index}:aliases",
            )
        if problem is None:
            self.expanded_total += root_size
        if self.hit is not None:
            # A template document: its problems come from the template syntax, not the
            # manifest; set them aside (the loader reports the template once instead).
            held = self.problems[self.doc_problems :] + ([problem] if problem is not None else [])
            del self.problems[self.doc_problems :]
            self.documents.append(
                ParsedDocument(self.index, where, root if problem is None else None, self.hit, tuple(held))
            )
        elif problem is not None:
            self.problems.append(problem)
        else:
            self.documents.append(ParsedDocument(self.index, where, root))
        self.hit = None

    def _refuse(self, message: str, where: Loc, what: str) -> None:
        raise _Refused(
            Finding(
                "INPUT001",
                f"document {self.index + 1}: {message}; it is not scanned",
                where,
                detail=f"doc:{self.index}:{what}",
            )
        )

    def _unsupported_tag(self, tag: str, where: Loc) -> None:
        seen = self.tags.get(tag)
        if seen is None:
            self.tags[tag] = [where, 1]
        else:
            seen[1] += 1

    def _tagged_scalar(self, tag: str, text: str, where: Loc) -> tuple[Any, bool]:
        """(value, is merge key) of a scalar with an explicit tag."""
        if tag in _CONSTRUCT:
            if len(text) <= MAX_NUMBER_CHARS:
                try:
                    return _CONSTRUCT[tag](ScalarNode(tag, text)), False
                except Exception:
                    pass
            self.problems.append(
                Finding(
                    "INPUT001",
                    f"{describe_value(text)} is not a valid {tag.replace(_STD, '!!')}; read as text",
                    where,
                    detail=f"tagvalue:{tag}",
                )
            )
            return text, False
        if tag in _AS_TEXT:
            return text, tag == _MERGE  # Kubernetes reads timestamps and binary as strings
        self._unsupported_tag(tag, where)
        return text, False

    def _no_surrogates(self, value: str, where: Loc) -> str:
        """The pure-Python parser turns an escaped lone surrogate ("\\ud800") into a string
        that cannot be written as UTF-8 (libyaml rejects it).  Replace it, and say so."""
        try:
            value.encode("utf-8")
            return value
        except UnicodeEncodeError:
            self.problems.append(
                Finding(
                    "INPUT001",
                    "invalid Unicode escape (a lone surrogate) in a quoted string; replaced by U+FFFD",
                    where,
                    detail="surrogate",
                )
            )
            return without_surrogates(value)

    def _template(self, where: Loc, text: str) -> None:
        match = _PLACEHOLDER.search(text)
        self.hit = TemplateHit(where, shown(match.group() if match else text)[1:-1])

    def _check_template_braces(self, parent: _Frame, where: Loc, event: Any) -> None:
        """``{{`` read as a flow mapping opening right inside another one: an unrendered
        Helm template, or (another tool's placeholder left unquoted) a value YAML reads
        as a nested mapping."""
        if not (
            parent.is_map
            and not parent.has_key
            and event.flow_style
            and parent.loc.line == where.line
            and parent.loc.col + 1 == where.col
        ):
            return
        placeholder = _source_placeholder(self.text, parent.loc)
        if _HELM_OBJECT.search(placeholder):
            self.hit = TemplateHit(parent.loc, shown(placeholder)[1:-1])
            return
        self.braces.add(where)
        self.problems.append(
            Finding(
                "INPUT001",
                f"{shown(placeholder)} is not quoted, so YAML reads it as a nested mapping, not as "
                "text (a placeholder of a templating tool?): quote the value; only this value is affected",
                parent.loc,
                detail="braces",
            )
        )

    def _complex_key(self, value: Any, where: Loc) -> str:
        what = "mapping" if isinstance(value, LMap) else "list"
        if where in self.braces:  # already reported as an unquoted placeholder
            return f"<{what} key at line {where.line}>"
        self.problems.append(
            Finding(
                "INPUT001",
                f"a mapping key must be a plain value, not a {what}; it is read as text",
                where,
                detail="complex-key",
            )
        )
        return f"<{what} key at line {where.line}>"

    def _duplicate(self, target: LMap, key: Any, key_loc: Loc) -> None:
        first = target.key_locs[key]
        at = f"line {first.line}" if first.line != key_loc.line else f"line {first.line}, column {first.col}"
        self.problems.append(
            Finding(
                "INPUT003",
                f"duplicate key {shown(key)} (first at {at}): strict Kubernetes field validation (kubectl's "
                "default) rejects the object; lenient readers keep this last value, and so does this scan",
                key_loc,
                detail=f"dup:{shown(key)}",
            )
        )

    def _merge(self, target: LMap, merges: list[tuple[Any, Loc]]) -> None:
        """YAML merge keys (``<<``): explicit keys win; among merged mappings the first wins."""
        for merged, where in merges:
            sources = merged if isinstance(merged, LList) else [merged]
            for source in sources:
                if not isinstance(source, LMap):
                    self.problems.append(
                        Finding(
                            "INPUT001",
                            "a merge key '<<' needs a mapping or a list of mappings; ignored",
                            where,
                            detail="merge",
                        )
                    )
                    continue
                for key, value in source.items():
                    if key not in target:
                        target[key] = value
                        target.key_locs[key] = source.key_locs.get(key, source.loc)
                        target.value_locs[key] = source.value_locs.get(key, source.loc)

    def finish(self) -> None:
        for tag, (where, count) in self.tags.items():
            tag = "!!" + tag[len(_STD) :] if tag.startswith(_STD) else tag
            more = f" ({count} uses in this file; the first is here)" if count > 1 else ""
            self.problems.append(
                Finding(
                    "INPUT001",
                    f"unsupported YAML tag {shown(tag)}{more}: never constructed; the tagged value is read as "
                    "plain data",
                    where,
                    detail=f"tag:{shown(tag)}",
                )
            )


# --------------------------------------------------------------------------- errors and hints


def _error_loc(path: str, exc: BaseException, text: str) -> Loc:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if mark is not None:
        return Loc(path, mark.line + 1, mark.column + 1)
    character = getattr(exc, "character", None)  # a ReaderError: an unacceptable character
    if isinstance(character, int):
        pos = text.find(chr(character))
        if pos >= 0:
            return Loc(path, text.count("\n", 0, pos) + 1, pos - (text.rfind("\n", 0, pos) + 1) + 1)
    return Loc(path, 1, 1)


def describe_yaml_error(exc: BaseException) -> str:
    problem = getattr(exc, "problem", None)
    context = getattr(exc, "context", None)
    parts = [p for p in (context, problem) if p]
    text = "; ".join(parts) if parts else (str(exc).splitlines() or [type(exc).__name__])[0]
    return text[:200]


def _line_text(text: str, line: int) -> str:
    start = 0
    for _ in range(line - 1):
        start = text.find("\n", start) + 1
        if start == 0:
            return ""
    end = text.find("\n", start)
    return text[start:] if end < 0 else text[start:end]


def _hint(text: str, where: Loc) -> str:
    line = _line_text(text, where.line)
    if "\t" in line[: max(where.col, 1)] or (line[:1] == "\t"):
        return " (a tab character: YAML indentation must use spaces)"
    if "{{" in line:
        return " (an unquoted '{{' on this line: a template placeholder must be quoted, or rendered first)"
    return ""


_QUOTED = ("'", '"')
_PLACEHOLDER = re.compile(r"\{\{.*?\}\}")


def _source_placeholder(text: str, where: Loc) -> str:
    """The ``{{ ... }}`` written at ``where`` in the source (as much as fits on the line)."""
    line = _line_text(text, where.line)[where.col - 1 :]
    end = line.find("}}")
    return line[: end + 2] if end >= 0 else line


# Helm's own objects and functions inside '{{ }}': no other template language uses
# them (Alertmanager, Prometheus and Argo templates do not).
# An action may start with a keyword or function ({{- if .Values.x }}, {{ toYaml .Values.y }}).
_HELM_OBJECT = re.compile(
    r"\{\{-?[^{}\n]*?(?<![\w.])\$?\.(?:Values|Release|Chart|Capabilities|Files|Template)\b"
    r"|\{\{-?\s*(?:include|tpl|toYaml|required|define|template)\s"
)


# --------------------------------------------------------------------------- entry point


_BRACKETS = re.compile(r"[\[\]{}]")


def _flow_too_deep(text: str, path: str) -> Finding | None:
    """A cheap look at bracket nesting before any parser runs: the pure-Python
    scanner is quadratic in flow depth (a line of 100,000 '[' takes minutes)
    and libyaml gives up at 1000 levels anyway.  Brackets inside strings count
    too, so the threshold is generous; only absurd input is refused here."""
    if text.count("[") + text.count("{") <= PRESCAN_DEPTH:
        return None
    depth = 0
    for match in _BRACKETS.finditer(text):
        if match.group() in "[{":
            depth += 1
            if depth > PRESCAN_DEPTH:
                pos = match.start()
                line = text.count("\n", 0, pos) + 1
                col = pos - (text.rfind("\n", 0, pos) + 1) + 1
                return Finding(
                    "INPUT001",
                    f"brackets nest more than {PRESCAN_DEPTH} levels deep; not parsed",
                    Loc(path, line, col),
                    detail="depth",
                )
        elif depth:
            depth -= 1
    return None


#: After this many syntax errors in one file, the rest of it is not read.
MAX_RECOVERIES = 100
_DOCUMENT_MARKER = re.compile(r"^---(?:[ \t]|$)", re.MULTILINE)


def parse_yaml_text(text: str, path: str, *, json_mode: bool = False) -> ParseResult:
    """Parse a (multi-document) YAML or JSON text into located documents.

    ``json_mode`` reads plain scalars with JSON's rules (``1e3`` is a number,
    ``yes`` is not a boolean).  Never raises for bad input: every problem is a
    finding with file, line and column.  After a syntax error, parsing resumes at
    the next ``---`` line, so one broken document does not cost the others.
    """
    too_deep = _flow_too_deep(text, path)
    if too_deep is not None:
        return ParseResult([], [too_deep])
    composer = _Composer(path, json_mode, text)
    chunk = text
    for _ in range(MAX_RECOVERIES + 1):
        loader = None
        resume = None
        try:
            loader = _Loader(chunk)  # the pure-Python reader already checks characters here
            composer.run(loader)
            break
        except yaml.YAMLError as exc:
            err = _error_loc(path, exc, chunk)
            where = Loc(path, err.line + composer.first_line - 1, err.col)
            resume = _next_document_line(text, max(where.line, composer.first_line + 1))
            composer.failed(f"cannot parse YAML: {describe_yaml_error(exc)}", where, resume)
        except (ValueError, UnicodeError, RecursionError) as exc:  # parser internals; never expected
            composer.problems.append(
                Finding("INPUT001", f"cannot parse YAML: {type(exc).__name__}", Loc(path, 1, 1), detail="parse")
            )
            break
        finally:
            if loader is not None:
                loader.dispose()
        if resume is None:
            break
        chunk, composer.first_line = text[_offset_of_line(text, resume) :], resume
    else:
        composer.problems.append(
            Finding(
                "INPUT001",
                f"more than {MAX_RECOVERIES} syntax errors: the rest of the file, from line "
                f"{composer.first_line}, is not read",
                Loc(path, composer.first_line, 1),
                detail="parse",
            )
        )
    composer.finish()
    return ParseResult(composer.documents, composer.problems)


def _next_document_line(text: str, line: int) -> int | None:
    """The first ``---`` document marker at or after ``line`` (1-based), if any."""
    start = _offset_of_line(text, line)
    if start < 0:
        return None
    match = _DOCUMENT_MARKER.search(text, start)
    return text.count("\n", 0, match.start()) + 1 if match else None


_LINE_STARTS: dict[int, tuple[str, list[int]]] = {}


def _offset_of_line(text: str, line: int) -> int:
    """Offset where ``line`` (1-based) starts in ``text``; -1 past the end.  Line starts
    are computed once per text (a file with many syntax errors asks many times)."""
    cached = _LINE_STARTS.get(id(text))
    if cached is None or cached[0] is not text:
        starts = [0] + [m.end() for m in re.finditer("\n", text)]
        _LINE_STARTS.clear()  # only the file being parsed is ever asked about
        _LINE_STARTS[id(text)] = cached = (text, starts)
    starts = cached[1]
    return starts[line - 1] if 1 <= line <= len(starts) else -1


def loader_name() -> str:
    """The PyYAML parser in use (``CSafeLoader`` when libyaml is available)."""
    return _Loader.__name__
