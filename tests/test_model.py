"""The typed model: every workload kind, namespaces, effective security settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner.loader.documents import load
from scanner.model.build import build_model, effective

POD_SPEC = """
      serviceAccountName: runner
      securityContext: {runAsNonRoot: true, runAsUser: 1000}
      initContainers:
      - name: init
        image: busybox
      containers:
      - name: app
        image: app:1
        ports: [{name: http, containerPort: 8080}, {name: dns, containerPort: 53, protocol: UDP}]
        securityContext: {runAsUser: 2000, allowPrivilegeEscalation: false}
      ephemeralContainers:
      - name: debug
        image: busybox
"""

TEMPLATE = "  template:\n    metadata:\n      labels: {app: x}\n    spec:" + POD_SPEC.replace("\n      ", "\n      ")

KINDS = {
    "Deployment": ("apps/v1", "spec:\n  selector: {matchLabels: {app: x}}\n" + TEMPLATE),
    "StatefulSet": ("apps/v1", "spec:\n  serviceName: x\n  selector: {matchLabels: {app: x}}\n" + TEMPLATE),
    "DaemonSet": ("apps/v1", "spec:\n  selector: {matchLabels: {app: x}}\n" + TEMPLATE),
    "ReplicaSet": ("apps/v1", "spec:\n  selector: {matchLabels: {app: x}}\n" + TEMPLATE),
    "ReplicationController": ("v1", "spec:\n  selector: {app: x}\n" + TEMPLATE),
    "Job": ("batch/v1", "spec:\n" + TEMPLATE),
    "Rollout": ("argoproj.io/v1alpha1", "spec:\n  selector: {matchLabels: {app: x}}\n" + TEMPLATE),
    "CronJob": (
        "batch/v1",
        "spec:\n  schedule: '0 0 * * *'\n  jobTemplate:\n    spec:\n"
        + "\n".join("    " + line for line in TEMPLATE.splitlines()),
    ),
}


def load_text(tmp_path: Path, text: str, namespace: str = "default"):
    (tmp_path / "m.yaml").write_text(text, encoding="utf-8")
    inputs = load([tmp_path], tmp_path)
    return inputs, build_model(inputs.objects, namespace)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_workload_kind_yields_its_pod_template(tmp_path, kind):
    api, body = KINDS[kind]
    _, model = load_text(
        tmp_path, f"apiVersion: {api}\nkind: {kind}\nmetadata:\n  name: x\n  namespace: shop\n{body}\n"
    )
    assert [w.ref for w in model.workloads] == ["shop/x"]
    w = model.workloads[0]
    assert w.kind == kind and w.pod_labels == {"app": "x"} and w.service_account == "runner"
    assert [(c.name, c.group) for c in w.containers] == [
        ("init", "initContainers"),
        ("app", "containers"),
        ("debug", "ephemeralContainers"),
    ]
    assert [(p.name, p.number, p.protocol) for p in w.containers[1].ports] == [
        ("http", 8080, "TCP"),
        ("dns", 53, "UDP"),
    ]
    assert w.loc.line == 4  # metadata.name


def test_pod_uses_its_own_metadata_labels(tmp_path):
    _, model = load_text(
        tmp_path,
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels: {app: p}\nspec:\n  containers: [{name: c, image: i}]\n",
    )
    assert model.workloads[0].pod_labels == {"app": "p"} and model.workloads[0].service_account == "default"


def test_container_overrides_pod_and_says_where(tmp_path):
    api, body = KINDS["Deployment"]
    _, model = load_text(tmp_path, f"apiVersion: {api}\nkind: Deployment\nmetadata:\n  name: x\n{body}\n")
    w = model.workloads[0]
    init, app = w.containers[0], w.containers[1]
    user = effective(w, app, "run_as_user", "runAsUser")
    assert (user.value, user.source) == (2000, "container")
    inherited = effective(w, init, "run_as_user", "runAsUser")
    assert (inherited.value, inherited.source) == (1000, "pod")
    assert inherited.loc.line == w.pod_security.where("runAsUser").line
    unset = effective(w, init, "seccomp_type", "seccompProfile.type")
    assert (unset.value, unset.source, unset.loc) == (None, "unset", init.loc)


def test_namespace_defaulting_follows_kubectl_apply_n(tmp_path):
    api, body = KINDS["Deployment"]
    _, model = load_text(
        tmp_path, f"apiVersion: {api}\nkind: Deployment\nmetadata:\n  name: x\n{body}\n", namespace="blog"
    )
    assert model.workloads[0].namespace == "blog"
    assert "blog" in model.namespaces and not model.namespaces["blog"].declared


def test_namespace_objects_keep_labels_and_get_the_name_label(tmp_path):
    _, model = load_text(
        tmp_path,
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  labels: {pod-security.kubernetes.io/enforce: restricted}\n",
    )
    ns = model.namespaces["shop"]
    assert ns.declared and ns.label("pod-security.kubernetes.io/enforce") == "restricted"
    assert ns.label("kubernetes.io/metadata.name") == "shop"


def test_rollout_workload_ref_takes_the_template_of_the_referenced_deployment(tmp_path):
    api, body = KINDS["Deployment"]
    text = (
        f"apiVersion: {api}\nkind: Deployment\nmetadata:\n  name: base\n  namespace: shop\n{body}\n---\n"
        "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata:\n  name: canary\n  namespace: shop\nspec:\n"
        "  workloadRef: {apiVersion: apps/v1, kind: Deployment, name: base}\n"
    )
    _, model = load_text(tmp_path, text)
    assert [(w.kind, w.ref) for w in model.workloads] == [("Rollout", "shop/canary")]
    assert model.workloads[0].pod_labels == {"app": "x"}
    # findings about the template point into the Deployment, where it is written
    assert model.workloads[0].containers[1].loc.path == "m.yaml"


def test_rollout_with_missing_workload_ref_is_reported(tmp_path):
    _inputs, model = load_text(
        tmp_path,
        "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata:\n  name: canary\nspec:\n"
        "  workloadRef: {kind: Deployment, name: gone}\n",
    )
    assert model.workloads == []
    assert [p.rule_id for p in model.problems] == ["INPUT002"] and "gone" in model.problems[0].message


@pytest.mark.parametrize(
    "snippet, path",
    [
        ("containers: null", "containers"),
        ('containers: "app"', "containers"),
        ("containers: [{name: c, securityContext: 'yes'}]", "securityContext"),
        ("containers: [{name: c, ports: [{containerPort: 'abc'}]}]", "containerPort"),
        ("containers: [{name: c, ports: [{containerPort: 70000}]}]", "containerPort"),
    ],
)
def test_wrong_types_become_input002_at_the_value(tmp_path, snippet, path):
    _, model = load_text(tmp_path, f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  {snippet}\n")
    assert model.problems and all(p.rule_id == "INPUT002" for p in model.problems)
    assert any(path in p.message and p.loc.line == 6 for p in model.problems)


def test_services_keep_selector_and_target_ports(tmp_path):
    _, model = load_text(
        tmp_path,
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  selector: {app: web}\n"
        "  ports: [{port: 80, targetPort: http}, {port: 53, protocol: UDP}]\n",
    )
    svc = model.services[0]
    assert svc.selector == {"app": "web"}
    assert [(p.port, p.target, p.protocol) for p in svc.ports] == [(80, "http", "TCP"), (53, 53, "UDP")]


# -- INPUT002 shows harmless values and the real outcome (issue 8) -------------------


def test_wrong_protocol_shows_the_value_and_says_the_api_server_rejects_the_pod(tmp_path):
    (tmp_path / "pod.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: shop}\nspec:\n"
        "  containers:\n  - name: c\n    image: x\n    ports: [{containerPort: 80, protocol: tcp}]\n",
        encoding="utf-8",
    )
    model = build_model(load([tmp_path], tmp_path).objects)
    [problem] = [p for p in model.problems if p.rule_id == "INPUT002"]
    assert "got the string 'tcp' (values are case-sensitive)" in problem.message
    assert "the API server rejects the Pod" in problem.message
    assert "ignored" not in problem.message


def test_wrong_env_value_is_never_shown(tmp_path):
    (tmp_path / "pod.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: shop}\nspec:\n"
        "  containers:\n  - name: c\n    image: x\n    env: [DB_PASSWORD=hunter2secret]\n",
        encoding="utf-8",
    )
    model = build_model(load([tmp_path], tmp_path).objects)
    [problem] = [p for p in model.problems if p.rule_id == "INPUT002"]
    assert "hunter2secret" not in problem.message and "a string (" in problem.message
