"""Cron schedules as Kubernetes reads them, parsed into comparable sets.

Kubernetes validates ``CronJob.spec.schedule`` with robfig/cron's standard
parser: five fields (minute hour day-of-month month day-of-week), lists,
ranges, steps, month and weekday names, ``?`` as ``*`` in the day fields, and
the descriptors ``@yearly``/``@annually``/``@monthly``/``@weekly``/``@daily``/
``@midnight``/``@hourly``.  ``TZ=``/``CRON_TZ=`` prefixes are rejected since
Kubernetes 1.27 in favour of ``spec.timeZone``.
(https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/#schedule-syntax)

Two schedules are equal when they fire at the same times, so ``0 18 * * *`` and
``0 18 * * 0-6`` compare equal.  Day-of-month and day-of-week combine with OR
when both are restricted, as in classic cron; a field written ``*`` or ``?``
is remembered as unrestricted for that rule.
"""

from __future__ import annotations

from dataclasses import dataclass

_MONTHS = {m: i for i, m in enumerate(["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], start=1)}
_DAYS = {d: i for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])}
_FIELDS = (("minute", 0, 59, {}), ("hour", 0, 23, {}), ("day-of-month", 1, 31, {}), ("month", 1, 12, _MONTHS), ("day-of-week", 0, 6, _DAYS))
_DESCRIPTORS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


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
        if self.days_star or self.weekdays_star:
            return day in self.days and weekday in self.weekdays
        return day in self.days or weekday in self.weekdays

    def key(self) -> tuple:
        """Equal keys <=> the schedules fire at the same times: the times of day, and
        every (month, day, weekday) combination on which they fire (2,604 combinations)."""
        dates = frozenset(
            (month, day, weekday)
            for month in self.months
            for day in range(1, 32)
            for weekday in range(7)
            if self.day_matches(day, weekday)
        )
        return (self.minutes, self.hours, dates)


def _value(text: str, lo: int, hi: int, names: dict[str, int], field: str) -> int:
    upper = text.upper()
    if upper in names:
        return names[upper]
    if not text.isdigit():
        raise CronError(f"{field}: '{text}' is not a number" + (" or a name" if names else ""))
    value = int(text)
    if not lo <= value <= hi:
        raise CronError(f"{field}: {value} is outside {lo}-{hi}")
    return value


def _field(text: str, lo: int, hi: int, names: dict[str, int], field: str) -> tuple[frozenset[int], bool]:
    values: set[int] = set()
    star = False
    for part in text.split(","):
        if not part:
            raise CronError(f"{field}: empty list item")
        base, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise CronError(f"{field}: step '{step_text}' must be a positive number")
            step = int(step_text)
        if base in ("*", "?"):
            start, end = lo, hi
            star = star or not step_text
        elif "-" in base:
            a, _, b = base.partition("-")
            start, end = _value(a, lo, hi, names, field), _value(b, lo, hi, names, field)
            if start > end:
                raise CronError(f"{field}: range {base} runs backwards")
        else:
            start = _value(base, lo, hi, names, field)
            end = hi if step_text else start
        values.update(range(start, end + 1, step))
    return frozenset(values), star


def parse_cron(text: str) -> Schedule:
    """Parse a Kubernetes CronJob schedule; raise CronError with a readable reason."""
    stripped = " ".join(text.split())
    if stripped.upper().startswith(("TZ=", "CRON_TZ=")):
        raise CronError("TZ= and CRON_TZ= are not allowed in the schedule; use spec.timeZone")
    stripped = _DESCRIPTORS.get(stripped.lower(), stripped)
    if stripped.startswith("@"):
        raise CronError(f"unknown descriptor '{stripped}'")
    parts = stripped.split(" ")
    if len(parts) != 5:
        raise CronError(f"expected 5 fields (minute hour day-of-month month day-of-week), found {len(parts)}")
    parsed = [_field(p, lo, hi, names, name) for p, (name, lo, hi, names) in zip(parts, _FIELDS)]
    (minutes, _), (hours, _), (days, days_star), (months, _), (weekdays, weekdays_star) = parsed
    return Schedule(minutes, hours, days, months, weekdays, days_star, weekdays_star)
