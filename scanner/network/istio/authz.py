"""The Istio authorization decision for one request at one destination.

Order (authorization_policy.proto header; "Security" concepts page, "Implicit
enablement"; ../shared/reference/istio-authorization-semantics.md §0, §2.2):

1. the destination must have a proxy intercepting the port, else Istio does nothing;
2. PeerAuthentication STRICT refuses plaintext before authorization runs;
3. CUSTOM: a matching CUSTOM policy hands the request to its external authorizer —
   undecidable offline;
4. DENY: any matching DENY rule denies;
5. ALLOW: no ALLOW policy selects the workload -> allow; otherwise allow iff some ALLOW
   rule matches (a policy without ``rules`` never matches: "allow-nothing",
   ``builder.go`` ``rbacPolicyMatchNever``).

AUDIT never changes a verdict; policies with ``istio.io/dry-run: "true"`` are not
enforced and do not count as ALLOW policies (``builder.go`` ``isDryRun``); policies with
``targetRefs`` apply to gateways and waypoints only (``policyattachment.go``).

Which filter chain a request meets decides how HTTP-only items behave (§2.8,
``model.go`` ``checkError``; fixtures ``builder/testdata/tcp/allow-both-http-tcp`` and
``deny-both-http-tcp``): on a TCP chain an ALLOW rule containing any HTTP-only item is
dropped whole, and DENY/AUDIT/CUSTOM rules lose their HTTP-only items (getting wider).
ztunnel (ambient) enforces only the L4 subset: an ALLOW rule with an L7 item is dropped,
a DENY rule loses its L7 items and an entry left empty never matches
(``pilot/pkg/serviceregistry/ambient/authorization.go``; ztunnel ``src/rbac.rs``).

Every match is three-valued (``tri.py``): the verdict is ``allow``, ``deny`` or
``unknown`` with the attributes it depends on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from . import tri as T
from .dataplane import AMBIENT, NONE, SIDECAR, UNKNOWN, Dataplane, MtlsMode
from .match import Context, Peer, Request, field_matches, peer_text
from .objects import AuthorizationPolicy, Field, Rule
from .settings import IstioSettings
from .tri import Tri, Unknown


@dataclass(frozen=True, slots=True)
class RuleResult:
    """One rule (or a rule-less policy) and whether it matches this request."""

    policy: AuthorizationPolicy
    rule: Rule | None  # None: the policy has no rules (allow-nothing)
    match: Tri
    why: str = ""
    rewritten: str = ""  # how the chain changed the rule (dropped / items ignored)

    @property
    def where(self) -> str:
        path = f" rules[{self.rule.index}]" if self.rule is not None else ""
        loc = self.rule.loc if self.rule is not None else self.policy.loc
        return f"{self.policy.ref}{path} ({loc.path}:{loc.line})"


@dataclass(frozen=True, slots=True)
class Decision:
    status: str  # allow | deny | unknown | not-enforced
    stage: str  # not-enforced | mtls | custom | deny | allow | no-allow-policy | no-rule-matched | unknown
    reason: str
    dataplane: Dataplane
    chain: str = "-"  # http | tcp | - (not evaluated)
    mtls: MtlsMode | None = None
    peer: Peer | None = None
    results: tuple[RuleResult, ...] = ()
    unknown: frozenset[Unknown] = frozenset()

    @property
    def allowed(self) -> bool | None:
        return {"allow": True, "not-enforced": True, "deny": False}.get(self.status)

    @property
    def deciding(self) -> tuple[RuleResult, ...]:
        """The rules that decided: matching DENY rules for a denial, matching ALLOW rules
        for an allowance (and possibly-matching ones for an unknown verdict)."""
        want = {"deny": "DENY", "allow": "ALLOW"}.get(self.stage)
        if self.status == "unknown":
            return tuple(r for r in self.results if r.match.is_unknown or r.match.is_true)
        if want is None:
            return ()
        return tuple(r for r in self.results if r.policy.action == want and r.match.is_true)

    @property
    def offline_unknowns(self) -> tuple[Unknown, ...]:
        return tuple(sorted(u for u in self.unknown if u.kind == "offline"))


# -- which policies, which items -----------------------------------------------------------


def applies(p: AuthorizationPolicy, namespace: str, pod_labels: Mapping[str, str], settings: IstioSettings) -> bool:
    """Does the policy select the workload?  Candidates come from the workload's namespace
    and the root namespace (``model/authorization.go`` ``ListAuthorizationPolicies``); an
    absent or empty selector selects every workload there (``policyattachment.go``
    ``isSelected``); ``targetRefs`` policies never attach to sidecars or ztunnel;
    dry-run policies are not enforced."""
    if p.dry_run or p.target_refs:
        return False
    if p.namespace not in (namespace, settings.root_namespace):
        return False
    return not p.selector or all(pod_labels.get(k) == v for k, v in p.selector.items())


def _keep_for(action: str, chain: str, mode: str) -> tuple[Callable[[Field], bool] | None, bool]:
    """(which fields survive on this chain, whether an emptied entry never matches)."""
    if mode == AMBIENT:
        return (lambda f: f.ztunnel), True
    if chain == "tcp":
        return (lambda f: not f.http_only), False
    return None, False


def _dropped_items(rule: Rule, keep: Callable[[Field], bool]) -> list[Field]:
    return [f for f in rule.fields if not keep(f)]


def _clause(fields: tuple[Field, ...], ctx: Context, keep, empty_never: bool) -> Tri:
    kept = [f for f in fields if keep is None or keep(f)]
    if not kept and fields and empty_never:
        return T.FALSE
    return T.and_(field_matches(f, ctx) for f in kept)


def _section_why(name: str, ctx: Context) -> str:
    if name == "from":
        return f"no from entry matches the peer ({peer_text(ctx.peer)})"
    return f"no to entry matches port {ctx.port}" + ("" if ctx.request.empty else f", {ctx.request.text()}")


def match_rule(rule: Rule, ctx: Context, keep=None, empty_never: bool = False) -> tuple[Tri, str]:
    """Sources ORed, operations ORed, conditions ANDed; the three ANDed (model.go New)."""
    sources = T.or_(_clause(c.fields, ctx, keep, empty_never) for c in rule.sources) if rule.sources else T.TRUE
    ops = T.or_(_clause(c.fields, ctx, keep, empty_never) for c in rule.operations) if rule.operations else T.TRUE
    whens = [(f, field_matches(f, ctx)) for f in rule.when if keep is None or keep(f)]
    result = T.and_([sources, ops] + [t for _, t in whens])
    if not result.is_false:
        return result, ""
    if sources.is_false:
        return result, _section_why("from", ctx)
    if ops.is_false:
        return result, _section_why("to", ctx)
    failed = next(f for f, t in whens if t.is_false)
    return result, f"condition {failed.path} ({failed.describe()}) does not hold"


def rule_result(p: AuthorizationPolicy, rule: Rule, ctx: Context, chain: str, mode: str) -> RuleResult:
    keep, empty_never = _keep_for(p.action, chain, mode)
    if keep is not None:
        dropped = _dropped_items(rule, keep)
        if dropped and p.action == "ALLOW":
            names = ", ".join(sorted({f.attribute for f in dropped}))
            where = "ztunnel enforces only L4 attributes" if mode == AMBIENT else "the port is TCP, not HTTP"
            return RuleResult(p, rule, T.FALSE, f"never matches: {where} and the rule uses {names}", "dropped")
        if dropped:
            names = ", ".join(sorted({f.attribute for f in dropped}))
            how = "ignored" if mode != AMBIENT else "stripped (ztunnel enforces only L4)"
            match, why = match_rule(rule, ctx, keep, empty_never)
            return RuleResult(
                p,
                rule,
                match,
                why,
                f"{names} {how} on this {'port' if mode != AMBIENT else 'pod'}, which widens a DENY rule",
            )
    match, why = match_rule(rule, ctx)
    return RuleResult(p, rule, match, why)


def evaluate_policies(policies: Iterable[AuthorizationPolicy], ctx: Context, chain: str, mode: str) -> list[RuleResult]:
    out = []
    for p in policies:
        if p.action == "AUDIT" or (mode == AMBIENT and p.action == "CUSTOM"):
            continue  # AUDIT never decides; CUSTOM is not sent to ztunnel
        if not p.rules:
            why = "the policy has no rules: it never matches" if p.rules is None else "empty rules list: never matches"
            out.append(RuleResult(p, None, T.FALSE, why))
            continue
        for rule in p.rules:
            out.append(rule_result(p, rule, ctx, chain, mode))
    return out


# -- the decision ---------------------------------------------------------------------


def _peer_for(source: Peer, mtls: MtlsMode, dp: Dataplane) -> Peer:
    """The peer as the destination sees it: with DISABLE on a sidecar every peer is
    anonymous (plaintext); ztunnel ignores DISABLE (l4-policy page, "Peer authentication")."""
    if mtls.mode == "DISABLE" and dp.mode == SIDECAR and source.principal is not None:
        return Peer(
            None, True, "PeerAuthentication DISABLE: plaintext, no identity", source.addresses, source.address_why
        )
    if mtls.mode == "UNKNOWN" and source.principal is not None:
        return Peer(None, False, mtls.note, source.addresses, source.address_why)
    return source


def _not_enforced(dp: Dataplane, reason: str) -> Decision:
    return Decision("not-enforced", "not-enforced", reason, dp)


def decide(
    policies: list[AuthorizationPolicy],
    dp: Dataplane,
    mtls: MtlsMode,
    source: Peer,
    port: int,
    request: Request,
    chain: str,
    settings: IstioSettings,
) -> Decision:
    """The decision for one request (``chain``: http or tcp) on ``port`` of a destination."""
    if dp.mode == NONE:
        return _not_enforced(dp, f"Istio does not enforce here: {dp.reason}")
    if not dp.intercepts(port):
        return _not_enforced(
            dp,
            f"port {port} bypasses the sidecar (not intercepted inbound: 15090, 15021, the status "
            "port and traffic.sidecar.istio.io/excludeInboundPorts are excluded)",
        )
    if dp.mode == UNKNOWN:
        u = T.unknown("dataplane", "offline", dp.reason)
        return Decision(
            "unknown",
            "unknown",
            f"whether Istio enforces here is unknown: {dp.reason}",
            dp,
            chain,
            mtls,
            source,
            (),
            u.unknown,
        )
    if dp.mode == AMBIENT and dp.waypoint:
        u = T.unknown("waypoint", "offline", f"L7 policies of waypoint {dp.waypoint} (targetRefs) are not modelled")
        return Decision(
            "unknown",
            "unknown",
            f"the pod uses waypoint {dp.waypoint} (istio.io/use-waypoint); waypoint authorization is not modelled",
            dp,
            chain,
            mtls,
            source,
            (),
            u.unknown,
        )
    peer = _peer_for(source, mtls, dp)
    strict = mtls.mode == "STRICT"
    if strict and peer.identity_known and peer.principal is None:
        return Decision(
            "deny",
            "mtls",
            f"refused before authorization: mTLS is {mtls.text()} and the peer sends plaintext ({peer.identity_why})",
            dp,
            chain,
            mtls,
            peer,
        )
    results = []
    for p in policies:
        # serviceAccounts without a namespace mean the policy's own (serviceAccountRegex).
        ctx = Context(peer, port, request, p.namespace, settings, settings.pod_cidrs)
        results += evaluate_policies([p], ctx, chain, dp.mode)
    return _combine(results, dp, chain, mtls, peer, strict)


def _combine(
    results: list[RuleResult], dp: Dataplane, chain: str, mtls: MtlsMode, peer: Peer, strict: bool
) -> Decision:
    custom = [r for r in results if r.policy.action == "CUSTOM"]
    deny = [r for r in results if r.policy.action == "DENY"]
    allow_results = [r for r in results if r.policy.action == "ALLOW"]
    custom_hit = T.or_(r.match for r in custom)
    if not custom_hit.is_false:
        providers = ", ".join(sorted({r.policy.provider or "?" for r in custom if not r.match.is_false}))
        custom_hit = Tri(
            None, custom_hit.unknown | {Unknown("CUSTOM", "offline", f"the external authorizer {providers} decides")}
        )
    deny_hit = T.or_(r.match for r in deny)
    allow_hit = T.or_(r.match for r in allow_results) if allow_results else T.TRUE
    strict_gate = T.unknown("mTLS", "offline", peer.identity_why) if strict and not peer.identity_known else T.TRUE
    allowed = T.and_([strict_gate, T.not_(custom_hit), T.not_(deny_hit), allow_hit])
    common = {"dataplane": dp, "chain": chain, "mtls": mtls, "peer": peer, "results": tuple(results)}
    if allowed.is_true:
        if allow_results:
            hits = [r for r in allow_results if r.match.is_true]
            return Decision("allow", "allow", f"allowed by {hits[0].where}", **common)
        return Decision(
            "allow", "no-allow-policy", "allowed: no ALLOW policy selects the workload (Istio's default)", **common
        )
    if allowed.is_false:
        if deny_hit.is_true:
            hits = [r for r in deny if r.match.is_true]
            return Decision("deny", "deny", f"denied by {hits[0].where}", **common)
        return Decision(
            "deny",
            "no-rule-matched",
            "denied: ALLOW policies select the workload and no ALLOW rule matches (Istio denies what no rule allows)",
            **common,
        )
    attrs = ", ".join(u.text() for u in sorted(allowed.unknown))
    return Decision("unknown", "unknown", f"depends on {attrs}", unknown=allowed.unknown, **common)


__all__ = ["Decision", "RuleResult", "applies", "decide", "evaluate_policies", "match_rule"]
