"""Build a Traffic from YAML text in tests."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

from scanner.loader.documents import DocClass, Document, expand_objects
from scanner.loader.yamltext import parse_yaml_text
from scanner.model.build import build_model
from scanner.network import Actor, NetworkSettings, build_traffic
from scanner.network.actors import KUBE_DNS

NS = """
apiVersion: v1
kind: Namespace
metadata:
  name: {name}
  labels: {labels}
"""


def objects_from(text: str, path: str = "test.yaml"):
    result = parse_yaml_text(textwrap.dedent(text), path)
    assert not result.problems, result.problems
    out = []
    for doc in result.documents:
        if doc.data is None:
            continue
        out.extend(expand_objects(Document(path, doc.index, doc.loc, doc.data, DocClass.KUBERNETES), []))
    return out


def pod(
    name: str,
    namespace: str = "default",
    labels: dict | None = None,
    sa: str | None = None,
    ports: Sequence[tuple[str, int, str] | int] = (),
    host_network: bool = False,
    annotations: dict | None = None,
) -> str:
    """A Pod manifest (one document, starting with ``---``); a port is (name, number,
    protocol) or just a number."""
    labels = labels if labels is not None else {"app": name}
    lines = ["---", "apiVersion: v1", "kind: Pod", "metadata:", f"  name: {name}", f"  namespace: {namespace}"]
    lines.append(f"  labels: {dict(labels)}")
    if annotations:
        lines.append(f"  annotations: {dict(annotations)}")
    lines.append("spec:")
    if sa:
        lines.append(f"  serviceAccountName: {sa}")
    if host_network:
        lines.append("  hostNetwork: true")
    lines += ["  containers:", "  - name: c", "    image: x"]
    if ports:
        lines.append("    ports:")
        for port in ports:
            if isinstance(port, int):
                lines.append(f"    - {{containerPort: {port}}}")
            else:
                n, p, proto = port
                lines.append(f"    - {{name: {n}, containerPort: {p}, protocol: {proto}}}")
    return "\n".join(lines) + "\n"


def traffic(
    text: str,
    *,
    settings: dict | NetworkSettings | None = None,
    actors: list[Actor] | None = None,
    extra=(),
    namespace: str = "default",
    with_kube_dns: bool = False,
):
    objs = objects_from(text)
    model = build_model(objs, namespace)
    acts = list(actors or [])
    if with_kube_dns:
        acts.append(KUBE_DNS)
    return build_traffic(model, objs, settings, acts, extra, namespace)


def allowed(t, src: str, dst: str, proto: str = "TCP", port: int | None = 80, http=None) -> bool:
    return t.verdict(src, dst, proto, port, http).allowed


def ports(t, src: str, dst: str) -> str:
    return t.allowed_ports(src, dst).describe()
