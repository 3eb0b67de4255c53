"""``--render``: Helm charts and kustomizations of the scanned tree, rendered by the real
``helm`` and ``kustomize`` and scanned as what would be deployed.

kubematrix never renders by itself (no template logic of its own) and never runs
anything named by its input: only the fixed binaries ``helm`` and ``kubectl`` (or
``kustomize``) found on PATH, with argument lists (no shell), a bounded time and a
bounded output, an empty configuration (a temporary HOME, no kubeconfig) and nothing
fetched from the network:

* ``helm template [--namespace NS] [--values F]... --skip-tests -- [RELEASE] CHART``
  for each chart (a directory holding ``Chart.yaml``) that is not a subchart of another
  (``charts/`` of a chart: helm renders it with its parent), once per ``render.helm``
  entry of the governing policy file, else once with Helm's defaults.  The chart is
  passed as an absolute directory, so helm never reads it as a repository reference
  (https://helm.sh/docs/helm/helm_template/); dependencies must already be in
  ``charts/`` (helm template does not download them).  ``--skip-tests`` leaves out
  ``helm test`` hooks, which installing does not create.  Each document's
  ``# Source:`` comment maps it to its template (loader/rendered.py).
* ``kubectl kustomize DIR`` (else ``kustomize build DIR``) for each kustomization no
  other kustomization of the tree uses as a base or component
  (https://kubectl.docs.kubernetes.io/references/kustomize/kustomization/resource/).
  Its output has no source comments: documents are located at the kustomization
  file, with the line numbers of the output.  A kustomization naming anything that
  is not a local file or directory (a remote base: kustomize would clone it with git)
  is not rendered; that is an INPUT001 finding.

What rendered output replaces is not read as raw files (no duplicate findings): a
rendered chart's ``templates/`` and ``charts/`` directories, and in the directories
of a rendered kustomization (with the bases and components it uses) every
Kubernetes manifest, kustomization and patch — kustomize deploys only what the
kustomization names, so a manifest there it does not name is not deployed either.
Values files, Chart.yaml, CI workflows, policy files and other configuration are
still read.  A command that fails is an INPUT001 finding at the chart or
kustomization, with the tool's own message.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import selectors
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from .findings import Finding
from .loader.documents import Replacement, Stream
from .loader.files import MAX_FILE_BYTES, InputFile, decode, discover, display_path
from .loader.rendered import helm_sources
from .located import Loc
from .policy import HelmRender, Policy, PolicyError, load_policy

TIMEOUT_SECONDS = 120  # per command: a chart that renders for minutes is not a chart
MAX_OUTPUT_BYTES = MAX_FILE_BYTES  # as for a file: more is not a manifest
KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
CHART_NAMES = ("Chart.yaml", "Chart.yml")
# Fields of a kustomization that name other kustomizations or files to build from.
_REFERENCE_FIELDS = ("resources", "bases", "components")

HELM_INSTALL = "install Helm 3 (https://helm.sh/docs/intro/install/) so that 'helm' is on PATH"
KUSTOMIZE_INSTALL = (
    "install kubectl (https://kubernetes.io/docs/tasks/tools/), whose 'kubectl kustomize' renders "
    "kustomizations, or kustomize (https://kubectl.docs.kubernetes.io/installation/kustomize/)"
)


class RenderUnavailable(Exception):
    """--render needs a binary that is not on PATH: a usage error, saying what to install."""


@dataclass(frozen=True, slots=True)
class Chart:
    directory: Path  # absolute
    shown: str  # its display path ("" for the working directory)
    name: str  # Chart.yaml's name: what helm prints in '# Source:'


@dataclass(frozen=True, slots=True)
class Kustomization:
    file: Path  # absolute path of the kustomization file
    shown: str  # its display path
    uses: tuple[Path, ...]  # directories of the kustomizations it names (bases, components)
    foreign: tuple[str, ...]  # what it names that is no local file or directory


@dataclass(frozen=True, slots=True)
class Job:
    """One command to run and how its output enters the scan."""

    argv: tuple[str, ...]
    shown: str  # the command as reports show it (display paths)
    display: str  # where output without a '# Source:' comment is located, and failures
    chart_dirs: tuple[tuple[str, str], ...] = ()  # chart name -> display dir, for '# Source:'
    namespace: str | None = None


@dataclass(frozen=True, slots=True)
class RenderPlan:
    jobs: tuple[Job, ...] = ()
    replacement: Replacement = field(default_factory=Replacement)
    problems: tuple[Finding, ...] = ()  # kustomizations not rendered (remote bases): INPUT001 at each


# -- what is in the tree ---------------------------------------------------------------


def plan_render(paths: list[Path], cwd: Path, exclude: tuple[str, ...], explicit: Policy | None) -> RenderPlan:
    """The commands ``--render`` runs for the scanned paths.  Raises RenderUnavailable
    when a binary is missing and PolicyError for an unusable ``render`` section."""
    files = discover(paths, cwd, exclude).files
    charts = _charts(files)
    kustomizations = _kustomizations(files)
    roots = _roots(kustomizations)
    tools = _tools(bool(charts), bool(roots))
    jobs: list[Job] = []
    problems: list[Finding] = []
    policies = _PolicyFinder(explicit, cwd)
    for chart in charts:
        entries = [e for e in policies.governing(chart.directory).render if _same(e.chart, chart.directory)]
        jobs += [_helm_job(tools["helm"], chart, e, cwd) for e in entries] or [
            _helm_job(tools["helm"], chart, None, cwd)
        ]
    manifests: list[Path] = []
    for root in roots:
        used = _closure(root, kustomizations)
        foreign = [(k, ref) for k in used for ref in k.foreign]
        if foreign:
            problems.append(_refused(root, foreign))
            continue
        jobs.append(_kustomize_job(tools["kustomize"], root))
        manifests += [k.file.parent for k in used]
    skip = tuple(sorted({c.directory / sub for c in charts for sub in ("templates", "charts")}))
    return RenderPlan(tuple(jobs), Replacement(skip, tuple(sorted(set(manifests)))), tuple(problems))


def _charts(files: Iterable[InputFile]) -> list[Chart]:
    found = {Path(os.path.abspath(f.real_path)).parent: f for f in files if f.real_path.name in CHART_NAMES}
    out = []
    for directory, file in sorted(found.items()):
        if any(p.name == "charts" and p.parent in found for p in directory.parents):
            continue  # a subchart: helm renders it with its parent
        out.append(Chart(directory, posixpath.dirname(file.display), _chart_name(file, directory)))
    return out


def _chart_name(file: InputFile, directory: Path) -> str:
    data = _yaml(file)
    name = data.get("name") if isinstance(data, dict) else None
    return name if isinstance(name, str) and name else directory.name


def _yaml(file: InputFile) -> Any:
    from .loader.documents import parse_file

    documents, _ = parse_file(file)
    return documents[0].data if documents else None


def _kustomizations(files: Iterable[InputFile]) -> dict[Path, Kustomization]:
    """Directory -> its kustomization file, with what it references."""
    out = {}
    for f in files:
        if f.real_path.name not in KUSTOMIZATION_NAMES:
            continue
        real = Path(os.path.abspath(f.real_path))
        uses, foreign = _references(real.parent, _yaml(f))
        out[real.parent] = Kustomization(real, f.display, uses, foreign)
    return dict(sorted(out.items()))


def _references(directory: Path, data: Any) -> tuple[tuple[Path, ...], tuple[str, ...]]:
    """The local kustomization directories a kustomization names, and the entries that
    are no local file or directory (remote bases)."""
    uses, foreign = [], []
    for key in _REFERENCE_FIELDS:
        entries = data.get(key) if isinstance(data, dict) else None
        for entry in entries if isinstance(entries, list) else ():
            if not isinstance(entry, str):
                continue
            target = Path(os.path.normpath(directory / entry)) if "://" not in entry else None
            if target is not None and target.is_dir():
                uses.append(target)
            elif target is None or not target.is_file():
                foreign.append(entry)
    return tuple(uses), tuple(foreign)


def _roots(kustomizations: dict[Path, Kustomization]) -> list[Kustomization]:
    """The kustomizations no other one uses: what is deployed (bases are deployed through them)."""
    used = {d for k in kustomizations.values() for d in k.uses}
    return [k for d, k in kustomizations.items() if d not in used]


def _closure(root: Kustomization, kustomizations: dict[Path, Kustomization]) -> list[Kustomization]:
    """The root and every kustomization of the tree it uses, directly or not."""
    seen: dict[Path, Kustomization] = {}
    stack = [root]
    while stack:
        k = stack.pop()
        if k.file.parent in seen:
            continue
        seen[k.file.parent] = k
        stack += [kustomizations[d] for d in k.uses if d in kustomizations]
    return list(seen.values())


def _refused(root: Kustomization, foreign: list[tuple[Kustomization, str]]) -> Finding:
    k, ref = foreign[0]
    return Finding(
        "INPUT001",
        f"not rendered: {k.shown} names {ref!r}, which is not a local file or directory; --render renders local "
        "input only and never fetches anything (kustomize would clone a remote base with git): vendor it into the "
        "repository, or render it yourself (kubectl kustomize DIR | kubematrix scan -); nothing of this "
        "kustomization is checked",
        Loc(root.shown, 1, 1),
        subject=root.shown,
        detail="render",
    )


def _same(a: Path, b: Path) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


# -- which policy says how -------------------------------------------------------------


class _PolicyFinder:
    """The policy file that governs a directory: --policy, else the nearest kubematrix.yaml
    at or above it up to the repository root (as scopes.py finds them)."""

    def __init__(self, explicit: Policy | None, cwd: Path) -> None:
        self.explicit, self.cwd = explicit, cwd
        self.loaded: dict[Path, Policy] = {}
        if explicit is not None:
            _check_entries(explicit)

    def governing(self, directory: Path) -> Policy:
        if self.explicit is not None:
            return self.explicit
        for d in (directory, *directory.parents):
            for name in ("kubematrix.yaml", "kubematrix.yml"):
                candidate = d / name
                if candidate.is_file() and not candidate.is_symlink():
                    return self._load(candidate)
            if (d / ".git").exists():
                break
        return Policy(path=None)

    def _load(self, path: Path) -> Policy:
        if path not in self.loaded:
            self.loaded[path] = load_policy(path, self.cwd)
            _check_entries(self.loaded[path])
        return self.loaded[path]


def _check_entries(policy: Policy) -> None:
    """A ``render.helm`` entry naming no chart or a missing values file is a typo that
    would silently render something else: a usage error, at the entry."""
    for entry in policy.render:
        if not any((entry.chart / n).is_file() for n in CHART_NAMES):
            raise PolicyError(f"{entry.loc}: render.helm: {entry.chart} holds no Chart.yaml")
        for values in entry.values:
            if not values.is_file():
                raise PolicyError(f"{entry.loc}: render.helm: values file {values} does not exist")


# -- the commands ------------------------------------------------------------------------


def _tools(helm: bool, kustomize: bool) -> dict[str, list[str]]:
    """The binaries the plan needs, or RenderUnavailable saying what to install."""
    out: dict[str, list[str]] = {}
    if helm:
        found = shutil.which("helm")
        if found is None:
            raise RenderUnavailable(
                f"--render: the scanned tree holds a Helm chart, and rendering it needs helm: {HELM_INSTALL}"
            )
        out["helm"] = [found]
    if kustomize:
        kubectl, standalone = shutil.which("kubectl"), shutil.which("kustomize")
        if kubectl is None and standalone is None:
            raise RenderUnavailable(
                f"--render: the scanned tree holds a kustomization, and rendering it needs "
                f"kubectl or kustomize: {KUSTOMIZE_INSTALL}"
            )
        out["kustomize"] = [kubectl, "kustomize"] if kubectl is not None else [str(standalone), "build"]
    return out


def _helm_job(helm: list[str], chart: Chart, entry: HelmRender | None, cwd: Path) -> Job:
    flags: list[str] = []
    shown_flags: list[str] = []
    if entry is not None and entry.namespace:
        flags += ["--namespace", entry.namespace]
        shown_flags += ["--namespace", entry.namespace]
    for values in entry.values if entry is not None else ():
        flags += ["--values", str(values)]
        shown_flags += ["--values", display_path(values, values, cwd)]
    release = [entry.release] if entry is not None and entry.release else []
    chart_shown = chart.shown or "."
    return Job(
        argv=(*helm, "template", *flags, "--skip-tests", "--", *release, str(chart.directory)),
        shown=" ".join(["helm template", *shown_flags, *release, chart_shown]),
        display=posixpath.join(chart.shown, "Chart.yaml"),
        chart_dirs=((chart.name, chart.shown),),
        namespace=entry.namespace if entry is not None else None,
    )


def _kustomize_job(kustomize: list[str], root: Kustomization) -> Job:
    directory = posixpath.dirname(root.shown) or "."
    verb = " ".join(PurePosixPath(kustomize[0]).name.split() + kustomize[1:])
    return Job(argv=(*kustomize, str(root.file.parent)), shown=f"{verb} {directory}", display=root.shown)


@dataclass(frozen=True, slots=True)
class Rendered:
    """What --render gives the scan (ScanOptions.streams, replacement, problems)."""

    streams: tuple[Stream, ...] = ()
    replacement: Replacement = field(default_factory=Replacement)
    problems: tuple[Finding, ...] = ()


def render_all(plan: RenderPlan) -> Rendered:
    """Run every job; each becomes a Stream (its output, or why it failed)."""
    with tempfile.TemporaryDirectory(prefix="kubematrix-render-") as home:
        env = _environment(Path(home))
        streams = tuple(_stream(job, run_bounded(job.argv, env)) for job in plan.jobs)
    return Rendered(streams, plan.replacement, plan.problems)


def _environment(home: Path) -> dict[str, str]:
    """PATH and nothing of the user's configuration: no kubeconfig (neither command
    needs a cluster), helm's config, cache and data in an empty temporary home."""
    empty = home / "kubeconfig"
    empty.write_text("", encoding="utf-8")
    empty.chmod(0o600)  # helm warns about a kubeconfig others may read
    return {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": str(home),
        "KUBECONFIG": str(empty),
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_DATA_HOME": str(home / "data"),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
    }


