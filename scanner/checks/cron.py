"""Cron schedules exactly as Kubernetes reads them, parsed into comparable sets.

Kubernetes parses ``CronJob.spec.schedule`` with robfig/cron v3.0.1 ``ParseStandard``
(``pkg/apis/batch/validation/validation.go`` ``validateScheduleFormat`` and the CronJob
controller's ``syncCronJob``), so this is a port of robfig's ``parser.go`` (``Parse``,
``getField``, ``getRange``, ``mustParseInt``, ``parseDescriptor``) and ``spec.go``
(``bounds``, ``dayMatches``), plus the API server's own rules:

* five fields split on white space; lists (empty items dropped: ``1,,2``, and ``,`` is an
  empty, never-firing field), ranges that never wrap, steps (``N/step`` means
  ``N-max/step``), three-letter month and weekday names in those two fields only, ``?``
  as ``*`` in any field, Sunday is ``0`` only;
* the descriptors ``@yearly``/``@annually``/``@monthly``/``@weekly``/``@daily``/
  ``@midnight``/``@hourly``, exact and case-sensitive, and ``@every <Go duration>``: the
  API server accepts it because it only calls ``ParseStandard`` (whose doc comment lists
  ``"@every 1h30m"``), although the Kubernetes documentation lists only the macros;
* any ``TZ`` in the schedule is refused on create since Kubernetes 1.29 (PR #116252):
  the zone belongs in ``spec.timeZone``.

Day-of-month and day-of-week combine with OR when both are restricted and with AND when
either carries robfig's *star bit*: set by an item starting with ``*`` or ``?`` whose step
is absent or 1 (``*/1`` keeps it, ``*/2`` drops it, ``1-31`` never has it).
(``../shared/reference/cronjob-schedule-semantics.md`` §2-§3 has the verified table.)
"""

from __future__ import annotations

import re
import unicodedata
import zoneinfo
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

_MONTHS = {
    m: i for i, m in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1)
}
_DAYS = {d: i for i, d in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}


@dataclass(frozen=True, slots=True)
class _Bounds:
    name: str
    lo: int
    hi: int
    names: dict[str, int] | None = None


# robfig spec.go: minutes 0-59, hours 0-23, dom 1-31, months 1-12 (names), dow 0-6 (names).
_FIELDS = (
    _Bounds("minute", 0, 59),
    _Bounds("hour", 0, 23),
    _Bounds("day-of-month", 1, 31),
    _Bounds("month", 1, 12, _MONTHS),
    _Bounds("day-of-week", 0, 6, _DAYS),
)
# robfig parser.go parseDescriptor, written as the fields it builds (same star bits).
_DESCRIPTORS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_EVERY = "@every "
# Go strconv.Atoi: optional sign, ASCII digits, fits an int64 (Python's int() is laxer).
_GO_INT = re.compile(r"[+-]?[0-9]+")
_INT64_MAX = 2**63 - 1
# Longest month lengths (February 29 in leap years): the days that exist.
_MONTH_DAYS = {1: 31, 2: 29, 3: 31, 4: 30, 5: 31, 6: 30, 7: 31, 8: 31, 9: 30, 10: 31, 11: 30, 12: 31}


class CronError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Schedule:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    days_star: bool
    weekdays_star: bool

    def fires_at(self, minute: int, hour: int, day: int, month: int, weekday: int) -> bool:
        if minute not in self.minutes or hour not in self.hours or month not in self.months:
            return False
        return self.day_matches(day, weekday)

    def day_matches(self, day: int, weekday: int) -> bool:
        """robfig spec.go ``dayMatches``: AND when either field has the star bit, else OR."""
        if self.days_star or self.weekdays_star:
            return day in self.days and weekday in self.weekdays
        return day in self.days or weekday in self.weekdays

    def date_matches(self, month: int, day: int, weekday: int) -> bool:
        return month in self.months and self.day_matches(day, weekday)

    def key(self) -> tuple:
        """Equal keys <=> the schedules fire at the same times of one zone: the times of
        day and every real (month, day, weekday) on which they fire.  Every such triple
        occurs within 28 years (February 29 on each weekday once), so nothing is
        missed; a schedule that can never fire has the key ``("never",)``."""
        dates = _firing_dates(self)
        if not self.minutes or not self.hours or not dates:
            return ("never",)
        return (self.minutes, self.hours, dates)


