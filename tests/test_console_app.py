"""The counselor console as counselors and attackers meet it, on real SQLite and PostgreSQL:
sign-in, cookies, CSRF, rate limiting, idle expiry, security headers, who may open which case, the
audit log, the queue's order, both languages, escaping."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import text

from bot.cases import generate_key
from bot.console.app import COOKIE_NAME, create_app
from bot.console.config import ConsoleConfig, ConsoleConfigError
from bot.console.i18n import LANGUAGES, STRINGS
from bot.console.render import load_canned
from bot.console.security import CONSOLE
from bot.settings import PROJECT_ROOT, Settings
from tests import console_kit
from tests.console_kit import PASSWORD, Browser, Clock, DeliveryStandIn, Kit, config_for

# The fixtures this module uses (pytest finds them by name in the module).
delivery = console_kit.delivery
kit = console_kit.kit


def actions(kit: Kit, **filters: str) -> list:
    return [(e.actor, e.action, e.reference, e.detail) for e in kit.console.audit.entries(**filters)][::-1]


async def test_sign_in_needs_the_right_password(kit: Kit) -> None:
    kit.console.accounts.add("mona", "counselor", PASSWORD)
    browser = await kit.browser()
    assert (await browser.get("/console")).headers["Location"] == "/console/login"

    wrong = await browser.sign_in("mona", "not the password")
    assert wrong.status == 401
    assert 'data-error="bad_login"' in await wrong.text()
    assert (await browser.get("/console")).status == 303  # still signed out

    right = await browser.sign_in("mona")
    assert right.status == 303 and right.headers["Location"] == "/console"
    queue = await browser.get("/console")
    assert queue.status == 200
    assert 'data-username="mona"' in await queue.text()
    assert actions(kit) == [("mona", "sign_in_failed", None, None), ("mona", "sign_in", None, None)]


async def test_unknown_names_are_audited_without_what_was_typed(kit: Kit) -> None:
    browser = await kit.browser()
    reply = await browser.sign_in("hunter2-typed-in-the-name-field", "x" * 12)
    assert reply.status == 401
    assert actions(kit) == [("unknown", "sign_in_failed", None, None)]


async def test_the_session_cookie_is_http_only_and_same_site_strict(kit: Kit) -> None:
    kit.console.accounts.add("mona", "counselor", PASSWORD)
    browser = await kit.browser()
    await browser.get("/console/login")
    reply = await browser.post("/console/login", {"username": "mona", "password": PASSWORD})
    cookie = reply.cookies[COOKIE_NAME]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Strict"
    assert cookie["path"] == "/console"
    assert not cookie["secure"]  # plain-http development only
    assert PASSWORD not in reply.headers["Set-Cookie"] and "mona" not in reply.headers["Set-Cookie"]


async def test_outside_development_the_cookie_is_secure(database_url: str, delivery: DeliveryStandIn) -> None:
    app = create_app(config_for(database_url, delivery.url, Clock(), secure_cookies=True))
    server = TestServer(app)
    await server.start_server()
    try:
        app[CONSOLE].accounts.add("mona", "counselor", PASSWORD)
        browser = Browser(server)
        await browser.client.start_server()
        # The client would not send a Secure cookie back over plain http, so read the flags as set
        # (the sign-in page already sets the cookie that carries the CSRF token).
        reply = await browser.get("/console/login")
        header = reply.headers["Set-Cookie"]
        assert "Secure" in header and "HttpOnly" in header and "SameSite=Strict" in header
        assert reply.headers["Strict-Transport-Security"].startswith("max-age=")
        await browser.client.session.close()
    finally:
        await server.close()
        await console_kit.settle()


async def test_forms_and_api_calls_without_the_csrf_token_are_refused(kit: Kit) -> None:
    kit.console.accounts.add("mona", "counselor", PASSWORD)
    browser = await kit.browser()
    await browser.get("/console/login")
    no_token = await browser.post("/console/login", {"username": "mona", "password": PASSWORD}, csrf=False)
    assert no_token.status == 403
    assert (await browser.get("/console")).status == 303  # not signed in

    browser = await kit.signed_in("mona")
    reference = kit.new_case()
    form = await browser.post(f"/console/cases/{reference}/claim", csrf=False)
    assert form.status == 403
    forged = await browser.client.post(
        f"/console/cases/{reference}/claim", headers={"X-CSRF-Token": "forged", "Accept": "application/json"}
    )
    assert forged.status == 403
    assert kit.console.store.get(reference).assignee is None  # nothing happened
    assert kit.delivery.received == []

    ok = await browser.api(f"/console/cases/{reference}/claim")
    assert ok.status == 200
    assert kit.console.store.get(reference).assignee == "mona"


async def test_sign_in_attempts_are_rate_limited_per_account_even_across_restarts(
    kit: Kit, database_url: str, delivery: DeliveryStandIn
) -> None:
    kit.console.accounts.add("mona", "counselor", PASSWORD)
    kit.console.accounts.add("sara", "counselor", PASSWORD)
    browser = await kit.browser()
    for _ in range(5):
        assert (await browser.sign_in("mona", "guessing-password")).status == 401
    locked = await browser.sign_in("mona")  # the right password, too late
    assert locked.status == 429
    assert 'data-error="limited"' in await locked.text()
    assert actions(kit)[-1] == ("mona", "sign_in_limited", None, None)
    assert (await browser.sign_in("sara")).status == 303  # another account from the same address is fine

    # A restarted console (a new app over the same database) still remembers.
    restarted = create_app(config_for(database_url, delivery.url, kit.clock, case_keys=kit.console.config.case_keys))
    server = TestServer(restarted)
    await server.start_server()
    try:
        again = Browser(server)
        await again.client.start_server()
        assert (await again.sign_in("mona")).status == 429
        kit.clock.advance(minutes=16)
        assert (await again.sign_in("mona")).status == 303
        await again.client.session.close()
    finally:
        await server.close()


async def test_sign_in_attempts_are_rate_limited_per_address(kit: Kit) -> None:
    kit.console.accounts.add("mona", "counselor", PASSWORD)
    browser = await kit.browser()
    for i in range(20):
        assert (await browser.sign_in(f"guess{i}", "guessing-password")).status == 401
    assert (await browser.sign_in("mona")).status == 429


async def test_idle_sessions_expire(kit: Kit) -> None:
    browser = await kit.signed_in("mona")
    for _ in range(3):  # activity keeps a session alive
        kit.clock.advance(minutes=29)
        assert (await browser.get("/console")).status == 200
    kit.clock.advance(minutes=31)
    expired = await browser.get("/console")
    assert expired.status == 303 and expired.headers["Location"] == "/console/login?expired=1"
    assert (await browser.client.get("/console/api/queue")).status == 401
    kit.clock.advance(minutes=-60)  # and it stays ended, even if the clock said otherwise
    assert (await browser.get("/console")).status == 303


async def test_signing_out_ends_the_session_on_the_server(kit: Kit) -> None:
    browser = await kit.signed_in("mona")
    cookie = browser.client.session.cookie_jar.filter_cookies(browser.client.make_url("/console"))[COOKIE_NAME].value
    assert (await browser.post("/console/logout")).status == 303
    assert (await browser.get("/console")).status == 303
    # A copy of the old cookie (stolen, or from the browser's back button) is no longer a session.
    replay = await browser.client.get(
        "/console/api/queue", headers={"Cookie": f"{COOKIE_NAME}={cookie}"}, allow_redirects=False
    )
    assert replay.status == 401
    assert [a[1] for a in actions(kit)] == ["sign_in", "sign_out"]


async def test_a_disabled_account_loses_its_session(kit: Kit) -> None:
    browser = await kit.signed_in("mona")
    kit.console.accounts.set_disabled("mona")
    assert (await browser.get("/console")).status == 303
    assert (await browser.sign_in("mona")).status == 401


async def test_security_headers(kit: Kit) -> None:
    anonymous = await kit.browser()
    browser = await kit.signed_in("mona")
    reference = kit.new_case()
    for who, path in ((anonymous, "/console/login"), (browser, "/console"), (browser, f"/console/cases/{reference}")):
        reply = await who.get(path)
        assert reply.status == 200, path
        csp = reply.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
        assert reply.headers["X-Frame-Options"] == "DENY"
        assert reply.headers["X-Content-Type-Options"] == "nosniff"
        assert "no-store" in reply.headers["Cache-Control"]
        assert "<script>" not in await reply.text()  # no inline script anywhere
    static = await browser.get("/console/static/console.js")
    assert static.status == 200 and "no-store" not in static.headers.get("Cache-Control", "")


async def test_a_counselor_cannot_open_a_case_another_counselor_claimed_until_a_supervisor_reassigns(
    kit: Kit,
) -> None:
    mona = await kit.signed_in("mona")
    sara = await kit.signed_in("sara")
    boss = await kit.signed_in("boss", "supervisor")
    reference = kit.new_case(excerpt="zq_secret_words")
    assert (await mona.api(f"/console/cases/{reference}/claim")).status == 200

    refused = await sara.get(f"/console/cases/{reference}")
    assert refused.status == 403
    assert "zq_secret_words" not in await refused.text()
    assert (await sara.client.get(f"/console/api/cases/{reference}")).status == 403
    assert (await sara.api(f"/console/cases/{reference}/claim")).status == 403
    assert (await sara.client.get(f"/console/cases/{reference}/events")).status == 403
    sara_queue = await (await sara.client.get("/console/api/queue")).json()
    assert reference not in [row["reference"] for row in sara_queue["cases"]]
    assert (await sara.api(f"/console/cases/{reference}/reassign", {"counselor": "sara"})).status == 403

    seen = await boss.get(f"/console/cases/{reference}")  # a supervisor sees every case
    assert seen.status == 200 and "zq_secret_words" in await seen.text()
    boss_queue = await (await boss.client.get("/console/api/queue")).json()
    assert reference in [row["reference"] for row in boss_queue["cases"]]
    await boss.get(f"/console/cases/{reference}")
    moved = await boss.post(f"/console/cases/{reference}/reassign", {"counselor": "sara"})
    assert moved.status == 303

    assert (await sara.get(f"/console/cases/{reference}")).status == 200
    assert (await mona.get(f"/console/cases/{reference}")).status == 403
    assert ("boss", "reassign", reference, "mona -> sara") in actions(kit)
    assert ("sara", "open_case", reference, "refused") in actions(kit)


async def test_every_opening_claim_hand_back_and_close_is_audited(kit: Kit) -> None:
    mona = await kit.signed_in("mona")
    reference = kit.new_case()
    assert (await mona.get(f"/console/cases/{reference}")).status == 200
    assert (await mona.client.get(f"/console/api/cases/{reference}")).status == 200
    assert (await mona.post(f"/console/cases/{reference}/claim")).status == 303
    assert (await mona.post(f"/console/cases/{reference}/handback")).status == 303
    assert (await mona.post(f"/console/cases/{reference}/close", {"outcome": "referred_helpline"})).status == 303
    assert actions(kit, reference=reference) == [
        ("mona", "open_case", reference, None),
        ("mona", "open_case", reference, "api"),
        ("mona", "claim", reference, None),
        ("mona", "hand_back", reference, None),
        ("mona", "close", reference, "referred_helpline"),
    ]
    entry = kit.console.audit.entries(reference=reference)[-1]
    assert entry.at == kit.clock.now and entry.ip  # when, and from where


async def test_only_supervisors_read_the_audit_log_and_reading_it_is_audited(kit: Kit) -> None:
    mona = await kit.signed_in("mona")
    boss = await kit.signed_in("boss", "supervisor")
    reference = kit.new_case()
    await mona.get(f"/console/cases/{reference}")
    assert (await mona.get("/console/audit")).status == 403
    page = await boss.get(f"/console/audit?reference={reference}")
    assert page.status == 200
    body = await page.text()
    assert f'data-action="open_case" data-reference="{reference}" data-actor="mona"' in body
    listed = await (await boss.client.get("/console/audit", headers={"Accept": "application/json"})).json()
    assert [e["action"] for e in listed["entries"]][:2] == ["view_audit", "view_audit"]
    assert ("boss", "view_audit", reference, f"reference={reference}") in actions(kit)


async def test_the_queue_puts_urgent_cases_first_then_who_waited_longest(kit: Kit) -> None:
    mona = await kit.signed_in("mona")
    normal_old = kit.new_case("normal", "a")
    kit.clock.advance(minutes=1)
    urgent_old = kit.new_case("urgent", "b")
    kit.clock.advance(minutes=1)
    high = kit.new_case("high", "c")
    kit.clock.advance(minutes=1)
    urgent_new = kit.new_case("urgent", "d")
    closed = kit.new_case("urgent", "e")
    kit.console.handovers.release(closed, "advised")
    rows = (await (await mona.client.get("/console/api/queue")).json())["cases"]
    assert [row["reference"] for row in rows] == [urgent_old, urgent_new, high, normal_old]
    assert set(rows[0]) == {
        "reference",
        "risk",
        "opened_by",
        "status",
        "channel",
        "language",
        "audience",
        "waiting_since",
        "assignee",
        "held",
    }  # metadata only
    page = await (await mona.get("/console")).text()
    assert page.index(f'data-reference="{urgent_old}"') < page.index(f'data-reference="{normal_old}"')
    assert f'data-reference="{closed}"' not in page


async def test_arabic_by_default_and_english_on_request(kit: Kit) -> None:
    assert all(set(words) == set(LANGUAGES) for words in STRINGS.values())
    browser = await kit.browser()
    page = await (await browser.get("/console/login")).text()
    assert '<html lang="ar" dir="rtl">' in page and STRINGS["sign_in"]["ar"] in page
    switched = await browser.post("/console/language", {"lang": "en", "next": "/console/login"})
    assert switched.status == 303 and switched.headers["Location"] == "/console/login"
    page = await (await browser.get("/console/login")).text()
    assert '<html lang="en" dir="ltr">' in page and "Sign in" in page
    away = await browser.post("/console/language", {"lang": "ar", "next": "//evil.example/console"})
    assert away.headers["Location"] == "/console"  # no open redirect


async def test_what_users_wrote_is_escaped(kit: Kit) -> None:
    mona = await kit.signed_in("mona")
    reference = kit.new_case(excerpt='<script>alert("x")</script><img src=x onerror=alert(1)>')
    kit.console.handovers.add_message(reference, "user", "<b>hi</b>")
    body = await (await mona.get(f"/console/cases/{reference}")).text()
    assert "<script>alert" not in body and "<img src=x" not in body and "<b>hi</b>" not in body
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in body and "&lt;b&gt;hi&lt;/b&gt;" in body


async def test_health_and_schema(kit: Kit) -> None:
    browser = await kit.browser()
    assert (await browser.get("/console/health")).status == 200
    with kit.console.store.engine.connect() as conn:
        levels = dict(conn.execute(text("SELECT component, version FROM amaan_schema")).all())
    assert levels["console"] == 1 and levels["cases"] >= 2


async def test_canned_responses_come_in_the_cases_language_with_the_directorys_numbers(kit: Kit) -> None:
    canned = load_canned(PROJECT_ROOT / "data")
    assert [c["id"] for c in canned["ar"]] == [c["id"] for c in canned["en"]] and canned["ar"]
    assert all("{" not in c["text"] for lang in LANGUAGES for c in canned[lang])
    assert any("116111" in c["text"] for c in canned["en"])
    mona = await kit.signed_in("mona")
    reference = kit.new_case()  # an Arabic-speaking child
    await mona.api(f"/console/cases/{reference}/claim")
    page = await (await mona.get(f"/console/cases/{reference}")).text()
    assert 'data-canned-id="greeting"' in page and canned["ar"][0]["text"] in page
    assert canned["en"][0]["text"] not in page
    # System lines are shown in words, in the console's language.
    assert STRINGS["system_joined"]["ar"] in page


async def test_presence_follows_sign_in_and_sign_out(kit: Kit) -> None:
    """Runs once the hand-over's availability module (the Rasa-server side) is merged."""
    availability = pytest.importorskip("bot.cases.availability")
    mona = await kit.signed_in("mona")
    presence = availability.Presence(kit.console.store)
    assert "mona" in presence.online()
    await mona.post("/console/logout")
    assert "mona" not in presence.online()


