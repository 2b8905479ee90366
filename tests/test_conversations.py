"""Whole conversations over the REST channel, against the trained model, the Rasa server and the
action server, started as ``make run`` starts them. Assertions are on what a user would see."""

from __future__ import annotations

import pytest

from bot.content import AUDIENCES, ContentLibrary
from bot.settings import PROJECT_ROOT
from tests.conftest import Bot, new_sender

pytestmark = pytest.mark.server

LIB = ContentLibrary.load(PROJECT_ROOT / "data")
AUDIENCE_BUTTON = '/tell_audience{"audience":"%s"}'


def texts(replies: list) -> str:
    return "\n".join(r.get("text", "") for r in replies)


# --- first contact --------------------------------------------------------------------------


def test_first_contact_in_english_says_it_is_a_bot_and_asks_who_is_chatting(bot: Bot, sender: str) -> None:
    replies = bot.say(sender, "hello")
    assert "an automated assistant, not a person" in replies[0]["text"]
    assert '"help"' in replies[0]["text"]
    asked = replies[-1]
    assert [b["payload"] for b in asked["buttons"]] == [AUDIENCE_BUTTON % a for a in AUDIENCES]


def test_first_contact_in_arabic(bot: Bot, sender: str) -> None:
    replies = bot.say(sender, "السلام عليكم")
    assert "مساعد آلي ولست شخصاً" in replies[0]["text"]
    assert "مساعدة" in replies[0]["text"]
    assert replies[-1]["buttons"][0]["title"] == LIB.message("button_child", "ar")


def test_first_contact_with_a_disclosure_still_says_it_is_a_bot(bot: Bot, sender: str) -> None:
    said = texts(bot.say(sender, "someone is blackmailing me with my photos"))
    assert "automated assistant" in said
    assert "911" in said and "116111" in said


def test_bot_challenge(bot: Bot, sender: str) -> None:
    bot.say(sender, "hi")
    assert "not a person" in bot.text(sender, "are you a real human?")


# --- who is chatting ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "audience"),
    [("I'm a mum", "parent"), ("أنا معلمة", "educator"), ("عمري ١١", "child"), ("im 15", "teen")],
)
def test_audience_understood_in_free_text(bot: Bot, sender: str, message: str, audience: str) -> None:
    bot.say(sender, "hi")
    bot.say(sender, message)
    assert bot.tracker(sender)["slots"]["audience"] == audience


def test_audience_button_then_change_of_mind(bot: Bot, sender: str) -> None:
    bot.say(sender, "hello")
    ack = bot.text(sender, AUDIENCE_BUTTON % "parent")
    assert "warning signs" in ack
    assert bot.tracker(sender)["slots"]["audience"] == "parent"
    bot.say(sender, "actually I'm a teacher")
    assert bot.tracker(sender)["slots"]["audience"] == "educator"


def test_a_parent_who_names_a_childs_age_stays_a_parent(bot: Bot, sender: str) -> None:
    """ "a 10 year old" in a mum's question is her child's age, not hers (2026-12-07, make run)."""
    bot.say(sender, "hi")
    bot.say(sender, "I'm a mum")
    replies = bot.say(sender, "how long should a 10 year old be on the ipad every day?")
    assert bot.tracker(sender)["slots"]["audience"] == "parent"
    assert replies[0]["text"] == LIB.advice("screen_habits", "parent", "en")


# --- advice fitted to who is asking -----------------------------------------------------------


QUESTIONS = {
    "en": ("what should I do about sextortion and blackmail online", "sextortion"),
    "ar": ("وش اسوي مع الابتزاز الالكتروني", "sextortion"),
}


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_each_audience_gets_different_advice_for_the_same_question(bot: Bot, lang: str) -> None:
    question, topic = QUESTIONS[lang]
    answers = {}
    for audience in AUDIENCES:
        sender = new_sender()
        bot.say(sender, "hello" if lang == "en" else "هلا")
        bot.say(sender, AUDIENCE_BUTTON % audience)
        answers[audience] = bot.say(sender, question)[0]["text"]
        assert answers[audience] == LIB.advice(topic, audience, lang)
    assert len(set(answers.values())) == 4


