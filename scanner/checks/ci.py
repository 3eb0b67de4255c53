"""CI001-CI005: the documented CI gates (``ciGates``) against the GitHub Actions workflows.

A gate says which workflow (and job) must scan which images, at which severities, and
whether a finding fails the build.  The seed's Trivy step runs with ``exit-code: 0`` on
purpose ("warnings only", document §6); its policy documents that with a reason
(``exitCode: 0``), which ``policy.ci_gate_exceptions`` turns into a documented exception
for that gate's CI002 findings, applied by ``scanner/exceptions.py`` like every other.
Any other way of making the scan unable to fail the build (CI005) is still a finding.

How a scan step is read (nothing is run):

* ``uses: aquasecurity/trivy-action@...`` (its ``action.yaml``): ``scan-type`` defaults to
  ``image``; ``exit-code`` has no default, so Trivy's own default applies, 0 ("exit code
  when vulnerabilities were found" -- Trivy's ``--exit-code`` flag defaults to 0);
  ``severity`` defaults to every severity.  ``TRIVY_EXIT_CODE``/``TRIVY_SEVERITY`` in the
  step, job or workflow ``env`` apply when the input is not given.  A ``trivy-config``
  file is not read: with it and no ``exit-code``, the step is reported as not provable.
* ``run:`` steps with ``trivy image``/``trivy i``: ``--exit-code``, ``--severity``/``-s``.
  The default shell is ``bash -e {0}`` (no pipefail; ``shell: bash`` adds ``-o pipefail``),
  so a scan piped into another command, or followed by ``|| ...``, cannot fail the step.
* ``continue-on-error: true`` on the step or its job: "prevents a job from failing when
  this step fails" / "a workflow run from failing when a job fails" (GitHub workflow
  syntax); ``--soft-fail`` anywhere in the scan command.
* ``${{ env.NAME }}`` resolves through step, job and workflow ``env`` (GitHub's order);
  other expressions (``${{ github.sha }}``) are unknown text.

Images are compared by repository (tag and digest dropped; ``nginx`` is
``docker.io/library/nginx``, Docker's reference rules), since a workflow scans what it
builds and the manifests deploy a released tag of it.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

from ..findings import Finding
from ..loader.documents import DocClass, Document
from ..located import LList, LMap, Loc
from ..names import did_you_mean
from ..policy import GATE_KIND, CiGate, ci_gates
from ..promises import ci_gate_key
from .base import CheckContext
from .shell import Command, Pattern, Script, Unknown, Word, locate, parse_script

_TRIVY_ACTION = re.compile(r"aquasecurity/trivy-action(@|$)")
_BUILD_ACTION = re.compile(r"docker/build-push-action(@|$)")
_EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
_ENV_EXPR = re.compile(r"env\.([A-Za-z_][A-Za-z0-9_]*)|env\[['\"]([A-Za-z_][A-Za-z0-9_]*)['\"]\]")
# trivy image flags that take a value (so the next word is not the image).
_TRIVY_VALUE_FLAGS = frozenset(
    {
        "--exit-code",
        "--severity",
        "-s",
        "--format",
        "-f",
        "--output",
        "-o",
        "--template",
        "-t",
        "--ignorefile",
        "--cache-dir",
        "--timeout",
        "--scanners",
        "--pkg-types",
        "--vuln-type",
        "--config",
        "-c",
        "--input",
        "-i",
        "--platform",
        "--db-repository",
        "--java-db-repository",
        "--skip-dirs",
        "--skip-files",
        "--ignore-policy",
        "--image-src",
        "--username",
        "--password",
        "--registry-token",
        "--exit-on-eol",
        "--image-config-scanners",
        "--secret-config",
        "--license-confidence-level",
        "--ignore-status",
        "--server",
        "--token",
        "--token-header",
        "--custom-headers",
        "--docker-host",
        "--podman-host",
        "--sbom-sources",
        "--rekor-url",
        "--compliance",
        "--dependency-tree",
        "--list-all-pkgs",
        "--cache-backend",
        "--cache-ttl",
        "--redis-ca",
        "--redis-cert",
        "--redis-key",
        "--checks-bundle-repository",
        "--detection-priority",
        "--distro",
        "--max-image-size",
        "--parallel",
        "--vex",
        "--show-suppressed",
    }
)
_TRUE = ("true", True)


@dataclass(frozen=True, slots=True)
class _Weak:
    """A reason the scan cannot fail the build."""

    how: str  # exit-code | unknown (the exit code) -> CI002; continue-on-error(?) | soft-fail | or | pipe -> CI005
    text: str
    loc: Loc


@dataclass(frozen=True, slots=True)
class _Scan:
    job: str
    step: LMap
    step_name: str
    image: Pattern | None  # the image reference it is given; None: none
    image_loc: Loc
    exit_code: int | None  # None: unknown
    exit_loc: Loc
    severity: tuple[str, ...] | None  # None: every severity (Trivy's default)
    severity_loc: Loc
    weak: tuple[_Weak, ...]
    why_not_image: str = ""  # set: it does not scan that image (another scan-type, an unreadable script)

    def scans(self, repo: str) -> bool:
        return not self.why_not_image and self.image is not None and repository_of(self.image) == repo


# --- workflow reading ------------------------------------------------------------------------


def _env(*holders: object) -> dict[str, object]:
    """Merged ``env`` of workflow, job and step (later ones win, as in GitHub Actions)."""
    out: dict[str, object] = {}
    for holder in holders:
        env = holder.get("env") if isinstance(holder, LMap) else None
        if isinstance(env, LMap):
            out.update({str(k): v for k, v in env.items()})
    return out


def _env_loc(name: str, *holders: object) -> Loc | None:
    """Where the ``env`` that wins for ``name`` sets it (step over job over workflow)."""
    for holder in reversed(holders):
        env = holder.get("env") if isinstance(holder, LMap) else None
        if isinstance(env, LMap) and name in env:
            return env.loc_of(name)
    return None


def _expand(value: object, env: dict[str, object], depth: int = 0) -> Pattern:
    """A workflow value with ``${{ env.X }}`` resolved; other expressions are unknown."""
    if isinstance(value, bool):
        return Pattern.of(("true" if value else "false",))
    text = str(value)
    parts: list[str | Unknown] = []
    at = 0
    for m in _EXPR.finditer(text):
        parts.append(text[at : m.start()])
        name = _ENV_EXPR.fullmatch(m.group(1))
        key = (name.group(1) or name.group(2)) if name else None
        if key is not None and key in env and depth < 8:
            parts += _expand(env[key], env, depth + 1).parts
        else:
            parts.append(Unknown(m.group(0)))
        at = m.end()
    parts.append(text[at:])
    return Pattern.of(parts)


def _shell_text(run: str, env: dict[str, object]) -> str:
    """GitHub substitutes ``${{ env.X }}`` into the script before the shell runs it;
    other expressions stay as written (the shell reader then sees unknown text)."""

    def sub(m: re.Match) -> str:
        name = _ENV_EXPR.fullmatch(m.group(1))
        key = (name.group(1) or name.group(2)) if name else None
        expanded = _expand(env[key], env) if key is not None and key in env else None
        return expanded.shown() if expanded is not None and expanded.known else m.group(0)

    return _EXPR.sub(sub, run)


def _shell_env(env: dict[str, object]) -> dict[str, Pattern]:
    return {k: _expand(v, env) for k, v in env.items()}


def _int(value: Pattern) -> int | None:
    text = value.shown().strip()
    return int(text) if value.known and re.fullmatch(r"[0-9]+", text) else None


def _continue_on_error(holder: LMap, what: str) -> list[_Weak]:
    if "continue-on-error" not in holder:
        return []
    value = holder["continue-on-error"]
    if value in _TRUE:
        return [
            _Weak("continue-on-error", f"continue-on-error: true on the {what}", holder.loc_of("continue-on-error"))
        ]
    if isinstance(value, str) and "${{" in value:
        return [
            _Weak(
                "continue-on-error?",
                f"continue-on-error: {value} on the {what} may be true",
                holder.loc_of("continue-on-error"),
            )
        ]
    return []


def _never_runs(step: LMap) -> bool:
    cond = step.get("if")
    return cond is False or (
        isinstance(cond, str) and re.fullmatch(r"\s*(\$\{\{\s*)?false(\s*\}\})?\s*", cond) is not None
    )


def _trivy_action(workflow: LMap, job: str, job_map: LMap, step: LMap, env: dict[str, object]) -> _Scan:
    with_ = step.get("with") if isinstance(step.get("with"), LMap) else LMap(step.loc)
    where = step.loc_of("uses")
    scan_type = _expand(with_.get("scan-type", "image"), env).shown()
    image = _expand(with_["image-ref"], env) if "image-ref" in with_ else None
    why = "" if scan_type == "image" else f"scan-type is {scan_type}, not image"
    weak = _continue_on_error(step, "step") + _continue_on_error(job_map, f"job {job}")
    if "exit-code" in with_:
        exit_code, exit_loc = _int(_expand(with_["exit-code"], env)), with_.loc_of("exit-code")
        shown = f"exit-code: {with_['exit-code']}"
    elif "TRIVY_EXIT_CODE" in env:
        exit_code = _int(_expand(env["TRIVY_EXIT_CODE"], env))
        exit_loc = _env_loc("TRIVY_EXIT_CODE", workflow, job_map, step) or where
        shown = f"TRIVY_EXIT_CODE={env['TRIVY_EXIT_CODE']}"
    elif "trivy-config" in with_:
        exit_code, exit_loc, shown = (
            None,
            with_.loc_of("trivy-config"),
            "exit code set, if at all, in a trivy-config file",
        )
    else:
        exit_code, exit_loc, shown = 0, where, "exit-code not set (Trivy's default is 0)"
    if exit_code == 0:
        weak.append(_Weak("exit-code", shown, exit_loc))
    elif exit_code is None:
        weak.append(_Weak("unknown", f"{shown}: not provable", exit_loc))
    severity, severity_loc = None, where
    if "severity" in with_ or "TRIVY_SEVERITY" in env:
        raw = with_["severity"] if "severity" in with_ else env["TRIVY_SEVERITY"]
        severity_loc = (
            with_.loc_of("severity")
            if "severity" in with_
            else (_env_loc("TRIVY_SEVERITY", workflow, job_map, step) or where)
        )
        severity = tuple(s.strip().upper() for s in _expand(raw, env).shown().split(",") if s.strip())
    return _Scan(
        job,
        step,
        str(step.get("name") or step.get("uses")),
        image,
        with_.loc_of("image-ref") if "image-ref" in with_ else where,
        exit_code,
        exit_loc,
        severity,
        severity_loc,
        tuple(weak),
        why,
    )


def _trivy_commands(ctx: CheckContext, job: str, job_map: LMap, step: LMap, env: dict[str, object]) -> Iterator[_Scan]:
    run = step.get("run")
    if not isinstance(run, str) or "trivy" not in run:
        return
    text = _shell_text(run, env)
    script = parse_script(text, _shell_env(env))
    pipefail = step.get("shell") == "bash"  # 'bash' runs as bash -eo pipefail (GitHub workflow syntax)

    def at(word: Word) -> Loc:
        return locate(ctx, step.loc_of("run"), text, word)

    for n, pipeline in enumerate(script.pipelines):
        for k, command in enumerate(pipeline.commands):
            argv = command.argv()
            if command.name != "trivy" or len(argv) < 2 or argv[1].literal not in ("image", "i"):
                continue
            scan = _trivy_command(job, job_map, step, argv, at, script.problems)
            yield replace(scan, weak=scan.weak + _swallowed(scan, script, n, k, pipefail, at))


def _swallowed(
    scan: _Scan, script: Script, n: int, k: int, pipefail: bool, at: Callable[[Word], Loc]
) -> tuple[_Weak, ...]:
    """The shell around command ``k`` of pipeline ``n`` hides the scan's exit status."""
    pipeline, out = script.pipelines[n], []
    if k < len(pipeline.commands) - 1 and not pipefail:
        out.append(
            _Weak(
                "pipe",
                f"piped into {pipeline.commands[-1].name or 'another command'} without pipefail "
                "(the default shell is bash -e)",
                scan.image_loc,
            )
        )
    if pipeline.then == "||" and n + 1 < len(script.pipelines):
        after = script.pipelines[n + 1].commands[0]
        word = after.words[0] if after.words else None
        out.append(
            _Weak(
                "or",
                f"followed by || {after.name or '...'}, which swallows its failure",
                at(word) if word is not None else scan.image_loc,
            )
        )
    return tuple(out)


