"""The check-in, told as users live it, against the trained model and the running servers: a message
that may disclose harm but may just as well be an ordinary question gets the helplines and one
question, and no case; "yes" makes it a disclosure with an urgent case marked as a confirmed
check-in; "no" gets the answer; a clear disclosure still gets the crisis reply and a case at once.
On REST, Telegram, WhatsApp and the web widget, in Arabic and English."""

from __future__ import annotations

from typing import Any, Dict, Iterator, List, Optional

import pytest

from bot.cases import CaseStore
from bot.cases.desk import case_keys, database_url
from bot.cases.reference import find_references
from bot.cases.store import Conversation
from bot.content import TOPICS, ContentLibrary
from bot.settings import PROJECT_ROOT, Settings
from tests.conftest import Bot, new_sender

pytestmark = pytest.mark.server

LIB = ContentLibrary.load(PROJECT_ROOT / "data")
# A lexicon hit framed as a general question: always a check-in, whatever the classifiers say.
POSSIBLE = {
    "en": "what should a teen do if someone is blackmailing them",
    "ar": "لو احد يبتزني بصوري وش اسوي؟ سؤال عام",
}
CLEAR = {
    "en": "he is blackmailing me right now and wants money for my pics",
    "ar": "واحد يبتزني بصوري ويبي فلوس الحين",
}
# A general question the classifier is sure asks about sextortion (0.62 in Arabic): checked in on
# and answered at once. (POSSIBLE's Arabic, in the first person, leaves the topic to "no".)
GENERAL = {
    "en": POSSIBLE["en"],
    "ar": "ماذا يفعل المراهق إذا ابتزه شخص بصوره؟ سؤال عام",
}
HELLO = {"en": "hello", "ar": "مرحبا"}
YES_TYPED = {"en": "yes", "ar": "ايوه"}


@pytest.fixture(scope="module")
def cases(bot: Bot) -> Iterator[CaseStore]:
    """The running servers' case store (SQLite in their run directory, their development key)."""
    assert bot.run_dir is not None
    store = CaseStore.from_url(database_url(Settings(), bot.run_dir), case_keys(Settings(), bot.run_dir))
    yield store
    store.close()


def texts(replies: List[Dict[str, Any]]) -> str:
    return "\n".join(r.get("text", "") for r in replies)


def payloads(replies: List[Dict[str, Any]]) -> List[str]:
    return [b["payload"] for r in replies for b in r.get("buttons") or []]


def start(bot: Bot, lang: str) -> str:
    sender = new_sender()
    bot.say(sender, HELLO[lang])
    bot.say(sender, '/tell_audience{"audience":"teen"}')
    return sender


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_a_possible_disclosure_gets_the_helplines_and_a_question_and_no_case(
    bot: Bot, cases: CaseStore, lang: str
) -> None:
    sender = start(bot, lang)
    replies = bot.say(sender, POSSIBLE[lang])
    assert replies[0]["text"] == LIB.message("danger_check_in", lang, "teen")
    assert "911" in replies[0]["text"] and "116111" in replies[0]["text"]
    assert [b["title"] for b in replies[0]["buttons"]] == [
        LIB.message("button_check_in_yes", lang),
        LIB.message("button_check_in_no", lang),
    ]
    assert LIB.message("danger_support", lang, "teen") not in texts(replies)
    assert cases.cases_of(Conversation("rest", sender)) == []


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_yes_to_the_check_in_opens_an_urgent_case_marked_as_a_confirmed_check_in(
    bot: Bot, cases: CaseStore, lang: str
) -> None:
    sender = start(bot, lang)
    bot.say(sender, POSSIBLE[lang])
    replies = bot.say(sender, "/affirm")  # the "yes" button
    assert replies[0]["text"] == LIB.message("danger_support", lang, "teen")
    [case] = cases.cases_of(Conversation("rest", sender))
    assert case.risk == "urgent" and case.opened_by == "check_in"
    assert case.reference in texts(replies)
    contents = cases.contents(case.reference)
    assert contents["disclosures"][0] == {**contents["disclosures"][0], "kind": "blackmail", "source": "check_in"}
    assert POSSIBLE[lang] in contents["excerpts"][0]["text"]  # what the check-in asked about, encrypted


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_a_typed_yes_confirms_too(bot: Bot, cases: CaseStore, lang: str) -> None:
    sender = start(bot, lang)
    bot.say(sender, POSSIBLE[lang])
    assert bot.say(sender, YES_TYPED[lang])[0]["text"] == LIB.message("danger_support", lang, "teen")
    assert [c.opened_by for c in cases.cases_of(Conversation("rest", sender))] == ["check_in"]


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_no_to_the_check_in_answers_the_question_and_opens_nothing(bot: Bot, cases: CaseStore, lang: str) -> None:
    sender = start(bot, lang)
    bot.say(sender, POSSIBLE[lang])
    replies = bot.say(sender, "/deny")  # the "no" button
    answers = [LIB.advice(topic, "teen", lang) for topic in TOPICS] + [LIB.message("check_in_declined", lang)]
    assert replies[0]["text"] in answers
    assert cases.cases_of(Conversation("rest", sender)) == []
    # The check-in is closed: a later "yes" is an ordinary yes, not a disclosure.
    bot.say(sender, "/affirm")
    assert cases.cases_of(Conversation("rest", sender)) == []


