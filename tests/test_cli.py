"""The command line contract: exit codes, --output, --fail-on, determinism.

Most tests run the real program in a subprocess (the console scripts
installed next to the interpreter running the tests, or ``python -m
scanner``), so they test what users run, in a dev venv as in CI's fresh venv.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import REPO, in_process

from scanner.catalog import Rule
from scanner.cli import app as cli
from scanner.findings import Finding
from scanner.located import Loc
from scanner.scan import ScanResult

BLOG = "fixtures/blog-system"
FORMATS = ("text", "sarif", "json")

FAILING_SECRET = """\
apiVersion: v1
kind: Secret
metadata:
  name: db
  namespace: shop
data:
  password: aHVudGVyMg==
"""

CLEAN_CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: shop
data:
  LOG_LEVEL: info
"""


def console_script(name: str) -> str:
    """A console script of the package under test: next to the interpreter, else on PATH."""
    candidate = Path(sys.executable).parent / name
    if candidate.is_file():
        return str(candidate)
    found = shutil.which(name)
    assert found, f"console script {name!r} is not installed"
    return found


def run(args: list[str], *, cwd: Path = REPO, program: str = "kubematrix", env: dict | None = None):
    """Run a console script (``module`` runs ``python -m scanner``).  Console scripts
    never put the working directory on sys.path, so they run the installed package
    even from the repository root."""
    command = [sys.executable, "-m", "scanner", *args] if program == "module" else [console_script(program), *args]
    full_env = {**os.environ, **(env or {})}
    full_env.pop("NO_COLOR", None)
    return subprocess.run(command, cwd=cwd, env=full_env, capture_output=True, timeout=120)


def local(args: list[str], *, cwd: Path = REPO):
    """The same command line in this process (conftest.in_process), bytes like ``run``."""
    got = in_process([str(a) for a in args], cwd)
    return SimpleNamespace(returncode=got.returncode, stdout=got.stdout.encode(), stderr=got.stderr.encode())


def lines(data: bytes) -> list[str]:
    return data.decode("utf-8").splitlines()


@pytest.fixture
def failing_tree(tmp_path: Path) -> Path:
    tree = tmp_path / "failing"
    tree.mkdir()
    (tree / "secret.yaml").write_text(FAILING_SECRET, encoding="utf-8")
    (tree / "settings.yaml").write_text(CLEAN_CONFIGMAP, encoding="utf-8")
    return tree


# --------------------------------------------------------------------------- exit codes


def test_exit_0_on_the_documented_example():
    proc = run(["scan", BLOG])
    assert proc.returncode == 0, proc.stdout.decode() + proc.stderr.decode()
    assert proc.stderr == b""


def test_exit_1_on_a_failing_tree(failing_tree):
    proc = run(["scan", str(failing_tree)], cwd=failing_tree.parent)
    assert proc.returncode == 1, proc.stderr.decode()
    out = proc.stdout.decode()
    assert "failing/secret.yaml" in out and "SECRET001" in out
    assert "hunter2" not in out and "aHVudGVyMg==" not in out
    assert proc.stderr == b""


def test_exit_2_on_a_missing_path_with_one_stderr_line():
    proc = local(["scan", "/no/such/dir"])
    assert proc.returncode == 2
    assert proc.stdout == b""
    err = lines(proc.stderr)
    assert len(err) == 1 and "/no/such/dir" in err[0] and err[0].startswith("kubematrix: error:")


@pytest.mark.parametrize(
    "args", [["scan", "--no-such-flag", BLOG], ["scan", BLOG, "--format", "xml"], ["scan"], ["frobnicate"]]
)
def test_exit_2_on_usage_errors(args):
    proc = local(args)
    assert proc.returncode == 2, proc.stderr.decode()
    assert b"Traceback" not in proc.stderr
    assert proc.stderr.strip(), "a usage error says what is wrong"


def test_exit_2_on_an_invalid_policy_file_names_file_and_line(tmp_path):
    (tmp_path / "app.yaml").write_text(CLEAN_CONFIGMAP, encoding="utf-8")
    (tmp_path / "kubematrix.yaml").write_text(
        "apiVersion: kubematrix.dev/v1alpha1\nkind: Policy\nsettings:\n  podSecurity:\n    defaultLevel: strict\n",
        encoding="utf-8",
    )
    proc = local(["scan", "."], cwd=tmp_path)
    assert proc.returncode == 2
    err = lines(proc.stderr)
    assert len(err) == 1, err
    assert "kubematrix.yaml:5:" in err[0] and "defaultLevel" in err[0]
    assert proc.stdout == b""


def test_exit_3_on_an_internal_error_without_traceback(monkeypatch, capsys, failing_tree):
    import scanner.scan

    def explode(options):
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(scanner.scan, "run_scan", explode)
    code = cli._run(["scan", str(failing_tree)], "kubematrix")
    captured = capsys.readouterr()
    assert code == 3
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert "internal error" in captured.err and "simulated bug" in captured.err
    assert "Traceback" not in captured.err


# --------------------------------------------------------------------------- --fail-on


