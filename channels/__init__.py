"""Our own Rasa input/output channels, one module or package per channel.

Each connector reads like a recipe: parse, authenticate (fail closed), de-duplicate, clean the text
(``bot.inbound``), hand one ``UserMessage`` to Rasa, answer quickly.

* ``rest``: REST, for local use, tests and benchmarks.
* ``telegram/``, ``whatsapp/``: the phone platforms, each on the frame in ``platform``.
* ``web/``: the web widget's socket.io channel, and the widget's files.
* ``gate`` (in front of the bot in every connector) and ``handover`` (the console's deliveries):
  counselor hand-over.
* Shared pieces: ``state`` (Redis with a memory fallback), ``dedup``, ``ordering``, ``identity``
  (hashed sender ids, encrypted addresses), ``outgoing`` (splitting, buttons as text), ``common``.
"""

from bot.action_fallback import install as _install_action_fallback
from bot.cases.conversations_outage import install as _install_outage_passthrough
from bot.rasa_speedups import install as _install_speedups

# The Rasa server imports this package to build the channels: the place to fix its hot path once,
# and to answer from the Rasa server itself while the action server cannot be reached.
_install_speedups()
_install_action_fallback()
_install_outage_passthrough()  # a conversation that cannot be read is not taken for a new one
