"""Turn files into classified, located documents and Kubernetes objects."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path, PurePosixPath
from typing import Any

from ..findings import Finding
from ..located import LList, LMap, Loc
from .files import InputFile, discover, read_text
from .yamltext import ParsedDocument, parse_yaml_text


class DocClass(str, Enum):
    KUBERNETES = "kubernetes"
    KUSTOMIZATION = "kustomization"
    HELM_VALUES = "helm-values"
    HELM_CHART = "helm-chart"
    S3_LIFECYCLE = "s3-lifecycle"
    CI_WORKFLOW = "ci-workflow"
    KUBEMATRIX_POLICY = "kubematrix-policy"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Document:
    path: str
    index: int
    loc: Loc
    data: Any
    cls: DocClass


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

    def by_class(self, cls: DocClass) -> list[Document]:
        return [d for d in self.documents if d.cls is cls]


_VALUES_NAME = re.compile(r"^values([-_.].*)?\.ya?ml$", re.IGNORECASE)
_LIFECYCLE_KEYS = {"Expiration", "Filter", "Prefix", "Transitions", "NoncurrentVersionExpiration", "ID", "Status"}


def classify(path: str, data: Any) -> DocClass:
    """Decide what a document is.  Order matters: Kubernetes objects are recognised
    by their shape wherever they live; the rest by shape and conventional names."""
    name = PurePosixPath(path).name
    if isinstance(data, dict):
        api, kind = data.get("apiVersion"), data.get("kind")
        if kind == "Kustomization" or name in ("kustomization.yaml", "kustomization.yml", "Kustomization"):
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
        if _VALUES_NAME.match(name):
            return DocClass.HELM_VALUES
    return DocClass.OTHER


def _name_loc(body: LMap) -> Loc:
    meta = body.get("metadata")
    if isinstance(meta, LMap):
        return meta.loc_of("name") if "name" in meta else meta.loc
    return body.loc


def _as_object(body: LMap, api: str, kind: str) -> KubeObject:
    meta = body.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    namespace = meta.get("namespace") if isinstance(meta, dict) else None
    return KubeObject(
        api_version=api,
        kind=kind,
        name=str(name) if name is not None else "",
        namespace=str(namespace) if isinstance(namespace, (str, int)) and str(namespace) else None,
        body=body,
        loc=_name_loc(body),
    )


def expand_objects(doc: Document, problems: list[Finding]) -> list[KubeObject]:
    """A Kubernetes document, with ``kind: List`` and typed lists (``PodList``) expanded.
    Items of typed lists from ``kubectl get -o yaml`` may omit ``kind``: it is the list's kind
    minus ``List``."""
    body = doc.data
    kind = str(body.get("kind"))
    api = str(body.get("apiVersion"))
    if not kind.endswith("List"):
        return [_as_object(body, api, kind)]
    items = body.get("items")
    if items is None:
        return []
    if not isinstance(items, list):
        problems.append(Finding("INPUT002", f"{kind}: 'items' must be a list", body.loc_of("items"), detail="items"))
        return []
    implied = kind[: -len("List")] if kind != "List" else None
    out: list[KubeObject] = []
    for i, item in enumerate(items):
        item_loc = items.loc_of(i) if isinstance(items, LList) else body.loc
        if not isinstance(item, LMap):
            problems.append(Finding("INPUT002", f"{kind} item {i} is not an object", item_loc, detail=f"item:{i}"))
            continue
        item_kind = item.get("kind", implied)
        item_api = item.get("apiVersion", api)
        if not isinstance(item_kind, str) or not isinstance(item_api, str):
            problems.append(
                Finding("INPUT002", f"{kind} item {i} has no 'kind'/'apiVersion'", item_loc, detail=f"item:{i}")
            )
            continue
        if item_kind.endswith("List"):
            nested = Document(doc.path, doc.index, item.loc, item, DocClass.KUBERNETES)
            out.extend(expand_objects(nested, problems))
        else:
            out.append(_as_object(item, item_api, item_kind))
    return out


def _plain_to_located(value: Any, loc: Loc) -> Any:
    """Wrap data from the json module (no positions) so the model can treat it uniformly."""
    if isinstance(value, dict):
        out = LMap(loc)
        for k, v in value.items():
            out[k] = _plain_to_located(v, loc)
        return out
    if isinstance(value, list):
        seq = LList(loc)
        for v in value:
            seq.append(_plain_to_located(v, loc))
            seq.item_locs.append(loc)
        return seq
    return value


def parse_file(file: InputFile) -> tuple[list[ParsedDocument], list[Finding]]:
    text, problem = read_text(file)
    if text is None:
        return [], [problem] if problem else []
    if not text.strip():
        return [], []
    result = parse_yaml_text(text, file.display)
    if file.display.lower().endswith(".json") and any(p.detail == "parse" for p in result.problems):
        # PyYAML rejects a little valid JSON (e.g. some escapes); the json module
        # also words JSON mistakes (trailing commas) better.
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            return [], [Finding("INPUT001", f"cannot parse JSON: {exc.msg}", Loc(file.display, exc.lineno, exc.colno), detail="parse")]
        return [ParsedDocument(0, Loc(file.display), _plain_to_located(data, Loc(file.display)))], []
    return result.documents, result.problems


def load(paths: list[Path], cwd: Path) -> LoadResult:
    discovery = discover(paths, cwd)
    result = LoadResult(problems=list(discovery.problems))
    for file in discovery.files:
        result.files.append(file.display)
        parsed, problems = parse_file(file)
        result.problems.extend(problems)
        for p in parsed:
            if p.data is None:
                continue
            cls = classify(file.display, p.data)
            doc = Document(file.display, p.index, p.loc, p.data, cls)
            result.documents.append(doc)
            if cls is DocClass.KUBERNETES:
                if not isinstance(p.data, LMap):
                    continue
                result.objects.extend(expand_objects(doc, result.problems))
            elif cls is DocClass.OTHER and not isinstance(p.data, (dict, list)):
                result.problems.append(
                    Finding(
                        "INPUT002",
                        f"document {p.index + 1} is a bare {type(p.data).__name__}, not an object",
                        p.loc,
                        detail=f"doc:{p.index}",
                    )
                )
    return result
