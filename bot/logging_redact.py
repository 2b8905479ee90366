"""Keep what users say out of the logs: message text, phone numbers and e-mail addresses are
redacted from every log record above debug level, in every logger of the process.

``install()`` puts a log-record factory in place, so a record is redacted when it is created,
before any handler (Rasa's coloredlogs, Sanic's, a file handler added later) can see it; it also
returns a ``RedactingFilter`` for handlers that want it explicitly. Both servers load it through
their ``--logging-config-file`` (``bot.run`` writes ``.run/logging.yml``), whose only entry is
this filter: building it installs the factory, and nothing else about Rasa's logging changes.

What counts as message text: values of the keys Rasa's own structured logs use for user and bot
text (``text``, ``user_message``, ``parse_data_text``...), whether the record is structlog JSON,
``key=value`` pairs or a dict argument, and a quoted string right after "message" or "text".
Our own code never logs text; this is the net under library code. Debug records stay as they are,
for local debugging only (production runs at INFO).
"""

from __future__ import annotations

import json
import logging
import re
import threading
from pathlib import Path
from typing import Any, Callable, Dict, Optional

__all__ = [
    "RedactingFilter",
    "redact_pii",
    "redact_text",
    "redact_record",
    "redact_traceback",
    "install",
    "logging_config_file",
    "LOGGING_CONFIG",
    "REDACTED",
]

REDACTED = "[redacted]"

# Keys whose values are what someone said (the list Rasa's structlog anonymizer uses, and ours).
SENSITIVE_KEYS = frozenset(
    {
        "text",
        "message_text",
        "response_text",
        "user_text",
        "user_message",
        "utter_text",
        "parse_data_text",
        "parse_data_entities",
        "tracker_latest_message",
        "latest_message",
        "slot_values",
        "slot_candidates",
        "prefilled_slots",
        "message",
        "response",
        "rasa_event",
        "rasa_events",
        "json_message",
        "token_text",
        "entity",
        "current_entity",
        "next_entity",
        "body",
        "phone",
        "email",
        "sender_id",
    }
)
# Secrets that can show up in a logged URL or query string.
_SECRET = re.compile(r"(?i)\b(token|secret|password|api_key|auth)=([^&\s\"']+)")
# A Telegram bot token (``123456:AA...``), e.g. in a Bot API URL ``/bot<token>/sendMessage`` that
# httpx logs at INFO.
_BOT_TOKEN = re.compile(r"(?<!\d)\d{3,}:[A-Za-z0-9_-]{20,}")
# A request or response body quoted in an error message (Rasa's ``ClientResponseError``:
# ``500, Internal Server Error, body='b'{...tracker...}''``): everything after it on the line.
_BODY = re.compile(r"(?i)\b(body|request_body|json_body)(=|: ?)(?!\[redacted\]$).+$", re.MULTILINE)
# The first line of an exception in a traceback: ``module.Type: message`` at the start of a line.
_EXCEPTION_LINE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Warning|Interrupt|Rejection|[A-Z]\w*)): (.*)$")
_TRACEBACK_BOUNDARIES = (
    "Traceback (most recent call last):",
    "During handling of the above exception, another exception occurred:",
    "The above exception was the direct cause of the following exception:",
)
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+")
# A run of digits (ASCII or Arabic-Indic) with the separators people type in phone numbers.
_PHONE = re.compile(
    r"(?<![\w.:/-])\+?[0-9\u0660-\u0669\u06f0-\u06f9](?:[0-9\u0660-\u0669\u06f0-\u06f9 \-().]{5,22})[0-9\u0660-\u0669\u06f0-\u06f9](?![\w.:/])"
)
# Dates, times and versions look like digit runs too; they are not phone numbers.
_NOT_PHONE = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}|^\d{1,2}:\d{2}|^\d+\.\d+\.\d+")
# key=value, key: value, 'key': 'value' (a dict's repr) and "key": "value".
_KEY_VALUE = re.compile(
    r"(['\"]?)\b(" + "|".join(sorted(SENSITIVE_KEYS, key=len, reverse=True)) + r")\1(=|: ?)"
    r"('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|\{[^}]*\}|\[[^\]]*\]|[^\s,;}]+)"
)
_QUOTED_AFTER_WORD = re.compile(
    r"(?i)\b(message|text|utterance|said|says)(\s+|\s*[:=]\s*)('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")"
)


def _phone(match: re.Match[str]) -> str:
    found = match.group(0)
    digits = sum(ch.isdigit() for ch in found)
    if not 7 <= digits <= 15 or _NOT_PHONE.match(found):
        return found
    return REDACTED


def redact_pii(text: str) -> str:
    """Phone numbers, e-mail addresses and secrets in query strings, replaced by "[redacted]"."""
    text = _EMAIL.sub(REDACTED, text)
    text = _SECRET.sub(lambda m: f"{m.group(1)}={REDACTED}", text)
    text = _BOT_TOKEN.sub(REDACTED, text)
    return _PHONE.sub(_phone, text)


