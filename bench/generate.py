"""Generate a synthetic cluster: N workloads and about N network policies.

Shape (deterministic for a given seed):

* ``N // 25`` namespaces (labels ``team``, ``env``), 25 Deployments each with labels
  ``app``, ``tier`` (web/api/db/worker/cache) and a named container port;
* one CiliumNetworkPolicy per workload: ingress from 2 apps of the same namespace on
  its port, from Prometheus in ``monitoring`` on 9090, egress to 2 apps (one may be in
  another namespace, selected by namespace label), DNS to kube-dns with a DNS rule,
  and every 10th workload an FQDN egress rule;
* every 7th policy is a Kubernetes NetworkPolicy instead (podSelector +
  namespaceSelector peers, ports by name and number);
* every 50th workload also gets an ``egressDeny`` to world on port 25;
* 3 CiliumClusterwideNetworkPolicies (DNS allow-all to kube-dns, deny to a
  metadata CIDR, ingress from a monitoring namespace).

Usage: python bench/generate.py N OUTDIR
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import yaml

TIERS = ("web", "api", "db", "worker", "cache")
PORTS = {"web": 8080, "api": 9000, "db": 5432, "worker": 7000, "cache": 6379}
PER_NS = 25


def generate(n: int, seed: int = 7) -> list[dict]:
    rnd = random.Random(seed)
    docs: list[dict] = []
    n_ns = max(1, n // PER_NS)
    namespaces = [f"ns{i:03d}" for i in range(n_ns)]
    for i, ns in enumerate(namespaces):
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": ns, "labels": {"team": f"team{i % 7}", "env": "prod" if i % 2 else "dev"}},
            }
        )
    docs.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "monitoring"}})
    apps: list[tuple[str, str, str]] = []  # (namespace, app, tier)
    for k in range(n):
        ns = namespaces[k % n_ns]
        tier = TIERS[k % len(TIERS)]
        app = f"app{k:05d}"
        apps.append((ns, app, tier))
        docs.append(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": app, "namespace": ns},
                "spec": {
                    "selector": {"matchLabels": {"app": app}},
                    "template": {
                        "metadata": {"labels": {"app": app, "tier": tier, "pod-template-hash": f"h{k}"}},
                        "spec": {
                            "containers": [
                                {
                                    "name": "main",
                                    "image": "example/app:1",
                                    "ports": [{"name": "http", "containerPort": PORTS[tier]}],
                                }
                            ]
                        },
                    },
                },
            }
        )
    by_ns: dict[str, list[tuple[str, str, str]]] = {}
    for a in apps:
        by_ns.setdefault(a[0], []).append(a)
    for k, (ns, app, _tier) in enumerate(apps):
        peers = [p for p in by_ns[ns] if p[1] != app]
        sources = rnd.sample(peers, min(2, len(peers)))
        targets = rnd.sample(peers, min(1, len(peers)))
        other_ns = namespaces[(k * 7 + 3) % n_ns]
        far = rnd.choice(by_ns[other_ns])
        if k % 7 == 6:
            docs.append(
                {
                    "apiVersion": "networking.k8s.io/v1",
                    "kind": "NetworkPolicy",
                    "metadata": {"name": f"{app}-netpol", "namespace": ns},
                    "spec": {
                        "podSelector": {"matchLabels": {"app": app}},
                        "policyTypes": ["Ingress", "Egress"],
                        "ingress": [
                            {
                                "from": [{"podSelector": {"matchLabels": {"app": s[1]}}} for s in sources],
                                "ports": [{"port": "http"}],
                            },
                            {
                                "from": [
                                    {
                                        "namespaceSelector": {
                                            "matchLabels": {"kubernetes.io/metadata.name": "monitoring"}
                                        },
                                        "podSelector": {"matchLabels": {"app": "prometheus"}},
                                    }
                                ],
                                "ports": [{"port": 9090}],
                            },
                        ],
                        "egress": [
                            {
                                "to": [{"podSelector": {"matchLabels": {"app": t[1]}}} for t in targets],
                                "ports": [{"port": PORTS[t[2]]} for t in targets],
                            },
                            {
                                "to": [
                                    {
                                        "namespaceSelector": {"matchLabels": {"team": f"team{(k % n_ns) % 7}"}},
                                        "podSelector": {"matchLabels": {"tier": far[2]}},
                                    }
                                ]
                            },
                            {
                                "to": [
                                    {
                                        "namespaceSelector": {
                                            "matchLabels": {"kubernetes.io/metadata.name": "kube-system"}
                                        },
                                        "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                                    }
                                ],
                                "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}],
                            },
                        ],
                    },
                }
            )
            continue
        spec: dict = {
            "endpointSelector": {"matchLabels": {"app": app}},
            "ingress": [
                {
                    "fromEndpoints": [{"matchLabels": {"app": s[1]}} for s in sources],
                    "toPorts": [{"ports": [{"port": "http", "protocol": "TCP"}]}],
                },
                {
                    "fromEndpoints": [
                        {"matchLabels": {"k8s:io.kubernetes.pod.namespace": "monitoring", "app": "prometheus"}}
                    ],
                    "toPorts": [{"ports": [{"port": "9090", "protocol": "TCP"}]}],
                },
            ],
            "egress": [
                {
                    "toEndpoints": [{"matchLabels": {"app": t[1]}} for t in targets],
                    "toPorts": [{"ports": [{"port": str(PORTS[t[2]]), "protocol": "TCP"}]} for t in targets],
                },
                {
                    "toEndpoints": [{"matchLabels": {"k8s:io.kubernetes.pod.namespace": far[0], "app": far[1]}}],
                    "toPorts": [
                        {
                            "ports": [{"port": str(PORTS[far[2]]), "protocol": "TCP"}],
                            "rules": {"http": [{"method": "GET", "path": "/api/.*"}]},
                        }
                    ],
                },
                {
                    "toEndpoints": [
                        {"matchLabels": {"k8s:io.kubernetes.pod.namespace": "kube-system", "k8s-app": "kube-dns"}}
                    ],
                    "toPorts": [
                        {
                            "ports": [{"port": "53", "protocol": "UDP"}, {"port": "53", "protocol": "TCP"}],
                            "rules": {"dns": [{"matchPattern": "*"}]},
                        }
                    ],
                },
            ],
        }
        if k % 10 == 0:
            spec["egress"].append(
                {
                    "toFQDNs": [{"matchName": f"api{k % 13}.example.com"}],
                    "toPorts": [{"ports": [{"port": "443", "protocol": "TCP"}]}],
                }
            )
        if k % 50 == 0:
            spec["egressDeny"] = [
                {"toEntities": ["world"], "toPorts": [{"ports": [{"port": "25", "protocol": "TCP"}]}]}
            ]
        docs.append(
            {
                "apiVersion": "cilium.io/v2",
                "kind": "CiliumNetworkPolicy",
                "metadata": {"name": f"{app}-isolation", "namespace": ns},
                "spec": spec,
            }
        )
    docs += [
        {
            "apiVersion": "cilium.io/v2",
            "kind": "CiliumClusterwideNetworkPolicy",
            "metadata": {"name": "dns"},
            "spec": {
                "endpointSelector": {
                    "matchLabels": {"k8s:io.kubernetes.pod.namespace": "kube-system", "k8s-app": "kube-dns"}
                },
                "ingress": [{"fromEndpoints": [{}], "toPorts": [{"ports": [{"port": "53", "protocol": "ANY"}]}]}],
            },
        },
        {
            "apiVersion": "cilium.io/v2",
            "kind": "CiliumClusterwideNetworkPolicy",
            "metadata": {"name": "no-metadata"},
            "spec": {
                "endpointSelector": {},
                "egressDeny": [{"toCIDR": ["169.254.169.254/32"]}],
                "egress": [{"toEntities": ["all"]}],
                "enableDefaultDeny": {"egress": False},
            },
        },
        {
            "apiVersion": "cilium.io/v2",
            "kind": "CiliumClusterwideNetworkPolicy",
            "metadata": {"name": "scrape"},
            "spec": {
                "endpointSelector": {"matchLabels": {"tier": "db"}},
                "ingress": [
                    {
                        "fromEndpoints": [{"matchLabels": {"io.kubernetes.pod.namespace": "monitoring"}}],
                        "toPorts": [{"ports": [{"port": "9187", "protocol": "TCP"}]}],
                    }
                ],
            },
        },
    ]
    return docs


def write(n: int, out: Path, seed: int = 7) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    docs = generate(n, seed)
    # A few files, like a real repository.
    chunk = max(1, len(docs) // 20)
    for i in range(0, len(docs), chunk):
        (out / f"part{i // chunk:03d}.yaml").write_text(
            yaml.safe_dump_all(docs[i : i + chunk], sort_keys=False), encoding="utf-8"
        )
    (out / "kubematrix.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "kubematrix.dev/v1alpha1",
                "kind": "Policy",
                "traffic": {
                    "actors": [{"name": "prometheus", "namespace": "monitoring", "labels": {"app": "prometheus"}}]
                },
            }
        ),
        encoding="utf-8",
    )
    return out


if __name__ == "__main__":
    write(int(sys.argv[1]), Path(sys.argv[2]))
