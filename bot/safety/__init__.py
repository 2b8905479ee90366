"""The danger safety net: finds disclosures of harm in a message, on its own or inside the NLU."""

from bot.safety.net import (
    DANGER_KINDS,
    DISCLOSURE_INTENTS,
    POSSIBLE_DISCLOSURE,
    DangerAssessment,
    DangerNet,
    read_disclosure,
)

__all__ = [
    "DangerAssessment",
    "DangerNet",
    "DANGER_KINDS",
    "DISCLOSURE_INTENTS",
    "POSSIBLE_DISCLOSURE",
    "read_disclosure",
]
