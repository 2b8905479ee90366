"""Counting what really happens: scripted conversations through the real Rasa server and action
server (the shared ``bot`` fixture), then a counselor answering a case, and the daily counters
compared with what the conversations' own trackers say happened. No stored row holds a word
anyone wrote, a sender id or a case reference."""

from __future__ import annotations

import time
from typing import Any, Dict, List

import pytest
from sqlalchemy import select

from bot.analytics.metrics import response_bucket
from bot.analytics.schema import COUNTS, SALTS, SKETCH, migrate_analytics
from bot.analytics.turns import FALLBACK_ACTIONS, FALLBACK_RESPONSES
from bot.cases import CaseCipher, CaseStore, Handovers
from bot.cases.crypto import dev_key
from bot.cases.desk import database_url
from bot.cases.schema import engine_for
from bot.content import ContentLibrary
from bot.settings import PROJECT_ROOT, get_settings
from tests.conftest import Bot, new_sender

pytestmark = pytest.mark.server

LIB = ContentLibrary.load(PROJECT_ROOT / "data")
AUDIENCE_BUTTON = '/tell_audience{"audience":"%s"}'
FLUSH_WAIT = get_settings().analytics_flush_seconds + 2
REPORT_ANSWERS = ["صاحبتي", "تنمر وتعليقات سيئة", "في السناب واسمه zq_count_ar", "امس", "لا", "هنا بالمحادثة"]


def snapshot(engine: Any) -> Dict[tuple, int]:
    migrate_analytics(engine)
    with engine.connect() as conn:
        return {(r.metric, r.dims): int(r.value) for r in conn.execute(select(COUNTS))}


def added(before: Dict[tuple, int], after: Dict[tuple, int]) -> Dict[tuple, int]:
    return {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}


def events_of(bot: Bot, sender: str) -> List[Dict[str, Any]]:
    return bot.tracker(sender)["events"]


def test_the_counters_equal_what_happened_and_keep_no_text_and_no_id(bot: Bot) -> None:
    engine = engine_for(database_url(get_settings(), bot.run_dir))
    time.sleep(FLUSH_WAIT)  # what earlier tests counted is written by now
    before = snapshot(engine)

    # A parent in English: a question, something not understood, a disclosure naming an app.
    parent = new_sender()
    bot.say(parent, "hello")
    bot.say(parent, AUDIENCE_BUTTON % "parent")
    advice = bot.text(parent, "what is sextortion")
    assert LIB.advice("sextortion", "parent", "en") in advice
    bot.say(parent, "xqzv blorp wibble frobnicate")
    bot.say(parent, "someone on snapchat is blackmailing me with my photos")
    # A teen in Arabic files a report.
    teen = new_sender()
    bot.say(teen, "مرحبا")
    bot.say(teen, AUDIENCE_BUTTON % "teen")
    bot.say(teen, "أبغى أبلغ")
    for answer in REPORT_ANSWERS:
        bot.say(teen, answer)
    bot.say(teen, "/affirm")

    # What the trackers say happened.
    parent_events, teen_events = events_of(bot, parent), events_of(bot, teen)
    # "I did not understand" replies (a report form's typed answers are understood by the form).
    not_understood = {
        lang: sum(
            1
            for e in events
            if (e["event"] == "bot" and (e.get("metadata") or {}).get("utter_action") in FALLBACK_RESPONSES)
            or (e["event"] == "action" and e["name"] in FALLBACK_ACTIONS - {"utter_not_sure"})
        )
        for lang, events in (("en", parent_events), ("ar", teen_events))
    }
    assert not_understood["en"] >= 1, "the gibberish was taken for something"
    kinds = [e["value"] for e in parent_events if e["event"] == "slot" and e["name"] == "danger_kind" and e["value"]]
    assert kinds, "the disclosure was caught"
    parent_case = next(
        e["value"] for e in parent_events if e["event"] == "slot" and e["name"] == "case_reference" and e["value"]
    )
    teen_case = next(
        e["value"] for e in teen_events if e["event"] == "slot" and e["name"] == "case_reference" and e["value"]
    )

    # A counselor answers the parent's case, then closes it (as the console does).
    store = CaseStore(engine, CaseCipher([dev_key(bot.run_dir)[0]]))
    handovers = Handovers(store)
    handovers.claim(parent_case, "mona")
    answer = handovers.add_message(parent_case, "counselor", "I am here with you.", "mona")
    handovers.add_message(parent_case, "counselor", "Are you safe right now?", "mona")  # not a first answer
    handovers.release(parent_case, "advised")
    store.counts.flush()
    case = store.get(parent_case)
    assert case is not None
    bucket = response_bucket((answer.at - case.created_at).total_seconds())

    expected = {
        ("conversations_started", "channel=rest;language=en;audience=unknown"): 1,
        ("conversations_started", "channel=rest;language=ar;audience=unknown"): 1,
        ("questions", "topic=sextortion;channel=rest;language=en;audience=parent"): 1,
        ("disclosures", f"kind={kinds[-1]}"): 1,
        ("disclosure_apps", "app=snapchat"): 1,
        ("cases_opened", f"risk={case.risk};origin=disclosure"): 1,
        ("cases_opened", "risk=normal;origin=report"): 1,
        ("cases_claimed", f"risk={case.risk}"): 1,
        ("cases_closed", "outcome=advised"): 1,
        ("first_response", f"risk={case.risk};bucket={bucket}"): 1,
    }
    expected.update({("fallbacks", f"channel=rest;language={lang}"): n for lang, n in not_understood.items() if n})
    deadline = time.monotonic() + 3 * FLUSH_WAIT
    while added(before, snapshot(engine)) != expected and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(FLUSH_WAIT)  # and nothing more arrives later
    assert added(before, snapshot(engine)) == expected

    # Nothing anyone wrote, no sender and no reference in any analytics row.
    with engine.connect() as conn:
        stored = " ".join(
            " ".join(str(value) for value in row)
            for table in (COUNTS, SKETCH, SALTS)
            for row in conn.execute(select(table))
        ).lower()
    for secret in (parent, teen, parent_case, teen_case, "blackmailing", "photos", "wibble", "zq_count_ar", "mona"):
        assert secret.lower() not in stored
    store.close()
