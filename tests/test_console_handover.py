"""A hand-over seen from the console: claim, live chat, notes, hand back and close reach the Rasa
server's delivery endpoint (here a stand-in HTTP server that records what it receives, at the edge
of the console's process) exactly as the interface says, notes never do, failures show as "not
delivered", and the queue and the conversation update live over server-sent events."""

from __future__ import annotations

import asyncio
import uuid

from aiohttp.test_utils import TestServer

from bot.cases import Conversation
from bot.console.app import DELIVERY, create_app
from bot.console.security import CONSOLE
from tests import console_kit
from tests.conftest import free_port
from tests.console_kit import TOKEN, Kit, next_event
from tests.services import redis_url

REDIS_URL = redis_url()

delivery = console_kit.delivery
kit = console_kit.kit


async def test_claim_chat_note_and_close_reach_the_user_but_notes_never_do(kit: Kit) -> None:
    mona = await kit.signed_in("mona")
    reference = kit.new_case()
    await mona.get(f"/console/cases/{reference}")

    claimed = await mona.api(f"/console/cases/{reference}/claim")
    assert claimed.status == 200 and (await claimed.json()) == {"claimed": True, "delivered": True}
    assert kit.delivery.received == [{"reference": reference, "event": "joined"}]
    assert kit.delivery.authorizations == [f"Bearer {TOKEN}"]
    case = kit.console.store.get(reference)
    assert (case.assignee, case.held, case.status) == ("mona", True, "with_counselor")

    sent = await mona.api(f"/console/cases/{reference}/message", {"text": "مرحبًا، أنا هنا لأساعدك"})
    assert sent.status == 200 and (await sent.json())["delivered"] is True
    assert kit.delivery.received[-1] == {
        "reference": reference,
        "event": "message",
        "text": "مرحبًا، أنا هنا لأساعدك",
        "counselor": "mona",
    }
    too_long = await mona.api(f"/console/cases/{reference}/message", {"text": "x" * 4001})
    assert too_long.status == 400 and len(kit.delivery.received) == 2
    noted = await mona.api(f"/console/cases/{reference}/note", {"text": "zq_private_note"})
    assert noted.status == 200
    # The form (no script) works too, and a note sent that way stays private as well.
    assert (await mona.post(f"/console/cases/{reference}/note", {"text": "zq_second_note"})).status == 303
    assert all("zq_" not in str(body) for body in kit.delivery.received)
    assert len(kit.delivery.received) == 2

    closed = await mona.post(f"/console/cases/{reference}/close", {"outcome": "referred_authorities"})
    assert closed.status == 303 and closed.headers["Location"] == f"/console/cases/{reference}"
    assert kit.delivery.events() == [(reference, "joined"), (reference, "message"), (reference, "closed")]
    case = kit.console.store.get(reference)
    assert (case.status, case.outcome, case.held) == ("closed", "referred_authorities", False)

    messages = [(m.author, m.counselor, m.text) for m in kit.console.handovers.messages(reference)]
    assert messages == [
        ("system", "mona", "joined"),
        ("counselor", "mona", "مرحبًا، أنا هنا لأساعدك"),
        ("note", "mona", "zq_private_note"),
        ("note", "mona", "zq_second_note"),
        ("system", "mona", "closed:referred_authorities"),
    ]
    # Nothing more can be said in a closed case.
    assert (await mona.api(f"/console/cases/{reference}/message", {"text": "hello?"})).status == 409
    assert len(kit.delivery.received) == 3


async def test_hand_back_tells_the_user_and_ends_the_hold(kit: Kit) -> None:
    mona = await kit.signed_in("mona")
    reference = kit.new_case()
    await mona.get(f"/console/cases/{reference}")
    await mona.api(f"/console/cases/{reference}/claim")
    back = await mona.api(f"/console/cases/{reference}/handback")
    assert back.status == 200 and (await back.json())["delivered"] is True
    assert kit.delivery.events() == [(reference, "joined"), (reference, "left")]
    case = kit.console.store.get(reference)
    assert (case.held, case.status, case.assignee) == (False, "with_counselor", "mona")
    # Handed back, the counselor can no longer write to the user until claiming again.
    assert (await mona.api(f"/console/cases/{reference}/message", {"text": "x"})).status == 409
    assert (await mona.api(f"/console/cases/{reference}/claim")).status == 200
    assert kit.delivery.events()[-1] == (reference, "joined")
    # The script's JSON calls close as the form does.
    assert (await mona.api(f"/console/cases/{reference}/close", {"outcome": "maybe"})).status == 400
    closed = await mona.api(f"/console/cases/{reference}/close", {"outcome": "other"})
    assert (await closed.json()) == {"closed": True, "delivered": True}
    assert kit.console.store.get(reference).outcome == "other"


async def test_a_message_the_endpoint_cannot_deliver_is_shown_as_not_delivered(kit: Kit) -> None:
    mona = await kit.signed_in("mona")
    reference = kit.new_case()
    await mona.get(f"/console/cases/{reference}")
    await mona.api(f"/console/cases/{reference}/claim")
    kit.delivery.status = 502
    sent = await mona.api(f"/console/cases/{reference}/message", {"text": "are you there?"})
    body = await sent.json()
    assert sent.status == 200 and body["delivered"] is False
    page = await (await mona.get(f"/console/cases/{reference}")).text()
    assert f'data-message-id="{body["id"]}" data-author="counselor" data-delivered="false"' in page
    assert 'data-testid="not-delivered"' in page
    kit.delivery.status = 200
    again = await mona.post(f"/console/cases/{reference}/message", {"text": "second try"})
    assert again.status == 303 and "notice" not in again.headers["Location"]


