"""Backup (BAK), retention (RET) and secret (SECRET) semantics beyond the fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import scan_path
from hypothesis import given
from hypothesis import strategies as st

from scanner.checks.cron import CronError, parse_cron
from scanner.checks.retention import duration_seconds
from scanner.checks.secrets import looks_secret
from scanner.report import render

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    "a, b",
    [
        ("0 18 * * *", "0 18 * * 0-6"),
        ("@daily", "0 0 * * *"),
        ("@weekly", "0 0 * * SUN"),
        ("*/15 * * * *", "0,15,30,45 * * * *"),
        ("0 0 1 jan *", "0 0 1 1 *"),
        ("0 3 ? * *", "0 3 * * *"),
    ],
)
def test_equal_schedules_compare_equal(a, b):
    assert parse_cron(a).key() == parse_cron(b).key()


@pytest.mark.parametrize(
    "a, b",
    [("0 18 * * *", "0 3 * * *"), ("0 0 1 * *", "0 0 1 * 0-6"), ("0 0 * * 1", "0 0 * * 2")],
)
def test_different_schedules_differ(a, b):
    # "0 0 1 * 0-6": day-of-month OR day-of-week (both restricted) fires every day.
    assert parse_cron(a).key() != parse_cron(b).key()


@pytest.mark.parametrize(
    "bad, reason",
    # robfig/cron's own reasons (parser.go getRange/normalizeFields/parseDescriptor), as the API server reports them
    [
        ("61 * * * *", "above maximum"),
        ("* * * *", "expected exactly 5 fields"),
        ("TZ=UTC 0 0 * * *", "spec.timeZone"),
        ("0 0 * * MONDAY", "failed to parse int from MONDAY"),
        ("*/0 * * * *", "positive"),
        ("5-1 * * * *", "beyond end of range"),
        ("@reboot", "unrecognized descriptor"),
    ],
)
def test_invalid_schedules_are_explained(bad, reason):
    with pytest.raises(CronError, match=reason):
        parse_cron(bad)


@given(st.integers(0, 59), st.integers(0, 23))
def test_a_fixed_daily_time_fires_exactly_once_a_day(minute, hour):
    schedule = parse_cron(f"{minute} {hour} * * *")
    fires = [(m, h) for h in range(24) for m in range(60) if schedule.fires_at(m, h, 15, 6, 3)]
    assert fires == [(minute, hour)]


@pytest.mark.parametrize(
    "text, seconds", [("168h", 604800), ("7d", 604800), ("1w", 604800), ("1h30m", 5400), ("0s", 0)]
)
def test_durations(text, seconds):
    assert duration_seconds(text) == seconds


@pytest.mark.parametrize("text", ["seven days", "168", "h", "", "7 d"])
def test_invalid_durations(text):
    assert duration_seconds(text) is None


@pytest.mark.parametrize(
    "name, value, secret",
    [
        ("DB_PASSWORD", "x1", True),
        ("api_key", "abc", True),
        ("AWS_SECRET_ACCESS_KEY", "abc", True),
        ("GITHUB_TOKEN", "ghp", True),
        ("passwordKey", "root-password", False),
        ("secretName", "db", False),
        ("existingSecret", "db", False),
        ("DB_PASSWORD", "", False),
        ("API_TOKEN", "$(TOKEN)", False),
        ("TOKEN_FILE", "/run/token", False),
        ("LOG_LEVEL", "debug", False),
        ("retention_deletes_enabled", True, False),
    ],
)
def test_secret_names(name, value, secret):
    assert looks_secret(name, value) is secret


def test_blog_system_backup_and_retention_hold():
    result = scan_path(REPO / "fixtures" / "blog-system")
    assert [f for f in result.findings if f.rule_id.startswith(("BAK", "RET", "SECRET"))] == []


def _seed_with_schedule(tmp_path, replacement: str):
    source = (REPO / "fixtures" / "blog-system").resolve()
    for path in source.rglob("*"):
        if path.is_file():
            target = tmp_path / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    cron = tmp_path / "blog-system" / "mysql-backup-cronjob.yaml"
    cron.write_text(cron.read_text().replace('schedule: "0 18 * * *"', replacement, 1))
    return scan_path(tmp_path)


def test_schedule_in_another_time_zone_is_drift(tmp_path):
    result = _seed_with_schedule(tmp_path, 'schedule: "0 18 * * *"\n  timeZone: Asia/Seoul')
    bak = [f for f in result.active() if f.rule_id == "BAK002"]
    assert len(bak) == 1 and "Asia/Seoul" in bak[0].message
    assert (bak[0].loc.path, bak[0].loc.line) == ("blog-system/mysql-backup-cronjob.yaml", 20)  # the timeZone line
    assert "at 2026-11-26 09:00 UTC the CronJob fires and the document does not" in bak[0].message


def test_the_seeds_own_local_time_with_time_zone_is_the_documented_schedule(tmp_path):
    """'03:00 KST' written as 0 3 * * * in Asia/Seoul fires exactly when 0 18 * * * UTC does."""
    result = _seed_with_schedule(tmp_path, 'schedule: "0 3 * * *"\n  timeZone: Asia/Seoul')
    assert [f"{f.loc} {f.message}" for f in result.active() if f.rule_id == "BAK002"] == []


def test_the_cron_moved_to_utc_three_is_drift_at_the_schedule(tmp_path):
    result = _seed_with_schedule(tmp_path, 'schedule: "0 3 * * *"')
    bak = [f for f in result.active() if f.rule_id == "BAK002"]
    assert [(f.loc.line, f.detail) for f in bak] == [(19, "schedule")]
    assert "at 2026-11-26 03:00 UTC the CronJob fires and the document does not" in bak[0].message


@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "markdown"])
def test_secret_values_never_reach_a_report(fmt):
    canaries = (
        "aHVudGVyMi1jYW5hcnk=",
        "hunter2-canary",
        "canary-token-value",
        "sk-canary-0123456789",
        "canary-root-pw",
    )
    outputs = []
    for rule in ("SECRET001", "SECRET002"):
        result = scan_path(REPO / "fixtures" / "rules" / rule / "fail")
        assert any(f.rule_id == rule for f in result.findings)
        outputs.append(render(result, fmt))
    text = "\n".join(outputs)
    for canary in canaries:
        assert canary not in text


# -- placeholders and subject names (issue 8) -----------------------------------------


@pytest.mark.parametrize(
    "name, value",
    [
        ("GOOGLE_API_KEY", "GOOGLE_API_KEY_VAL"),
        ("API_TOKEN", "api-token"),
        ("DB_PASSWORD", "<your-password>"),
        ("DB_PASSWORD", "REPLACE_ME"),
        ("DB_PASSWORD", "your-db-password"),
        ("SECRET_KEY", "{{ secret_key }}"),
        ("SECRET_KEY", "TODO"),
    ],
)
def test_obvious_placeholders_are_not_secrets(name, value):
    assert not looks_secret(name, value)


@pytest.mark.parametrize(
    "name, value", [("GOOGLE_API_KEY", "AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY"), ("DB_PASSWORD", "Tr0ub4dor&3")]
)
def test_real_looking_values_still_are(name, value):
    assert looks_secret(name, value)


def test_secret_subjects_are_written_one_way(tmp_path):
    (tmp_path / "s.yaml").write_text(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: x}\nstringData: {token: abc}\n---\n"
        "apiVersion: v1\nkind: Secret\nmetadata: {name: y, namespace: default}\nstringData: {token: abc}\n---\n"
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {API_TOKEN: s3cr3t-v4lu3-here}\n",
        encoding="utf-8",
    )
    result = scan_path(tmp_path)
    subjects = sorted(f.subject for f in result.findings if f.rule_id.startswith("SECRET"))
    assert subjects == ["ConfigMap default/c", "Secret default/x", "Secret default/y"]
    assert not any("(default namespace)" in f.message for f in result.findings)