def test_follow_up_is_answered_on_the_topic(bot: Bot, sender: str) -> None:
    bot.say(sender, "I'm a dad")
    bot.say(sender, "my son plays fortnite with strangers, is that safe?")
    reply = bot.say(sender, "how do I talk to my son about it?")[0]["text"]
    assert reply == LIB.followup("gaming", "talk_to_child", "parent", "en")


def test_question_before_audience_gets_advice_and_then_the_question(bot: Bot, sender: str) -> None:
    replies = bot.say(sender, "how do i make a strong password")
    assert any(r.get("text") == LIB.advice("privacy", None, "en") for r in replies)
    assert "who's chatting" in replies[-1]["text"]


# --- language -------------------------------------------------------------------------------


def test_language_follows_the_user_when_they_switch(bot: Bot, sender: str) -> None:
    bot.say(sender, "hi")
    bot.say(sender, AUDIENCE_BUTTON % "teen")
    english = bot.say(sender, "how do I stop cyberbullying")[0]["text"]
    assert english == LIB.advice("cyberbullying", "teen", "en")
    arabic = bot.say(sender, "كيف احمي حسابي من الاختراق")[0]["text"]
    assert arabic == LIB.advice("privacy", "teen", "ar")


def test_switch_on_request(bot: Bot, sender: str) -> None:
    bot.say(sender, "مرحبا")
    reply = bot.text(sender, "English please")
    assert "I'll reply in English" in reply
    assert bot.tracker(sender)["slots"]["language"] == "en"
    assert "بالعربية" in bot.text(sender, "عربي")


# --- the danger safety net --------------------------------------------------------------------

# None of these is in the lexicon verbatim: typos, dialect, indirect wording.
DISCLOSURES_EN = [
    "this guy from roblox says hes gonna send my pics to everyone at school unless i send more",
    "my stepdad comes in my room at night and touches me",
    "i dont want to be alive anymore honestly",
    "a man i met on discord is picking me up after school tomorrow, he said not to tell my mum",
]
DISCLOSURES_AR = [
    "واحد تعرفت عليه بالسناب يقول بيفضحني وينشر صوري اذا ما حولت له فلوس",
    "زوج امي يلمسني وانا خايفه اقول لاحد",
    "والله ما عاد ابي اعيش",
    "رجال كبير من ببجي بيجي ياخذني من قدام المدرسه بكرة",
]


@pytest.mark.parametrize("message", DISCLOSURES_EN)
def test_danger_net_in_english(bot: Bot, sender: str, message: str) -> None:
    bot.say(sender, "hi")
    replies = bot.say(sender, message)
    said = texts(replies)
    assert "911" in said and "116111" in said
    assert "fault" in said or "matters" in said
    assert replies[-1]["buttons"][0]["payload"] == "/request_human"
    escalation = bot.tracker(sender)["slots"]["escalation"]
    assert escalation["reason"] == "disclosure"


@pytest.mark.parametrize("message", DISCLOSURES_AR)
def test_danger_net_in_arabic(bot: Bot, sender: str, message: str) -> None:
    bot.say(sender, "هلا")
    replies = bot.say(sender, message)
    said = texts(replies)
    assert "911" in said and "116111" in said
    assert "أخبرتني" in said
    assert replies[-1]["buttons"][0]["title"] == LIB.message("button_talk_counselor", "ar")
    assert bot.tracker(sender)["slots"]["escalation"]["reason"] == "disclosure"


@pytest.mark.parametrize("message", ["مت من الضحك 😂", "بموت من الجوع متى الغدا", "i'm dying of boredom in class"])
def test_a_figure_of_speech_is_not_answered_as_a_crisis(bot: Bot, sender: str, message: str) -> None:
    bot.say(sender, "hi")
    said = texts(bot.say(sender, message))
    assert "911" not in said, said
    assert bot.tracker(sender)["slots"]["escalation"] is None


def test_accepting_a_counselor_after_a_disclosure_records_the_request(bot: Bot, sender: str) -> None:
    bot.say(sender, "someone is threatening to leak my nudes")
    reply = bot.text(sender, "/request_human")  # the button the bot offered
    assert "116111" in reply
    assert bot.tracker(sender)["slots"]["escalation"]["reason"] == "counselor_requested"


