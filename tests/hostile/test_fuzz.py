"""Fuzzing with a fixed budget (reproducible in CI: derandomized).

Properties:

* any text or bytes, as any file name, loads without an exception, and every
  finding has a file, line and column;
* any YAML document reads exactly as ``yaml.safe_load`` reads it (the composer
  is a reimplementation, so this is the property that matters);
* any (often wrong) manifest, and any (often wrong) policy, gives findings or
  our own error (``PolicyError``), never another exception, and every report
  format renders; each example stays within a time bound.

``KUBEMATRIX_FUZZ_EXAMPLES`` scales the budget (e.g. 5000 for a long local run).
"""

from __future__ import annotations

import copy
import datetime as _dt
import math
import os
import tempfile
import time
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scanner.loader.documents import load
from scanner.loader.yamltext import parse_yaml_text
from scanner.policy import PolicyError, load_policy

from .helpers import REPO, render_all, scan_tree

EXAMPLES = int(os.environ.get("KUBEMATRIX_FUZZ_EXAMPLES", "0")) or None
SECONDS_PER_EXAMPLE = 10.0


def budget(n: int):
    return settings(
        max_examples=EXAMPLES or n,
        deadline=None,  # time is asserted explicitly, with a generous bound, to stay robust on slow CI
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        database=None,
    )


# ----------------------------------------------------------------------------- raw text and bytes

YAML_ALPHABET = st.sampled_from(list(":-[]{},&*!|>'\"#%@?`\t\n\r ~=<.0123456789abcxyzTRUEnul\\\ufeff\x00\x85é"))
yamlish_text = st.text(YAML_ALPHABET, max_size=200)
names = st.sampled_from(["m.yaml", "m.yml", "m.json", "values.yaml", "kustomization.yaml", "Chart.yaml"])


@budget(300)
@given(content=st.one_of(yamlish_text, st.text(max_size=200), st.binary(max_size=200)), name=names)
def test_any_text_or_bytes_loads_without_an_exception(content, name):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        path = root / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8", errors="surrogatepass")
        started = time.monotonic()
        result = load([root], root)
        assert time.monotonic() - started < SECONDS_PER_EXAMPLE
        for problem in result.problems:
            assert problem.loc.path == name and problem.loc.line >= 1 and problem.loc.col >= 1
            assert problem.rule_id in ("INPUT001", "INPUT002", "INPUT003", "INPUT004")


# ----------------------------------------------------------------------------- parity with yaml.safe_load

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False),
    st.text(max_size=30),
    st.sampled_from(
        [
            "yes",
            "no",
            "on",
            "off",
            "~",
            "null",
            "0x1F",
            "010",
            "1_000",
            "1:30",
            ".inf",
            "<<",
            "=",
            "- x",
            "a: b",
            "{{ x }}",
            "*a",
            "&a",
            "!x",
            "#",
            "2024-01-31",
            "1e3",
            "1.5e+3",
            "'",
            '"',
            "\t",
            "\u2028",
        ]
    ),
)
keys = st.one_of(st.text(max_size=12), st.integers(-5, 5), st.booleans(), st.none())
documents = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=5), st.dictionaries(keys, children, max_size=5)),
    max_leaves=40,
)


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


@budget(300)
@given(doc=documents, flow=st.sampled_from([None, True, False]), share=st.booleans())
def test_any_yaml_document_reads_exactly_as_safe_load_reads_it(doc, flow, share):
    if share and isinstance(doc, dict) and doc:
        first = next(iter(doc.values()))
        doc = {**doc, "__shared__": first}  # the dumper writes an anchor and an alias
    text = yaml.safe_dump(doc, default_flow_style=flow, sort_keys=False, allow_unicode=True)
    expected = list(yaml.safe_load_all(text))
    result = parse_yaml_text(text, "m.yaml")
    assert [p for p in result.problems if p.rule_id != "INPUT003"] == []
    assert len(result.documents) == len(expected)
    for got, want in zip(result.documents, expected, strict=True):
        assert _same(_plain(got.data), want), (text, _plain(got.data), want)


# ----------------------------------------------------------------------------- wrong manifests

