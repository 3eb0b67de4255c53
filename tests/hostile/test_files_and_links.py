"""The file system as an adversary: links out of the tree, link loops, pipes,
devices, unreadable files and directories, oversized files, odd file names and
files swapped for links while the scan runs."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from scanner.loader import files as files_mod
from scanner.loader.documents import load, parse_file
from scanner.loader.files import InputFile, discover

from .helpers import GOOD, deadline, render_all, scan_tree

needs_symlinks = pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links on this platform")
CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    root.mkdir()
    (root / "good.yaml").write_text(GOOD, encoding="utf-8")
    return root


def input_findings(result) -> list[tuple[str, str, str]]:
    return sorted((f.rule_id, f.loc.path, f.message) for f in result.findings if f.rule_id.startswith("INPUT"))


# ----------------------------------------------------------------------------- links


@needs_symlinks
def test_symlink_loops_terminate_and_are_reported(tree):
    (tree / "sub").mkdir()
    os.symlink(".", tree / "sub" / "self")  # a directory that contains itself
    os.symlink("..", tree / "sub" / "up")  # a link back to the root
    os.symlink("b.yaml", tree / "a.yaml")  # two links pointing at each other
    os.symlink("a.yaml", tree / "b.yaml")
    os.symlink("loop.yaml", tree / "loop.yaml")  # a link to itself
    with deadline(20):
        result = scan_tree(tree)
        render_all(result)
    assert input_findings(result) == [
        ("INPUT004", "a.yaml", "broken or looping symbolic link; not followed"),
        ("INPUT004", "b.yaml", "broken or looping symbolic link; not followed"),
        ("INPUT004", "loop.yaml", "broken or looping symbolic link; not followed"),
        ("INPUT004", "sub/self", "symbolic link to a directory that contains it (a loop); not followed"),
        ("INPUT004", "sub/up", "symbolic link to a directory that contains it (a loop); not followed"),
    ]
    assert result.workload_count == 1


@needs_symlinks
def test_links_out_of_the_tree_are_never_followed_and_always_reported(tmp_path, tree):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.yaml").write_text(CONFIGMAP.format(name="outside-secret"), encoding="utf-8")
    os.symlink(outside / "secret.yaml", tree / "absolute.yaml")
    os.symlink("../outside/secret.yaml", tree / "relative.yaml")
    os.symlink(outside, tree / "dir")
    os.symlink("/etc", tree / "etc")
    os.symlink("/etc/passwd", tree / "passwd.yaml")
    os.symlink("/dev/zero", tree / "zero.yaml")
    with deadline(20):
        result = scan_tree(tree)
        reports = render_all(result)  # quoting 'zero.yaml' must not read /dev/zero forever
    assert result.files == ("good.yaml",)
    assert input_findings(result) == [
        ("INPUT004", name, "symbolic link points outside the scanned tree; not followed")
        for name in ("absolute.yaml", "dir", "etc", "passwd.yaml", "relative.yaml", "zero.yaml")
    ]
    for text in reports.values():
        assert "outside-secret" not in text and "root:x:0" not in text


@needs_symlinks
def test_broken_links_and_links_to_unscanned_files_are_reported(tree):
    os.symlink("missing.yaml", tree / "broken.yaml")
    (tree / "notes.txt").write_text(CONFIGMAP.format(name="txt"), encoding="utf-8")
    os.symlink("notes.txt", tree / "renamed.yaml")  # the target itself would never be scanned
    (tree / ".git").mkdir()
    (tree / ".git" / "x.yaml").write_text(CONFIGMAP.format(name="git"), encoding="utf-8")
    os.symlink(".git/x.yaml", tree / "from-git.yaml")
    result = scan_tree(tree)
    assert input_findings(result) == [
        ("INPUT004", "broken.yaml", "broken or looping symbolic link; not followed"),
        ("INPUT004", "from-git.yaml", "symbolic link to a file that is not scanned itself; not followed"),
        ("INPUT004", "renamed.yaml", "symbolic link to a file that is not scanned itself; not followed"),
    ]


@needs_symlinks
def test_a_file_swapped_for_a_link_after_discovery_is_not_followed(tmp_path, tree):
    (tmp_path / "outside.yaml").write_text(CONFIGMAP.format(name="outside"), encoding="utf-8")
    (tree / "swap.yaml").write_text(CONFIGMAP.format(name="inside"), encoding="utf-8")
    found = discover([tree], tree)
    (file,) = [f for f in found.files if f.display == "swap.yaml"]
    (tree / "swap.yaml").unlink()
    os.symlink(tmp_path / "outside.yaml", tree / "swap.yaml")
    docs, problems = parse_file(file)
    assert docs == [] and [(p.rule_id, p.message) for p in problems] == [
        ("INPUT004", "replaced by a symbolic link while scanning; not followed")
    ]


# ----------------------------------------------------------------------------- special and unreadable files


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes on this platform")
def test_a_named_pipe_with_a_yaml_name_does_not_hang_the_scan(tree):
    os.mkfifo(tree / "pipe.yaml")
    with deadline(20):
        result = scan_tree(tree)
        render_all(result)  # a reporter quoting the offending line must not open the pipe either
    assert input_findings(result) == [
        ("INPUT001", "pipe.yaml", "not a regular file (a pipe, device or socket); not read")
    ]
    assert result.workload_count == 1


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
def test_a_device_named_on_the_command_line_is_not_read_forever(tmp_path):
    with deadline(20):
        result = load([Path("/dev/zero")], tmp_path)
    assert [(p.rule_id, p.message) for p in result.problems] == [
        ("INPUT001", "not a regular file (a pipe, device or socket); not read")
    ]


def test_oversized_files_are_reported_not_read(tree, monkeypatch):
    monkeypatch.setattr(files_mod, "MAX_FILE_BYTES", 1000)
    (tree / "huge.yaml").write_text(CONFIGMAP.format(name="x" * 2000), encoding="utf-8")
    result = scan_tree(tree)
    ((rule, path, message),) = input_findings(result)
    assert (rule, path) == ("INPUT001", "huge.yaml") and "over the 1,000-byte limit" in message


def test_unreadable_file_is_reported_and_the_rest_is_scanned(tree, monkeypatch):
    """Simulated EACCES (works as root too; the real chmod test is below)."""
    (tree / "locked.yaml").write_text(CONFIGMAP.format(name="locked"), encoding="utf-8")
    real_open = os.open

    def deny(path, flags, *args, **kwargs):
        if str(path).endswith("locked.yaml"):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(files_mod.os, "open", deny)
    result = scan_tree(tree)
    assert input_findings(result) == [("INPUT001", "locked.yaml", "cannot read file: Permission denied")]
    assert result.workload_count == 1


def test_unreadable_directory_is_reported_and_the_rest_is_scanned(tree, monkeypatch):
    (tree / "private").mkdir()
    (tree / "private" / "x.yaml").write_text(CONFIGMAP.format(name="p"), encoding="utf-8")
    real_scandir = os.scandir

    def deny(path="."):
        if str(path).endswith("private"):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", deny)
    result = scan_tree(tree)
    assert input_findings(result) == [
        ("INPUT001", "private", "cannot read directory: Permission denied; nothing in it is scanned")
    ]
    assert result.workload_count == 1


_UNPRIVILEGED_SCAN = r"""
import json, sys
from pathlib import Path
from scanner.scan import ScanOptions, run_scan
root = Path(sys.argv[1])
result = run_scan(ScanOptions(paths=(root,), cwd=root))
print(json.dumps(sorted((f.rule_id, f.loc.path, f.message) for f in result.findings if f.rule_id.startswith("INPUT"))))
print(result.workload_count)
"""


@pytest.mark.skipif(not hasattr(os, "chmod") or sys.platform == "win32", reason="POSIX permissions only")
def test_chmod_000_file_and_directory_for_real():
    """chmod 000 does not stop root, so as root the scan runs in a child process
    without the capabilities that bypass permissions (setpriv), or as 'nobody';
    skipped when neither is possible (the simulated tests above still run)."""
    base = Path(tempfile.mkdtemp(prefix="kubematrix-perm-"))
    try:
        os.chmod(base, 0o755)
        tree = base / "tree"
        tree.mkdir(mode=0o755)
        (tree / "good.yaml").write_text(GOOD, encoding="utf-8")
        (tree / "locked.yaml").write_text(CONFIGMAP.format(name="locked"), encoding="utf-8")
        (tree / "private").mkdir()
        (tree / "private" / "x.yaml").write_text(CONFIGMAP.format(name="p"), encoding="utf-8")
        for p in (tree / "good.yaml", tree / "private" / "x.yaml"):
            os.chmod(p, 0o644)
        os.chmod(tree / "locked.yaml", 0)
        os.chmod(tree / "private", 0)
        command = [sys.executable, "-c", _UNPRIVILEGED_SCAN, str(tree)]
        preexec = None
        if os.geteuid() == 0:
            # root ignores permission bits; drop the capabilities that let it do so
            # (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH), else become 'nobody'.
            setpriv = shutil.which("setpriv")
            if setpriv:
                command = [setpriv, "--bounding-set", "-dac_override,-dac_read_search", *command]
            else:
                try:
                    import pwd

                    nobody = pwd.getpwnam("nobody")
                except (ImportError, KeyError):
                    pytest.skip("running as root without setpriv or a 'nobody' user")

                def preexec():
                    os.setgid(nobody.pw_gid)
                    os.setgroups([])
                    os.setuid(nobody.pw_uid)

        try:
            proc = subprocess.run(
                command, capture_output=True, text=True, timeout=120, preexec_fn=preexec, cwd=str(base)
            )
        except PermissionError as exc:
            pytest.skip(f"the unprivileged user cannot run this interpreter ({exc}); the simulated tests cover it")
        if proc.returncode != 0 and ("Permission denied" in proc.stderr or "ModuleNotFoundError" in proc.stderr):
            pytest.skip(f"the unprivileged user cannot run this checkout's interpreter: {proc.stderr.strip()[-200:]}")
        assert proc.returncode == 0, proc.stderr
        import json

        lines = proc.stdout.strip().splitlines()
        findings = [tuple(x) for x in json.loads(lines[0])]
        assert findings == [
            ("INPUT001", "locked.yaml", "cannot read file: Permission denied"),
            ("INPUT001", "private", "cannot read directory: Permission denied; nothing in it is scanned"),
        ]
        assert lines[1] == "1"
    finally:
        for dirpath, dirnames, filenames in os.walk(base):
            for name in dirnames + filenames:
                with contextlib.suppress(OSError):
                    os.chmod(os.path.join(dirpath, name), stat.S_IRWXU)
        shutil.rmtree(base, ignore_errors=True)


# ----------------------------------------------------------------------------- names


@pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="needs a file system that accepts any bytes in names")
def test_undecodable_and_control_characters_in_file_names_reach_every_report_safely(tree):
    bad = os.fsdecode(b"bad\xffname\n\x1b[31m.yaml")
    (tree / bad).write_text("a: [\n", encoding="utf-8")
    result = scan_tree(tree)
    (finding,) = [f for f in result.findings if f.rule_id == "INPUT001"]
    assert finding.loc.path == "bad\\xffname\\n\\x1b[31m.yaml"
    for fmt, text in render_all(result).items():
        text.encode("utf-8")
        assert "\x1b" not in text, f"{fmt} report carries a raw escape character from a file name"


def test_input_file_api_still_accepts_explicit_paths(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text(CONFIGMAP.format(name="x"), encoding="utf-8")
    docs, problems = parse_file(InputFile(path, "x.yaml"))
    assert problems == [] and docs[0].data["metadata"]["name"] == "x"


def test_a_tree_a_thousand_directories_deep_is_walked_without_recursion(tmp_path):
    """os.walk recurses (before Python 3.12): 1,200 nested directories would raise RecursionError."""
    top = str(tmp_path / "tree")
    levels = [top + "/d" * i for i in range(1201)]
    try:
        for level in levels:  # iteratively: pathlib's mkdir(parents=True) recurses too
            os.mkdir(level)
        Path(levels[-1], "x.yaml").write_text("a: [\n", encoding="utf-8")
        with deadline(60):
            result = load([Path(top)], Path(top))
        assert len(result.files) == 1 and result.files[0].endswith("/d/x.yaml")
        assert [p.rule_id for p in result.problems] == ["INPUT001"]
    finally:
        # shutil.rmtree (and so pytest's own clean-up of tmp_path) recurses as well: remove bottom-up
        if os.path.exists(os.path.join(levels[-1], "x.yaml")):
            os.unlink(os.path.join(levels[-1], "x.yaml"))
        for level in reversed(levels):
            if os.path.isdir(level):
                os.rmdir(level)


def test_reporters_quote_lines_through_the_loaders_safe_reader(tmp_path):
    from scanner.loader.files import SNIPPET_CHARS, source_lines

    (tmp_path / "ok.yaml").write_bytes(b"a: 1\nb: " + b"x" * 10_000 + b"\n")
    lines = source_lines(tmp_path / "ok.yaml")
    assert lines[0] == "a: 1" and len(lines[1]) == SNIPPET_CHARS + 1 and lines[1].endswith("\u2026")
    (tmp_path / "bom.yaml").write_bytes("a: 1\n".encode("utf-16"))
    assert source_lines(tmp_path / "bom.yaml") == ["a: 1"]
    if hasattr(os, "symlink"):
        os.symlink("/etc/passwd", tmp_path / "passwd.yaml")
        os.symlink("/dev/zero", tmp_path / "zero.yaml")
        assert source_lines(tmp_path / "passwd.yaml") is None
        assert source_lines(tmp_path / "zero.yaml") is None
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "pipe.yaml")
        with deadline(10):
            assert source_lines(tmp_path / "pipe.yaml") is None
    assert source_lines(tmp_path / "missing.yaml") is None
