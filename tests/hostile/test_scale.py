"""Scale: 10,000 documents and 1,000 broken files in one tree.

The scan runs in a fresh subprocess so that its peak RSS (``getrusage``) is its
own.  Benchmark-style bounds, deliberately generous for slow CI machines: the
performance issue's 500 MB memory bound, and two minutes.  The precise figures
come from ``python bench/hostile_scale.py`` (same generator, same child)."""

from __future__ import annotations

import importlib.util
import time

import pytest

from .helpers import REPO

MEMORY_BOUND_MB = 500
TIME_BOUND_S = 120


def _bench():
    spec = importlib.util.spec_from_file_location("hostile_scale", REPO / "bench" / "hostile_scale.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(not (REPO / "bench" / "hostile_scale.py").is_file(), reason="bench/ is not shipped here")
def test_ten_thousand_documents_and_a_thousand_broken_files(tmp_path):
    bench = _bench()
    expected = bench.generate(tmp_path / "tree", docs=10_000, broken=1_000)
    started = time.monotonic()
    got = bench.scan_in_subprocess(tmp_path / "tree", timeout=TIME_BOUND_S * 2)
    wall = time.monotonic() - started
    assert got["files"] == expected["good_files"] + len(expected["broken_files"])
    assert got["input001_files"] == expected["broken_files"], "every broken file is reported"
    assert got["input001"] == 1_000, "exactly one INPUT001 per broken file"
    assert got["workloads"] == 3_334
    assert got["peak_rss_mb"] <= MEMORY_BOUND_MB, got
    assert wall <= TIME_BOUND_S, got
    print(f"\nscale: {got['seconds']}s scan, {got['peak_rss_mb']} MB peak RSS, {got['findings']} findings")
