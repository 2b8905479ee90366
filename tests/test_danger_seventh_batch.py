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

# Each sentence is caught only by a rule of this batch (the lexicon before it found nothing in them).
BATCH_RULES = [
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
]


QUIET = [
    "how do i not wake up tired every morning",
    "my mum made me give her my password so she can check my phone",
    "i want to make sure he is not sharing his location with strangers online",
    "what is the difference between a coach who mentors and someone grooming a kid",
    "my son keeps yelling i ll kill you into his headset at his mates",
    "بنتي سكرت الباب بقوه لما اخذت جوالها",
    "ولدي يصرخ في المايك بقتلك وهو يلعب مع ربعه",
    "اختي قالت لا تقول لماما عن الهديه",
    "سوينا تحديات في الفصل والا المعلمه بتعصب",
]


def test_a_tutor_who_locks_the_door_is_still_caught(net: DangerNet) -> None:
    """The slammed-door idiom does not clear a door locked on a child."""
    assert net.assess("المدرس يسكر الباب علينا ويقعد جنبي") is not None


# Clear disclosures that a model retrained on new topic data no longer half-saw (the lexicon must carry
# what is plain): nudes on a server, a shooting or bombing threatened at school, dragged by the hair,
# meeting someone from a game (MSA future), money or a broken hand, a plan with a date and things
# given away, an account posting my picture with my school, challenges on camera; an account that
# comes back knowing what I wore, banging my head until it stops, a burn as punishment, bruises from
# a stepfather, "he puts his hand on me" in Arabizi, a private picture leaked. Caught only by these rules.
PLAIN_DISCLOSURES = [
    ("her nudes ended up on a server", "images"),
    ("messages threatening a bombing at our school", "threat"),
    ("ابوي يشدني من شعري كل ما يعصب", "abuse"),
    ("ابنتي ستقابل شابا من روبلوكس بعد المدرسه", "meeting"),
    ("بدي مصاري منك والا بكسرلك ايدك", "threat"),
    ("ابني قال عنده خطه وحدد موعد ووزع اغراضه على اصحابه", "self_harm"),
    ("في اكونت ناشر صورتي ومعها اسمي ومدرستي", "images"),
    ("الشباب الكبار يخلوني اسوي تحديات قدام الكاميرا", "coercion"),
    ("an anonymous account i blocked came back and knew what i wore today", "threat"),
    ("i keep banging my head against the desk until i calm down", "self_harm"),
    ("every time i fail my dad burns my arm with a lighter as punishment", "abuse"),
    ("bruises from my stepdad again", "abuse"),
    ("howa bey7ot edo 3alaya lama mama mesh mawgooda", "abuse"),
    ("صور خاصه لبنتي تسربت من جوال صاحبتها", "images"),
]
QUIET_NEIGHBOURS = [
    "what should schools do about shooting threats",
    "are nudes on snapchat saved",
    "هل من الامن ان اقابل شخصا من الانترنت",
    "عندي خطه اعطي اغراضي القديمه للجمعيه الخيريه",
    "ما هي افضل خطه للمذاكره",
    "i banged my head on the cupboard door",
    "see you soon grandma! blocked the spam account btw",
    "burnt my hand cooking and it still hurts",
    "ezay a7ot edy 3ala el keyboard sa7",
    "هل الصور الخاصه ممكن تتسرب من الواتس",
]


@pytest.mark.parametrize(("text", "kind"), BATCH_RULES + PLAIN_DISCLOSURES)
def test_the_rules_fire(net: DangerNet, text: str, kind: str) -> None:
    found = net.assess(text)
    assert found is not None, text
    assert found.kind == kind


@pytest.mark.parametrize("text", QUIET + QUIET_NEIGHBOURS)
def test_everyday_messages_stay_quiet(net: DangerNet, text: str) -> None:
    assert net.assess(text) is None, text