def test_settings_a_development_key_is_kept_and_production_needs_one(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("CASE_ENCRYPTION_KEYS", generate_key())
    monkeypatch.delenv("CONSOLE_SECRET_KEY", raising=False)
    monkeypatch.setenv("AMAAN_ENV", "development")
    monkeypatch.setenv("CONSOLE_IDLE_MINUTES", "12")
    monkeypatch.setenv("HANDOVER_TOKEN", "from-env-0123456789abcdefghijklmnopqrstuv")
    monkeypatch.setenv("RASA_SERVER_URL", "http://rasa.internal:5005/")
    config = ConsoleConfig.from_settings(Settings.from_env(), tmp_path)
    assert (tmp_path / "console.key").read_text().strip() == config.secret_key
    assert oct((tmp_path / "console.key").stat().st_mode & 0o777) == "0o600"
    assert ConsoleConfig.from_settings(Settings.from_env(), tmp_path).secret_key == config.secret_key  # kept
    assert config.idle == timedelta(minutes=12) and config.secure_cookies is False
    assert (config.delivery_token, config.delivery_url) == (
        "from-env-0123456789abcdefghijklmnopqrstuv",
        "http://rasa.internal:5005",
    )

    monkeypatch.setenv("AMAAN_ENV", "production")
    with pytest.raises(ConsoleConfigError, match="CONSOLE_SECRET_KEY is required"):
        ConsoleConfig.from_settings(Settings.from_env(), tmp_path)
    monkeypatch.setenv("CONSOLE_SECRET_KEY", generate_key())
    assert ConsoleConfig.from_settings(Settings.from_env(), tmp_path).secure_cookies is True


async def test_a_failing_database_is_an_honest_503(kit: Kit) -> None:
    mona = await kit.signed_in("mona")
    with kit.console.store.engine.begin() as conn:
        conn.execute(text("DROP TABLE cases"))  # as if the database lost it
    page = await mona.get("/console")
    assert page.status == 503 and "not available" in await page.text()
    api = await mona.client.get("/console/api/queue")
    assert api.status == 503 and (await api.json()) == {"error": "database"}
