"""Turn files into classified, located documents and Kubernetes objects.

Every document is loaded and classified; only Kubernetes objects become
``KubeObject``s for the model.  Non-Kubernetes YAML (Helm values, charts,
Kustomizations, S3 lifecycle JSON, CI workflows, the policy file) is kept for
the checks that consume it.  What cannot be used is said, never dropped
silently:

* an unrendered Helm template (``{{ .Values.x }}``, quoted or not, or a
  template line that breaks YAML) is one ``INPUT001`` finding per document that
  names the placeholder and says "render it first"; that document is not judged,
  the other documents of the file are (a file under a chart's ``templates/`` is
  not scanned at all);
* files named by a Kustomization's ``patches``/``patchesStrategicMerge``/
  ``patchesJson6902`` are partial objects: they are classified
  ``kustomize-patch`` and not checked as if they were complete workloads;
* a document that looks like a Kubernetes object but has a wrong ``apiVersion``,
  ``kind`` or ``metadata`` is an ``INPUT002`` finding;
* empty documents (empty file, comments only, ``---`` only) are recorded as
  ``empty`` documents, so reports can count them.
"""

from __future__ import annotations

import gc
import json
import os
import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path, PurePosixPath
from typing import Any

from ..findings import Finding
from ..located import LList, LMap, Loc
from .files import InputFile, discover, read_text
from .yamltext import MAX_DEPTH, ParsedDocument, parse_yaml_text, without_surrogates
from .yamltext import describe_value as _what

Progress = Callable[[str, int, int], None]  # (stage, done, total): how far a long scan is


class DocClass(str, Enum):
    KUBERNETES = "kubernetes"
    KUSTOMIZATION = "kustomization"
    KUSTOMIZE_PATCH = "kustomize-patch"
    HELM_VALUES = "helm-values"
    HELM_CHART = "helm-chart"
    S3_LIFECYCLE = "s3-lifecycle"
    CI_WORKFLOW = "ci-workflow"
    KUBEMATRIX_POLICY = "kubematrix-policy"
    OTHER = "other"
    EMPTY = "empty"


@dataclass(frozen=True, slots=True)
class Document:
    path: str
    index: int
    loc: Loc
    data: Any  # None for an EMPTY document
    cls: DocClass
    namespace: str | None = None  # of its objects that name none: a renderer's (helm --namespace)


@dataclass(frozen=True, slots=True)
class KubeObject:
    """One Kubernetes object (a ``List`` contributes one per item)."""

    api_version: str
    kind: str
    name: str
    namespace: str | None  # as written; defaulting happens in the model
    body: LMap
    loc: Loc  # the object's ``metadata.name`` line (or its start)

    @property
    def group(self) -> str:
        return self.api_version.rsplit("/", 1)[0] if "/" in self.api_version else ""

    @property
    def metadata(self) -> LMap:
        meta = self.body.get("metadata")
        return meta if isinstance(meta, LMap) else LMap(self.body.loc)


@dataclass(slots=True)
class LoadResult:
    files: list[str] = field(default_factory=list)
    documents: list[Document] = field(default_factory=list)
    objects: list[KubeObject] = field(default_factory=list)
    problems: list[Finding] = field(default_factory=list)
    sources: dict[str, Path] = field(default_factory=dict)  # display path -> the file on disk
    excluded: list[str] = field(default_factory=list)  # files left out on purpose (--exclude)
    rendered: set[str] = field(default_factory=set)  # paths whose lines are lines of rendered output (no snippet)
    replaced: list[str] = field(default_factory=list)  # files --render read from rendered output instead
    outputs: list[RenderedOutput] = field(default_factory=list)  # what --render rendered, for the reports

    def by_class(self, cls: DocClass) -> list[Document]:
        return [d for d in self.documents if d.cls is cls]

    def subset(self, files: set[str]) -> LoadResult:
        """The part of this result that comes from ``files`` (display paths).  Its
        problems are context for the checks (what could not be read); the scan reports
        the whole result's problems once."""
        return self.partition([frozenset(files)])[0]

    def partition(self, parts: list[frozenset[str]]) -> list[LoadResult]:
        """``subset`` for several disjoint sets of files at once, in one pass (a monorepo
        scan has one part per policy file)."""
        index = {f: i for i, part in enumerate(parts) for f in part}
        out = [LoadResult() for _ in parts]
        for f in self.files:
            if f in index:
                out[index[f]].files.append(f)
        for f, source in self.sources.items():
            if f in index:
                out[index[f]].sources[f] = source
        for d in self.documents:
            if d.path in index:
                out[index[d.path]].documents.append(d)
        for o in self.objects:
            if o.loc.path in index:
                out[index[o.loc.path]].objects.append(o)
        for p in self.problems:
            if p.loc.path in index:
                out[index[p.loc.path]].problems.append(p)
        return out