def _trivy_command(
    job: str, job_map: LMap, step: LMap, argv: tuple[Word, ...], at: Callable[[Word], Loc], problems: tuple[str, ...]
) -> _Scan:
    image, exit_code, exit_loc, severity, severity_loc = None, 0, at(argv[0]), None, at(argv[0])
    exit_shown = "--exit-code not given (Trivy's default is 0)"
    weak: list[_Weak] = _continue_on_error(step, "step") + _continue_on_error(job_map, f"job {job}")
    words = list(argv[2:])
    i = 0
    while i < len(words):
        text = words[i].literal or ""
        flag, eq, inline = text.partition("=")
        value = Pattern.of((inline,)) if eq else (words[i + 1].pattern() if i + 1 < len(words) else Pattern(()))
        if flag == "--exit-code":
            exit_code, exit_loc, exit_shown = _int(value), at(words[i]), f"--exit-code {value.shown()}"
        elif flag in ("--severity", "-s"):
            severity = tuple(s.strip().upper() for s in value.shown().split(",") if s.strip())
            severity_loc = at(words[i])
        elif flag == "--soft-fail":
            weak.append(_Weak("soft-fail", "--soft-fail", at(words[i])))
        if text.startswith("-"):
            i += 1 if eq or flag not in _TRIVY_VALUE_FLAGS else 2
            continue
        if image is None:
            image = (words[i].pattern(), at(words[i]))
        i += 1
    if exit_code == 0:
        weak.append(_Weak("exit-code", exit_shown, exit_loc))
    elif exit_code is None:
        weak.append(_Weak("unknown", f"{exit_shown}: not provable", exit_loc))
    why = "; ".join(problems) if problems else ("" if image else "no image argument")
    return _Scan(
        job,
        step,
        str(step.get("name") or "run"),
        image[0] if image else None,
        image[1] if image else at(argv[0]),
        exit_code,
        exit_loc,
        severity,
        severity_loc,
        tuple(weak),
        why,
    )


