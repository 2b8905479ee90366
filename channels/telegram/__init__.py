"""Telegram channel at ``/webhooks/telegram/webhook`` (python-telegram-bot 22, no Application).

The recipe: the ``X-Telegram-Bot-Api-Secret-Token`` header must equal ``TELEGRAM_WEBHOOK_SECRET``
(constant-time, 403 otherwise) → the JSON body is checked (size, content type, ``update_id``) and
parsed with ``Update.de_json`` → 200 at once; the update is then handled in the background, in
arrival order per chat (``ChatSequencer``): de-duplicated on ``update_id`` (Redis ``SET NX EX``),
media refused unopened, the text cleaned (``bot.inbound``), one ``UserMessage`` to Rasa, the replies
sent by the ``Bot`` created when the server starts.

Better than Rasa's own Telegram connector: it authenticates every request, processes a retried
update once, never runs ``asyncio.run`` (so ``get_output_channel`` works for pushes), splits
replies over 4096 characters, waits out ``RetryAfter``, maps long button payloads to short
``callback_data`` keys, answers callback queries, and never lets a group chat share a tracker.

One module per concern, on the frame every phone platform shares (``channels.platform``):

* ``input``: ``TelegramInput``, the webhook (secret → body → update → queued → 200).
* ``updates``: ``UpdateHandler``, one update in the background (de-duplicate → button, media,
  group or text → one ``UserMessage``).
* ``output``: ``TelegramOutput``, the replies (split, keyboard, ``RetryAfter``) and "typing…".
* ``keyboard``: inline keyboards out, callback data back (``CallbackKeys``).
* ``shapes``: which chat an update is about, and what kind of update it is.
* ``runtime``: the ``Bot``, the shared state and the ``tg-<keyed hash of the chat id>`` sender ids
  with their encrypted address book, opened at server start and closed at stop.
"""

from channels.telegram.input import ALLOWED_UPDATES, SECRET_HEADER, TelegramInput
from channels.telegram.keyboard import CallbackKeys
from channels.telegram.output import TelegramOutput

__all__ = ["TelegramInput", "TelegramOutput", "CallbackKeys", "ALLOWED_UPDATES", "SECRET_HEADER"]
