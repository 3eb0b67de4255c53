"""Parse YAML/JSON text into located documents, safely.

Only the *composer* of PyYAML runs (libyaml's C implementation when available,
``yaml.CSafeLoader``, else the pure-Python ``SafeLoader``): it builds a node
graph with source marks and never constructs arbitrary objects.  We then turn
nodes into ``LMap``/``LList``/scalars ourselves, which lets us

* keep the line and column of every key and value,
* refuse every non-standard tag (``!!python/object``, ``!Ref`` ...) without ever
  constructing it, reporting it instead,
* report duplicate keys (Kubernetes' decoder rejects them; we keep the last
  value, as YAML 1.1 loaders do, and say so),
* bound the work done on alias-heavy input ("billion laughs"): aliases are
  shared, and the *expanded* size of a document is computed and capped.

Conversion is iterative, so deep nesting cannot raise RecursionError here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ..findings import Finding
from ..located import LList, LMap, Loc

try:  # libyaml is ~10x faster; the pure-Python parser is the fallback.
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader

# A document whose aliases would expand beyond this many nodes is refused: no
# real manifest comes close, and every traversal of it would be unbounded.
MAX_EXPANDED_NODES = 1_000_000

_STD = "tag:yaml.org,2002:"
_SCALAR_TAGS = {f"{_STD}{t}" for t in ("str", "int", "float", "bool", "null", "timestamp", "binary", "value")}
_SAFE_CTOR = yaml.constructor.SafeConstructor()


@dataclass(frozen=True, slots=True)
class ParsedDocument:
    index: int  # 0-based position in the file's stream
    loc: Loc  # start of the document's root node
    data: Any


@dataclass(slots=True)
class ParseResult:
    documents: list[ParsedDocument]
    problems: list[Finding]


def _loc(path: str, node: Node) -> Loc:
    mark = node.start_mark
    return Loc(path, mark.line + 1, mark.column + 1)


def _scalar(node: ScalarNode, path: str, problems: list[Finding]) -> Any:
    tag = node.tag
    if tag in (f"{_STD}str", "!"):
        return node.value
    if tag in (f"{_STD}timestamp", f"{_STD}binary"):
        # Kubernetes reads these as strings; constructing dates would only lose text.
        return node.value
    if tag in _SCALAR_TAGS:
        try:
            return _SAFE_CTOR.construct_object(node, deep=False)
        except Exception:  # noqa: BLE001 - malformed literal, keep the text
            return node.value
    problems.append(
        Finding(
            "INPUT001",
            f"unsupported YAML tag {tag!r}: the value is read as plain text and never constructed",
            _loc(path, node),
            detail=f"tag:{tag}",
        )
    )
    return node.value


def _check_tag(node: Node, path: str, problems: list[Finding]) -> None:
    if node.tag not in (f"{_STD}map", f"{_STD}seq", f"{_STD}omap", f"{_STD}set"):
        problems.append(
            Finding(
                "INPUT001",
                f"unsupported YAML tag {node.tag!r}: the collection is read as plain data",
                _loc(path, node),
                detail=f"tag:{node.tag}",
            )
        )


def _expanded_size(root: Node) -> int:
    """Number of nodes the document would have with every alias expanded (memoised, iterative)."""
    sizes: dict[int, int] = {}
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if key in sizes:
            continue
        if isinstance(node, ScalarNode):
            sizes[key] = 1
            continue
        children: list[Node]
        if isinstance(node, MappingNode):
            children = [n for pair in node.value for n in pair]
        else:
            children = list(node.value)
        if children_done:
            total = 1
            for child in children:
                total += sizes.get(id(child), 1)
                if total > MAX_EXPANDED_NODES:
                    break
            sizes[key] = min(total, MAX_EXPANDED_NODES + 1)
        else:
            stack.append((node, True))
            stack.extend((c, False) for c in children if id(c) not in sizes)
    return sizes[id(root)]


def _hashable_key(value: Any) -> Any:
    try:
        hash(value)
        return value
    except TypeError:
        return str(value)


def to_located(root: Node, path: str, problems: list[Finding]) -> Any:
    """Convert a composed node graph into located Python values (iteratively)."""
    built: dict[int, Any] = {}
    # Each frame: (node, phase). Phase 0 = allocate container and schedule
    # children; phase 1 = fill the container from the already-built children.
    stack: list[tuple[Node, int]] = [(root, 0)]
    while stack:
        node, phase = stack.pop()
        key = id(node)
        if phase == 0:
            if key in built:
                continue  # an alias of something already built: share it
            if isinstance(node, ScalarNode):
                built[key] = _scalar(node, path, problems)
                continue
            _check_tag(node, path, problems)
            built[key] = LMap(_loc(path, node)) if isinstance(node, MappingNode) else LList(_loc(path, node))
            stack.append((node, 1))
            children = [n for pair in node.value for n in pair] if isinstance(node, MappingNode) else node.value
            stack.extend((c, 0) for c in reversed(children) if id(c) not in built)
            continue
        target = built[key]
        if isinstance(node, SequenceNode):
            for child in node.value:
                target.append(built[id(child)])
                target.item_locs.append(_loc(path, child))
            continue
        merges: list[Any] = []
        for key_node, value_node in node.value:
            if key_node.tag == f"{_STD}merge":
                merges.append(built[id(value_node)])
                continue
            k = _hashable_key(built[id(key_node)])
            if k in target:
                problems.append(
                    Finding(
                        "INPUT003",
                        f"duplicate key {k!r} (first at line {target.key_locs[k].line}); "
                        "Kubernetes rejects this, other tools keep the last value",
                        _loc(path, key_node),
                        detail=f"dup:{k}",
                    )
                )
            target[k] = built[id(value_node)]
            target.key_locs[k] = _loc(path, key_node)
            target.value_locs[k] = _loc(path, value_node)
        # YAML merge keys (<<): explicit keys win over merged ones.
        for merged in merges:
            sources = merged if isinstance(merged, list) else [merged]
            for source in sources:
                if not isinstance(source, LMap):
                    continue
                for mk, mv in source.items():
                    if mk not in target:
                        target[mk] = mv
                        target.key_locs[mk] = source.key_locs.get(mk, source.loc)
                        target.value_locs[mk] = source.value_locs.get(mk, source.loc)
    return built[id(root)]


def _error_loc(path: str, exc: BaseException) -> Loc:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if mark is not None:
        return Loc(path, mark.line + 1, mark.column + 1)
    return Loc(path, 1, 1)


def describe_yaml_error(exc: BaseException) -> str:
    problem = getattr(exc, "problem", None)
    context = getattr(exc, "context", None)
    parts = [p for p in (context, problem) if p]
    text = "; ".join(parts) if parts else str(exc).splitlines()[0]
    return text


def parse_yaml_text(text: str, path: str) -> ParseResult:
    """Parse a (multi-document) YAML or JSON text. Documents before an error are kept."""
    documents: list[ParsedDocument] = []
    problems: list[Finding] = []
    index = 0
    try:
        for node in yaml.compose_all(text, Loader=_Loader):
            if node is None:
                index += 1
                continue
            if _expanded_size(node) > MAX_EXPANDED_NODES:
                problems.append(
                    Finding(
                        "INPUT001",
                        f"document {index + 1} expands to more than {MAX_EXPANDED_NODES:,} nodes through "
                        "YAML aliases (an alias bomb?); it is not scanned",
                        _loc(path, node),
                        detail=f"doc:{index}",
                    )
                )
            else:
                documents.append(ParsedDocument(index, _loc(path, node), to_located(node, path, problems)))
            index += 1
    except yaml.YAMLError as exc:
        message = describe_yaml_error(exc)
        if "{{" in text:
            message += " — this looks like an unrendered Helm template: render it first (helm template ...)"
        problems.append(Finding("INPUT001", f"cannot parse YAML: {message}", _error_loc(path, exc), detail="parse"))
    except RecursionError:
        problems.append(
            Finding("INPUT001", "cannot parse YAML: nesting is too deep", Loc(path, 1, 1), detail="parse")
        )
    return ParseResult(documents, problems)
