"""Working hours: when consultants are at work, and when they are back.

Written the way staff say it, e.g. ``пн-пт 09:00-18:00; сб 10:00-14:00``
(English day names work too: ``mon-fri 09:00-18:00``). Times are local to the
centre (``TIMEZONE``, Moscow time by default).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

DAYS = {
    "пн": 0, "вт": 1, "ср": 2, "чт": 3, "пт": 4, "сб": 5, "вс": 6,
    "mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6,
}  # fmt: skip
DAY_NAMES = ("пн", "вт", "ср", "чт", "пт", "сб", "вс")
_PART = re.compile(
    r"^\s*(?P<first>[a-zа-я]{2,3})\s*(?:[-–]\s*(?P<last>[a-zа-я]{2,3}))?\s+"
    r"(?P<start>\d{1,2}:\d{2})\s*[-–]\s*(?P<end>\d{1,2}:\d{2})\s*$"
)


class ScheduleError(ValueError):
    """Working hours that cannot be read; the message says what to fix (Russian)."""


@dataclass(frozen=True, slots=True)
class Schedule:
    """Opening intervals per weekday (0 = Monday), minutes from midnight."""

    days: tuple[tuple[tuple[int, int], ...], ...]
    zone: ZoneInfo

    def is_open(self, moment: datetime) -> bool:
        local = moment.astimezone(self.zone)
        minute = local.hour * 60 + local.minute
        return any(start <= minute < end for start, end in self.days[local.weekday()])

    def next_open(self, moment: datetime) -> datetime | None:
        """When work starts next (``moment`` itself if open now); None if never."""
        if self.is_open(moment):
            return moment
        local = moment.astimezone(self.zone)
        for ahead in range(8):
            day = (local + timedelta(days=ahead)).date()
            for start, _end in sorted(self.days[day.weekday()]):
                opening = datetime.combine(day, time(start // 60, start % 60), tzinfo=self.zone)
                if opening > local:
                    return opening
        return None

    @property
    def always_closed(self) -> bool:
        return not any(self.days)


def _minutes(value: str) -> int:
    hours, minutes = (int(part) for part in value.split(":"))
    if hours > 24 or minutes > 59 or (hours == 24 and minutes):
        raise ScheduleError(f"нет такого времени: {value}")
    return hours * 60 + minutes


def parse(text: str, zone: str = "Europe/Moscow") -> Schedule:
    """Read working hours; raises ScheduleError with a message staff can act on."""
    days: list[list[tuple[int, int]]] = [[] for _ in range(7)]
    for part in re.split(r"[;,\n]", text.lower()):
        if not part.strip():
            continue
        match = _PART.match(part)
        if match is None:
            raise ScheduleError(
                f"не понятно «{part.strip()}»: пишите так: пн-пт 09:00-18:00; сб 10:00-14:00"
            )
        first, last = match["first"], match["last"] or match["first"]
        if first not in DAYS or last not in DAYS:
            raise ScheduleError(f"нет такого дня недели: «{part.strip()}»")
        start, end = _minutes(match["start"]), _minutes(match["end"])
        if end <= start:
            raise ScheduleError(f"конец раньше начала: «{part.strip()}»")
        day = DAYS[first]
        while True:
            days[day].append((start, end))
            if day == DAYS[last]:
                break
            day = (day + 1) % 7
    return Schedule(tuple(tuple(d) for d in days), ZoneInfo(zone))


@lru_cache(maxsize=64)
def cached(text: str, zone: str) -> Schedule | None:
    """A schedule read once per text (None if it cannot be read)."""
    try:
        return parse(text, zone)
    except ScheduleError:
        return None


def describe(moment: datetime, zone: str, now: datetime) -> str:
    """«сегодня в 09:00», «завтра в 09:00» or «в пн 09:00» (Russian, for staff and families)."""
    local = moment.astimezone(ZoneInfo(zone))
    today = now.astimezone(ZoneInfo(zone)).date()
    clock = local.strftime("%H:%M")
    if local.date() == today:
        return f"сегодня в {clock}"
    if local.date() == today + timedelta(days=1):
        return f"завтра в {clock}"
    return f"в {DAY_NAMES[local.weekday()]} {local.strftime('%d.%m')} в {clock}"
