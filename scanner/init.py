"""``kubematrix init``: draft a policy file from what the tree does today.

Adoption starts from what exists.  The draft documents today's behaviour as promises,
each entry with a comment saying where it came from, so a team reviews it, tightens
what it does not want to promise and commits it:

* ``traffic``: actors for the peers outside the tree that rules name (the selector's
  namespace and labels), one flow per connection a rule decides (graph edges where an
  isolated side allows it, with the exact ports and HTTP rules), and the namespaces
  where every workload is isolated both ways as ``zeroTrust`` — kept only when every
  rule there admits peers the file can name;
* ``securityContext``: one row per workload with the values that take effect (per
  container where containers differ), every namespace documented completely;
* ``backups`` for CronJobs that look like backups, ``retention`` for the S3 lifecycle
  and Loki retention files found, ``secrets`` as the tree stands.

The draft is then scanned with itself: a promise it would break (a zero-trust
namespace whose rules admit more than the file can name, a flow the other side
blocks) is dropped with a comment, so ``scan`` with the draft adds no finding to the
same tree.  Nothing is written over an existing file without ``--force``.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .checks.traffic_matrix import workload_id
from .checks.zero_trust import workload_selector
from .loader.documents import DocClass, LoadResult
from .located import LMap
from .model.build import Model, build_model, effective
from .model.types import Workload
from .network import KUBE_DNS, Actor, build_traffic
from .network.ports import PortSet
from .network.selectors import K8S, POD_NAMESPACE, Selector

HEADER = """# Drafted by `kubematrix init` from the manifests as they are today.  Every entry is
# a promise kubematrix will hold the manifests to: review each one, delete what you do
# not want to promise, tighten what should be narrower, then commit this file.
apiVersion: kubematrix.dev/v1alpha1
kind: Policy
"""


@dataclass
class Draft:
    """The promises drafted so far; verification removes those today's tree breaks."""

    actors: dict[tuple[str, tuple[tuple[str, str], ...]], str] = field(default_factory=dict)  # (ns, labels) -> name
    flows: list[tuple[str, str, list[str], list[dict], str]] = field(default_factory=list)  # src, dst, ports, http, why
    zero_trust: list[str] = field(default_factory=list)
    dropped_zero_trust: dict[str, str] = field(default_factory=dict)  # namespace -> why not
    rows: dict[str, tuple[dict, str]] = field(default_factory=dict)  # workload ref -> (row, where from)
    table_namespaces: list[str] = field(default_factory=list)
    backups: list[tuple[dict, str]] = field(default_factory=list)
    retention: dict[str, list[tuple[dict, str]]] = field(default_factory=dict)  # s3Lifecycle / loki -> entries
    secrets: str | None = None  # the allowSecretObjects line, or None: no promise
    dropped: list[str] = field(default_factory=list)  # comments on promises left out


def _q(value: Any) -> str:
    return json.dumps(value)


# -- traffic ------------------------------------------------------------------------------


def _expressible(sel: Selector) -> tuple[str, tuple[tuple[str, str], ...]] | None:
    """(namespace, labels) when a peer selector is exactly "pods with these labels in
    that namespace" (an actor can say it), else None."""
    ns, labels = None, []
    for r in sel.requirements:
        if r.key == POD_NAMESPACE and r.operator == "In" and len(r.values) == 1:
            ns = r.values[0]
        elif r.key == "io.cilium.k8s.policy.cluster":
            continue
        elif r.source in ("any", K8S) and r.operator == "In" and len(r.values) == 1:
            if r.key.startswith("io.cilium.k8s."):
                return None  # namespace labels, service account: an actor cannot say it
            labels.append((r.key, r.values[0]))
        else:
            return None
    return (ns, tuple(sorted(labels))) if ns else None


def _shape(sel: Selector) -> frozenset:
    """A selector's requirements with the label source folded (``any:`` and ``k8s:`` are
    the same on pods) and the cluster label dropped."""
    return frozenset((r.key, r.operator, r.values) for r in sel.requirements if r.key != "io.cilium.k8s.policy.cluster")


