"""Reply content: complete for every topic, audience and language, with numbers only from the
helpline directory, so that another country's deployment changes only data/helplines.yml."""

import re
import shutil
from pathlib import Path

import pytest
import yaml

from bot.content import AUDIENCES, LANGUAGES, TOPICS, ContentLibrary
from bot.helplines import HelplineDirectory
from bot.settings import PROJECT_ROOT

DATA = PROJECT_ROOT / "data"
NUMBERS = ("911", "116111", "1919")


@pytest.fixture(scope="module")
def library() -> ContentLibrary:
    return ContentLibrary.load(DATA)


def test_content_has_no_problems(library: ContentLibrary) -> None:
    assert library.problems() == []


@pytest.mark.parametrize("topic", TOPICS)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_each_audience_gets_different_advice(library: ContentLibrary, topic: str, lang: str) -> None:
    texts = {who: library.advice(topic, who, lang) for who in AUDIENCES}
    assert len(set(texts.values())) == len(AUDIENCES)
    # A child's advice is the shortest: short, simple steps.
    assert len(texts["child"]) < min(len(texts["parent"]), len(texts["educator"]))


@pytest.mark.parametrize("topic", TOPICS)
def test_arabic_advice_is_arabic_and_english_is_english(library: ContentLibrary, topic: str) -> None:
    from bot.language import detect_language

    for who in AUDIENCES:
        assert detect_language(library.advice(topic, who, "ar")) == "ar"
        assert detect_language(library.advice(topic, who, "en")) == "en"


def _reply_texts(node: object) -> str:
    """Every string a user could be sent from a YAML file (topic ``sources`` are not sent)."""
    if isinstance(node, dict):
        return "\n".join(_reply_texts(v) for k, v in node.items() if k != "sources")
    if isinstance(node, list):
        return "\n".join(_reply_texts(v) for v in node)
    return node if isinstance(node, str) else ""


@pytest.mark.parametrize(
    "path",
    [
        DATA / "content" / "messages.yml",
        PROJECT_ROOT / "domain.yml",
        *sorted((DATA / "content" / "topics").glob("*.yml")),
    ],
    ids=lambda p: p.name,
)
def test_no_helpline_number_is_typed_into_texts(path: Path) -> None:
    text = _reply_texts(yaml.safe_load(path.read_text(encoding="utf-8")))
    assert len(text) > 100
    for number in NUMBERS:
        assert not re.search(rf"(?<!\d){number}(?!\d)", text), f"{number} typed in {path.name}; use a placeholder"


def test_helpline_block_lists_every_helpline_in_order(library: ContentLibrary) -> None:
    block = library.helplines.block("en")
    positions = [block.index(n) for n in NUMBERS]
    assert positions == sorted(positions)
    assert "Kollona Amn" in block
    assert "كلنا أمن" in library.helplines.block("ar")


def test_another_country_changes_only_the_helplines_file(tmp_path: Path) -> None:
    shutil.copytree(DATA / "content", tmp_path / "content")
    helplines = yaml.safe_load((DATA / "helplines.yml").read_text(encoding="utf-8"))
    helplines["country"] = "XX"
    helplines["helplines"]["emergency"]["number"] = "112"
    helplines["helplines"]["child_helpline"]["number"] = "116000"
    (tmp_path / "helplines.yml").write_text(yaml.safe_dump(helplines, allow_unicode=True), encoding="utf-8")
    other = ContentLibrary.load(tmp_path)
    for lang in LANGUAGES:
        text = other.message("danger_support", lang, "teen")
        assert "112" in text and "116000" in text
        assert "911" not in text and "116111" not in text


def test_unknown_placeholder_is_reported(tmp_path: Path) -> None:
    directory = HelplineDirectory.from_file(DATA / "helplines.yml")
    with pytest.raises(KeyError):
        directory.render("call {ambulance}", "en")
