"""Long messages read sentence by sentence (bot.nlu.sentences), against the trained model: a
paragraph whose question comes after a story gets the topic of its question; the safety net's
readings and short messages are left alone."""

from __future__ import annotations

import pytest

from bot.content import TOPIC_INTENTS, ContentLibrary
from bot.nlu.sentences import asks, sentences
from bot.settings import PROJECT_ROOT
from tests.conftest import Bot, new_sender

LIB = ContentLibrary.load(PROJECT_ROOT / "data")
AUDIENCES = (None, "child", "teen", "parent", "educator")  # who is asking is not told here

# Written for this test (not from any evaluation set). Without the component the model read the
# first as image sharing (0.47) and the second as privacy (0.57).
LONG = [
    (
        "ok so long story but my cousin visited and we were all on the sofa laughing at old videos and "
        "then it got late. anyway how long should a 9 year old be on the ipad each day?",
        "ask_screen_habits",
    ),
    (
        "So I'm a dad of two, work long shifts, my wife handles most of this stuff but she's travelling. "
        "Quick one though: can I see what apps my son downloads from my own phone?",
        "ask_parental_controls",
    ),
]


def test_sentences_splits_on_stops_and_keeps_three_words_or_more() -> None:
    assert sentences("Hi. My son is 9 and loves games. Is Roblox ok?") == [
        "My son is 9 and loves games.",
        "Is Roblox ok?",
    ]
    assert sentences("بس سؤال. ولدي عمره ٩ ويحب الالعاب؟ هل روبلوكس مناسب له؟") == [
        "ولدي عمره ٩ ويحب الالعاب؟",
        "هل روبلوكس مناسب له؟",
    ]


@pytest.mark.server
@pytest.mark.parametrize("text, topic", LONG)
def test_a_long_message_gets_the_answer_to_its_question(bot: Bot, text: str, topic: str) -> None:
    """The question is answered. A story before it may make the model wonder (the first reads as a
    possible disclosure): then the check-in comes first, and the answer with it or, when the model
    was not sure what was asked, after "no"; never twice."""
    sender = new_sender()
    replies = bot.say(sender, text)
    advice = {LIB.advice(TOPIC_INTENTS[topic], a, "en") for a in AUDIENCES}
    intent = bot.tracker(sender)["latest_message"]["intent"]["name"]
    if intent == topic:
        assert advice & {r.get("text") for r in replies}
        return
    assert intent == "possible_disclosure"
    check_in = {LIB.message("danger_check_in", "en", a) for a in AUDIENCES}
    assert check_in & {r.get("text") for r in replies}
    declined = bot.say(sender, "/deny")
    assert len([r for r in replies + declined if r.get("text") in advice]) == 1


def test_asks_knows_a_question_by_its_mark_or_its_first_word() -> None:
    assert asks("how long should a 9 year old be on the ipad each day")
    assert asks("Any tips for a long car ride")
    assert asks("My son is 12, is Roblox ok?")
    assert asks("كيف اشغل الرقابه الابويه")
    assert asks("ezay a2fel el location men el snap")
    assert not asks("my uncle ties my hands when he punishes me")
    assert not asks("عمي يربط يدي لما يعاقبني")


# A story of harm to someone else, then a question: the check-in (the helplines), and the answer to
# the question with it. DIET read the story and was unsure what was asked (English 0.05, Arabic
# 0.0005, below what a check-in answers): the question's sentence decides. Written for this test.
STORY_THEN_QUESTION = {
    "en": (
        "My niece stayed with us and told us about a girl in her class who was sent horrible messages by a "
        "stranger until she cried, it upset all of us. My daughter is only ten. How long should a ten year "
        "old spend on a tablet each day?"
    ),
    "ar": (
        "بعد العشا جلسنا نسولف وبنت اختي قالت ان وحده في مدرستها طلب منها واحد غريب صور، والموضوع ضايقنا "
        "كلنا. بنتي عمرها عشر سنين، بس ابي اعرف كم ساعه تقعد على الايباد في اليوم؟"
    ),
}


@pytest.mark.server
@pytest.mark.parametrize("lang", ["en", "ar"])
def test_a_check_in_on_a_long_message_also_answers_its_question(bot: Bot, lang: str) -> None:
    sender = new_sender()
    replies = bot.say(sender, STORY_THEN_QUESTION[lang])
    assert bot.tracker(sender)["latest_message"]["intent"]["name"] == "possible_disclosure"
    assert bot.tracker(sender)["slots"]["audience"] == "parent"  # "my daughter": a parent
    texts = [r.get("text") for r in replies]
    at = texts.index(LIB.message("danger_check_in", lang, "parent"))  # after the first-contact notice
    advice = LIB.advice("screen_habits", "parent", lang)
    assert texts[at + 1] == advice
    assert not replies[at + 1].get("buttons")  # the check-in's yes/no stay the only buttons
    declined = bot.say(sender, "/deny")
    assert advice not in [r.get("text") for r in declined]


@pytest.mark.server
def test_a_long_disclosure_keeps_the_crisis_reply(bot: Bot) -> None:
    sender = new_sender()
    text = (
        "we just moved house and my new school is ok i guess. but my stepdad comes into my room at night "
        "and touches me and says nobody will believe me. how long should i be on my phone at night?"
    )
    bot.say(sender, text)
    assert bot.tracker(sender)["latest_message"]["intent"]["name"] == "disclose_harm"