# The same question on an app: the advice comes with that app's reporting steps (before 2026-12-08
# they waited for "no").
ON_AN_APP = {
    "en": "what should a teen do if someone is blackmailing them on snapchat",
    "ar": "ماذا يفعل المراهق إذا ابتزه شخص بصوره في سناب شات؟ سؤال عام",
}


def report_steps(app: str, lang: str) -> str:
    """The reporting steps that follow a topic's advice when the question names ``app``."""
    from actions.apps import app_name, guides

    heading = str(guides().messages["report_with_topic"][lang]).replace("<app>", app_name(app, lang))
    return f"{heading}\n{guides().section(app, 'report', lang)}"


@pytest.mark.parametrize("lang", ["en", "ar"])
@pytest.mark.parametrize(("said", "app"), [(GENERAL, None), (ON_AN_APP, "snapchat")], ids=["general", "on_an_app"])
def test_a_check_in_on_a_question_also_answers_it_and_no_does_not_repeat_it(
    bot: Bot, cases: CaseStore, lang: str, said: Dict[str, str], app: Optional[str]
) -> None:
    """The general blackmail question is checked in on and answered at once (the classifier is
    sure enough it asks about sextortion), with an app's reporting steps when it names one; the
    check-in's buttons stay the only ones, and no case is opened."""
    sender = start(bot, lang)
    replies = bot.say(sender, said[lang])
    advice = LIB.advice("sextortion", "teen", lang)
    answer = [advice] + ([report_steps(app, lang)] if app else [])
    assert [r["text"] for r in replies] == [LIB.message("danger_check_in", lang, "teen"), *answer]
    assert "buttons" not in replies[1] or not replies[1]["buttons"]
    assert payloads(replies) == ["/affirm", "/deny"]
    assert cases.cases_of(Conversation("rest", sender)) == []
    declined = bot.say(sender, "/deny")
    assert declined[0]["text"] == LIB.message("check_in_declined", lang)
    for part in answer:  # the advice, and the app's steps: not again
        assert part not in texts(declined)


# Everyday talk about family that DIET and the scorer both read as a sure disclosure (the crisis reply
# and an urgent case before 2026-12-07): someone close named, no sign of harm, so a check-in.
FAMILY = {"en": "my uncle promised to teach me to drive this summer", "ar": "اخوي الكبير بيجيبني من المدرسه"}


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_everyday_family_talk_gets_a_check_in_and_no_case(bot: Bot, cases: CaseStore, lang: str) -> None:
    sender = start(bot, lang)
    replies = bot.say(sender, FAMILY[lang])
    assert replies[0]["text"] == LIB.message("danger_check_in", lang, "teen")
    assert LIB.message("danger_support", lang, "teen") not in texts(replies)
    assert cases.cases_of(Conversation("rest", sender)) == []


# Framed as a general question, read as a disclosure by neither DIET nor the lexicon, and by the
# scorer only above its lower, hedged threshold (config.yml: scorer_hedged_threshold).
HEDGED = {
    "en": "asking for a friend, if someones older cousin does weird stuff when they sleep over is that normal",
    "ar": "مجرد سؤال، لو حد عمه بيضايقه كل ما يكونوا لوحدهم يعمل ايه؟",
}


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_a_hedged_disclosure_gets_the_check_in_and_yes_opens_an_urgent_case(
    bot: Bot, cases: CaseStore, lang: str
) -> None:
    sender = start(bot, lang)
    replies = bot.say(sender, HEDGED[lang])
    assert replies[0]["text"] == LIB.message("danger_check_in", lang, "teen")
    assert cases.cases_of(Conversation("rest", sender)) == []
    bot.say(sender, "/affirm")  # the "yes" button
    [case] = cases.cases_of(Conversation("rest", sender))
    assert case.risk == "urgent" and case.opened_by == "check_in"


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_a_clear_disclosure_still_gets_the_crisis_reply_and_a_case_at_once(
    bot: Bot, cases: CaseStore, lang: str
) -> None:
    sender = start(bot, lang)
    replies = bot.say(sender, CLEAR[lang])
    assert replies[0]["text"] == LIB.message("danger_support", lang, "teen")
    [case] = cases.cases_of(Conversation("rest", sender))
    assert case.risk == "urgent" and case.opened_by == "disclosure"
    assert payloads(replies)[0] == "/request_human"


