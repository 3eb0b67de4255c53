"""The located loader: positions, lists, JSON, classification, safety, discovery.

Hostile and malformed input has its own suite in ``tests/hostile/``; this file
pins down what the loader does with ordinary input, exactly.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
from pathlib import Path

import pytest
import yaml

from scanner.loader import yamltext
from scanner.loader.documents import DocClass, classify, load, parse_file
from scanner.loader.files import InputFile, discover
from scanner.loader.yamltext import loader_name, parse_yaml_text
from scanner.located import LList, LMap, Loc
from scanner.model.build import build_model

REPO = Path(__file__).resolve().parent.parent


def write(root: Path, name: str, text: str) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def plain(value):
    """Located values as plain Python, for comparisons."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


@pytest.fixture(params=["CSafeLoader", "SafeLoader"])
def each_loader(request, monkeypatch):
    """Run a test with libyaml and with the pure-Python fallback: results must not differ."""
    if request.param == "CSafeLoader" and not yaml.__with_libyaml__:
        pytest.skip("PyYAML built without libyaml")
    monkeypatch.setattr(yamltext, "_Loader", getattr(yaml, request.param))
    return request.param


# ----------------------------------------------------------------------------- parser choice and safety


def test_libyaml_is_used_when_available():
    if not yaml.__with_libyaml__:
        pytest.skip("PyYAML built without libyaml: the pure-Python SafeLoader is the documented fallback")
    assert loader_name() == "CSafeLoader"
    assert yamltext._Loader is yaml.CSafeLoader


def test_only_safe_loaders_can_be_used():
    assert issubclass(yamltext._Loader, (yaml.CSafeLoader, yaml.SafeLoader)) or yamltext._Loader in (
        yaml.CSafeLoader,
        yaml.SafeLoader,
    )


