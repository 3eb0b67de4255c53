"""SEC001-SEC007: the documented SecurityContext table against the manifests."""

from __future__ import annotations

import datetime as _dt
import tempfile
import textwrap
from pathlib import Path

import pytest
import yaml
from conftest import FIXED_TODAY, REPO, scan_path
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scanner.checks.security_context import CHECKS, capability_name
from scanner.scan import ScanResult

SEC_RULES = tuple(sorted(CHECKS))

POLICY_HEAD = """\
apiVersion: kubematrix.dev/v1alpha1
kind: Policy
"""


def scan_texts(root: Path, manifests: str, policy: str | None = None) -> ScanResult:
    root.mkdir(parents=True, exist_ok=True)
    (root / "manifests.yaml").write_text(textwrap.dedent(manifests), encoding="utf-8")
    if policy is not None:
        (root / "kubematrix.yaml").write_text(POLICY_HEAD + textwrap.dedent(policy), encoding="utf-8")
    return scan_path(root)


def sec(result: ScanResult, rule: str | None = None, *, active: bool = True):
    findings = result.active() if active else list(result.findings)
    return [f for f in findings if f.rule_id in CHECKS and (rule is None or f.rule_id == rule)]


def line_of(root: Path, needle: str, file: str = "manifests.yaml") -> int:
    lines = (root / file).read_text(encoding="utf-8").splitlines()
    hits = [i for i, line in enumerate(lines, start=1) if needle in line]
    assert len(hits) == 1, f"{needle!r} found on lines {hits}"
    return hits[0]


TABLE_1000 = """\
securityContext:
  defaults:
    runAsNonRoot: true
  workloads:
    shop/api:
      runAsUser: 1000
"""


def pod(spec: str, name: str = "api", namespace: str = "shop") -> str:
    return f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: {namespace}\nspec:\n" + textwrap.indent(
        textwrap.dedent(spec), "  "
    )


# --- effective values: container overrides pod ----------------------------------------------


def test_pod_level_value_covers_containers(tmp_path):
    result = scan_texts(
        tmp_path,
        pod(
            """\
            securityContext: {runAsNonRoot: true, runAsUser: 1000}
            initContainers:
            - {name: init, image: busybox}
            containers:
            - {name: app, image: example/api}
            """
        ),
        TABLE_1000,
    )
    assert sec(result) == []


def test_container_value_overrides_a_wrong_pod_value(tmp_path):
    result = scan_texts(
        tmp_path,
        pod(
            """\
            securityContext: {runAsNonRoot: true, runAsUser: 0}
            containers:
            - name: app
              image: example/api
              securityContext: {runAsUser: 1000}
            """
        ),
        TABLE_1000,
    )
    assert sec(result) == []


def test_wrong_value_points_at_the_key_and_says_where_it_is_set(tmp_path):
    result = scan_texts(
        tmp_path,
        pod(
            """\
            securityContext:
              runAsNonRoot: true
              runAsUser: 0   # pod
            containers:
            - name: app
              image: example/api
            - name: sidecar
              image: example/sidecar
              securityContext:
                runAsUser: 7   # container
            """
        ),
        TABLE_1000,
    )
    found = {(f.container, f.loc.line, f.message.split(": ", 1)[1]) for f in sec(result, "SEC001")}
    assert found == {
        ("app", line_of(tmp_path, "# pod"), "runAsUser is 0 (set on the pod); the table documents 1000"),
        (
            "sidecar",
            line_of(tmp_path, "# container"),
            "runAsUser is 7 (set on the container); the table documents 1000",
        ),
    }
    # the table row is a related location, so SARIF can show both sides
    assert all(f.related and f.related[0].path == "kubematrix.yaml" for f in sec(result, "SEC001"))


def test_documented_but_absent_points_at_the_container_name(tmp_path):
    result = scan_texts(tmp_path, pod("containers:\n- name: app   # here\n  image: example/api\n"), TABLE_1000)
    findings = sec(result, "SEC001")
    assert {f.detail for f in findings} == {"runAsNonRoot", "runAsUser"}
    assert {f.loc.line for f in findings} == {line_of(tmp_path, "# here")}
    by_detail = {f.detail: f.message for f in findings}
    assert "runAsUser is not set on the container or the pod; the table documents 1000" in by_detail["runAsUser"]
    assert "runAsNonRoot is not set (Kubernetes then uses false); the table documents true" in by_detail["runAsNonRoot"]


def test_unset_value_with_a_kubernetes_default_matches_a_row_documenting_that_default(tmp_path):
    policy = """\
    securityContext:
      workloads:
        shop/api: {runAsNonRoot: false, readOnlyRootFilesystem: false, allowPrivilegeEscalation: true}
    """
    result = scan_texts(tmp_path, pod("containers:\n- {name: app, image: example/api}\n"), policy)
    assert sec(result) == []


