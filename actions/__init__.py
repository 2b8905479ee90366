"""Rasa SDK custom actions, one module per feature. They may import ``bot``, never ``channels``."""