def _known(sel: Selector, workloads: list[Workload]) -> Workload | None:
    """The workload whose own selector this is exactly (its pods, nothing else)."""
    shape = _shape(sel)
    return next((w for w in workloads if _shape(workload_selector(w)) == shape), None)


def _actor_name(ns: str, labels: tuple[tuple[str, str], ...], taken: set[str]) -> str:
    values = dict(labels)
    base = (
        values.get("app.kubernetes.io/name")
        or values.get("app")
        or values.get("k8s-app")
        or (labels[0][1] if labels else "pods")
    )
    base = "".join(c if c.isalnum() or c == "-" else "-" for c in f"{ns}-{base}".lower()).strip("-")[:50] or "peer"
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}-{n}"
    taken.add(name)
    return name


def _infer_actors(model: Model, rules: Iterable, draft: Draft) -> None:
    taken = {"kube-dns"}
    workloads = model.network_workloads
    for rule in rules:
        for entry in rule.entries:
            if entry.deny:
                continue
            for sel in entry.endpoints:
                if _known(sel, workloads) is not None:
                    continue
                shape = _expressible(sel)
                if shape is None or shape == ("kube-system", (("k8s-app", "kube-dns"),)):
                    continue
                if shape not in draft.actors:
                    draft.actors[shape] = _actor_name(shape[0], shape[1], taken)


def _ports(ports: PortSet) -> list[str]:
    out: list[str] = []
    for proto, spans in ports.by_protocol:
        if proto in ("ICMP", "ICMPv6"):
            if "ICMP" not in out:
                out.append("ICMP")
            continue
        out += [f"{lo}/{proto}" if lo == hi else f"{lo}-{hi}/{proto}" for lo, hi in spans]
    return out


def _peer_refs(entry, workloads: list[Workload], draft: Draft) -> list[str] | None:
    """The documented references that name exactly the entry's peers, or None when some
    peer cannot be named (a selector an actor cannot express)."""
    refs: list[str] = []
    for sel in entry.endpoints:
        known = _known(sel, workloads)
        shape = _expressible(sel)
        if known is not None:
            refs.append(known.ref)
        elif shape == ("kube-system", (("k8s-app", "kube-dns"),)):
            refs.append("actor:kube-dns")
        elif shape is not None and shape in draft.actors:
            refs.append(f"actor:{draft.actors[shape]}")
        else:
            return None
    for sel in entry.others:
        reqs = sel.requirements
        if not reqs:
            refs.append("entity:all")
        elif len(reqs) == 1 and reqs[0].source == "reserved" and reqs[0].operator == "Exists":
            name = reqs[0].key
            if name in ("world-ipv4", "world-ipv6"):
                name = "world"
            if name != "host":  # always admitted by Cilium: nothing to promise
                refs.append(f"entity:{name}")
        elif len(reqs) == 1 and reqs[0].key == "io.cilium.k8s.policy.cluster":
            refs.append("entity:cluster")
        elif all(r.source == "cidr" for r in reqs):
            refs += [f"cidr:{r.key}" for r in reqs if r.operator == "Exists"]
        else:
            return None
    refs += [f"fqdn:{f.value}" for f in entry.fqdns]
    return sorted(set(refs))


def _entry_ports(traffic, entry, ci: int, direction: str) -> list:
    if entry.l3_only:
        return ["1-65535/TCP", "1-65535/UDP", "ICMP"]
    if direction == "ingress" or not entry.named:
        return _ports(traffic.engine.entry_ports(entry, ci).intersect(traffic.settings.carried))
    return _ports(entry.static) + [
        {"port": item.name, "protocol": item.protocol if item.protocol != "ANY" else "TCP"} for item in entry.named
    ]


