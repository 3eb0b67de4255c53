"""Cron schedules exactly as Kubernetes reads them: robfig/cron v3.0.1 ``ParseStandard``
plus the API server's create validation.

The tables are taken from robfig/cron's own tests (tag v3.0.1: ``parser_test.go``
``TestRange``/``TestParseScheduleErrors``/``TestStandardSpecSchedule``, ``spec_test.go``
``TestActivation``) and from ``../shared/reference/cronjob-schedule-semantics.md`` §2-§3 and
§6, whose rows were verified against the real library.  Kubernetes:
``pkg/apis/batch/validation/validation.go`` (``validateScheduleFormat``, ``validateTimeZone``).
"""

from __future__ import annotations

import datetime as dt

import pytest

from scanner.checks.cron import CronError, Every, Schedule, parse_cron, time_zone_error

# --- robfig parser_test.go TestRange, run through a whole field of the right bounds ----

# (field text, field position, expected values); positions: 0 minute, 1 hour, 2 dom, 3 month, 4 dow
_RANGES = [
    ("5", 0, {5}),
    ("5-5", 0, {5}),
    ("5-6", 0, {5, 6}),
    ("5-7/2", 0, {5, 7}),  # robfig: {"5-7/2", 0, 7, 1<<5 | 1<<7}
    ("5-7/1", 0, {5, 6, 7}),
    ("*/2", 3, {1, 3, 5, 7, 9, 11}),  # robfig: {"*/2", 1, 3, 1<<1 | 1<<3} (step from the minimum)
    ("1,5-7/2,3", 2, {1, 3, 5, 7}),  # robfig TestField
    ("5/15", 0, {5, 20, 35, 50}),  # "N/step" means "N-max/step" (spec_test "5/15 * * * *")
    ("*/90", 0, {0}),  # a step beyond the range keeps the first value only (reference §1)
    ("1,,2", 0, {1, 2}),  # strings.FieldsFunc drops empty list items
    (",", 0, set()),  # ... so a lone comma is a valid, empty field
    ("+5", 0, {5}),  # strconv.Atoi accepts a leading '+'
    ("05", 0, {5}),
    ("*-5", 0, set(range(60))),  # after '*' anything behind '-' is ignored (getRange)
    ("*-5/20", 0, {0, 20, 40}),
    ("MON-fri", 4, {1, 2, 3, 4, 5}),  # names are case-insensitive
    ("mon/2", 4, {1, 3, 5}),
    ("Jul", 3, {7}),
    ("? ", 4, set(range(7))),
]


@pytest.mark.parametrize("text, position, values", _RANGES)
def test_field_values_as_robfig(text, position, values):
    fields = ["0", "0", "*", "*", "*"]
    fields[position] = text.strip()
    schedule = parse_cron(" ".join(fields))
    got = [schedule.minutes, schedule.hours, schedule.days, schedule.months, schedule.weekdays][position]
    assert got == frozenset(values)


# --- invalid: robfig errors and Kubernetes create validation ---------------------------

_INVALID = [
    ("5--5 * * * *", "too many hyphens"),  # robfig TestRange
    ("0 0 * jan-x *", "failed to parse int from x"),
    ("2-x * * * *", "failed to parse int from x"),
    ("*/-12 * * * *", "negative number"),
    ("*//2 * * * *", "too many slashes"),
    ("0 0 0 * *", "below minimum"),  # day-of-month starts at 1
    ("60 * * * *", "above maximum"),
    ("0 0 * * 7", "above maximum"),  # Sunday is 0 only (reference §2, row 1)
    ("5-3 * * * *", "beyond end of range"),
    ("*/0 * * * *", "positive number"),
    ("5 j * * *", "failed to parse int from j"),  # TestStandardSpecSchedule
    ("* * * *", "expected exactly 5 fields"),
    ("0 0 * * * *", "expected exactly 5 fields"),  # no seconds field in Kubernetes
    ("", "empty"),
    ("@unrecognized", "unrecognized descriptor"),  # TestParseScheduleErrors
    ("@every Xm", "failed to parse duration"),
    ("@every 1d", "failed to parse duration"),  # Go durations have no 'd'
    ("@Daily", "unrecognized descriptor"),  # descriptors are exact and case-sensitive
    ("@daily ", "unrecognized descriptor"),
    (" @daily", "expected exactly 5 fields"),
    ("@reboot", "unrecognized descriptor"),
    ("0 0 L * *", "failed to parse int from L"),
    ("0 0 * * sunday", "failed to parse int from sunday"),  # three-letter names only
    ("0 0 * * 1#2", "failed to parse int"),
    ("0 0 1 * */mon", "failed to parse int from mon"),  # no names as steps
    ("jan * * * *", "failed to parse int from jan"),  # no names outside month/day-of-week
    ("0 0 * * ٣", "failed to parse int"),  # Atoi takes ASCII digits only
    ("1-2-3 * * * *", "too many hyphens"),
    ("TZ=Asia/Seoul 0 3 * * *", "use spec.timeZone"),  # validateScheduleFormat, Kubernetes >= 1.29
    ("CRON_TZ=UTC 0 3 * * *", "use spec.timeZone"),
    ("0 3 * * * TZ", "use spec.timeZone"),  # any 'TZ' substring
]


