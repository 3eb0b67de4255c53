"""Backup objects against the S3 lifecycle rule (issue 9 item 3), the staging volume
(item 5) and the typed CronJob they are read from (issue 10's ask)."""

from __future__ import annotations

import pytest
from conftest import scan_path

from scanner.checks.backup_objects import matches, starts_with
from scanner.checks.shell import Pattern, Unknown, parse_script

# --- the shell reader -------------------------------------------------------------------


def test_the_seeds_dump_pipeline_is_read_like_sh():
    script = parse_script(
        'set -euo pipefail\nmysqldump -u root --password="${MYSQL_ROOT_PASSWORD}" \\\n'
        "  --all-databases | gzip > /backup/mysql-backup-$(date +%Y%m%d-%H%M%S).sql.gz\nls -lh /backup\n"
    )
    assert script.problems == ()
    dump = script.pipelines[1]
    assert [c.name for c in dump.commands] == ["mysqldump", "gzip"]
    target = dump.commands[1].stdout().target
    assert target.parts == ("/backup/mysql-backup-", Unknown("$(date +%Y%m%d-%H%M%S)"), ".sql.gz")
    password = dump.commands[0].words[3]
    assert password.parts == ("--password=", Unknown("${MYSQL_ROOT_PASSWORD}"))  # never resolved, never shown


def test_variables_quotes_and_assignments():
    script = parse_script(
        'F="/b/${P}x-$(date +%F)"; export G=\'lit $HOME\'; cp "$F" $G 2>&1 >>/log # c\n', {"P": Pattern.of(("db-",))}
    )
    cp = script.pipelines[2].commands[0]
    assert cp.words[1].pattern() == Pattern.of(("/b/db-x-", Unknown("$(date +%F)")))
    assert cp.words[2].literal == "lit $HOME"
    assert [(r.op, r.fd, r.target.literal) for r in cp.redirects] == [(">>", 1, "/log")]


@pytest.mark.parametrize("text", ["cat <<EOF\nx\nEOF\n", "echo 'unterminated", 'echo "unterminated'])
def test_what_the_reader_does_not_follow_is_a_problem(text):
    assert parse_script(text).problems


# --- patterns with unknown parts ----------------------------------------------------------

KEY = Pattern.of(("mysql-backup-", Unknown("$(date)"), ".sql.gz"))


@pytest.mark.parametrize(
    "pattern, prefix, expected",
    [
        (KEY, "mysql-backup-", True),
        (KEY, "mysql-", True),
        (KEY, "backups/", False),
        (Pattern.of((Unknown("$P"), "x")), "mysql-", None),
        (Pattern.of(("my", Unknown("$P"))), "mysql-", None),
        (Pattern.of(("db", Unknown("$P"))), "mysql-", False),
        (Pattern.of(("",)), "", True),
    ],
)
def test_prefix_for_every_value(pattern, prefix, expected):
    assert starts_with(pattern, prefix) is expected


@pytest.mark.parametrize(
    "glob, path, expected",
    [
        ("/backup/*", Pattern.of(("/backup/", Unknown("$(d)"), ".gz")), True),  # aws-cli: '*' crosses '/'
        ("/backup/mysql-backup-*.sql.gz", Pattern.of(("/backup/",)) + KEY, True),
        ("/backup/mysql-backup-*.sql.gz", Pattern.of(("/backup/db-", Unknown("$(d)"), ".sql.gz")), False),
        ("/backup/mysql-backup-????????.sql.gz", Pattern.of(("/backup/",)) + KEY, None),  # depends on the date's length
        ("/backup/[md]*", Pattern.of(("/backup/mysql",)), True),
        ("/backup/[!m]*", Pattern.of(("/backup/mysql",)), False),
    ],
)
def test_fnmatch_for_every_value(glob, path, expected):
    assert matches(Pattern.of((glob,)), path) is expected


# --- the seed and its mutations (the full list is in test_seed_mutations.py) ------------------


def test_typed_cronjob_wrong_types_are_reported_once(tmp_path):
    (tmp_path / "kubematrix.yaml").write_text(
        "apiVersion: kubematrix.dev/v1alpha1\nkind: Policy\nbackups:\n"
        "  - {name: db, cronJob: shop/db, schedule: '0 18 * * *', concurrencyPolicy: Forbid}\n"
    )
    (tmp_path / "cron.yaml").write_text(
        "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: db, namespace: shop}\nspec:\n"
        "  schedule: 18\n  concurrencyPolicy: [Forbid]\n  jobTemplate:\n    spec:\n      template:\n        spec:\n"
        "          restartPolicy: OnFailure\n          containers: [{name: c, image: x, volumeMounts: [{name: v}]}]\n"
    )
    result = scan_path(tmp_path)
    got = sorted(
        (f.rule_id, f.loc.line, f.detail) for f in result.active() if f.rule_id in ("INPUT002", "BAK002", "BAK003")
    )
    assert got == [
        ("BAK002", 5, "schedule"),  # the promise is not proven: unreadable (see INPUT002)
        ("BAK003", 6, "concurrencyPolicy"),  # unreadable: the promise is not proven
        ("INPUT002", 5, "spec.schedule"),  # reported once, by the model
        ("INPUT002", 6, "spec.concurrencyPolicy"),
        ("INPUT002", 12, "spec.jobTemplate.spec.template.spec.containers[0].volumeMounts[0]"),
    ]
    bak002 = next(f for f in result.active() if f.rule_id == "BAK002")
    assert "could not be read (see INPUT002)" in bak002.message
