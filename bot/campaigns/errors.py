"""What the campaign store raises."""

__all__ = ["CampaignStoreError"]


class CampaignStoreError(Exception):
    """The campaign database is unavailable or refused a write."""
