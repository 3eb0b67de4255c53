"""The composite action (action.yml): its scan step, run as GitHub runs it — bash, with
the inputs as environment variables — against this checkout."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REPO

ACTION = yaml.safe_load((REPO / "action.yml").read_text(encoding="utf-8"))
SCAN_STEP = next(s for s in ACTION["runs"]["steps"] if s.get("id") == "scan")
DEFAULTS = {name: spec.get("default", "") for name, spec in ACTION["inputs"].items()}


def run_step(tmp_path: Path, **inputs: str) -> tuple[int, dict[str, str], str]:
    """Run the scan step with ``inputs`` (over the action's defaults); return its exit
    status, the step outputs and the job summary."""
    values = {**DEFAULTS, **inputs}
    env = {
        k: re.sub(r"\$\{\{ inputs\.([\w-]+) \}\}", lambda m: values[m.group(1)], v) for k, v in SCAN_STEP["env"].items()
    }
    runner = tmp_path / "runner"
    bin_dir = runner / "kubematrix-venv" / "bin"
    bin_dir.mkdir(parents=True)
    wrapper = bin_dir / "kubematrix"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m scanner "$@"\n', encoding="utf-8")
    wrapper.chmod(0o755)
    outputs, summary = tmp_path / "outputs", tmp_path / "summary.md"
    outputs.touch()
    summary.touch()
    env.update(
        RUNNER_TEMP=str(runner),
        GITHUB_OUTPUT=str(outputs),
        GITHUB_STEP_SUMMARY=str(summary),
        GITHUB_SERVER_URL="https://github.com",
        GITHUB_REPOSITORY="acme/shop",
        GITHUB_SHA="a" * 40,
    )
    keep = {
        k: os.environ[k] for k in ("PATH", "HOME", "PYTHONSAFEPATH", "KUBEMATRIX_EXPECT_INSTALLED") if k in os.environ
    }
    done = subprocess.run(
        ["bash", "-eo", "pipefail", "-c", SCAN_STEP["run"]],
        cwd=tmp_path / "repo",
        env={**keep, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    pairs = dict(line.split("=", 1) for line in outputs.read_text(encoding="utf-8").splitlines())
    return done.returncode, pairs, summary.read_text(encoding="utf-8")


@pytest.fixture
def repo(tmp_path):
    shutil.copytree(REPO / "fixtures" / "rules" / "NET001" / "fail", tmp_path / "repo" / "k8s")
    return tmp_path


def test_the_action_writes_the_markdown_report_to_the_job_summary(repo):
    code, outputs, summary = run_step(repo, path="k8s", format="sarif", output="km.sarif", **{"fail-on": "warning"})
    assert code == 1 and outputs == {"report": "km.sarif", "exit-code": "1"}
    assert (repo / "repo" / "km.sarif").is_file()
    assert summary.startswith("# kubematrix report\n\n**4 findings (4 errors)")
    assert f"[`k8s/kubematrix.yaml:7`](https://github.com/acme/shop/blob/{'a' * 40}/k8s/kubematrix.yaml#L7)" in summary
    assert "```mermaid\nflowchart LR\n" in summary


def test_the_summary_can_be_turned_off(repo):
    code, outputs, summary = run_step(repo, path="k8s", format="text", output="km.txt", summary="false")
    assert code == 0 and outputs["exit-code"] == "0"  # fail-on never, the default
    assert summary == ""


def test_no_summary_after_a_usage_error(repo):
    code, outputs, summary = run_step(repo, path="does-not-exist")
    assert code == 2 and outputs["exit-code"] == "2" and summary == ""


def test_the_action_renders_charts_and_overlays_when_asked(tmp_path):
    from conftest import missing_tool

    for tool in ("helm", "kubectl"):
        if shutil.which(tool) is None:
            missing_tool(f"{tool} is not on PATH (.ci/run installs helm; kubectl is on the CI machine)")
    shutil.copytree(REPO / "tests" / "data" / "render", tmp_path / "repo")
    (tmp_path / "repo" / ".git").mkdir()
    code, outputs, summary = run_step(tmp_path, format="json", output="km.json", render="true")
    assert code == 0 and outputs["exit-code"] == "0"
    assert "## Rendered (--render)\n\n- helm template --namespace shop" in summary
    report = (tmp_path / "repo" / "km.json").read_text(encoding="utf-8")
    assert '"command": "kubectl kustomize kustomize/overlays/prod"' in report
