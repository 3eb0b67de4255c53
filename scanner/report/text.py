"""Human report: findings grouped by file, with the offending source line.

Layout (plain mode)::

    path/to/file.yaml
      23:9   error    SEC001  container 'nginx' of Rollout ns/web: ...
                              23 |         runAsNonRoot: false

    Documented exceptions (1)
      ...

    Summary
      ...

With ``color=False`` the output contains no ANSI codes at all and does not
depend on the terminal or the environment (fixed width), so it is
deterministic and safe to diff.  Source lines are read relative to the
working directory; an unreadable file just has no snippet.  Values of
secret-looking keys are masked in snippets so a report never leaks them.
"""

from __future__ import annotations

import io

from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from ..findings import Finding
from ..promises import FAMILIES
from ..quote import clean
from ..scan import ScanResult
from .json_report import SEVERITIES

SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "note": "cyan"}


def _console(color: bool, width: int) -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        width=width,
        height=25,
        force_terminal=color,
        force_interactive=False,
        color_system="standard" if color else None,
        no_color=not color,
        legacy_windows=False,
        markup=False,
        emoji=False,
        highlight=False,
        soft_wrap=False,
        tab_size=8,
    )
    return console, buffer


def _severity(result: ScanResult, finding: Finding) -> str:
    return result.level(finding)


def _snippet(result: ScanResult, finding: Finding) -> Text | None:
    shown = result.quotes.get(finding)
    if shown is None:
        return None
    text = Text(f"{finding.loc.line} | ", style="dim")
    text.append(shown)
    text.no_wrap = True
    text.overflow = "ellipsis"
    return text


def one_line_fix(result: ScanResult, finding: Finding) -> str:
    """The rule's remediation, first sentence: the one-line fix."""
    text = " ".join(result.rules[finding.rule_id].remediation.split())
    end = text.find(". ")
    return text if end < 0 else text[: end + 1]


def _findings_by_file(console: Console, result: ScanResult) -> None:
    """Each finding as ``path:line:col  severity  RULE`` (clickable in terminals and
    editors), then its message, the offending line and the rule's one-line fix."""
    active = [f for f in result.active() if not f.baseline]
    if not active:
        return
    by_file: dict[str, list[Finding]] = {}
    for finding in active:
        by_file.setdefault(finding.loc.path, []).append(finding)
    for findings in by_file.values():
        for finding in findings:
            level = _severity(result, finding)
            head = Text(clean(str(finding.loc)), style="bold")
            head.append("  ")
            head.append(level, style=SEVERITY_STYLE[level])
            head.append("  ")
            head.append(finding.rule_id, style="bold")
            console.print(head)
            body = Table.grid(pad_edge=False)
            body.add_column(overflow="fold")
            body.add_row(Text(clean(finding.message)))
            snippet = _snippet(result, finding)
            if snippet is not None:
                body.add_row(snippet)
            body.add_row(Text(clean(f"fix: {one_line_fix(result, finding)}"), style="dim"))
            console.print(Padding(body, (0, 0, 0, 4)))
        console.print()
    rules = sorted({f.rule_id for f in active})
    console.print(
        Text(
            clean(
                f"A finding that does not apply here can be documented as an exception with a reason "
                f"(kubematrix rules {rules[0]} shows how)."
            ),
            style="dim",
        )
    )
    console.print()


def _exceptions(console: Console, result: ScanResult) -> None:
    suppressed = result.suppressed()
    if not suppressed:
        return
    console.print(Text(f"Documented exceptions ({len(suppressed)})", style="bold"))
    grid = Table.grid(padding=(0, 2), pad_edge=False)
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    for finding in suppressed:
        sup = finding.suppression
        assert sup is not None
        grid.add_row(Text(finding.rule_id, style="bold"), Text(clean(str(finding.loc))))
        grid.add_row("", Text(clean(finding.message)))
        grid.add_row("", Text(clean(f"reason: {sup.reason}"), style="green"))
        if sup.expires is not None:
            grid.add_row("", Text(f"expires: {sup.expires.isoformat()}", style="green"))
        where = "policy file" if sup.kind == "external" else "annotation"
        grid.add_row("", Text(clean(f"exception ({where}): {sup.source}"), style="dim"))
    console.print(Padding(grid, (0, 0, 0, 2)))
    console.print()