def test_container_only_fields_ignore_a_pod_level_value(tmp_path):
    # allowPrivilegeEscalation does not exist on the pod's securityContext: Kubernetes ignores it there.
    result = scan_texts(
        tmp_path,
        pod(
            """\
            securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true}
            containers:
            - {name: app, image: example/api}
            """
        ),
        "securityContext:\n  workloads:\n    shop/api: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true}\n",
    )
    assert {f.rule_id for f in sec(result)} == {"SEC002", "SEC005"}
    assert all("not set" in f.message for f in sec(result))


def test_init_and_ephemeral_containers_are_checked(tmp_path):
    result = scan_texts(
        tmp_path,
        pod(
            """\
            initContainers:
            - {name: init, image: busybox}
            containers:
            - name: app
              image: example/api
              securityContext: {allowPrivilegeEscalation: false}
            ephemeralContainers:
            - {name: debugger, image: busybox}
            """
        ),
        "securityContext:\n  defaults: {allowPrivilegeEscalation: false}\n  workloads:\n    shop/api: {}\n",
    )
    assert {f.container for f in sec(result, "SEC002")} == {"init", "debugger"}


def test_per_container_rows_override_the_workload_row(tmp_path):
    policy = """\
    securityContext:
      workloads:
        shop/api:
          runAsUser: 1000
          containers:
            istio-proxy: {runAsUser: 1337}
    """
    result = scan_texts(
        tmp_path,
        pod(
            """\
            containers:
            - {name: app, image: example/api, securityContext: {runAsUser: 1000}}
            - {name: istio-proxy, image: istio/proxyv2, securityContext: {runAsUser: 1337}}
            """
        ),
        policy,
    )
    assert sec(result) == []


def test_fs_group_is_a_pod_setting(tmp_path):
    policy = "securityContext:\n  workloads:\n    shop/api: {fsGroup: 2000}\n"
    result = scan_texts(
        tmp_path, pod("containers:\n- {name: app, image: example/api, securityContext: {runAsUser: 5}}\n"), policy
    )
    [finding] = sec(result)
    assert finding.rule_id == "SEC005" and finding.container == "" and finding.detail == "fsGroup"
    assert "fsGroup is not set on the pod; the table documents 2000" in finding.message


def test_seccomp_profile_pod_level_covers_containers_and_container_overrides(tmp_path):
    policy = "securityContext:\n  workloads:\n    shop/api: {seccompProfile: RuntimeDefault}\n"
    result = scan_texts(
        tmp_path,
        pod(
            """\
            securityContext: {seccompProfile: {type: RuntimeDefault}}
            containers:
            - {name: app, image: example/api}
            - name: legacy
              image: example/legacy
              securityContext:
                seccompProfile: {type: Unconfined}   # override
            """
        ),
        policy,
    )
    [finding] = sec(result)
    assert (finding.container, finding.loc.line) == ("legacy", line_of(tmp_path, "# override"))
    assert (
        "seccompProfile.type is Unconfined (set on the container); the table documents RuntimeDefault"
        in finding.message
    )


def test_dash_row_promises_nothing(tmp_path):
    policy = (
        "securityContext:\n  defaults: {runAsNonRoot: true, capabilities: {drop: [ALL]}}\n"
        "  workloads:\n    shop/api: {inheritDefaults: false}\n"
    )
    result = scan_texts(tmp_path, pod("containers:\n- {name: app, image: example/api}\n"), policy)
    assert sec(result) == []


def test_no_policy_file_means_no_table_findings(tmp_path):
    result = scan_texts(tmp_path, pod("hostNetwork: true\ncontainers:\n- {name: app, image: example/api}\n"))
    assert sec(result) == []


# --- capabilities ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "written, meaning",
    [("NET_RAW", "NET_RAW"), ("CAP_NET_RAW", "NET_RAW"), ("cap_net_raw", "NET_RAW"), (" all ", "ALL")],
)
def test_capability_names_compare_by_meaning(written, meaning):
    assert capability_name(written) == meaning


def test_capabilities_drop_all_covers_every_documented_drop_and_prefix_is_ignored(tmp_path):
    policy = "securityContext:\n  workloads:\n    shop/api: {capabilities: {drop: [NET_RAW, SYS_ADMIN], add: [NET_BIND_SERVICE]}}\n"
    manifests = pod(
        """\
        containers:
        - name: app
          image: example/api
          securityContext:
            capabilities: {drop: [all], add: [CAP_NET_BIND_SERVICE]}
        """
    )
    assert sec(scan_texts(tmp_path, manifests, policy)) == []


