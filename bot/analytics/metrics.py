"""What may be counted: every metric and the dimensions it is kept by.

A counter is keyed by (day, metric, dimensions); a dimension's value is a short code chosen by the
code that counts (a channel, a language, a topic, an app id), never anything a user typed, a sender
id or a case reference. ``register`` lets another feature (campaigns) add its own metrics.

Disclosures and check-ins are kept by one dimension each, in separate metrics that cannot be joined:
the page can never show them broken down by two things at once.
"""

from __future__ import annotations

import re
from typing import Dict, Mapping, Optional, Tuple

__all__ = [
    "METRICS",
    "register",
    "dims_key",
    "parse_dims",
    "FILTERS",
    "UNKNOWN",
    "FIRST_RESPONSE_BUCKETS",
    "response_bucket",
    "bucket_bounds",
]

# The page's filters; a metric kept by all three can be filtered by them.
FILTERS = ("channel", "language", "audience")
UNKNOWN = "unknown"

METRICS: Dict[str, Tuple[str, ...]] = {
    "conversations_started": ("channel", "language", "audience"),
    "questions": ("topic", "channel", "language", "audience"),
    "fallbacks": ("channel", "language"),
    "disclosures": ("kind",),
    "disclosure_apps": ("app",),
    "check_ins": ("stage",),  # asked | confirmed | declined
    "cases_opened": ("risk", "origin"),
    "cases_claimed": ("risk",),
    "cases_closed": ("outcome",),
    # Seconds from a case opened to its first counselor message, in the buckets below.
    "first_response": ("risk", "bucket"),
    # Campaigns (bot/campaigns): subscriptions (new or started again), stops (by the user's word,
    # a Telegram block, Twilio's STOP), each campaign message's outcome, quizzes finished.
    "campaign_subscriptions": ("channel", "language", "audience"),
    "campaign_stops": ("channel", "language", "reason"),  # reason: user | blocked | twilio_stop
    "campaign_messages": ("state", "kind", "channel", "language"),  # state: sent delivered failed ...
    "quiz_completions": ("channel", "language"),
}

# Upper bounds (seconds) of the first-response buckets; 300 and 3600 are bounds, so the share of
# cases answered within 5 minutes and within an hour is exact, not estimated.
FIRST_RESPONSE_BUCKETS: Tuple[int, ...] = (60, 120, 300, 600, 1800, 3600, 14400, 28800, 86400)


def response_bucket(seconds: float) -> str:
    """The first-response bucket of a delay: ``le_300`` (at most 5 minutes), ..., ``gt_86400``."""
    for bound in FIRST_RESPONSE_BUCKETS:
        if seconds <= bound:
            return f"le_{bound}"
    return f"gt_{FIRST_RESPONSE_BUCKETS[-1]}"


def bucket_bounds(bucket: str) -> Tuple[float, float]:
    """(lower, upper) seconds of a bucket; the last one is open (upper = its lower bound x 2)."""
    kind, _, raw = bucket.partition("_")
    bound = int(raw)
    if kind == "gt":
        return float(bound), float(bound * 2)
    index = FIRST_RESPONSE_BUCKETS.index(bound)
    return float(FIRST_RESPONSE_BUCKETS[index - 1]) if index else 0.0, float(bound)


_VALUE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,31}$")


def register(metric: str, dimensions: Tuple[str, ...]) -> None:
    """Add a metric (for example a campaign's ``campaign_sends`` by channel and status)."""
    if not _VALUE.match(metric) or any(not _VALUE.match(d) for d in dimensions):
        raise ValueError(f"bad metric or dimension name: {metric} {dimensions}")
    METRICS[metric] = tuple(dimensions)


def _value(value: Optional[object]) -> str:
    text = UNKNOWN if value is None or value == "" else str(value).lower()
    return text if _VALUE.match(text) else "other"


def dims_key(metric: str, dims: Mapping[str, Optional[object]]) -> str:
    """The stored form of a counter's dimensions: ``"channel=rest;language=ar"``, in the metric's
    order. Raises ValueError for an unknown metric or dimension; a value that is not a short code
    is kept as ``other`` (free text can never reach the table)."""
    allowed = METRICS.get(metric)
    if allowed is None:
        raise ValueError(f"unknown metric {metric!r}")
    extra = set(dims) - set(allowed)
    if extra:
        raise ValueError(f"metric {metric!r} has no dimension {sorted(extra)}")
    return ";".join(f"{name}={_value(dims.get(name))}" for name in allowed)


def parse_dims(key: str) -> Dict[str, str]:
    return dict(part.split("=", 1) for part in key.split(";") if part)
