"""Amaan core: settings, language handling, the danger net, content and helplines.

This package knows no adapter: it never imports ``actions`` or ``channels``.
"""