def _baseline(console: Console, result: ScanResult) -> None:
    """Known findings in one line per rule; what the baseline recorded and is now fixed."""
    if result.baseline_fixed is None:
        return
    known = [f for f in result.active() if f.baseline]
    if known:
        per_rule: dict[str, int] = {}
        for f in known:
            per_rule[f.rule_id] = per_rule.get(f.rule_id, 0) + 1
        console.print(Text(f"Known from the baseline ({len(known)}, not failing)", style="bold"))
        console.print(Text("  " + ", ".join(f"{rule} x{n}" for rule, n in sorted(per_rule.items())), style="dim"))
        console.print()
    if result.baseline_fixed:
        console.print(
            Text(f"Fixed since the baseline ({len(result.baseline_fixed)}): remove them from it", style="bold")
        )
        for e in result.baseline_fixed[:20]:
            console.print(Text(clean(f"  {e.rule_id}  {e.path}  {e.subject}"), style="green"))
        if len(result.baseline_fixed) > 20:
            console.print(Text(f"  ... and {len(result.baseline_fixed) - 20} more (--format json lists them)"))
        console.print()


def rendered_lines(result: ScanResult) -> list[str]:
    """What --render ran and what its output replaced (every report says it)."""
    lines = []
    for out in result.outputs:
        what = "failed: nothing of it is checked" if out.failed else plural(out.documents, "document")
        lines.append(f"{out.command} ({what})")
    if result.replaced:
        lines.append(
            f"{plural(len(result.replaced), 'file')} not read raw: rendered output replaces them "
            "(templates, and the manifests of rendered kustomizations)"
        )
    return lines


def _rendered(console: Console, result: ScanResult) -> None:
    lines = rendered_lines(result)
    if not lines:
        return
    console.print(Text("Rendered (--render)", style="bold"))
    for line in lines:
        console.print(Text(clean(f"  {line}")))
    console.print()


def _summary(console: Console, result: ScanResult) -> None:
    counts = {level: 0 for level in SEVERITIES}
    for finding in result.active():
        counts[_severity(result, finding)] += 1
    console.print(Text("Summary", style="bold"))
    table = Table(box=None, show_header=False, pad_edge=False, padding=(0, 2))
    table.add_column(no_wrap=True)
    table.add_column(justify="right", no_wrap=True)
    for level in SEVERITIES:
        table.add_row(Text(f"{level}s", style=SEVERITY_STYLE[level] if counts[level] else ""), str(counts[level]))
    table.add_row("suppressed (documented exceptions)", str(len(result.suppressed())))
    table.add_row("files scanned", str(len(result.files)))
    if result.excluded:
        table.add_row("files excluded on purpose", str(len(result.excluded)))
    for cls, count in result.document_counts.items():
        table.add_row(f"documents: {cls}", str(count))
    table.add_row("workloads", str(result.workload_count))
    table.add_row("rules checked", str(len(result.rules)))
    console.print(Padding(table, (0, 0, 0, 2)))
    console.print()


def scope_notes(result: ScanResult, scope) -> list[str]:
    """What the policy itself turned off or down, and left out: always visible."""
    notes = []
    if scope.excluded:
        notes.append(f"{plural(scope.excluded, 'file')} left out by its exclude list")
    for policy, rule, setting in result.rule_settings:
        if policy != scope.policy_path:
            continue
        what = "turned off" if not setting.enabled else f"severity set to {setting.severity}"
        notes.append(f"rule {rule} {what}" + (f" ({setting.reason})" if setting.reason else ""))
    return notes


