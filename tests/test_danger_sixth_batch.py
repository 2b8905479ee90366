"""The lexicon's rules of the sixth development batch (data/safety/danger.yml, 2026-12-06): hands
that "go places", marks left by pinching, a child locked in overnight, bruises explained by a fall,
an adult who tells a child not to mention their calls, more pictures or the first is sent, an
account handed over "or else", a private video going round a school, a threatened shooting, a
voice note that says "you are dead", razor blades with scratches, scratching one's arms, everyone
better off without me, Arabizi "bde mout"; and the everyday messages they leave alone (a story for
class, a back that is "killing me", a gamer's "I'll slaughter you", a mother's baby pictures).
Sentences written for this test, not taken from any evaluation set."""

from __future__ import annotations

import pytest

from bot.safety.net import DangerNet


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("my tutor says it's a massage but his hands slide under my shirt", "abuse"),
        ("my aunt grabs me so hard when i'm late it left blue marks on my arm", "abuse"),
        ("they shut me in the garage overnight without food when i talk back", "abuse"),
        ("one of my pupils has bruises again and she insists she fell off the swing", "abuse"),
        ("the guy from minecraft told my daughter never to mention their voice chats to her parents", "coercion"),
        ("if i stop sending him new photos he will post the old ones", "blackmail"),
        ("the older boys said i have to give them my lunch money or they'll beat me", "coercion"),
        ("في مقطع خاص لبنتي منتشر في قروب المدرسه", "images"),
        ("ولدي قال حساب مجهول يهدد باطلاق نار في المدرسه بكره", "threat"),
        ("بعتولي رساله انك انت ميت بكرا", "threat"),
        ("لقيت امواس في شنطة بنتي وجروح على ذراعها", "self_harm"),
        ("كل ما اتضايق بخرمش ايدي لين تنزف", "self_harm"),
        ("اهلي رح يكونوا مرتاحين من غيري", "self_harm"),
        ("bdi mout w khalas", "self_harm"),
    ],
)
def test_sixth_batch_rules_fire(net: DangerNet, text: str, kind: str) -> None:
    found = net.assess(text)
    assert found is not None, text
    assert found.kind == kind


@pytest.mark.parametrize(
    "text",
    [
        "my hands go numb when i game for hours",
        "my little brother hit me with a pillow and it left feathers everywhere",
        "i got locked out of my account all day",
        "he has bruises from football, what cream helps?",
        "my teacher told me not to mention the surprise party to anyone",
        "i have to send them my notes or they will fail the group project",
        "راسي بيموتني من المذاكره",
        "ولدي يصرخ بذبحك على اخوه وهم يلعبون ببجي",
        "عندي فيديو خاص بالرحله انشره؟",
        "بكرا انا ميت من الامتحان",
        "the chemistry test hay2telni bgad",
        "بنتي بتقول هتموت لو خدت منها الايباد",
        "my son says he will literally die if i take his phone at dinner",
    ],
)
def test_everyday_messages_stay_quiet(net: DangerNet, text: str) -> None:
    assert net.assess(text) is None, text


@pytest.mark.parametrize(
    "text",
    [
        "I'm writing a spooky story for class where a stalker sends a girl messages at night",
        "after reading about kids being blackmailed online, what settings should our tablet have?",
        "ماما تنشر صوري بالانستا وانا صغيره وابكي، كيف اقنعها تمسحها؟",
    ],
)
def test_stories_news_and_baby_pictures_are_softened(net: DangerNet, text: str) -> None:
    assert net.assess(text) is None or net.is_softened(text), text
