"""Issue 13, point 9: the webhooks' secrets and de-duplication.

* In production the servers refuse to start with a Telegram webhook secret or a hand-over token
  shorter than 32 characters (a short secret can be guessed; it is all that tells Telegram's calls
  and the console's deliveries from an attacker's).
* WhatsApp deliveries are de-duplicated on the ``MessageSid`` that Twilio's signature covers, not on
  the unsigned ``I-Twilio-Idempotency-Token`` header: a captured request replayed with a new header
  is not taken as a new message.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from bot.settings import MIN_WEBHOOK_SECRET_CHARS, Settings
from tests import test_whatsapp
from tests.channel_app import user_texts
from tests.test_whatsapp import WhatsApp

whatsapp = test_whatsapp.whatsapp  # the fixture (pytest finds it by name in the module)


@pytest.mark.parametrize("environment", ["production", "development"])
def test_a_short_telegram_webhook_secret_stops_production(monkeypatch: Any, environment: str) -> None:
    monkeypatch.setenv("AMAAN_ENV", environment)
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", "s" * (MIN_WEBHOOK_SECRET_CHARS - 1))
    if environment == "production":
        with pytest.raises(ValueError, match="TELEGRAM_WEBHOOK_SECRET must be at least 32"):
            Settings.from_env()
    else:
        assert Settings.from_env().telegram_webhook_secret  # development keeps working with a test secret
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", "s" * MIN_WEBHOOK_SECRET_CHARS)
    assert Settings.from_env().telegram_webhook_secret == "s" * MIN_WEBHOOK_SECRET_CHARS


def test_a_short_handover_token_stops_production(monkeypatch: Any) -> None:
    monkeypatch.setenv("AMAAN_ENV", "production")
    monkeypatch.setenv("HANDOVER_TOKEN", "t" * 31)
    with pytest.raises(ValueError, match="HANDOVER_TOKEN must be at least 32"):
        Settings.from_env()
    monkeypatch.setenv("HANDOVER_TOKEN", "t" * 32)
    assert Settings.from_env().handover_token == "t" * 32


def test_the_refusal_names_the_variable_never_the_secret() -> None:
    """What an operator sees when a process reads such settings (every server does at start)."""
    import subprocess
    import sys

    from bot.settings import PROJECT_ROOT

    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(PROJECT_ROOT),
        "AMAAN_ENV": "production",
        "TELEGRAM_BOT_TOKEN": "123:abc",
        "TELEGRAM_WEBHOOK_SECRET": "short-secret",
    }
    code = "from bot.settings import get_settings; get_settings()"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "TELEGRAM_WEBHOOK_SECRET must be at least 32 characters in production" in done.stderr
    assert "short-secret" not in done.stderr, "the secret itself is never printed"


@pytest.mark.server
async def test_a_replayed_whatsapp_request_with_a_new_idempotency_header_is_taken_once(whatsapp: WhatsApp) -> None:
    user = whatsapp.user()
    form = user.form("hello")
    first = await user.send(form, headers={"I-Twilio-Idempotency-Token": str(uuid.uuid4())})
    replayed = await user.send(form, headers={"I-Twilio-Idempotency-Token": str(uuid.uuid4())})
    assert first and replayed == [], "the replay got no answer"
    assert await user_texts(whatsapp.agent, user.sender_id) == ["hello"]
    # Two different messages that share a header (it is not signed) are both taken.
    shared = {"I-Twilio-Idempotency-Token": str(uuid.uuid4())}
    assert await user.send(user.form("thanks"), headers=shared)
    assert await user.send(user.form("bye"), headers=shared)
    assert await user_texts(whatsapp.agent, user.sender_id) == ["hello", "thanks", "bye"]
