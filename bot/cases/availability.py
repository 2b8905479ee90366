"""Who can talk to a user now: counselors signed in to the console, and the hours they keep.

* ``Presence(store)``: the console ``touch``es a counselor's row on every authenticated request
  and every live-queue heartbeat (at most every 30 s) and ``leave``s on sign-out; ``online()`` is
  everyone seen within the last 90 seconds. Kept in the case database (table
  ``counselor_presence``), so every Rasa server, action server and console agrees without Redis.
* ``CounselorHours``: ``COUNSELOR_HOURS`` (``"Sun-Thu 08:00-20:00; Sat 10:00-14:00"``; default
  every day, all day) in ``COUNSELOR_TIMEZONE`` (default ``Asia/Riyadh``), and how to say them to
  a user in Arabic or English.

The actions use both to answer "talk to a person" honestly: a counselor is asked and will join,
or nobody is on duty now and here are the helplines and the hours.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import List, Optional, Tuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from bot.cases.models import CounselorPresence
from bot.cases.store import CaseStore
from bot.settings import Settings

__all__ = ["Presence", "CounselorHours", "Availability", "ONLINE_WITHIN", "MAX_USERNAME_CHARS"]

ONLINE_WITHIN = timedelta(seconds=90)
MAX_USERNAME_CHARS = 64


class Presence:
    """Counselors' last sign of life in the console (see the module docs)."""

    def __init__(self, store: CaseStore):
        self.store = store

    def touch(self, username: str) -> None:
        """``username`` is here now (one upsert, committed)."""
        if not username or len(username) > MAX_USERNAME_CHARS:
            raise ValueError(f"username must be 1-{MAX_USERNAME_CHARS} characters")
        now = self.store._clock()
        self.store._ensure_schema()
        with self.store._guard("presence_touch"), self.store.engine.begin() as conn:
            insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
            statement = insert(CounselorPresence).values(username=username, last_seen=now)
            conn.execute(statement.on_conflict_do_update(index_elements=["username"], set_={"last_seen": now}))

    def leave(self, username: str) -> None:
        """``username`` signed out: no longer counted as online."""
        self.store._ensure_schema()
        with self.store._guard("presence_leave"), self.store.engine.begin() as conn:
            conn.execute(delete(CounselorPresence).where(CounselorPresence.username == username))

    def online(self, within: timedelta = ONLINE_WITHIN) -> List[str]:
        """Usernames seen within ``within``, sorted."""
        cutoff = self.store._clock() - within
        self.store._ensure_schema()
        with self.store._guard("presence_online"), Session(self.store.engine, future=True) as session:
            query = select(CounselorPresence.username).where(CounselorPresence.last_seen >= cutoff)
            return sorted(session.execute(query).scalars())


# --- hours ----------------------------------------------------------------------------------------

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
    def from_settings(cls, settings: Settings) -> CounselorHours:
        return cls.parse(settings.counselor_hours, settings.counselor_timezone)

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


@dataclass(frozen=True)
class Availability:
    """What a user can be told right now: whether it is within hours, and who is online."""

    in_hours: bool
    online: Tuple[str, ...]

    @property
    def counselor_available(self) -> bool:
        return self.in_hours and bool(self.online)

    @classmethod
    def now(cls, store: Optional[CaseStore], hours: CounselorHours, at: Optional[datetime] = None) -> Availability:
        """Read presence (blocking: call it off the event loop). A failing or missing store means
        nobody is known to be online, so nobody is promised."""
        in_hours = hours.open_at(at)
        online: Tuple[str, ...] = ()
        if store is not None and in_hours:
            from bot.cases.store import CaseStoreError

            try:
                online = tuple(Presence(store).online())
            except CaseStoreError:
                online = ()
        return cls(in_hours, online)
