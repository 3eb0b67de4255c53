"""The progress bar: rich, on stderr, on a terminal only, for scans of many files; it
never changes a report (issue 11)."""

from __future__ import annotations

import io

from conftest import FIXED_TODAY, REPO
from rich.console import Console

from scanner.cli import progress as bar
from scanner.report import render
from scanner.scan import ScanOptions, run_scan

BLOG = REPO / "fixtures" / "blog-system"


def _tree(tmp_path, files: int):
    for i in range(files):
        (tmp_path / f"cm{i:04d}.yaml").write_text(
            f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c{i}, namespace: ns}}\ndata: {{k: v}}\n"
        )
    return tmp_path


def test_the_scan_reports_every_file_read_and_every_scope_checked(tmp_path):
    tree = _tree(tmp_path, 40)
    heard: list[tuple[str, int, int]] = []
    result = run_scan(ScanOptions(paths=(tree,), cwd=tree, today=FIXED_TODAY, progress=lambda *a: heard.append(a)))
    reading = [h for h in heard if h[0] == "reading files"]
    assert [done for _, done, _ in reading] == list(range(1, 41)) and {t for _, _, t in reading} == {40}
    assert [h for h in heard if h[0] == "checking"] == [("checking", 0, 1)]
    plain = run_scan(ScanOptions(paths=(tree,), cwd=tree, today=FIXED_TODAY))
    assert render(result, "json") == render(plain, "json")


def test_the_bar_draws_on_a_terminal_for_many_files_and_is_erased(tmp_path):
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=80)
    total = bar.PROGRESS_MIN_FILES
    with bar.scan_progress(True, console) as report:
        assert report is not None
        for done in range(1, total + 1):
            report("reading files", done, total)
        report("checking", 0, 1)
    drawn = out.getvalue()
    assert "reading files" in drawn and f"{total}/{total}" in drawn
    # transient: it ends by moving up over the bar and erasing it (cursor up, erase line)
    assert drawn.endswith("\x1b[1A\x1b[2K")


def test_no_bar_for_a_small_scan_nor_off_a_terminal(tmp_path, monkeypatch):
    monkeypatch.setenv("TERM", "xterm")
    out = io.StringIO()
    with bar.scan_progress(True, Console(file=out, force_terminal=True)) as report:
        for done in range(1, 11):
            report("reading files", done, 10)
    assert out.getvalue() == ""
    with bar.scan_progress(False) as report:
        assert report is None
    assert not bar.wanted(io.StringIO())

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert bar.wanted(Tty())
    monkeypatch.setenv("TERM", "dumb")
    assert not bar.wanted(Tty())


def test_the_blog_system_report_is_the_same_with_a_listener():
    heard = []
    with_bar = run_scan(ScanOptions(paths=(BLOG,), cwd=REPO, today=FIXED_TODAY, progress=lambda *a: heard.append(a)))
    without = run_scan(ScanOptions(paths=(BLOG,), cwd=REPO, today=FIXED_TODAY))
    assert heard and render(with_bar, "sarif") == render(without, "sarif")