def test_capability_added_beyond_the_table_points_at_the_item(tmp_path):
    policy = "securityContext:\n  workloads:\n    shop/api: {capabilities: {drop: [ALL], add: [NET_BIND_SERVICE]}}\n"
    manifests = pod(
        """\
        containers:
        - name: app
          image: example/api
          securityContext:
            capabilities:
              drop: [ALL]
              add:
              - NET_BIND_SERVICE
              - CAP_SYS_PTRACE   # extra
        """
    )
    [finding] = sec(scan_texts(tmp_path, manifests, policy))
    assert (finding.rule_id, finding.loc.line, finding.detail) == (
        "SEC003",
        line_of(tmp_path, "# extra"),
        "capabilities.add:SYS_PTRACE",
    )


# --- host access ----------------------------------------------------------------------------


HOSTY = """\
hostNetwork: true   # net
containers:
- name: agent
  image: example/agent
  ports: [{containerPort: 9100, hostPort: 9100}]   # port
  securityContext: {privileged: true}   # priv
volumes:
- name: root
  hostPath: {path: /}   # vol
"""


def test_undocumented_host_access_is_reported_at_each_key(tmp_path):
    result = scan_texts(tmp_path, pod(HOSTY), "securityContext:\n  workloads:\n    shop/api: {runAsNonRoot: true}\n")
    lines = {f.loc.line for f in sec(result, "SEC004")}
    assert lines == {line_of(tmp_path, f"# {m}") for m in ("net", "port", "priv", "vol")}


def test_privileged_true_in_the_table_documents_host_access(tmp_path):
    result = scan_texts(tmp_path, pod(HOSTY), "securityContext:\n  workloads:\n    shop/api: {privileged: true}\n")
    assert sec(result, "SEC004") == []


def test_privileged_documented_for_one_container_only(tmp_path):
    policy = """\
    securityContext:
      workloads:
        shop/api:
          containers:
            agent: {privileged: true}
    """
    manifests = pod(
        """\
        containers:
        - {name: agent, image: example/agent, securityContext: {privileged: true}}
        - {name: helper, image: example/helper, securityContext: {privileged: true}}
        """
    )
    assert [f.container for f in sec(scan_texts(tmp_path, manifests, policy), "SEC004")] == ["helper"]


# --- coverage of the table ------------------------------------------------------------------


def test_sec006_and_sec007_cover_both_directions(tmp_path):
    policy = """\
    securityContext:
      namespaces: [shop]
      workloads:
        shop/api: {}
        shop/old-name: {}
    """
    manifests = (
        pod("containers:\n- {name: app, image: example/api}\n")
        + "---\n"
        + pod("containers:\n- {name: app, image: example/api}\n", name="new-name")
    )
    result = scan_texts(tmp_path, manifests, policy)
    assert [(f.rule_id, f.subject) for f in sec(result, "SEC006")] == [("SEC006", "Pod shop/new-name")]
    [missing] = sec(result, "SEC007")
    assert missing.loc.path == "kubematrix.yaml" and missing.loc.line == line_of(
        tmp_path, "shop/old-name", "kubematrix.yaml"
    )
    assert result.rules["SEC006"].severity == "warning"


# --- exceptions -----------------------------------------------------------------------------


def exception_policy(expires: str | None = None, containers: list[str] | None = None) -> str:
    extra = f'\n          expires: "{expires}"' if expires else ""
    if containers:
        extra += f"\n          containers: {containers}"
    return f"""\
securityContext:
  workloads:
    shop/api:
      runAsUser: 1000
      exceptions:
        - rules: [SEC001]
          reason: vendor image runs as uid 0 until the upgrade{extra}
"""


TWO_CONTAINERS = pod(
    """\
    containers:
    - {name: app, image: example/api, securityContext: {runAsUser: 0}}
    - {name: helper, image: example/helper, securityContext: {runAsUser: 0}}
    """
)


def test_documented_exception_suppresses_visibly(tmp_path):
    result = scan_texts(tmp_path, TWO_CONTAINERS, exception_policy())
    assert sec(result, "SEC001") == []
    suppressed = sec(result, "SEC001", active=False)
    assert len(suppressed) == 2
    for finding in suppressed:
        assert finding.suppression is not None
        assert finding.suppression.kind == "external"
        assert finding.suppression.reason.startswith("vendor image")
        assert finding.suppression.source.path == "kubematrix.yaml"


def test_expired_exception_does_not_suppress(tmp_path):
    expired = (FIXED_TODAY - _dt.timedelta(days=1)).isoformat()
    result = scan_texts(tmp_path, TWO_CONTAINERS, exception_policy(expires=expired))
    assert len(sec(result, "SEC001")) == 2
    still_valid = FIXED_TODAY.isoformat()
    result = scan_texts(tmp_path / "valid", TWO_CONTAINERS, exception_policy(expires=still_valid))
    assert sec(result, "SEC001") == []


