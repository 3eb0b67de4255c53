"""Compare kubematrix with peer tools on the same synthetic inputs (speed and answers).

    python bench/compare_peers.py                         # default sizes, median of 3 (6-10 min)
    python bench/compare_peers.py --sizes 100 --repeat 1  # quick look (both comparisons at 100)
    python bench/compare_peers.py --only netpol --keep    # keep the generated trees

Two comparisons, each on a tree generated deterministically (``--seed``) at every size:

* ``netpol``: a cluster of Namespaces, Deployments (labels, named container ports) and
  Kubernetes NetworkPolicies (podSelector, namespaceSelector, matchExpressions, named
  and numeric ports, port ranges, ipBlock, default-deny), about one policy per
  workload -- the only policy kind np-guard's network-config-analyzer (NCA)
  understands.  ``kubematrix graph DIR --format json`` against
  ``nca --connectivity DIR -r DIR -o txt_no_fw_rules`` (the explicit list of allowed
  connections, like our JSON; NCA's default ``txt`` output additionally minimises
  the answer into firewall rules; ``--nca-txt`` times it too, as ``nca (txt)``).
  Default sizes 50, 100, 200 workloads: NCA's time grows faster than N^2 (CPU 2 s
  at 50, 7 s at 100, 36 s at 200; one run took ~105 s at 300 on a 2-core machine).
  The two answers are then compared: allowed workload-to-workload pairs, and the
  TCP/UDP/SCTP ports of the pairs both allow.  Where they disagree, a control run
  (untimed) repeats both on the cluster with ``version Exists`` pod selectors
  written as the equivalent ``version In [v1, v2]`` (see ``--control``).
* ``security``: Deployments, StatefulSets, DaemonSets, Jobs and CronJobs with good
  and bad securityContext settings in namespaces with and without
  ``pod-security.kubernetes.io/enforce`` labels, one file per object like a real
  repository.  ``kubematrix scan DIR --format json --fail-on never`` against
  ``checkov -d DIR --framework kubernetes --quiet --compact -o json --skip-download``.
  Default sizes 100, 300, 1000 workloads.

Each command runs ``--repeat`` times (interleaved with its peer's runs) in its own
process; wall time, CPU time (user + system, children included) and peak RSS come
from ``os.wait4`` on that process.  Peak RSS is ``ru_maxrss``: the largest single
process of the run's process tree, not their sum; the peak PSS of the whole tree is
also sampled from /proc every 50 ms and reported where a tool forks.  Medians are
reported, with the ratio kubematrix / peer (below 1: kubematrix is faster or smaller).
CPU time is the figure to trust on a busy machine; wall time includes waiting for a core.

The tools do different work -- see the notes printed with the figures -- so a ratio
is a cost comparison on the same input, not a claim that one tool does the other's job.

Peers are optional; a missing one is skipped with the command that installs it.
Their locations: ``--nca`` / ``$KUBEMATRIX_BENCH_NCA``, ``--checkov`` /
``$KUBEMATRIX_BENCH_CHECKOV``, else ``nca`` / ``checkov`` on PATH, else the
conventional ``/work/peers/bin/nca`` and ``/work/peer-checkov/bin/checkov``.
kubematrix itself: ``--kubematrix`` / ``$KUBEMATRIX_BENCH_BIN``, else the
``kubematrix`` script next to this Python, else ``python -m scanner``.

The markdown table is printed and written to ``bench/out/peers-<date>.md`` (with a
JSON twin holding every repetition).  Not a timed test: numbers go in bench/README.md.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

NCA_VERSION = "2.1.0"
CHECKOV_VERSION = "3.3.30"
NCA_INSTALL = f"python3 -m venv /work/peers && /work/peers/bin/pip install network-config-analyzer=={NCA_VERSION}"
CHECKOV_INSTALL = f"python3 -m venv /work/peer-checkov && /work/peer-checkov/bin/pip install checkov=={CHECKOV_VERSION}"


# ------------------------------------------------------------------------------------
# Generators
# ------------------------------------------------------------------------------------

TIERS = ("web", "api", "db", "worker", "cache")
PORTS = {"web": 8080, "api": 9000, "db": 5432, "worker": 7000, "cache": 6379}
PER_NS = 20
NETPOL_SIZES = "50,100,200"
SECURITY_SIZES = "100,300,1000"


def _deployment(ns: str, name: str, labels: dict, ports: list[dict]) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "selector": {"matchLabels": {"app": labels["app"]}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "main", "image": f"example/{name}:1", "ports": ports}]},
            },
        },
    }


def _netpol(ns: str, name: str, spec: dict) -> dict:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }


# A generated workload: namespace, app, tier, has metrics port.
_App = tuple[str, str, str, bool]


def generate_netpol(n: int, seed: int = 11) -> list[dict]:
    """N Deployments in N/20 namespaces plus monitoring and kube-system, and about one
    Kubernetes NetworkPolicy per workload (see the module docstring)."""
    rnd = random.Random(seed)
    namespaces = [f"ns{i:03d}" for i in range(max(2, n // PER_NS))]
    docs = _netpol_namespaces(namespaces) + _system_deployments()
    apps = _netpol_apps(n, namespaces)
    docs += [_app_deployment(k, app) for k, app in enumerate(apps)]

    by_ns: dict[str, list[_App]] = {}
    for a in apps:
        by_ns.setdefault(a[0], []).append(a)

    for k, (ns, app, _tier, _metrics) in enumerate(apps):
        if k % 10 == 9:
            continue  # not isolated by its own policy (maybe by a namespace default-deny)
        peers = [p for p in by_ns[ns] if p[1] != app]
        docs.append(_workload_netpol(rnd, k, ns, app, peers))

    for i, ns in enumerate(namespaces):
        docs += _namespace_netpols(i, ns)
    return docs + _system_netpols()


def _netpol_namespaces(namespaces: list[str]) -> list[dict]:
    """The generated namespaces (team and env labels) plus monitoring and kube-system."""
    docs = [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": ns, "labels": {"team": f"team{i % 5}", "env": "prod" if i % 2 else "dev"}},
        }
        for i, ns in enumerate(namespaces)
    ]
    # kubernetes.io/metadata.name is set by the API server; manifests do not carry it.
    docs.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "monitoring"}})
    docs.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-system"}})
    return docs


def _system_deployments() -> list[dict]:
    """monitoring/prometheus and kube-system/coredns, the peers every workload policy names."""
    return [
        _deployment("monitoring", "prometheus", {"app": "prometheus"}, [{"name": "web", "containerPort": 9090}]),
        _deployment(
            "kube-system",
            "coredns",
            {"app": "coredns", "k8s-app": "kube-dns"},
            [
                {"name": "dns", "containerPort": 53, "protocol": "UDP"},
                {"name": "dns-tcp", "containerPort": 53, "protocol": "TCP"},
            ],
        ),
    ]


def _netpol_apps(n: int, namespaces: list[str]) -> list[_App]:
    """The n workloads, spread round-robin over the namespaces; every third has a metrics port."""
    apps: list[_App] = []
    for k in range(n):
        ns = namespaces[k % len(namespaces)]
        tier = TIERS[(k // len(namespaces)) % len(TIERS)]  # every tier in every namespace
        apps.append((ns, f"app{k:05d}", tier, k % 3 == 0))
    return apps


def _app_deployment(k: int, app: _App) -> dict:
    """The Deployment of workload number k: its tier's named http port, maybe a metrics port."""
    ns, name, tier, metrics = app
    ports = [{"name": "http", "containerPort": PORTS[tier]}]
    if metrics:
        ports.append({"name": "metrics", "containerPort": 9090})
    return _deployment(ns, name, {"app": name, "tier": tier, "version": f"v{k % 2 + 1}"}, ports)


