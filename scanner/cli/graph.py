"""``kubematrix graph`` and ``kubematrix explain``: the traffic graph engine on the CLI.

Exit codes: ``graph`` 0 on success; ``explain`` 0 when the connection is allowed
(possibly restricted at L7), 1 when denied; 2 usage error; 3 internal error.
"""

from __future__ import annotations

import gc
import json
from enum import Enum
from pathlib import Path

import typer

from .app import (
    EXIT_FINDINGS,
    EXIT_OK,
    UsageError,
    app,
    check_paths,
    load_policy_option,
    write_output,
)


class GraphFormat(str, Enum):
    json = "json"
    mermaid = "mermaid"
    dot = "dot"


class ExplainFormat(str, Enum):
    text = "text"
    json = "json"


class Scope(str, Enum):
    workloads = "workloads"
    all = "all"


def _traffic(paths: list[Path], policy: Path | None, namespace: str | None, extra: list[str]):
    """The traffic of a tree, read as ``scan`` reads it (``scan.load_inputs`` and
    ``scan.check_context``), under its one governing policy."""
    from ..network import build_traffic_for_policy
    from ..network.traffic import EndpointError
    from ..policy import PolicyError
    from ..scan import ScanOptions, check_context, load_inputs
    from ..scopes import single_policy

    check_paths(paths)
    cwd = Path.cwd()
    options = ScanOptions(paths=tuple(paths), namespace=namespace, cwd=cwd)
    inputs = load_inputs(options)
    try:
        loaded = single_policy(inputs, list(paths), load_policy_option(policy, cwd), cwd)
    except PolicyError as exc:
        raise UsageError(str(exc)) from None
    ctx = check_context(inputs, loaded, options)
    # The parsed manifests live until the process exits: keep the cyclic garbage
    # collector from rescanning them (about a third of the engine's time on large inputs).
    gc.freeze()
    try:
        return build_traffic_for_policy(
            ctx.model, inputs.objects, loaded, extra, ctx.default_namespace, parsed=ctx.parsed_policies()
        )
    except EndpointError as exc:
        raise UsageError(str(exc)) from None


@app.command("graph")
def graph_command(
    paths: list[Path] = typer.Argument(..., help="Files or directories to scan (recursively).", show_default=False),
    fmt: GraphFormat = typer.Option(
        GraphFormat.json, "--format", "-f", help="json (the stable contract), mermaid or dot."
    ),
    policy: Path | None = typer.Option(
        None, "--policy", "-p", help="Policy file (default: kubematrix.yaml in the scanned root)."
    ),
    namespace: str | None = typer.Option(
        None, "--namespace", "-n", help="Namespace of objects without metadata.namespace."
    ),
    scope: Scope = typer.Option(
        Scope.workloads, "--scope", help="mermaid/dot: edges touching a workload (default) or all edges."
    ),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Write to this file (atomically) instead of stdout."
    ),
) -> None:
    """Compute the allowed-traffic graph (Cilium semantics) and print it."""
    from ..network.graph import to_dot, to_json_text, to_mermaid

    traffic = _traffic(paths, policy, namespace, [])
    g = traffic.graph
    if fmt is GraphFormat.json:
        text = to_json_text(g)
    elif fmt is GraphFormat.mermaid:
        text = to_mermaid(g, scope.value)
    else:
        text = to_dot(g, scope.value)
    write_output(text, output)
    raise typer.Exit(EXIT_OK)


def _http(method: str | None, path: str | None, host: str | None, headers: list[str]) -> dict | None:
    if method is None and path is None and host is None and not headers:
        return None
    parsed = {}
    for h in headers:
        name, sep, value = h.partition(":")
        if not sep:
            raise UsageError(f"--header {h!r}: write 'Name: value'")
        parsed[name.strip()] = value.strip()
    return {"method": method, "path": path, "host": host, "headers": parsed}


