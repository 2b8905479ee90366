"""The lexicon's rules of the fifth development batch (data/safety/danger.yml, 2026-12-06): warning
signs of suicide taken together, hidden injuries, doxxing, pictures gone round a class, money to
delete a picture, "if you loved me you'd…", dangerous dares, a hotel room number; the "firsthand"
list that keeps a general-looking question that the writer says is about them from being softened;
and the everyday messages they leave alone. Sentences written for this test, not taken from any
evaluation set."""

from __future__ import annotations

from typing import Optional

import pytest

from bot.safety.net import DangerNet


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("gave my dog to the neighbours and deleted insta and snap. thanks for everything", "self_harm"),
        ("i wrote notes for my sister and my parents, they are in my drawer for after", "self_harm"),
        ("honestly so tired of being alive", "self_harm"),
        ("she posted 'bye everyone, nice knowing you' and now she isn't answering her phone", "self_harm"),
        ("he wants more pics or else he'll tag my cousins in them", "blackmail"),
        ("someone asked 200 dollars to delete the video of me", "blackmail"),
        ("my friend sent a selfie to one guy and now the whole class has it", "images"),
        ("she screen recorded our facetime and put it on her story", None),
        ("a picture of my sister without her hijab is going around on a public account", "images"),
        ("a guy texted me i know where you study", "threat"),
        ("they leaked our home address in a telegram group and strangers keep coming by", None),
        ("every time my stepdad gets drunk i wear a hoodie for days after", "abuse"),
        ("i told the nurse i slipped in the shower but i didn't slip", "abuse"),
        ("the coach tells the girls to sit on his lap after training", "abuse"),
        ("my pupil drew a picture of her uncle lying next to her in bed", "abuse"),
        ("he says if i really loved him i'd send it", "coercion"),
        ("there's a dare where you choke yourself till you faint and they call me a coward", "coercion"),
        ("he sent me the room number of his hotel", "meeting"),
        ("he booked me an uber so i can come see him, he said not to tell", "meeting"),
        ("عطيت اغراضي لاختي ومسحت حساباتي كلها", "self_harm"),
        ("رجعت احط الشفره على ذراعي كل ليله", "self_harm"),
        ("رفيقي كتب باي للكل وصار له يوم ما يرد", "self_harm"),
        ("يبون صور زياده والا بينشرون اللي عندهم", "blackmail"),
        ("طلب فلوس مقابل يحذف صوري", "blackmail"),
        ("بنت بالصف سوت سكرين ريكورد لمكالمتنا فيس تايم ونزلتها ستوري", "images"),
        ("صورة اختي بدون حجاب انتشرت بحساب عام", "images"),
        ("نشروا عنوان بيتنا في قروب تيليجرام", "threat"),
        ("واحد ارسلي اعرف وين تنامين", "threat"),
        ("وقلت للمدرسه اني طحت من الدرج بس ما طحت", "abuse"),
        ("يقول لو تحبيني كان بعتي الصوره", "coercion"),
        ("بعتلي رقم الغرفه في الفندق", "meeting"),
        ("7ajazli taxi 3shan aroo7 ashoofa", "meeting"),
    ],
)
def test_fifth_batch_rules_fire(net: DangerNet, text: str, kind: Optional[str]) -> None:
    found = net.assess(text)
    assert found is not None, text
    assert kind is None or found.kind == kind  # None: an older, broader rule names it first


@pytest.mark.parametrize(
    "text",
    [
        "i gave my old clothes to charity this weekend",
        "deleted my tiktok to focus on exams",
        "tired of being here at the mall, my mum is still shopping",
        "the whole class saw my science project and loved it",
        "we wrote letters to our grandparents in class today",
        "i know where you can buy cheap robux cards",
        "I'm going to disappear for a week, exams",
        "I'm going to kill my sister she ate my fries",
        "my mum makes me wear a hoodie when it's cold",
        "my uncle booked a taxi to the airport for us",
        "عطيت اغراضي القديمه للجمعيه الخيريه",
        "بذبح اخوي اكل البطاطس حقتي",
        "رح اختفي اسبوع عشان الامتحانات",
        "لو تحبني جيب لي شاورما",
    ],
)
def test_everyday_messages_stay_quiet(net: DangerNet, text: str) -> None:
    assert net.assess(text) is None, text


@pytest.mark.parametrize(
    ("text", "softened"),
    [
        ("is it a crime to ask someone for money to delete a picture of them?", True),
        ("is it a crime to ask someone for money to delete a picture of them? asking for me actually", False),
        ("شفنا فيديو في الحصه عن ولد انبتز بصوره، ليش يصير كذا؟", True),
        ("هل يعاقب القانون اللي يطلب فلوس مقابل يحذف صوره؟ بسال عن نفسي", False),
    ],
)
def test_a_general_question_is_softened_unless_the_writer_says_it_is_theirs(
    net: DangerNet, text: str, softened: bool
) -> None:
    assert net.assess(text) is not None or softened, text
    assert net.is_softened(text) is softened


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("what do u do if ur stepdad slaps u every night", "abuse"),
        ("الولد اللي بالديسكورد قال ما تخبر ماما عن كلامنا", "coercion"),
        ("كل يوم يقول لو بتحبيني هتبعتي الصوره", "coercion"),
    ],
)
def test_second_person_violence_secrecy_and_love_tests_fire(net: DangerNet, text: str, kind: str) -> None:
    found = net.assess(text)
    assert found is not None, text
    assert found.kind == kind