def test_no_unsafe_yaml_api_anywhere_in_the_scanner():
    """Nothing in the package may construct arbitrary objects from YAML."""
    unsafe = re.compile(
        r"yaml\.(?:load|load_all|unsafe_load|unsafe_load_all|full_load|full_load_all)\s*\("
        r"|Loader\s*=\s*yaml\.(?:Loader|UnsafeLoader|FullLoader|CLoader|CFullLoader|CUnsafeLoader)\b"
        r"|yaml\.(?:Loader|UnsafeLoader|FullLoader|CLoader|CUnsafeLoader|CFullLoader)\s*\("
    )
    offenders = []
    for path in sorted((REPO / "scanner").rglob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if unsafe.search(line):
                offenders.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert offenders == []


def test_parser_results_match_pyyaml_safe_load_on_every_yaml_file_in_the_repo(each_loader):
    """Our event-driven composer reads exactly what yaml.safe_load reads (timestamps and
    binary stay text, as Kubernetes reads them)."""

    def norm(v):
        if isinstance(v, dict):
            return {k: norm(x) for k, x in v.items()}
        if isinstance(v, list):
            return [norm(x) for x in v]
        if isinstance(v, (_dt.date, _dt.datetime, bytes)):
            return "<text>"
        return v

    def ours_norm(v, ref):
        if isinstance(ref, dict) and isinstance(v, dict):
            return {k: ours_norm(x, ref.get(k)) for k, x in v.items()}
        if isinstance(ref, list) and isinstance(v, list):
            return [ours_norm(x, r) for x, r in zip(v, ref, strict=False)] + [plain(x) for x in v[len(ref) :]]
        if isinstance(ref, (_dt.date, _dt.datetime, bytes)):
            return "<text>" if isinstance(v, str) else v
        return plain(v)

    compared = 0
    for path in sorted(REPO.rglob("*.y*ml")):
        if "INPUT001" in path.parts or ".git" in path.parts or path.is_symlink():
            continue
        try:
            text = path.read_text(encoding="utf-8")
            ref = list(yaml.load_all(text, Loader=yaml.SafeLoader))
        except (UnicodeDecodeError, yaml.YAMLError):
            continue
        result = parse_yaml_text(text, path.name)
        got = [ours_norm(d.data, r) for d, r in zip(result.documents, ref, strict=True)]
        assert got == [norm(r) for r in ref], path
        compared += 1
    assert compared > 50


def test_anchors_aliases_and_merge_keys_behave_like_pyyaml(each_loader):
    text = (
        "base: &base {a: 1, b: 2}\n"
        "other: &other {b: 20, c: 30}\n"
        "merged:\n"
        "  <<: [*base, *other]\n"
        "  c: 300\n"
        "shared: *base\n"
    )
    ours = plain(parse_yaml_text(text, "m.yaml").documents[0].data)
    assert ours == yaml.safe_load(text)
    assert ours["merged"] == {"a": 1, "b": 2, "c": 300}


@pytest.mark.parametrize(
    "scalar, expected",
    [
        ("yes", True),
        ("off", False),
        ("~", None),
        ("", None),
        ("0x1F", 31),
        ("010", 8),
        ("1_000", 1000),
        ("1.5e+3", 1500.0),
        ("1e3", "1e3"),
        ("1:30", 90),
        (".inf", float("inf")),
        ("2024-01-31", "2024-01-31"),
        ("'123'", "123"),
        ('"true"', "true"),
        ("!!str 80", "80"),
        ("!!int '42'", 42),
        ("1" * 200, "1" * 200),
    ],
)
def test_plain_scalars_are_read_as_yaml_1_1_like_kubernetes(scalar, expected, each_loader):
    data = parse_yaml_text(f"v: {scalar}\n", "m.yaml").documents[0].data
    assert data["v"] == expected and type(data["v"]) is type(expected)


def test_json_files_use_json_scalar_rules(tmp_path):
    path = write(tmp_path, "x.json", '{"n": 1e3, "y": "yes", "t": true, "z": null, "f": -0.5}')
    docs, problems = parse_file(InputFile(path, "x.json"))
    assert problems == []
    assert plain(docs[0].data) == {"n": 1000.0, "y": "yes", "t": True, "z": None, "f": -0.5}


# ----------------------------------------------------------------------------- positions


MULTI = """\
# leading comment
apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: shop
spec:
  template:
    spec:
      containers:
      - name: app
        image: example/api:1.0
        securityContext:
          runAsUser: 1000
          capabilities:
            drop: [ALL, NET_RAW]
---
---
apiVersion: v1
kind: Service
metadata:
  name: api
"""


def test_line_and_column_of_every_key_and_value_through_a_multi_document_file(tmp_path, each_loader):
    write(tmp_path, "all.yaml", MULTI)
    result = load([tmp_path], tmp_path)
    assert [(d.index, d.loc.line, d.cls) for d in result.documents] == [
        (0, 2, DocClass.KUBERNETES),
        (1, 7, DocClass.KUBERNETES),
        (2, 22, DocClass.EMPTY),
        (3, 24, DocClass.KUBERNETES),
    ]
    ns, deploy, service = result.objects
    assert (ns.kind, ns.loc) == ("Namespace", Loc("all.yaml", 5, 9))
    assert (deploy.kind, deploy.loc) == ("Deployment", Loc("all.yaml", 10, 9))
    assert (service.kind, service.loc) == ("Service", Loc("all.yaml", 27, 9))
    container = deploy.body["spec"]["template"]["spec"]["containers"][0]
    assert container.loc == Loc("all.yaml", 16, 9)
    assert container.key_loc("image") == Loc("all.yaml", 17, 9)
    assert container.loc_of("image") == Loc("all.yaml", 17, 16)
    sc = container["securityContext"]
    assert sc.loc_of("runAsUser") == Loc("all.yaml", 19, 22)
    drop = sc["capabilities"]["drop"]
    assert isinstance(drop, LList) and drop.loc == Loc("all.yaml", 21, 19)
    assert [drop.loc_of(0), drop.loc_of(1)] == [Loc("all.yaml", 21, 20), Loc("all.yaml", 21, 25)]
    assert deploy.body["spec"]["template"]["spec"]["containers"].loc_of(0) == Loc("all.yaml", 16, 9)


def test_positions_in_json_files(tmp_path, each_loader):
    write(
        tmp_path,
        "lifecycle.json",
        '{\n  "Rules": [\n    {\n      "ID": "expire",\n      "Expiration": {"Days": 7}\n    }\n  ]\n}\n',
    )
    result = load([tmp_path], tmp_path)
    (doc,) = result.documents
    assert doc.cls is DocClass.S3_LIFECYCLE
    rule = doc.data["Rules"][0]
    assert rule.loc_of("ID") == Loc("lifecycle.json", 4, 13)
    assert rule["Expiration"].loc_of("Days") == Loc("lifecycle.json", 5, 30)
    assert result.problems == []


def test_nested_values_keep_their_positions_at_any_depth(each_loader):
    text = "a:\n  b:\n    - c:\n        d: [1, {e: x}]\n"
    data = parse_yaml_text(text, "n.yaml").documents[0].data
    d = data["a"]["b"][0]["c"]["d"]
    assert d.loc == Loc("n.yaml", 4, 12)
    assert d.loc_of(1) == Loc("n.yaml", 4, 16) and d[1].loc_of("e") == Loc("n.yaml", 4, 20)
    assert data["a"]["b"].loc_of(0) == Loc("n.yaml", 3, 7)


def test_a_missing_key_points_at_the_objects_metadata_name_line(tmp_path):
    write(
        tmp_path,
        "job.yaml",
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  labels: {a: b}\n  name: nightly\nspec:\n  backoffLimit: 1\n",
    )
    result = load([tmp_path], tmp_path)
    (obj,) = result.objects
    assert obj.loc == Loc("job.yaml", 5, 9)
    model = build_model(result.objects)
    (problem,) = [p for p in model.problems if p.rule_id == "INPUT002"]
    assert problem.loc == Loc("job.yaml", 5, 9) and "'spec.template' is missing" in problem.message


def test_an_object_without_metadata_name_is_reported_at_its_metadata(tmp_path):
    write(
        tmp_path,
        "pod.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  namespace: shop\nspec:\n  containers: [{name: a, image: b}]\n",
    )
    result = load([tmp_path], tmp_path)
    (problem,) = result.problems
    assert (problem.rule_id, problem.loc.line, problem.message) == ("INPUT002", 4, "Pod: metadata.name is missing")


# ----------------------------------------------------------------------------- lists


def test_kind_list_items_become_objects_with_their_own_positions(tmp_path, each_loader):
    write(
        tmp_path,
        "list.yaml",
        "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: one\n"
        "- apiVersion: v1\n  kind: Secret\n  metadata:\n    name: two\n    namespace: shop\n",
    )
    result = load([tmp_path], tmp_path)
    assert [(o.kind, o.name, o.namespace, o.loc.line) for o in result.objects] == [
        ("ConfigMap", "one", None, 7),
        ("Secret", "two", "shop", 11),
    ]
    assert result.problems == []


def test_typed_lists_supply_the_kind_their_items_omit(tmp_path):
    write(
        tmp_path,
        "pods.yaml",
        "apiVersion: v1\nkind: PodList\nmetadata: {resourceVersion: '1'}\nitems:\n"
        "- metadata:\n    name: a\n    namespace: shop\n  spec:\n    containers: [{name: c, image: i}]\n"
        "- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: b\n    namespace: shop\n  spec:\n    containers: [{name: c, image: i}]\n",
    )
    result = load([tmp_path], tmp_path)
    assert [(o.api_version, o.kind, o.name, o.loc.line) for o in result.objects] == [
        ("v1", "Pod", "a", 6),
        ("v1", "Pod", "b", 13),
    ]
    model = build_model(result.objects)
    assert [w.ref for w in model.workloads] == ["shop/a", "shop/b"]


def test_nested_lists_and_broken_items_are_reported_not_dropped(tmp_path):
    write(
        tmp_path,
        "nested.yaml",
        "apiVersion: v1\nkind: List\nitems:\n"
        "- apiVersion: v1\n  kind: List\n  items:\n  - {apiVersion: v1, kind: ConfigMap, metadata: {name: inner}}\n"
        "- just text\n"
        "- {metadata: {name: kindless}}\n",
    )
    result = load([tmp_path], tmp_path)
    assert [o.name for o in result.objects] == ["inner"]
    assert sorted((p.rule_id, p.loc.line) for p in result.problems) == [("INPUT002", 8), ("INPUT002", 9)]


def test_a_kind_ending_in_list_without_items_is_an_ordinary_object(tmp_path):
    write(
        tmp_path,
        "crd.yaml",
        "apiVersion: example.com/v1\nkind: AllowList\nmetadata:\n  name: ips\nspec:\n  cidrs: [10.0.0.0/8]\n",
    )
    result = load([tmp_path], tmp_path)
    assert [(o.kind, o.name) for o in result.objects] == [("AllowList", "ips")]


def test_a_bare_top_level_list_of_objects_is_reported_and_still_checked(tmp_path):
    write(tmp_path, "bare.yaml", "- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: a}\n")
    result = load([tmp_path], tmp_path)
    assert [o.name for o in result.objects] == ["a"]
    assert [(p.rule_id, p.loc.line) for p in result.problems] == [("INPUT002", 1)]


# ----------------------------------------------------------------------------- duplicates


def test_duplicate_keys_keep_the_last_value_and_are_reported_at_the_repeat(each_loader):
    result = parse_yaml_text("a: 1\nb: 2\na: 3\n", "d.yaml")
    assert plain(result.documents[0].data) == {"a": 3, "b": 2}
    (problem,) = result.problems
    assert (problem.rule_id, problem.loc, "first at line 1" in problem.message) == (
        "INPUT003",
        Loc("d.yaml", 3, 1),
        True,
    )
    assert result.documents[0].data.loc_of("a") == Loc("d.yaml", 3, 4)


# ----------------------------------------------------------------------------- classification


@pytest.mark.parametrize(
    "path, text, expected",
    [
        ("k8s/deploy.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n", DocClass.KUBERNETES),
        ("charts/loki/values.yaml", "loki:\n  enabled: true\n", DocClass.HELM_VALUES),
        ("env/values-prod.yaml", "replicas: 3\n", DocClass.HELM_VALUES),
        ("charts/loki/Chart.yaml", "apiVersion: v2\nname: loki\nversion: 1.0.0\n", DocClass.HELM_CHART),
        ("overlays/prod/kustomization.yaml", "resources: [../../base]\n", DocClass.KUSTOMIZATION),
        (
            "base/kustomization.yaml",
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [a.yaml]\n",
            DocClass.KUSTOMIZATION,
        ),
        (
            "infra/s3/lifecycle.json",
            '{"Rules": [{"ID": "x", "Status": "Enabled", "Expiration": {"Days": 7}}]}',
            DocClass.S3_LIFECYCLE,
        ),
        (".github/workflows/ci.yml", "on: [push]\njobs:\n  test:\n    runs-on: ubuntu-latest\n", DocClass.CI_WORKFLOW),
        ("ci/pipeline.yml", "on:\n  push: {}\njobs: {}\n", DocClass.CI_WORKFLOW),
        ("kubematrix.yaml", "apiVersion: kubematrix.dev/v1\nkind: Policy\n", DocClass.KUBEMATRIX_POLICY),
        ("docs/notes.yaml", "title: notes\n", DocClass.OTHER),
        ("myvalues.yaml", "a: 1\n", DocClass.OTHER),
    ],
)
def test_non_kubernetes_yaml_is_loaded_and_classified_not_rejected(tmp_path, path, text, expected):
    write(tmp_path, path, text)
    result = load([tmp_path], tmp_path)
    assert [(d.path, d.cls) for d in result.documents] == [(path, expected)]
    # a kustomization read as a file is not applied, which is said (INPUT007, a note)
    unapplied = expected is DocClass.KUSTOMIZATION
    assert [(p.rule_id, p.loc.path) for p in result.problems] == ([("INPUT007", path)] if unapplied else [])
    assert result.objects == ([] if expected is not DocClass.KUBERNETES else result.objects)


def test_the_bundled_example_is_classified_completely():
    result = load([REPO / "fixtures" / "blog-system"], REPO)
    classes = {d.path.split("fixtures/blog-system/")[1]: d.cls for d in result.documents}
    assert classes["docs/helm/loki-stack/values.yaml"] is DocClass.HELM_VALUES
    assert classes["infra/s3/mysql-backup-lifecycle.json"] is DocClass.S3_LIFECYCLE
    assert classes[".github/workflows/ci.yml"] is DocClass.CI_WORKFLOW
    assert classes["kubematrix.yaml"] is DocClass.KUBEMATRIX_POLICY
    assert result.problems == []


def test_kustomize_patches_are_classified_and_never_checked_as_complete_objects(tmp_path):
    write(
        tmp_path,
        "base/deploy.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api}\nspec:\n  template:\n"
        "    spec:\n      containers: [{name: a, image: b}]\n",
    )
    write(tmp_path, "base/kustomization.yaml", "resources: [deploy.yaml]\n")
    write(
        tmp_path,
        "prod/kustomization.yaml",
        "resources: [../base]\npatchesStrategicMerge: [replicas.yaml]\npatches:\n"
        "- path: limits.yaml\n  target: {kind: Deployment}\n- patch: |-\n    - op: remove\n"
        "      path: /spec/x\n",
    )
    write(
        tmp_path,
        "prod/replicas.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api}\nspec: {replicas: 5}\n",
    )
    write(tmp_path, "prod/limits.yaml", "- op: add\n  path: /spec/template/spec/containers/0/resources\n  value: {}\n")
    result = load([tmp_path], tmp_path)
    classes = {d.path: d.cls for d in result.documents}
    assert classes["prod/replicas.yaml"] is DocClass.KUSTOMIZE_PATCH
    assert classes["prod/limits.yaml"] is DocClass.KUSTOMIZE_PATCH
    assert [(o.kind, o.name, o.loc.path) for o in result.objects] == [("Deployment", "api", "base/deploy.yaml")]
    model = build_model(result.objects)
    assert model.problems == [] and [w.ref for w in model.workloads] == ["default/api"]


def test_classify_never_fails_on_odd_top_level_values():
    for value in (None, 1, "x", [1], {1: 2}, {"apiVersion": 1, "kind": ["Pod"]}, {None: None, True: "x"}):
        assert isinstance(classify("a.yaml", value), DocClass)


# ----------------------------------------------------------------------------- discovery


def test_directories_are_walked_recursively_in_a_stable_order_and_git_is_skipped(tmp_path):
    for name in (
        "b/two.yml",
        "a/one.yaml",
        "c/three.JSON",
        "a/.git/config.yaml",
        ".git/HEAD.yaml",
        "notes.txt",
        "a/z/deep.YAML",
    ):
        write(tmp_path, name, "{}\n")
    found = discover([tmp_path], tmp_path)
    assert [f.display for f in found.files] == ["a/one.yaml", "a/z/deep.YAML", "b/two.yml", "c/three.JSON"]
    assert found.problems == []


def test_a_file_named_on_the_command_line_is_read_whatever_its_extension(tmp_path):
    path = write(tmp_path, "manifest.txt", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    result = load([path], tmp_path)
    assert [o.name for o in result.objects] == ["x"]


def test_overlapping_paths_scan_each_file_once(tmp_path):
    write(tmp_path, "k8s/a.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    result = load([tmp_path, tmp_path / "k8s", tmp_path / "k8s" / "a.yaml"], tmp_path)
    assert result.files == ["k8s/a.yaml"] and len(result.objects) == 1


def test_paths_are_relative_to_the_working_directory_else_to_the_scanned_root(tmp_path):
    write(tmp_path, "repo/k8s/a.yaml", "{}\n")
    assert [f.display for f in discover([tmp_path / "repo" / "k8s"], tmp_path / "repo").files] == ["k8s/a.yaml"]
    assert [f.display for f in discover([tmp_path / "repo" / "k8s"], tmp_path / "elsewhere").files] == ["a.yaml"]


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links on this platform")
def test_never_follows_a_symlink_out_of_the_scanned_root(tmp_path):
    outside = tmp_path / "outside"
    write(outside, "secret.yaml", "apiVersion: v1\nkind: Secret\nmetadata: {name: leaked}\n")
    root = tmp_path / "root"
    write(root, "ok.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n")
    os.symlink(outside / "secret.yaml", root / "file-link.yaml")
    os.symlink(outside, root / "dir-link")
    result = load([root], root)
    assert [o.name for o in result.objects] == ["ok"]
    assert result.files == ["ok.yaml"]
    assert sorted((p.rule_id, p.loc.path, p.message) for p in result.problems) == [
        ("INPUT004", "dir-link", "symbolic link points outside the scanned tree; not followed"),
        ("INPUT004", "file-link.yaml", "symbolic link points outside the scanned tree; not followed"),
    ]


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links on this platform")
def test_a_link_inside_the_tree_is_redundant_and_passes_quietly(tmp_path):
    write(tmp_path, "real/a.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n")
    os.symlink("real/a.yaml", tmp_path / "alias.yaml")
    os.symlink("real", tmp_path / "alias-dir")
    result = load([tmp_path], tmp_path)
    assert result.files == ["real/a.yaml"] and result.problems == [] and len(result.objects) == 1


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links on this platform")
def test_a_scanned_root_that_is_itself_a_link_is_followed(tmp_path):
    write(tmp_path, "real/a.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n")
    write(tmp_path, "real/b.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n")
    os.symlink("real", tmp_path / "link")
    os.symlink("a.yaml", tmp_path / "real" / "c.yaml")  # inside the tree through the link: still redundant
    result = load([tmp_path / "link"], tmp_path)
    assert result.files == ["link/a.yaml", "link/b.yaml"] and result.problems == []


def test_empty_documents_are_recorded_as_empty(tmp_path):
    write(tmp_path, "empty.yaml", "")
    write(tmp_path, "comments.yaml", "# nothing\n")
    write(tmp_path, "dashes.yaml", "---\n")
    result = load([tmp_path], tmp_path)
    assert sorted((d.path, d.cls) for d in result.documents) == [
        ("comments.yaml", DocClass.EMPTY),
        ("dashes.yaml", DocClass.EMPTY),
        ("empty.yaml", DocClass.EMPTY),
    ]
    assert result.problems == [] and result.objects == []


def test_policy_loading_uses_the_same_loader_and_rejects_duplicates(tmp_path):
    from scanner.policy import PolicyError, load_policy

    path = write(
        tmp_path, "kubematrix.yaml", "apiVersion: kubematrix.dev/v1\napiVersion: kubematrix.dev/v1\nkind: Policy\n"
    )
    with pytest.raises(PolicyError, match=r"kubematrix.yaml:2:1: .*duplicate key 'apiVersion'"):
        load_policy(path, tmp_path)


def test_parse_results_are_plain_dict_and_list_subclasses():
    data = parse_yaml_text("a: [1, {b: 2}]\n", "x.yaml").documents[0].data
    assert isinstance(data, LMap) and isinstance(data, dict)
    assert isinstance(data["a"], LList) and isinstance(data["a"], list)
    assert json.loads(json.dumps(data)) == {"a": [1, {"b": 2}]}


def test_helm_chart_templates_are_reported_as_unrendered_and_values_are_data(tmp_path):
    write(tmp_path, "chart/Chart.yaml", "apiVersion: v2\nname: web\nversion: 1.0.0\n")
    write(tmp_path, "chart/values.yaml", 'fullnameOverride: "{{ .Release.Name }}-web"\nimage: nginx\n')
    # every template expression quoted: valid YAML, but still a template (it lives in a chart's templates/)
    write(
        tmp_path,
        "chart/templates/deploy.yaml",
        'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: "{{ include \\"web.fullname\\" . }}"\n',
    )
    write(tmp_path, "chart/templates/plain.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: static}\n")
    result = load([tmp_path], tmp_path)
    assert [(p.rule_id, p.loc.path, p.loc.line) for p in result.problems] == [
        ("INPUT001", "chart/templates/deploy.yaml", 4)
    ]
    assert "render it first" in result.problems[0].message
    classes = {d.path: d.cls for d in result.documents}
    assert classes == {
        "chart/Chart.yaml": DocClass.HELM_CHART,
        "chart/values.yaml": DocClass.HELM_VALUES,
        "chart/templates/plain.yaml": DocClass.KUBERNETES,
    }


@pytest.mark.parametrize(
    "name, text",
    [
        ("kubeconfig.yaml", "apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n"),
        ("skaffold.yaml", "apiVersion: skaffold/v4beta6\nkind: Config\nbuild: {artifacts: []}\n"),
        ("kind.yaml", "apiVersion: kind.x-k8s.io/v1alpha4\nkind: Cluster\nnodes: [{role: control-plane}]\n"),
        ("audit.yaml", "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: [{level: Metadata}]\n"),
    ],
)
def test_configuration_files_with_apiversion_and_kind_are_not_held_to_the_object_shape(tmp_path, name, text):
    write(tmp_path, name, text)
    result = load([tmp_path], tmp_path)
    assert result.problems == []


def test_every_document_class_is_allowed_by_the_json_report_schema(tmp_path):
    import jsonschema

    schema = json.loads((REPO / "rules" / "schema" / "report.schema.json").read_text(encoding="utf-8"))
    allowed = schema["properties"]["summary"]["properties"]["documents"]["propertyNames"]["enum"]
    assert sorted(allowed) == sorted(c.value for c in DocClass)
    # and a real report with unusual classes validates
    write(tmp_path, "empty.yaml", "")
    write(tmp_path, "kustomization.yaml", "patchesStrategicMerge: [patch.yaml]\n")
    write(tmp_path, "patch.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {replicas: 2}\n")
    from scanner.report import render
    from scanner.scan import ScanOptions, run_scan

    result = run_scan(ScanOptions(paths=(tmp_path,), cwd=tmp_path))
    report = json.loads(render(result, "json"))
    assert report["summary"]["documents"] == {"kustomization": 1, "kustomize-patch": 1, "empty": 1}
    jsonschema.Draft202012Validator(schema).validate(report)


def test_pyyaml_never_composes_nor_constructs_anything(monkeypatch):
    """Only the (iterative) event parser runs: no recursive composer (libyaml's C
    composer included), no object constructor, whatever the input says.  (Plain
    scalars are turned into int/float/bool/None by SafeConstructor's scalar
    functions, called directly on the text.)"""

    def forbidden(*args, **kwargs):
        raise AssertionError("PyYAML composer/constructor called")

    for cls in (yaml.SafeLoader, getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
        for name in (
            "get_node",
            "get_single_node",
            "check_node",
            "compose_node",
            "compose_document",
            "construct_document",
            "construct_object",
            "get_data",
            "get_single_data",
        ):
            monkeypatch.setattr(cls, name, forbidden, raising=False)
    result = load([REPO / "fixtures" / "blog-system", REPO / "fixtures" / "rules" / "INPUT001" / "fail"], REPO)
    assert len(result.objects) > 10
    assert any("never constructed" in p.message for p in result.problems)


def test_parsing_in_worker_processes_gives_the_same_result(monkeypatch):
    """Large trees are parsed partly in forked workers (loader/documents.py parse_files):
    the same documents, problems and objects, in the same order, as in one process."""
    from scanner.loader import documents

    tree = [REPO / "fixtures" / "blog-system", REPO / "fixtures" / "rules"]
    monkeypatch.setenv("KUBEMATRIX_JOBS", "1")
    alone = documents.load(tree, REPO)
    monkeypatch.setenv("KUBEMATRIX_JOBS", "3")
    monkeypatch.setattr(documents, "PARALLEL_MIN_FILES", 1)
    if documents._workers() == 0:
        pytest.skip("this platform or machine offers no second process to parse in")
    shared = documents.load(tree, REPO)
    assert len(alone.files) > 100
    assert shared.files == alone.files
    assert [(d.path, d.index, d.loc, d.cls, d.data) for d in shared.documents] == [
        (d.path, d.index, d.loc, d.cls, d.data) for d in alone.documents
    ]
    assert shared.problems == alone.problems
    assert [(o.kind, o.name, o.loc) for o in shared.objects] == [(o.kind, o.name, o.loc) for o in alone.objects]
    assert [d.data.value_locs for d in shared.documents if isinstance(d.data, dict)] == [
        d.data.value_locs for d in alone.documents if isinstance(d.data, dict)
    ]
