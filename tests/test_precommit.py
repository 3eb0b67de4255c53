"""The pre-commit hook, run by the real pre-commit framework.

``pre-commit try-repo`` installs the hook from a local repository into its
own virtualenv (``pip install`` of the repository, which builds the wheel
with hatchling from the package index) and runs it on a throw-away git
repository.  try-repo only sees *committed or tracked* files of the hook
repository, so in a dev tree with new, untracked files (this very hook
manifest, until it is committed) the test runs try-repo on a committed
snapshot of the working tree; in CI's clean clone it uses the checkout
itself.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REPO

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")

GIT_ENV = {
    "GIT_AUTHOR_NAME": "kubematrix tests",
    "GIT_AUTHOR_EMAIL": "tests@kubematrix.invalid",
    "GIT_COMMITTER_NAME": "kubematrix tests",
    "GIT_COMMITTER_EMAIL": "tests@kubematrix.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
}

BAD_SECRET = """\
apiVersion: v1
kind: Secret
metadata:
  name: db
  namespace: shop
stringData:
  password: hunter2-canary
"""

GOOD_CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: shop
data:
  LOG_LEVEL: info
"""


def git(*args: str, cwd: Path) -> str:
    proc = subprocess.run(
        ["git", *args], cwd=cwd, env={**os.environ, **GIT_ENV}, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, f"git {' '.join(args)}: {proc.stderr}"
    return proc.stdout


def make_repo(path: Path, files: dict[str, str]) -> Path:
    path.mkdir(parents=True)
    git("init", "-q", cwd=path)
    for name, text in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text, encoding="utf-8")
    git("add", "-A", cwd=path)
    git("commit", "-q", "--no-verify", "-m", "fixture", cwd=path)
    return path


def hook_repository(tmp_path_factory) -> Path:
    """REPO itself if git sees no changes, else a committed snapshot of its working tree."""
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    if not git("status", "--porcelain", cwd=REPO).strip():
        return REPO
    snapshot = tmp_path_factory.mktemp("hook-repo")
    listed = git("ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=REPO).split("\0")
    for rel in filter(None, listed):
        src = REPO / rel
        if src.is_file() and not src.is_symlink():
            (snapshot / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, snapshot / rel)
    git("init", "-q", cwd=snapshot)
    git("add", "-A", cwd=snapshot)
    git("commit", "-q", "--no-verify", "-m", "snapshot of the working tree", cwd=snapshot)
    return snapshot


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory) -> Path:
    return hook_repository(tmp_path_factory)


def try_repo(hook_repo: Path, target: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, **GIT_ENV, "PRE_COMMIT_COLOR": "never"}
    env.pop("PRE_COMMIT_HOME", None)
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(hook_repo), "kubematrix", "--all-files", "--verbose"],
        cwd=target,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_hook_manifest_is_valid_and_scans_the_whole_tree():
    from pre_commit.clientlib import load_manifest

    (hook,) = load_manifest(str(REPO / ".pre-commit-hooks.yaml"))
    assert hook["id"] == "kubematrix"
    assert hook["language"] == "python"
    assert hook["entry"] == "kubematrix scan"
    assert hook["pass_filenames"] is False, "a whole-tree analysis must never get file subsets"
    assert hook["require_serial"] is True
    assert hook["args"] == ["."]
    assert hook["always_run"] or hook["files"]
    raw = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert raw[0]["entry"].split()[0] in _console_scripts()


def _console_scripts() -> set[str]:
    from importlib.metadata import distribution

    return {ep.name for ep in distribution("kubematrix").entry_points if ep.group == "console_scripts"}


@pytest.mark.slow
def test_try_repo_fails_on_a_bad_tree_and_passes_on_a_good_one(tmp_path, hook_repo):
    bad = make_repo(tmp_path / "bad", {"k8s/secret.yaml": BAD_SECRET, "k8s/settings.yaml": GOOD_CONFIGMAP})
    good = make_repo(tmp_path / "good", {"k8s/settings.yaml": GOOD_CONFIGMAP})

    failed = try_repo(hook_repo, bad)
    output = failed.stdout + failed.stderr
    assert failed.returncode == 1, output
    assert "kubematrix" in output and "Failed" in output
    assert "SECRET001" in output and "k8s/secret.yaml" in output
    assert "hunter2-canary" not in output

    passed = try_repo(hook_repo, good)
    output = passed.stdout + passed.stderr
    assert passed.returncode == 0, output
    assert "Passed" in output and "No findings" in output
