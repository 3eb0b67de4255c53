"""The policy file: discovery, validation messages with file:line:path, typed content."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

import pytest

from scanner.policy import PolicyError, discover_policy, load_policy

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


def test_discovery_finds_kubematrix_yaml_in_scanned_root(tmp_path):
    assert discover_policy([tmp_path]) is None
    path = write(tmp_path, "apiVersion: kubematrix.dev/v1alpha1\nkind: Policy\n")
    assert discover_policy([tmp_path]) == path


def test_schema_error_names_file_line_and_path(tmp_path):
    path = write(
        tmp_path,
        "apiVersion: kubematrix.dev/v1alpha1\nkind: Policy\nsecurityContext:\n  workloads:\n"
        "    shop/api:\n      runAsUser: \"root\"\n",
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
    path = write(tmp_path, "apiVersion: kubematrix.dev/v1alpha1\nkind: Policy\n---\napiVersion: kubematrix.dev/v1alpha1\nkind: Policy\n")
    with pytest.raises(PolicyError, match="exactly one YAML document"):
        load_policy(path, tmp_path)


def test_exception_expiry_is_honoured(tmp_path):
    path = write(
        tmp_path,
        "apiVersion: kubematrix.dev/v1alpha1\nkind: Policy\nsecurityContext:\n  workloads:\n    shop/api:\n"
        "      exceptions:\n        - {rules: [SEC001], reason: migrating to non-root, expires: 2026-12-31}\n",
    )
    exception = load_policy(path, tmp_path).security.workloads["shop/api"].exceptions[0]
    assert exception.covers("SEC001", None, _dt.date(2026, 12, 31))
    assert not exception.covers("SEC001", None, _dt.date(2027, 1, 1))
    assert not exception.covers("SEC002", None, _dt.date(2026, 1, 1))


def test_container_scoped_exception(tmp_path):
    path = write(
        tmp_path,
        "apiVersion: kubematrix.dev/v1alpha1\nkind: Policy\nsecurityContext:\n  workloads:\n    shop/api:\n"
        "      exceptions:\n        - {rules: [SEC003], reason: sidecar needs NET_ADMIN, containers: [istio-proxy]}\n",
    )
    exception = load_policy(path, tmp_path).security.workloads["shop/api"].exceptions[0]
    today = _dt.date(2026, 1, 1)
    assert exception.covers("SEC003", "istio-proxy", today)
    assert not exception.covers("SEC003", "app", today)


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
