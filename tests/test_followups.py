"""Staying with the person after a disclosure, told as users live it, against the trained model and
the running servers: after each kind of disclosure, the questions that follow ("what do I do now?",
"should I tell my parents?", "I already paid", "can you delete it") get that harm's next steps in
the words of whoever is writing, in their language, never the "not sure" menu, and a counselor stays
one tap away. Then the follow-ups that keep the subject ("and on Instagram?")."""

from __future__ import annotations

from typing import Any, Dict, List

import pytest

from bot.content import ContentLibrary
from bot.next_steps import NextSteps
from bot.settings import PROJECT_ROOT
from tests.conftest import Bot, new_sender

pytestmark = pytest.mark.server

LIB = ContentLibrary.load(PROJECT_ROOT / "data")
STEPS = NextSteps.load(PROJECT_ROOT / "data")
NOT_SURE = {"en": "I'm not sure I understood", "ar": "لست متأكداً أنني فهمت"}

# (the disclosure, the questions that follow it) per harm and language.
DISCLOSURES: Dict[str, Dict[str, str]] = {
    "sextortion": {
        "en": "he is blackmailing me right now and wants money or he posts my pics",
        "ar": "واحد يهددني ينشر صوري اذا ما حولت له فلوس",
    },
    "grooming": {
        "en": "someone online keeps asking me to send him a photo of my body",
        "ar": "واحد بالنت يطلب مني صور لجسمي وقال لا تعلم اهلك",
    },
    "abuse": {
        "en": "my uncle hits me and touches me when nobody is home",
        "ar": "عمي يضربني ويلمسني لما ما يكون احد في البيت",
    },
    "self_harm": {
        "en": "i want to kill myself",
        "ar": "ابي اموت وافكر اقتل نفسي",
    },
}
FOLLOWUPS = {
    "en": ["what do i do now", "should i tell my parents?", "will i get in trouble", "i'm scared", "can you delete it"],
    "ar": ["طيب وش أسوي الحين؟", "هل أقول لأهلي؟", "بتصير علي مشكلة؟", "أنا خايف", "تقدر تحذفها؟"],
}
SEXTORTION_ONLY = {
    "en": ["i already paid him", "he says he'll post it tonight"],
    "ar": ["دفعت له خلاص", "يقول بينشرها الليلة"],
}


def texts(replies: List[Dict[str, Any]]) -> str:
    return "\n".join(r.get("text", "") for r in replies)


def payloads(replies: List[Dict[str, Any]]) -> List[str]:
    return [b["payload"] for r in replies for b in r.get("buttons") or []]


def start(bot: Bot, lang: str, audience: str) -> str:
    sender = new_sender()
    bot.say(sender, {"en": "hello", "ar": "مرحبا"}[lang])
    bot.say(sender, '/tell_audience{"audience":"%s"}' % audience)
    return sender