def _rule_flows(model: Model, traffic, draft: Draft) -> set[str]:
    """One flow per peer reference of every allow rule of an isolated side: exactly what
    the rules admit today.  Returns the namespaces with a peer no reference can name."""
    unnamable: set[str] = set()
    workloads = model.network_workloads
    for w in workloads:
        wid = workload_id(traffic, w)
        if wid is None:
            continue
        ci = traffic.class_of[wid]
        for direction in ("ingress", "egress"):
            if not traffic.engine.direction(ci, direction).isolated:
                continue
            for rule in (traffic.engine.rules[i] for i in traffic.engine.rules_of[ci]):
                for entry in rule.entries:
                    if entry.direction != direction or entry.deny:
                        continue
                    refs = _peer_refs(entry, workloads, draft)
                    if refs is None:
                        unnamable.add(w.namespace)
                        continue
                    ports = _entry_ports(traffic, entry, ci, direction)
                    http = (
                        [
                            {k: v for k, v in (("method", h.method), ("path", h.path), ("host", h.host)) if v}
                            for h in entry.l7.http
                        ]
                        if entry.l7 is not None and entry.l7.kind == "http"
                        else []
                    )
                    why = f"{entry.origin.policy} {entry.origin.path} ({entry.origin.loc.path}:{entry.origin.loc.line})"
                    for ref in refs:
                        if ref == wid or not ports:
                            continue
                        src, dst = (ref, wid) if direction == "ingress" else (wid, ref)
                        draft.flows.append((src, dst, ports, http, f"allowed by {why}"))
    draft.flows = _dedupe(draft.flows)
    return unnamable


def _dedupe(flows: list) -> list:
    """One or two flows per pair: the ports some rule restricts at L7 (with those HTTP
    rules: a request must pass the restricting side) and the plain ones."""
    by_pair: dict[tuple[str, str], list] = {}
    for f in flows:
        by_pair.setdefault((f[0], f[1]), []).append(f)
    out = []
    for (src, dst), items in sorted(by_pair.items()):
        restricted = [f for f in items if f[3]]
        plain_ports = [p for f in items if not f[3] for p in f[2]]
        if restricted:
            http = min((f[3] for f in restricted), key=len)
            ports = sorted({json.dumps(p) for f in restricted for p in f[2]})
            out.append((src, dst, [json.loads(p) for p in ports], http, restricted[0][4]))
            plain_ports = [p for p in plain_ports if json.dumps(p) not in ports]
        if plain_ports:
            unique = sorted({json.dumps(p) for p in plain_ports})
            out.append((src, dst, [json.loads(p) for p in unique], [], next(f[4] for f in items if not f[3])))
    return out


def _zero_trust_candidates(model: Model, traffic) -> list[str]:
    by_ns: dict[str, list[Workload]] = {}
    for w in model.network_workloads:
        by_ns.setdefault(w.namespace, []).append(w)
    out = []
    for ns, workloads in sorted(by_ns.items()):
        ok = True
        for w in workloads:
            wid = workload_id(traffic, w)
            if wid is None:
                ok = False
                break
            ci = traffic.class_of[wid]
            if not all(traffic.engine.direction(ci, d).isolated for d in ("ingress", "egress")):
                ok = False
                break
        if ok:
            out.append(ns)
    return out


def _traffic_lines(draft: Draft) -> list[str]:
    lines = ["", "# The traffic matrix: who may talk to whom today (decided by the network policies)."]
    lines.append("traffic:")
    if draft.zero_trust or draft.dropped_zero_trust:
        lines.append("  zeroTrust:")
        lines.append(
            f"    namespaces: [{', '.join(draft.zero_trust)}]"
            + ("  # every workload here is isolated both ways" if draft.zero_trust else "")
        )
        for ns, why in sorted(draft.dropped_zero_trust.items()):
            lines.append(f"    # not {ns}: {why}")
    if draft.actors:
        lines.append("  actors:")
        for (ns, labels), name in sorted(draft.actors.items(), key=lambda kv: kv[1]):
            lines.append(
                f"    - {{name: {name}, namespace: {_q(ns)}, labels: {{{', '.join(f'{_q(k)}: {_q(v)}' for k, v in labels)}}}}}"
                "  # a peer the rules name that is not in these manifests"
            )
    lines.append("  flows:" if draft.flows else "  flows: []")
    for src, dst, ports, http, why in draft.flows:
        entry = f"    - {{from: {_q(src)}, to: {_q(dst)}, ports: {json.dumps(ports)}"
        if http:
            entry += f", http: {json.dumps(http)}"
        lines.append(entry + f"}}  # {why}")
    return lines


