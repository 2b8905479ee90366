"""The lexicon's rules of the seventh development batch (data/safety/danger.yml, 2026-12-06): not
wanting to wake up, an app that made a child look naked, a password handed over because someone made
me, dares to hurt ourselves, faces posted if we stop, a child locked in ("lock u in"), an adult met
online who says not to tell my mother, challenges "or else", an account handed over "or else"; and
the everyday messages they, and the rules narrowed for this batch, leave alone (a gamer yelling into
a headset, a teen who slammed the door, a child who is not sharing her location, "the difference
between" a friend and a groomer, a parent who asked for the password, a sister who keeps a gift
secret from our mother). Sentences written for this
test, not taken from any evaluation set."""

from __future__ import annotations

import pytest

from bot.safety.net import DangerNet


@pytest.fixture(scope="module")
def net() -> DangerNet:
    return DangerNet.load()


# Each sentence is caught only by a rule of this batch (the lexicon before it found nothing in them).
@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("sometimes i google the best way to never wake up", "self_harm"),
        ("i keep hoping i never wake up", "self_harm"),
        ("someone photoshopped my sister nude and posted it in the year group", "images"),
        ("the older kids made me hand over my fortnite login", "coercion"),
        ("the dares in that group get worse every day, now they want us to cut ourselves on camera", "coercion"),
        ("the admin said if we leave he will post our faces with snitch written on them", "coercion"),
        ("my stepmum locks u in the cupboard when u cry", "abuse"),
        ("حدا عملني بلا تياب بتطبيق", "images"),
        ("صديق على الانترنت اكبر مني يقول ان لا اخبر والدي", "coercion"),
        ("بيخلوني اعمل تحديات على اللايف والا يطردوني من الجروب", "coercion"),
        ("لازم اديهم حسابي في ماين كرافت والا مش هيكلموني", "coercion"),
    ],
)
def test_seventh_batch_rules_fire(net: DangerNet, text: str, kind: str) -> None:
    found = net.assess(text)
    assert found is not None, text
    assert found.kind == kind


@pytest.mark.parametrize(
    "text",
    [
        "how do i not wake up tired every morning",
        "my mum made me give her my password so she can check my phone",
        "i want to make sure he is not sharing his location with strangers online",
        "what is the difference between a coach who mentors and someone grooming a kid",
        "my son keeps yelling i ll kill you into his headset at his mates",
        "بنتي سكرت الباب بقوه لما اخذت جوالها",
        "ولدي يصرخ في المايك بقتلك وهو يلعب مع ربعه",
        "اختي قالت لا تقول لماما عن الهديه",
        "سوينا تحديات في الفصل والا المعلمه بتعصب",
    ],
)
def test_everyday_messages_stay_quiet(net: DangerNet, text: str) -> None:
    assert net.assess(text) is None, text


def test_a_tutor_who_locks_the_door_is_still_caught(net: DangerNet) -> None:
    """The slammed-door idiom does not clear a door locked on a child."""
    assert net.assess("المدرس يسكر الباب علينا ويقعد جنبي") is not None
