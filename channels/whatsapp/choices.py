"""WhatsApp's buttons: a numbered list (``channels.outgoing.numbered_choices``), remembered per
user for the customer-service window, so that a reply of "2" can be mapped back to its payload."""

from __future__ import annotations

import json
from typing import List, Sequence

from channels.outgoing import Choice
from channels.platform import ChannelState

__all__ = ["remember_choices", "current_choices", "CHOICES_TTL"]

CHOICES_TTL = 24 * 3600  # the WhatsApp customer-service window


async def remember_choices(channel: ChannelState, sender_id: str, choices: Sequence[Choice]) -> None:
    """Keep the list offered to ``sender_id``; its payloads pass the payload guard on the way back.
    The newest numbered list is the one a bare number answers: a campaign poll sent before this list
    is no longer what "2" means (``bot.campaigns.delivery.poll_sent`` does the converse)."""
    await channel.state.put(f"wa:choices:{sender_id}", json.dumps(list(choices)).encode(), CHOICES_TTL)
    await channel.state.delete(f"camp:poll:{sender_id}")
    await channel.offered.remember(sender_id, [payload for _, payload in choices])


async def current_choices(channel: ChannelState, sender_id: str) -> List[Choice]:
    """The list last offered to ``sender_id`` (empty once it has expired)."""
    raw = await channel.state.get(f"wa:choices:{sender_id}")
    try:
        return [(str(t), str(p)) for t, p in json.loads(raw)] if raw else []
    except (ValueError, TypeError):
        return []