# -- SecurityContext table ------------------------------------------------------------------

_SCALARS = (
    ("runAsNonRoot", "run_as_non_root"),
    ("runAsUser", "run_as_user"),
    ("runAsGroup", "run_as_group"),
    ("allowPrivilegeEscalation", "allow_privilege_escalation"),
    ("readOnlyRootFilesystem", "read_only_root_filesystem"),
    ("seccompProfile", "seccomp_type"),
)


def _container_values(w: Workload, c) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, attr in _SCALARS:
        value = effective(w, c, attr, key if key != "seccompProfile" else "seccompProfile.type").value
        if value is not None:
            out[key] = value
    caps: dict[str, list[str]] = {}
    if c.security.capabilities_drop is not None:
        caps["drop"] = list(c.security.capabilities_drop)
    caps["add"] = list(c.security.capabilities_add or ())
    out["capabilities"] = caps
    if c.security.privileged is True or any(p.host_port for p in c.ports):
        out["privileged"] = True  # the table documents host access this way (SEC004)
    return out


def _row(w: Workload) -> dict[str, Any]:
    containers = {c.name: _container_values(w, c) for c in w.containers}
    shared: dict[str, Any] = {}
    if containers:
        first = next(iter(containers.values()))
        shared = {k: v for k, v in first.items() if all(other.get(k) == v for other in containers.values())}
    row = dict(shared)
    if w.pod_security.fs_group is not None:
        row["fsGroup"] = w.pod_security.fs_group
    if any(s.value is True for s in (w.host_network, w.host_pid, w.host_ipc)) or any(
        v.source == "hostPath" for v in w.volumes
    ):
        row["privileged"] = True
    own = {name: {k: v for k, v in values.items() if k not in shared} for name, values in containers.items()}
    own = {k: v for k, v in own.items() if v}
    if own:
        row["containers"] = own
    return row


def _draft_table(model: Model, draft: Draft) -> None:
    draft.rows = {w.ref: (_row(w), f"{w.kind} at {w.loc.path}:{w.loc.line}") for w in model.workloads}
    draft.table_namespaces = sorted({w.namespace for w in model.workloads})


def _security_lines(draft: Draft) -> list[str]:
    if not draft.rows:
        return []
    lines = [
        "",
        "# The SecurityContext table: what takes effect today for each workload.",
        "securityContext:",
        f"  namespaces: [{', '.join(draft.table_namespaces)}]  # every workload of these namespaces has a row",
        "  workloads:",
    ]
    for ref, (row, where) in sorted(draft.rows.items()):
        lines.append(f"    {ref}: {json.dumps(row)}  # {where}")
    return lines


# -- backups, retention, secrets -------------------------------------------------------------


def _draft_backups(model: Model, draft: Draft) -> None:
    for w in model.workloads:
        if w.kind != "CronJob" or "backup" not in w.name.lower():
            continue
        spec = w.extra.get("cronjob")
        if not isinstance(spec, LMap):
            continue
        entry: dict[str, Any] = {"name": w.name, "cronJob": w.ref}
        for key in (
            "schedule",
            "timeZone",
            "concurrencyPolicy",
            "successfulJobsHistoryLimit",
            "failedJobsHistoryLimit",
        ):
            if spec.get(key) is not None:
                entry[key] = spec[key]
        job = spec.get("jobTemplate")
        job_spec = job.get("spec") if isinstance(job, LMap) else None
        if isinstance(job_spec, LMap) and isinstance(job_spec.get("activeDeadlineSeconds"), int):
            entry["activeDeadlineSeconds"] = job_spec["activeDeadlineSeconds"]
        draft.backups.append((entry, f"CronJob at {w.loc.path}:{w.loc.line}"))