_LIFECYCLE_KEYS = {"Expiration", "Filter", "Prefix", "Transitions", "NoncurrentVersionExpiration", "ID", "Status"}
_KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
# Kinds that are certainly Kubernetes objects: without a string apiVersion they are
# broken manifests (kubectl refuses them), not some other kind of YAML.
_KNOWN_KINDS = frozenset(
    {
        "Pod",
        "Deployment",
        "StatefulSet",
        "DaemonSet",
        "ReplicaSet",
        "ReplicationController",
        "Job",
        "CronJob",
        "Rollout",
        "PodTemplate",
        "Service",
        "Namespace",
        "ConfigMap",
        "Secret",
        "Ingress",
        "NetworkPolicy",
        "CiliumNetworkPolicy",
        "CiliumClusterwideNetworkPolicy",
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "ClusterRole",
        "ClusterRoleBinding",
        "PersistentVolumeClaim",
        "PersistentVolume",
        "List",
    }
)


def _is_values_file(name: str) -> bool:
    lower = name.lower()
    return (
        lower.startswith("values")
        and lower.endswith((".yaml", ".yml"))
        and (lower in ("values.yaml", "values.yml") or lower[6:7] in ("-", "_", "."))
    )


def classify(path: str, data: Any, *, by_name: bool = True) -> DocClass:
    """Decide what a document is.  Order matters: Kubernetes objects are recognised
    by their shape wherever they live; the rest by shape and conventional names
    (``by_name=False`` for rendered output, whose path is only where it came from)."""
    if data is None:
        return DocClass.EMPTY
    name = PurePosixPath(path).name if by_name else ""
    if isinstance(data, dict):
        api, kind = data.get("apiVersion"), data.get("kind")
        if kind == "Kustomization" or name in _KUSTOMIZATION_NAMES:
            return DocClass.KUSTOMIZATION
        if isinstance(kind, str) and kind == "Policy" and isinstance(api, str) and api.startswith("kubematrix"):
            return DocClass.KUBEMATRIX_POLICY
        if isinstance(api, str) and isinstance(kind, str):
            return DocClass.KUBERNETES
        if name in ("Chart.yaml", "Chart.yml"):
            return DocClass.HELM_CHART
        rules = data.get("Rules")
        if isinstance(rules, list) and rules and all(isinstance(r, dict) and _LIFECYCLE_KEYS & set(r) for r in rules):
            return DocClass.S3_LIFECYCLE
        if "/.github/workflows/" in f"/{path}" or ("jobs" in data and ("on" in data or True in data)):
            return DocClass.CI_WORKFLOW
        if _is_values_file(name):
            return DocClass.HELM_VALUES
    return DocClass.OTHER


def _name_loc(body: LMap) -> Loc:
    meta = body.get("metadata")
    if isinstance(meta, LMap):
        return meta.loc_of("name") if "name" in meta else meta.loc
    return body.loc