WORKLOAD = yaml.safe_load(
    """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: shop
  labels: {app: api}
  annotations: {note: x}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      hostNetwork: false
      serviceAccountName: api
      securityContext: {runAsNonRoot: true, runAsUser: 1000, fsGroup: 2000, seccompProfile: {type: RuntimeDefault},
                        sysctls: [{name: kernel.shm_rmid_forced, value: "1"}], seLinuxOptions: {type: spc_t}}
      volumes: [{name: tmp, emptyDir: {}}, {name: host, hostPath: {path: /var/run}}]
      initContainers: [{name: init, image: busybox}]
      containers:
      - name: app
        image: example/api:1.0
        command: [sh, -c, run]
        env: [{name: MODE, value: prod}, {name: DB_PASSWORD, valueFrom: {secretKeyRef: {name: db, key: password}}}]
        ports: [{name: http, containerPort: 8080, protocol: TCP, hostPort: 8080}]
        livenessProbe: {httpGet: {path: /, port: 8080, host: 10.0.0.1}}
        lifecycle: {preStop: {tcpSocket: {port: 80, host: x}}}
        securityContext: {allowPrivilegeEscalation: false, privileged: false, readOnlyRootFilesystem: true,
                          capabilities: {drop: [ALL], add: [NET_BIND_SERVICE]}, procMount: Default,
                          appArmorProfile: {type: RuntimeDefault}, windowsOptions: {hostProcess: false}}
"""
)
OTHER_OBJECTS = yaml.safe_load_all(
    """
apiVersion: v1
kind: Service
metadata: {name: api, namespace: shop}
spec: {selector: {app: api}, ports: [{name: http, port: 80, targetPort: http, protocol: TCP}]}
---
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {pod-security.kubernetes.io/enforce: restricted}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: np, namespace: shop}
spec:
  podSelector: {matchExpressions: [{key: app, operator: In, values: [api]}]}
  policyTypes: [Ingress, Egress]
  ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}}, {namespaceSelector: {}}], ports: [{port: 80, endPort: 90}]}]
  egress: [{to: [{podSelector: {matchLabels: {app: db}}}], ports: [{port: http, protocol: TCP}]}]
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: cnp, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: api}}
  ingress: [{fromEndpoints: [{matchLabels: {app: web}}], toPorts: [{ports: [{port: "80", protocol: TCP}], rules: {http: [{method: GET}]}}]}]
  egress: [{toEntities: [world], toFQDNs: [{matchName: example.com}]}, {toCIDRSet: [{cidr: 0.0.0.0/0, except: [10.0.0.0/8]}]}]
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: backup, namespace: shop}
spec:
  schedule: "0 18 * * *"
  timeZone: Asia/Seoul
  jobTemplate: {spec: {template: {spec: {containers: [{name: b, image: x}], restartPolicy: OnFailure}}}}
---
apiVersion: v1
kind: Secret
metadata: {name: db, namespace: shop}
stringData: {password: hunter2}
"""
)
BASE_OBJECTS = [WORKLOAD, *OTHER_OBJECTS]

wrong_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(),
    st.text(max_size=20),
    st.sampled_from(
        ["yes", "abc", "70000", "-1", "300.1.1.1/33", "Bogus", "61 * * * *", "Mars/Olympus", "ALL", "*", ""]
    ),
    st.lists(st.one_of(st.none(), st.integers(), st.text(max_size=5)), max_size=3),
    st.dictionaries(
        st.one_of(st.text(max_size=5), st.integers(0, 3)), st.one_of(st.none(), st.text(max_size=5)), max_size=3
    ),
)


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, prefix + (i,))


def _mutate(data, draw, rounds: int):
    data = copy.deepcopy(data)
    for _ in range(rounds):
        paths = [p for p in _paths(data) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = data
        for part in path[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
        if action == "replace":
            parent[path[-1]] = draw(wrong_values)
        elif action == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(max_size=8))] = draw(wrong_values)
        else:
            parent.append(draw(wrong_values))
    return data


def _dump(value) -> str:
    return yaml.safe_dump(value, sort_keys=False, allow_unicode=True)


@budget(200)
@given(data=st.data())
def test_any_wrong_manifest_gives_findings_never_an_exception(data):
    objects = []
    for obj in BASE_OBJECTS:
        if data.draw(st.booleans(), label="keep"):
            objects.append(_mutate(obj, data.draw, data.draw(st.integers(0, 4), label="rounds")))
    if data.draw(st.booleans(), label="as a List"):
        docs = [{"apiVersion": "v1", "kind": "List", "items": objects}]
    else:
        docs = objects
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "m.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False, allow_unicode=True), encoding="utf-8")
        started = time.monotonic()
        result = scan_tree(root)
        render_all(result)
        assert time.monotonic() - started < SECONDS_PER_EXAMPLE
        for finding in result.findings:
            assert finding.loc.line >= 1 and finding.rule_id in result.rules


# ----------------------------------------------------------------------------- wrong policies

BLOG = REPO / "fixtures" / "blog-system"
POLICY = yaml.safe_load((BLOG / "kubematrix.yaml").read_text(encoding="utf-8"))


@budget(150)
@given(data=st.data())
def test_any_wrong_policy_gives_policy_error_or_a_scan_never_another_exception(data):
    policy = _mutate(POLICY, data.draw, data.draw(st.integers(1, 4), label="rounds"))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        path = root / "kubematrix.yaml"
        path.write_text(_dump(policy), encoding="utf-8")
        try:
            loaded = load_policy(path, root)
        except PolicyError as exc:
            assert str(exc).startswith("kubematrix.yaml:"), "a policy error names the file and line"
            return
        from scanner.scan import ScanOptions, run_scan

        started = time.monotonic()
        result = run_scan(ScanOptions(paths=(BLOG,), policy=loaded, cwd=REPO, today=_dt.date(2026, 11, 26)))
        render_all(result, REPO)
        assert time.monotonic() - started < SECONDS_PER_EXAMPLE
