"""The lexicon's Arabizi and home-violence rules of 2026-12-06 (data/safety/danger.yml): what they
catch, and everyday Arabizi they leave alone. Sentences written for this test, not taken from any
evaluation set."""

from __future__ import annotations

import pytest

from bot.safety.net import DangerNet


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("abooy y6ignee kil ma yi3seb", "abuse"),
        ("3ammi bt2falli 3alay el 7ammam kol lela", "abuse"),
        ("bint 3ammi za22etni 3al dareg", "abuse"),
        ("خالي دفعني من فوق الدرج وانكسرت يدي", "abuse"),
        ("wa7ed hadadni ykub aseed 3ala wejhi", "threat"),
        ("sorti et7atet fe page w kolo shafha", "images"),
        ("el shabab hynazzlo el video bokra", "images"),
        ("3ando screenshots mn el chat w 2al iza ma dafa3t", "blackmail"),
        ("2al hayfda7ni lw ma ba3atlo floos", "blackmail"),
        ("kol yom bjra7 eidi bel shafra", "self_harm"),
        ("ana mjam3a 7boob ktir fi el dorj", "self_harm"),
        ("b3atli rasayel wada3 w ma 3am ترد", "self_harm"),
        ("بضرب راسي في الحيطه لين يروح الوجع اللي جواي", "self_harm"),
    ],
)
def test_arabizi_and_home_violence_fire(net: DangerNet, text: str, kind: str) -> None:
    found = net.assess(text)
    assert found is not None, text
    assert found.kind == kind


@pytest.mark.parametrize(
    "text",
    [
        "kif a5alli sowar wladi private 3al insta",
        "bdi anzel video lal youtube 3an el madrase",
        "3ando sowar 7elwe mn el re7le",
        "el shafra tab3 el mobra5a 5arbane",
        "eza ma 5allast el wajeb el mo3alem ra7 yez3al",
        "bade2 a7bob el riyada",
        "ضربت راسي في الباب بالغلط وانا اركض",
        "ta3bana mn el madrase bas 3adi",
    ],
)
def test_everyday_arabizi_does_not_fire(net: DangerNet, text: str) -> None:
    assert net.assess(text) is None, text


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("عمي بيعذبني كل ما تروح امي السوق", "abuse"),
        ("مرت ابوي تقفلني في المخزن", "abuse"),
        ("someone used my face with an AI app to make a nude pic and it is going around my school", "images"),
        ("سووا لي صوره عاريه مزيفه وصارت عند كل البنات", "images"),
        ("واحد من روبلوكس قال سياتي لياخذني من المدرسة", "meeting"),
        ("my uncle said he will kill me if i tell my mom", "threat"),
    ],
)
def test_more_disclosures_of_2026_12_06_fire(net: DangerNet, text: str, kind: str) -> None:
    found = net.assess(text)
    assert found is not None, text
    assert found.kind == kind


@pytest.mark.parametrize(
    "text",
    [
        "هالدوام عم يقتلني بس لازم اكمل",  # frustration, with a subject that is a thing
        "الزحمه هتموتني كل يوم الصبح",
        "my dad is gonna kill me if i break another controller haha",
        "i'm writing a story where the main character is bullied, what would a counselor say?",
        "كيف افهم بنتي انها ما ترسل صور خاصه لحد",
        "what are deepfake nude apps and how do i talk to my son about them",
    ],
)
def test_figures_of_speech_fiction_and_advice_do_not_fire(net: DangerNet, text: str) -> None:
    found = net.assess(text)
    assert found is None or net.is_softened(text), text