def test_exception_limited_to_containers(tmp_path):
    result = scan_texts(tmp_path, TWO_CONTAINERS, exception_policy(containers=["app"]))
    assert [f.container for f in sec(result, "SEC001")] == ["helper"]


# --- the bundled example --------------------------------------------------------------------


def test_blog_system_example_keeps_its_table_with_the_web_exception_suppressed():
    result = scan_path(REPO / "fixtures" / "blog-system")
    assert sec(result) == []
    [web] = sec(result, active=False)
    assert (web.rule_id, web.workload, web.container, web.detail) == (
        "SEC001",
        "blog-system/web",
        "nginx",
        "runAsNonRoot",
    )
    assert web.suppression is not None and "nginx binds port 80" in web.suppression.reason


# --- properties -----------------------------------------------------------------------------

# Fields the table has no column for: writing them must never change a SEC finding.
UNMENTIONED = {
    "procMount": "Default",
    "seLinuxOptions": {"level": "s0:c1,c2"},
    "appArmorProfile": {"type": "RuntimeDefault"},
    "windowsOptions": {"gmsaCredentialSpecName": "spec"},
}
POD_UNMENTIONED = {
    "supplementalGroups": [4000],
    "sysctls": [{"name": "net.ipv4.tcp_syncookies", "value": "1"}],
    "fsGroupChangePolicy": "OnRootMismatch",
}

container_sc = st.fixed_dictionaries(
    {},
    optional={
        "runAsNonRoot": st.booleans(),
        "runAsUser": st.sampled_from([0, 1000, 65534]),
        "allowPrivilegeEscalation": st.booleans(),
        "readOnlyRootFilesystem": st.booleans(),
        "privileged": st.booleans(),
        "capabilities": st.fixed_dictionaries(
            {},
            optional={
                "drop": st.sampled_from([["ALL"], ["NET_RAW"], []]),
                "add": st.sampled_from([["NET_BIND_SERVICE"], ["SYS_ADMIN"], []]),
            },
        ),
        "seccompProfile": st.sampled_from([{"type": "RuntimeDefault"}, {"type": "Unconfined"}]),
    },
)
pod_sc = st.fixed_dictionaries(
    {},
    optional={
        "runAsNonRoot": st.booleans(),
        "runAsUser": st.sampled_from([0, 1000]),
        "fsGroup": st.sampled_from([1000, 2000]),
    },
)


def _identities(result: ScanResult) -> set[tuple]:
    # Lines move when fields are added; the identity (rule, subject, container, detail, message) must not.
    return {(f.rule_id, f.subject, f.container, f.detail, f.message) for f in sec(result, active=False)}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    pod_level=pod_sc,
    containers=st.lists(container_sc, min_size=1, max_size=3),
    extra=st.sampled_from(sorted(UNMENTIONED)),
    pod_extra=st.sampled_from(sorted(POD_UNMENTIONED)),
)
def test_fields_the_table_does_not_mention_never_change_sec_findings(pod_level, containers, extra, pod_extra):
    policy = """\
    securityContext:
      namespaces: [shop]
      defaults: {runAsNonRoot: true, allowPrivilegeEscalation: false, capabilities: {drop: [ALL], add: []}}
      workloads:
        shop/api: {runAsUser: 1000, fsGroup: 2000, readOnlyRootFilesystem: true, seccompProfile: RuntimeDefault}
    """

    def manifest(add: bool) -> str:
        spec = {"securityContext": dict(pod_level), "containers": []}
        for i, sc in enumerate(containers):
            sc = dict(sc)
            if add:
                sc[extra] = UNMENTIONED[extra]
            spec["containers"].append({"name": f"c{i}", "image": "example/app", "securityContext": sc})
        if add:
            spec["securityContext"][pod_extra] = POD_UNMENTIONED[pod_extra]
        return yaml.safe_dump(
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "api", "namespace": "shop"}, "spec": spec}
        )

    with tempfile.TemporaryDirectory() as tmp:
        before = _identities(scan_texts(Path(tmp) / "a", manifest(False), policy))
        after = _identities(scan_texts(Path(tmp) / "b", manifest(True), policy))
    assert before == after


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(containers=st.lists(container_sc, min_size=1, max_size=3))
def test_a_workload_outside_the_table_gets_no_sec001_to_sec005(containers):
    policy = "securityContext:\n  defaults: {runAsNonRoot: true, allowPrivilegeEscalation: false}\n  workloads:\n    shop/other: {}\n"
    spec = {"containers": [{"name": f"c{i}", "image": "x", "securityContext": sc} for i, sc in enumerate(containers)]}
    text = yaml.safe_dump(
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "api", "namespace": "shop"}, "spec": spec}
    )
    with tempfile.TemporaryDirectory() as tmp:
        result = scan_texts(Path(tmp), text, policy)
    assert {f.rule_id for f in sec(result)} <= {"SEC007"}