def _scans(ctx: CheckContext, workflow: LMap, jobs: LMap, job_ids: list[str]) -> list[_Scan]:
    out: list[_Scan] = []
    for job in job_ids:
        job_map = jobs.get(job)
        steps = job_map.get("steps") if isinstance(job_map, LMap) else None
        for step in steps if isinstance(steps, LList) else ():
            if not isinstance(step, LMap) or _never_runs(step):
                continue
            env = _env(workflow, job_map, step)
            if isinstance(step.get("uses"), str) and _TRIVY_ACTION.match(step["uses"]):
                out.append(_trivy_action(workflow, job, job_map, step, env))
            out += _trivy_commands(ctx, job, job_map, step, env)
    return out


def _disabled(view: _GateView) -> list[str]:
    """Names of scan-looking steps that never run (``if: false``)."""
    out = []
    for job in _job_ids(view):
        job_map = view.jobs.get(job) if view.jobs is not None else None
        steps = job_map.get("steps") if isinstance(job_map, LMap) else None
        for step in steps if isinstance(steps, LList) else ():
            if (
                isinstance(step, LMap)
                and _never_runs(step)
                and "trivy" in f"{step.get('uses', '')} {step.get('run', '')}"
            ):
                out.append(str(step.get("name") or step.get("uses") or "run"))
    return out


