"""Command line: ``kubematrix scan|rules|graph|explain`` and the ``scan`` shortcut.

Exit codes (a contract, documented in the README):
0 no finding at or above --fail-on; 1 such findings; 2 usage error (bad flag,
missing path, invalid policy file); 3 internal error (one line, no traceback).
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from enum import Enum
from pathlib import Path

import typer

from .. import __version__

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


class UsageError(Exception):
    """A mistake in how the tool was called; exit 2 with one line."""


class Format(str, Enum):
    text = "text"
    sarif = "sarif"
    json = "json"
    markdown = "markdown"


class FailOn(str, Enum):
    error = "error"
    warning = "warning"
    note = "note"
    never = "never"


app = typer.Typer(
    name="kubematrix",
    help="Prove documented Kubernetes security promises (traffic matrix, SecurityContext table, "
    "backups, retention, secrets) against manifests.",
    add_completion=True,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def write_output(text: str, output: Path | None) -> None:
    """Write to stdout, or atomically to a file: temporary file in the same
    directory, then rename, so an interrupted run never leaves a truncated report."""
    if output is None:
        if hasattr(sys.stdout, "reconfigure"):
            # A report must never die on a terminal that cannot show a character.
            sys.stdout.reconfigure(errors="replace")
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    target = output.resolve()
    if not target.parent.is_dir():
        raise UsageError(f"cannot write {output}: directory {target.parent} does not exist")
    if target.is_dir():
        raise UsageError(f"cannot write {output}: it is a directory")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise UsageError(f"cannot write {output}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise UsageError(f"cannot write {output}: {exc.strerror or exc}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


STDIN = Path("-")


def check_paths(paths: list[Path]) -> None:
    for path in paths:
        if path != STDIN and not path.exists():
            raise UsageError(f"path '{path}' does not exist")


def read_stdin(paths: list[Path], source_root: str | None) -> tuple:
    """``-`` among the paths: the manifest stream on stdin, with Helm's ``# Source:``
    comments mapping each document to its template (``--source-root`` prefixes them)."""
    from ..loader.documents import Stream
    from ..loader.files import MAX_FILE_BYTES, decode
    from ..loader.rendered import helm_sources

    if STDIN not in paths:
        return ()
    data = sys.stdin.buffer.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise UsageError(f"stdin holds more than {MAX_FILE_BYTES:,} bytes; write it to a file and scan that")
    text, problem = decode(data, "stdin")
    if text is None:
        raise UsageError(f"stdin: {problem.message if problem else 'not text'}")
    return (Stream("stdin", text, tuple(helm_sources(text, {}, source_root or ""))),)


def render_tree(paths: list[Path], cwd: Path, exclude: tuple[str, ...], policy):
    """--render: run helm / kubectl kustomize on the charts and kustomizations of the tree
    (scanner/render.py); a missing binary or an unusable render section is a usage error."""
    from ..policy import PolicyError
    from ..render import RenderUnavailable, plan_render, render_all

    try:
        plan = plan_render(paths, cwd, exclude, policy)
    except (RenderUnavailable, PolicyError) as exc:
        raise UsageError(str(exc)) from None
    if not plan.jobs and not plan.problems:
        sys.stderr.write("kubematrix: --render: no Helm chart (Chart.yaml) or kustomization in the scanned tree\n")
    return render_all(plan)


def load_policy_option(policy: Path | None, cwd: Path):
    """The policy named by --policy (None: discover them in the scanned tree)."""
    from ..policy import PolicyError, load_policy

    if policy is None:
        return None
    if not policy.is_file():
        raise UsageError(f"policy file '{policy}' does not exist")
    try:
        return load_policy(policy, cwd)
    except PolicyError as exc:
        raise UsageError(str(exc)) from None


def read_baseline(path: Path | None):
    """The entries of a --baseline file (None without one); a usage error if unusable."""
    from ..baseline import BaselineError, parse

    if path is None:
        return None
    if not path.is_file():
        raise UsageError(f"baseline file '{path}' does not exist (write one with --write-baseline)")
    try:
        return tuple(parse(path.read_text(encoding="utf-8"), str(path)))
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read baseline file '{path}': {exc}") from None
    except BaselineError as exc:
        raise UsageError(str(exc)) from None


def source_links(fmt: Format):
    """Markdown links findings to the scanned commit on GitHub when its environment
    names one (GITHUB_SERVER_URL, GITHUB_REPOSITORY, GITHUB_SHA)."""
    if fmt is not Format.markdown:
        return None
    from ..report.markdown import links_from_env

    return links_from_env(os.environ)


def use_color(no_color: bool, output: Path | None) -> bool:
    if no_color or output is not None or os.environ.get("NO_COLOR"):
        return False
    return sys.stdout.isatty()


@app.command()
def scan(
    paths: list[Path] = typer.Argument(
        ...,
        help="Files or directories to scan (recursively); '-' reads a manifest stream from stdin (helm template ... | scan -).",
        show_default=False,
        metavar="PATH",
    ),
    policy: Path | None = typer.Option(
        None,
        "--policy",
        "-p",
        help="Policy file governing every scanned file (default: each kubematrix.yaml in or above the scanned tree governs its directory).",
    ),
    namespace: str | None = typer.Option(
        None,
        "--namespace",
        "-n",
        help="Namespace of objects without metadata.namespace (default: the policy's, else 'default').",
    ),
    fmt: Format = typer.Option(
        Format.text,
        "--format",
        "-f",
        help="Report format (markdown: for pull requests and GitHub's job summary, with the traffic graph as a Mermaid diagram).",
    ),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Write the report to this file (atomically) instead of stdout."
    ),
    fail_on: FailOn = typer.Option(
        FailOn.warning, "--fail-on", help="Exit 1 if any unsuppressed finding is at or above this level."
    ),
    no_color: bool = typer.Option(False, "--no-color", help="Plain output even on a terminal."),
    exclude: list[str] = typer.Option(
        [], "--exclude", help="Glob of files not to scan, e.g. 'charts/**' (repeatable; counted in the report)."
    ),
    report_unused_exceptions: bool = typer.Option(
        False, "--report-unused-exceptions", help="Report documented exceptions that matched no finding (POL005)."
    ),
    baseline_file: Path | None = typer.Option(
        None, "--baseline", help="Findings recorded in this baseline are reported but do not fail the build."
    ),
    write_baseline: Path | None = typer.Option(
        None, "--write-baseline", help="Record today's findings in this file (exit 0), for --baseline later."
    ),
    source_root: str | None = typer.Option(
        None,
        "--source-root",
        help="With '-' (stdin): the directory holding the charts whose '# Source:' paths Helm printed, "
        "so findings point at repository files.",
    ),
    render_input: bool = typer.Option(
        False,
        "--render",
        help="Render the Helm charts (helm template, values from the policy's render.helm) and kustomizations "
        "(kubectl kustomize) of the scanned tree with the real binaries, and scan what they render instead of "
        "the raw templates and overlays.",
    ),
) -> None:
    """Scan manifests and check them against the documented policy."""
    from ..policy import PolicyError
    from ..render import Rendered
    from ..report import render
    from ..scan import ScanOptions, run_scan

    check_paths(paths)
    cwd = Path.cwd()
    loaded = load_policy_option(policy, cwd)
    known = read_baseline(baseline_file)
    streams = read_stdin(paths, source_root)
    scanned = [p for p in paths if p != STDIN]
    rendered = render_tree(scanned, cwd, tuple(exclude), loaded) if render_input else Rendered()
    from .progress import scan_progress, wanted

    try:
        with scan_progress(wanted()) as progress:
            result = run_scan(
                ScanOptions(
                    paths=tuple(scanned),
                    policy=loaded,
                    namespace=namespace,
                    cwd=cwd,
                    exclude=tuple(exclude),
                    report_unused_exceptions=report_unused_exceptions,
                    baseline=known,
                    streams=streams + rendered.streams,
                    matrix_view=fmt is Format.markdown,
                    replacement=rendered.replacement,
                    problems=rendered.problems,
                    progress=progress,
                )
            )
    except PolicyError as exc:
        raise UsageError(str(exc)) from None
    if write_baseline is not None:
        from ..baseline import render as render_baseline

        write_output(render_baseline(result.active()), write_baseline)
        sys.stderr.write(f"wrote {write_baseline}: {len(result.active())} findings recorded\n")
    text = render(result, fmt.value, color=use_color(no_color, output), links=source_links(fmt))
    write_output(text, output)
    if write_baseline is not None:
        raise typer.Exit(EXIT_OK)  # today's findings are the baseline: none is new
    raise typer.Exit(EXIT_FINDINGS if result.failing(fail_on.value) else EXIT_OK)


class RulesFormat(str, Enum):
    text = "text"
    json = "json"


@app.command("rules")
def rules_command(
    rule_id: str | None = typer.Argument(None, metavar="[RULE]", help="One rule id, to print that rule in full."),
    fmt: RulesFormat = typer.Option(RulesFormat.text, "--format", "-f", help="text or json."),
) -> None:
    """List the rule catalogue, or print one rule in full."""
    from .rules_table import render_rule, render_rules

    if rule_id is None:
        write_output(render_rules(fmt.value), None)
        return
    text = render_rule(rule_id, fmt.value)
    if text is None:
        from ..catalog import load_catalog
        from ..names import did_you_mean

        raise UsageError(f"no rule {rule_id!r}{did_you_mean(rule_id, load_catalog())} (kubematrix rules lists them)")
    write_output(text, None)


def _version_callback(value: bool) -> None:
    if value:
        print(f"kubematrix {__version__}")
        raise typer.Exit(EXIT_OK)


@app.callback()
def _global(
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Prove documented Kubernetes security promises (traffic matrix, SecurityContext table,
    backups, retention, secrets) against manifests."""


