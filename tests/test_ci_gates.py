"""CI gates (issue 9 item 4): images by repository, env expressions, the ways a scan is
silenced, and the documented report-only exception."""

from __future__ import annotations

import textwrap

import pytest
from conftest import scan_path

from scanner.checks.ci import repository, repository_of
from scanner.checks.shell import Pattern, Unknown


@pytest.mark.parametrize(
    "reference, repo",
    [
        ("nginx", "docker.io/library/nginx"),
        ("nginx:1.27", "docker.io/library/nginx"),
        ("amazon/aws-cli:2.15.0", "docker.io/amazon/aws-cli"),
        ("docker.io/library/mysql:8.0", "docker.io/library/mysql"),
        ("index.docker.io/library/mysql", "docker.io/library/mysql"),
        ("ghcr.io/example/blog-was:1.0.0", "ghcr.io/example/blog-was"),
        ("localhost:5000/app@sha256:" + "0" * 64, "localhost:5000/app"),
        ("registry:5000/app:1", "registry:5000/app"),
    ],
)
def test_image_repository_follows_docker_reference_rules(reference, repo):
    assert repository(reference) == repo


def test_repository_of_a_partly_unknown_reference():
    assert (
        repository_of(Pattern.of(("ghcr.io/example/blog-was:", Unknown("${{ github.sha }}"))))
        == "ghcr.io/example/blog-was"
    )
    assert repository_of(Pattern.of(("ghcr.io/example/", Unknown("${{ matrix.app }}")))) is None  # not provable


POLICY = """\
apiVersion: kubematrix.dev/v1alpha1
kind: Policy
ciGates:
  - {name: api, workflow: .github/workflows/ci.yml, job: scan, images: [ghcr.io/acme/api], severity: [HIGH]}
"""
DEPLOY = """\
apiVersion: v1
kind: Pod
metadata: {name: api, namespace: shop}
spec:
  containers: [{name: api, image: "ghcr.io/acme/api:2"}]
"""


def _scan_workflow(tmp_path, steps: str, *, env: str = "", policy: str = POLICY):
    (tmp_path / "kubematrix.yaml").write_text(policy)
    (tmp_path / "pod.yaml").write_text(DEPLOY)
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "ci.yml").write_text(
        "on: [push]\n"
        + env
        + "jobs:\n  scan:\n    runs-on: ubuntu-latest\n    steps:\n"
        + textwrap.indent(textwrap.dedent(steps), "    ")
    )
    return [(f.rule_id, f.loc.line, f.message) for f in scan_path(tmp_path).active() if f.rule_id.startswith("CI")]


def test_env_expressions_resolve_through_workflow_and_step_env(tmp_path):
    got = _scan_workflow(
        tmp_path,
        """\
        - uses: aquasecurity/trivy-action@0.28.0
          env: {TAG: latest}
          with: {image-ref: "${{ env.REGISTRY }}/api:${{ env.TAG }}", exit-code: "1", severity: "HIGH,CRITICAL"}
        """,
        env="env:\n  REGISTRY: ghcr.io/acme\n",
    )
    assert got == []


def test_trivy_env_exit_code_applies_when_the_input_is_not_given(tmp_path):
    got = _scan_workflow(
        tmp_path,
        """\
        - uses: aquasecurity/trivy-action@0.28.0
          env: {TRIVY_EXIT_CODE: "0"}
          with: {image-ref: "ghcr.io/acme/api:1"}
        """,
    )
    assert [(r, line) for r, line, _ in got] == [("CI002", 7)]  # the env value
    assert "TRIVY_EXIT_CODE=0" in got[0][2]


def test_a_trivy_config_file_is_not_read_so_the_exit_code_is_not_proven(tmp_path):
    got = _scan_workflow(
        tmp_path,
        """\
        - uses: aquasecurity/trivy-action@0.28.0
          with: {image-ref: "ghcr.io/acme/api:1", trivy-config: trivy.yaml}
        """,
    )
    assert [(r, line) for r, line, _ in got] == [("CI002", 7)]
    assert "not provable" in got[0][2]


def test_job_level_continue_on_error_silences_every_step(tmp_path):
    got = _scan_workflow(
        tmp_path,
        """\
        - run: trivy image --exit-code=1 -s HIGH ghcr.io/acme/api:1
        """,
    )
    assert got == []
    (tmp_path / ".github" / "workflows" / "ci.yml").write_text(
        "on: [push]\njobs:\n  scan:\n    runs-on: ubuntu-latest\n    continue-on-error: true\n    steps:\n"
        "    - run: trivy image --exit-code=1 -s HIGH ghcr.io/acme/api:1\n"
    )
    got = [(f.rule_id, f.loc.line) for f in scan_path(tmp_path).active() if f.rule_id.startswith("CI")]
    assert got == [("CI005", 5)]


def test_a_gate_without_a_documented_reason_cannot_be_report_only():
    from scanner.policy import PolicyError, validate_policy_data

    with pytest.raises(PolicyError, match="reason"):
        validate_policy_data(
            {
                "apiVersion": "kubematrix.dev/v1alpha1",
                "kind": "Policy",
                "ciGates": [{"name": "api", "workflow": "ci.yml", "images": ["x"], "exitCode": 0}],
            },
            "kubematrix.yaml",
        )