def _built(ctx: CheckContext, workflow: LMap, jobs: LMap) -> Iterator[tuple[str, Loc]]:
    """Images the workflow builds: docker/build-push-action ``tags`` and ``docker build -t``."""
    for job_map in jobs.values():
        steps = job_map.get("steps") if isinstance(job_map, LMap) else None
        for step in steps if isinstance(steps, LList) else ():
            if not isinstance(step, LMap):
                continue
            env = _env(workflow, job_map, step)
            with_ = step.get("with")
            if isinstance(step.get("uses"), str) and _BUILD_ACTION.match(step["uses"]) and isinstance(with_, LMap):
                for tag in re.split(r"[,\n]", str(with_.get("tags") or "")):
                    if tag.strip():
                        yield from _repo_of(_expand(tag.strip(), env), with_.loc_of("tags"))
            run = step.get("run")
            if isinstance(run, str) and "build" in run:
                text = _shell_text(run, env)
                for command in parse_script(text, _shell_env(env)).commands():
                    yield from _build_tags(ctx, command, step, text)


def _build_tags(ctx: CheckContext, command: Command, step: LMap, text: str) -> Iterator[tuple[str, Loc]]:
    argv = command.argv()
    names = [w.literal for w in argv[:3]]
    if command.name not in ("docker", "podman", "buildah") or "build" not in names:
        return
    for i, w in enumerate(argv):
        flag, eq, inline = (w.literal or "").partition("=")
        if flag in ("-t", "--tag"):
            value = Pattern.of((inline,)) if eq else (argv[i + 1].pattern() if i + 1 < len(argv) else Pattern(()))
            yield from _repo_of(value, locate(ctx, step.loc_of("run"), text, w))


