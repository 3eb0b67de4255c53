"""No secret value ever appears in any report format, in any finding message or
on the console: canary values planted where secrets live (Secret data and
stringData, literal env values, ConfigMaps, Helm values), in broken files and in
wrongly typed fields, must not come back out."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from .helpers import render_all, run_cli, scan_tree

CANARY = "CANARY-7f3a9c-do-not-print"
CANARY_B64 = base64.b64encode(CANARY.encode()).decode()


def _plant(root: Path) -> None:
    (root / "secret.yaml").write_text(
        f"""\
apiVersion: v1
kind: Secret
metadata:
  name: db
  namespace: shop
type: Opaque
data:
  password: {CANARY_B64}
  connection: {base64.b64encode(f"mysql://app:{CANARY}@db:3306/app".encode()).decode()}
stringData:
  root-password: {CANARY}-1
  DATABASE_URL: "mysql://app:{CANARY}-2@db:3306/app"
""",
        encoding="utf-8",
    )
    (root / "deploy.yaml").write_text(
        f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: shop
spec:
  selector: {{matchLabels: {{app: api}}}}
  template:
    metadata:
      labels: {{app: api}}
    spec:
      containers:
      - name: app
        image: example/api:1.0
        env:
        - name: DB_PASSWORD
          value: {CANARY}-3
        - name: API_TOKEN
          value: "{CANARY}-4"
        - name: PASSWORD_NUMBER
          value: "{CANARY}-5"
""",
        encoding="utf-8",
    )
    (root / "configmap.yaml").write_text(
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\n  namespace: shop\ndata:\n  password: {CANARY}-6\n",
        encoding="utf-8",
    )
    (root / "values.yaml").write_text(f"mysql:\n  auth:\n    rootPassword: {CANARY}-7\n", encoding="utf-8")


def _assert_no_canary(text: str, where: str) -> None:
    assert CANARY not in text, f"a secret value leaked into {where}"
    assert CANARY_B64 not in text, f"a base64 secret value leaked into {where}"


def test_secret_values_appear_in_no_report_format_and_no_message(tmp_path):
    _plant(tmp_path)
    result = scan_tree(tmp_path)
    assert result.findings, "the planted secrets should at least be reported"
    for finding in result.findings:
        _assert_no_canary(finding.message, f"the message of {finding.rule_id}")
        _assert_no_canary(finding.subject + finding.detail + finding.container, f"the identity of {finding.rule_id}")
    reports = render_all(result)
    for fmt, text in reports.items():
        _assert_no_canary(text, f"the {fmt} report")


def test_secret_values_never_reach_the_console(tmp_path):
    _plant(tmp_path)
    for fmt in ("text", "json", "sarif"):
        proc = run_cli(["scan", ".", "--format", fmt], cwd=tmp_path)
        assert proc.returncode == 1, proc.stderr
        _assert_no_canary(proc.stdout, f"stdout ({fmt})")
        _assert_no_canary(proc.stderr, f"stderr ({fmt})")
    out = tmp_path / "report.sarif"
    proc = run_cli(["scan", ".", "--format", "sarif", "--output", str(out)], cwd=tmp_path)
    _assert_no_canary(out.read_text(encoding="utf-8"), "the --output file")


WRONG_TYPED = [
    ("security-context", "        securityContext: {value}\n"),
    ("run-as-user", "        securityContext:\n          runAsUser: {value}\n"),
    ("env-list", "        env: {value}\n"),
    ("ports", "        ports: {value}\n"),
    ("image", "        image: [{value}]\n"),
]


@pytest.mark.parametrize("field, snippet", WRONG_TYPED, ids=[w[0] for w in WRONG_TYPED])
def test_a_wrongly_typed_value_is_described_never_echoed(tmp_path, field, snippet):
    """A password pasted into the wrong field must not come back in the INPUT002 message."""
    (tmp_path / "m.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: shop}\nspec:\n  containers:\n"
        "      - name: app\n" + snippet.format(value=f'"{CANARY}"'),
        encoding="utf-8",
    )
    result = scan_tree(tmp_path)
    messages = [f.message for f in result.findings if f.rule_id == "INPUT002"]
    assert messages, f"the wrong type of {field} is reported"
    for message in messages:
        _assert_no_canary(message, "an INPUT002 message")
    assert any(f"a string ({len(CANARY)} characters)" in m or "a list" in m for m in messages), messages


BROKEN_SECRETS = [
    ("tab", f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n\tpassword: {CANARY}\n"),
    ("unclosed-quote", f'apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  password: "{CANARY}\n'),
    (
        "bad-indent",
        f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  token: a\n   password: {CANARY}\n",
    ),
    ("custom-tag", f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  password: !Secret {CANARY}\n"),
    ("bad-int", f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  password: !!int {CANARY}\n"),
]


@pytest.mark.parametrize("case, text", BROKEN_SECRETS, ids=[b[0] for b in BROKEN_SECRETS])
def test_parse_errors_in_a_secret_do_not_echo_its_value(tmp_path, case, text):
    (tmp_path / "secret.yaml").write_text(text, encoding="utf-8")
    result = scan_tree(tmp_path)
    assert any(f.rule_id == "INPUT001" for f in result.findings)
    for finding in result.findings:
        _assert_no_canary(finding.message, f"{finding.rule_id} ({case})")
    for fmt, report in render_all(result).items():
        _assert_no_canary(report, f"the {fmt} report ({case})")


def test_a_duplicate_key_inside_a_secret_does_not_print_the_value(tmp_path):
    (tmp_path / "secret.yaml").write_text(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  namespace: shop\nstringData:\n"
        f"  DATABASE_URL: mysql://app:{CANARY}-a@db/app\n  DATABASE_URL: mysql://app:{CANARY}-b@db/app\n",
        encoding="utf-8",
    )
    result = scan_tree(tmp_path)
    assert [f.rule_id for f in result.findings if f.rule_id.startswith("INPUT")] == ["INPUT003"]
    for fmt, report in render_all(result).items():
        _assert_no_canary(report, f"the {fmt} report")
