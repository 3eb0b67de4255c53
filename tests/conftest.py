from __future__ import annotations

import datetime as _dt
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scanner.policy import load_policy
from scanner.scan import ScanOptions, ScanResult, run_scan

REPO = Path(__file__).resolve().parent.parent
FIXED_TODAY = _dt.date(2026, 11, 26)


def scan_path(
    path: Path,
    *,
    policy: Path | None = None,
    namespace: str | None = None,
    cwd: Path | None = None,
    report_unused: bool = False,
) -> ScanResult:
    """Scan like the CLI does (policy discovery included), with paths relative to ``cwd``."""
    if cwd is None:
        cwd = path if path.is_dir() else path.parent
    loaded = load_policy(policy, cwd) if policy is not None else None
    return run_scan(
        ScanOptions(
            paths=(path,),
            policy=loaded,
            namespace=namespace,
            cwd=cwd,
            today=FIXED_TODAY,
            report_unused_exceptions=report_unused,
        )
    )


@pytest.fixture
def scan():
    return scan_path


def missing_tool(reason: str) -> None:
    """A test cannot run because a tool is not installed: skip it, saying what to
    install — unless KUBEMATRIX_REQUIRE_TOOLS is set (.ci/run installs the tools and sets
    it), where a skip would be a false green."""
    if os.environ.get("KUBEMATRIX_REQUIRE_TOOLS"):
        pytest.fail(f"KUBEMATRIX_REQUIRE_TOOLS is set, but {reason}")
    pytest.skip(reason)


@dataclass(frozen=True)
class CliRun:
    """What one command line gave: exit code, stdout and stderr (text)."""

    returncode: int
    stdout: str
    stderr: str


def in_process(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> CliRun:
    """Run ``kubematrix ARGS`` in this process (``app._run``, exactly what the console
    script calls), from ``cwd``, with ``env`` added and NO_COLOR set: a fraction of a
    second instead of an interpreter start per call.  Tests of the real process (console
    scripts, hash seeds, signals) use subprocesses instead."""
    import contextlib
    import io

    from scanner.cli.app import _run

    out, err = io.StringIO(), io.StringIO()
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    os.environ.update({"NO_COLOR": "1", **(env or {})})
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = _run([str(a) for a in args], "kubematrix")
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
    return CliRun(code, out.getvalue(), err.getvalue())