def _repo_of(image: Pattern, loc: Loc) -> Iterator[tuple[str, Loc]]:
    repo = repository_of(image)
    if repo is not None:
        yield repo, loc


# --- image names -------------------------------------------------------------------------------


def repository(reference: str) -> str:
    """The normalised repository of an image reference (Docker reference grammar:
    the first component is a registry if it has a '.' or ':' or is localhost)."""
    name = reference.split("@", 1)[0]
    if name.rfind(":") > name.rfind("/"):
        name = name[: name.rfind(":")]
    first, slash, rest = name.partition("/")
    if not slash:
        return f"docker.io/library/{name}"
    if "." not in first and ":" not in first and first != "localhost":
        return f"docker.io/{name}"
    if first in ("index.docker.io", "registry-1.docker.io"):
        name = f"docker.io/{rest}" if "/" in rest else f"docker.io/library/{rest}"
    return name


def repository_of(image: Pattern) -> str | None:
    """The repository of an image pattern, when its known part holds all of it."""
    if image.known:
        return repository(image.shown()) if image.shown() else None
    head = image.head
    cut = max(head.rfind(":"), head.rfind("@"))
    if cut > head.rfind("/") and cut > 0:
        return repository(head[:cut])
    return None


# --- the checks ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _GateView:
    gate: CiGate
    path: str
    document: Document | None
    jobs: LMap | None


def _workflow(ctx: CheckContext, gate: CiGate) -> _GateView:
    base = posixpath.dirname(ctx.policy.path or "")
    path = posixpath.normpath(posixpath.join(base, gate.workflow))
    doc = next((d for d in ctx.inputs.documents if d.path == path), None)
    jobs = doc.data.get("jobs") if doc is not None and isinstance(doc.data, LMap) else None
    return _GateView(gate, path, doc, jobs if isinstance(jobs, LMap) else None)