@pytest.mark.parametrize("text, reason", _INVALID)
def test_invalid_schedules_are_rejected_with_robfigs_reason(text, reason):
    with pytest.raises(CronError, match=reason):
        parse_cron(text)


# --- descriptors and @every ---------------------------------------------------------------


@pytest.mark.parametrize(
    "descriptor, equivalent",
    [
        ("@yearly", "0 0 1 1 *"),
        ("@annually", "0 0 1 1 *"),
        ("@monthly", "0 0 1 * *"),
        ("@weekly", "0 0 * * 0"),
        ("@daily", "0 0 * * *"),
        ("@midnight", "0 0 ? * ?"),
        ("@hourly", "0 * * * *"),
    ],
)
def test_descriptors_expand_like_parse_descriptor(descriptor, equivalent):
    # robfig parser.go parseDescriptor; the star bits matter for the day rule (reference §3).
    a, b = parse_cron(descriptor), parse_cron(equivalent)
    assert (a.minutes, a.hours, a.days, a.months, a.weekdays, a.days_star, a.weekdays_star) == (
        b.minutes,
        b.hours,
        b.days,
        b.months,
        b.weekdays,
        b.days_star,
        b.weekdays_star,
    )


@pytest.mark.parametrize(
    "text, seconds",
    [
        ("@every 5m", 300),
        ("@every 90s", 90),
        ("@every 1h30m", 5400),
        ("@every 1.5h", 5400),
        ("@every 0s", 1),
        ("@every -1m", 1),
        ("@every 1500ms", 1),
        ("@every 2500ms", 2),
        ("@every 24h", 86400),
    ],
)
def test_every_is_accepted_and_normalised_like_robfig(text, seconds):
    # Kubernetes accepts @every: validateScheduleFormat only calls cron.ParseStandard, whose doc
    # comment lists "@every 1h30m"; constantdelay.go Every() rounds below 1 s up to 1 s and
    # truncates sub-second remainders.
    parsed = parse_cron(text)
    assert isinstance(parsed, Every) and parsed.seconds == seconds


# --- the star bit and the day-of-month / day-of-week rule --------------------------------


@pytest.mark.parametrize(
    "text, days_star, weekdays_star",
    [
        ("0 0 * * 1", True, False),
        ("0 0 */1 * 1", True, False),
        ("0 0 ?/1 * 1", True, False),
        ("0 0 */2 * 1", False, False),
        ("0 0 1-31 * 1-5", False, False),
        ("0 0 1-5,* * 1", True, False),
        ("0 0 1 * ?", False, True),
        ("0 0 1 * 0-6", False, False),
    ],
)
def test_star_bit(text, days_star, weekdays_star):
    schedule = parse_cron(text)
    assert (schedule.days_star, schedule.weekdays_star) == (days_star, weekdays_star)


