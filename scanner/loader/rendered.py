"""Rendered manifest streams (``helm template … | scan -``, ``--render``) mapped back to
the files they come from.

``helm template`` precedes every document with ``# Source: <chart>/templates/<file>``
(helm/helm ``pkg/action/action.go`` ``renderResources``, which writes
``"---\\n# Source: %s\\n%s\\n"``).  Each located value of such a document is moved to
that file — its line counted from the document's first line, i.e. the line in the
*rendered* template — so every report (SARIF included) points at a file of the
repository, and findings on one template group together.  ``chart_dirs`` maps a chart
name to the directory it was rendered from (``--render`` knows it; for stdin,
``--source-root`` names the directory holding the charts), so paths are relative to
the working directory like every other finding.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from ..findings import Finding
from ..located import LList, LMap, Loc
from .yamltext import ParsedDocument

_SOURCE = re.compile(r"^# Source: (?P<path>\S.*?)\s*$")


@dataclass(frozen=True, slots=True)
class SourceMark:
    line: int  # 1-based line of the "# Source:" comment in the stream
    path: str  # where the document really comes from


def helm_sources(text: str, chart_dirs: Mapping[str, str], root: str = "") -> list[SourceMark]:
    """Every ``# Source:`` comment of a rendered stream, with its repository path."""
    out = []
    for n, line in enumerate(text.splitlines(), start=1):
        match = _SOURCE.match(line)
        if match is None:
            continue
        path = match["path"]
        chart, _, rest = path.partition("/")
        if chart in chart_dirs:
            path = posixpath.join(chart_dirs[chart], rest)  # a chart at the working directory: "" + rest
        elif root:
            path = f"{root.rstrip('/')}/{path}"
        out.append(SourceMark(n, path))
    return out


def _mark_for(line: int, marks: list[SourceMark]) -> SourceMark | None:
    """The last mark at or before ``line`` (documents start after their comment)."""
    best = None
    for m in marks:
        if m.line <= line:
            best = m
        else:
            break
    return best


def _moved(loc: Loc, marks: list[SourceMark]) -> Loc:
    mark = _mark_for(loc.line, marks)
    if mark is None:
        return loc
    return Loc(mark.path, max(1, loc.line - mark.line), loc.col)


def relocate(
    documents: list[ParsedDocument], problems: list[Finding], marks: list[SourceMark]
) -> tuple[list[ParsedDocument], list[Finding]]:
    """Move every location of a rendered stream to the template it came from."""
    if not marks:
        return documents, problems
    out = []
    for doc in documents:
        _relocate_tree(doc.data, marks)
        out.append(
            replace(doc, loc=_moved(doc.loc, marks), held=tuple(replace(h, loc=_moved(h.loc, marks)) for h in doc.held))
        )
    return out, [replace(p, loc=_moved(p.loc, marks)) for p in problems]


def _relocate_tree(data: Any, marks: list[SourceMark]) -> None:
    stack = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, LMap):
            node.loc = _moved(node.loc, marks)
            node.key_locs = {k: _moved(v, marks) for k, v in node.key_locs.items()}
            node.value_locs = {k: _moved(v, marks) for k, v in node.value_locs.items()}
            stack.extend(v for v in node.values() if isinstance(v, (LMap, LList)))
        elif isinstance(node, LList):
            node.loc = _moved(node.loc, marks)
            node.item_locs = [_moved(v, marks) for v in node.item_locs]
            stack.extend(v for v in node if isinstance(v, (LMap, LList)))