def _finding(rule: str, gate: CiGate, message: str, loc: Loc, detail: str) -> Finding:
    # The subject reads as an object (kind CiGate, the gate's name), so documented
    # exceptions can name one gate (scanner/exceptions.py finding_object).
    return Finding(
        rule,
        f"CI gate '{gate.name}': {message}",
        loc,
        subject=f"{GATE_KIND} {gate.name}",
        detail=detail,
        promises=(ci_gate_key(gate.name),),
    )


def _views(ctx: CheckContext) -> Iterator[_GateView]:
    for gate in ci_gates(ctx.policy):
        yield _workflow(ctx, gate)


def _job_ids(view: _GateView) -> list[str]:
    assert view.jobs is not None
    return [view.gate.job] if view.gate.job is not None else [str(j) for j in view.jobs]


def check_gate_present(ctx: CheckContext) -> Iterator[Finding]:
    """CI001: the workflow, the job and a scan of every documented image exist."""
    workflows = [d.path for d in ctx.inputs.documents if d.cls is DocClass.CI_WORKFLOW]
    for view in _views(ctx):
        gate = view.gate
        if view.document is None:
            yield _finding(
                "CI001",
                gate,
                f"workflow {view.path} is not among the scanned files, so no scan is proven"
                f"{did_you_mean(view.path, workflows)}",
                gate.where("workflow"),
                "workflow",
            )
            continue
        if view.jobs is None:
            yield _finding(
                "CI001",
                gate,
                f"{view.path} is not a GitHub Actions workflow (it has no jobs)",
                gate.where("workflow"),
                "workflow",
            )
            continue
        if gate.job is not None and gate.job not in view.jobs:
            jobs = [str(j) for j in view.jobs]
            yield _finding(
                "CI001",
                gate,
                f"workflow {view.path} has no job '{gate.job}'{did_you_mean(gate.job, jobs)} "
                f"(jobs: {', '.join(jobs) or 'none'})",
                gate.where("job"),
                "job",
            )
            continue
        scans = _scans(ctx, view.document.data, view.jobs, _job_ids(view))
        where = view.jobs.key_loc(gate.job) if gate.job is not None else view.document.data.key_loc("jobs")
        for image, _ in gate.images:
            repo = repository(image)
            if any(s.scans(repo) for s in scans):
                continue
            seen = "; ".join(
                [
                    f"step '{s.step_name}' scans {s.image.shown() if s.image is not None else '?'}"
                    + (f" ({s.why_not_image})" if s.why_not_image else "")
                    for s in scans
                ]
                + [f"step '{name}' never runs (if: false)" for name in _disabled(view)]
            )
            job = f"job {gate.job}" if gate.job else "any job"
            yield _finding(
                "CI001",
                gate,
                f"no step of {job} in {view.path} scans image {image} with {gate.scanner}"
                + (f" ({seen})" if seen else " (no scan step at all)"),
                where,
                f"image:{image}",
            )


def _matching_scans(ctx: CheckContext, view: _GateView) -> list[_Scan]:
    if view.document is None or view.jobs is None or (view.gate.job is not None and view.gate.job not in view.jobs):
        return []
    repos = {repository(image) for image, _ in view.gate.images}
    return [s for s in _scans(ctx, view.document.data, view.jobs, _job_ids(view)) if any(s.scans(r) for r in repos)]


_EXIT_CODE = ("exit-code", "unknown")  # CI002; every other weakness swallows a failure: CI005


def _weaknesses(ctx: CheckContext, rule: str) -> Iterator[Finding]:
    for view in _views(ctx):
        for scan in _matching_scans(ctx, view):
            for weak in scan.weak:
                if (weak.how in _EXIT_CODE) == (rule == "CI002"):
                    yield _finding(
                        rule,
                        view.gate,
                        f"step '{scan.step_name}' of job {scan.job} can never fail the build: {weak.text}",
                        weak.loc,
                        f"{scan.job}:{scan.step_name}:{weak.how}",
                    )