def _workload_netpol(rnd: random.Random, k: int, ns: str, app: str, peers: list[_App]) -> dict:
    """The policy of workload number k, selecting it by its app label.  Draws from rnd in
    a fixed order (sources, target, then the ingress and egress builders' draws), so a
    seed always gives the same cluster."""
    sources = rnd.sample(peers, min(2, len(peers)))
    target = rnd.choice(peers) if peers else None
    spec: dict = {"podSelector": {"matchLabels": {"app": app}}, "ingress": _workload_ingress(rnd, k, sources)}
    if k % 8 == 7:
        spec["policyTypes"] = ["Ingress"]
    else:
        spec["policyTypes"] = ["Ingress", "Egress"]
        spec["egress"] = _workload_egress(rnd, k, target)
    return _netpol(ns, f"{app}-netpol", spec)


def _workload_ingress(rnd: random.Random, k: int, sources: list[_App]) -> list[dict]:
    """Ingress rules of workload number k: http from a few namespace peers, metrics from
    Prometheus, and by k a team's namespaces (port range), a tier expression, an ipBlock --
    or nothing (deny all ingress)."""
    ingress: list[dict] = [
        {"from": [{"podSelector": {"matchLabels": {"app": s[1]}}} for s in sources], "ports": [{"port": "http"}]},
        # Named port: allows nothing on pods without a 'metrics' port.
        {
            "from": [
                {
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
                    "podSelector": {"matchLabels": {"app": "prometheus"}},
                }
            ],
            "ports": [{"port": "metrics"}],
        },
    ]
    if k % 6 == 0:
        ingress.append(
            {
                "from": [{"namespaceSelector": {"matchLabels": {"team": f"team{rnd.randrange(5)}"}}}],
                "ports": [{"port": 8000, "endPort": 9999, "protocol": "TCP"}],
            }
        )
    if k % 17 == 0:
        ingress.append(
            {
                "from": [
                    {"podSelector": {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["web", "api"]}]}}
                ]
            }
        )
    if k % 19 == 0:
        ingress.append(
            {"from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}], "ports": [{"port": 443}]}
        )
    if k % 13 == 0:
        # Deny all ingress.  Decided last: the team draw above is made all the same, so the
        # random draws of every later workload do not depend on this one.
        return []
    return ingress


def _workload_egress(rnd: random.Random, k: int, target: _App | None) -> list[dict]:
    """Egress rules of workload number k: its target peer (named or numeric port), a tier
    in a random team's namespaces, DNS, and by k the internet (ipBlock), a UDP port range
    to every namespace, or a namespace/pod expression pair."""
    egress: list[dict] = []
    if target is not None:
        port = {"port": "http"} if k % 4 == 0 else {"port": PORTS[target[2]], "protocol": "TCP"}
        egress.append({"to": [{"podSelector": {"matchLabels": {"app": target[1]}}}], "ports": [port]})
    far_team = rnd.randrange(5)
    far_tier = rnd.choice(TIERS)
    egress.append(
        {
            "to": [
                {
                    "namespaceSelector": {"matchLabels": {"team": f"team{far_team}"}},
                    "podSelector": {"matchLabels": {"tier": far_tier}},
                }
            ],
            "ports": [{"port": "http"}],
        }
    )
    egress.append(
        {
            "to": [
                {
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                }
            ],
            "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}],
        }
    )
    if k % 5 == 0:
        egress.append({"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}}], "ports": [{"port": 443}]})
    if k % 23 == 0:
        egress.append(
            {"to": [{"namespaceSelector": {}}], "ports": [{"port": 5000, "endPort": 5100, "protocol": "UDP"}]}
        )
    if k % 29 == 0:
        egress.append(
            {
                "to": [
                    {
                        "namespaceSelector": {
                            "matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["prod"]}]
                        },
                        "podSelector": {"matchExpressions": [{"key": "version", "operator": "Exists"}]},
                    }
                ]
            }
        )
    return egress


def _namespace_netpols(i: int, ns: str) -> list[dict]:
    """The policies of generated namespace number i: db-from-api, and in every third a
    default-deny of both directions."""
    # Databases accept the API tier of their own namespace.
    docs = [
        _netpol(
            ns,
            "db-from-api",
            {
                "podSelector": {"matchLabels": {"tier": "db"}},
                "policyTypes": ["Ingress"],
                "ingress": [
                    {
                        "from": [{"podSelector": {"matchLabels": {"tier": "api"}}}],
                        "ports": [{"port": 5432, "protocol": "TCP"}],
                    }
                ],
            },
        )
    ]
    if i % 3 == 0:
        docs.append(_netpol(ns, "default-deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}))
    return docs


def _system_netpols() -> list[dict]:
    """The policies of monitoring/prometheus and kube-system/coredns."""
    # Prometheus may scrape anything; CoreDNS answers everyone.
    return [
        _netpol(
            "monitoring",
            "prometheus",
            {
                # ["Egress", "Ingress"] is valid Kubernetes, but NCA 2.1.0 rejects any order but this one.
                "podSelector": {"matchLabels": {"app": "prometheus"}},
                "policyTypes": ["Ingress", "Egress"],
                "egress": [{"to": [{"namespaceSelector": {}}], "ports": [{"port": "metrics"}]}],
                "ingress": [],
            },
        ),
        _netpol(
            "kube-system",
            "dns",
            {
                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                "policyTypes": ["Ingress"],
                # A named port matches a container port of the same name *and* protocol (default TCP).
                "ingress": [
                    {
                        "from": [{"namespaceSelector": {}}],
                        "ports": [{"port": "dns", "protocol": "UDP"}, {"port": "dns-tcp"}],
                    }
                ],
            },
        ),
    ]


def without_exists(docs: list[dict]) -> list[dict]:
    """The same cluster with every pod-selector ``version Exists`` written as the
    equivalent ``version In [v1, v2]`` (every generated pod has version v1 or v2)."""
    docs = json.loads(json.dumps(docs))
    for d in docs:
        if d["kind"] != "NetworkPolicy":
            continue
        for rule in d["spec"].get("egress", []) + d["spec"].get("ingress", []):
            for peer in rule.get("to", []) + rule.get("from", []):
                for req in (peer.get("podSelector") or {}).get("matchExpressions", []):
                    if req["key"] == "version" and req["operator"] == "Exists":
                        req.update(operator="In", values=["v1", "v2"])
    return docs


def write_netpol(n: int, out: Path, seed: int, docs: list[dict] | None = None) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    docs = generate_netpol(n, seed) if docs is None else docs
    # A few files per kind, like a real repository's "base" directory.
    groups: dict[str, list[dict]] = {}
    for d in docs:
        groups.setdefault(d["kind"], []).append(d)
    for kind, items in groups.items():
        chunk = 200
        for i in range(0, len(items), chunk):
            (out / f"{kind.lower()}-{i // chunk:03d}.yaml").write_text(
                yaml.safe_dump_all(items[i : i + chunk], sort_keys=False), encoding="utf-8"
            )
    return out


# Security-context profiles: (name, pod securityContext, container securityContext, extra pod spec)
_GOOD_CTR = {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}}
_GOOD_POD = {
    "runAsNonRoot": True,
    "runAsUser": 10001,
    "runAsGroup": 10001,
    "fsGroup": 10001,
    "seccompProfile": {"type": "RuntimeDefault"},
}
PROFILES: list[tuple[str, dict | None, dict | None, dict]] = [
    ("restricted", _GOOD_POD, _GOOD_CTR, {}),
    (
        "restricted-ctr",
        None,
        {**_GOOD_CTR, "runAsNonRoot": True, "runAsUser": 2000, "seccompProfile": {"type": "RuntimeDefault"}},
        {},
    ),
    ("none", None, None, {}),
    ("privileged", None, {"privileged": True, "allowPrivilegeEscalation": True}, {}),
    ("root", {"runAsUser": 0}, {"allowPrivilegeEscalation": False}, {}),
    ("override-root", _GOOD_POD, {**_GOOD_CTR, "runAsNonRoot": False}, {}),
    ("host-namespaces", None, None, {"hostNetwork": True, "hostPID": True}),
    ("caps", _GOOD_POD, {"allowPrivilegeEscalation": False, "capabilities": {"add": ["NET_ADMIN", "SYS_TIME"]}}, {}),
    ("hostpath", _GOOD_POD, _GOOD_CTR, {"volumes": [{"name": "sock", "hostPath": {"path": "/var/run/docker.sock"}}]}),
    ("seccomp-unconfined", {**_GOOD_POD, "seccompProfile": {"type": "Unconfined"}}, _GOOD_CTR, {}),
    ("host-port", _GOOD_POD, _GOOD_CTR, {"_hostPort": 8080}),
    ("sysctl", {**_GOOD_POD, "sysctls": [{"name": "kernel.msgmax", "value": "65536"}]}, _GOOD_CTR, {}),
    ("proc-unmasked", _GOOD_POD, {**_GOOD_CTR, "procMount": "Unmasked"}, {}),
    ("selinux", {**_GOOD_POD, "seLinuxOptions": {"type": "spc_t"}}, _GOOD_CTR, {}),
    ("drop-lowercase", _GOOD_POD, {**_GOOD_CTR, "capabilities": {"drop": ["all"]}}, {}),
]
PSS_LEVELS = ("restricted", "baseline", "privileged", None)
KINDS = ("Deployment", "StatefulSet", "CronJob", "Deployment", "Job", "DaemonSet")


def _pod_spec(k: int, profile: tuple) -> dict:
    _name, pod_sc, ctr_sc, extra = profile
    container: dict = {
        "name": "app",
        "image": f"registry.example/app{k:05d}:1.{k % 9}",
        "ports": [{"name": "http", "containerPort": 8080}],
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}},
    }
    if k % 2 == 0:
        container["livenessProbe"] = {"httpGet": {"path": "/healthz", "port": "http"}}
        container["readinessProbe"] = {"httpGet": {"path": "/ready", "port": "http"}}
    if ctr_sc is not None:
        container["securityContext"] = json.loads(json.dumps(ctr_sc))
    extra = dict(extra)
    host_port = extra.pop("_hostPort", None)
    if host_port:
        container["ports"][0]["hostPort"] = host_port
    spec: dict = {
        "serviceAccountName": f"app{k:05d}",
        "automountServiceAccountToken": k % 3 != 0,
        "containers": [container],
    }
    if k % 4 == 1:
        init = {"name": "init", "image": "busybox:1.36", "command": ["sh", "-c", "true"]}
        if ctr_sc is not None:
            init["securityContext"] = json.loads(json.dumps(ctr_sc))
        spec["initContainers"] = [init]
    if k % 5 == 2:
        spec["containers"].append(
            {
                "name": "sidecar",
                "image": "example/proxy:2",
                "securityContext": {"runAsUser": 1337, "allowPrivilegeEscalation": False},
            }
        )
    if pod_sc is not None:
        spec["securityContext"] = json.loads(json.dumps(pod_sc))
    spec.update(json.loads(json.dumps(extra)))
    return spec


def generate_security(n: int, seed: int = 11) -> list[tuple[str, list[dict]]]:
    """N workloads (kinds and profiles cycled, shuffled by seed) in N/20 namespaces.
    Returns (relative file path, documents) pairs: one file per object."""
    rnd = random.Random(seed)
    files: list[tuple[str, list[dict]]] = []
    n_ns = max(2, n // PER_NS)
    namespaces = [f"team{i:03d}" for i in range(n_ns)]
    for i, ns in enumerate(namespaces):
        labels = {"team": f"t{i % 5}"}
        level = PSS_LEVELS[i % len(PSS_LEVELS)]
        if level:
            labels["pod-security.kubernetes.io/enforce"] = level
            labels["pod-security.kubernetes.io/warn"] = "restricted"
        files.append(
            (
                f"{ns}/namespace.yaml",
                [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": labels}}],
            )
        )
    for k in range(n):
        ns = namespaces[k % n_ns]
        kind = KINDS[rnd.randrange(len(KINDS))]
        profile = PROFILES[rnd.randrange(len(PROFILES))]
        name = f"app{k:05d}"
        labels = {"app": name, "profile": profile[0]}
        template = {"metadata": {"labels": dict(labels)}, "spec": _pod_spec(k, profile)}  # no YAML alias
        if kind in ("Deployment", "StatefulSet", "DaemonSet"):
            spec: dict = {"selector": {"matchLabels": {"app": name}}, "template": template}
            if kind != "DaemonSet":
                spec["replicas"] = 2
            if kind == "StatefulSet":
                spec["serviceName"] = name
            api = "apps/v1"
        elif kind == "Job":
            template["spec"]["restartPolicy"] = "Never"
            spec = {"backoffLimit": 2, "template": template}
            api = "batch/v1"
        else:  # CronJob
            template["spec"]["restartPolicy"] = "OnFailure"
            spec = {
                "schedule": f"{k % 60} {k % 24} * * *",
                "concurrencyPolicy": "Forbid",
                "jobTemplate": {"spec": {"template": template}},
            }
            api = "batch/v1"
        docs = [
            {
                "apiVersion": api,
                "kind": kind,
                "metadata": {"name": name, "namespace": ns, "labels": dict(labels)},
                "spec": spec,
            }
        ]
        if kind in ("Deployment", "StatefulSet"):
            docs.append(
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": {"name": name, "namespace": ns},
                    "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
                }
            )
        files.append((f"{ns}/{name}.yaml", docs))
    return files


def write_security(n: int, out: Path, seed: int) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    for rel, docs in generate_security(n, seed):
        p = out / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(yaml.safe_dump_all(docs, sort_keys=False), encoding="utf-8")
    return out


# ------------------------------------------------------------------------------------
# Running and measuring
# ------------------------------------------------------------------------------------


@dataclass
class Run:
    wall_s: float
    cpu_s: float
    rss_mb: float  # ru_maxrss: the largest single process of the tree
    rc: int
    tree_pss_mb: float = 0.0  # sampled peak of the whole process tree's PSS (shared pages split)
    procs: int = 1  # most processes seen at once in the tree


@dataclass
class Tool:
    key: str  # column label
    argv: list[str]
    ok_rc: tuple[int, ...] = (0,)
    runs: list[Run] = field(default_factory=list)
    error: str | None = None
    output: Path | None = None  # stdout of the last run

    def median(self, attr: str) -> float | None:
        vals = [getattr(r, attr) for r in self.runs]
        return statistics.median(vals) if vals else None


_PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024 if hasattr(os, "sysconf") else 4


def _tree(root: int) -> list[int]:
    """root and its live descendants (Linux /proc/PID/task/TID/children)."""
    out, stack = [], [root]
    while stack:
        pid = stack.pop()
        out.append(pid)
        try:
            for tid in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{tid}/children") as f:
                    stack += [int(x) for x in f.read().split()]
        except (OSError, ValueError):
            pass
    return out


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def measure(argv: list[str], stdout: Path, stderr: Path, timeout: float, sample_every: float = 0.05) -> Run:
    """Run argv once.  Wall clock around the process; CPU time and ru_maxrss of exactly
    that process (and the descendants it waited for) from os.wait4; and, sampled every
    50 ms from /proc, the peak PSS summed over the whole process tree (checkov forks
    workers, whose memory ru_maxrss does not add up)."""
    with open(stdout, "wb") as out, open(stderr, "wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        deadline = t0 + timeout
        next_sample = t0
        peak_kb, procs, rc = 0, 1, None
        while True:
            pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                wall = time.perf_counter() - t0
                rc = os.waitstatus_to_exitcode(status)
                break
            now = time.perf_counter()
            if now > deadline:
                proc.kill()
                pid, status, ru = os.wait4(proc.pid, 0)
                wall, rc = time.perf_counter() - t0, -9
                break
            if now >= next_sample and os.path.isdir("/proc"):
                pids = _tree(proc.pid)
                procs = max(procs, len(pids))
                peak_kb = max(peak_kb, sum(_pss_kb(p) for p in pids))
                next_sample = now + sample_every
            time.sleep(0.005)
        proc.returncode = rc
    return Run(wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024, rc, peak_kb / 1024, procs)


def run_tools(tools: list[Tool], repeat: int, workdir: Path, timeout: float, log) -> None:
    """Interleave the tools' repetitions (A B A B ...) so drift in machine load hits both."""
    for i in range(repeat):
        for t in tools:
            if t.error:
                continue
            out = workdir / f"{t.key.replace(' ', '_').replace('(', '').replace(')', '')}.out"
            err = out.with_suffix(".err")
            r = measure(t.argv, out, err, timeout)
            if r.rc not in t.ok_rc:
                tail = err.read_text(errors="replace").strip().splitlines()[-5:]
                t.error = (f"exit {r.rc}" if r.rc != -9 else f"timed out after {timeout:.0f} s") + (
                    ": " + " / ".join(tail) if tail else ""
                )
                log(f"    {t.key}: FAILED ({t.error})")
                continue
            t.runs.append(r)
            t.output = out
            log(
                f"    {t.key} #{i + 1}: {r.wall_s:.2f} s wall, {r.cpu_s:.2f} s CPU, {r.rss_mb:.0f} MB peak RSS, "
                f"{r.tree_pss_mb:.0f} MB sampled tree PSS, {r.procs} process(es)"
            )


# ------------------------------------------------------------------------------------
# Comparing answers
# ------------------------------------------------------------------------------------

PROTOS = ("TCP", "UDP", "SCTP")
FULL = ((1, 65535),)


def _norm(intervals: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    out: list[list[int]] = []
    for a, b in sorted(intervals):
        if out and a <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return tuple((a, b) for a, b in out)


def km_pairs(graph_json: Path) -> dict[tuple[str, str], dict[str, tuple]]:
    """Workload -> workload edges of ``kubematrix graph`` with their L4 ports per protocol."""
    g = json.loads(graph_json.read_text())
    workloads = {n["id"] for n in g["nodes"] if n.get("kind") == "workload"}
    pairs: dict[tuple[str, str], dict[str, tuple]] = {}
    for e in g["edges"]:
        if e["from"] in workloads and e["to"] in workloads and e["from"] != e["to"]:
            per: dict[str, list] = {}
            for p in e["ports"]:
                if p["protocol"] in PROTOS:
                    per.setdefault(p["protocol"], []).append((p["port"], p.get("endPort") or p["port"]))
            pairs[(e["from"], e["to"])] = {k: _norm(v) for k, v in per.items()}
    return pairs


_NCA_LINE = re.compile(r"^(\S+)\[[A-Za-z]+\] => (\S+)\[[A-Za-z]+\] : (.*)$")


def _nca_conn(text: str) -> dict[str, tuple] | None:
    """'All connections' or '{protocols:TCP,UDP,dst_ports:53,8000-9999},{...}' -> ports by protocol."""
    text = text.strip()
    if text == "All connections":
        return {p: FULL for p in PROTOS}
    per: dict[str, list] = {}
    for part in re.findall(r"\{([^}]*)\}", text):
        m = re.fullmatch(r"protocols:([A-Z0-9,]+?)(?:,dst_ports:([0-9,\-]+))?", part.replace(" ", ""))
        if not m:
            return None
        ports = (
            [(int(a), int(b or a)) for a, b in re.findall(r"(\d+)(?:-(\d+))?", m.group(2))]
            if m.group(2)
            else list(FULL)
        )
        for proto in m.group(1).split(","):
            if proto in PROTOS:
                per.setdefault(proto, []).extend(ports)
    return {k: _norm(v) for k, v in per.items()}


def nca_pairs(txt: Path) -> tuple[dict[tuple[str, str], dict[str, tuple] | None], int]:
    """Deployment -> deployment lines of ``nca -o txt_no_fw_rules`` (a pair may take one
    line per protocol: they are merged); a pair with an unparsed port text is None."""
    pairs: dict[tuple[str, str], dict[str, tuple] | None] = {}
    unparsed = 0
    for line in txt.read_text(errors="replace").splitlines():
        m = _NCA_LINE.match(line)
        if not m or m.group(1) == m.group(2):
            continue
        key = (m.group(1), m.group(2))
        conn = _nca_conn(m.group(3))
        if conn is None:
            unparsed += 1
            pairs[key] = None
        elif key not in pairs:
            pairs[key] = conn
        elif pairs[key] is not None:
            merged = dict(pairs[key])
            for proto, ivs in conn.items():
                merged[proto] = _norm(list(merged.get(proto, ())) + list(ivs))
            pairs[key] = merged
    return pairs, unparsed


def compare_netpol(km_out: Path, nca_out: Path) -> dict:
    km = km_pairs(km_out)
    nca, unparsed = nca_pairs(nca_out)
    both = km.keys() & nca.keys()
    same_ports = [p for p in both if nca[p] is not None and nca[p] == km[p]]
    diff_ports = sorted(p for p in both if nca[p] is not None and nca[p] != km[p])
    only_km = sorted(km.keys() - nca.keys())
    only_nca = sorted(nca.keys() - km.keys())

    def show(pair: tuple[str, str], side: dict | None) -> str:
        if side is None:
            return "-"
        return (
            "; ".join(
                f"{k} {','.join(f'{a}' if a == b else f'{a}-{b}' for a, b in v)}" for k, v in sorted(side.items())
            )
            or "nothing"
        )

    return {
        "km_pairs": len(km),
        "nca_pairs": len(nca),
        "both": len(both),
        "only_km": len(only_km),
        "only_nca": len(only_nca),
        "same_ports": len(same_ports),
        "diff_ports": len(diff_ports),
        "nca_unparsed": unparsed,
        "examples": (
            [f"only kubematrix: {a} -> {b} ({show((a, b), km[(a, b)])})" for a, b in only_km[:3]]
            + [f"only NCA: {a} -> {b} ({show((a, b), nca[(a, b)])})" for a, b in only_nca[:3]]
            + [
                f"ports differ: {a} -> {b}: kubematrix {show((a, b), km[(a, b)])} / NCA {show((a, b), nca[(a, b)])}"
                for a, b in diff_ports[:3]
            ]
        ),
    }


# Analogous controls: (label, checkov check ids, kubematrix rule ids, PSS levels).  A Pod
# Security Standards control applies only in namespaces whose level includes it
# (no label = baseline, kubematrix's default without a policy file; privileged checks
# nothing), so each control is compared on the workloads of those namespaces only.
BASELINE_UP = frozenset({"baseline", "restricted"})
ANALOGUES = [
    ("privileged container", {"CKV_K8S_16"}, {"PSS-privileged"}, BASELINE_UP),
    ("host PID / IPC / network", {"CKV_K8S_17", "CKV_K8S_18", "CKV_K8S_19"}, {"PSS-hostNamespaces"}, BASELINE_UP),
    ("hostPort", {"CKV_K8S_26"}, {"PSS-hostPorts"}, BASELINE_UP),
    ("hostPath (docker socket)", {"CKV_K8S_27"}, {"PSS-hostPathVolumes", "PSS-restrictedVolumes"}, BASELINE_UP),
    ("added capabilities", {"CKV_K8S_25"}, {"PSS-capabilities-baseline"}, frozenset({"baseline"})),
    ("allowPrivilegeEscalation", {"CKV_K8S_20"}, {"PSS-allowPrivilegeEscalation"}, frozenset({"restricted"})),
    ("run as non-root", {"CKV_K8S_23"}, {"PSS-runAsNonRoot"}, frozenset({"restricted"})),
    ("seccomp profile", {"CKV_K8S_31"}, {"PSS-seccompProfile-restricted"}, frozenset({"restricted"})),
]


def security_levels(n: int, seed: int) -> tuple[dict[str, str], set[str]]:
    """Namespace -> PSS level, and every workload 'ns/name', of the generated tree."""
    levels: dict[str, str] = {}
    workloads: set[str] = set()
    for _rel, docs in generate_security(n, seed):
        for d in docs:
            md = d["metadata"]
            if d["kind"] == "Namespace":
                levels[md["name"]] = md.get("labels", {}).get("pod-security.kubernetes.io/enforce", "baseline")
            elif d["kind"] != "Service":
                workloads.add(f"{md['namespace']}/{md['name']}")
    return levels, workloads


def compare_security(km_out: Path, ck_out: Path, levels: dict[str, str], workloads: set[str]) -> dict:
    km = json.loads(km_out.read_text())
    ck = json.loads(ck_out.read_text())
    reports = ck if isinstance(ck, list) else [ck]
    failed: list[dict] = []
    summary = {"passed": 0, "failed": 0, "resource_count": 0}
    for r in reports:
        if isinstance(r, dict):
            failed += r.get("results", {}).get("failed_checks", [])
            for k in summary:
                summary[k] += int(r.get("summary", {}).get(k, 0))
    km_findings = [f for f in km["findings"] if f.get("suppressed") is None]

    def ck_workload(resource: str) -> str | None:
        parts = resource.split(".")  # KIND.NAMESPACE.NAME
        return f"{parts[1]}/{parts[2]}" if len(parts) >= 3 else None

    rows = []
    for label, ck_ids, km_ids, lvls in ANALOGUES:
        scope = {w for w in workloads if levels.get(w.split("/", 1)[0], "baseline") in lvls}
        ck_w = {ck_workload(f["resource"]) for f in failed if f["check_id"] in ck_ids} & scope
        km_w = {f["workload"] for f in km_findings if f["ruleId"] in km_ids} & scope
        rows.append(
            {
                "control": label,
                "checkov": "/".join(sorted(ck_ids)),
                "kubematrix": "/".join(sorted(km_ids)),
                "levels": "/".join(sorted(lvls)),
                "scope": len(scope),
                "both": len(ck_w & km_w),
                "only_checkov": len(ck_w - km_w),
                "only_kubematrix": len(km_w - ck_w),
                "examples": sorted(ck_w ^ km_w)[:3],
            }
        )
    return {
        "checkov_failed": summary["failed"] or len(failed),
        "checkov_passed": summary["passed"],
        "checkov_resources": summary["resource_count"],
        "checkov_check_ids": len({f["check_id"] for f in failed}),
        "km_findings": len(km_findings),
        "km_rule_ids": len({f["ruleId"] for f in km_findings}),
        "km_workloads": km.get("summary", {}).get("workloads"),
        "analogues": rows,
    }


# ------------------------------------------------------------------------------------
# Locating tools, machine facts, report
# ------------------------------------------------------------------------------------


def locate(option: str | None, env: str, name: str, fallback: str) -> tuple[str | None, str]:
    """(path, how it was looked for).  An explicit option or environment variable is the
    only candidate; otherwise PATH, then the conventional location."""

    def usable(p: str) -> bool:
        return Path(p).is_file() and os.access(p, os.X_OK)

    explicit = option or os.environ.get(env)
    if explicit:
        return (explicit if usable(explicit) else None), f"{explicit} (given) is not an executable file"
    for cand in (shutil.which(name), fallback):
        if cand and usable(cand):
            return cand, ""
    return None, f"not on PATH nor at {fallback}; give --{name} or ${env}"


def kubematrix_argv(option: str | None) -> list[str]:
    cand = option or os.environ.get("KUBEMATRIX_BENCH_BIN")
    if cand:
        return [cand]
    script = Path(sys.executable).parent / "kubematrix"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", "scanner"]


def _version(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        text = (out.stdout + out.stderr).strip().splitlines()
        return text[0].strip() if text else "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


def machine_facts(km: list[str], nca: str | None, checkov: str | None) -> list[str]:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem = next(x for x in Path("/proc/meminfo").read_text().splitlines() if x.startswith("MemTotal"))
        mem_gb = f"{int(mem.split()[1]) / 1024 / 1024:.0f} GiB"
    except (OSError, StopIteration):
        mem_gb = "?"
    km_ver = _version([_python_of(km[0]), "-c", "import importlib.metadata as m; print(m.version('kubematrix'))"])
    try:
        rev = subprocess.run(
            ["git", "-C", str(REPO), "describe", "--always", "--dirty"], capture_output=True, text=True, timeout=30
        ).stdout.strip()
        km_ver += f", tree {rev}" if rev else ""
    except (OSError, subprocess.SubprocessError):
        pass
    facts = [
        f"- machine: {os.cpu_count()} CPUs (nproc), {cpu}, {mem_gb} RAM, {platform.system()} {platform.release()}",
        f"- load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
        f"- kubematrix: {km_ver} ({' '.join(km)}), {_version([_python_of(km[0]), '-V'])}",
    ]
    if nca:
        facts.append(f"- NCA: {_version([nca, '--version'])} ({nca}), {_version([_python_of(nca), '-V'])}")
    if checkov:
        facts.append(
            f"- checkov: {_version([checkov, '--version'])} ({checkov}), {_version([_python_of(checkov), '-V'])}"
        )
    return facts


def _python_of(script: str) -> str:
    """The interpreter a console script runs on (its venv's python), else this one."""
    p = Path(script).parent / "python"
    return str(p) if p.exists() else sys.executable


def _fmt(x: float | None, unit: str = "") -> str:
    if x is None:
        return "—"
    if unit == "MB":
        return f"{x:.0f}"
    return f"{x:.2f}" if x < 100 else f"{x:.0f}"


def _ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0:
        return "—"
    return f"**{a / b:.2f}**"


def table(rows: list[tuple[str, Tool, Tool]]) -> list[str]:
    out = [
        "| size | peer | kubematrix wall s | peer wall s | wall ratio | kubematrix CPU s | peer CPU s | CPU ratio "
        "| kubematrix RSS MB | peer RSS MB | RSS ratio |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size, km, peer in rows:
        if peer.error or not peer.runs:
            out.append(
                f"| {size} | {peer.key} | {_fmt(km.median('wall_s'))} | failed | — | {_fmt(km.median('cpu_s'))} "
                f"| — | — | {_fmt(km.median('rss_mb'), 'MB')} | — | — |"
            )
            continue
        out.append(
            "| "
            + " | ".join(
                [
                    str(size),
                    peer.key,
                    _fmt(km.median("wall_s")),
                    _fmt(peer.median("wall_s")),
                    _ratio(km.median("wall_s"), peer.median("wall_s")),
                    _fmt(km.median("cpu_s")),
                    _fmt(peer.median("cpu_s")),
                    _ratio(km.median("cpu_s"), peer.median("cpu_s")),
                    _fmt(km.median("rss_mb"), "MB"),
                    _fmt(peer.median("rss_mb"), "MB"),
                    _ratio(km.median("rss_mb"), peer.median("rss_mb")),
                ]
            )
            + " |"
        )
    return out


def fork_notes(rows: list[tuple[str, Tool, Tool]]) -> list[str]:
    """A line per tool and size whose process tree had more than one process."""
    out, seen = [], set()
    for size, km, peer in rows:
        for t in (km, peer):
            if (size, t.key) in seen or not t.runs or max(r.procs for r in t.runs) < 2:
                continue
            seen.add((size, t.key))
            out.append(
                f"- {t.key} at {size}: up to {max(r.procs for r in t.runs)} processes at once; sampled peak "
                f"PSS of the whole tree {t.median('tree_pss_mb'):.0f} MB (median), against "
                f"{t.median('rss_mb'):.0f} MB ru_maxrss of its largest process."
            )
    return ["Forking tools (memory of the whole process tree):", "", *out, ""] if out else []


NOTES_NETPOL = """\
What each side computes: kubematrix parses every manifest of the tree, builds its model
(workloads, namespaces, services), evaluates the NetworkPolicies with Cilium's
semantics and writes the whole allowed-traffic graph as JSON (workloads, the
kube-dns actor, CIDR and entity nodes, every allowed edge with ports and the policy
rules that allow it).  NCA computes connectivity for Kubernetes NetworkPolicy only
(no Cilium policies) and prints every allowed connection between deployments and IP
ranges (`txt_no_fw_rules`); with its default `txt` output it also minimises the
answer into firewall-style rules, which costs more.  Neither figure includes the
other's extra work, so read the ratio as "cost of the connectivity answer on the
same input"."""

NOTES_SECURITY = """\
What each side computes: checkov runs its whole Kubernetes check catalogue (~100
generic best-practice checks: resources, probes, image tags, service accounts,
security context ...) on every resource, including each CronJob's pod template
separately.  kubematrix runs its own catalogue: without a policy file that is the
Pod Security Standards controls at each namespace's `pod-security.kubernetes.io/enforce`
level (privileged namespaces check nothing), input and network-policy validity; the
SEC/NET/BAK/RET rules need a policy file and have nothing to compare here.  Different
rule sets with different intents, so the finding counts are not comparable one to
one; the analogue table compares, control by control, the workloads that each tool
flags where the Pod Security level makes the control apply."""


def netpol_control(n: int, seed: int, work: Path, km: list[str], nca: str, timeout: float) -> dict:
    """Answers (untimed) on the tree with ``Exists`` rewritten as ``In``: isolates the
    disagreement that NCA 2.1.0's pod-selector ``Exists`` handling causes."""
    tree = write_netpol(n, work / "tree-no-exists", seed, without_exists(generate_netpol(n, seed)))
    out_km, out_nca = work / "control-km.json", work / "control-nca.txt"
    r1 = measure(km + ["graph", str(tree), "--format", "json"], out_km, out_km.with_suffix(".err"), timeout)
    r2 = measure(
        [nca, "--connectivity", str(tree), "-r", str(tree), "-o", "txt_no_fw_rules"],
        out_nca,
        out_nca.with_suffix(".err"),
        timeout,
    )
    if r1.rc != 0 or r2.rc != 0:
        return {"error": f"kubematrix exit {r1.rc}, nca exit {r2.rc}"}
    c = compare_netpol(out_km, out_nca)
    return {k: c[k] for k in ("km_pairs", "nca_pairs", "only_km", "only_nca", "diff_ports", "examples")}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command-line options (see the module docstring)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", help="workload counts for both comparisons, comma-separated")
    ap.add_argument(
        "--netpol-sizes",
        default=NETPOL_SIZES,
        help=f"workload counts of the NCA comparison (default {NETPOL_SIZES}: NCA's time grows faster "
        "than N^2, ~105 s for one run at 300 workloads)",
    )
    ap.add_argument(
        "--security-sizes",
        default=SECURITY_SIZES,
        help=f"workload counts of the checkov comparison (default {SECURITY_SIZES})",
    )
    ap.add_argument("--repeat", type=int, default=3, help="repetitions per command; the median is reported (default 3)")
    ap.add_argument("--only", choices=("netpol", "security"), help="run one comparison only")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--kubematrix", help="kubematrix executable (env KUBEMATRIX_BENCH_BIN)")
    ap.add_argument("--nca", help="nca executable (env KUBEMATRIX_BENCH_NCA)")
    ap.add_argument("--checkov", help="checkov executable (env KUBEMATRIX_BENCH_CHECKOV)")
    ap.add_argument(
        "--nca-txt",
        action="store_true",
        help="also time NCA's default output (connectivity minimised into firewall rules)",
    )
    ap.add_argument(
        "--control",
        choices=("first", "all", "none"),
        default="first",
        help="re-run both tools (untimed) on the cluster with `Exists` rewritten as `In` at the first "
        "size where the answers disagree (default), at every such size, or never",
    )
    ap.add_argument("--timeout", type=float, default=600, help="seconds before one run is killed (default 600)")
    ap.add_argument("--out", type=Path, default=HERE / "out", help="report directory (default bench/out)")
    ap.add_argument("--keep", action="store_true", help="keep the generated trees and tool outputs (paths printed)")
    return ap.parse_args(argv)


def _log(msg: str) -> None:
    """Progress goes to stderr, so that stdout carries only the report."""
    print(msg, file=sys.stderr, flush=True)


def _parse_sizes(text: str) -> list[int]:
    """'50,100,200' -> [50, 100, 200] (empty items ignored)."""
    return [int(x) for x in text.split(",") if x.strip()]


@dataclass
class Plan:
    """What this invocation compares, and with which executables."""

    args: argparse.Namespace
    netpol_sizes: list[int]
    security_sizes: list[int]
    km: list[str]  # argv prefix that runs kubematrix
    nca: str | None  # None: the network-policy comparison is not run
    checkov: str | None  # None: the security-context comparison is not run
    skipped: list[str]  # why a comparison asked for is not run


def make_plan(args: argparse.Namespace) -> Plan:
    """Sizes and executables for the options; a comparison whose peer is missing is
    skipped (logged, and reported in the header)."""
    netpol_sizes = _parse_sizes(args.sizes or args.netpol_sizes)
    security_sizes = _parse_sizes(args.sizes or args.security_sizes)
    km = kubematrix_argv(args.kubematrix)
    nca, nca_why = locate(args.nca, "KUBEMATRIX_BENCH_NCA", "nca", "/work/peers/bin/nca")
    checkov, ck_why = locate(args.checkov, "KUBEMATRIX_BENCH_CHECKOV", "checkov", "/work/peer-checkov/bin/checkov")
    skipped: list[str] = []
    if args.only not in (None, "netpol"):
        nca = None
    elif not nca:
        skipped.append(f"NCA {nca_why}: skipped the network-policy comparison. Install it with `{NCA_INSTALL}`")
    if args.only not in (None, "security"):
        checkov = None
    elif not checkov:
        skipped.append(
            f"checkov {ck_why}: skipped the security-context comparison. Install it with `{CHECKOV_INSTALL}`"
        )
    for s in skipped:
        _log("SKIP: " + s)
    return Plan(args, netpol_sizes, security_sizes, km, nca, checkov, skipped)


def report_header(plan: Plan, now: _dt.datetime) -> list[str]:
    """Title, machine and tool facts, what the figures mean, and the skipped comparisons."""
    args = plan.args
    header = [
        f"# kubematrix vs peers — {now:%Y-%m-%d %H:%M}",
        "",
        *machine_facts(plan.km, plan.nca, plan.checkov),
        f"- sizes (workloads): network policies {', '.join(map(str, plan.netpol_sizes))}; security context "
        f"{', '.join(map(str, plan.security_sizes))}; median of {args.repeat} runs per command "
        f"(kubematrix and peer interleaved); seed {args.seed}",
        "- wall = elapsed time of the process; CPU = user + system of the process and the children it "
        "waited for; RSS = peak resident set of the largest single process (`ru_maxrss` from `os.wait4`)",
        "- ratio = kubematrix / peer: below 1 kubematrix is faster or smaller",
        "",
    ]
    return header + [f"- SKIPPED: {s}" for s in plan.skipped]


@dataclass
class Results:
    """What the comparison rounds collect for the report."""

    net_rows: list[tuple[str, Tool, Tool]] = field(default_factory=list)
    net_cmp: list[tuple[int, dict]] = field(default_factory=list)
    controls: list[tuple[int, dict]] = field(default_factory=list)
    sec_rows: list[tuple[str, Tool, Tool]] = field(default_factory=list)
    sec_cmp: list[tuple[int, dict]] = field(default_factory=list)
    runs: list[dict] = field(default_factory=list)  # every tool's repetitions, for the JSON twin


def _answered(kmt: Tool, peer: Tool) -> bool:
    """Both tools ran without error and left an output to compare."""
    return bool(kmt.output and peer.output and not kmt.error and not peer.error)


def _run_records(comparison: str, n: int, tools: list[Tool]) -> list[dict]:
    """The JSON twin's record of each tool's repetitions at one size."""
    return [
        {
            "comparison": comparison,
            "size": n,
            "tool": t.key,
            "argv": t.argv,
            "error": t.error,
            "runs": [r.__dict__ for r in t.runs],
        }
        for t in tools
    ]


def _control_due(mode: str, answers: dict, controls: list[tuple[int, dict]]) -> bool:
    """Whether ``--control`` asks for a control run after these answers: where they
    disagree, at every size (``all``) or at the first such size only (``first``)."""
    disagree = answers["only_km"] or answers["only_nca"] or answers["diff_ports"]
    return bool(disagree and (mode == "all" or (mode == "first" and not controls)))


def netpol_round(plan: Plan, nca: str, n: int, root: Path, res: Results) -> None:
    """Time ``kubematrix graph`` against NCA (and NCA's default output with ``--nca-txt``)
    on the generated cluster of n workloads, compare their answers and, where
    ``--control`` asks for it, run the Exists -> In control."""
    args = plan.args
    tree = write_netpol(n, root / f"netpol-{n}" / "tree", args.seed)
    work = tree.parent
    nfiles = sum(1 for _ in tree.iterdir())
    npols = sum(1 for d in generate_netpol(n, args.seed) if d["kind"] == "NetworkPolicy")
    _log(f"netpol {n}: {nfiles} files, {npols} NetworkPolicies in {tree}")
    kmt = Tool("kubematrix graph", plan.km + ["graph", str(tree), "--format", "json"])
    peer = Tool("nca", [nca, "--connectivity", str(tree), "-r", str(tree), "-o", "txt_no_fw_rules"])
    tools = [kmt, peer]
    peer_txt = None
    if args.nca_txt:
        peer_txt = Tool("nca (txt)", [nca, "--connectivity", str(tree), "-r", str(tree)])
        tools.append(peer_txt)
    run_tools(tools, args.repeat, work, args.timeout, _log)
    res.net_rows.append((f"{n}", kmt, peer))
    if peer_txt:
        res.net_rows.append((f"{n}", kmt, peer_txt))
    if _answered(kmt, peer):
        c = compare_netpol(kmt.output, peer.output)
        c["policies"] = npols
        res.net_cmp.append((n, c))
        _log(f"    answers: {json.dumps({k: v for k, v in c.items() if k != 'examples'})}")
        if _control_due(args.control, c, res.controls):
            res.controls.append((n, netpol_control(n, args.seed, work, plan.km, nca, args.timeout)))
            _log(f"    control (Exists -> In): {json.dumps(res.controls[-1][1])}")
    res.runs += _run_records("netpol", n, tools)


def security_round(plan: Plan, checkov: str, n: int, root: Path, res: Results) -> None:
    """Time ``kubematrix scan`` against checkov on the generated security-context tree of
    n workloads and compare what they flag."""
    args = plan.args
    tree = write_security(n, root / f"security-{n}" / "tree", args.seed)
    work = tree.parent
    nfiles = sum(1 for _ in tree.rglob("*.yaml"))
    _log(f"security {n}: {nfiles} files in {tree}")
    kmt = Tool("kubematrix scan", plan.km + ["scan", str(tree), "--format", "json", "--fail-on", "never"])
    peer = Tool(
        "checkov",
        [
            checkov,
            "-d",
            str(tree),
            "--framework",
            "kubernetes",
            "--quiet",
            "--compact",
            "-o",
            "json",
            "--skip-download",
        ],
        ok_rc=(0, 1),
    )
    run_tools([kmt, peer], args.repeat, work, args.timeout, _log)
    res.sec_rows.append((f"{n}", kmt, peer))
    if _answered(kmt, peer):
        c = compare_security(kmt.output, peer.output, *security_levels(n, args.seed))
        res.sec_cmp.append((n, c))
        _log(f"    answers: {json.dumps({k: v for k, v in c.items() if k != 'analogues'})}")
    res.runs += _run_records("security", n, [kmt, peer])


def run_comparisons(plan: Plan) -> Results:
    """Every size in increasing order, each comparison at the sizes given for it, in a
    temporary directory removed afterwards unless ``--keep``."""
    res = Results()
    root = Path(tempfile.mkdtemp(prefix="kubematrix-peers-"))
    try:
        for n in sorted(set(plan.netpol_sizes) | set(plan.security_sizes)):
            if plan.nca and n in plan.netpol_sizes:
                netpol_round(plan, plan.nca, n, root, res)
            if plan.checkov and n in plan.security_sizes:
                security_round(plan, plan.checkov, n, root, res)
    finally:
        if plan.args.keep:
            _log(f"kept: {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return res


def netpol_section(res: Results) -> list[str]:
    """The report's network-policy part: timings, notes, then the answers (if compared)."""
    if not res.net_rows:
        return []
    body = [
        "## Network policies: `kubematrix graph` vs NCA",
        "",
        f"Input: `generate_netpol` in bench/compare_peers.py — N Deployments in N/{PER_NS} namespaces "
        "plus monitoring/prometheus and kube-system/coredns, about one Kubernetes NetworkPolicy per "
        "workload.  `nca` = `nca --connectivity DIR -r DIR -o txt_no_fw_rules`; `nca (txt)` = the "
        "default output (connectivity minimised into firewall rules).",
        "",
        *table(res.net_rows),
        "",
        *fork_notes(res.net_rows),
        NOTES_NETPOL,
        "",
    ]
    if res.net_cmp:
        body += netpol_answers(res.net_cmp) + control_lines(res.controls) + [""]
    return body


def netpol_answers(net_cmp: list[tuple[int, dict]]) -> list[str]:
    """The table of pairs and ports per size, and the first size's disagreements."""
    body = [
        "Answers (workload → workload pairs with any allowed connection, self-pairs excluded; "
        "ports compared for TCP/UDP/SCTP):",
        "",
        "| size | policies | kubematrix pairs | NCA pairs | in both | only kubematrix | only NCA "
        "| same ports | different ports |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n, c in net_cmp:
        body.append(
            f"| {n} | {c['policies']} | {c['km_pairs']} | {c['nca_pairs']} | {c['both']} | "
            f"{c['only_km']} | {c['only_nca']} | {c['same_ports']} | {c['diff_ports']} |"
        )
    first = next(((n, c) for n, c in net_cmp if c["examples"]), None)
    if first:
        body += ["", f"Disagreements at size {first[0]} (first few):", ""] + [f"- {e}" for e in first[1]["examples"]]
    return body


def control_lines(controls: list[tuple[int, dict]]) -> list[str]:
    """The outcome of each Exists -> In control run, and the NCA behaviour it isolates."""
    body: list[str] = []
    for cn, cc in controls:
        if "error" in cc:
            body += ["", f"Control at size {cn} failed: {cc['error']}"]
            continue
        body += [
            "",
            f"Control at size {cn}: the same cluster with every pod-selector `version Exists` "
            "written as the equivalent `version In [v1, v2]` gives "
            f"{cc['km_pairs']} kubematrix pairs and {cc['nca_pairs']} NCA pairs, {cc['only_km']} only "
            f"kubematrix, {cc['only_nca']} only NCA, {cc['diff_ports']} with different ports.",
        ]
        body += [f"- {e}" for e in cc["examples"]]
    if controls:
        body += [
            "",
            "NCA 2.1.0 evaluates a pod-selector `Exists`/`DoesNotExist` requirement in the policy's "
            "own namespace only (`K8sPolicyYamlParser.parse_label_selector_requirement` passes "
            "`self.namespace`), so a peer `namespaceSelector` + `podSelector: {matchExpressions: "
            "[{operator: Exists}]}` selects no pod of another namespace; Kubernetes selects the "
            "matching pods of every selected namespace.",
        ]
    return body


def security_section(res: Results) -> list[str]:
    """The report's security-context part: timings, notes, then the answers (if compared)."""
    if not res.sec_rows:
        return []
    body = [
        "## Security context: `kubematrix scan` vs checkov",
        "",
        "Input: `generate_security` in bench/compare_peers.py — N workloads (Deployment, StatefulSet, "
        f"DaemonSet, Job, CronJob) with {len(PROFILES)} securityContext profiles (good and bad), Services "
        f"for Deployments and StatefulSets, N/{PER_NS} namespaces with restricted / baseline / "
        "privileged / no pod-security label, one file per object.  `checkov` = `checkov -d DIR "
        "--framework kubernetes --quiet --compact -o json --skip-download`.",
        "",
        *table(res.sec_rows),
        "",
        *fork_notes(res.sec_rows),
        NOTES_SECURITY,
        "",
    ]
    if res.sec_cmp:
        body += security_answers(res.sec_cmp) + analogue_lines(*res.sec_cmp[-1]) + [""]
    return body


def security_answers(sec_cmp: list[tuple[int, dict]]) -> list[str]:
    """The table of both tools' finding counts per size."""
    body = [
        "Answers (checkov's counts are failed/passed check results over its resources; kubematrix's "
        "are findings over workloads):",
        "",
        "| size | checkov resources | checkov failed (distinct checks) | checkov passed "
        "| kubematrix workloads | kubematrix findings (distinct rules) |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for n, c in sec_cmp:
        body.append(
            f"| {n} | {c['checkov_resources']} | {c['checkov_failed']} ({c['checkov_check_ids']}) | "
            f"{c['checkov_passed']} | {c['km_workloads']} | {c['km_findings']} ({c['km_rule_ids']}) |"
        )
    return body


def analogue_lines(n: int, c: dict) -> list[str]:
    """Control by control, the workloads each tool flags at size n (the largest compared),
    and the ones flagged by one tool only with their known causes."""
    body = [
        "",
        f"Workloads flagged for analogous controls at size {n}, counted only in namespaces whose "
        "Pod Security level includes the control (checkov applies its checks everywhere):",
        "",
        "| control | checkov | kubematrix | levels | workloads in scope | both | only checkov | only kubematrix |",
        "|---|---|---|---|---:|---:|---:|---:|",
    ]
    for r in c["analogues"]:
        body.append(
            f"| {r['control']} | {r['checkov']} | {r['kubematrix']} | {r['levels']} | {r['scope']} | "
            f"{r['both']} | {r['only_checkov']} | {r['only_kubematrix']} |"
        )
    mismatches = [f"- {r['control']}: {', '.join(r['examples'])}" for r in c["analogues"] if r["examples"]]
    if mismatches:
        body += [
            "",
            "Workloads flagged by one tool only (first few per control):",
            "",
            *mismatches,
            "",
            "Known causes, checked by hand against checkov 3.3.30's source and the Pod Security "
            "Standards: CKV_K8S_31 reads only the pod-level `seccompProfile` of a CronJob's pod "
            "template, so a CronJob whose every container sets `RuntimeDefault` fails it (PSS "
            "restricted accepts it); CKV_K8S_23 accepts a container with `runAsUser: 1337` and no "
            "`runAsNonRoot` (it is not root), PSS restricted requires `runAsNonRoot: true` on the pod "
            "or on every container and admission rejects such a pod.",
        ]
    return body


def write_report(plan: Plan, now: _dt.datetime, text: str, res: Results, elapsed: float) -> None:
    """``peers-<date>.md`` (the printed report) and its JSON twin with every repetition."""
    args = plan.args
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"peers-{now:%Y-%m-%d}"
    stem.with_suffix(".md").write_text(text, encoding="utf-8")
    raw = {
        "netpol_sizes": plan.netpol_sizes,
        "security_sizes": plan.security_sizes,
        "repeat": args.repeat,
        "seed": args.seed,
        "runs": res.runs,
        "elapsed_s": elapsed,
    }
    stem.with_suffix(".json").write_text(json.dumps(raw, indent=1) + "\n", encoding="utf-8")
    _log(f"written: {stem.with_suffix('.md')} and .json ({elapsed:.0f} s)")


def main(argv: list[str] | None = None) -> int:
    """Run the comparisons, print the markdown report and write it (with its JSON twin).
    Exit status 1 if a tool failed."""
    plan = make_plan(parse_args(argv))
    started = time.perf_counter()
    now = _dt.datetime.now()
    header = report_header(plan, now)
    res = run_comparisons(plan)
    elapsed = time.perf_counter() - started
    body = netpol_section(res) + security_section(res)
    body.append(f"Total run time of this comparison: {elapsed:.0f} s.")
    text = "\n".join(header + body) + "\n"
    print(text)
    write_report(plan, now, text, res, elapsed)
    failed = [t for _, km_t, p in res.net_rows + res.sec_rows for t in (km_t, p) if t.error]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
