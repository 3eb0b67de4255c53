"""``--format markdown``: the report people read in a pull request or a job summary.

(The diagrams are parsed by the real Mermaid parser in test_mermaid.py.)
"""

from __future__ import annotations

import re

import pytest
from conftest import FIXED_TODAY, REPO, scan_path
from rule_fixtures import RULE_FIXTURES
from test_reports import FAIL_CASES, synthetic_result, synthetic_tree  # noqa: F401 - synthetic_tree is a fixture

from scanner import matrixview
from scanner.cli.app import _run
from scanner.network.graph import mermaid_id
from scanner.report import render
from scanner.report.markdown import SourceLinks, code, links_from_env, md
from scanner.scan import ScanOptions, run_scan

BLOG = REPO / "fixtures" / "blog-system"
SHA = "0123456789abcdef0123456789abcdef01234567"
GITHUB = {"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "acme/shop", "GITHUB_SHA": SHA}


def markdown(path, *, cwd=None, links=None, **options) -> str:
    cwd = cwd or path
    result = run_scan(ScanOptions(paths=(path,), cwd=cwd, today=FIXED_TODAY, matrix_view=True, **options))
    return render(result, "markdown", links=links)


def table(text: str, header: str) -> list[list[str]]:
    """The rows of the table whose header line starts with ``header``, split on unescaped pipes."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]])
    return rows


def test_blog_system_report(monkeypatch):
    monkeypatch.chdir(REPO)
    text = markdown(BLOG, cwd=REPO)
    assert text.startswith(
        "# kubematrix report\n\n**No findings: 41 documented promises kept (2 by a documented "
        "exception); 13 files, 24 documents and 5 workloads checked against "
    )
    summary = dict(table(text, "| | count |"))
    assert summary["errors"] == "0" and summary["suppressed (documented exceptions)"] == "2"
    assert summary["workloads"] == "5" and summary["files scanned"] == "13"
    promises = {row[0]: row[1:] for row in table(text, "| documented promises |")}
    assert promises["documented flows proven allowed"] == ["17", "0", "0"]
    assert promises["SecurityContext table rows proven"] == ["4", "0", "1"]
    ci_gate, exception = table(text, "| rule | where |")
    assert ci_gate[0] == "`CI002`" and ci_gate[3].startswith("§6 P1: the scan reports vulnerabilities")
    assert exception[0] == "`SEC001`"
    assert exception[3].startswith("nginx binds port 80 as root")
    assert exception[4] == "never"
    written = 1 + (BLOG / "kubematrix.yaml").read_text().splitlines().index(
        "        - rules: [SEC001, PSS-runAsNonRoot]"
    )
    assert exception[5] == f"`fixtures/blog-system/kubematrix.yaml:{written}` (policy file)"
    assert "## Findings" not in text
    assert text.count("```mermaid\n") == 1
    assert (
        "thick green arrows: documented and allowed (22); orange arrows: allowed but not documented (0); "
        "dotted red arrows ending in ×: documented but blocked (0)." in text
    )
    web, was = mermaid_id("blog-system/web"), mermaid_id("blog-system/was")
    assert f'  {web} ==>|"TCP 8080 · HTTP"| {was}\n' in text


def test_markdown_is_byte_identical_and_the_same_through_the_cli(monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(REPO)
    for name in GITHUB:
        monkeypatch.delenv(name, raising=False)
    first = markdown(BLOG, cwd=REPO)
    assert markdown(BLOG, cwd=REPO) == first
    out = tmp_path / "report.md"
    assert _run(["scan", "fixtures/blog-system", "--format", "markdown", "--output", str(out)], "scan") == 0
    # the CLI's scan differs only in the date it judges expiry against, which nothing here uses
    assert out.read_text(encoding="utf-8") == first


def test_findings_link_to_the_commit_on_github(monkeypatch):
    case = RULE_FIXTURES / "NET001" / "fail"
    monkeypatch.chdir(case)
    linked = markdown(case, links=links_from_env(GITHUB))
    rows = table(linked, "| severity | rule | where | finding |")
    assert len(rows) == 4 and all(r[0] == "🔴 error" and r[1] == "`NET001`" for r in rows)
    assert rows[0][2] == f"[`kubematrix.yaml:7`](https://github.com/acme/shop/blob/{SHA}/kubematrix.yaml#L7)"
    # message, the offending line and the one-line fix, in one cell
    message, line, fix = rows[0][3].split("<br>")
    assert message.startswith("documented flow entity:all -\\> shop/web on TCP 8443 is blocked")
    assert line == '`- {from: entity:all, to: shop/web, ports: ["8443/TCP"]}  # expect: NET001`'
    assert fix.startswith("fix: Allow the flow on both sides")
    plain = markdown(case, links=None)
    assert "https://" not in plain
    assert table(plain, "| severity |")[0][2] == "`kubematrix.yaml:7`"


@pytest.mark.parametrize(
    "env",
    [
        {},
        {**GITHUB, "GITHUB_SHA": "main"},
        {**GITHUB, "GITHUB_SERVER_URL": "javascript:alert(1)"},
        {**GITHUB, "GITHUB_REPOSITORY": "acme/shop) [x](https://evil"},
        {k: v for k, v in GITHUB.items() if k != "GITHUB_REPOSITORY"},
    ],
)
def test_links_need_all_three_well_formed_variables(env):
    assert links_from_env(env) is None


def test_link_paths_are_encoded_and_stay_in_the_repository():
    links = SourceLinks("https://github.example.com/a/b/blob/" + SHA + "/")
    assert links.url("k8s/web app.yaml", 3) == f"https://github.example.com/a/b/blob/{SHA}/k8s/web%20app.yaml#L3"
    assert links.url("../elsewhere.yaml", 1) is None
    assert links.url("/abs/x.yaml", 1) is None


def test_markdown_never_shows_secret_values(synthetic_tree):  # noqa: F811
    out = render(synthetic_result(), "markdown")
    assert "hunter2" not in out
    assert "`value: ********`" in out


@pytest.mark.parametrize("case", [c for c in FAIL_CASES if c.startswith("SECRET")])
def test_markdown_of_secret_fixtures_hides_the_values(case, monkeypatch):
    fail = RULE_FIXTURES / case / "fail"
    monkeypatch.chdir(REPO)
    out = render(scan_path(fail, cwd=REPO), "markdown")
    assert f"`{case}`" in out
    for path in fail.rglob("*.y*ml"):
        for line in path.read_text(encoding="utf-8").splitlines():
            for match in re.finditer(r"(?i)(?:password|token|secret|key)\w*:\s*['\"]?([^\s'\"#]{6,})", line):
                assert match.group(1) not in out, f"{path.name}: {line!r}"


def test_synthetic_report_lists_exceptions_with_expiry_and_kind(synthetic_tree):  # noqa: F811
    out = render(synthetic_result(), "markdown")
    rows = {r[0] + " " + r[1]: r for r in table(out, "| rule | where |")}
    sec = rows["`SEC001` `k8s/web app.yaml:17`"]
    assert sec[3:] == ["legacy image; OPS-1", "2027-01-31", "`kubematrix.yaml:20` (policy file)"]
    pss = rows["`PSS-runAsNonRoot` `k8s/web app.yaml:16`"]
    assert pss[4:] == ["never", "`k8s/web app.yaml:4` (annotation)"]
    # rich markup in a message is text, not markup; and nothing is drawn without a matrix view
    assert "is false \\[red\\]not markup\\[/red\\]" in out and "```mermaid" not in out


def test_input_cannot_inject_markdown_html_or_mentions():
    hostile = "x | y <img src=x onerror=alert(1)> [link](https://evil) @admin #1 `tick` $x$ *b* ~s~"
    shown = md(hostile)
    # every character Markdown, HTML, mentions, references or math would read is escaped
    assert not re.search(r"(?<!\\)[<>\[\]@#`$*~|&_!]", shown), shown
    assert shown.replace("\\", "") == hostile
    assert code("a|b`c") == "``a\\|b`c``" and code("`x`") == "`` `x` ``"
    assert md("line\nbreak\x1b[31m") == "line break\\\\x1b\\[31m"


def test_the_graph_is_judged_only_when_a_diagram_is_asked_for(monkeypatch):
    from scanner.network import graph

    def refuse(_traffic):
        raise AssertionError("the full traffic graph was built for a report that does not draw it")

    monkeypatch.setattr(graph, "build_graph", refuse)
    # a documented matrix without crown jewels (traffic.exposure needs the whole graph: NET011)
    tree = REPO / "fixtures" / "rules" / "NET001" / "pass"
    result = run_scan(ScanOptions(paths=(tree,), cwd=REPO, today=FIXED_TODAY))
    assert result.matrix == () and not result.findings and not result.active()
    with pytest.raises(AssertionError, match="not draw it"):
        run_scan(ScanOptions(paths=(tree,), cwd=REPO, today=FIXED_TODAY, matrix_view=True))


def _edges(text: str) -> list[tuple[str, str, str, str]]:
    return re.findall(r'^  (n_\w+) (==>|-->|-\.-x)\|"([^"]*)"\| (n_\w+)$', text, re.MULTILINE)


def test_edges_are_split_into_documented_and_undocumented_ports(monkeypatch):
    case = RULE_FIXTURES / "NET002" / "fail"
    monkeypatch.chdir(case)
    edges = _edges(markdown(case))
    web, api = mermaid_id("shop/web"), mermaid_id("shop/api")
    between = sorted((arrow, label) for src, arrow, label, dst in edges if (src, dst) == (web, api))
    assert between == [("-->", "TCP 5005"), ("==>", "TCP 8080")]


def test_blocked_documented_flows_are_drawn_and_styled(monkeypatch):
    case = RULE_FIXTURES / "NET001" / "fail"
    monkeypatch.chdir(case)
    text = markdown(case)
    edges = _edges(text)
    blocked = sorted((src, label, dst) for src, arrow, label, dst in edges if arrow == "-.-x")
    api, db, web = mermaid_id("shop/api"), mermaid_id("shop/db"), mermaid_id("shop/web")
    assert blocked == [
        (mermaid_id("actor:prometheus"), "TCP 9090", api),
        (mermaid_id("entity:all"), "TCP 8443 (for 4 of 5 sources)", web),
        (api, "TCP 33060", db),
        (web, "port 'postgres' (undeclared)", db),
    ]
    # each kind has its own linkStyle, naming exactly the indices of its edges
    styles = dict(re.findall(r"^  linkStyle ([\d,]+) (stroke:#\w+)", text, re.MULTILINE))
    arrows = [arrow for _, arrow, _, _ in edges]
    colour = {"-.-x": "stroke:#cf222e", "-->": "stroke:#bc4c00", "==>": "stroke:#1a7f37"}
    for indices, stroke in styles.items():
        assert {colour[arrows[int(i)]] for i in indices.split(",")} == {stroke}
    assert sum(len(i.split(",")) for i in styles) == len(edges)
    assert f'  {mermaid_id("entity:all")}(("all sources"))\n' in text


def test_the_diagram_is_bounded_and_says_what_it_left_out(monkeypatch):
    case = RULE_FIXTURES / "NET001" / "fail"
    monkeypatch.chdir(case)
    monkeypatch.setattr(matrixview, "MAX_EDGES", 3)
    monkeypatch.setattr(matrixview, "MAX_NODES", 2)
    text = markdown(case)
    edges = _edges(text)
    assert [arrow for _, arrow, _, _ in edges] == ["-.-x"] * 3  # blocked documented flows come first
    assert (
        "- 7 more edges omitted (at most 3 are drawn: blocked documented flows first, then undocumented "
        "ones); `kubematrix graph DIR --format json` lists every edge." in text
    )
    assert "documented but blocked (4)." in text  # the legend counts every edge, drawn or not


def test_workloads_past_the_node_limit_are_counted(tmp_path, monkeypatch):
    pods = "".join(
        f"---\napiVersion: v1\nkind: Pod\nmetadata: {{name: p{i}, namespace: ns}}\n"
        f"spec: {{containers: [{{name: c, image: x}}]}}\n"
        for i in range(6)
    )
    (tmp_path / "pods.yaml").write_text(pods, encoding="utf-8")
    (tmp_path / "kubematrix.yaml").write_text(
        "apiVersion: kubematrix.dev/v1alpha1\nkind: Policy\ntraffic:\n  flows: []\n", encoding="utf-8"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(matrixview, "MAX_EDGES", 1)
    monkeypatch.setattr(matrixview, "MAX_NODES", 4)
    text = markdown(tmp_path)
    [(src, _, _, dst)] = _edges(text)  # the first undocumented edge in order
    assert (src, dst) == (mermaid_id("actor:kube-dns"), mermaid_id("ns/p0"))
    # two nodes drawn for the edge, two more workloads fit: 3 of the 5 others are left out
    assert len(re.findall(r'^    n_\w+\["p\d"\]$', text, re.MULTILINE)) == 3
    assert "- 3 workloads without a drawn edge omitted." in text


def test_one_diagram_per_policy_and_a_word_for_a_policy_without_matrix(tmp_path, monkeypatch):
    for name, traffic in (("a", "traffic:\n  flows: []\n"), ("b", "traffic:\n  flows: []\n"), ("c", "")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "kubematrix.yaml").write_text(
            f"apiVersion: kubematrix.dev/v1alpha1\nkind: Policy\n{traffic}", encoding="utf-8"
        )
        (tmp_path / name / "pod.yaml").write_text(
            f"apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: {name}}}\n"
            "spec: {containers: [{name: c, image: x}]}\n",
            encoding="utf-8",
        )
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    text = markdown(tmp_path)
    assert re.findall(r"^## Traffic matrix of `(.*)`$", text, re.MULTILINE) == [
        "a/kubematrix.yaml",
        "b/kubematrix.yaml",
    ]
    assert "`c/kubematrix.yaml` documents no traffic matrix, so there is no traffic graph to judge against it." in text


def test_cli_markdown_format_and_plain_usage_error(monkeypatch, capsys):
    monkeypatch.chdir(RULE_FIXTURES / "NET001" / "fail")
    assert _run(["scan", ".", "--format", "markdown"], "scan") == 1
    assert capsys.readouterr().out.startswith("# kubematrix report\n")
    assert _run(["scan", ".", "--format", "xml"], "scan") == 2
    assert "--format must be one of text, sarif, json, markdown (got 'xml')" in capsys.readouterr().err


def test_rendered_locations_are_not_linked(tmp_path, monkeypatch):
    from scanner.loader.documents import Stream

    monkeypatch.chdir(tmp_path)
    stream = Stream(
        "stdin",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  hostNetwork: true\n"
        "  containers: [{name: c, image: x}]\n",
    )
    result = run_scan(ScanOptions(paths=(), cwd=tmp_path, today=FIXED_TODAY, streams=(stream,), matrix_view=True))
    out = render(result, "markdown", links=links_from_env(GITHUB))
    [row] = table(out, "| severity |")
    assert row[2] == "`stdin:5` (rendered)"


POD = (
    "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: shop}}\n"
    "spec: {{hostNetwork: true, containers: [{{name: c, image: x, securityContext: {{privileged: true}}}}]}}\n"
)


def test_rule_settings_excludes_and_the_baseline_are_in_the_summary(tmp_path, monkeypatch):
    from scanner.baseline import entries

    (tmp_path / "vendor").mkdir()
    (tmp_path / "old.yaml").write_text(POD.format(name="old"), encoding="utf-8")
    (tmp_path / "gone.yaml").write_text(POD.format(name="gone"), encoding="utf-8")
    (tmp_path / "vendor" / "x.yaml").write_text(POD.format(name="vendored"), encoding="utf-8")
    (tmp_path / "kubematrix.yaml").write_text(
        "apiVersion: kubematrix.dev/v1alpha1\nkind: Policy\nexclude: ['vendor/**']\n"
        "rules:\n  PSS-privileged: {enabled: false, reason: the CNI agent}\n",
        encoding="utf-8",
    )
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    before = run_scan(ScanOptions(paths=(tmp_path,), cwd=tmp_path, today=FIXED_TODAY))
    known = tuple(entries(before.active()))
    (tmp_path / "new.yaml").write_text(POD.format(name="new"), encoding="utf-8")
    (tmp_path / "gone.yaml").unlink()
    text = markdown(tmp_path, baseline=known)
    summary = dict(table(text, "| | count |"))
    assert summary["known from the baseline (not failing)"] == "1"
    assert summary["fixed since the baseline"] == "1"
    assert summary["files excluded on purpose"] == "1"
    assert "- 1 file left out by its exclude list\n- rule PSS-privileged turned off (the CNI agent)\n" in text
    rows = table(text, "| severity |")
    assert [(r[1], r[2]) for r in rows] == [("`PSS-hostNamespaces`", "`new.yaml:4`")]
    assert (
        "## Baseline\n\n1 finding known from the baseline (not failing): `PSS-hostNamespaces` ×1.\n\n"
        "Fixed since the baseline (1), to remove from it:\n\n- `PSS-hostNamespaces` `gone.yaml` Pod shop/gone\n" in text
    )