def _backup_lines(draft: Draft) -> list[str]:
    if not draft.backups:
        return []
    return [
        "",
        "# Backups: CronJobs named like backups, as scheduled today.",
        "backups:",
        *(f"  - {json.dumps(e)}  # {where}" for e, where in draft.backups),
    ]


def _draft_retention(inputs: LoadResult, base: str, draft: Draft) -> None:
    s3, loki = [], []
    for doc in inputs.documents:
        rel = posixpath.relpath(doc.path, base or ".")
        if doc.cls is DocClass.S3_LIFECYCLE and isinstance(doc.data, LMap):
            for rule in doc.data.get("Rules") or ():
                exp = rule.get("Expiration") if isinstance(rule, LMap) else None
                if isinstance(exp, LMap) and isinstance(exp.get("Days"), int) and rule.get("Status") == "Enabled":
                    entry = {"file": rel, "expirationDays": exp["Days"]}
                    if isinstance(rule.get("ID"), str):
                        entry["ruleId"] = rule["ID"]
                    s3.append((entry, doc.path))
        elif doc.cls is DocClass.HELM_VALUES and isinstance(doc.data, LMap):
            period = (
                _dig(doc.data, "loki", "config", "table_manager", "retention_period")
                or _dig(doc.data, "loki", "config", "limits_config", "retention_period")
                or _dig(doc.data, "loki", "limits_config", "retention_period")
            )
            if isinstance(period, str) and re.fullmatch(r"[0-9]+[hdw]", period):  # the schema's spelling
                loki.append(({"file": rel, "retentionPeriod": period}, doc.path))
    draft.retention = {k: v for k, v in (("s3Lifecycle", s3), ("loki", loki)) if v}


def _retention_lines(draft: Draft) -> list[str]:
    if not draft.retention:
        return []
    lines = ["", "# Retention as configured today.", "retention:"]
    for kind, entries in draft.retention.items():
        lines += [f"  {kind}:", *(f"    - {json.dumps(e)}  # {where}" for e, where in entries)]
    return lines


def _dig(data: Any, *keys: str) -> Any:
    for k in keys:
        if not isinstance(data, LMap):
            return None
        data = data.get(k)
    return data


def _draft_secrets(inputs: LoadResult, draft: Draft) -> None:
    committed = any(o.kind == "Secret" for o in inputs.objects)
    draft.secrets = f"  allowSecretObjects: {'true' if committed else 'false'}" + (
        "  # Secret objects are committed in this tree: review" if committed else ""
    )


def _secrets_lines(draft: Draft) -> list[str]:
    if draft.secrets is None:
        return []
    return ["", "# Secrets: whether Secret objects are committed today.", "secrets:", draft.secrets]


# -- assembling and verifying ------------------------------------------------------------------


def _render(draft: Draft) -> str:
    lines = HEADER.rstrip("\n").splitlines()
    lines += [f"# Left out: {why}" for why in draft.dropped]
    lines += _traffic_lines(draft) + _security_lines(draft) + _backup_lines(draft) + _retention_lines(draft)
    lines += _secrets_lines(draft)
    return "\n".join(lines) + "\n"


def draft_policy(paths: list[Path], cwd: Path, output: Path) -> str:
    """The policy file text for the tree at ``paths``, verified to add no finding."""
    from .scan import ScanOptions, load_inputs

    inputs = load_inputs(ScanOptions(paths=tuple(paths), cwd=cwd))  # read as scan reads it
    model = build_model(inputs.objects)  # no policy yet: the default namespace
    base = posixpath.dirname(_shown(output, cwd))
    actors = [KUBE_DNS]
    traffic = build_traffic(model, inputs.objects, None, actors)
    draft = Draft()
    _infer_actors(model, traffic.rules, draft)
    actors += [Actor(name, ns, dict(labels)) for (ns, labels), name in draft.actors.items()]
    traffic = build_traffic(model, inputs.objects, None, actors)
    unnamable = _rule_flows(model, traffic, draft)
    for ns in _zero_trust_candidates(model, traffic):
        if ns in unnamable:
            draft.dropped_zero_trust[ns] = "a rule admits peers no actor or entity can name exactly; review"
        else:
            draft.zero_trust.append(ns)
    _draft_table(model, draft)
    _draft_backups(model, draft)
    _draft_retention(inputs, base, draft)
    _draft_secrets(inputs, draft)
    return _verified(draft, paths, cwd, output)