async def test_an_unreachable_endpoint_is_not_delivered_either(kit: Kit) -> None:
    mona = await kit.signed_in("mona")
    reference = kit.new_case()
    await mona.get(f"/console/cases/{reference}")
    await mona.api(f"/console/cases/{reference}/claim")
    app = kit.server.app
    assert app is not None
    app[DELIVERY].url = f"http://127.0.0.1:{free_port()}/webhooks/handover/deliver"  # nothing listens there
    sent = await mona.post(f"/console/cases/{reference}/message", {"text": "hello"})
    assert sent.status == 303 and sent.headers["Location"].endswith("?notice=not_delivered")
    page = await (await mona.get(sent.headers["Location"])).text()
    assert 'data-notice="not_delivered"' in page


async def test_the_queue_stream_shows_a_new_case_without_a_reload(kit: Kit) -> None:
    mona = await kit.signed_in("mona")
    stream = await mona.client.get("/console/events")
    assert stream.status == 200 and stream.headers["Content-Type"].startswith("text/event-stream")
    _, first = await next_event(stream, "queue")
    assert first == []
    reference = await asyncio.to_thread(kit.new_case, "urgent")
    _, rows = await next_event(stream, "queue")
    assert [row["reference"] for row in rows] == [reference]
    assert rows[0]["risk"] == "urgent" and "excerpt" not in rows[0]
    # Claimed by someone else, it leaves this counselor's queue.
    await asyncio.to_thread(kit.console.handovers.claim, reference, "sara")
    _, rows = await next_event(stream, "queue")
    assert rows == []
    stream.close()


async def test_the_case_stream_shows_the_users_messages_live(kit: Kit) -> None:
    mona = await kit.signed_in("mona")
    reference = kit.new_case()
    await mona.get(f"/console/cases/{reference}")
    await mona.api(f"/console/cases/{reference}/claim")
    joined = kit.console.handovers.messages(reference)[-1].id
    stream = await mona.client.get(f"/console/cases/{reference}/events?after={joined}")
    _, case = await next_event(stream, "case")
    opened = kit.console.audit.entries(reference=reference)[0]
    assert (opened.actor, opened.action, opened.detail) == ("mona", "open_case", "live")  # a view, audited
    assert (case["reference"], case["held"], case["assignee"]) == (reference, True, "mona")
    # The Rasa server's gate writes what the user says into the case; the console shows it.
    await asyncio.to_thread(kit.console.handovers.add_message, reference, "user", "أحتاج مساعدة")
    fields, message = await next_event(stream, "message")
    assert (message["author"], message["text"]) == ("user", "أحتاج مساعدة")
    assert fields["id"] == str(message["id"])
    await asyncio.to_thread(kit.console.handovers.release, reference)
    _, case = await next_event(stream, "case")
    assert case["held"] is False
    stream.close()


async def test_a_stream_for_a_session_that_ended_says_so_and_stops(kit: Kit) -> None:
    mona = await kit.signed_in("mona")
    stream = await mona.client.get("/console/events")
    await next_event(stream, "queue")
    kit.clock.advance(minutes=31)  # a stream is not activity: the idle session ends
    await next_event(stream, "expired")
    assert await stream.content.read() == b""
    stream.close()


async def test_a_forgotten_users_case_can_be_claimed_and_closed_but_nothing_is_sent(kit: Kit) -> None:
    mona = await kit.signed_in("mona")
    reference = kit.new_case(sender="web-forget-me")
    await asyncio.to_thread(kit.console.store.unlink, Conversation("web", "web-forget-me"))
    page = await (await mona.get(f"/console/cases/{reference}")).text()
    assert 'id="unlinked"' in page
    claimed = await mona.api(f"/console/cases/{reference}/claim")
    assert (await claimed.json()) == {"claimed": True, "delivered": None}
    closed = await mona.post(f"/console/cases/{reference}/close", {"outcome": "no_contact"})
    assert closed.status == 303 and "notice" not in closed.headers["Location"]
    assert kit.delivery.received == []


async def test_claims_and_closes_are_announced_on_the_redis_stream(
    database_url: str, delivery: console_kit.DeliveryStandIn
) -> None:
    import redis

    stream = f"amaan:test:{uuid.uuid4().hex[:8]}"
    clock = console_kit.Clock()
    app = create_app(
        console_kit.config_for(database_url, delivery.url, clock, redis_url=REDIS_URL, cases_stream=stream)
    )
    server = TestServer(app)
    await server.start_server()
    made = Kit(server, app[CONSOLE], clock, delivery)
    client = redis.Redis.from_url(REDIS_URL)
    try:
        mona = await made.signed_in("mona")
        reference = made.new_case()
        await mona.get(f"/console/cases/{reference}")
        await mona.api(f"/console/cases/{reference}/claim")
        await mona.post(f"/console/cases/{reference}/close", {"outcome": "advised"})
        entries = [{k.decode(): v.decode() for k, v in fields.items()} for _, fields in client.xrange(stream)]
        assert [(e["type"], e["reference"], e["previous_status"], e["status"]) for e in entries] == [
            ("case.status_changed", reference, "received", "with_counselor"),
            ("case.status_changed", reference, "with_counselor", "closed"),
        ]
    finally:
        client.delete(stream)
        client.close()
        for browser in made.browsers:
            await browser.client.session.close()
        await server.close()
        await console_kit.settle()