# Pressure and planned meetings (the net's coercion and meeting kinds): the grooming first reply.
PRESSURE = {
    "en": "a man from roblox wants me to meet him at the mall on saturday and not tell my parents",
    "ar": "خطيبي يبي الباسورد حق كل حساباتي ويقول بيتركني اذا رفضت",
}


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_pressure_or_a_planned_meeting_gets_its_own_first_reply_and_a_case(
    bot: Bot, cases: CaseStore, lang: str
) -> None:
    """Not the blackmail advice ("don't pay") but "you never have to do what they ask", "don't meet"."""
    sender = start(bot, lang)
    replies = bot.say(sender, PRESSURE[lang])
    assert replies[0]["text"] == LIB.message("danger_support_grooming", lang, "teen")
    assert {"en": "pay", "ar": "تدفع"}[lang] not in replies[0]["text"]
    [case] = cases.cases_of(Conversation("rest", sender))
    # A planned meeting is high (bot/cases/triage.py: there is time to act before it); coercion urgent.
    assert case.risk == {"en": "high", "ar": "urgent"}[lang] and case.opened_by == "disclosure"


def test_a_second_possible_disclosure_after_the_check_in_is_a_disclosure(bot: Bot, cases: CaseStore) -> None:
    sender = start(bot, "en")
    bot.say(sender, POSSIBLE["en"])
    replies = bot.say(sender, "what should someone do if a man from a game keeps blackmailing them for pics")
    assert replies[0]["text"] == LIB.message("danger_support", "en", "teen")
    assert [c.opened_by for c in cases.cases_of(Conversation("rest", sender))] == ["check_in"]


# --- on the phone channels and the widget ------------------------------------------------------------


async def test_telegram_check_in_buttons_and_yes(channel_env: None, agent: Any, cases: CaseStore) -> None:
    from channels.telegram import TelegramInput
    from tests.channel_app import RecordingTelegram, TelegramUser, serve

    recorder = RecordingTelegram()
    channel = TelegramInput(request=recorder)
    async with serve(agent[0], [channel]) as served:
        user = TelegramUser(served, channel, recorder, "ar")
        await user.say("/start")
        replies = await user.say(POSSIBLE["ar"])
        assert "911" in replies[0]["text"]
        _, buttons = user.last_keyboard()
        assert [b["text"] for b in buttons] == [
            LIB.message("button_check_in_yes", "ar"),
            LIB.message("button_check_in_no", "ar"),
        ]
        assert cases.cases_of(Conversation("telegram", user.sender_id)) == []
        confirmed = await user.tap(LIB.message("button_check_in_yes", "ar"))
        assert "116111" in "\n".join(m["text"] for m in confirmed)
        assert [c.opened_by for c in cases.cases_of(Conversation("telegram", user.sender_id))] == ["check_in"]


async def test_whatsapp_check_in_as_numbered_choices(channel_env: None, agent: Any, cases: CaseStore) -> None:
    from channels.whatsapp import WhatsAppInput
    from tests.channel_app import RecordingTwilioHttp, WhatsAppUser, serve

    made: List[RecordingTwilioHttp] = []

    def http_client() -> RecordingTwilioHttp:
        made.append(RecordingTwilioHttp())
        return made[-1]

    channel = WhatsAppInput(http_client=http_client)
    async with serve(agent[0], [channel]) as served:
        user = WhatsAppUser(served, channel, made[0])
        await user.say(HELLO["en"])
        said = "\n".join(await user.say(POSSIBLE["en"]))
        assert "911" in said
        assert f"1. {LIB.message('button_check_in_yes', 'en')}" in said
        assert f"2. {LIB.message('button_check_in_no', 'en')}" in said
        assert cases.cases_of(Conversation("whatsapp", user.sender_id)) == []
        confirmed = "\n".join(await user.say("1"))
        assert "116111" in confirmed
        assert [c.opened_by for c in cases.cases_of(Conversation("whatsapp", user.sender_id))] == ["check_in"]


async def test_web_widget_check_in_and_yes(bot: Bot, cases: CaseStore) -> None:
    from tests.test_web_channel import widget

    async with widget(bot.base_url) as w:
        await w.session()
        await w.say(HELLO["en"], lang="en")
        asked = await w.say(POSSIBLE["en"])
        assert "911" in texts(asked)
        yes = next(b["payload"] for m in asked for b in m.get("buttons") or [] if b["payload"] == "/affirm")
        confirmed = await w.say(yes)
        references = find_references(texts(confirmed))
        assert references, texts(confirmed)
        case = cases.get(references[-1])
        assert case is not None and case.opened_by == "check_in" and case.channel == "web"
