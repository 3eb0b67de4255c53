"""Objects defined more than once, and which definition a cluster keeps.

Two documents with the same API group, kind, namespace and name are one object in a
cluster.  ``kubectl apply -f DIR`` visits files in lexical order directory by
directory (k8s.io/cli-runtime ``pkg/resource/visitor.go``
``ExpandPathsToFileVisitors``: ``filepath.Walk``, which sorts each directory's
names) and documents in file order; each apply overwrites the previous state, so the
*last* definition is live.  Every definition is reported (INPUT006) and the model,
the traffic graph and the checks use the live one only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import PurePosixPath

from ..findings import Finding
from ..loader.documents import KubeObject

# Kinds without a namespace (the namespace a document carries is ignored for them).
CLUSTER_SCOPED = frozenset(
    {
        "Namespace",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "Node",
        "PersistentVolume",
        "StorageClass",
        "CiliumClusterwideNetworkPolicy",
        "IngressClass",
        "PriorityClass",
        "CiliumCIDRGroup",
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
        "APIService",
    }
)


@dataclass(frozen=True, slots=True, order=True)
class ObjectKey:
    group: str  # "" for the core group ("v1")
    kind: str
    namespace: str | None  # None for cluster-scoped kinds
    name: str

    def describe(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"


def object_key(obj: KubeObject, default_namespace: str) -> ObjectKey | None:
    """The identity of ``obj`` in a cluster; None when it has no name (``generateName``
    creates a new object each time)."""
    if not obj.name:
        return None
    group = obj.api_version.split("/", 1)[0] if "/" in obj.api_version else ""
    namespace = None if obj.kind in CLUSTER_SCOPED else (obj.namespace or default_namespace)
    return ObjectKey(group, obj.kind, namespace, obj.name)


def apply_order(obj: KubeObject) -> tuple:
    """Position in the order ``kubectl apply -f`` applies documents: path component by
    component (``a/b.yaml`` before ``a.yaml``), then line within the file."""
    return PurePosixPath(obj.loc.path).parts, obj.loc.line, obj.loc.col


def _fingerprint(obj: KubeObject) -> str:
    return json.dumps(obj.body, sort_keys=True, default=str)


def live_objects(objects: list[KubeObject], default_namespace: str) -> tuple[list[KubeObject], list[Finding]]:
    """(the objects a cluster ends up with, in their original order; one INPUT006
    finding per definition of an object defined more than once)."""
    groups: dict[ObjectKey, list[KubeObject]] = {}
    for obj in objects:
        key = object_key(obj, default_namespace)
        if key is not None:
            groups.setdefault(key, []).append(obj)
    shadowed: set[int] = set()
    findings: list[Finding] = []
    for key, defs in sorted(groups.items()):
        if len(defs) < 2:
            continue
        defs = sorted(defs, key=apply_order)
        shadowed.update(id(o) for o in defs[:-1])
        findings.extend(_report(key, defs))
    return [o for o in objects if id(o) not in shadowed], findings


def _report(key: ObjectKey, defs: list[KubeObject]) -> list[Finding]:
    live = defs[-1]
    where = ", ".join(str(d.loc.path) + f":{d.loc.line}" for d in defs)
    same = len({_fingerprint(d) for d in defs}) == 1
    content = "identical copies" if same else "with different content"
    out = []
    for i, d in enumerate(defs):
        role = (
            "this is the last one, so it is live and the one checked"
            if d is live
            else f"this one is overwritten by {live.loc.path}:{live.loc.line} and is not checked"
        )
        out.append(
            Finding(
                "INPUT006",
                f"{key.describe()} is defined {len(defs)} times ({content}: {where}); kubectl apply -f applies files "
                f"in lexical order and the last definition wins: {role}",
                d.loc,
                subject=key.describe(),
                detail=f"definition:{i + 1}",
            )
        )
    return out


__all__ = ["CLUSTER_SCOPED", "ObjectKey", "apply_order", "live_objects", "object_key"]
