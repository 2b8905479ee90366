"""Amaan core: settings, language handling, the danger net, content and helplines.

This package knows no adapter: it never imports ``actions`` or ``channels``.
"""

from bot import numerics

# Before anything imports TensorFlow: the same numbers on every machine (bot/numerics.py).
numerics.apply()
