"""Twilio's status callbacks for campaign messages: delivered or failed; error 21610 (the user
sent STOP to Twilio) unsubscribes them; 63016 (outside WhatsApp's 24-hour window) counts as
skipped. Callbacks for other messages (replies in a conversation) match no delivery and change
nothing."""

from __future__ import annotations

import logging
from typing import Optional

from bot.campaigns.store import CampaignStore

__all__ = ["apply_twilio_status", "TWILIO_STOPPED", "TWILIO_OUTSIDE_WINDOW"]

logger = logging.getLogger(__name__)

TWILIO_STOPPED = "21610"
TWILIO_OUTSIDE_WINDOW = "63016"


def apply_twilio_status(
    store: CampaignStore, message_sid: str, status: str, error_code: Optional[str]
) -> Optional[str]:
    """Record Twilio's ``status`` for ``message_sid``; returns the delivery state set, if any."""
    code = (error_code or "").strip()
    if status in ("delivered", "read"):
        state, reason = "delivered", None
    elif status in ("failed", "undelivered"):
        if code == TWILIO_OUTSIDE_WINDOW:
            state, reason = "skipped", "outside_window"
        elif code == TWILIO_STOPPED:
            state, reason = "opted_out", "twilio_stop"
        else:
            state, reason = "failed", f"twilio_{code[:10]}" if code else "twilio"
    else:
        return None  # queued, sent, accepted: nothing new
    found = store.status_callback(message_sid, state, reason)
    if found is None:
        return None
    sender_id, broadcast_id = found
    subscriber = store.get(sender_id)
    store.counts.count(
        "campaign_messages",
        state=state,
        kind="tip" if broadcast_id.startswith("t-") else "broadcast",
        channel="whatsapp",
        language=subscriber.language if subscriber else None,
    )
    if state == "opted_out":
        store.stop(sender_id, "twilio_stop")
    logger.info("campaigns.status state=%s", state)
    return state