def _as_object(
    body: LMap, api: str, kind: str, problems: list[Finding], default_namespace: str | None = None
) -> KubeObject:
    meta = body.get("metadata")
    name: Any = meta.get("name") if isinstance(meta, LMap) else None
    namespace: Any = meta.get("namespace") if isinstance(meta, LMap) else None
    if namespace is None and default_namespace is not None and not _cluster_scoped(kind):
        namespace = default_namespace
    # Only kinds that are certainly API objects are held to the object shape: many
    # configuration files also carry apiVersion/kind without metadata (kubeconfig,
    # skaffold, kind, kubeadm, audit policies ...).
    if kind in _KNOWN_KINDS and kind != "List":
        _check_metadata(body, kind, meta, name, namespace, problems)
    return KubeObject(
        api_version=api,
        kind=kind,
        name=name
        if isinstance(name, str)
        else (str(name) if isinstance(name, (int, float)) and not isinstance(name, bool) else ""),
        namespace=namespace if isinstance(namespace, str) and namespace else None,
        body=body,
        loc=_name_loc(body),
    )


def _check_metadata(body: LMap, kind: str, meta: Any, name: Any, namespace: Any, problems: list[Finding]) -> None:
    subject = f"{kind} {name}" if isinstance(name, str) and name else f"{kind} (no name)"
    if meta is None:
        problems.append(
            Finding("INPUT002", f"{kind}: metadata is missing", body.loc, subject=subject, detail="metadata")
        )
        return
    if not isinstance(meta, LMap):
        problems.append(
            Finding(
                "INPUT002",
                f"{kind}: metadata must be a mapping, not {_what(meta)}",
                body.loc_of("metadata"),
                subject=subject,
                detail="metadata",
            )
        )
        return
    if name is None:
        if not isinstance(meta.get("generateName"), str):
            problems.append(
                Finding(
                    "INPUT002",
                    f"{kind}: metadata.name is missing",
                    _name_loc(body),
                    subject=subject,
                    detail="metadata.name",
                )
            )
    elif not (isinstance(name, str) and name):
        problems.append(
            Finding(
                "INPUT002",
                f"{kind}: metadata.name must be a non-empty string, not {_what(name)}",
                meta.loc_of("name"),
                subject=subject,
                detail="metadata.name",
            )
        )
    if namespace is not None and not (isinstance(namespace, str) and namespace):
        problems.append(
            Finding(
                "INPUT002",
                f"{subject}: metadata.namespace must be a non-empty string, not "
                f"{_what(namespace)}; the default namespace is assumed",
                meta.loc_of("namespace"),
                subject=subject,
                detail="metadata.namespace",
            )
        )


def expand_objects(doc: Document, problems: list[Finding], _depth: int = 0) -> list[KubeObject]:
    """A Kubernetes document, with ``kind: List`` and typed lists (``PodList``) expanded.
    Items of typed lists from ``kubectl get -o yaml`` may omit ``kind``: it is the list's kind
    minus ``List``."""
    body = doc.data
    kind = str(body.get("kind"))
    api = str(body.get("apiVersion"))
    if not kind.endswith("List") or "items" not in body:
        return [_as_object(body, api, kind, problems, doc.namespace)]
    items = body.get("items")
    if items is None:
        return []
    if not isinstance(items, list):
        problems.append(
            Finding(
                "INPUT002", f"{kind}: 'items' must be a list, not {_what(items)}", body.loc_of("items"), detail="items"
            )
        )
        return []
    implied = kind[: -len("List")] if kind != "List" else None
    out: list[KubeObject] = []
    for i, item in enumerate(items):
        item_loc = items.loc_of(i) if isinstance(items, LList) else body.loc
        if not isinstance(item, LMap):
            problems.append(
                Finding("INPUT002", f"{kind} item {i} is {_what(item)}, not an object", item_loc, detail=f"item:{i}")
            )
            continue
        item_kind = item.get("kind", implied)
        item_api = item.get("apiVersion", api)
        if not isinstance(item_kind, str) or not item_kind or not isinstance(item_api, str) or not item_api:
            problems.append(
                Finding(
                    "INPUT002",
                    f"{kind} item {i} has no string 'kind' and 'apiVersion'",
                    item.loc_of("kind") if "kind" in item else item_loc,
                    detail=f"item:{i}",
                )
            )
            continue
        if item_kind.endswith("List") and isinstance(item.get("items"), list) and _depth < MAX_DEPTH:
            nested = Document(doc.path, doc.index, item.loc, item, DocClass.KUBERNETES, doc.namespace)
            out.extend(expand_objects(nested, problems, _depth + 1))
        else:
            out.append(_as_object(item, item_api, item_kind, problems, doc.namespace))
    return out