def _promises(console: Console, result: ScanResult) -> None:
    """Which policy governed which files, and what was proven of each promise family."""
    for scope in result.scopes:
        files = plural(scope.files, "file")
        if scope.policy_path is None:
            console.print(
                Text(
                    clean(
                        f"No policy file governs {files}: only the generic rules ran on them (Pod "
                        "Security Standards, input, network-policy validity)."
                    ),
                    style="bold",
                )
            )
            console.print()
            continue
        console.print(
            Text(
                clean(f"Policy {scope.policy_path} governs {scope.directory or 'every scanned file'} ({files})"),
                style="bold",
            )
        )
        for line in scope_notes(result, scope):
            console.print(Text(clean(f"  {line}"), style="yellow"))
        mine = [p for p in result.promises if p.policy == scope.policy_path]
        if not mine:
            console.print(Text("  it documents no promise", style="yellow"))
        grid = Table.grid(padding=(0, 2), pad_edge=False)
        grid.add_column(justify="right", no_wrap=True)
        grid.add_column(overflow="fold")
        for family, wording in FAMILIES.items():
            group = [p for p in mine if p.promise.family == family]
            if not group:
                continue
            broken = sum(p.status == "broken" for p in group)
            excepted = sum(p.status == "excepted" for p in group)
            text = wording + (f" ({excepted} by a documented exception)" if excepted else "")
            if broken:
                text += f"; {broken} broken"
            grid.add_row(
                Text(f"{len(group) - broken} of {len(group)}", style="bold red" if broken else "green"), Text(text)
            )
        console.print(Padding(grid, (0, 0, 0, 2)))
        console.print()


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _checked(result: ScanResult) -> str:
    docs = sum(result.document_counts.values())
    return (
        f"{plural(len(result.files), 'file')}, {plural(docs, 'document')} and "
        f"{plural(result.workload_count, 'workload')} checked against {plural(len(result.rules), 'rule')}"
    )


def verdict(result: ScanResult) -> Text:
    """The report's last line: what failed, or what a green result proved."""
    active = [f for f in result.active() if not f.baseline]
    known = len(result.active()) - len(active)
    kept = [p for p in result.promises if p.status != "broken"]
    excepted = sum(p.status == "excepted" for p in result.promises)
    if not active and known:
        return Text(
            f"No new findings: {plural(known, 'finding')} known from the baseline (not failing); {_checked(result)}.",
            style="bold green",
        )
    if not active:
        if not result.promises:
            why = "no policy file applied" if result.policy_path is None else "the policy documents no promise"
            return Text(
                f"No findings: {_checked(result)}; {why}, so no documented promise was checked.", style="bold yellow"
            )
        extra = f" ({excepted} by a documented exception)" if excepted else ""
        return Text(
            f"No findings: {plural(len(kept), 'documented promise')} kept{extra}; {_checked(result)}.",
            style="bold green",
        )
    counts = {level: 0 for level in SEVERITIES}
    for finding in active:
        counts[_severity(result, finding)] += 1
    parts = ", ".join(plural(counts[level], level) for level in SEVERITIES if counts[level])
    files = len({f.loc.path for f in active})
    text = f"{plural(len(active), 'finding')} ({parts}) in {plural(files, 'file')}"
    if result.suppressed():
        text += f"; {len(result.suppressed())} suppressed by documented exceptions"
    if known:
        text += f"; {known} more known from the baseline"
    if result.promises:
        text += f"; {len(result.promises) - len(kept)} of {plural(len(result.promises), 'documented promise')} broken"
    return Text(text + ".", style="bold red" if counts["error"] else "bold yellow")


def render_text(result: ScanResult, *, color: bool = False, width: int = 100) -> str:
    console, buffer = _console(color, max(40, width))
    if result.findings:
        _findings_by_file(console, result)
        _exceptions(console, result)
    _baseline(console, result)
    _rendered(console, result)
    if result.findings:
        _summary(console, result)
    _promises(console, result)
    console.print(verdict(result))
    return _finish(buffer.getvalue(), color)


def _finish(text: str, color: bool) -> str:
    if color:
        return text
    # rich pads table cells to the full width; trailing blanks are noise in diffs.
    return "".join(line.rstrip() + "\n" for line in text.splitlines())
