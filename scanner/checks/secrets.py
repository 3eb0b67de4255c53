"""SECRET001-SECRET002: secrets committed to the repository.

Findings name the object and the key, never the value (not even a prefix or a
hash of it): reports end up in CI logs and code-scanning alerts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from ..findings import Finding
from ..loader.documents import DocClass
from ..located import LList, LMap
from ..promises import SECRETS_KEY
from .base import CheckContext, workload_finding

# Names that announce a secret value.  Keys that only *name* a secret
# (passwordKey, secretName, existingSecret, tokenFile ...) are not secrets.
_SECRET_NAME = re.compile(
    r"(pass(word|wd)?|secret|token|api[-_]?key|access[-_]?key|private[-_]?key|credentials?|auth)", re.IGNORECASE
)
_REFERENCE_NAME = re.compile(
    r"(name|key|ref|refs|file|path|enabled|existing\w*|secretname|mode|length|policy|type|url|uri|id)$", re.IGNORECASE
)
_KEY_MATERIAL = re.compile(r"(api|access|private|secret|ssh|encryption|signing|master)[-_]?key$", re.IGNORECASE)
_PLACEHOLDER = re.compile(
    r"^(\$\([A-Za-z_][A-Za-z0-9_]*\)|\$\{[^}]+\}|<[^>]+>|\{\{.*\}\}|%[A-Za-z_]+%|xxx+|\*+|\.\.\.|-"
    r"|change[-_ ]?me|replace[-_ ]?me|todo|tbd|fixme|redacted|dummy|placeholder|example|your[-_ ].+)$",
    re.IGNORECASE,
)
# Suffixes of a value that merely repeats its key (GOOGLE_API_KEY: GOOGLE_API_KEY_VAL).
_ECHO_SUFFIXES = ("", "val", "value", "here", "placeholder")


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def is_placeholder(name: str, value: str) -> bool:
    """An obvious stand-in rather than a secret: a template or variable reference, a
    placeholder word, or the key's own name repeated (``API_TOKEN: api-token``)."""
    text = value.strip()
    if _PLACEHOLDER.match(text):
        return True
    key, val = _norm(name), _norm(text)
    return bool(key) and val.startswith(key) and val[len(key) :] in _ECHO_SUFFIXES


def looks_secret(name: str, value: Any) -> bool:
    if not isinstance(value, str) or not value.strip() or is_placeholder(str(name), value):
        return False
    name = str(name)
    if _KEY_MATERIAL.search(name):
        return True
    return (
        bool(_SECRET_NAME.search(name)) and not _REFERENCE_NAME.search(name) and not name.lower().startswith("existing")
    )


def _allowed(ctx: CheckContext) -> frozenset[str]:
    section = ctx.policy.section("secrets")
    return (
        frozenset(str(n) for n in (section.get("allowLiteralEnv") or ())) if isinstance(section, LMap) else frozenset()
    )


def check_secret_objects(ctx: CheckContext) -> Iterator[Finding]:
    section = ctx.policy.section("secrets")
    if isinstance(section, LMap) and section.get("allowSecretObjects") is True:
        return
    for obj in ctx.inputs.objects:
        if obj.kind != "Secret" or obj.api_version != "v1":
            continue
        for key in ("data", "stringData"):
            values = obj.body.get(key)
            if isinstance(values, LMap) and values:
                names = ", ".join(sorted(str(k) for k in values))
                ns = obj.namespace or ctx.default_namespace
                yield Finding(
                    "SECRET001",
                    f"Secret {ns}/{obj.name} commits {key} for keys [{names}] to the repository (values not shown)",
                    obj.body.key_loc(key),
                    subject=f"Secret {ns}/{obj.name}",
                    detail=key,
                )


def _walk_values(data: Any, prefix: str = "") -> Iterator[tuple[str, Any, Any, Any]]:
    """(dotted path, key, value, container) for every scalar in a values tree (iterative, alias-safe)."""
    stack: list[tuple[str, Any]] = [(prefix, data)]
    seen: set[int] = set()
    while stack:
        path, node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, LMap):
            for key, value in node.items():
                child = f"{path}.{key}" if path else str(key)
                if isinstance(value, (LMap, LList)):
                    stack.append((child, value))
                else:
                    yield child, key, value, node
        elif isinstance(node, LList):
            for i, value in enumerate(node):
                if isinstance(value, (LMap, LList)):
                    stack.append((f"{path}[{i}]", value))


def check_literal_secrets(ctx: CheckContext) -> Iterator[Finding]:
    allowed = _allowed(ctx)
    yield from _env_secrets(ctx, allowed)
    yield from _configmap_secrets(ctx)
    yield from _values_secrets(ctx, allowed)


def _env_secrets(ctx: CheckContext, allowed: frozenset[str]) -> Iterator[Finding]:
    for workload in ctx.model.workloads:
        for container in workload.containers:
            for env in container.env:
                if env.source == "literal" and env.name not in allowed and looks_secret(env.name, env.value):
                    yield workload_finding(
                        "SECRET002",
                        workload,
                        f"env var {env.name} carries a literal secret value (not shown); use valueFrom.secretKeyRef",
                        env.loc,
                        container=container,
                        detail=f"env:{env.name}",
                    )


def _configmap_secrets(ctx: CheckContext) -> Iterator[Finding]:
    for obj in ctx.inputs.objects:
        data = obj.body.get("data") if obj.kind == "ConfigMap" else None
        if not isinstance(data, LMap):
            continue
        subject = f"ConfigMap {obj.namespace or ctx.default_namespace}/{obj.name}"
        for key, value in data.items():
            if looks_secret(key, value):
                yield Finding(
                    "SECRET002",
                    f"{subject} key {key} looks like a secret value (not shown); ConfigMaps are not secret",
                    data.loc_of(key),
                    subject=subject,
                    detail=f"data:{key}",
                )


def _values_secrets(ctx: CheckContext, allowed: frozenset[str]) -> Iterator[Finding]:
    for doc in ctx.inputs.documents:
        if doc.cls is not DocClass.HELM_VALUES:
            continue
        for path, key, value, holder in _walk_values(doc.data):
            if str(path).split(".")[-1] not in allowed and looks_secret(key, value):
                yield Finding(
                    "SECRET002",
                    f"Helm value {path} carries a literal secret value (not shown); reference an existing Secret instead",
                    holder.loc_of(key),
                    subject=doc.path,
                    detail=f"values:{path}",
                )


def _promised(check):
    """With a ``secrets`` section, its promise is what these findings break."""

    def run(ctx: CheckContext) -> Iterator[Finding]:
        documented = isinstance(ctx.policy.section("secrets"), LMap)
        for f in check(ctx):
            yield replace(f, promises=(SECRETS_KEY,)) if documented else f

    run.__doc__ = check.__doc__
    return run


CHECKS = {
    "SECRET001": _promised(check_secret_objects),
    "SECRET002": _promised(check_literal_secrets),
}
