"""Two schedules are the same promise when they fire at the same instants (issue 9 item 1).

Rows are from ``../shared/reference/cronjob-schedule-semantics.md`` §6 (instants verified
with robfig/cron v3.0.1's ``Next`` orbit); scans start on the tests' fixed day.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest
from conftest import FIXED_TODAY

from scanner.checks.cron import parse_cron
from scanner.checks.cron_instants import WINDOW_DAYS, compare


def _verdict(a, zone_a, b, zone_b, start=FIXED_TODAY):
    return compare(parse_cron(a), zone_a, parse_cron(b), zone_b, start, ("A", "B"))


@pytest.mark.parametrize(
    "a, zone_a, b, zone_b",
    [
        ("0 3 * * *", "Asia/Seoul", "0 18 * * *", None),  # row 9: the seed's 03:00 KST
        ("0 3 * * *", "Asia/Seoul", "0 18 * * *", "Etc/UTC"),
        ("0 * * * *", "America/New_York", "0 * * * *", "UTC"),  # row 12: whole-hour shifts keep the hourly set
        ("30 * * * *", "Asia/Kolkata", "0 * * * *", "UTC"),  # row 14: +5:30
        ("0 12 * * *", "Etc/GMT-9", "0 3 * * *", "UTC"),  # row 16: Etc/GMT-9 is UTC+9 (POSIX sign)
        ("0 0 * * *", "Asia/Tokyo", "0 0 * * *", "Asia/Seoul"),  # row 17: identical offset functions
        ("30 1 * * *", "America/New_York", "30 1 * * *", "US/Eastern"),
        ("0 9 * * *", None, "0 9 * * *", "UTC"),  # row 18: no timeZone = the controller's (UTC)
        ("0 9 29 2 *", "Asia/Seoul", "0 0 29 2 *", "UTC"),  # leap days, shifted
        ("* * * * *", "Europe/Berlin", "* * * * *", "Europe/Paris"),
    ],
)
def test_same_instants(a, zone_a, b, zone_b):
    assert _verdict(a, zone_a, b, zone_b).same is True


@pytest.mark.parametrize(
    "a, zone_a, b, zone_b, first",
    [
        (
            "0 3 * * *",
            "America/New_York",
            "0 8 * * *",
            None,
            "at 2027-03-14 07:00 UTC A fires and B does not",
        ),  # row 10
        (
            "0 2 * * *",
            "America/New_York",
            "0 7 * * *",
            None,
            "at 2027-03-14 07:00 UTC B fires and A does not",
        ),  # row 11
        (
            "0 * * * 1",
            "America/New_York",
            "0 * * * 1",
            "UTC",
            "at 2026-11-30 00:00 UTC B fires and A does not",
        ),  # row 13
        (
            "0 * * * *",
            "Australia/Lord_Howe",
            "30 * * * *",
            "UTC",
            "at 2026-11-26 00:00 UTC A fires and B does not",
        ),  # 15
        (
            "0 3 * * *",
            None,
            "0 18 * * *",
            None,
            "at 2026-11-26 03:00 UTC A fires and B does not",
        ),  # the cron moved to 03:00 UTC
        ("0 18 * * *", "Asia/Seoul", "0 18 * * *", None, "at 2026-11-26 09:00 UTC A fires and B does not"),
        ("0 9 29 2 *", "Asia/Seoul", "0 0 30 2 *", "UTC", "at 2028-02-29 00:00 UTC A fires and B does not"),
    ],
)
def test_different_instants_name_the_first_difference(a, zone_a, b, zone_b, first):
    verdict = _verdict(a, zone_a, b, zone_b)
    assert verdict.same is False
    assert verdict.detail == first


def test_one_year_is_not_enough():
    """Mondays of March in Seoul vs Sundays of March in UTC differ only when March 1 is a
    Monday or March 31 a Sunday: from 2027-04-01 that is first 2030-03-31, three years on."""
    verdict = _verdict("0 3 * 3 1", "Asia/Seoul", "0 18 * 3 0", None, dt.date(2027, 4, 1))
    assert verdict.same is False
    assert verdict.detail == "at 2030-03-31 18:00 UTC B fires and A does not"
    assert WINDOW_DAYS == 10227  # 28 years


def test_robfig_deviation_zones_are_not_proven_by_the_wall_clock():
    # row 24: equal on the wall clock, but robfig skips Beirut's Sunday 2025-03-30 (midnight gap).
    verdict = _verdict("0 12 * * 0", "Asia/Beirut", "0 12 * * 0", "Europe/Nicosia")
    assert verdict.same is None and "Asia/Beirut" in verdict.detail


@pytest.mark.parametrize("a, b", [("@every 1h", "0 * * * *"), ("0 * * * *", "@every 1h")])
def test_every_against_a_cron_schedule_is_undecidable(a, b):
    # row 25: the phase is the CronJob's creationTimestamp, and @every ignores spec.timeZone.
    verdict = _verdict(a, "Asia/Seoul", b, None)
    assert verdict.same is None and "creation time" in verdict.detail


def test_every_against_every_compares_periods():
    assert _verdict("@every 60m", None, "@every 1h", "Asia/Seoul").same is True
    assert _verdict("@every 30m", None, "@every 1h", None).same is False


def test_cost_of_a_full_window():
    """The seed's comparison walks all 28 years (a 'same' verdict cannot stop early)."""
    begin = time.perf_counter()
    assert _verdict("0 3 * * *", "Asia/Seoul", "0 18 * * *", None).same is True
    assert _verdict("* * * * *", "America/New_York", "* * * * *", "UTC").same is True
    assert time.perf_counter() - begin < 5  # ~0.1 s measured; generous for a busy 2-core machine
