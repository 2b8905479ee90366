"""The next steps after a disclosure, as content: complete for every harm, audience and language,
with the facts the guidance asks for; and the usual questions read from the words people use."""

from __future__ import annotations

import pytest

from bot.next_steps import HARM_KINDS, NextSteps, harm_kind, questions_in
from bot.safety import DANGER_KINDS
from bot.settings import PROJECT_ROOT

STEPS = NextSteps.load(PROJECT_ROOT / "data")


def test_the_content_is_complete() -> None:
    assert STEPS.problems() == []


def test_every_kind_the_net_names_has_next_steps() -> None:
    assert {harm_kind(kind) for kind in DANGER_KINDS} <= set(HARM_KINDS) - {"general"}
    assert harm_kind("unspecified") == harm_kind(None) == "general"


@pytest.mark.parametrize("lang", ["en", "ar"])
@pytest.mark.parametrize("audience", ["child", "teen", "parent"])
def test_sextortion_steps_say_what_the_guidance_says(audience: str, lang: str) -> None:
    text = STEPS.steps("sextortion", audience, lang)
    assert "Take It Down" in text and "takeitdown.ncmec.org" in text
    assert "116111" in text  # a counselor now, free
    trusted = {"en": "your child" if audience == "parent" else "trust", "ar": "طفلك" if audience == "parent" else "تثق"}
    words = {
        "en": ["pay", "Report", trusted["en"]],
        "ar": ["دفع", "بلاغ" if audience == "child" else "بلّغ", trusted["ar"]],
    }[lang]
    for word in words:
        assert word in text, (audience, lang, word)


def test_each_audience_gets_its_own_words() -> None:
    for kind in ("sextortion", "grooming", "abuse", "self_harm"):
        texts = {STEPS.steps(kind, who, "en") for who in ("child", "teen", "parent")}
        assert len(texts) == 3, kind
        assert STEPS.steps(kind, "educator", "ar") == STEPS.steps(kind, "parent", "ar")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("should i tell my parents?", ["tell_adult"]),
        ("هل أقول لأهلي؟", ["tell_adult"]),
        ("will i get in trouble", ["trouble"]),
        ("بتصير علي مشكلة؟", ["trouble"]),
        ("i already paid him", ["paid"]),
        ("دفعت له خلاص", ["paid"]),
        ("he says he'll post it tonight", ["deadline"]),
        ("يقول بينشرها الليلة", ["deadline"]),
        ("can you delete it", ["remove"]),
        ("تقدر تحذفها؟", ["remove"]),
        ("i'm scared", ["scared"]),
        ("أنا خايفة", ["scared"]),
        ("what do i do now", []),
    ],
)
def test_the_usual_questions_are_read(text: str, expected: list) -> None:
    assert questions_in(text) == expected