@dataclass(frozen=True, slots=True)
class Outcome:
    code: int | None  # None: stopped (time or size)
    stdout: bytes
    stderr: str
    stopped: str = ""  # why it was stopped


def run_bounded(
    argv: tuple[str, ...], env: dict[str, str], timeout: float | None = None, limit: int | None = None
) -> Outcome:
    """Run a command (a list, never a shell) with a deadline and at most ``limit`` bytes
    of output; stopped (with its process group) past either."""
    timeout = TIMEOUT_SECONDS if timeout is None else timeout
    limit = MAX_OUTPUT_BYTES if limit is None else limit
    proc = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, start_new_session=True
    )
    out, err = bytearray(), bytearray()
    stopped = ""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ, out)
        sel.register(proc.stderr, selectors.EVENT_READ, err)
        while sel.get_map() and not stopped:
            left = deadline - time.monotonic()
            if left <= 0:
                stopped = f"took longer than {timeout:g} s"
                break
            for key, _ in sel.select(left):
                chunk = os.read(key.fd, 1 << 16)
                if not chunk:
                    sel.unregister(key.fileobj)
                    continue
                key.data.extend(chunk)
                if len(out) > limit:
                    stopped = f"wrote more than {limit:,} bytes"
                elif len(err) > 64 * 1024:
                    del err[64 * 1024 :]
    if stopped:
        _stop(proc)
        return Outcome(None, bytes(out), err.decode("utf-8", "replace"), stopped)
    return Outcome(proc.wait(), bytes(out), err.decode("utf-8", "replace"))


