"""Build small meshes from YAML text and ask the Istio layer about them."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "network"))

from helpers import objects_from
from helpers import pod as network_pod

from scanner.model.build import build_model
from scanner.network import Actor, build_traffic
from scanner.network.istio.compose import compose
from scanner.network.istio.match import Request


def ns(name: str, **labels: str) -> str:
    lab = ", ".join(f"{k!r}: {v!r}" for k, v in labels.items())
    return f"---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: {name}, labels: {{{lab}}}}}\n"


def meshed_ns(name: str) -> str:
    return ns(name, **{"istio-injection": "enabled"})


def pod(
    name: str,
    namespace: str = "default",
    *,
    labels: dict | None = None,
    sa: str | None = None,
    ports: tuple[int, ...] = (8080,),
    annotations: dict | None = None,
    host_network: bool = False,
) -> str:
    """A Pod (the network helpers' ``pod``) listening on unnamed ``ports``."""
    return network_pod(name, namespace, labels, sa, ports, host_network, annotations)


def service(
    name: str,
    namespace: str,
    selector: dict,
    ports: list[tuple[str | None, int, int | str]],
    app_protocol: str | None = None,
) -> str:
    """ports: (name, port, targetPort)."""
    items = []
    for pname, port, target in ports:
        item = f"{{port: {port}, targetPort: {target!r}" + (f", name: {pname}" if pname else "")
        item += (f", appProtocol: {app_protocol}" if app_protocol else "") + "}"
        items.append(f"  - {item}")
    return (
        f"---\napiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: {namespace}}}\n"
        f"spec:\n  selector: {dict(selector)}\n  ports:\n" + "\n".join(items) + "\n"
    )


def authz(name: str, namespace: str, spec: str, *, version: str = "v1", annotations: dict | None = None) -> str:
    body = textwrap.indent(textwrap.dedent(spec).strip("\n"), "  ")
    ann = f", annotations: {dict(annotations)}" if annotations else ""
    return (
        f"---\napiVersion: security.istio.io/{version}\nkind: AuthorizationPolicy\n"
        f"metadata: {{name: {name}, namespace: {namespace}{ann}}}\nspec:\n{body}\n"
    )


def peer_auth(name: str, namespace: str, spec: str, created: str | None = None) -> str:
    body = textwrap.indent(textwrap.dedent(spec).strip("\n"), "  ")
    stamp = f", creationTimestamp: '{created}'" if created else ""
    return (
        f"---\napiVersion: security.istio.io/v1\nkind: PeerAuthentication\n"
        f"metadata: {{name: {name}, namespace: {namespace}{stamp}}}\nspec:\n{body}\n"
    )


def mesh(
    text: str,
    *,
    settings: dict | None = None,
    istio: dict | None = None,
    actors: list[Actor] | None = None,
    extra=("entity:world",),
    actor_mesh: dict | None = None,
):
    """A Traffic (Cilium + Istio layers) for the YAML ``text``."""
    objs = objects_from(text)
    model = build_model(objs, "default")
    return build_traffic(
        model, objs, settings, list(actors or []), extra, "default", istio_settings=istio, actor_mesh=actor_mesh
    )


def decide(
    t,
    src: str,
    dst: str,
    port: int = 8080,
    method: str | None = None,
    path: str | None = None,
    host: str | None = None,
    headers: dict | None = None,
    protocol: str = "TCP",
):
    req = (
        None
        if method is None and path is None and host is None and headers is None
        else Request(method, path, host, headers)
    )
    return t.istio.decide(src, dst, protocol, port, req)


def status(t, src: str, dst: str, port: int = 8080, **kw) -> str:
    return decide(t, src, dst, port, **kw).status


def composed(t, src: str, dst: str, port: int = 8080, **http):
    return compose(t, src, dst, "TCP", port, http or None)
