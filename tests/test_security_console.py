"""Issue 13, point 7: the console against an attacker who is not a counselor, or is one trying to
take a case from another, on real SQLite and PostgreSQL.

* The client address comes from ``X-Forwarded-For`` only when the peer is a configured trusted
  proxy: otherwise the header is ignored, so forging it neither escapes the per-address limit nor
  puts a false address in the audit log; behind the proxy, one client's failures do not lock out
  every counselor.
* The per-account sign-in limit is atomic: a burst of parallel wrong passwords gets no more tries
  than the limit.
* A new password ends the account's sessions (disabling already did: tests/test_console_app.py).
* Two counselors claiming the same case at the same moment: exactly one gets it.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any, AsyncIterator, List

import pytest
from aiohttp.test_utils import TestServer

from bot.console.app import create_app
from bot.console.security import CONSOLE
from tests import console_kit
from tests.console_kit import PASSWORD, Clock, DeliveryStandIn, Kit, config_for, settle

delivery = console_kit.delivery
kit = console_kit.kit

PROXY = "127.0.0.1/32"  # the test client connects from here: it plays the reverse proxy


@pytest.fixture
async def proxied(database_url: str, delivery: DeliveryStandIn) -> AsyncIterator[Kit]:
    """The console behind a trusted reverse proxy (``CONSOLE_TRUSTED_PROXIES``)."""
    clock = Clock()
    app = create_app(config_for(database_url, delivery.url, clock, trusted_proxies=(PROXY,)))
    server = TestServer(app)
    await server.start_server()
    made = Kit(server, app[CONSOLE], clock, delivery)
    yield made
    for browser in made.browsers:
        await browser.client.session.close()
    await server.close()
    await settle()


def addresses(kit: Kit, action: str) -> List[Any]:
    return [e.ip for e in kit.console.audit.entries() if e.action == action]


async def test_a_forged_forwarded_for_is_ignored_without_a_trusted_proxy(kit: Kit) -> None:
    kit.console.accounts.add("mona", "counselor", PASSWORD)
    browser = await kit.browser()
    for i in range(20):  # a new made-up address for every guess
        browser.client.session.headers["X-Forwarded-For"] = f"198.51.100.{i}"
        assert (await browser.sign_in(f"guess{i}", "guessing-password")).status == 401
    assert (await browser.sign_in("mona")).status == 429, "the forged header did not escape the address limit"
    assert set(addresses(kit, "sign_in_failed")) == {"127.0.0.1"}


async def test_behind_a_trusted_proxy_one_client_cannot_lock_out_the_others(proxied: Kit) -> None:
    proxied.console.accounts.add("mona", "counselor", PASSWORD)
    attacker = await proxied.browser()
    for i in range(25):
        # The attacker's own made-up hop comes first; the proxy appends the address it saw.
        attacker.client.session.headers["X-Forwarded-For"] = "10.9.9.9, 203.0.113.66"
        reply = await attacker.sign_in(f"guess{i}", "guessing-password")
        assert reply.status in (401, 429)
    assert (await attacker.sign_in("mona")).status == 429, "the attacker's address is limited"
    counselor = await proxied.browser()
    counselor.client.session.headers["X-Forwarded-For"] = "192.0.2.10"
    assert (await counselor.sign_in("mona")).status == 303, "a counselor elsewhere still signs in"
    assert set(addresses(proxied, "sign_in_failed")) == {"203.0.113.66"}
    assert addresses(proxied, "sign_in") == ["192.0.2.10"]


async def test_parallel_wrong_passwords_get_no_more_tries_than_the_limit(kit: Kit) -> None:
    kit.console.accounts.add("mona", "counselor", PASSWORD)
    limit = kit.console.limiter.per_account
    browsers = [await kit.browser() for _ in range(4)]
    for browser in browsers:
        await browser.get("/console/login")

    async def guess(i: int) -> int:
        browser = browsers[i % len(browsers)]
        data = {"username": "mona", "password": f"guess-number-{i:04d}"}
        return int((await browser.post("/console/login", data)).status)

    statuses = await asyncio.gather(*(guess(i) for i in range(4 * limit)))
    assert statuses.count(401) <= limit, statuses  # a password was checked at most `limit` times
    assert statuses.count(401) + statuses.count(429) == len(statuses)
    # One by one from here: exactly `limit` passwords are ever checked, then the account is locked.
    checked = statuses.count(401)
    while (await browsers[0].sign_in("mona", "one-more-guess")).status == 401:
        checked += 1
    assert checked == limit
    assert (await browsers[0].sign_in("mona")).status == 429, "even the right password, once locked"


async def test_a_new_password_ends_the_accounts_sessions(kit: Kit) -> None:
    browser = await kit.signed_in("mona")
    assert (await browser.get("/console")).status == 200
    kit.console.accounts.set_password("mona", "a-brand-new-password")
    assert (await browser.get("/console")).status == 303, "the old session no longer works"
    assert (await browser.client.get("/console/api/queue")).status == 401


async def test_two_counselors_claiming_at_the_same_moment_one_gets_the_case(kit: Kit) -> None:
    mona, sara = await kit.signed_in("mona"), await kit.signed_in("sara")
    for _ in range(5):
        reference = kit.new_case()
        replies = await asyncio.gather(
            mona.api(f"/console/cases/{reference}/claim"), sara.api(f"/console/cases/{reference}/claim")
        )
        statuses = sorted(r.status for r in replies)
        assert statuses[0] == 200 and statuses[1] in (403, 409), statuses  # 403: already not theirs to open
        winner = "mona" if replies[0].status == 200 else "sara"
        assert kit.console.store.get(reference).assignee == winner


def test_concurrent_claims_in_the_store_let_exactly_one_counselor_win(kit: Kit) -> None:
    """The same race without HTTP in between, eight counselors at once, threads released together."""
    from bot.cases.handover import HeldByAnother

    handovers = kit.console.handovers
    for _ in range(5):
        reference = kit.new_case()
        start = threading.Barrier(8)
        won: List[str] = []
        lost: List[str] = []

        def claim(
            name: str,
            reference: str = reference,
            start: threading.Barrier = start,
            won: List[str] = won,
            lost: List[str] = lost,
        ) -> None:
            start.wait()
            try:
                handovers.claim(reference, name)
                won.append(name)
            except HeldByAnother:
                lost.append(name)

        threads = [threading.Thread(target=claim, args=(f"counselor{i}",)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(won) == 1 and len(lost) == 7, (won, lost)
        assert kit.console.store.get(reference).assignee == won[0]
