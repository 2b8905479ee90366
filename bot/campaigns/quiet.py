"""Quiet hours: no campaign message between, by default, 21:00 and 07:00 in the subscriber's own
time zone (``CAMPAIGN_QUIET_HOURS``, ``CAMPAIGN_TIMEZONE``). A value type, read with the settings."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Optional
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["QuietHours", "zone_or_default"]

_RANGE = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")


def zone_or_default(name: Optional[str], default: str) -> ZoneInfo:
    """``name`` as a zone, else ``default`` (a subscriber's zone is checked when it is stored)."""
    try:
        return ZoneInfo(name or default)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(default)


@dataclass(frozen=True)
class QuietHours:
    """From ``start`` to ``end`` (minutes after local midnight; an ``end`` before ``start`` runs past
    midnight). ``None`` bounds: no quiet hours at all."""

    start: Optional[int]
    end: Optional[int]
    default_zone: str = "Asia/Riyadh"

    @classmethod
    def parse(cls, text: str, default_zone: str) -> QuietHours:
        try:
            ZoneInfo(default_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"CAMPAIGN_TIMEZONE: unknown time zone {default_zone!r}") from None
        text = (text or "").strip()
        if not text:
            return cls(None, None, default_zone)
        match = _RANGE.match(text)
        if not match:
            raise ValueError(f"CAMPAIGN_QUIET_HOURS takes HH:MM-HH:MM, e.g. 21:00-07:00, got {text!r}")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59:
            raise ValueError(f"CAMPAIGN_QUIET_HOURS: not a time of day in {text!r}")
        return cls(h1 * 60 + m1, (h2 * 60 + m2) % 1440, default_zone)

    def _inside(self, minute: int) -> bool:
        assert self.start is not None and self.end is not None
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= minute < self.end
        return minute >= self.start or minute < self.end

    def wait(self, now: datetime, zone: Optional[str] = None) -> float:
        """Seconds until a message may go out to someone in ``zone`` (0 outside quiet hours)."""
        if self.start is None or self.end is None:
            return 0.0
        local = now.astimezone(zone_or_default(zone, self.default_zone))
        minute = local.hour * 60 + local.minute
        if not self._inside(minute):
            return 0.0
        end = local.replace(hour=self.end // 60, minute=self.end % 60, second=0, microsecond=0)
        if end <= local:
            end += timedelta(days=1)
        return (end.astimezone(timezone.utc) - now.astimezone(timezone.utc)).total_seconds()
