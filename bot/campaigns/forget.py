""" "Delete my data" for campaigns: the subscription and the delivery rows naming the sender go."""

from __future__ import annotations

import asyncio
import logging

from bot.campaigns.store import CampaignStoreError, campaign_store
from bot.settings import get_settings

__all__ = ["forget_subscription"]

logger = logging.getLogger(__name__)


async def forget_subscription(sender_id: str, timeout: float = 5.0) -> bool:
    """Remove ``sender_id``'s subscription; False (logged) when the database did not answer."""
    try:
        await asyncio.wait_for(asyncio.to_thread(campaign_store(get_settings()).forget, sender_id), timeout)
    except (CampaignStoreError, asyncio.TimeoutError) as error:
        logger.error("campaigns.forget.failed error=%s", type(error).__name__)
        return False
    return True