def _cluster_scoped(kind: str) -> bool:
    from ..model.duplicates import (
        CLUSTER_SCOPED,  # the model's list; imported late: the model imports the loader
    )

    return kind in CLUSTER_SCOPED


def _plain_to_located(value: Any, loc: Loc) -> tuple[Any, int]:
    """Wrap data from the json module (no positions) so the model can treat it
    uniformly; iterative, so depth cannot exhaust the stack.  Returns the data and
    how many strings held lone surrogates (json.loads accepts "\\ud800"; no report
    could print it), which are replaced."""
    replaced = 0

    def wrap(v: Any) -> Any:
        nonlocal replaced
        if isinstance(v, dict):
            return LMap(loc)
        if isinstance(v, list):
            return LList(loc)
        if isinstance(v, str) and not v.isascii():
            clean = without_surrogates(v)
            if clean != v:
                replaced += 1
            return clean
        return v

    root = wrap(value)
    stack = [(value, root)]
    while stack:
        source, target = stack.pop()
        pairs = source.items() if isinstance(source, dict) else enumerate(source) if isinstance(source, list) else ()
        for k, v in pairs:
            w = wrap(v)
            if isinstance(target, LMap):
                k = wrap(k)
                target[k] = w
                target.key_locs[k] = loc
                target.value_locs[k] = loc
            else:
                target.append(w)
                target.item_locs.append(loc)
            if isinstance(w, (LMap, LList)):
                stack.append((v, w))
    return root, replaced


def _chart_template(file: InputFile) -> bool:
    """A file under ``templates/`` of a Helm chart (a ``Chart.yaml`` beside ``templates``)."""
    path = file.real_path
    for parent in path.parents:
        if parent.name == "templates":
            return (parent.parent / "Chart.yaml").is_file() or (parent.parent / "Chart.yml").is_file()
    return False


def _template_finding(shown_path: str, where: Loc) -> Finding:
    return Finding(
        "INPUT001",
        f"unrendered Helm template ('{{{{' at line {where.line}): render it first "
        "(scan with --render, or helm template RELEASE CHART | kubematrix scan -); this file is not scanned",
        Loc(shown_path, where.line, where.col),
        detail="template",
    )


def _template_document_finding(shown_path: str, doc: ParsedDocument) -> Finding:
    hit = doc.template
    assert hit is not None
    # Its line may hold a secret if the document is a Secret or ConfigMap, or could not be read at all.
    kind = doc.data.get("kind") if isinstance(doc.data, dict) else None
    sensitive = doc.data is None or kind in ("Secret", "ConfigMap") or any(h.sensitive for h in doc.held)
    return Finding(
        "INPUT001",
        f"document {doc.index + 1} is an unrendered Helm template ({hit.placeholder} at line {hit.loc.line}): render "
        "it first (scan with --render, or helm template RELEASE CHART | kubematrix scan -); this document is not checked",
        Loc(shown_path, hit.loc.line, hit.loc.col),
        detail=f"template:doc:{doc.index}",
        sensitive=sensitive,
    )


# Kinds whose data may hold secrets (a ConfigMap often does, see SECRET002).
_SECRET_HOLDERS = re.compile(r"^kind:\s*[\"']?(?:Secret|ConfigMap)[\"']?\s*(?:#.*)?$", re.MULTILINE)


def _may_hold_secrets(shown_path: str, text: str) -> bool:
    """Whether a problem's line in this file may show a secret value: the file defines
    a Secret or ConfigMap, or is a Helm values file."""
    return bool(_SECRET_HOLDERS.search(text)) or _is_values_file(PurePosixPath(shown_path).name)


