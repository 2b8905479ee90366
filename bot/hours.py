"""Counselors' hours: ``COUNSELOR_HOURS`` (``"Sun-Thu 08:00-20:00; Sat 10:00-14:00"``; default every
day, all day) in ``COUNSELOR_TIMEZONE`` (default ``Asia/Riyadh``), whether they are on duty at a
moment, and how to say them to a user in Arabic or English.

A value type with no dependency on the rest of ``bot``: settings parse it when they are read (a
wrong value stops the server at start), and ``bot.cases.availability`` uses it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Optional, Tuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["CounselorHours", "Shift", "DAYS"]

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # datetime.weekday() order
_DAY_NAMES = {
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "ar": ("الاثنين", "الثلاثاء", "الأربعاء", "الخميس", "الجمعة", "السبت", "الأحد"),
}
# Cities of the zones a Gulf deployment is likely to use, for "Riyadh time"; others show the zone.
_CITIES = {
    "Asia/Riyadh": ("Riyadh", "الرياض"),
    "Asia/Dubai": ("UAE", "الإمارات"),
    "Asia/Kuwait": ("Kuwait", "الكويت"),
    "Asia/Qatar": ("Qatar", "قطر"),
    "Asia/Bahrain": ("Bahrain", "البحرين"),
    "Asia/Muscat": ("Muscat", "مسقط"),
    "Asia/Amman": ("Amman", "عمّان"),
    "Africa/Cairo": ("Cairo", "القاهرة"),
    "UTC": ("UTC", "التوقيت العالمي"),
}
_SEGMENT = re.compile(
    r"^(?P<first>[a-z]{3})(?:-(?P<last>[a-z]{3}))?\s+(?P<start>\d{1,2}:\d{2})-(?P<end>\d{1,2}:\d{2})$"
)


def _minutes(text: str) -> int:
    hours, minutes = (int(part) for part in text.split(":"))
    if minutes > 59 or hours > 24 or (hours == 24 and minutes):
        raise ValueError(f"COUNSELOR_HOURS: not a time of day: {text!r}")
    return hours * 60 + minutes


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass(frozen=True)
class Shift:
    """Counselors are on duty on ``days`` (weekday numbers, Monday 0) from ``start`` to ``end``
    (minutes after midnight; ``end`` up to 1440; an ``end`` before ``start`` runs past midnight)."""

    days: Tuple[int, ...]
    start: int
    end: int

    def covers(self, weekday: int, minute: int) -> bool:
        if self.start < self.end:
            return weekday in self.days and self.start <= minute < self.end
        # Overnight: the evening part on the shift's own days, the morning part on the days after.
        return (weekday in self.days and minute >= self.start) or ((weekday - 1) % 7 in self.days and minute < self.end)


@dataclass(frozen=True)
class CounselorHours:
    """When counselors are on duty, in their time zone."""

    shifts: Tuple[Shift, ...]
    zone: str

    @classmethod
    def parse(cls, spec: str, zone: str = "Asia/Riyadh") -> CounselorHours:
        """``"Sun-Thu 08:00-20:00; Fri 14:00-18:00"``; day ranges may wrap (``Fri-Mon``). ValueError
        names what is wrong."""
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"COUNSELOR_TIMEZONE must be an IANA time zone like Asia/Riyadh, got {zone!r}") from None
        shifts = []
        for raw in re.split(r"[;,]", spec):
            segment = " ".join(raw.lower().split())
            if not segment:
                continue
            match = _SEGMENT.match(segment)
            if not match or match["first"] not in DAYS or (match["last"] or match["first"]) not in DAYS:
                raise ValueError(f"COUNSELOR_HOURS takes segments like 'Sun-Thu 08:00-20:00', got {raw.strip()!r}")
            first, last = DAYS.index(match["first"]), DAYS.index(match["last"] or match["first"])
            days = tuple((first + i) % 7 for i in range((last - first) % 7 + 1))
            start, end = _minutes(match["start"]), _minutes(match["end"])
            if start == end:
                raise ValueError(f"COUNSELOR_HOURS segment {raw.strip()!r} is empty")
            shifts.append(Shift(days, start, end))
        if not shifts:
            raise ValueError("COUNSELOR_HOURS is empty")
        return cls(tuple(shifts), zone)

    @property
    def always(self) -> bool:
        """Every day, all day."""
        return any(len(s.days) == 7 and s.start == 0 and s.end == 1440 for s in self.shifts)

    def open_at(self, moment: Optional[datetime] = None) -> bool:
        """Whether counselors are on duty at ``moment`` (timezone-aware; default now)."""
        local = (moment or datetime.now(timezone.utc)).astimezone(ZoneInfo(self.zone))
        minute = local.hour * 60 + local.minute
        return any(shift.covers(local.weekday(), minute) for shift in self.shifts)

    def describe(self, language: str) -> str:
        """The hours for a user: "Sunday to Thursday, 08:00-20:00 (Riyadh time)"."""
        ar = language == "ar"
        if self.always:
            return "كل يوم، على مدار الساعة" if ar else "every day, around the clock"
        parts = [self._describe_shift(shift, ar) for shift in self.shifts]
        city = _CITIES.get(self.zone, (self.zone, self.zone))[1 if ar else 0]
        joined = "؛ و".join(parts) if ar else "; ".join(parts)
        return f"{joined} (بتوقيت {city})" if ar else f"{joined} ({city} time)"

    @staticmethod
    def _describe_shift(shift: Shift, ar: bool) -> str:
        names = _DAY_NAMES["ar" if ar else "en"]
        days = shift.days
        if len(days) == 7:
            when = "كل يوم" if ar else "every day"
        elif len(days) == 1:
            when = ("يوم " + names[days[0]]) if ar else names[days[0]]
        else:
            when = f"من {names[days[0]]} إلى {names[days[-1]]}" if ar else f"{names[days[0]]} to {names[days[-1]]}"
        start, end = _clock(shift.start), _clock(shift.end)
        return f"{when}، من {start} إلى {end}" if ar else f"{when}, {start}-{end}"