def _stop(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):  # it exited already
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    for pipe in (proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()


def _stream(job: Job, outcome: Outcome) -> Stream:
    if outcome.code == 0:
        text, problem = decode(outcome.stdout, job.display)
        if text is not None:
            marks = tuple(helm_sources(text, dict(job.chart_dirs))) if job.chart_dirs else ()
            return Stream(job.display, text, marks, origin=job.shown, namespace=job.namespace)
        why = problem.message if problem else "not text"
    elif outcome.code is None:
        why = f"stopped: it {outcome.stopped}"
    else:
        why = f"exit status {outcome.code}: {_first_lines(outcome.stderr)}"
    finding = Finding(
        "INPUT001",
        f"'{job.shown}' failed ({why}); nothing it renders is checked",
        Loc(job.display, 1, 1),
        subject=job.display,
        detail="render",
    )
    return Stream(job.display, "", problems=(finding,), origin=job.shown, namespace=job.namespace)


def _first_lines(stderr: str, limit: int = 600) -> str:
    """The tool's message, one line, bounded; values of secret-looking keys masked (an
    error may quote a line of a values file), as the text report masks quoted lines."""
    from .quote import mask_secrets

    text = " ".join(mask_secrets(line.strip()) for line in stderr.strip().splitlines() if line.strip())
    return (text[:limit] + "…") if len(text) > limit else (text or "no message")