@app.command("explain")
def explain_command(
    paths: list[Path] = typer.Argument(..., help="Files or directories to scan (recursively).", show_default=False),
    src: str = typer.Option(
        ..., "--from", help="ns/workload, actor:<name>, entity:<name>, cidr:<prefix> or fqdn:<name>."
    ),
    dst: str = typer.Option(
        ...,
        "--to",
        help="ns/workload, actor:<name>, entity:<name>, cidr:<prefix>, fqdn:<name> "
        "or service:<ns>/<name> (checked on each backend's target port).",
    ),
    port: int | None = typer.Option(
        None, "--port", help="Destination port (pod port, after Service translation); ICMP type for ICMP."
    ),
    protocol: str = typer.Option("TCP", "--protocol", help="TCP, UDP, SCTP, ICMP or ICMPv6."),
    method: str | None = typer.Option(None, "--method", help="HTTP method, to evaluate L7 rules."),
    http_path: str | None = typer.Option(None, "--path", help="HTTP path (with query), to evaluate L7 rules."),
    host: str | None = typer.Option(None, "--host", help="HTTP host (:authority), to evaluate L7 rules."),
    header: list[str] = typer.Option([], "--header", help="HTTP header 'Name: value' (repeatable)."),
    policy: Path | None = typer.Option(
        None, "--policy", "-p", help="Policy file (default: kubematrix.yaml in the scanned root)."
    ),
    namespace: str | None = typer.Option(
        None, "--namespace", "-n", help="Namespace of objects without metadata.namespace."
    ),
    fmt: ExplainFormat = typer.Option(ExplainFormat.text, "--format", "-f", help="text or json."),
) -> None:
    """Explain whether SRC may connect to DST, side by side for egress and ingress."""
    from ..network.explain import explain
    from ..network.istio.compose import compose
    from ..network.istio.graphext import status_of
    from ..network.traffic import EndpointError

    proto = protocol.upper()
    if proto == "ICMPV6":
        proto = "ICMPv6"
    if proto not in ("TCP", "UDP", "SCTP", "ICMP", "ICMPv6"):
        raise UsageError(f"--protocol {protocol!r}: use TCP, UDP, SCTP, ICMP or ICMPv6")
    if port is not None and not (0 <= port <= 65535):
        raise UsageError(f"--port {port}: out of range")
    request = _http(method, http_path, host, header)
    groups = ("entity:all", "entity:cluster")
    extra = [r for r in (src, dst) if r not in groups and not r.startswith("service:")]
    traffic = _traffic(paths, policy, namespace, extra)
    try:
        text, ok = explain(traffic, src, dst, proto, port, request)
        if fmt is ExplainFormat.json:
            if dst.startswith("service:"):
                pairs = [(s, b, t) for s in traffic.members(src) for b, t in traffic.service_backends(dst, port, proto)]
            else:
                pairs = [(s, d, port) for s in traffic.members(src) for d in traffic.members(dst)]
            out = []
            for s, d, p in pairs:
                if s == d:
                    continue
                if p is None and port is not None:
                    out.append(
                        {"from": s, "to": d, "protocol": proto, "port": None, "status": "denied", "allowedPorts": []}
                    )
                    continue
                cv = compose(traffic, s, d, proto, p, request)  # Cilium AND Istio
                v = cv.cilium
                item = {
                    "from": s,
                    "to": d,
                    "protocol": v.protocol,
                    "port": v.port,
                    "status": cv.status,
                    "allowedPorts": v.ports.to_json(),
                }
                if traffic.istio.active:  # the layers apart (docs/istio.md)
                    item["layers"] = {"cilium": v.status, "istio": status_of(cv.istio), "istioReason": cv.istio.reason}
                out.append(item)
            text = json.dumps({"allowed": ok, "verdicts": out}, indent=2) + "\n"
    except EndpointError as exc:
        raise UsageError(str(exc)) from None
    write_output(text, None)
    raise typer.Exit(EXIT_OK if ok else EXIT_FINDINGS)


from . import paths as _paths  # noqa: E402, F401 - registers `kubematrix paths` on the finished app
