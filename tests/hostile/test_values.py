"""Wrong types anywhere in a manifest, and invalid values, in a realistic tree.

Wrong types become INPUT002 at the offending value; invalid values are reported
by the rule that owns the field (NET007 for network policies, BAK002 for the
backup schedule, RET001 for lifecycle rules).  In every case the rest of the
scan goes on: the other workloads of the example are still checked."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from .helpers import REPO, deadline, render_all, scan_tree

BLOG = REPO / "fixtures" / "blog-system"

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: shop
  labels: {app: api}
spec:
  selector:
    matchLabels: {app: api}
  template:
    metadata:
      labels: {app: api}
      annotations: {note: x}
    spec:
      hostNetwork: false
      serviceAccountName: api
      securityContext:
        runAsNonRoot: true
        runAsUser: 1000
        seccompProfile: {type: RuntimeDefault}
        sysctls: [{name: net.ipv4.ip_local_port_range, value: "1024 65535"}]
      volumes:
      - name: tmp
        emptyDir: {}
      containers:
      - name: app
        image: example/api:1.0
        env:
        - {name: MODE, value: prod}
        ports:
        - {name: http, containerPort: 8080, protocol: TCP}
        livenessProbe:
          httpGet: {path: /, port: 8080}
        securityContext:
          allowPrivilegeEscalation: false
          capabilities:
            drop: [ALL]
"""

# (id, text to replace, replacement, line of the expected INPUT002: -1 = the first line of the
# replacement, 0 = no particular finding, just no crash and the rest scanned)
WRONG_TYPES = [
    (
        "containers-null",
        "      containers:\n      - name: app",
        "      containers: null\n      xcontainers:\n      - name: app",
        -1,
    ),
    (
        "containers-string",
        "      containers:\n      - name: app",
        "      containers: app\n      xcontainers:\n      - name: app",
        -1,
    ),
    (
        "containers-mapping",
        "      containers:\n      - name: app",
        "      containers: {name: app}\n      xcontainers:\n      - name: app",
        -1,
    ),
    ("container-is-a-string", "      - name: app\n", "      - app\n      - name: app\n", -1),
    (
        "security-context-yes",
        "        securityContext:\n          allowPrivilegeEscalation: false\n          capabilities:\n            drop: [ALL]",
        '        securityContext: "yes"',
        -1,
    ),
    (
        "security-context-list",
        "        securityContext:\n          allowPrivilegeEscalation: false\n          capabilities:\n            drop: [ALL]",
        "        securityContext: [runAsNonRoot]",
        -1,
    ),
    ("capabilities-drop-string", "drop: [ALL]", "drop: ALL", -1),
    ("capabilities-drop-item-mapping", "drop: [ALL]", "drop: [{all: true}]", -1),
    ("allow-privilege-escalation-string", "allowPrivilegeEscalation: false", 'allowPrivilegeEscalation: "false"', -1),
    ("run-as-user-string", "runAsUser: 1000", 'runAsUser: "1000"', -1),
    ("run-as-user-nan", "runAsUser: 1000", "runAsUser: .nan", -1),
    ("run-as-non-root-null", "runAsNonRoot: true", "runAsNonRoot: ~", 0),
    ("seccomp-string", "seccompProfile: {type: RuntimeDefault}", "seccompProfile: RuntimeDefault", -1),
    ("sysctls-mapping", 'sysctls: [{name: net.ipv4.ip_local_port_range, value: "1024 65535"}]', "sysctls: {a: b}", -1),
    (
        "sysctl-item-string",
        'sysctls: [{name: net.ipv4.ip_local_port_range, value: "1024 65535"}]',
        "sysctls: [net.ipv4]",
        -1,
    ),
    ("host-network-yes-string", "hostNetwork: false", 'hostNetwork: "yes"', -1),
    (
        "ports-string",
        "        ports:\n        - {name: http, containerPort: 8080, protocol: TCP}",
        "        ports: 8080",
        -1,
    ),
    ("port-abc", "containerPort: 8080", 'containerPort: "abc"', -1),
    ("port-70000", "containerPort: 8080", "containerPort: 70000", -1),
    ("port-zero", "containerPort: 8080", "containerPort: 0", -1),
    ("protocol-unknown", "protocol: TCP", "protocol: HTTP", -1),
    ("env-string", "        env:\n        - {name: MODE, value: prod}", "        env: MODE=prod", -1),
    ("env-item-without-name", "- {name: MODE, value: prod}", "- {value: prod}", -1),
    ("volumes-mapping", "      volumes:\n      - name: tmp\n        emptyDir: {}", "      volumes: {tmp: {}}", -1),
    ("labels-list", "      labels: {app: api}\n      annotations", "      labels: [app, api]\n      annotations", -1),
    (
        "label-value-mapping",
        "      labels: {app: api}\n      annotations",
        "      labels: {app: {x: y}}\n      annotations",
        -1,
    ),
    ("metadata-list", "  name: api\n  namespace: shop\n  labels: {app: api}\n", "  - api\n", -1),
    ("name-number", "  name: api\n  namespace", "  name: 42\n  namespace", -1),
    ("namespace-list", "  namespace: shop\n", "  namespace: [shop]\n", -1),
    ("spec-string", None, "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api}\nspec: template\n", 4),
    ("spec-number", None, "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api}\nspec: 5\n", 4),
    (
        "template-list",
        None,
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api}\nspec:\n  template: [a]\n",
        5,
    ),
    ("pod-spec-null", None, "apiVersion: v1\nkind: Pod\nmetadata: {name: api}\nspec: null\n", 3),
    ("rollout-spec-number", None, "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: {name: r}\nspec: 5\n", 4),
    (
        "rollout-workloadref-string",
        None,
        "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: {name: r}\nspec: {workloadRef: api}\n",
        4,
    ),
    (
        "service-ports-garbage",
        None,
        "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  selector: [a]\n"
        "  ports: [{port: x}, 7, {port: 80, targetPort: {a: 1}, name: [n]}]\n",
        5,
    ),
    ("namespace-labels-string", None, "apiVersion: v1\nkind: Namespace\nmetadata: {name: ns, labels: enforce}\n", 3),
    ("items-string", None, "apiVersion: v1\nkind: List\nitems: pods\n", 3),
    ("kind-number", None, "apiVersion: v1\nkind: 7\nmetadata: {name: x}\n", 2),
    ("api-version-list", None, "apiVersion: [v1]\nkind: Pod\nmetadata: {name: x}\n", 1),
    (
        "mixed-type-keys",
        None,
        "apiVersion: v1\nkind: Pod\nmetadata: {name: x, 1: a, true: b, null: c}\n"
        "spec:\n  containers: [{name: a, image: b, 7: x}]\n  volumes: [{name: v, 1: x, emptyDir: {}}]\n",
        0,
    ),
]