@lru_cache(maxsize=1024)
def _firing_dates(spec: Schedule) -> frozenset[tuple[int, int, int]]:
    """Every real (month, day, weekday) the schedule fires on; memoised, since backup
    schedules repeat across a monorepo's applications (the spec is frozen, hashable)."""
    return frozenset(
        (month, day, weekday)
        for month in spec.months
        for day in range(1, _MONTH_DAYS[month] + 1)
        for weekday in range(7)
        if spec.day_matches(day, weekday)
    )


@dataclass(frozen=True, slots=True)
class Every:
    """``@every <duration>``: fires every ``seconds`` counted from the CronJob's creation
    (then from each last schedule time), whatever ``spec.timeZone`` says (robfig
    constantdelay.go; parseDescriptor returns it without the location)."""

    seconds: int
    text: str

    def key(self) -> tuple:
        return ("every", self.seconds)


def _go_int(text: str, field: str) -> int:
    """robfig ``mustParseInt`` (strconv.Atoi, then no negatives)."""
    if not _GO_INT.fullmatch(text) or abs(int(text)) > _INT64_MAX:
        raise CronError(f"{field}: failed to parse int from {text}")
    value = int(text)
    if value < 0:
        raise CronError(f"{field}: negative number ({value}) not allowed: {text}")
    return value


def _int_or_name(text: str, bounds: _Bounds) -> int:
    if bounds.names is not None and text.lower() in bounds.names:
        return bounds.names[text.lower()]
    return _go_int(text, bounds.name)


def _range(expr: str, bounds: _Bounds) -> tuple[range, bool]:
    """robfig ``getRange``: the values of one list item, and whether it sets the star bit."""
    range_and_step = expr.split("/")
    low_high = range_and_step[0].split("-")
    single = len(low_high) == 1
    if low_high[0] in ("*", "?"):  # anything after a '-' is ignored here, as in robfig
        start, end, star = bounds.lo, bounds.hi, True
    else:
        star = False
        start = _int_or_name(low_high[0], bounds)
        if len(low_high) == 1:
            end = start
        elif len(low_high) == 2:
            end = _int_or_name(low_high[1], bounds)
        else:
            raise CronError(f"{bounds.name}: too many hyphens: {expr}")
    if len(range_and_step) == 1:
        step = 1
    elif len(range_and_step) == 2:
        step = _go_int(range_and_step[1], bounds.name)
        if single:
            end = bounds.hi  # "N/step" means "N-max/step"
        if step > 1:
            star = False
    else:
        raise CronError(f"{bounds.name}: too many slashes: {expr}")
    if start < bounds.lo:
        raise CronError(f"{bounds.name}: beginning of range ({start}) below minimum ({bounds.lo}): {expr}")
    if end > bounds.hi:
        raise CronError(f"{bounds.name}: end of range ({end}) above maximum ({bounds.hi}): {expr}")
    if start > end:
        raise CronError(f"{bounds.name}: beginning of range ({start}) beyond end of range ({end}): {expr}")
    if step == 0:
        raise CronError(f"{bounds.name}: step of range should be a positive number: {expr}")
    return range(start, end + 1, step), star


def _field(text: str, bounds: _Bounds) -> tuple[frozenset[int], bool]:
    """robfig ``getField``: a comma-separated list, empty items dropped."""
    values: set[int] = set()
    star = False
    for expr in (e for e in text.split(",") if e):
        items, item_star = _range(expr, bounds)
        values.update(items)
        star = star or item_star
    return frozenset(values), star


def _go_space(ch: str) -> bool:
    """Go ``unicode.IsSpace`` (what strings.Fields splits on)."""
    return ch in "\t\n\v\f\r \x85\xa0" or unicodedata.category(ch) in ("Zs", "Zl", "Zp")


