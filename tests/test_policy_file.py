"""The policy file: discovery, validation messages with file:line:path, typed content."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

import pytest
from conftest import scan_path

from scanner.policy import PolicyError, load_policy

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "fixtures" / "blog-system" / "kubematrix.yaml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "kubematrix.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_example_policy_loads_with_defaults_merged():
    policy = load_policy(EXAMPLE, REPO)
    web = policy.security.workloads["blog-system/web"]
    assert web.expectation.allow_privilege_escalation is False  # from defaults
    assert web.expectation.capabilities_add == ("NET_BIND_SERVICE",)  # own value wins
    assert web.exceptions[0].rules == ("SEC001", "PSS-runAsNonRoot")
    assert "nginx" in web.exceptions[0].reason
    backup = policy.security.workloads["blog-system/mysql-backup"]
    assert backup.expectation.run_as_non_root is None  # '-' row: no promises
    assert policy.security.workloads["blog-system/was"].expectation.run_as_user == 1000
    assert policy.path == "fixtures/blog-system/kubematrix.yaml"


POD = """apiVersion: v1
kind: Pod
metadata: {name: api, namespace: shop}
spec:
  containers: [{name: app, image: example/api:1.0}]
"""
GHOST_ROW = "apiVersion: kubematrix.dev/v1alpha1\nkind: Policy\nsecurityContext:\n  workloads:\n    shop/ghost: {}\n"


def repo(tmp_path: Path, policies: dict[str, str], pods: tuple[str, ...] = ("k8s/pod.yaml",)) -> Path:
    """A repository (``.git`` at its root) with policy files and pods at the given paths."""
    (tmp_path / ".git").mkdir(parents=True)
    for rel, text in policies.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text, encoding="utf-8")
    for rel in pods:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(POD, encoding="utf-8")
    return tmp_path


def test_a_policy_in_a_subdirectory_governs_it_when_the_root_is_scanned(tmp_path):
    """`scan .` (the pre-commit hook's default) on a repository whose policy lives at
    k8s/kubematrix.yaml applies it to k8s/ — and says so."""
    root = repo(tmp_path, {"k8s/kubematrix.yaml": GHOST_ROW}, ("k8s/pod.yaml", "other/pod.yaml"))
    result = scan_path(root)
    assert [(f.rule_id, f.loc.path) for f in result.active() if f.rule_id == "SEC007"] == [
        ("SEC007", "k8s/kubematrix.yaml")
    ]
    assert [(s.policy_path, s.directory, s.files) for s in result.scopes] == [
        ("k8s/kubematrix.yaml", "k8s/", 2),
        (None, "", 1),
    ]


def test_the_nearest_policy_above_a_scanned_directory_governs_it(tmp_path):
    root = repo(tmp_path, {"k8s/kubematrix.yaml": GHOST_ROW}, ("k8s/apps/pod.yaml",))
    result = scan_path(root / "k8s" / "apps", cwd=root)
    assert [s.policy_path for s in result.scopes] == ["k8s/kubematrix.yaml"]
    assert [f.rule_id for f in result.active() if f.rule_id == "SEC007"] == ["SEC007"]


def test_the_search_upwards_stops_at_the_repository_root(tmp_path):
    (tmp_path / "kubematrix.yaml").write_text(GHOST_ROW, encoding="utf-8")
    root = repo(tmp_path / "project", {}, ("k8s/pod.yaml",))
    result = scan_path(root / "k8s", cwd=root)
    assert [s.policy_path for s in result.scopes] == [None]


def test_nested_policy_files_are_a_usage_error(tmp_path):
    root = repo(tmp_path, {"kubematrix.yaml": GHOST_ROW, "k8s/kubematrix.yaml": GHOST_ROW})
    with pytest.raises(PolicyError, match=r"policy files kubematrix\.yaml and k8s/kubematrix\.yaml both govern k8s"):
        scan_path(root)


def test_sibling_policy_files_each_govern_their_own_directory(tmp_path):
    root = repo(tmp_path, {"a/kubematrix.yaml": GHOST_ROW, "b/kubematrix.yml": GHOST_ROW}, ("a/pod.yaml", "b/pod.yaml"))
    result = scan_path(root)
    assert [(s.policy_path, s.files) for s in result.scopes] == [("a/kubematrix.yaml", 2), ("b/kubematrix.yml", 2)]
    assert sorted(f.loc.path for f in result.active() if f.rule_id == "SEC007") == [
        "a/kubematrix.yaml",
        "b/kubematrix.yml",
    ]


def test_an_explicit_policy_governs_everything_and_displaced_ones_are_reported(tmp_path):
    root = repo(tmp_path, {"k8s/kubematrix.yaml": GHOST_ROW, "policy.yaml": GHOST_ROW.replace("ghost", "spook")})
    result = scan_path(root, policy=root / "policy.yaml")
    assert [s.policy_path for s in result.scopes] == ["policy.yaml"]
    pol003 = [f for f in result.active() if f.rule_id == "POL003"]
    assert [f.loc.path for f in pol003] == ["k8s/kubematrix.yaml"]
    assert "--policy names another policy file" in pol003[0].message
    assert {f.message.split("'")[1] for f in result.active() if f.rule_id == "SEC007"} == {"shop/spook"}


def test_schema_error_names_file_line_and_path(tmp_path):
    path = write(
        tmp_path,
        "apiVersion: kubematrix.dev/v1alpha1\nkind: Policy\nsecurityContext:\n  workloads:\n"
        '    shop/api:\n      runAsUser: "root"\n',
    )
    with pytest.raises(PolicyError) as err:
        load_policy(path, tmp_path)
    message = str(err.value)
    assert message.startswith("kubematrix.yaml:6:18:")
    assert "securityContext.workloads.shop/api.runAsUser" in message


def test_unknown_field_is_rejected_with_its_line(tmp_path):
    path = write(tmp_path, "apiVersion: kubematrix.dev/v1alpha1\nkind: Policy\ntrafic: {}\n")
    with pytest.raises(PolicyError, match=r"kubematrix.yaml:1:1: .*'trafic' was unexpected"):
        load_policy(path, tmp_path)


def test_yaml_syntax_error_in_policy_is_a_policy_error(tmp_path):
    path = write(tmp_path, "apiVersion: kubematrix.dev/v1alpha1\nkind: [Policy\n")
    with pytest.raises(PolicyError, match=r"kubematrix.yaml:\d+:\d+: invalid policy file: cannot parse YAML"):
        load_policy(path, tmp_path)


def test_two_documents_are_rejected(tmp_path):
    path = write(
        tmp_path,
        "apiVersion: kubematrix.dev/v1alpha1\nkind: Policy\n---\napiVersion: kubematrix.dev/v1alpha1\nkind: Policy\n",
    )
    with pytest.raises(PolicyError, match="exactly one YAML document"):
        load_policy(path, tmp_path)


def finding(rule: str, workload: str = "shop/api", container: str = ""):
    from scanner.findings import Finding
    from scanner.located import Loc

    return Finding(
        rule, "m", Loc("x.yaml", 1, 1), subject=f"Deployment {workload}", workload=workload, container=container
    )


def test_exception_expiry_is_honoured(tmp_path):
    path = write(
        tmp_path,
        "apiVersion: kubematrix.dev/v1alpha1\nkind: Policy\nsecurityContext:\n  workloads:\n    shop/api:\n"
        "      exceptions:\n        - {rules: [SEC001], reason: migrating to non-root, expires: 2026-12-31}\n",
    )
    exception = load_policy(path, tmp_path).security.workloads["shop/api"].exceptions[0]
    assert not exception.lapsed(_dt.date(2026, 12, 31)) and exception.lapsed(_dt.date(2027, 1, 1))
    assert exception.matches(finding("SEC001")) and not exception.matches(finding("SEC002"))


def test_container_scoped_exception(tmp_path):
    path = write(
        tmp_path,
        "apiVersion: kubematrix.dev/v1alpha1\nkind: Policy\nsecurityContext:\n  workloads:\n    shop/api:\n"
        "      exceptions:\n        - {rules: [SEC003], reason: sidecar needs NET_ADMIN, containers: [istio-proxy]}\n",
    )
    exception = load_policy(path, tmp_path).security.workloads["shop/api"].exceptions[0]
    assert exception.matches(finding("SEC003", container="istio-proxy"))
    assert not exception.matches(finding("SEC003", container="app"))
    assert not exception.matches(finding("SEC003", workload="shop/web", container="istio-proxy"))


def test_per_container_expectations_override_workload_ones(tmp_path):
    path = write(
        tmp_path,
        "apiVersion: kubematrix.dev/v1alpha1\nkind: Policy\nsecurityContext:\n  defaults: {runAsNonRoot: true}\n"
        "  workloads:\n    shop/api:\n      runAsUser: 1000\n      containers:\n        migrate: {runAsUser: 2000}\n",
    )
    entry = load_policy(path, tmp_path).security.workloads["shop/api"]
    assert entry.for_container("migrate").run_as_user == 2000
    assert entry.for_container("migrate").run_as_non_root is True
    assert entry.for_container("app").run_as_user == 1000


def test_overlapping_policies_exit_2_with_one_line(tmp_path, capsys, monkeypatch):
    from scanner.cli.app import _run

    root = repo(tmp_path, {"kubematrix.yaml": GHOST_ROW, "k8s/kubematrix.yaml": GHOST_ROW})
    monkeypatch.chdir(root)
    assert _run(["scan", "."], "scan") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("scan: error: k8s/kubematrix.yaml:1:1: policy files kubematrix.yaml")


def test_a_lapsed_exception_is_reported_and_its_findings_count_again(tmp_path):
    policy = """apiVersion: kubematrix.dev/v1alpha1
kind: Policy
securityContext:
  workloads:
    shop/api:
      runAsNonRoot: true
      exceptions:
        - rules: [SEC001]
          reason: "until the image is rebuilt"
          expires: "EXPIRES"
"""
    root = repo(tmp_path, {"k8s/kubematrix.yaml": policy.replace("EXPIRES", "2026-11-25")})
    result = scan_path(root / "k8s", cwd=root)
    assert [f.rule_id for f in result.active() if f.rule_id in ("SEC001", "POL002")] == ["POL002", "SEC001"]
    lapse = next(f for f in result.active() if f.rule_id == "POL002")
    assert "expired on 2026-11-25, 1 day ago" in lapse.message and "until the image is rebuilt" in lapse.message
    (root / "k8s" / "kubematrix.yaml").write_text(policy.replace("EXPIRES", "2026-11-26"), encoding="utf-8")
    still = scan_path(root / "k8s", cwd=root)  # the last day it applies is its expiry date
    assert [f.rule_id for f in still.findings if f.rule_id in ("SEC001", "POL002")] == ["SEC001"]
    assert still.suppressed()[0].suppression.expires.isoformat() == "2026-11-26"