@pytest.mark.parametrize("case_id, old, new, line", WRONG_TYPES, ids=[c[0] for c in WRONG_TYPES])
def test_wrong_types_anywhere_become_input002_at_the_value(tmp_path, case_id, old, new, line):
    if old is None:
        text = new
    else:
        assert old in DEPLOYMENT, case_id
        text = DEPLOYMENT.replace(old, new, 1)
        if line == -1:  # the wrong value is on the first line of the replacement
            line = text[: text.index(new)].count("\n") + 1
    (tmp_path / "m.yaml").write_text(text, encoding="utf-8")
    (tmp_path / "ok.yaml").write_text(
        DEPLOYMENT.replace("name: api\n  namespace", "name: ok\n  namespace", 1), encoding="utf-8"
    )
    with deadline(30):
        result = scan_tree(tmp_path)
        render_all(result)
    assert "shop/ok" in _workload_refs(tmp_path), "the good workload beside the broken one is still checked"
    if line:
        got = [(f.rule_id, f.loc.line) for f in result.findings if f.loc.path == "m.yaml" and f.rule_id == "INPUT002"]
        assert ("INPUT002", line) in got, [
            f"{f.loc} {f.rule_id} {f.message}" for f in result.findings if f.loc.path == "m.yaml"
        ]
    for f in result.findings:
        assert f.loc.line >= 1


