"""Who can talk to a user now: counselor presence in the case database (real SQLite and
PostgreSQL), counselors' hours, the hand-over settings, and the actions' honest answers."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import inspect

from actions.report import use_case_desk
from actions.safety import ActionDangerSupport, ActionRequestHuman
from bot.cases import CaseDesk, CaseEvents, CaseStore, CounselorNotifier, generate_key
from bot.cases.availability import ONLINE_WITHIN, Availability, CounselorHours, Presence
from bot.content import ContentLibrary
from bot.settings import PROJECT_ROOT, Settings, get_settings, handover_token, write_dev_handover_token

LIB = ContentLibrary.load(PROJECT_ROOT / "data")
RIYADH = timezone(timedelta(hours=3))


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 29, 9, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(database_url: str, clock: Clock) -> Iterator[CaseStore]:
    from bot.cases.crypto import CaseCipher
    from bot.cases.store import engine_for

    s = CaseStore(engine_for(database_url), CaseCipher([generate_key()]), clock=clock)
    s.migrate()
    yield s
    s.close()


# --- presence --------------------------------------------------------------------------------------


def test_presence_counts_whoever_was_seen_in_the_last_90_seconds(store: CaseStore, clock: Clock) -> None:
    presence = Presence(store)
    assert presence.online() == []
    presence.touch("mona")
    presence.touch("khalid")
    assert presence.online() == ["khalid", "mona"]
    clock.now += ONLINE_WITHIN - timedelta(seconds=1)
    presence.touch("mona")  # a heartbeat: the same row, later
    clock.now += timedelta(seconds=2)
    assert presence.online() == ["mona"]
    presence.leave("mona")  # signed out
    assert presence.online() == []
    presence.leave("nobody")  # harmless
    with pytest.raises(ValueError):
        presence.touch("")


def test_migration_level_3_adds_the_presence_table(store: CaseStore) -> None:
    assert "counselor_presence" in inspect(store.engine).get_table_names()


def test_availability_promises_nobody_outside_hours_or_when_nobody_is_online(store: CaseStore) -> None:
    weekdays = CounselorHours.parse("Sun-Thu 08:00-20:00", "Asia/Riyadh")
    sunday_noon = datetime(2026, 11, 29, 12, 0, tzinfo=RIYADH)
    friday_noon = datetime(2026, 11, 27, 12, 0, tzinfo=RIYADH)
    assert Availability.now(store, weekdays, sunday_noon) == Availability(True, ())
    Presence(store).touch("mona")
    assert Availability.now(store, weekdays, sunday_noon).counselor_available
    assert not Availability.now(store, weekdays, friday_noon).counselor_available
    assert not Availability.now(None, weekdays, sunday_noon).counselor_available


# --- hours -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "local", "open_"),
    [
        ("Sun-Thu 08:00-20:00", datetime(2026, 11, 29, 8, 0), True),  # Sunday, opening minute
        ("Sun-Thu 08:00-20:00", datetime(2026, 11, 29, 20, 0), False),  # closing minute
        ("Sun-Thu 08:00-20:00", datetime(2026, 11, 27, 12, 0), False),  # Friday
        ("Fri-Sun 10:00-12:00", datetime(2026, 11, 30, 11, 0), False),  # Monday: the range wraps to Sunday only
        ("Fri-Sun 10:00-12:00", datetime(2026, 11, 29, 11, 0), True),
        ("Thu 22:00-06:00", datetime(2026, 11, 27, 5, 59), True),  # overnight, into Friday morning
        ("Thu 22:00-06:00", datetime(2026, 11, 26, 21, 0), False),
        ("sun-thu 08:00-14:00; Sat 16:00-24:00", datetime(2026, 11, 28, 23, 59), True),
        ("Sun-Sat 00:00-24:00", datetime(2026, 11, 28, 3, 0), True),
    ],
)
def test_hours_are_read_in_the_counselors_time_zone(spec: str, local: datetime, open_: bool) -> None:
    hours = CounselorHours.parse(spec, "Asia/Riyadh")
    assert hours.open_at(local.replace(tzinfo=RIYADH)) is open_
    assert hours.open_at(local.replace(tzinfo=RIYADH).astimezone(timezone.utc)) is open_


def test_hours_are_described_in_both_languages() -> None:
    hours = CounselorHours.parse("Sun-Thu 08:00-20:00", "Asia/Riyadh")
    assert hours.describe("en") == "Sunday to Thursday, 08:00-20:00 (Riyadh time)"
    assert hours.describe("ar") == "من الأحد إلى الخميس، من 08:00 إلى 20:00 (بتوقيت الرياض)"
    always = CounselorHours.parse(Settings.counselor_hours, Settings.counselor_timezone)
    assert always.always and always.describe("en") == "every day, around the clock"


@pytest.mark.parametrize(
    "spec", ["", "weekdays 8-20", "Sun-Thu 08:00", "Sun-Xyz 08:00-20:00", "Sun 25:00-26:00", "Sun 08:00-08:00"]
)
def test_bad_hours_are_refused(spec: str) -> None:
    with pytest.raises(ValueError, match="COUNSELOR_HOURS"):
        CounselorHours.parse(spec, "Asia/Riyadh")


def test_settings_check_hours_zone_and_token_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COUNSELOR_HOURS", "Sun-Thu 9:00-17:00")
    monkeypatch.setenv("COUNSELOR_TIMEZONE", "Asia/Dubai")
    monkeypatch.setenv("PORT", "5099")
    settings = Settings.from_env()
    assert (settings.counselor_hours, settings.counselor_timezone) == ("Sun-Thu 9:00-17:00", "Asia/Dubai")
    assert settings.rasa_server_url == "http://localhost:5099"
    monkeypatch.setenv("COUNSELOR_TIMEZONE", "Mars/Olympus")
    with pytest.raises(ValueError, match="COUNSELOR_TIMEZONE"):
        Settings.from_env()
    monkeypatch.delenv("COUNSELOR_TIMEZONE")
    monkeypatch.setenv("HANDOVER_TOKEN", "short")
    with pytest.raises(ValueError, match="HANDOVER_TOKEN"):
        Settings.from_env()


def test_the_handover_token_comes_from_the_environment_or_the_dev_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HANDOVER_TOKEN", "AMAAN_ENV"):
        monkeypatch.delenv(name, raising=False)
    assert handover_token(Settings.from_env(), tmp_path) is None
    path = write_dev_handover_token(tmp_path)
    assert path.stat().st_mode & 0o077 == 0, "readable by its owner only"
    token = handover_token(Settings.from_env(), tmp_path)
    assert token and len(token) >= 32 and write_dev_handover_token(tmp_path).read_text() == token
    monkeypatch.setenv("AMAAN_ENV", "production")
    assert handover_token(Settings.from_env(), tmp_path) is None, "production never uses the dev file"
    monkeypatch.setenv("HANDOVER_TOKEN", "p" * 40)
    assert handover_token(Settings.from_env(), tmp_path) == "p" * 40


# --- the actions' answers --------------------------------------------------------------------------


def tracker(intent: str, slots: Dict[str, Any], entities: Optional[List[Dict[str, Any]]] = None) -> Tracker:
    return Tracker(
        sender_id="avail-" + intent,
        slots=slots,
        latest_message={"text": "", "intent": {"name": intent, "confidence": 0.9}, "entities": entities or []},
        events=[],
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )


@pytest.fixture
def desk(database_url: str) -> Iterator[CaseDesk]:
    made = CaseDesk(CaseStore.from_url(database_url, [generate_key()]), CaseEvents(None), CounselorNotifier(None, None))
    use_case_desk(made)
    yield made
    use_case_desk(None)
    made.close()


def closed_now() -> str:
    """Hours that exclude the present moment, whatever day and time the test runs."""
    now = datetime.now(timezone.utc).astimezone(RIYADH)
    start = (now + timedelta(hours=2)).strftime("%H:00")
    end = (now + timedelta(hours=3)).strftime("%H:00")
    day = now.strftime("%a")
    return f"{day} {start}-{end}" if start < end else f"{day} 01:00-02:00"


@pytest.mark.parametrize("lang", ["en", "ar"])
async def test_outside_hours_talk_to_a_person_gives_helplines_and_hours(
    desk: CaseDesk, lang: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = closed_now()
    monkeypatch.setenv("COUNSELOR_HOURS", spec)
    get_settings.cache_clear()
    assert desk.store is not None
    Presence(desk.store).touch("mona")  # signed in, but it is not their hours
    dispatcher = CollectingDispatcher()
    events = await ActionRequestHuman().run(dispatcher, tracker("request_human", {"language": lang}), {})
    reference = next(e for e in events if e["name"] == "case_reference")["value"]
    hours = CounselorHours.parse(spec, "Asia/Riyadh").describe(lang)
    expected = LIB.message("request_human_after_hours", lang).replace("<reference>", reference)
    assert dispatcher.messages[0]["text"] == expected.replace("<hours>", hours)
    assert "116111" in dispatcher.messages[0]["text"] and hours in dispatcher.messages[0]["text"]
    assert desk.store.contents(reference)["counselor_requested_at"], "the case waits in the queue all the same"


@pytest.mark.parametrize(("online", "key"), [(True, "counselor_offer"), (False, "counselor_offer_unavailable")])
async def test_the_danger_net_offers_a_counselor_honestly(desk: CaseDesk, online: bool, key: str) -> None:
    assert desk.store is not None
    if online:
        Presence(desk.store).touch("mona")
    t = tracker(
        "disclose_harm",
        {"language": "ar", "audience": "teen"},
        [{"entity": "danger_kind", "value": "blackmail", "extractor": "DangerNet:net"}],
    )
    dispatcher = CollectingDispatcher()
    await ActionDangerSupport().run(dispatcher, t, {})
    offer = dispatcher.messages[-1]
    expected = LIB.message(key, "ar").replace("<hours>", CounselorHours.parse(Settings.counselor_hours).describe("ar"))
    assert offer["text"].endswith(expected)
    assert [b["payload"] for b in offer["buttons"]] == ["/request_human", "/deny"]
