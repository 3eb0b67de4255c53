"""Do two (schedule, time zone) pairs fire at the same instants?

Two schedules make the same promise when they fire at the same instants, whatever the
words: ``0 3 * * *`` with ``spec.timeZone: Asia/Seoul`` is the documented ``0 18 * * *``
UTC.  The CronJob controller evaluates a schedule on the wall clock of its zone
(robfig/cron ``SpecSchedule.Next`` after ``TZ=<zone>`` is prepended by the controller's
``formatSchedule``); without ``spec.timeZone`` it uses the kube-controller-manager's own
zone, UTC in the usual images, which is what this module assumes.

* Same zone: the canonical keys of ``cron.Schedule`` decide, exactly and for all time.
* Different zones: both are evaluated on the UTC minute timeline with the wall-clock
  model (an instant fires iff its local minute, hour, day, month and weekday match; times
  in a DST gap never exist, repeated times fire twice), which equals robfig's ``Next``
  orbit except around the transitions listed in ``_ROBFIG_DEVIATES`` (reference §4).

The window is 28 years from the scan date, not one year.  A year would be enough to meet
each DST transition of both zones once, but not to meet every calendar alignment: between
1901 and 2099 the Gregorian pattern of (date, weekday, leap day) repeats every 28 years,
and rule-based DST ("last Sunday of March") repeats with it, so only 28 years show every
(local date, weekday, leap, DST state) combination of both zones.  Example:
``0 3 * 3 1`` Asia/Seoul and ``0 18 * 3 0`` UTC (Mondays of March vs Sundays of March)
differ only in years whose March 1 is a Monday or March 31 a Sunday, which one year
usually misses; Feb 29 schedules need four years.  Cost (measured on the 2-core CI
machine, ``tests/test_cron_instants.py::test_cost_of_a_full_window``): a full 28-year
"same" verdict takes about 0.1 s for the seed's pair; "different" stops at the first
mismatch.  Each UTC day is reduced to (the two offsets, whether each schedule's day
rule holds on the local days it touches), so days repeat and are compared once; only
days containing a transition are compared minute by minute.
(``../shared/reference/cronjob-schedule-semantics.md`` §4-§5 has the sources.)
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass, field

from .cron import Every, Schedule

WINDOW_DAYS = 28 * 365 + 7  # 28 Gregorian years hold exactly 7 leap days (1901-2099)
_DAY = 1440  # minutes
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()
# Names under which the controller's default zone (and UTC itself) may be written.
UTC_NAMES = frozenset(
    {
        "UTC",
        "Etc/UTC",
        "Etc/UCT",
        "UCT",
        "Etc/Universal",
        "Universal",
        "Zulu",
        "Etc/Zulu",
        "GMT",
        "Etc/GMT",
        "Etc/GMT+0",
        "Etc/GMT-0",
        "Etc/GMT0",
        "GMT+0",
        "GMT-0",
        "GMT0",
        "Etc/Greenwich",
        "Greenwich",
    }
)
# Zones where robfig's hour stepping leaves the wall-clock model around DST (reference §4,
# verified with robfig v3.0.1 and tzdata 2025b): a non-whole-hour shift (Lord Howe) or a
# gap/overlap containing local midnight.  Equal wall-clock instants are no proof there.
_ROBFIG_DEVIATES = frozenset(
    {
        "Australia/Lord_Howe",
        "Australia/LHI",
        "Africa/Cairo",
        "Egypt",
        "America/Havana",
        "Cuba",
        "America/Santiago",
        "Chile/Continental",
        "Asia/Beirut",
        "Atlantic/Azores",
    }
)


@dataclass(frozen=True, slots=True)
class Verdict:
    same: bool | None  # None: cannot be decided from the manifests
    detail: str = ""  # for a difference, the first instant; for None, why


def canonical_zone(name: str | None) -> str:
    """The zone a schedule runs in; no ``spec.timeZone`` means the controller's, assumed UTC."""
    return "UTC" if name is None or name in UTC_NAMES else name