def _robfig_time(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%a %b %d %H:%M %Y")


# robfig spec_test.go TestActivation (standard 5-field rows), evaluated in one zone.
_ACTIVATION = [
    ("Mon Jul 9 15:00 2012", "0/15 * * * *", True),
    ("Mon Jul 9 15:45 2012", "0/15 * * * *", True),
    ("Mon Jul 9 15:40 2012", "0/15 * * * *", False),
    ("Mon Jul 9 15:05 2012", "5/15 * * * *", True),
    ("Mon Jul 9 15:20 2012", "5/15 * * * *", True),
    ("Mon Jul 9 15:50 2012", "5/15 * * * *", True),
    ("Sun Jul 15 15:00 2012", "0/15 * * Jul *", True),
    ("Sun Jul 15 15:00 2012", "0/15 * * Jun *", False),
    ("Sun Jul 15 08:30 2012", "30 08 ? Jul Sun", True),
    ("Sun Jul 15 08:30 2012", "30 08 15 Jul ?", True),
    ("Mon Jul 16 08:30 2012", "30 08 ? Jul Sun", False),
    ("Mon Jul 16 08:30 2012", "30 08 15 Jul ?", False),
    ("Mon Jul 9 15:00 2012", "@hourly", True),
    ("Mon Jul 9 15:04 2012", "@hourly", False),
    ("Mon Jul 9 15:00 2012", "@daily", False),
    ("Mon Jul 9 00:00 2012", "@daily", True),
    ("Mon Jul 9 00:00 2012", "@weekly", False),
    ("Sun Jul 8 00:00 2012", "@weekly", True),
    ("Sun Jul 8 01:00 2012", "@weekly", False),
    ("Sun Jul 8 00:00 2012", "@monthly", False),
    ("Sun Jul 1 00:00 2012", "@monthly", True),
    ("Sun Jul 15 00:00 2012", "* * 1,15 * Sun", True),  # both restricted: either may match
    ("Fri Jun 15 00:00 2012", "* * 1,15 * Sun", True),
    ("Wed Aug 1 00:00 2012", "* * 1,15 * Sun", True),
    ("Sun Jul 15 00:00 2012", "* * */10 * Sun", True),  # verifies robfig #70
    ("Sun Jul 15 00:00 2012", "* * * * Mon", False),  # one star: both must match
    ("Mon Jul 9 00:00 2012", "* * 1,15 * *", False),
    ("Sun Jul 15 00:00 2012", "* * 1,15 * *", True),
    ("Sun Jul 15 00:00 2012", "* * */2 * Sun", True),
]


@pytest.mark.parametrize("when, text, fires", _ACTIVATION)
def test_activation_as_robfig(when, text, fires):
    t = _robfig_time(when)
    schedule = parse_cron(text)
    assert isinstance(schedule, Schedule)
    assert schedule.fires_at(t.minute, t.hour, t.day, t.month, (t.weekday() + 1) % 7) is fires


# --- same instants, one zone (reference §6) ----------------------------------------------


@pytest.mark.parametrize(
    "a, b",
    [
        ("5/15 * * * *", "5-59/15 * * * *"),  # row 3
        ("@weekly", "0 0 * * sun"),
        ("@midnight", "0 0 ? * ?"),  # row 19
        ("0 0 */2 * 1", "0 0 1-31/2 * 1"),  # row 21: */2 drops the star bit, so OR
        ("0 0 31 2 1", "0 0 * 2 1"),  # row 22: February 31 never exists
        ("0 0 30 2 *", "0 0 31 4 *"),
        ("0 0 30 2 *", "0 0 , * *"),  # row 23: never fire
        ("0 0 */1 * 1", "0 0 * * 1"),  # */1 keeps the star bit
        ("0 18 * * *", "0 18 * * 0-6"),
        ("0 0 * * SUN", "0 0 * * Sun-Sun"),
    ],
)
def test_same_instants_in_one_zone(a, b):
    assert parse_cron(a).key() == parse_cron(b).key()


@pytest.mark.parametrize(
    "a, b",
    [
        ("0 0 * * 1-5", "0 0 1-31 * 1-5"),  # row 20: the second ORs, i.e. fires every day
        ("0 0 */2 * 1", "0 0 */2 * *"),  # row 21
        ("0 0 1 * *", "0 0 1 * 0-6"),
        ("0 0 29 2 *", "0 0 30 2 *"),  # Feb 29 exists in leap years
        ("@every 1h", "0 * * * *"),
    ],  # row 25: not provably the same
)
def test_different_instants_in_one_zone(a, b):
    assert parse_cron(a).key() != parse_cron(b).key()


# --- spec.timeZone as validateTimeZone reads it ---------------------------------------------


@pytest.mark.parametrize("name", ["Asia/Seoul", "UTC", "Etc/GMT-9", "America/Argentina/Buenos_Aires", "US/Eastern"])
def test_valid_time_zones(name):
    assert time_zone_error(name) is None


@pytest.mark.parametrize(
    "name, reason",
    [
        ("", "non-empty"),
        ("America/New York", "unknown time zone"),
        ("AMERICA/new_york", "unknown time zone"),
        ("Local", "explicit"),
        ("local", "explicit"),
        ("Mars/Olympus", "unknown time zone"),
        ("../etc/passwd", "unknown time zone"),
        ("-Asia/Seoul", "unknown time zone"),
        ("America/Argentina/Buenos_Aires_Too_Long", "unknown time zone"),
    ],
)
def test_invalid_time_zones(name, reason):
    assert reason in (time_zone_error(name) or "")
