"""The values the campaign store takes and gives."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Dict, Optional

__all__ = ["SubscriberInfo", "Segment", "BroadcastInfo", "subscriber_info"]


@dataclass(frozen=True)
class SubscriberInfo:
    sender_id: str
    channel: str
    language: str
    audience: Optional[str]
    timezone: str
    state: str
    tips_sent: int


@dataclass(frozen=True)
class Segment:
    """Who a broadcast goes to: None means any."""

    channel: Optional[str] = None
    language: Optional[str] = None
    audience: Optional[str] = None


@dataclass(frozen=True)
class BroadcastInfo:
    id: str
    item_id: str
    segment: Segment
    status: str
    send_at: datetime
    texts: Dict[str, Optional[str]]


def subscriber_info(row: Any) -> SubscriberInfo:
    return SubscriberInfo(
        row.sender_id, row.channel, row.language, row.audience, row.timezone, row.state, row.tips_sent
    )
