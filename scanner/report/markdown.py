"""Markdown report for pull requests and GitHub's job summary (``$GITHUB_STEP_SUMMARY``).

Sections: the verdict and summary counts; per policy, what it governs, its rule
settings and the promises kept, broken and excepted; the findings table (severity,
rule, ``path:line`` — a link to the file at the scanned commit when GitHub's
environment names it — message, offending line, one-line fix); the documented
exceptions with reason and expiry; the baseline; and per policy with a traffic
matrix, the traffic graph as a Mermaid diagram (``scanner/matrixview.py`` judges the
edges; this module only draws them).

Everything taken from scanned files is escaped, so a manifest cannot inject
Markdown, HTML, links or mentions into a pull request; quoted source lines
are the scan's masked quotes (``scanner/quote.py``), so no secret value is
shown.  Output is a pure function of the scan result and the link base:
byte-identical for the same input and environment.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote

from ..findings import Finding
from ..matrixview import STATUSES, MatrixView, ViewEdge, ViewNode
from ..network.graph import mermaid_id, mermaid_subgraph_id, mermaid_text
from ..promises import FAMILIES
from ..quote import clean
from ..scan import AppliedScope, ScanResult
from .json_report import SEVERITIES
from .text import (
    one_line_fix,
    plural,
    rendered_lines,
    scope_notes,
    verdict,
)

MAX_ROWS = 200  # findings (and exceptions) listed; a job summary holds at most 1 MiB
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>&|~#@$!])")
_SEVERITY_MARK = {"error": "🔴 error", "warning": "🟠 warning", "note": "🔵 note"}


@dataclass(frozen=True, slots=True)
class SourceLinks:
    """Where a file of the scanned commit is shown: ``{server}/{repository}/blob/{sha}/``."""

    base: str

    def url(self, path: str, line: int) -> str | None:
        parts = path.split("/")
        if path.startswith("/") or ".." in parts or not path:
            return None  # outside the repository: GitHub has no page for it
        return f"{self.base}{quote(path, safe='/')}" + (f"#L{line}" if line >= 1 else "")


_SERVER = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?")
_REPOSITORY = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
_SHA = re.compile(r"[0-9a-f]{40}([0-9a-f]{24})?")


def links_from_env(env: Mapping[str, str]) -> SourceLinks | None:
    """Blob links from GitHub Actions' default variables (GITHUB_SERVER_URL,
    GITHUB_REPOSITORY, GITHUB_SHA: https://docs.github.com/en/actions/reference/
    workflows-and-actions/variables#default-environment-variables); None unless all
    three are set and well-formed."""
    server = env.get("GITHUB_SERVER_URL", "").rstrip("/")
    repo, sha = env.get("GITHUB_REPOSITORY", ""), env.get("GITHUB_SHA", "")
    if not (_SERVER.fullmatch(server) and _REPOSITORY.fullmatch(repo) and _SHA.fullmatch(sha)):
        return None
    return SourceLinks(f"{server}/{repo}/blob/{sha}/")


# -- escaping --------------------------------------------------------------------------


def md(text: str) -> str:
    """Text from scanned input as inert Markdown: control characters escaped (as the
    text report shows them), every character Markdown, HTML, GitHub mentions (@),
    references (#) or math ($) would read backslash-escaped; one line."""
    return _MD_SPECIAL.sub(r"\\\1", clean(str(text)))


def code(text: str) -> str:
    """A code span for a table cell: long enough a backtick fence, '|' escaped (GFM
    reads a table's pipes before code spans)."""
    text = clean(str(text))
    runs = [len(r) for r in re.findall(r"`+", text)]
    fence = "`" * (max(runs, default=0) + 1)
    pad = " " if text.startswith(("`", " ")) or text.endswith(("`", " ")) else ""
    return f"{fence}{pad}{text.replace('|', chr(92) + '|')}{pad}{fence}"


# -- sections ------------------------------------------------------------------------


def _summary(result: ScanResult) -> list[str]:
    counts = {level: 0 for level in SEVERITIES}
    for f in result.active():
        counts[result.level(f)] += 1
    rows = [(f"{level}s", counts[level]) for level in SEVERITIES]
    rows.append(("suppressed (documented exceptions)", len(result.suppressed())))
    if result.baseline_fixed is not None:
        rows.append(("known from the baseline (not failing)", sum(1 for f in result.active() if f.baseline)))
        rows.append(("fixed since the baseline", len(result.baseline_fixed)))
    rows.append(("files scanned", len(result.files)))
    if result.excluded:
        rows.append(("files excluded on purpose", len(result.excluded)))
    rows += [(f"documents: {cls}", n) for cls, n in result.document_counts.items()]
    rows += [("workloads", result.workload_count), ("rules checked", len(result.rules))]
    return ["| | count |", "|---|---:|", *(f"| {md(name)} | {n} |" for name, n in rows), ""]


def _rendered(result: ScanResult) -> list[str]:
    lines = rendered_lines(result)
    return ["## Rendered (--render)", "", *(f"- {md(line)}" for line in lines), ""] if lines else []


def _policies(result: ScanResult) -> list[str]:
    out = ["## Policies", ""]
    for scope in result.scopes:
        files = plural(scope.files, "file")
        if scope.policy_path is None:
            out += [
                (
                    f"No policy file governs {files}: only the generic rules ran on them (Pod Security Standards, "
                    "input, network-policy validity)."
                ),
                "",
            ]
            continue
        where = scope.directory or "every scanned file"
        out += [f"Policy {code(scope.policy_path)} governs {code(where)} ({files}).", ""]
        notes = scope_notes(result, scope)
        out += [*(f"- {md(note)}" for note in notes), ""] if notes else []
        out += _promise_table(result, scope)
    return out


def _promise_table(result: ScanResult, scope: AppliedScope) -> list[str]:
    mine = [p for p in result.promises if p.policy == scope.policy_path]
    if not mine:
        return ["It documents no promise.", ""]
    out = ["| documented promises | kept | broken | excepted |", "|---|---:|---:|---:|"]
    for family, wording in FAMILIES.items():
        group = [p for p in mine if p.promise.family == family]
        if group:
            n = {s: sum(p.status == s for p in group) for s in ("kept", "broken", "excepted")}
            out.append(f"| {md(wording)} | {n['kept']} | {n['broken']} | {n['excepted']} |")
    return [*out, ""]


def _where(finding: Finding, result: ScanResult, links: SourceLinks | None) -> str:
    loc = finding.loc
    if loc.path in result.rendered:
        # Lines of rendered output: no page of the repository shows them.
        return f"{code(f'{loc.path}:{loc.line}')} (rendered)"
    shown = code(f"{loc.path}:{loc.line}")
    url = links.url(loc.path, loc.line) if links is not None else None
    return f"[{shown}]({url})" if url else shown


def _findings(result: ScanResult, links: SourceLinks | None) -> list[str]:
    active = [f for f in result.active() if not f.baseline]
    if not active:
        return []
    out = [f"## Findings ({len(active)})", "", "| severity | rule | where | finding |", "|---|---|---|---|"]
    for f in active[:MAX_ROWS]:
        cell = [md(f.message)]
        line = result.quotes.get(f)
        if line is not None:
            cell.append(code(line.strip()))
        cell.append(f"fix: {md(one_line_fix(result, f))}")
        out.append(
            f"| {_SEVERITY_MARK[result.level(f)]} | {code(f.rule_id)} | {_where(f, result, links)} | "
            f"{'<br>'.join(cell)} |"
        )
    out.append("")
    if len(active) > MAX_ROWS:
        out += [
            (
                f"{len(active) - MAX_ROWS} more findings are not listed here: the text, JSON and SARIF reports "
                "have them all."
            ),
            "",
        ]
    rule = min(f.rule_id for f in active)
    out += [
        (
            f"A finding that does not apply here can be documented as an exception with a reason "
            f"({code(f'kubematrix rules {rule}')} shows how)."
        ),
        "",
    ]
    return out


def _exceptions(result: ScanResult, links: SourceLinks | None) -> list[str]:
    suppressed = result.suppressed()
    if not suppressed:
        return []
    out = [
        f"## Documented exceptions ({len(suppressed)})",
        "",
        "| rule | where | finding | reason | expires | documented at |",
        "|---|---|---|---|---|---|",
    ]
    for f in suppressed[:MAX_ROWS]:
        sup = f.suppression
        assert sup is not None
        kind = "policy file" if sup.kind == "external" else "annotation"
        source = links.url(sup.source.path, sup.source.line) if links is not None else None
        at = code(f"{sup.source.path}:{sup.source.line}")
        out.append(
            f"| {code(f.rule_id)} | {_where(f, result, links)} | {md(f.message)} | {md(sup.reason)} | "
            f"{sup.expires.isoformat() if sup.expires else 'never'} | "
            f"{f'[{at}]({source})' if source else at} ({kind}) |"
        )
    out.append("")
    if len(suppressed) > MAX_ROWS:
        out += [f"{len(suppressed) - MAX_ROWS} more documented exceptions are not listed here.", ""]
    return out


def _baseline(result: ScanResult) -> list[str]:
    if result.baseline_fixed is None:
        return []
    known = [f for f in result.active() if f.baseline]
    out = ["## Baseline", ""]
    per_rule: dict[str, int] = {}
    for f in known:
        per_rule[f.rule_id] = per_rule.get(f.rule_id, 0) + 1
    text = ", ".join(f"{code(rule)} ×{n}" for rule, n in sorted(per_rule.items()))
    out += [
        f"{plural(len(known), 'finding')} known from the baseline (not failing)" + (f": {text}." if text else "."),
        "",
    ]
    if result.baseline_fixed:
        out += [f"Fixed since the baseline ({len(result.baseline_fixed)}), to remove from it:", ""]
        out += [f"- {code(e.rule_id)} {code(e.path)} {md(e.subject)}" for e in result.baseline_fixed[:20]]
        more = len(result.baseline_fixed) - 20
        out += [f"- … and {more} more (the JSON report lists them)"] if more > 0 else []
        out.append("")
    return out


# -- the traffic matrix ----------------------------------------------------------------

# How each kind of edge looks: the arrow (so the kinds differ without colour too) and
# its linkStyle (https://mermaid.js.org/syntax/flowchart.html#styling-links).
_ARROWS = {"documented": "==>", "undocumented": "-->", "blocked": "-.-x"}
_LINK_STYLES = {
    "documented": "stroke:#1a7f37,stroke-width:3px",
    "undocumented": "stroke:#bc4c00,stroke-width:2px",
    "blocked": "stroke:#cf222e,stroke-width:2px,stroke-dasharray:5 4",
}
_CLASSES = {
    "workload": "fill:#ddf4ff,stroke:#0969da,color:#0a3069",
    "actor": "fill:#fbefff,stroke:#8250df,color:#3e1f79",
    "entity": "fill:#fff8c5,stroke:#9a6700,color:#4d2d00",
    "external": "fill:#f6f8fa,stroke:#57606a,color:#24292f",
    "group": "fill:#ffffff,stroke:#57606a,stroke-dasharray:3 3,color:#24292f",
}
_WORDING = {
    "documented": "documented and allowed",
    "undocumented": "allowed but not documented",
    "blocked": "documented but blocked",
}


def _shape(node: ViewNode) -> str:
    nid, text = mermaid_id(node.id), mermaid_text(node.label)
    if node.kind == "actor":
        return f'{nid}(["{text}"])'
    if node.kind == "entity":
        return f'{nid}{{{{"{text}"}}}}'
    if node.kind in ("cidr", "fqdn"):
        return f'{nid}[/"{text}"/]'
    if node.kind == "group":
        return f'{nid}(("{text}"))'
    return f'{nid}["{text}"]'


def _class_of(node: ViewNode) -> str:
    return "external" if node.kind in ("cidr", "fqdn") else (node.kind if node.kind in _CLASSES else "external")


def view_mermaid(view: MatrixView) -> str:
    """The diagram: workloads grouped by namespace, one arrow per judged edge."""
    lines = ["flowchart LR"]
    by_ns: dict[str, list[ViewNode]] = {}
    for node in view.nodes:
        if node.kind == "workload":
            by_ns.setdefault(node.namespace, []).append(node)
    for ns in sorted(by_ns):
        lines.append(f'  subgraph {mermaid_subgraph_id(ns)}["{mermaid_text("namespace " + ns)}"]')
        lines += [f"    {_shape(n)}" for n in by_ns[ns]]
        lines.append("  end")
    lines += [f"  {_shape(n)}" for n in view.nodes if n.kind != "workload"]
    lines += [_arrow(e) for e in view.edges]
    for status in STATUSES:
        indices = [str(i) for i, e in enumerate(view.edges) if e.status == status]
        if indices:
            lines.append(f"  linkStyle {','.join(indices)} {_LINK_STYLES[status]}")
    for cls, style in _CLASSES.items():
        members = [mermaid_id(n.id) for n in view.nodes if _class_of(n) == cls]
        if members:
            lines += [f"  classDef {cls} {style}", f"  class {','.join(members)} {cls}"]
    return "\n".join(lines) + "\n"


def _arrow(edge: ViewEdge) -> str:
    return f'  {mermaid_id(edge.src)} {_ARROWS[edge.status]}|"{mermaid_text(edge.label)}"| {mermaid_id(edge.dst)}'


def _matrix(result: ScanResult) -> list[str]:
    out: list[str] = []
    for view in result.matrix:
        out += [f"## Traffic matrix of {code(view.policy)}", ""]
        if view.nodes:
            out += ["```mermaid", view_mermaid(view).rstrip("\n"), "```", ""]
        counts = dict(view.counts)
        legend = {
            "documented": "thick green arrows",
            "undocumented": "orange arrows",
            "blocked": "dotted red arrows ending in ×",
        }
        out += ["; ".join(f"{legend[s]}: {_WORDING[s]} ({counts.get(s, 0)})" for s in reversed(STATUSES)) + ".", ""]
        out += _matrix_notes(view)
    governed = [s for s in result.scopes if s.policy_path is not None]
    drawn = {v.policy for v in result.matrix}
    for scope in governed:
        if scope.policy_path not in drawn:
            out += [
                (
                    f"{code(scope.policy_path)} documents no traffic matrix, so there is no traffic graph to judge "
                    "against it."
                ),
                "",
            ]
    return out


def _matrix_notes(view: MatrixView) -> list[str]:
    notes = []
    if view.omitted_edges:
        notes.append(
            f"{view.omitted_edges} more edges omitted (at most {len(view.edges)} are drawn: blocked "
            "documented flows first, then undocumented ones); "
            f"{code('kubematrix graph DIR --format json')} lists every edge."
        )
    if view.omitted_nodes:
        notes.append(f"{plural(view.omitted_nodes, 'workload')} without a drawn edge omitted.")
    if view.implicit:
        notes.append(
            f"{plural(view.implicit, 'edge')} from the local node (entity:host, kubelet probes) not drawn: "
            "Cilium always allows them."
        )
    notes += [
        f"Documented flow {md(text)} is not drawn: an endpoint is unknown (see NET006)." for text in view.unresolved
    ]
    notes += [f"Not applied, so not in the graph: {md(text)}." for text in view.rejected]
    return [*(f"- {n}" for n in notes), ""] if notes else []


def render_markdown(result: ScanResult, links: SourceLinks | None = None) -> str:
    out = ["# kubematrix report", "", f"**{md(verdict(result).plain)}**", ""]
    out += _summary(result)
    out += _rendered(result)
    out += _policies(result)
    out += _findings(result, links)
    out += _exceptions(result, links)
    out += _baseline(result)
    out += _matrix(result)
    while out and out[-1] == "":
        out.pop()
    return "\n".join(out) + "\n"