def _only(severity: str) -> ScanResult:
    rule = Rule(
        id="BAK001",
        name="BackupJobExists",
        title="A documented backup exists",
        severity=severity,
        security_severity="5.0",
        category="backup",
        kind="quality",
        tags=("backup",),
        description="x" * 20,
        help_pass="a: 1",
        help_fail="a: 2",
        remediation="Add the CronJob.",
        references=(),
    )
    finding = Finding("BAK001", "missing backup", Loc("kubematrix.yaml", 3, 1), subject="backup db")
    return ScanResult((finding,), {"BAK001": rule}, ("kubematrix.yaml",), {}, 0, None)


@pytest.mark.parametrize(
    "severity, fail_on, expected",
    [
        ("warning", "error", 0),
        ("warning", "warning", 1),
        ("warning", "note", 1),
        ("warning", "never", 0),
        ("error", "error", 1),
        ("error", "never", 0),
        ("note", "warning", 0),
        ("note", "note", 1),
    ],
)
def test_fail_on_threshold(monkeypatch, capsys, tmp_path, severity, fail_on, expected):
    import scanner.scan

    monkeypatch.setattr(scanner.scan, "run_scan", lambda options: _only(severity))
    assert cli._run(["scan", str(tmp_path), "--fail-on", fail_on], "kubematrix") == expected
    assert "missing backup" in capsys.readouterr().out


def test_fail_on_never_and_default_on_a_real_failing_tree(failing_tree):
    assert local(["scan", str(failing_tree), "--fail-on", "never"]).returncode == 0
    assert local(["scan", str(failing_tree), "--fail-on", "error"]).returncode == 1
    assert local(["scan", str(failing_tree)]).returncode == 1


# --------------------------------------------------------------------------- --output


@pytest.mark.parametrize("fmt", FORMATS)
def test_output_is_written_atomically_and_completely(tmp_path, failing_tree, fmt):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    target = out_dir / f"report.{fmt}"
    target.write_text("stale content from an earlier run\n", encoding="utf-8")
    proc = local(["scan", "failing", "--format", fmt, "--output", str(target)], cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stdout == b"", "the report goes to the file only"
    assert sorted(p.name for p in out_dir.iterdir()) == [target.name], "no temporary file left behind"
    to_stdout = local(["scan", "failing", "--format", fmt], cwd=tmp_path).stdout
    assert target.read_bytes() == to_stdout
    if fmt != "text":
        json.loads(target.read_text(encoding="utf-8"))


def test_output_into_a_missing_directory_is_a_usage_error(tmp_path, failing_tree):
    proc = local(["scan", str(failing_tree), "--output", str(tmp_path / "nope" / "r.sarif")])
    assert proc.returncode == 2
    assert len(lines(proc.stderr)) == 1
    assert not (tmp_path / "nope").exists()


# --------------------------------------------------------------------------- scripts, determinism


def test_scan_console_script_equals_kubematrix_scan(failing_tree):
    for fmt in FORMATS:
        via_scan = run([str(failing_tree), "--format", fmt], program="scan")
        via_kubematrix = run(["scan", str(failing_tree), "--format", fmt], program="kubematrix")
        assert via_scan.returncode == via_kubematrix.returncode == 1
        assert via_scan.stdout == via_kubematrix.stdout
    assert run(["/no/such/dir"], program="scan").returncode == 2


def test_python_dash_m_scanner_is_the_same_program(tmp_path, failing_tree):
    # run from an unrelated directory, so `-m` finds the package under test, not ./scanner
    module = run(["scan", str(failing_tree), "--format", "json"], program="module", cwd=tmp_path)
    script = run(["scan", str(failing_tree), "--format", "json"], cwd=tmp_path)
    assert module.returncode == script.returncode == 1
    assert module.stdout == script.stdout


@pytest.mark.parametrize("fmt", FORMATS)
def test_output_is_byte_identical_across_runs_and_hash_seeds(fmt):
    """All of fixtures/ (every rule's pass and fail cases and the example) in one scan."""
    outputs = {
        seed: run(["scan", "fixtures", "--format", fmt, "--fail-on", "never"], env={"PYTHONHASHSEED": seed})
        for seed in ("0", "4242")
    }
    again = run(["scan", "fixtures", "--format", fmt, "--fail-on", "never"], env={"PYTHONHASHSEED": "0"})
    for proc in (*outputs.values(), again):
        assert proc.returncode == 0, proc.stderr.decode()
    assert len({p.stdout for p in (*outputs.values(), again)}) == 1
    assert outputs["0"].stdout.strip()


def test_text_on_a_pipe_has_no_colour_codes(failing_tree):
    proc = run(["scan", str(failing_tree)], env={"FORCE_COLOR": "1", "TERM": "xterm-256color"})
    assert b"\x1b[" not in proc.stdout


def test_rules_command_lists_the_catalogue():
    from scanner.catalog import load_catalog

    proc = local(["rules", "--format", "json"])
    assert proc.returncode == 0
    assert [r["id"] for r in json.loads(proc.stdout)] == list(load_catalog())


@pytest.mark.skipif(
    not os.environ.get("KUBEMATRIX_EXPECT_INSTALLED"), reason="set by .ci/run, which installs the wheel"
)
def test_ci_tests_the_installed_wheel_not_the_source_tree():
    import scanner
    from scanner.catalog import data_dir

    assert REPO not in Path(scanner.__file__).resolve().parents, scanner.__file__
    assert data_dir().name == "_rules" and any(data_dir().glob("*.yaml"))