def parse_file(file: InputFile) -> tuple[list[ParsedDocument], list[Finding]]:
    """Read and parse one file.  Never raises for bad input.  Problems in a file that
    may hold secrets are marked ``sensitive`` (reports mask their line's value)."""
    text, problem = read_text(file)
    if text is None:
        return [], [problem] if problem else []
    documents, problems = _parse_text(file, text)
    if _may_hold_secrets(file.display, text):
        problems = [replace(p, sensitive=True) for p in problems]
        documents = [
            replace(d, held=tuple(replace(h, sensitive=True) for h in d.held)) if d.held else d for d in documents
        ]
    return documents, problems


def _parse_text(file: InputFile, text: str) -> tuple[list[ParsedDocument], list[Finding]]:
    if not text.strip():
        return [], []
    shown_path = file.display
    is_json = shown_path.lower().endswith(".json")
    result = parse_yaml_text(text, shown_path, json_mode=is_json)
    if "{{" in text and _chart_template(file):
        line = text.count("\n", 0, text.index("{{")) + 1
        return [], [_template_finding(shown_path, Loc(shown_path, line, 1))]
    if not is_json:
        return result.documents, result.problems
    # JSON: libyaml reads almost all JSON (with positions) but also accepts what
    # JSON does not (trailing commas, comments); strict readers (kubectl, the AWS
    # CLI) would reject those.  And a little valid JSON (very long keys, some
    # escapes) is beyond YAML: then the json module reads it, without positions.
    if any(p.rule_id == "INPUT001" and p.detail in ("depth", "values") for p in result.problems):
        return result.documents, result.problems  # refused for its size: do not read it a second time
    parse_failed = any(p.detail == "parse" for p in result.problems)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        where = Loc(shown_path, exc.lineno, exc.colno)
        if parse_failed:
            return [], [Finding("INPUT001", f"cannot parse JSON: {exc.msg}", where, detail="parse")]
        return result.documents, [
            Finding(
                "INPUT001",
                f"not valid JSON: {exc.msg}; strict JSON readers (kubectl, the AWS CLI) reject this "
                "file (it was read leniently, as YAML, for the other checks)",
                where,
                detail="json",
            ),
            *result.problems,
        ]
    except RecursionError:
        return [], [
            Finding(
                "INPUT001",
                f"cannot parse JSON: nesting is deeper than {MAX_DEPTH} levels",
                Loc(shown_path),
                detail="parse",
            )
        ]
    if parse_failed:
        located, replaced = _plain_to_located(data, Loc(shown_path))
        problems = (
            []
            if not replaced
            else [
                Finding(
                    "INPUT001",
                    "invalid Unicode escape (a lone surrogate) in a string; replaced by U+FFFD",
                    Loc(shown_path),
                    detail="surrogate",
                )
            ]
        )
        return [ParsedDocument(0, Loc(shown_path), located)], problems
    return result.documents, result.problems


def _kustomize_patches(documents: list[Document]) -> dict[str, str]:
    """Display paths of files that Kustomizations name as patches -> the Kustomization."""
    patches: dict[str, str] = {}
    for doc in documents:
        if doc.cls is not DocClass.KUSTOMIZATION or not isinstance(doc.data, dict):
            continue
        base = posixpath.dirname(doc.path)
        named: list[Any] = []
        for key in ("patchesStrategicMerge", "patches", "patchesJson6902"):
            entries = doc.data.get(key)
            if not isinstance(entries, list):
                continue
            for entry in entries:
                if isinstance(entry, str) and "\n" not in entry:
                    named.append(entry)  # a file name (an inline patch has several lines)
                elif isinstance(entry, dict) and isinstance(entry.get("path"), str):
                    named.append(entry["path"])
        for name in named:
            patches.setdefault(posixpath.normpath(posixpath.join(base, name)), doc.path)
    return patches


@dataclass(frozen=True, slots=True)
class Replacement:
    """What ``--render`` reads from rendered output instead of from the files
    (scanner/render.py decides it): absolute directories."""

    skip: tuple[Path, ...] = ()  # not read at all: a rendered chart's templates/ and charts/
    manifests: tuple[Path, ...] = ()  # rendered kustomizations: their Kubernetes documents are not read raw

    def skips(self, path: Path) -> bool:
        return _under(path, self.skip)

    def replaces_documents(self, path: Path) -> bool:
        return _under(path, self.manifests)