def _workload_refs(root: Path) -> set[str]:
    from scanner.loader.documents import load
    from scanner.model.build import build_model

    return {w.ref for w in build_model(load([root], root).objects).workloads}


def _blog_copy(tmp_path: Path) -> Path:
    root = tmp_path / "blog"
    shutil.copytree(BLOG, root, symlinks=True)
    return root


NETPOL = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: broken
  namespace: blog-system
spec:
  podSelector:
    matchExpressions:
    - {key: app, operator: OP, values: [web]}
  policyTypes: [Ingress]
  ingress:
  - from:
    - ipBlock: {cidr: CIDR}
    ports:
    - {port: PORT, endPort: END, protocol: PROTO}
"""
GOOD_NP = dict(OP="In", CIDR="10.0.0.0/8", PORT="80", END="90", PROTO="TCP")

# (id, file, old, new, rule expected, line)
INVALID_VALUES = [
    ("np-port-abc", "np", {"PORT": '"abc"'}, "NET007", 15),
    ("np-port-70000", "np", {"PORT": "70000", "END": "70001"}, "NET007", 15),
    ("np-unknown-protocol", "np", {"PROTO": "ICMP"}, "NET007", 15),
    ("np-endport-below-port", "np", {"END": "70"}, "NET007", 15),
    ("np-cidr-out-of-range", "np", {"CIDR": "300.1.1.1/33"}, "NET007", 13),
    ("np-selector-operator-bogus", "np", {"OP": "Bogus"}, "NET007", 0),
    (
        "cnp-unknown-entity",
        "blog-system/cilium-netpol.yaml",
        ("  - fromEntities:\n    - all\n", "  - fromEntities:\n    - martians\n"),
        "NET007",
        151,
    ),
    ("cron-minute-61", "blog-system/mysql-backup-cronjob.yaml", ('"0 18 * * *"', '"61 * * * *"'), "BAK002", 19),
    (
        "time-zone-mars",
        "blog-system/mysql-backup-cronjob.yaml",
        ('schedule: "0 18 * * *"', 'schedule: "0 18 * * *"\n  timeZone: Mars/Olympus'),
        "BAK002",
        20,
    ),
    ("lifecycle-days-seven", "infra/s3/mysql-backup-lifecycle.json", ('"Days": 7', '"Days": "seven"'), "RET001", 10),
]


@pytest.mark.parametrize("case_id, target, change, rule, line", INVALID_VALUES, ids=[c[0] for c in INVALID_VALUES])
def test_invalid_values_are_reported_by_their_rule_and_the_scan_goes_on(tmp_path, case_id, target, change, rule, line):
    root = _blog_copy(tmp_path)
    if target == "np":
        text = NETPOL
        for key, value in {**GOOD_NP, **change}.items():
            text = text.replace(key, value)
        target = "blog-system/broken-netpol.yaml"
        (root / target).write_text(text, encoding="utf-8")
    else:
        path = root / target
        old, new = change
        original = path.read_text(encoding="utf-8")
        assert old in original, f"the example no longer contains {old!r}: update this mutation"
        path.write_text(original.replace(old, new, 1), encoding="utf-8")
    from conftest import scan_path

    with deadline(60):
        result = scan_path(root, cwd=root)
        render_all(result)
    assert result.workload_count == 5, "the other workloads of the example are still checked"
    mine = [(f.rule_id, f.loc.line) for f in result.active() if f.loc.path == target]
    assert rule in {r for r, _ in mine}, mine
    if line:
        assert (rule, line) in mine, mine


@pytest.mark.parametrize("value", ["true", "7"])
def test_network_policy_ipblock_except_of_the_wrong_type(tmp_path, value):
    text = NETPOL
    for key, good in GOOD_NP.items():
        text = text.replace(key, good)
    text = text.replace("ipBlock: {cidr: 10.0.0.0/8}", f"ipBlock: {{cidr: 10.0.0.0/8, except: {value}}}")
    (tmp_path / "np.yaml").write_text(text, encoding="utf-8")
    result = scan_tree(tmp_path)
    assert [(f.rule_id, f.loc.line) for f in result.findings if f.rule_id == "NET007"] == [("NET007", 13)]
