"""WhatsApp through Twilio at ``/webhooks/whatsapp/webhook`` (status callbacks at ``.../status``).

The recipe: ``X-Twilio-Signature`` must verify (Twilio's algorithm, constant-time compare) against
``PUBLIC_BASE_URL`` + the path, because behind a proxy the URL the server sees is not the one
Twilio signed (403 otherwise) → the form is checked → an empty TwiML answer at once; the message is
then handled in the background, in arrival order per user: de-duplicated on
the signed ``MessageSid``, media refused unfetched, STOP/START handled,
a numbered-list choice mapped back to its button, the text cleaned (``bot.inbound``), one
``UserMessage`` to Rasa, the replies sent with ``messages.create_async`` through the SDK's async
HTTP client opened when the server starts.

The phone number never reaches Rasa: the sender id is ``wa-<keyed hash>`` (``channels.identity``)
and the number needed to answer later is kept encrypted in the ``AddressBook``.

Better than Rasa's own Twilio connector: it verifies signatures, never blocks the event loop with
the synchronous client, answers a retried delivery once, refuses media, splits replies over 1600
characters and keeps phone numbers out of the tracker store and the logs.

One module per concern, on the frame every phone platform shares (``channels.platform``):

* ``input``: ``WhatsAppInput``, the webhooks (signed form → sender id → queued → TwiML; status).
* ``messages``: ``MessageHandler``, one message in the background (de-duplicate → media, STOP/START,
  choice or text → one ``UserMessage``).
* ``output``: ``WhatsAppOutput``, the replies (split, numbered buttons, retries) and pushes.
* ``form``: Twilio's posted form, its signature, and the TwiML answer.
* ``choices``: the numbered list offered to each user, remembered for the 24-hour window.
* ``runtime``: the Twilio client, the shared state and the address book, opened at server start.
"""

from channels.whatsapp.form import EMPTY_TWIML, SIGNATURE_HEADER
from channels.whatsapp.input import IDEMPOTENCY_HEADER, WhatsAppInput
from channels.whatsapp.output import WhatsAppOutput

__all__ = ["WhatsAppInput", "WhatsAppOutput", "SIGNATURE_HEADER", "IDEMPOTENCY_HEADER", "EMPTY_TWIML"]
