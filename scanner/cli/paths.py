"""``kubematrix paths``: multi-hop paths between two endpoints, shortest first.

Exit codes: 0 no path (the destination is unreachable from the source), 1 at least one
path, 2 usage error, 3 internal error — so ``paths`` can gate a build like ``explain``.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from .app import EXIT_FINDINGS, EXIT_OK, UsageError, app, write_output


@app.command("paths")
def paths_command(
    paths: list[Path] = typer.Argument(..., help="Files or directories to scan (recursively).", show_default=False),
    src: str = typer.Option(
        ..., "--from", help="Where the attacker starts: entity:world, ns/workload, actor:<name>, cidr:<prefix>."
    ),
    dst: str = typer.Option(
        ..., "--to", help="The target: ns/workload, actor:<name>, entity:<name>, cidr:<prefix>, fqdn:<name>."
    ),
    limit: int = typer.Option(10, "--limit", help="At most this many paths."),
    max_hops: int | None = typer.Option(None, "--max-hops", help="Only paths with at most this many hops."),
    policy: Path | None = typer.Option(
        None, "--policy", "-p", help="Policy file (default: kubematrix.yaml in the scanned root)."
    ),
    namespace: str | None = typer.Option(
        None, "--namespace", "-n", help="Namespace of objects without metadata.namespace."
    ),
    fmt: str = typer.Option("text", "--format", "-f", help="text or json."),
) -> None:
    """List the multi-hop paths from SRC to DST (Cilium AND Istio), shortest first, each hop with its ports and rules."""
    from ..network.paths import hop_lines, paths_between, reachability_graph
    from ..network.traffic import EndpointError
    from .graph import _traffic

    if limit < 1:
        raise UsageError(f"--limit {limit}: give at least 1")
    if fmt not in ("text", "json"):
        raise UsageError(f"--format {fmt!r}: use text or json")
    groups = ("entity:all", "entity:cluster")
    if src in groups or dst in groups:
        raise UsageError("paths need one endpoint on each side, not a group (entity:all, entity:cluster)")
    traffic = _traffic(paths, policy, namespace, [src, dst])
    try:
        a, b = traffic.resolve(src), traffic.resolve(dst)
    except EndpointError as exc:
        raise UsageError(str(exc)) from None
    found = paths_between(reachability_graph(traffic), a, b, limit, max_hops)
    if fmt == "json":
        text = json.dumps({"from": a, "to": b, "paths": [p.to_json() for p in found]}, indent=2) + "\n"
    else:
        text = _text(a, b, found, hop_lines)
    write_output(text, None)
    raise typer.Exit(EXIT_FINDINGS if found else EXIT_OK)


def _text(a: str, b: str, found, hop_lines) -> str:
    if not found:
        return f"no path from {a} to {b}: {b} is unreachable from {a} (Cilium AND Istio)\n"
    head = (
        f"{len(found)} path{'s' if len(found) > 1 else ''} from {a} to {b}, shortest first "
        "(a hop is open when Cilium allows a port and Istio does not deny it; Istio verdicts undecidable "
        "offline count as open):"
    )
    lines = [head, ""]
    for i, p in enumerate(found, 1):
        lines.append(f"{i}. {p.text()}  ({len(p.hops)} hop{'s' if len(p.hops) > 1 else ''})")
        lines += list(hop_lines(p))
        lines.append("")
    return "\n".join(lines)