@dataclass
class _Side:
    schedule: Schedule
    zone: zoneinfo.ZoneInfo | None  # None: UTC
    mask: list[bool] = field(init=False)
    _days: dict[int, bool] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        s = self.schedule
        self.mask = [(m // 60) in s.hours and (m % 60) in s.minutes for m in range(_DAY)]

    def day_ok(self, ordinal: int) -> bool:
        hit = self._days.get(ordinal)
        if hit is None:
            d = dt.date.fromordinal(ordinal)
            hit = self._days[ordinal] = self.schedule.date_matches(d.month, d.day, (d.weekday() + 1) % 7)
        return hit

    def offset(self, utc_minute: int) -> int:
        """UTC offset in minutes at an instant (zones have had whole-minute offsets since 1972)."""
        if self.zone is None:
            return 0
        delta = dt.datetime.fromtimestamp(utc_minute * 60, self.zone).utcoffset()
        return int(delta.total_seconds()) // 60 if delta is not None else 0

    def fires(self, utc_minute: int, offset: int) -> bool:
        local = utc_minute + offset
        return self.mask[local % _DAY] and self.day_ok(_EPOCH_ORDINAL + local // _DAY)


def _first_difference_in_regular_day(a: _Side, b: _Side, day_minute: int, oa: int, ob: int) -> int | None:
    for t in range(_DAY):
        if a.fires(day_minute + t, oa) != b.fires(day_minute + t, ob):
            return t
    return None


def _offsets_in_day(side: _Side, day_minute: int, first: int, last: int) -> list[int]:
    """The offset at each minute of a day holding a transition: hourly samples, refined
    minute by minute inside the hour where the offset changes."""
    hourly = [side.offset(day_minute + h * 60) for h in range(25)]
    hourly[0], hourly[24] = first, last
    out: list[int] = []
    for h in range(24):
        if hourly[h] == hourly[h + 1]:
            out += [hourly[h]] * 60
        else:
            out += [side.offset(day_minute + h * 60 + m) for m in range(60)]
    return out


def _compare_windows(a: _Side, b: _Side, start: dt.date) -> int | None:
    """The first UTC minute (epoch minutes) where exactly one side fires, or None."""
    memo: dict[tuple, int | None] = {}
    first_day = start.toordinal() - _EPOCH_ORDINAL
    for n in range(first_day, first_day + WINDOW_DAYS):
        day_minute = n * _DAY
        oa = [a.offset(day_minute + k * 720) for k in range(3)]
        ob = [b.offset(day_minute + k * 720) for k in range(3)]
        if oa[0] == oa[1] == oa[2] and ob[0] == ob[1] == ob[2]:
            # The result depends only on the offsets and on each side's day rule for the
            # (at most two) local dates this UTC day touches.
            da, db = _EPOCH_ORDINAL + (day_minute + oa[0]) // _DAY, _EPOCH_ORDINAL + (day_minute + ob[0]) // _DAY
            key = (oa[0], ob[0], a.day_ok(da), a.day_ok(da + 1), b.day_ok(db), b.day_ok(db + 1))
            if key not in memo:
                memo[key] = _first_difference_in_regular_day(a, b, day_minute, oa[0], ob[0])
            t = memo[key]
        else:
            offs_a = _offsets_in_day(a, day_minute, oa[0], oa[2])
            offs_b = _offsets_in_day(b, day_minute, ob[0], ob[2])
            t = next(
                (m for m in range(_DAY) if a.fires(day_minute + m, offs_a[m]) != b.fires(day_minute + m, offs_b[m])),
                None,
            )
        if t is not None:
            return day_minute + t
    return None


def _zone(name: str) -> zoneinfo.ZoneInfo | None:
    return None if name == "UTC" else zoneinfo.ZoneInfo(name)


def _every_verdict(a: Schedule | Every, b: Schedule | Every) -> Verdict:
    if isinstance(a, Every) and isinstance(b, Every):
        if a.seconds == b.seconds:
            return Verdict(True)
        return Verdict(False, f"'{a.text}' fires every {a.seconds} s, '{b.text}' every {b.seconds} s")
    every = a if isinstance(a, Every) else b
    return Verdict(
        None,
        f"'{every.text}' fires every {every.seconds} s counted from the CronJob's creation time "
        "(robfig/cron ConstantDelaySchedule; spec.timeZone does not apply), so the manifests cannot "
        "show whether it fires at the other schedule's times",
    )


def compare(
    a: Schedule | Every,
    zone_a: str | None,
    b: Schedule | Every,
    zone_b: str | None,
    start: dt.date,
    names: tuple[str, str] = ("the first", "the second"),
) -> Verdict:
    """Whether schedule ``a`` in ``zone_a`` and ``b`` in ``zone_b`` fire at the same instants
    from ``start`` on.  Zones are valid IANA names (or None: the controller's, UTC);
    ``names`` say which is which in the detail of a difference."""
    if isinstance(a, Every) or isinstance(b, Every):
        return _every_verdict(a, b)
    za, zb = canonical_zone(zone_a), canonical_zone(zone_b)
    if za == zb and a.key() == b.key():
        return Verdict(True)  # exact for all time, robfig's quirks included (they coincide)
    side_a, side_b = _Side(a, _zone(za)), _Side(b, _zone(zb))
    minute = _compare_windows(side_a, side_b, start)
    if minute is not None:
        when = dt.datetime.fromtimestamp(minute * 60, dt.timezone.utc)
        first, second = names if side_a.fires(minute, side_a.offset(minute)) else names[::-1]
        return Verdict(False, f"at {when:%Y-%m-%d %H:%M} UTC {first} fires and {second} does not")
    if za == zb:  # keys differ only at wall times the window never shows (a DST gap)
        return Verdict(False, "they differ at wall-clock times that fall in a DST gap of the window")
    quirky = sorted({za, zb} & _ROBFIG_DEVIATES)
    if quirky:
        return Verdict(
            None,
            f"they agree on the wall clock, but robfig/cron's stepping deviates from it around the DST "
            f"transitions of {', '.join(quirky)}, so that is no proof",
        )
    return Verdict(True)
