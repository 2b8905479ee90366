"""The web widget's channel: socket.io at ``/webhooks/web/socket.io/``, and the widget's files.

Better than Rasa's socketio channel on the points that matter here:

* **The server assigns the conversation.** The browser never names a sender id. On
  ``session_request`` it shows the token the server issued before (kept in the tab's
  ``sessionStorage``); a known token resumes its conversation, anything else starts a new one with
  a new random sender id and a new unguessable token. Only a hash of each token is stored.
* **Origins are checked**: ``WEB_ALLOWED_ORIGINS``, or the bot's own origin when unset (never
  ``cors_allowed_origins=[]``, which turns the check off). No cookies are set.
* **Nothing is lost on a reconnect**: every message to a user is numbered and kept (the last
  ``REPLAY_LIMIT``, for ``SESSION_TTL_SECONDS``); a resuming widget says which number it saw last
  and gets what it missed, so a counselor's message sent during a network drop still arrives.
* Typed ``/intent{...}`` text is plain text unless the bot offered it as a button
  (``bot.inbound``, ``bot.offered``); media is dropped unopened and answered with the media policy.

Protocol (socket.io events, default namespace):

* client → ``session_request`` ``{"token"?: str, "after"?: int}``; ack
  ``{"token": str, "resumed": bool, "missed": [message, ...]}``.
* client → ``user_uttered`` ``{"message": str, "lang"?: "ar"|"en"}``; ack ``{"ok": bool, "error"?: str}``
  once the bot has answered. The answers arrive as ``bot_uttered``.
* client → ``session_end``: forget the token (quick exit, "clear conversation"); ack ``{"ok": true}``.
* server → ``bot_uttered`` ``{"id": int, "text": str, "buttons"?: [{"title", "payload"}]}``; a
  counselor's message (``push``, from the hand-over endpoint) has ``"from": "counselor"``.

Several tabs and servers: each tab has its own ``sessionStorage``, so its own conversation; a
duplicated tab copies the token and shares the conversation (both receive the bot's messages).
With ``REDIS_URL`` the tokens, the replay log and the socket rooms (python-socketio's
``AsyncRedisManager``) are shared, so any number of Rasa servers can serve the widget and
``get_output_channel`` reaches a user connected to another one; the HTTP long-polling fallback
then needs sticky sessions at the load balancer (WebSocket connections do not).

One module per concern:

* ``input``: ``WebInput``, the socket.io server: sessions on ``session_request`` / ``session_end``,
  and ``user_uttered`` (session → shape → media → clean text → one ``UserMessage`` → ack).
* ``sessions``: ``WebSessions`` (in memory, or Redis): resume tokens and the numbered replay log.
* ``output``: ``WebOutput``, ``bot_uttered`` to a conversation's room, numbered for replay.
* ``files``: the widget's files (``static/``), its texts, and the demo pages under a strict CSP.
"""

from channels.web.files import DEMO_CSP
from channels.web.input import SOCKETIO_PATH, WebInput
from channels.web.output import WebOutput
from channels.web.sessions import MemoryWebSessions, RedisWebSessions, WebSessions, web_sessions

__all__ = [
    "WebInput",
    "WebOutput",
    "WebSessions",
    "MemoryWebSessions",
    "RedisWebSessions",
    "web_sessions",
    "SOCKETIO_PATH",
    "DEMO_CSP",
]
