"""The campaign worker as it was before ``ReturnFreedMemory``: the same broker, actors and imports as
``bot.campaigns.worker``, with that middleware taken off (``bench/campaign_memory.py``'s "before").

Run as ``python -m dramatiq bench.campaign_worker_as_before``."""

from __future__ import annotations

import dramatiq

import bot.campaigns.worker  # noqa: F401 - the broker and the actors
from bot.campaigns.memory import ReturnFreedMemory

_broker = dramatiq.get_broker()
_broker.middleware[:] = [m for m in _broker.middleware if not isinstance(m, ReturnFreedMemory)]