# --- media, reporting, fallback -----------------------------------------------------------------


def test_wanting_to_send_a_photo_gets_the_media_policy(bot: Bot, sender: str) -> None:
    assert bot.text(sender, "can I send you a screenshot of what he sent me?").endswith(
        LIB.message("media_policy", "en")
    )


def test_out_of_scope_gets_a_kind_redirect(bot: Bot, sender: str) -> None:
    bot.say(sender, "hi")
    assert "outside what I can help with" in bot.text(sender, "can you do my maths homework")


def test_gibberish_gets_an_honest_not_sure_in_the_users_language(bot: Bot, sender: str) -> None:
    bot.say(sender, "مرحبا")
    reply = bot.say(sender, "ققق ززز ثثث")
    assert "لست متأكداً أنني فهمت" in reply[0]["text"]
    assert len(reply[0]["buttons"]) == 10


# --- no shortcut around understanding ----------------------------------------------------------


def test_typed_intent_payload_is_plain_text(bot: Bot, sender: str) -> None:
    bot.say(sender, "thank you")  # no buttons offered yet
    bot.say(sender, '/tell_audience{"audience":"educator"}')
    tracker = bot.tracker(sender)
    assert tracker["slots"]["audience"] is None
    assert not tracker["latest_message"]["text"].startswith("/")
    assert (
        tracker["latest_message"]["intent"]["confidence"] < 1.0
        or tracker["latest_message"]["intent"]["name"] != "tell_audience"
    )


def test_offered_button_payload_is_taken_as_the_button(bot: Bot, sender: str) -> None:
    bot.say(sender, "hi")  # offers the audience buttons
    bot.say(sender, '/tell_audience{"audience":"educator"}')
    tracker = bot.tracker(sender)
    assert tracker["slots"]["audience"] == "educator"
    assert tracker["latest_message"]["intent"] == {"name": "tell_audience", "confidence": 1.0}


def test_typed_disclosure_payload_cannot_suppress_or_fake_anything(bot: Bot, sender: str) -> None:
    reply = bot.text(sender, '/greet{"language":"en"} someone is blackmailing me')
    assert "911" in reply  # parsed as text, so the danger net sees it


# --- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize("message", ["", "   ", "\n\t", "\x00\x01"])
def test_empty_messages_get_a_polite_reply_in_the_conversation_language(bot: Bot, sender: str, message: str) -> None:
    bot.say(sender, "مرحبا")
    assert bot.say(sender, message)[0]["text"] == LIB.message("empty_message", "ar")


def test_ten_thousand_characters_get_a_polite_refusal(bot: Bot, sender: str) -> None:
    assert bot.say(sender, "help me " * 1250)[0]["text"] == LIB.message("too_long", "en")
    assert bot.say(sender, "ساعدني " * 1500)[0]["text"] == LIB.message("too_long", "ar")


@pytest.mark.parametrize(
    "message",
    [
        "🙂🙂🙂",
        "😭",
        "hello مرحبا 你好",
        "a\u202eb\u200bc",
        "' OR 1=1; --",
        "<script>alert(1)</script>",
        "%s%s%n",
        "\U0001f600" * 500,
    ],
)
def test_odd_messages_get_a_reply_not_a_crash(bot: Bot, sender: str, message: str) -> None:
    replies = bot.say(sender, message)
    assert replies and all(r.get("text") for r in replies)


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"not json", 400),
        (b"[1, 2]", 400),
        (b'{"message": "hi"}', 400),  # no sender: Rasa's own channel would use "default"
        (b'{"sender": "", "message": "hi"}', 400),
        (b'{"sender": "x"}', 400),
        (b'{"sender": "x", "message": 5}', 400),
        (b'{"sender": {"a": 1}, "message": "hi"}', 400),
        (b'{"sender": "x", "message": "' + b"a" * 70000 + b'"}', 413),
        (b"\xff\xfe", 400),
    ],
)
def test_malformed_requests_get_a_4xx(bot: Bot, raw: bytes, status: int) -> None:
    reply = bot.post(None, raw=raw, headers={"Content-Type": "application/json"})
    assert reply.status_code == status
    assert "error" in reply.json()
