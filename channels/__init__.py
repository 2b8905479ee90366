"""Our own Rasa input/output channels: REST (local use and tests), and later Telegram, WhatsApp and web.

Each connector reads like a recipe: parse, authenticate (fail closed), de-duplicate, clean the text
(``bot.inbound``), hand one ``UserMessage`` to Rasa, answer quickly.
"""

from bot.rasa_speedups import install as _install_speedups

# The Rasa server imports this package to build the channels: the place to fix its hot path once.
_install_speedups()
