"""The lexicon's rules of the ninth development batch (data/safety/danger.yml, 2026-12-07): a painless
way asked and then "never mind" (both languages, Arabizi too), "would anyone notice if I disappeared",
a plan "to end her life" (لإنهاء), said no but he kept on so I sent it, a partner who wants every
password or will leave (both languages), an unknown sender who describes what she wore, bruises from
"your" parents or "from my family", a burn as punishment, a child who flinches when a hand is raised
(both languages), "I know where your house is" in Arabizi, a private video "of mine" posted
(Egyptian); and the everyday messages they and the batch's idioms and softeners leave alone or only
check in on (a gamer yelling at his console, "should a victim…", a legal question, "nothing
happened"). Also the rules of the family development set (tests/nlu/dev/family_*, the same day):
someone who "would go to jail" if I told, coming into the bathroom after being asked to get out, kids
locked in a cupboard "mine do", things thrown at me, tied with a rope, a hand on my neck, burned with
a lighter; and two narrowings (not hurting nana's feelings, a brother scared of thunder). Sentences
written for this test, not taken from any evaluation set."""

from __future__ import annotations

import pytest

from bot.safety.net import DangerNet

# Each sentence is caught only by a rule of this batch (the lexicon before it found nothing in them).
BATCH_RULES = [
    ("easiest way that wont hurt? nvm forget it", "self_harm"),
    ("would my family even care if i vanished tomorrow", "self_harm"),
    ("هل حد هياخد باله لو اختفيت", "self_harm"),
    ("صاحبي كتب رساله لانهاء حياته بكره", "self_harm"),
    ("a7san tari2a bala waja3? 5alas ensa", "self_harm"),
    ("i said no a bunch but he kept asking all night so i finally sent one", "coercion"),
    ("my girlfriend wants all my passwords and says she'll dump me if i say no", "coercion"),
    ("خطيبي يبي الباسورد حق كل حساباتي ويقول بيتركني اذا رفضت", "coercion"),
    ("some anonymous account messaged me saying exactly what i wore at the mall", "threat"),
    ("3arif wein teskon, rasaleh min 7esab ghareeb", "threat"),
    ("is having bruises from our parents a normal thing", "abuse"),
    ("my nephew flinches every time an adult raises a hand near him", "abuse"),
    ("عندي كدمات من ابوي وما اقدر اقول لاحد", "abuse"),
    ("خالتي لسعتني بالمعلقه السخنه عشان تربيني", "abuse"),
    ("الولد بيتنفض كل ما حد يرفع ايده قدامه", "abuse"),
    ("واحد من الشلة سرب مقطع خاص بتاعي على الجروب", "images"),
]

# The family development set's rules, each caught only by its rule.
FAMILY_RULES = [
    ("my stepdad says mum will lose the house if i tell anyone about the nights", "threat"),
    ("my cousin keeps walking into the shower even when i told him to leave", "abuse"),
    ("my parents lock their kids in the basement for hours, mine always did it to me", "abuse"),
    ("my uncle chucks plates at us when the football goes badly", "abuse"),
    ("جوز امي بيربطني بالسلك في السرير", "abuse"),
    ("ابوي يمسك رقبتي لين ما اقدر اتنفس", "abuse"),
    ("عمه بيكويه بالسجاره لما يزعل", "abuse"),
]

QUIET = [
    "my son screams i'm gonna destroy you at the tv every night playing fifa, normal?",
    "ولدي يصرخ علي البلايستيشن بقتلك بقتلك وهو يضحك مع ربعه",
    "what is the least painful way to get my ears pierced",
    "does anyone notice if i change my snap username",
    "my dog flinches when i raise my hand, was he abused before we adopted him?",
    "i said no to roblox but he keeps asking so i'm thinking of allowing it",
    "اخوي حرق الاكل وامي عاقبته بمنع الجوال",
    "how can i tell my grandad his jokes are old without hurting him",
    "my brother comes into my room at night because of bad dreams, is it ok if he uses my tablet to calm down",
    "ربطت الهديه بالشريط الاحمر",
]

# Softened: the net still finds something, so the first reply is a check-in with the helplines, not
# the crisis reply and an urgent case.
CHECK_IN_ONLY = [
    "should a teen who is being blackmailed tell the police or the school?",
    "هو نشر صوره حد بدون اذنه ممنوع قانونا؟",
    "خالتي بتنشر كل الصور عالانستا وما صار شي لحد الحين بس قلقانه",
]


@pytest.mark.parametrize(("text", "kind"), BATCH_RULES + FAMILY_RULES)
def test_the_rules_fire(net: DangerNet, text: str, kind: str) -> None:
    found = net.assess(text)
    assert found is not None, text
    assert found.kind == kind
    assert not net.is_softened(text)


@pytest.mark.parametrize("text", QUIET)
def test_everyday_messages_stay_quiet(net: DangerNet, text: str) -> None:
    assert net.assess(text) is None, text


@pytest.mark.parametrize("text", CHECK_IN_ONLY)
def test_general_and_legal_questions_get_a_check_in_not_the_crisis_reply(net: DangerNet, text: str) -> None:
    assert net.assess(text) is not None, text
    assert net.is_softened(text), text