def _under(path: Path, directories: tuple[Path, ...]) -> bool:
    if not directories:
        return False
    absolute = Path(os.path.abspath(path))
    return any(absolute == d or d in absolute.parents for d in directories)


NO_REPLACEMENT = Replacement()
# The documents of a rendered kustomization's directory that kustomize's output replaces.
_RENDERED_CLASSES = (DocClass.KUBERNETES, DocClass.KUSTOMIZATION, DocClass.KUSTOMIZE_PATCH, DocClass.EMPTY)


def load(
    paths: list[Path],
    cwd: Path,
    exclude: tuple[str, ...] = (),
    streams: tuple[Stream, ...] = (),
    replacement: Replacement = NO_REPLACEMENT,
    progress: Progress | None = None,
) -> LoadResult:
    """Discover, read, parse and classify everything under ``paths``; ``progress``
    (``stage, done, total``) hears of each file read.

    Loading allocates millions of small, acyclic objects; Python's cyclic garbage
    collector would repeatedly walk all of them for nothing (a third of the loading
    time on large trees), so it is paused while loading and restored afterwards.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _load(paths, cwd, exclude, streams, replacement, progress)
    finally:
        if was_enabled:
            gc.enable()


def _load(
    paths: list[Path],
    cwd: Path,
    exclude: tuple[str, ...],
    streams: tuple[Stream, ...],
    replacement: Replacement,
    progress: Progress | None,
) -> LoadResult:
    discovery = discover(paths, cwd, exclude)
    result = LoadResult(problems=list(discovery.problems), excluded=list(discovery.excluded))
    files = [f for f in discovery.files if not replacement.skips(f.real_path)]
    result.replaced.extend(f.display for f in discovery.files if replacement.skips(f.real_path))
    for file, (parsed, problems) in zip(files, parse_files(files, progress), strict=True):
        result.files.append(file.display)
        result.sources[file.display] = file.real_path
        _add_parsed(result, file.display, parsed, problems)
    if replacement.manifests:
        _drop_rendered(result, replacement)  # before the rendered output joins under the same paths
    for stream in streams:
        _add_stream(result, stream, cwd)
    patches = _kustomize_patches(result.documents)
    for i, doc in enumerate(result.documents):
        if doc.path in patches and doc.cls in (DocClass.KUBERNETES, DocClass.OTHER):
            result.documents[i] = replace(doc, cls=DocClass.KUSTOMIZE_PATCH)
    result.problems += _unapplied_kustomizations(result.documents)
    for doc in result.documents:
        _objects_of(doc, result)
    return result


# Above this many files a second process parses part of them; below it, start-up and
# moving the results between processes cost more than they save.
PARALLEL_MIN_FILES = 300
# Share of the files the main process parses itself: the worker also pickles what it
# parsed (about as long as parsing it) and the main process unpickles it (a quarter of
# that).  Measured on the 10,000-document bench tree, 2 cores (parse_files alone,
# best of 3): all in one process 2.18 s; share 0.6 2.23 s, 0.65 1.89 s, 0.7 1.90 s,
# 0.75 2.03 s, 0.8 2.12 s.
MAIN_SHARE = 0.67


def _workers() -> int:
    """Helper processes for parsing: ``KUBEMATRIX_JOBS`` (1: none) or the CPUs available,
    on platforms that fork (the children inherit everything, nothing is re-imported)."""
    import multiprocessing
    import os
    import sys

    if sys.platform != "linux" or "fork" not in multiprocessing.get_all_start_methods():
        return 0
    wanted = os.environ.get("KUBEMATRIX_JOBS", "")
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    jobs = int(wanted) if wanted.isdigit() and int(wanted) > 0 else cpus
    return max(0, min(jobs, cpus, 8) - 1)


Parsed = tuple[list[ParsedDocument], list[Finding]]


def _parse_chunk(files: list[InputFile], progress: Progress | None = None, total: int = 0) -> list[Parsed]:
    if progress is None:
        return [parse_file(f) for f in files]
    out = []
    for f in files:
        out.append(parse_file(f))
        progress("reading files", len(out), total)
    return out


def parse_files(files: list[InputFile], progress: Progress | None = None) -> list[Parsed]:
    """``parse_file`` for every file, in order; on a large tree with more than one CPU,
    part of the files in forked worker processes.  The same results either way; a
    worker that fails (killed, out of memory) is replaced by parsing in this process.
    ``progress`` hears of every file parsed here, and of each worker's share at once."""
    workers = _workers() if len(files) >= PARALLEL_MIN_FILES else 0
    if workers == 0:
        return _parse_chunk(files, progress, len(files))
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    mine = int(len(files) * (MAIN_SHARE if workers == 1 else 1 / (workers + 1)))
    rest = files[mine:]
    size = -(-len(rest) // workers)
    chunks = [rest[i : i + size] for i in range(0, len(rest), size)]
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork")) as pool:
        futures = [pool.submit(_parse_chunk, chunk) for chunk in chunks]
        out = _parse_chunk(files[:mine], progress, len(files))
        for chunk, future in zip(chunks, futures, strict=True):
            try:
                out += future.result()
            except Exception:
                out += _parse_chunk(chunk)
            if progress is not None:
                progress("reading files", len(out), len(files))
    return out


def _drop_rendered(result: LoadResult, replacement: Replacement) -> None:
    """Documents of a rendered kustomization's directory that its output replaces: kustomize
    applies only what the kustomization names, so a manifest there that it does not name
    is not deployed either.  A file left with nothing else (and no problem) was rendered
    instead of read."""
    raw = {f for f in result.files if replacement.replaces_documents(result.sources[f])}
    if not raw:
        return
    result.documents = [d for d in result.documents if not (d.path in raw and d.cls in _RENDERED_CLASSES)]
    kept = {d.path for d in result.documents} | {p.loc.path for p in result.problems}
    gone = raw - kept
    result.files = [f for f in result.files if f not in gone]
    result.replaced = sorted([*result.replaced, *gone])  # their sources stay: output mapped there lives there


def _unapplied_kustomizations(documents: list[Document]) -> list[Finding]:
    """INPUT007 at every kustomization file read as a file: its overlay is not applied."""
    out = []
    for doc in documents:
        name = PurePosixPath(doc.path).name
        if doc.cls is not DocClass.KUSTOMIZATION or name not in _KUSTOMIZATION_NAMES:
            continue
        directory = posixpath.dirname(doc.path) or "."
        out.append(
            Finding(
                "INPUT007",
                "this Kustomization is not applied: the files it names are checked as written, without its namespace, "
                "name prefixes, labels, patches and generators, so they may not be what is deployed; render it: "
                f"kubectl kustomize {directory} | kubematrix scan -, or scan with --render",
                doc.loc,
                subject=doc.path,
                detail="kustomization",
            )
        )
    return out


def _add_parsed(
    result: LoadResult, shown: str, parsed: list[ParsedDocument], problems: list[Finding], stream: Stream | None = None
) -> int:
    """Add one file's (or stream's) documents; how many."""
    result.problems.extend(problems)
    added = 0
    if not parsed and not any(p.rule_id in ("INPUT001", "INPUT004") for p in problems):
        result.documents.append(Document(shown, 0, Loc(shown), None, DocClass.EMPTY))
    rendered = stream is not None and bool(stream.origin)
    for p in parsed:
        path = p.loc.path or shown  # a rendered stream's documents carry their template's path
        cls = classify(path, p.data, by_name=stream is None)
        if rendered and p.data is not None:
            p = replace(p, template=None)  # a renderer's output holds no template: '{{' there is data
        if p.template is not None and cls not in (DocClass.HELM_VALUES, DocClass.HELM_CHART):
            # One finding per unrendered document; its content is not judged.
            result.problems.append(_template_document_finding(path, p))
            continue
        result.problems.extend(p.held)  # values files may legitimately hold '{{ }}' strings
        if p.data is None and p.template is not None:
            continue
        result.documents.append(Document(path, p.index, p.loc, p.data, cls, stream.namespace if stream else None))
        added += 1
    return added


@dataclass(frozen=True, slots=True)
class Stream:
    """Manifests that are not files of the tree: stdin (``scan -``) or the output of
    ``helm template`` / ``kubectl kustomize`` (``--render``).  ``marks`` move each
    document to the file it was rendered from (loader/rendered.py)."""

    display: str  # "stdin", or the file a renderer's output is mapped to (its kustomization.yaml)
    text: str
    marks: tuple = ()
    origin: str = ""  # the command that rendered it (--render); "" for stdin
    namespace: str | None = None  # for its objects that name none (helm --namespace)
    problems: tuple[Finding, ...] = ()  # why rendering failed (located at the chart or kustomization)


@dataclass(frozen=True, slots=True)
class RenderedOutput:
    """What one ``--render`` command contributed, for the reports."""

    command: str
    documents: int
    failed: bool


def _add_stream(result: LoadResult, stream: Stream, cwd: Path) -> None:
    from .rendered import relocate

    parsed, problems = _parse_text(InputFile(Path(stream.display), stream.display), stream.text)
    parsed, problems = relocate(parsed, problems, list(stream.marks))
    problems = [*problems, *stream.problems]
    paths = sorted(
        {p.loc.path for p in parsed} | {p.loc.path for p in problems} | ({stream.display} if not parsed else set())
    )
    listed = set(result.files)
    for path in paths:
        if path not in listed:
            result.files.append(path)
        # where it lives, or would: policy discovery goes by directory
        result.sources.setdefault(path, cwd / path)
        result.rendered.add(path)
    added = _add_parsed(result, stream.display, parsed, problems, stream)
    if stream.origin:
        result.outputs.append(RenderedOutput(stream.origin, added, bool(stream.problems)))


def _objects_of(doc: Document, result: LoadResult) -> None:
    data = doc.data
    if doc.cls is DocClass.KUBERNETES and isinstance(data, LMap):
        result.objects.extend(expand_objects(doc, result.problems))
        return
    if doc.cls is not DocClass.OTHER:
        return
    if isinstance(data, LMap):
        kind, api = data.get("kind"), data.get("apiVersion")
        if isinstance(kind, str) and kind in _KNOWN_KINDS and not (isinstance(api, str) and api):
            result.problems.append(
                Finding(
                    "INPUT002",
                    f"a {kind} without a string apiVersion: Kubernetes cannot read it, so it is not checked",
                    data.loc_of("apiVersion") if "apiVersion" in data else data.loc_of("kind"),
                    detail="apiVersion",
                )
            )
        elif "apiVersion" in data and "kind" in data and not (isinstance(kind, str) and kind):
            result.problems.append(
                Finding(
                    "INPUT002",
                    f"'kind' must be a non-empty string, not {_what(kind)}; the object is not checked",
                    data.loc_of("kind"),
                    detail="kind",
                )
            )
    elif isinstance(data, LList):
        items = [x for x in data if isinstance(x, LMap)]
        if (
            data
            and len(items) == len(data)
            and all(isinstance(x.get("apiVersion"), str) and isinstance(x.get("kind"), str) for x in items)
        ):
            result.problems.append(
                Finding(
                    "INPUT002",
                    f"document {doc.index + 1} is a bare list of Kubernetes objects, which kubectl "
                    "does not accept: write them as separate documents (---) or as a 'kind: List' with "
                    "'items'; they are checked anyway",
                    data.loc,
                    detail=f"doc:{doc.index}:bare-list",
                )
            )
            wrapped = LMap(data.loc)
            wrapped["apiVersion"], wrapped["kind"], wrapped["items"] = "v1", "List", data
            wrapped.value_locs["items"] = data.loc
            result.objects.extend(
                expand_objects(Document(doc.path, doc.index, doc.loc, wrapped, DocClass.KUBERNETES), result.problems)
            )
    else:
        result.problems.append(
            Finding(
                "INPUT002",
                f"document {doc.index + 1} is {_what(data)}, not a mapping: not a Kubernetes "
                "object or any configuration this scan reads",
                doc.loc,
                detail=f"doc:{doc.index}:scalar",
            )
        )