@app.command()
def version() -> None:
    """Print the version."""
    print(f"kubematrix {__version__}")


@app.command("init")
def init_command(
    paths: list[Path] = typer.Argument(
        ..., help="The tree to draft a policy file for.", show_default=False, metavar="PATH"
    ),
    output: Path = typer.Option(Path("kubematrix.yaml"), "--output", "-o", help="Where to write the draft."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Draft a policy file from what the tree does today (review it, then commit it)."""
    from ..init import draft_policy

    check_paths(paths)
    if output.exists() and not force:
        raise UsageError(f"{output} exists: review it, or pass --force to replace it with a new draft")
    text = draft_policy(list(paths), Path.cwd(), output)
    write_output(text, output)
    sys.stderr.write(f"wrote {output}: review every entry, then scan with it\n")


# graph and explain live in their own module; importing it registers them.  A broken
# import must fail loudly, never hide a command.
from . import graph as _graph  # noqa: E402, F401 - must follow `app`, which it extends


def _run(argv: list[str], prog: str) -> int:
    try:
        # With standalone_mode=False click *returns* the code of a typer.Exit
        # raised by a command instead of raising it.
        # The usage line always says "kubematrix": `scan` is exactly `kubematrix scan`.
        code = app(args=argv, prog_name="kubematrix", standalone_mode=False)
        return code if isinstance(code, int) else EXIT_OK
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        sys.stderr.write(f"{prog}: interrupted\n")
        return 130
    except UsageError as exc:
        sys.stderr.write(f"{prog}: error: {exc}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        sys.stderr.write(f"{prog}: interrupted\n")
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":
            sys.stderr.write(f"{exc.format_message()}\n")
            return EXIT_USAGE
        if hasattr(exc, "format_message") and hasattr(exc, "exit_code"):
            # click's (or typer's vendored click's) usage errors: unknown option, bad value.
            sys.stderr.write(f"{prog}: error: {plain_usage(exc.format_message())}\n")
            return EXIT_USAGE
        sys.stderr.write(f"{prog}: internal error: {type(exc).__name__}: {exc} (please report this)\n")
        return EXIT_INTERNAL


_CHOICE = re.compile(
    r"Invalid value for '(?P<opt>--[\w-]+)'(?: / '-\w')?: (?:Value error, )?'(?P<got>[^']*)' is not "
    r"one of (?P<choices>.+?)\.?$"
)


def plain_usage(message: str) -> str:
    """click's wording in plain words: '--format must be one of text, sarif, json (got 'xml')'."""
    match = _CHOICE.match(message.strip())
    if match is None:
        return message
    choices = ", ".join(c.strip(" '") for c in match["choices"].split(","))
    return f"{match['opt']} must be one of {choices} (got '{match['got']}')"


def main() -> None:
    sys.exit(_run(sys.argv[1:], "kubematrix"))


def scan_main() -> None:
    """The ``scan`` console script: exactly ``kubematrix scan``."""
    argv = sys.argv[1:]
    if argv and argv[0] in ("--version",):
        print(f"kubematrix {__version__}")
        sys.exit(0)
    sys.exit(_run(["scan", *argv], "scan"))
