"""One case per hostile or malformed file.  Each case is scanned beside a good
workload; the case must give exactly the expected findings (rule, line, words),
the good workload must still be checked, and every report format must render."""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from scanner.loader import yamltext
from scanner.loader.documents import DocClass, load

from .helpers import GOOD, deadline, findings_in, good_is_scanned, render_all, scan_tree

CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: shop\ndata:\n  mode: strict\n"


@dataclass(frozen=True)
class Case:
    id: str
    name: str  # file name inside the scanned tree
    content: bytes | str
    expect: tuple[tuple[str, int, str], ...] = ()  # (rule id, line, words in the message)
    objects: int | None = None  # Kubernetes objects the file must still yield
    doc_class: DocClass | None = None  # class of its (single) document


def _bomb(levels: int = 9, width: int = 9) -> str:
    lines = ["l0: &l0 [" + ",".join(['"lol"'] * width) + "]"]
    for level in range(1, levels):
        lines.append(f"l{level}: &l{level} [" + ",".join([f"*l{level - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


CASES = [
    # --- malformed YAML
    Case(
        "tab-indentation",
        "tab.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n\tname: x\n",
        (("INPUT001", 4, "tab character"),),
    ),
    Case(
        "unclosed-double-quote",
        "quote.yaml",
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: "x\n',
        (("INPUT001", 5, "quoted scalar"),),
    ),
    Case(
        "unclosed-single-quote",
        "squote.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: 'x\ndata: {}\n",
        (("INPUT001", 6, "quoted scalar"),),
    ),
    Case(
        "bad-indentation",
        "indent.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n namespace: y\n",
        (("INPUT001", 5, "cannot parse YAML"),),
    ),
    Case(
        "unclosed-flow-mapping",
        "flow.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x\n",
        (("INPUT001", 4, "cannot parse YAML"),),
    ),
    Case(
        "control-character",
        "bell.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\x07b\n",
        (("INPUT001", 4, "cannot parse YAML"),),
    ),
    Case(
        "second-document-broken-first-kept",
        "multi.yaml",
        CONFIGMAP + "---\nkind: [\n",
        (("INPUT001", 10, "cannot parse YAML"),),
        objects=1,
    ),
    Case(
        "undefined-alias",
        "alias.yaml",
        CONFIGMAP.replace("strict", "*nowhere"),
        (("INPUT001", 7, "refers to no anchor"),),
        objects=0,
    ),
    Case("recursive-alias", "recursive.yaml", "a: &a\n  b: *a\n", (("INPUT001", 2, "recursive alias"),)),
    Case("long-implicit-key", "longkey.yaml", "k" * 2000 + ": 1\n", (("INPUT001", 1, "cannot parse YAML"),)),
    Case("crlf-line-endings-are-fine", "crlf.yaml", CONFIGMAP.replace("\n", "\r\n"), (), objects=1),
    # --- JSON
    Case(
        "json-trailing-comma",
        "trailing.json",
        '{\n  "apiVersion": "v1",\n  "kind": "ConfigMap",\n  "metadata": {"name": "x"},\n}\n',
        (("INPUT001", 5, "not valid JSON"),),
        objects=1,
    ),
    Case("json-comment", "comment.json", '{\n  // a comment\n  "a": 1\n}\n', (("INPUT001", 2, "cannot parse JSON"),)),
    Case("json-truncated", "truncated.json", '{"apiVersion": "v1", "kind": ', (("INPUT001", 1, "cannot parse JSON"),)),
    Case("json-single-quotes", "single.json", "{'a': 1}\n", (("INPUT001", 1, "not valid JSON"),)),
    Case("json-long-key-is-valid-json", "longkey.json", '{"' + "k" * 2000 + '": 1}\n', (), doc_class=DocClass.OTHER),
    Case(
        "json-lone-surrogate-escape",
        "surrogate.json",
        '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a\\ud800b"}}',
        (("INPUT001", 0, "lone surrogate"),),
        objects=1,
    ),
    # --- empty and degenerate documents
    Case("empty-file", "empty.yaml", "", (), doc_class=DocClass.EMPTY),
    Case("whitespace-only", "blank.yaml", "\n   \n\n", (), doc_class=DocClass.EMPTY),
    Case("comment-only", "comments.yaml", "# TODO: add manifests\n# later\n", (), doc_class=DocClass.EMPTY),
    Case("document-markers-only", "dashes.yaml", "---\n", (), doc_class=DocClass.EMPTY),
    Case("end-markers-only", "dots.yaml", "---\n...\n---\n...\n", ()),
    Case("scalar-at-top-level", "scalar.yaml", "hello world\n", (("INPUT002", 1, "not a mapping"),)),
    Case("number-at-top-level", "number.yaml", "42\n", (("INPUT002", 1, "an integer"),)),
    Case("list-at-top-level", "list.yaml", "- a\n- b\n", (), doc_class=DocClass.OTHER),
    Case(
        "list-of-objects-at-top-level",
        "bare-list.yaml",
        "- " + CONFIGMAP.replace("\n", "\n  ").rstrip() + "\n",
        (("INPUT002", 1, "bare list of Kubernetes objects"),),
        objects=1,
    ),
    # --- duplicate keys
    Case(
        "duplicate-key", "dup.yaml", CONFIGMAP + "  mode: lax\n", (("INPUT003", 8, "duplicate key 'mode'"),), objects=1
    ),
    Case("duplicate-key-in-flow-mapping", "dupflow.yaml", "a: {b: 1, b: 2}\n", (("INPUT003", 1, "duplicate key 'b'"),)),
    Case(
        "duplicate-top-level-kind",
        "dupkind.yaml",
        CONFIGMAP + "kind: Secret\n",
        (("INPUT003", 8, "duplicate key 'kind'"),),
        objects=1,
    ),
    # --- alias bombs and nesting
    Case("billion-laughs", "bomb.yaml", _bomb(), (("INPUT001", 1, "alias bomb"),)),
    Case(
        "billion-laughs-inside-a-manifest",
        "bomb-manifest.yaml",
        CONFIGMAP.replace(
            "data:\n  mode: strict\n", "data:\n" + "".join("  " + line + "\n" for line in _bomb().splitlines())
        ),
        (("INPUT001", 1, "alias bomb"),),
        objects=0,
    ),
    Case("deep-flow-nesting", "deep.yaml", "a: " + "[" * 100_000 + "]" * 100_000 + "\n", (("INPUT001", 1, "nest"),)),
    Case("deep-flow-nesting-json", "deep.json", "[" * 100_000 + "]" * 100_000, (("INPUT001", 1, "nest"),)),
    Case(
        "deep-block-nesting",
        "deepblock.yaml",
        "".join("  " * i + "k:\n" for i in range(1100)),
        (("INPUT001", 0, "nesting"),),
    ),
    Case("deep-but-allowed-nesting", "deepok.yaml", "a: " + "[" * 150 + "]" * 150 + "\n", (), doc_class=DocClass.OTHER),
    Case(
        "complex-mapping-key",
        "complexkey.yaml",
        "? {a: 1}\n: value\n[x]: y\n",
        (("INPUT001", 1, "mapping key must be a plain value"), ("INPUT001", 3, "mapping key must be a plain value")),
    ),
    # --- size
    Case(
        "multi-megabyte-single-line",
        "bigline.yaml",
        CONFIGMAP.replace("strict", "x" * (6 * 1024 * 1024)),
        (),
        objects=1,
    ),
    Case(
        "finding-on-a-multi-megabyte-line",
        "longerror.yaml",
        "a: " + "x" * (3 * 1024 * 1024) + ": b: c\n",
        (("INPUT001", 1, "cannot parse YAML"),),
    ),
    Case(
        "duplicate-on-a-multi-megabyte-line",
        "longdup.yaml",
        '{a: "' + "y" * (3 * 1024 * 1024) + '", a: 1}\n',
        (("INPUT003", 1, "duplicate key 'a'"),),
    ),
    Case("megabyte-json-line", "bigline.json", "[" + ",".join(["12345"] * 200_000) + "]", (), doc_class=DocClass.OTHER),
    Case(
        "megabyte-of-sexagesimal-digits",
        "base60.yaml",
        "v: " + ":".join(["59"] * 400_000) + "\n",
        (),
        doc_class=DocClass.OTHER,
    ),
    Case("huge-integer", "bigint.yaml", "v: " + "9" * 5000 + "\n", (), doc_class=DocClass.OTHER),
    # --- bytes and encodings
    Case(
        "binary-with-yaml-name",
        "image.yaml",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)),
        (("INPUT001", 1, "binary file"),),
    ),
    Case("random-bytes-without-nul", "noise.yaml", bytes(range(128, 256)) * 4, (("INPUT001", 1, "invalid UTF-8"),)),
    Case(
        "invalid-utf8-in-the-middle",
        "latin1.yaml",
        (CONFIGMAP + "  city: M\xfcnchen\n").encode("latin-1"),
        (("INPUT001", 8, "invalid UTF-8"),),
    ),
    Case("utf8-with-bom", "bom8.yaml", codecs.BOM_UTF8 + CONFIGMAP.encode("utf-8"), (), objects=1),
    Case("utf16-le-with-bom", "bom16le.yaml", codecs.BOM_UTF16_LE + CONFIGMAP.encode("utf-16-le"), (), objects=1),
    Case("utf16-be-with-bom", "bom16be.yaml", codecs.BOM_UTF16_BE + CONFIGMAP.encode("utf-16-be"), (), objects=1),
    Case("utf32-with-bom", "bom32.yaml", CONFIGMAP.encode("utf-32"), (), objects=1),
    Case(
        "truncated-utf16",
        "half16.yaml",
        codecs.BOM_UTF16_LE + CONFIGMAP.encode("utf-16-le")[:-1],
        (("INPUT001", 1, "invalid utf-16-le"),),
    ),
    Case("lone-surrogate-escape", "surrogate.yaml", CONFIGMAP.replace("strict", '"a\\ud800b"'), (("INPUT001", 7, ""),)),
    # --- tags
    Case(
        "cloudformation-ref",
        "cfn.yaml",
        "Resources:\n  B:\n    Properties:\n      Name: !Ref BucketName\n      Arn: !GetAtt B.Arn\n",
        (("INPUT001", 4, "'!Ref'"), ("INPUT001", 5, "'!GetAtt'")),
    ),
    Case("custom-tag-counted-once", "tags.yaml", "a: !Ref x\nb: !Ref y\nc: !Ref z\n", (("INPUT001", 1, "3 uses"),)),
    Case(
        "python-object-apply",
        "python.yaml",
        CONFIGMAP.replace("strict", '!!python/object/apply:os.system ["true"]'),
        (("INPUT001", 7, "never constructed"),),
        objects=1,
    ),
    Case("python-name", "pyname.yaml", "a: !!python/name:os.system ''\n", (("INPUT001", 1, "never constructed"),)),
    Case("bad-int-tag", "badint.yaml", "a: !!int abc\n", (("INPUT001", 1, "not a valid !!int"),)),
    Case("standard-collection-tags", "sets.yaml", "s: !!set {a, b}\no: !!omap [{a: 1}]\nm: !!map {a: 1}\n", ()),
    # --- templates and tool configuration
    Case(
        "helm-template-value",
        "helm.yaml",
        CONFIGMAP.replace("strict", "{{ .Values.mode }}"),
        (("INPUT001", 7, "render it first"),),
    ),
    Case(
        "helm-template-action-line",
        "helm2.yaml",
        "{{- if .Values.enabled }}\n" + CONFIGMAP + "{{- end }}\n",
        (("INPUT001", 1, "render it first"),),
    ),
    Case(
        "helm-template-in-plain-scalar",
        "helm3.yaml",
        CONFIGMAP.replace("strict", "repo/{{ .Values.image }}"),
        (("INPUT001", 7, "render it first"),),
    ),
    Case(
        "go-template-in-quoted-data-is-fine",
        "alerts.yaml",
        CONFIGMAP.replace("strict", '"{{ $labels.instance }} is down"'),
        (),
        objects=1,
    ),
    # read as a file, a kustomization is not applied: one note says so
    Case(
        "kustomization",
        "kustomization.yaml",
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [good.yaml]\n",
        (("INPUT007", 1, "is not applied"),),
        doc_class=DocClass.KUSTOMIZATION,
    ),
]


def _write(root: Path, case: Case) -> Path:
    path = root / case.name
    if isinstance(case.content, bytes):
        path.write_bytes(case.content)
    else:
        path.write_bytes(case.content.encode("utf-8"))
    return path


@pytest.fixture(params=["CSafeLoader", "SafeLoader"])
def parser(request, monkeypatch):
    monkeypatch.setattr(yamltext, "_Loader", getattr(yaml, request.param))
    return request.param


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_file_gives_clear_findings_and_the_scan_goes_on(tmp_path, case, parser):
    if parser == "SafeLoader" and case.id in (
        "multi-megabyte-single-line",
        "megabyte-json-line",
        "finding-on-a-multi-megabyte-line",
        "duplicate-on-a-multi-megabyte-line",
    ):
        pytest.skip("the pure-Python parser needs minutes for megabytes; the libyaml run covers the case")
    (tmp_path / "good.yaml").write_text(GOOD, encoding="utf-8")
    _write(tmp_path, case)
    with deadline(60):
        result = scan_tree(tmp_path)
        reports = render_all(result)
    assert good_is_scanned(result), "the good workload beside the hostile file was not checked"
    got = findings_in(result, case.name)
    input_findings = [f for f in got if f.rule_id.startswith("INPUT")]
    assert len(input_findings) == len(case.expect), [f"{f.loc} {f.rule_id} {f.message}" for f in input_findings]
    for rule, line, words in case.expect:
        matching = [
            f for f in input_findings if f.rule_id == rule and words in f.message and (line == 0 or f.loc.line == line)
        ]
        assert matching, f"expected {rule} at line {line} saying {words!r}; got " + repr(
            [f"{f.loc} {f.rule_id} {f.message}" for f in input_findings]
        )
    for finding in got:
        assert finding.loc.line >= 1 and finding.loc.col >= 1
        assert len(finding.message) < 400, "messages stay short even for huge input"
    if case.objects is not None or case.doc_class is not None:
        loaded = load([tmp_path / case.name], tmp_path)
        if case.objects is not None:
            assert len(loaded.objects) == case.objects
        if case.doc_class is not None:
            assert [d.cls for d in loaded.documents] == [case.doc_class]
    for fmt, text in reports.items():
        assert case.name in text or not got, f"{fmt} report does not name {case.name}"
        text.encode("utf-8")  # always writable


def test_lone_surrogates_never_reach_a_report(tmp_path, parser):
    """libyaml rejects an escaped lone surrogate; the pure-Python parser would build
    a string no report could write: it is replaced and reported instead."""
    (tmp_path / "s.yaml").write_text(
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: "\\ud800"\n', encoding="utf-8"
    )
    result = scan_tree(tmp_path)
    assert [f.rule_id for f in result.findings] == ["INPUT001"]
    for text in render_all(result).values():
        text.encode("utf-8")


def test_every_malformed_file_of_one_tree_is_reported_in_one_scan(tmp_path):
    (tmp_path / "good.yaml").write_text(GOOD, encoding="utf-8")
    broken = [c for c in CASES if any(rule == "INPUT001" for rule, _, _ in c.expect)]
    for case in broken:
        _write(tmp_path, case)
    with deadline(120):
        result = scan_tree(tmp_path)
    reported = {f.loc.path for f in result.findings if f.rule_id == "INPUT001"}
    assert reported == {c.name for c in broken}
    assert good_is_scanned(result)
