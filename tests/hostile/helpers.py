"""Shared helpers for the hostile-input suite."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from scanner.findings import Finding
from scanner.policy import EMPTY_POLICY, Policy
from scanner.scan import ScanOptions, ScanResult, run_scan

REPO = Path(__file__).resolve().parents[2]
FORMATS = ("text", "json", "sarif", "markdown")

#: A well-formed workload placed beside every hostile file: it must always be found.
GOOD = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: good
  namespace: shop
spec:
  selector:
    matchLabels: {app: good}
  template:
    metadata:
      labels: {app: good}
    spec:
      securityContext:
        runAsNonRoot: true
        seccompProfile: {type: RuntimeDefault}
      containers:
      - name: app
        image: example/good:1.0
        securityContext:
          allowPrivilegeEscalation: false
          capabilities: {drop: [ALL]}
"""


def scan_tree(root: Path, policy: Policy = EMPTY_POLICY) -> ScanResult:
    import datetime as _dt

    result = run_scan(ScanOptions(paths=(root,), policy=policy, cwd=root, today=_dt.date(2026, 11, 26)))
    _SCAN_ROOTS[id(result)] = (result, root)
    return result


# id -> (result, root): the result is kept alive so that its id is never reused by
# another object (a plain id -> root map once sent render_all into a deleted directory).
_SCAN_ROOTS: dict[int, tuple[ScanResult, Path]] = {}


def scan_root_of(result: ScanResult) -> Path | None:
    entry = _SCAN_ROOTS.get(id(result))
    return entry[1] if entry is not None and entry[0] is result else None


def render_all(result: ScanResult, root: Path | None = None) -> dict[str, str]:
    """Every report format, rendered from the scan's working directory."""
    from scanner.report import render

    root = root or scan_root_of(result)
    out = {}
    previous = os.getcwd()
    if root is not None:
        os.chdir(root)
    try:
        for fmt in FORMATS:
            out[fmt] = render(result, fmt, color=False)
    finally:
        os.chdir(previous)
    return out


def findings_in(result: ScanResult, path: str) -> list[Finding]:
    return [f for f in result.findings if f.loc.path == path]


def good_is_scanned(result: ScanResult) -> bool:
    return "good.yaml" in result.files and result.workload_count >= 1


class Timeout(AssertionError):
    pass


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Fail (instead of hanging the suite) when the block runs longer than ``seconds``."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        started = time.monotonic()
        yield
        assert time.monotonic() - started < seconds, f"took longer than {seconds}s"
        return

    def expire(signum, frame):
        raise Timeout(f"took longer than {seconds}s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def console_script(name: str) -> list[str]:
    candidate = Path(sys.executable).parent / name
    if candidate.is_file():
        return [str(candidate)]
    found = shutil.which(name)
    if found:
        return [found]
    return [sys.executable, "-m", "scanner"] + (["scan"] if name == "scan" else [])


def run_cli(args: list[str], cwd: Path, *, timeout: float = 120, env: dict | None = None, process: bool = False):
    """``kubematrix ARGS`` from ``cwd``: in this process (conftest.in_process), or with
    ``process`` in a real one (for what only a process shows: hash seeds, the console
    script)."""
    if not process:
        from conftest import in_process

        return in_process(args, cwd, env)
    full_env = {**os.environ, "NO_COLOR": "1", **(env or {})}
    return subprocess.run(
        console_script("kubematrix") + args, cwd=str(cwd), capture_output=True, text=True, timeout=timeout, env=full_env
    )
