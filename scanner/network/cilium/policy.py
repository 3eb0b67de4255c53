"""One CiliumNetworkPolicy / CiliumClusterwideNetworkPolicy object -> rules.

Source: ``pkg/k8s/apis/cilium.io/v2`` ``Parse``: ``spec`` then every ``specs[i]`` are
imported; a policy with neither is invalid; if *any* rule fails validation the whole
object is rejected (nothing of it is enforced)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ...loader.documents import KubeObject
from ...located import LMap, Loc
from ..parsing import At, ParseEnv, PolicyContext, record_pruned
from ..policy_schema import CILIUM_POLICY
from ..rules import CCNP, ParsedPolicies
from ..selectors import Selector, SelectorError
from .peers import subject_selector
from .rule import parse_rule


def parse_cilium_policy(obj: KubeObject, env: ParseEnv, out: ParsedPolicies) -> None:
    """Translate one CNP/CCNP; on any validation error record rejections, apply nothing."""
    namespace = None if obj.kind == CCNP else (obj.namespace or env.default_namespace)
    ctx = PolicyContext(obj.kind, namespace, obj.name)
    top = At("", obj.loc)
    out.policies.append(ctx.origin(top))
    body = record_pruned(obj, ctx.origin(top).policy, CILIUM_POLICY, out)
    rules = _rules_of(body, top, ctx)
    if not rules:
        ctx.err(f"invalid {obj.kind}: empty policy (neither spec nor specs)", top)
    parsed = [r for r in (parse_rule(raw, at, namespace, env, ctx) for raw, at in rules) if r is not None]
    out.notes.extend(ctx.notes)
    if ctx.errors:
        subjects = _would_select([raw for raw, _ in rules], namespace)
        out.rejections.extend(replace(r, subjects=subjects) for r in ctx.errors)
        return
    out.rules.extend(parsed)
    out.entities.update(ctx.entities)


def _rules_of(body: LMap, top: At, ctx: PolicyContext) -> list[tuple[Any, At]]:
    rules: list[tuple[Any, At]] = []
    if body.get("spec") is not None:
        rules.append((body["spec"], At("spec", body.loc_of("spec"))))
    specs = body.get("specs")
    if specs is None:
        return rules
    if not isinstance(specs, list):
        ctx.schema("specs must be a list of rules", top.field(body, "specs"))
        return rules
    return rules + [(s, At(f"specs[{i}]", top.item(specs, i).loc)) for i, s in enumerate(specs)]


def _would_select(rules: list, namespace: str | None) -> tuple[Selector, ...] | None:
    """The endpoint selectors a rejected policy would have applied to, read leniently:
    ``explain`` lists a rejection only for the pairs it would have concerned.  A rule
    whose selector cannot be read makes the answer unknown (None); host policies
    (nodeSelector) select no pod."""
    out = []
    for raw in rules:
        selector = raw.get("endpointSelector") if isinstance(raw, dict) else None
        if selector is None:
            continue  # host policy or no selector: never applies to pods
        try:
            out.append(subject_selector(selector, namespace, PolicyContext("", None, ""), At("", Loc(""))))
        except SelectorError:
            return None
    return tuple(out)
