"""Every mutation of the reference system, and exactly the rule meant for it (issue 9).

Each case copies ``fixtures/blog-system``, edits it the way a real change would, scans it
and compares the complete set of active findings as (rule, file, line).  Lines are given
by a piece of text on them in the mutated file, so the table reads like the change.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from conftest import REPO, scan_path

from scanner.report import render

SEED = REPO / "fixtures" / "blog-system"
CRON = "blog-system/mysql-backup-cronjob.yaml"
LIFECYCLE = "infra/s3/mysql-backup-lifecycle.json"
WORKFLOW = ".github/workflows/ci.yml"
TRIVY_STEP = """    # P1 item: Trivy image scan. exit-code '0' = report only (warnings),
    # vulnerabilities never fail the build.
    - name: Trivy image scan
      uses: aquasecurity/trivy-action@0.28.0
      with:
        image-ref: ${{ env.IMAGE }}:${{ github.sha }}
        format: table
        severity: CRITICAL,HIGH
        ignore-unfixed: true
        exit-code: '0'
"""

# name: ([(file, old, new)], {(rule, file, text on the reported line)})
MUTATIONS = {
    "unchanged": ([], set()),
    # 1. time zones
    "cron moved to 03:00 UTC": (
        [(CRON, 'schedule: "0 18 * * *"', 'schedule: "0 3 * * *"')],
        {("BAK002", CRON, 'schedule: "0 3 * * *"')},
    ),
    "schedule rewritten with timeZone (03:00 KST)": (
        [(CRON, 'schedule: "0 18 * * *"', 'schedule: "0 3 * * *"\n  timeZone: Asia/Seoul')],
        set(),
    ),
    "timeZone added, schedule kept": (
        [(CRON, 'schedule: "0 18 * * *"', 'schedule: "0 18 * * *"\n  timeZone: Asia/Seoul')],
        {("BAK002", CRON, "timeZone: Asia/Seoul")},
    ),
    "schedule rewritten in New York time": (
        [(CRON, 'schedule: "0 18 * * *"', 'schedule: "0 13 * * *"\n  timeZone: America/New_York')],
        {("BAK002", CRON, 'schedule: "0 13 * * *"')},
    ),
    "schedule as @every 24h": (
        [(CRON, 'schedule: "0 18 * * *"', 'schedule: "@every 24h"')],
        {("BAK002", CRON, 'schedule: "@every 24h"')},
    ),
    # 3. backup objects vs the lifecycle rule
    "dump renamed (the upload filter drops it)": (
        [(CRON, "gzip > /backup/mysql-backup-$(date", "gzip > /backup/db-backup-$(date")],
        {("BAK006", CRON, "gzip > /backup/db-backup-")},
    ),
    "dump and upload filter renamed": (
        [
            (CRON, "gzip > /backup/mysql-backup-$(date", "gzip > /backup/db-backup-$(date"),
            (CRON, '--include "mysql-backup-*.sql.gz"', '--include "db-backup-*.sql.gz"'),
        ],
        {("BAK006", CRON, "gzip > /backup/db-backup-"), ("BAK006", LIFECYCLE, '"Prefix"')},
    ),
    "upload under a folder": (
        [(CRON, "s3://jimin-mysql-backup/ --recursive", "s3://jimin-mysql-backup/daily/ --recursive")],
        {("BAK006", CRON, "s3://jimin-mysql-backup/daily/"), ("BAK006", LIFECYCLE, '"Prefix"')},
    ),
    "lifecycle prefix changed": (
        [(LIFECYCLE, '"Prefix": "mysql-backup-"', '"Prefix": "backups/"')],
        {("RET001", LIFECYCLE, '"Prefix"'), ("BAK006", LIFECYCLE, '"Prefix"')},
    ),
    "lifecycle rule disabled": (
        [(LIFECYCLE, '"Status": "Enabled"', '"Status": "Disabled"')],
        {("RET001", LIFECYCLE, '"Status"')},
    ),
    "bucket changed": (
        [(CRON, "s3://jimin-mysql-backup/ --recursive", "s3://jimin-backups/ --recursive")],
        {("BAK005", CRON, "s3://jimin-backups/")},
    ),
    "region changed": (
        [(CRON, "value: ap-northeast-2          # Seoul", "value: us-east-1")],
        {("BAK005", CRON, "value: us-east-1")},
    ),
    # 4. the CI gate
    "Trivy step removed": ([(WORKFLOW, TRIVY_STEP, "")], {("CI001", WORKFLOW, "build-was:")}),
    "Trivy silenced with continue-on-error": (
        [
            (
                WORKFLOW,
                "      uses: aquasecurity/trivy-action@0.28.0\n",
                "      uses: aquasecurity/trivy-action@0.28.0\n      continue-on-error: true\n",
            )
        ],
        {("CI005", WORKFLOW, "continue-on-error: true")},
    ),
    "Trivy as a command with || true": (
        [
            (
                WORKFLOW,
                TRIVY_STEP,
                (
                    "    - name: Trivy image scan\n"
                    '      run: trivy image --exit-code 1 "${IMAGE}:${{ github.sha }}" || true\n'
                ),
            )
        ],
        {("CI005", WORKFLOW, "|| true")},
    ),
    "Trivy disabled with if: false": (
        [
            (
                WORKFLOW,
                "      uses: aquasecurity/trivy-action@0.28.0\n",
                "      uses: aquasecurity/trivy-action@0.28.0\n      if: false\n",
            )
        ],
        {("CI001", WORKFLOW, "build-was:")},
    ),
    "Trivy scans another image": (
        [(WORKFLOW, "image-ref: ${{ env.IMAGE }}:${{ github.sha }}", "image-ref: ghcr.io/example/blog-web:latest")],
        {("CI001", WORKFLOW, "build-was:")},
    ),
    "Trivy severity narrowed": (
        [(WORKFLOW, "severity: CRITICAL,HIGH", "severity: CRITICAL")],
        {("CI003", WORKFLOW, "severity: CRITICAL")},
    ),
    "Trivy exit-code dropped (still report-only, as documented)": ([(WORKFLOW, "        exit-code: '0'\n", "")], set()),
    "the documented report-only decision expired": (
        [("kubematrix.yaml", '    reason: "§6 P1:', '    expires: "2026-06-30"\n    reason: "§6 P1:')],
        {("CI002", WORKFLOW, "exit-code: '0'"), ("POL002", "kubematrix.yaml", 'reason: "§6 P1:')},
    ),
    "Trivy made blocking": ([(WORKFLOW, "exit-code: '0'", "exit-code: '1'")], set()),
    # 5. the staging volume
    "staging volume moved to a PVC": (
        [
            (
                CRON,
                "emptyDir: {}                       # cleaned up when the Job ends",
                "persistentVolumeClaim:\n              claimName: mysql-backup-staging",
            )
        ],
        {("BAK007", CRON, "persistentVolumeClaim:")},
    ),
}


def _mutated(tmp_path: Path, edits: list[tuple[str, str, str]]) -> Path:
    tree = tmp_path / "blog"
    shutil.copytree(SEED, tree)
    for file, old, new in edits:
        path = tree / file
        text = path.read_text(encoding="utf-8")
        assert text.count(old) == 1, f"{file}: the mutation's anchor must occur once: {old!r}"
        path.write_text(text.replace(old, new), encoding="utf-8")
    return tree


def _line_of(tree: Path, file: str, text: str) -> int:
    lines = (tree / file).read_text(encoding="utf-8").splitlines()
    hits = [n for n, line in enumerate(lines, 1) if text in line]
    assert len(hits) == 1, f"{file}: {text!r} must be on exactly one line, found {hits}"
    return hits[0]


@pytest.mark.parametrize("name", list(MUTATIONS))
def test_each_mutation_fires_exactly_its_rule(tmp_path, name):
    edits, expected = MUTATIONS[name]
    tree = _mutated(tmp_path, edits)
    result = scan_path(tree)
    got = {(f.rule_id, f.loc.path, f.loc.line) for f in result.active()}
    want = {(rule, file, _line_of(tree, file, text)) for rule, file, text in expected}
    assert got == want, "\n".join(f"{f.rule_id} {f.loc} {f.message}" for f in result.active())


@pytest.mark.parametrize("name", [n for n, (_, want) in MUTATIONS.items() if want])
def test_a_mutation_breaks_a_documented_promise(tmp_path, name):
    """No false assurance: every mutation that fires also shows as a broken promise."""
    result = scan_path(_mutated(tmp_path, MUTATIONS[name][0]))
    broken = {p.promise.key for p in result.promises if p.status == "broken"}
    assert broken, "a finding of the mutation must break a documented promise"
    assert {key for f in result.active() for key in f.promises} <= broken


def test_the_seed_proves_every_row_including_the_new_ones():
    result = scan_path(SEED)
    assert result.active() == []
    statuses = {p.promise.key: p.status for p in result.promises}
    assert statuses["backup:mysql"] == "kept"
    assert statuses["backup:mysql:staging-volume"] == "kept"
    assert statuses["backup:mysql:lifecycle:infra/s3/mysql-backup-lifecycle.json"] == "kept"
    assert statuses["retention:s3Lifecycle:infra/s3/mysql-backup-lifecycle.json"] == "kept"
    assert statuses["ci-gate:trivy-was"] == "excepted"  # exit-code 0 by decision, documented with its reason
    assert all(status != "broken" for status in statuses.values())
    text = render(result, "text")
    assert re.search(r"1 of 1\s+CI gates proven \(1 by a documented exception\)", text)
    assert re.search(r"3 of 3\s+backups proven as documented", text)
    last = " ".join(text.strip().split("\n\n")[-1].split())
    assert last.startswith(
        f"No findings: {len(result.promises)} documented promises kept (2 by a documented exception)"
    )
    suppressed = [f for f in result.suppressed() if f.rule_id == "CI002"]
    assert len(suppressed) == 1 and "by decision" in suppressed[0].suppression.reason
