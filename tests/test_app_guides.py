"""App guides: the content is complete for every app of the lexicon and dated (check-content warns
when a guide is over a year old), questions are read as the age, settings, report or safety
question they are; and against the trained model, in both languages, every app's age question and
settings question get that app's own answer, and an app named inside a topic question adds that
app's reporting steps to the advice."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any, Dict, List

import pytest
import yaml

from bot.app_guides import AppGuides, asked_about, child_age
from bot.apps import AppLexicon
from bot.content import ContentLibrary
from bot.content_check import check_content
from bot.settings import PROJECT_ROOT
from tests.conftest import Bot, new_sender

DATA = PROJECT_ROOT / "data"
GUIDES = AppGuides.load(DATA)
LEXICON = AppLexicon.load(DATA / "lexicons")
APPS = [app.id for app in LEXICON.apps]
ISSUE_APPS = {
    "snapchat", "tiktok", "instagram", "youtube", "whatsapp", "telegram",
    "discord", "roblox", "minecraft", "fortnite", "pubg", "free_fire",
}  # fmt: skip


def test_every_app_the_issue_names_has_a_complete_guide() -> None:
    assert ISSUE_APPS <= set(APPS)
    assert GUIDES.problems(APPS) == []
    for app in ISSUE_APPS:
        guide = GUIDES.guides[app]
        assert guide.sources and guide.last_checked is not None
        for lang in ("en", "ar"):
            assert GUIDES.section(app, "settings", lang) != GUIDES.section(app, "report", lang)


def test_check_content_passes_on_the_project_and_warns_on_a_stale_guide(tmp_path: Path) -> None:
    problems, warnings = check_content(DATA)
    assert problems == [] and warnings == []
    # The same content a year and a day after the oldest check: warnings, not problems.
    oldest = min(g.last_checked for g in GUIDES.guides.values() if g.last_checked)
    later = oldest + dt.timedelta(days=366)
    problems, warnings = check_content(DATA, today=later)
    assert problems == []
    assert any("snapchat" in w and "over a year" in w for w in warnings)


def test_check_content_finds_a_missing_guide_and_a_missing_section(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(DATA / "content", data / "content")
    shutil.copytree(DATA / "lexicons", data / "lexicons")
    shutil.copy(DATA / "helplines.yml", data / "helplines.yml")
    (data / "content" / "apps" / "telegram.yml").unlink()
    path = data / "content" / "apps" / "roblox.yml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    del raw["report"]["ar"]
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    problems, _ = check_content(data)
    assert any("telegram" in p and "missing" in p for p in problems)
    assert "app guide roblox: report.ar missing" in problems


@pytest.mark.parametrize(
    ("text", "ask"),
    [
        ("what age is snapchat for?", "age"),
        ("pubg mobile age limit", "age"),
        ("ببجي لأي عمر", "age"),
        ("how do I turn on Family Pairing on TikTok", "settings"),
        ("كيف أفعل الرقابة على ببجي", "settings"),
        ("how do i report someone on discord", "report"),
        ("كيف ابلغ عن حساب في الانستا", "report"),
        ("is roblox safe for my 8 year old", "age"),  # a child's age named: whether it suits that age
        ("ولدي عمره ٩ سنوات ويبغى تيك توك، هل هو آمن؟", "age"),
    ],
)
def test_what_a_question_asks_about_an_app(text: str, ask: str) -> None:
    assert asked_about(text) == ask


def test_the_childs_age_is_read_from_the_question() -> None:
    assert child_age("is roblox safe for my 8 year old") == 8
    assert child_age("ولدي عمره ٩ سنوات ويبغى تيك توك") == 9
    assert child_age("how do I report on tiktok") is None


def test_a_child_below_the_apps_own_minimum_age_is_told_so() -> None:
    text = GUIDES.answer("tiktok", "safety", "en", "TikTok", age=9)
    assert "below TikTok's own minimum age (13)" in text
    assert "below" not in GUIDES.answer("tiktok", "safety", "en", "TikTok", age=14).split("\n\n")[1]


# --- against the trained model ----------------------------------------------------------------------

AGE_Q = {"en": "what age is {} for?", "ar": "{} لأي عمر؟"}
SETTINGS_Q = {"en": "how do I set up parental controls on {}?", "ar": "كيف أفعل الرقابة على {}؟"}


def texts(replies: List[Dict[str, Any]]) -> str:
    return "\n".join(r.get("text", "") for r in replies)


def start(bot: Bot, lang: str) -> str:
    sender = new_sender()
    bot.say(sender, {"en": "hello", "ar": "مرحبا"}[lang])
    bot.say(sender, '/tell_audience{"audience":"parent"}')
    return sender


@pytest.mark.server
@pytest.mark.parametrize("lang", ["en", "ar"])
@pytest.mark.parametrize("app", sorted(ISSUE_APPS))
def test_every_apps_age_and_settings_questions_get_its_own_answer(bot: Bot, app: str, lang: str) -> None:
    name = LEXICON.get(app).name(lang)  # type: ignore[union-attr]
    sender = start(bot, lang)
    said = texts(bot.say(sender, AGE_Q[lang].format(name)))
    assert GUIDES.section(app, "age", lang) in said, said[:300]
    said = texts(bot.say(sender, SETTINGS_Q[lang].format(name)))
    assert GUIDES.section(app, "settings", lang) in said, said[:300]


@pytest.mark.server
@pytest.mark.parametrize(
    ("lang", "text", "topic", "app"),
    [
        ("en", "someone is bullying me on snap", "cyberbullying", "snapchat"),
        ("ar", "في أحد يتنمر علي في السناب وش أسوي", "cyberbullying", "snapchat"),
        ("en", "how can i tell if someone is grooming my son on discord", "grooming", "discord"),
        ("ar", "كيف اعرف اذا احد يستدرج بنتي في الانستا", "grooming", "instagram"),
    ],
)
def test_an_app_named_in_a_topic_question_adds_its_reporting_steps(
    bot: Bot, lang: str, text: str, topic: str, app: str
) -> None:
    sender = start(bot, lang)
    # Read as a possible disclosure, the safety net's check-in comes first, and the answer with it.
    said = texts(bot.say(sender, text))
    assert GUIDES.section(app, "report", lang) in said
    assert ContentLibrary.load(DATA).advice(topic, "parent", lang) in said


@pytest.mark.server
@pytest.mark.parametrize(
    ("lang", "first", "then", "app", "ask"),
    [
        ("en", "how do I report someone on tiktok", "and on instagram?", "instagram", "report"),
        ("ar", "كيف ابلغ عن حساب في التيك توك", "طيب وبالنسبة ليوتيوب؟", "youtube", "report"),
        ("en", "what age is discord for", "what about roblox", "roblox", "age"),
    ],
)
def test_and_on_another_app_keeps_the_question(bot: Bot, lang: str, first: str, then: str, app: str, ask: str) -> None:
    sender = start(bot, lang)
    bot.say(sender, first)
    said = texts(bot.say(sender, then))
    assert GUIDES.section(app, ask, lang) in said, said[:300]


@pytest.mark.server
@pytest.mark.parametrize(
    ("lang", "first", "then"),
    [
        ("en", "is tiktok safe?", "what about for a 7-year-old?"),
        ("ar", "هل تيك توك آمن؟", "طيب وبالنسبة لطفل عمره ٧ سنوات؟"),
    ],
)
def test_what_about_for_a_younger_child_answers_for_that_age(bot: Bot, lang: str, first: str, then: str) -> None:
    sender = start(bot, lang)
    bot.say(sender, first)
    said = texts(bot.say(sender, then))
    assert GUIDES.section("tiktok", "age", lang) in said
    under_age = {"en": "A child of 7 is below", "ar": "عمر 7 أقل من الحد الأدنى"}[lang]
    assert under_age in said, said[:300]
