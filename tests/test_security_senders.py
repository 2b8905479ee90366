"""Issue 13, point 3: no channel can speak in, or read, another channel's conversation.

Every channel mints sender ids in its own namespace (``channels.identity.NAMESPACES``); the REST
channel refuses ids in another's, in any disguise; Telegram chat ids reach Rasa only as a keyed
hash, like WhatsApp numbers; and the hand-over gate looks a case up under the channel the sender
id belongs to, whatever channel a message claims to come from.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, List

import pytest
import requests
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

from bot.cases import CaseCipher, CaseStore, generate_key
from bot.cases.handover import Handovers
from bot.cases.store import CaseUpdate, Conversation, engine_for
from bot.settings import Settings
from channels.gate import HandoverGate, close_stores
from channels.identity import NAMESPACES, SenderIdentity, belongs_elsewhere, channel_of
from tests.channel_app import CHANNEL_ENV, telegram_sender, tracker_store_dump, user_texts
from tests.conftest import API_TOKEN, Bot, new_sender
from tests.test_telegram import Telegram, telegram  # noqa: F401 - the in-process Telegram fixture

FOREIGN = ["tg-1234567", "wa-0f3c", "web-9a8b", "TG-1234567", "ｔｇ-1234567", " wa-0f3c", "Web-9a8b", "tg-"]


@pytest.mark.parametrize("sender", FOREIGN)
def test_ids_in_another_channels_namespace_are_recognised_in_any_disguise(sender: str) -> None:
    assert belongs_elsewhere(sender)


def test_each_channel_owns_its_prefix() -> None:
    assert {channel_of(p + "x") for p in NAMESPACES.values()} == set(NAMESPACES)
    assert channel_of("test-abc") is None and not belongs_elsewhere("test-abc")
    assert not belongs_elsewhere("my-tg-name")  # only a prefix names a channel


@pytest.mark.server
@pytest.mark.parametrize("sender", FOREIGN[:4] + ["ｔｇ-1234567"])
def test_rest_cannot_speak_as_a_telegram_whatsapp_or_widget_user(bot: Bot, sender: str) -> None:
    reply = bot.post({"sender": sender, "message": "what did I report? hello"})
    assert reply.status_code == 403
    assert reply.json() == {"error": "this sender id belongs to another channel"}
    tracker = requests.get(
        f"{bot.base_url}/conversations/{sender.strip()}/tracker", params={"token": API_TOKEN}, timeout=30
    ).json()
    assert not [e for e in tracker.get("events") or [] if e.get("event") == "user"]  # nothing was said there


@pytest.mark.server
def test_rest_still_speaks_for_its_own_ids(bot: Bot) -> None:
    assert bot.post({"sender": new_sender(), "message": "hello"}).status_code == 200


# --- Telegram: the chat id, keyed-hashed ------------------------------------------------------------


@pytest.mark.server
async def test_a_telegram_chat_id_never_reaches_rasa(telegram: Telegram) -> None:  # noqa: F811
    user = telegram.user("en")
    replies = await user.say("hello")
    assert replies and "automated assistant" in replies[0]["text"]  # answered: the chat id was found again
    key = CHANNEL_ENV["SENDER_ID_KEY"].encode()
    assert user.sender_id == SenderIdentity(key, "tg").sender_id(str(user.chat_id)) == telegram_sender(user.chat_id)
    assert user.sender_id.startswith("tg-") and str(user.chat_id) not in user.sender_id
    assert await user_texts(telegram.agent, user.sender_id) == ["hello"]
    assert await user_texts(telegram.agent, f"tg-{user.chat_id}") == []
    assert str(user.chat_id) not in tracker_store_dump(telegram.db)
    # Another key, another id: without SENDER_ID_KEY nobody can tell which chat it is.
    assert SenderIdentity(b"z" * 32, "tg").sender_id(str(user.chat_id)) != user.sender_id


# --- the hand-over gate -------------------------------------------------------------------------------


async def test_the_gate_looks_a_case_up_under_the_channel_of_the_sender_id(tmp_path: Path) -> None:
    key = generate_key()
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'cases.db'}", case_encryption_keys=key)
    store = CaseStore(engine_for(settings.database_url or ""), CaseCipher([key]))
    store.migrate()
    sender = f"tg-{uuid.uuid4().hex}"
    update = CaseUpdate(
        origin="counselor_request", risk="high", language="en", audience="teen", counselor_requested=True
    )
    reference = store.record(Conversation("telegram", sender), update).case.reference
    assert Handovers(store).claim(reference, "mona") is not None
    reached_bot: List[Any] = []

    async def bot_answers(message: UserMessage) -> None:
        reached_bot.append(message)

    gate = HandoverGate(bot_answers, settings=settings)
    try:
        # A message claiming another channel still lands in the held Telegram case, not at the bot.
        forged = UserMessage("zq-gate hello", CollectingOutputChannel(), sender, input_channel="rest")
        await gate(forged)
        assert reached_bot == []
        assert [m.text for m in Handovers(store).messages(reference)] == ["zq-gate hello"]
        # A REST id of the same digits is another conversation: the bot answers it.
        await gate(UserMessage("hello", CollectingOutputChannel(), sender[3:], input_channel="rest"))
        assert len(reached_bot) == 1
    finally:
        close_stores()
        store.close()