def _shown(output: Path, cwd: Path) -> str:
    try:
        return Path(output).resolve().relative_to(cwd.resolve()).as_posix()
    except ValueError:
        return Path(output).name


def _verified(draft: Draft, paths: list[Path], cwd: Path, output: Path) -> str:
    """Scan the tree with the draft; drop every promise today's tree breaks, until the
    draft adds no finding and breaks no promise."""
    from .loader.yamltext import parse_yaml_text
    from .policy import EMPTY_POLICY, policy_from_parsed
    from .scan import ScanOptions, run_scan

    shown = _shown(output, cwd)
    directory = (cwd / posixpath.dirname(shown)).resolve()
    without = {f.fingerprint for f in run_scan(ScanOptions(paths=tuple(paths), policy=EMPTY_POLICY, cwd=cwd)).findings}
    text = _render(draft)
    for _ in range(64):
        parsed = parse_yaml_text(text, shown)
        policy = policy_from_parsed([d.data for d in parsed.documents], parsed.problems, shown, directory)
        result = run_scan(ScanOptions(paths=tuple(paths), policy=policy, cwd=cwd))
        new = [f for f in result.findings if f.fingerprint not in without and not f.rule_id.startswith("POL")]
        broken = [p.promise for p in result.promises if p.status == "broken"]
        if not new and not broken:
            return text
        if not _prune(draft, new, broken):
            break
        text = _render(draft)
    return text


def _prune(draft: Draft, new: list, broken: list) -> bool:
    """Remove the promises that today's tree breaks; True when something changed."""
    before = _size(draft)
    for p in broken:
        _drop(draft, p.family, p.key, f"{p.family} promise '{p.text}' does not hold today")
    for f in new:
        for key in f.promises:
            family = key.split(":", 1)[0]
            _drop(draft, family, key, f"{f.rule_id} at {f.loc.path}:{f.loc.line}")
        if not f.promises and f.rule_id == "SEC006" and f.workload:
            _drop(draft, "table-namespace", f"table-namespace:{f.workload.split('/', 1)[0]}", f.rule_id)
    return _size(draft) != before


def _size(draft: Draft) -> tuple:
    return (
        len(draft.flows),
        len(draft.zero_trust),
        len(draft.rows),
        len(draft.table_namespaces),
        len(draft.backups),
        sum(len(v) for v in draft.retention.values()),
        draft.secrets,
    )


def _drop(draft: Draft, family: str, key: str, why: str) -> None:
    name = key.split(":", 1)[1] if ":" in key else key
    if family in ("flow", "flows"):
        draft.flows = [fl for fl in draft.flows if f"{fl[0]} -> {fl[1]}" not in name]
    elif family == "zero-trust":
        ns = name.split("/", 1)[0]
        if ns in draft.zero_trust:
            draft.zero_trust.remove(ns)
            draft.dropped_zero_trust[ns] = f"{why}; review before declaring it zero trust"
    elif family in ("security-context",) and name in draft.rows:
        del draft.rows[name]
        draft.dropped.append(f"the table row for {name} ({why})")
    elif family in ("table-namespace", "table-namespaces") and name in draft.table_namespaces:
        draft.table_namespaces.remove(name)
    elif family == "backup":
        draft.backups = [b for b in draft.backups if b[0].get("name") != name]
        draft.dropped.append(f"backup {name} ({why})")
    elif family == "retention":
        draft.retention = {k: [e for e in v if e[0].get("file") not in name] for k, v in draft.retention.items()}
        draft.retention = {k: v for k, v in draft.retention.items() if v}
    elif family in ("secrets",) and draft.secrets is not None:
        draft.secrets = None
        draft.dropped.append(f"the secrets section ({why})")