def check_exit_code(ctx: CheckContext) -> Iterator[Finding]:
    """CI002: the scan's exit code lets vulnerabilities pass (0, unset, or not provable).
    A gate documented as report-only (exitCode 0 with a reason) excepts exactly these
    findings, through the policy's exceptions (``policy.ci_gate_exceptions``)."""
    yield from _weaknesses(ctx, "CI002")


def check_silenced(ctx: CheckContext) -> Iterator[Finding]:
    """CI005: the scan's failure is swallowed: continue-on-error, --soft-fail, ``|| ...``,
    a pipe without pipefail.  A report-only gate does not cover these."""
    yield from _weaknesses(ctx, "CI005")


def check_gate_strength(ctx: CheckContext) -> Iterator[Finding]:
    """CI003: the scan covers fewer severities, or exits with another code, than documented."""
    for view in _views(ctx):
        gate = view.gate
        for scan in _matching_scans(ctx, view):
            if gate.severity and scan.severity is not None:
                missing = [s for s in gate.severity if s not in scan.severity]
                if missing:
                    yield _finding(
                        "CI003",
                        gate,
                        f"step '{scan.step_name}' scans severities {','.join(scan.severity)}, "
                        f"the document says {','.join(gate.severity)} (missing "
                        f"{','.join(missing)})",
                        scan.severity_loc,
                        f"{scan.step_name}:severity",
                    )
            if gate.exit_code != 0 and scan.exit_code not in (None, 0, gate.exit_code):
                yield _finding(
                    "CI003",
                    gate,
                    f"step '{scan.step_name}' exits with {scan.exit_code} on findings, the "
                    f"document says {gate.exit_code}",
                    scan.exit_loc,
                    f"{scan.step_name}:exit-code",
                )


def _deployed(ctx: CheckContext) -> dict[str, str]:
    """Deployed repository -> one image reference that deploys it."""
    out: dict[str, str] = {}
    for w in ctx.model.workloads:
        for c in w.containers:
            if c.image:
                out.setdefault(repository(c.image), c.image)
    return dict(sorted(out.items()))


def check_gate_images(ctx: CheckContext) -> Iterator[Finding]:
    """CI004: gates scan images the manifests deploy, and every deployed image the workflow builds is gated."""
    gates = list(_views(ctx))
    if not gates:
        return
    deployed = _deployed(ctx)
    for view in gates:
        gate = view.gate
        for image, loc in gate.images:
            if repository(image) not in deployed:
                yield _finding(
                    "CI004",
                    gate,
                    f"image {image} is not deployed by any scanned manifest, so its scan "
                    f"proves nothing about what runs{did_you_mean(repository(image), deployed)}",
                    loc,
                    f"image:{image}",
                )
    by_workflow: dict[str, list[_GateView]] = {}
    for view in gates:
        by_workflow.setdefault(view.path, []).append(view)
    for path, views in by_workflow.items():
        view = views[0]
        if view.document is None or view.jobs is None:
            continue
        gated = {repository(image) for v in views for image, _ in v.gate.images}
        seen: set[str] = set()
        for repo, loc in _built(ctx, view.document.data, view.jobs):
            if repo in deployed and repo not in gated and repo not in seen:
                seen.add(repo)
                yield _finding(
                    "CI004",
                    view.gate,
                    f"{path} builds {repo}, which the manifests deploy "
                    f"({deployed[repo]}), but no documented gate scans it",
                    loc,
                    f"built:{repo}",
                )


CHECKS = {
    "CI001": check_gate_present,
    "CI002": check_exit_code,
    "CI003": check_gate_strength,
    "CI004": check_gate_images,
    "CI005": check_silenced,
}