@pytest.mark.parametrize("lang", ["en", "ar"])
@pytest.mark.parametrize("kind", list(DISCLOSURES))
def test_after_a_disclosure_the_questions_that_follow_get_that_harms_next_steps(bot: Bot, kind: str, lang: str) -> None:
    sender = start(bot, lang, "teen")
    first = bot.say(sender, DISCLOSURES[kind][lang])
    # The crisis reply (a counselor offered) or the check-in (yes / no) came first.
    assert {"/request_human", "/affirm"} & set(payloads(first))
    steps = STEPS.steps(kind, "teen", lang)
    questions = FOLLOWUPS[lang] + (SEXTORTION_ONLY[lang] if kind == "sextortion" else [])
    for question in questions:
        replies = bot.say(sender, question)
        said = texts(replies)
        assert steps in said, f"{question!r} after {kind}: {said[:300]!r}"
        assert NOT_SURE[lang] not in said
        assert "/request_human" in payloads(replies), question  # a counselor, one tap away


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_the_question_asked_is_answered_before_the_steps(bot: Bot, lang: str) -> None:
    sender = start(bot, lang, "teen")
    bot.say(sender, DISCLOSURES["sextortion"][lang])
    said = texts(bot.say(sender, {"en": "should i tell my parents?", "ar": "هل أقول لأهلي؟"}[lang]))
    assert said.index(STEPS.answer("tell_adult", "teen", lang)) < said.index(STEPS.steps("sextortion", "teen", lang))
    said = texts(bot.say(sender, {"en": "can you delete it", "ar": "تقدر تحذفها؟"}[lang]))
    assert STEPS.answer("remove", "teen", lang) in said and "Take It Down" in said


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_a_parent_gets_the_steps_for_a_parent(bot: Bot, lang: str) -> None:
    sender = start(bot, lang, "parent")
    bot.say(sender, DISCLOSURES["sextortion"][lang])
    said = texts(bot.say(sender, {"en": "what should i do now", "ar": "وش اسوي الحين"}[lang]))
    assert STEPS.steps("sextortion", "parent", lang) in said
    assert STEPS.steps("sextortion", "teen", lang) not in said


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_are_you_safe_right_now_and_not_safe_calls_a_counselor(bot: Bot, lang: str) -> None:
    sender = start(bot, lang, "child")
    bot.say(sender, DISCLOSURES["abuse"][lang])
    replies = bot.say(sender, {"en": "what do i do now", "ar": "وش اسوي الحين"}[lang])
    assert STEPS.text("ask_safe", lang, "child") in texts(replies)
    assert {"/affirm", "/deny", "/request_human"} <= set(payloads(replies))
    replies = bot.say(sender, "/deny")  # the "not safe" button
    said = texts(replies)
    assert STEPS.text("safe_no", lang) in said and "911" in said
    # Straight on to a person: the counselor request is answered in the same turn.
    assert len(replies) >= 2


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_safe_now_is_remembered_and_not_asked_again(bot: Bot, lang: str) -> None:
    sender = start(bot, lang, "teen")
    bot.say(sender, DISCLOSURES["abuse"][lang])
    bot.say(sender, {"en": "what do i do now", "ar": "وش اسوي الحين"}[lang])
    assert STEPS.text("safe_yes", lang) in texts(bot.say(sender, "/affirm"))  # the "safe" button
    said = texts(bot.say(sender, {"en": "should i tell my parents?", "ar": "هل أقول لأهلي؟"}[lang]))
    assert STEPS.text("ask_safe", lang, "teen") not in said
    assert STEPS.text("offer", lang) in said


def test_the_issue_example_a_photo_request_then_what_should_i_do(bot: Bot) -> None:
    sender = start(bot, "en", "child")
    first = bot.say(sender, "someone online asked me for a photo")
    said = texts(bot.say(sender, "what should i do"))
    assert NOT_SURE["en"] not in said
    if {"/request_human", "/affirm"} & set(payloads(first)):  # the net heard a possible disclosure
        assert STEPS.steps("grooming", "child", "en") in said or STEPS.steps("general", "child", "en") in said
    else:  # read as a question about photos: what to do if it already happened
        assert any(LIB.followup(t, "already_happened", "child", "en") in said for t in LIB.topics)


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_what_do_i_do_without_a_disclosure_does_not_invent_one(bot: Bot, lang: str) -> None:
    sender = start(bot, lang, "teen")
    said = texts(bot.say(sender, {"en": "what do i do now", "ar": "وش اسوي الحين"}[lang]))
    for kind in ("sextortion", "grooming", "abuse", "self_harm"):
        assert STEPS.steps(kind, "teen", lang) not in said
    assert NOT_SURE[lang] not in said


BULLYING = {
    "en": ("kids at school keep posting mean stuff about me in the group chat", "what should i do"),
    "ar": ("عيال المدرسة يتنمرون علي في القروب ويكتبون كلام يضايقني", "وش أسوي؟"),
}


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_bullying_then_what_do_i_do_gets_the_bullying_steps(bot: Bot, lang: str) -> None:
    sender = start(bot, lang, "teen")
    first, then = BULLYING[lang]
    bot.say(sender, first)
    said = texts(bot.say(sender, then))
    assert STEPS.steps("bullying", "teen", lang) in said, said[:300]
    assert NOT_SURE[lang] not in said