def _go_fields(text: str) -> list[str]:
    out, word = [], []
    for ch in text:
        if _go_space(ch):
            if word:
                out.append("".join(word))
                word = []
        else:
            word.append(ch)
    if word:
        out.append("".join(word))
    return out


# Go time.ParseDuration units, in nanoseconds.
_UNITS = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,
    "\u03bcs": 1_000,
    "ms": 1_000_000,
    "s": 10**9,
    "m": 60 * 10**9,
    "h": 3600 * 10**9,
}
_DURATION_PART = re.compile(r"([0-9]*)(?:\.([0-9]*))?([^0-9.]*)")


def go_duration_ns(text: str) -> int:
    """Go ``time.ParseDuration``: ``[-+]?(<decimal><unit>)+`` or ``0``; no ``d`` unit."""
    s, negative = text, False
    if s[:1] in ("+", "-"):
        negative, s = s[0] == "-", s[1:]
    if s == "0":
        return 0
    if not s:
        raise CronError(f"invalid duration {text!r}")
    total = Fraction(0)
    while s:
        match = _DURATION_PART.match(s)
        whole, frac, unit = match.group(1), match.group(2), match.group(3)
        if not whole and not frac:
            raise CronError(f"invalid duration {text!r}")
        if unit not in _UNITS:
            raise CronError(f"{'missing' if not unit else 'unknown'} unit in duration {text!r}")
        total += (int(whole or 0) + (Fraction(int(frac), 10 ** len(frac)) if frac else 0)) * _UNITS[unit]
        if total > _INT64_MAX:
            raise CronError(f"invalid duration {text!r} (overflow)")
        s = s[match.end() :]
    return -int(total) if negative else int(total)


def _every(text: str) -> Every:
    try:
        ns = go_duration_ns(text[len(_EVERY) :])
    except CronError as exc:
        raise CronError(f"failed to parse duration {text}: {exc}") from None
    # constantdelay.go Every: below one second becomes one second; sub-second parts are dropped.
    return Every(max(1, ns // 10**9) if ns >= 10**9 else 1, text)


def parse_cron(text: str) -> Schedule | Every:
    """Parse a schedule as the API server does on create; raise CronError with robfig's reason."""
    if not text:
        raise CronError("empty spec string: spec.schedule is required")
    if "TZ" in text:
        raise CronError(
            "cannot use TZ or CRON_TZ in the schedule, use spec.timeZone instead "
            "(refused on create since Kubernetes 1.29)"
        )
    if text.startswith("@"):
        if text in _DESCRIPTORS:
            text = _DESCRIPTORS[text]
        elif text.startswith(_EVERY):
            return _every(text)
        else:
            raise CronError(f"unrecognized descriptor: {text}")
    fields = _go_fields(text)
    if len(fields) != 5:
        raise CronError(f"expected exactly 5 fields (minute hour day-of-month month day-of-week), found {len(fields)}")
    (minutes, _), (hours, _), (days, days_star), (months, _), (weekdays, weekdays_star) = (
        _field(part, bounds) for part, bounds in zip(fields, _FIELDS, strict=True)
    )
    return Schedule(minutes, hours, days, months, weekdays, days_star, weekdays_star)


# validateTimeZone (pkg/apis/batch/validation/validation.go): each '/'-separated part.
_TZ_PART = re.compile(r"[A-Za-z.\-_0-9+]{1,14}")


def time_zone_error(name: str) -> str | None:
    """Why the API server refuses ``spec.timeZone: name``, or None when it accepts it."""
    if name == "":
        return "timeZone must be nil or a non-empty string"
    for part in name.split("/"):
        if part in (".", "..") or part.startswith("-") or not _TZ_PART.fullmatch(part):
            return f"unknown time zone {name}"
    if name.lower() == "local":
        return "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones, not Local"
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return f"unknown time zone {name} (not in the IANA time zone database)"
    return None
