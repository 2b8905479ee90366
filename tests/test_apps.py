"""Apps named in a message, in both languages (bot.apps, data/lexicons/apps.yml)."""

from __future__ import annotations

import pytest

from bot.apps import AppLexicon, apps_named


@pytest.mark.parametrize(
    "text, expected",
    [
        ("is roblox safe for my 8 year old", ["roblox"]),
        ("someone is bullying me on snap", ["snapchat"]),
        ("How do I turn on Family Pairing on TikTok", ["tiktok"]),
        ("كيف أفعل الرقابة على ببجي", ["pubg"]),
        ("ولدي عمره ٩ سنوات ويبغى تيك توك، هل هو آمن؟", ["tiktok"]),
        ("طيب وبالنسبة ليوتيوب؟", ["youtube"]),
        ("شفت مقطع بالسناب", ["snapchat"]),
        ("طيب وبالنسبة اليوتيوب؟", ["youtube"]),
        ("he messaged me on Instagram then moved to WhatsApp", ["instagram", "whatsapp"]),
        ("بنتي تلعب ماين كرافت و فورتنايت", ["minecraft", "fortnite"]),
        ("we talked about the weather", []),
        ("Free Fire and PUBG Mobile", ["free_fire", "pubg"]),
    ],
)
def test_apps_named(text: str, expected: list) -> None:
    assert apps_named(text) == expected


def test_every_app_has_a_name_in_both_languages() -> None:
    lexicon = AppLexicon.load()
    assert len(lexicon.apps) >= 12
    for app in lexicon.apps:
        assert app.name("en") and app.name("ar") and app.name("ar") != app.name("en")
    assert lexicon.get("roblox") is not None and lexicon.get("nope") is None