def redact_traceback(text: str) -> str:
    """A formatted traceback with every exception's message replaced (``KeyError: [redacted]``):
    a message can quote what a user said (``KeyError('…')``, a request body). The types, files and
    lines stay, which is what debugging needs."""
    lines = []
    in_message = False
    for line in text.splitlines():
        if line in _TRACEBACK_BOUNDARIES or line.startswith("  File ") or not line.strip():
            in_message = False
            lines.append(line)
            continue
        if line.startswith((" ", "\t")) and not in_message:
            lines.append(line)  # source lines as the file has them
            continue
        found = _EXCEPTION_LINE.match(line)
        if found and not in_message:
            in_message = True
            lines.append(f"{found.group(1)}: {REDACTED}")
        elif in_message:
            continue  # the rest of a multi-line message
        else:
            lines.append(redact_text(line))
    return "\n".join(lines)


def _redact_value(key: str, value: Any) -> Any:
    if key in SENSITIVE_KEYS and value not in (None, "", [], {}):
        return REDACTED
    if key in ("exception", "exc_info", "stack") and isinstance(value, str):  # structlog's rendered traceback
        return redact_traceback(value)
    return _redact_structure(value)


def _redact_structure(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_structure(v) for v in value]
    if isinstance(value, str):
        return redact_pii(value)
    return value


def redact_text(message: str) -> str:
    """A rendered log line with message text, phone numbers and e-mail addresses redacted."""
    stripped = message.strip()
    if stripped.startswith("{") and stripped.endswith("}"):
        try:
            parsed = json.loads(stripped)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):  # structlog's JSON renderer
            return json.dumps(_redact_structure(parsed), ensure_ascii=False)
    message = _BODY.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", message)
    message = _KEY_VALUE.sub(lambda m: f"{m.group(1)}{m.group(2)}{m.group(1)}{m.group(3)}{REDACTED}", message)
    message = _QUOTED_AFTER_WORD.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", message)
    return redact_pii(message)


def _exception_name(error: BaseException) -> str:
    """An exception as its type only: its message may quote what a user said."""
    return f"{type(error).__name__}({REDACTED})"


def _redact_argument(value: Any) -> Any:
    if isinstance(value, BaseException):  # logger.error("failed: %s", error)
        return _exception_name(value)
    if isinstance(value, dict | list | tuple):
        return _redact_structure(value)
    return value


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    """Redact one record in place (records at DEBUG and below are left as they are)."""
    if record.levelno <= logging.DEBUG or getattr(record, "_amaan_redacted", False):
        return record
    try:
        if record.args and isinstance(record.args, dict):
            record.args = _redact_structure(record.args)
        elif record.args:
            record.args = tuple(_redact_argument(a) for a in record.args)
        if isinstance(record.msg, BaseException):  # logger.error(error)
            record.msg = _exception_name(record.msg)
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a record that cannot be formatted is logged as such, not raised
        message = f"{record.msg!s} (unformattable arguments)"
    if _TRACEBACK_BOUNDARIES[0] in message:  # a traceback rendered into the message (structlog)
        message = redact_traceback(message)
    record.msg = redact_text(message)
    record.args = None
    if record.exc_info and not record.exc_text:
        record.exc_text = redact_traceback(logging.Formatter().formatException(record.exc_info))
    elif record.exc_text:
        record.exc_text = redact_traceback(record.exc_text)
    if record.stack_info:
        record.stack_info = redact_pii(record.stack_info)
    # Extra attributes formatters may print (Sanic's access log: "request", "host").
    for name in ("request", "host"):
        value = record.__dict__.get(name)
        if isinstance(value, str):
            record.__dict__[name] = redact_pii(value)
    record._amaan_redacted = True
    return record


class RedactingFilter(logging.Filter):
    """A filter that redacts; building one also installs the process-wide record factory."""

    def __init__(self, name: str = "") -> None:
        super().__init__(name)
        install()

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


_installed = False
_install_lock = threading.Lock()


def install() -> None:
    """Redact every record above debug made in this process from now on (idempotent)."""
    global _installed
    with _install_lock:
        if _installed:
            return
        previous: Callable[..., logging.LogRecord] = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            return redact_record(previous(*args, **kwargs))

        logging.setLogRecordFactory(factory)
        _installed = True


# For --logging-config-file (dictConfig): building the filter is what installs the redaction;
# handlers, levels and formats stay as Rasa and the SDK set them.
LOGGING_CONFIG: Dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "bot.logging_redact.RedactingFilter"}},
    # httpx logs every request's URL at INFO; a Telegram Bot API URL carries the bot token.
    "loggers": {"httpx": {"level": "WARNING"}, "httpcore": {"level": "WARNING"}},
}


def logging_config_file(path: Path, config: Optional[Dict[str, Any]] = None) -> Path:
    """Write the dictConfig YAML to ``path`` and return the path."""
    import yaml

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump(config or LOGGING_CONFIG, sort_keys=False), encoding="utf-8")
    return target
