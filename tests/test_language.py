"""Arabic normalization and language detection."""

import pytest

from bot.language import detect_language, is_arabizi, normalize_arabic, normalize_for_matching


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("كَيْفَ أَحْمِي طِفْلِي", "كيف احمي طفلي"),  # diacritics, hamza on alef
        ("مـــرحـــبـــا", "مرحبا"),  # tatweel
        ("إلى", "الي"),  # alef with hamza below, alef maksura
        ("آمن", "امن"),  # alef madda
        ("مدرسة", "مدرسه"),  # taa marbuta
        ("سؤال", "سوال"),  # waw with hamza
        ("مسائل", "مسايل"),  # yaa with hamza
        ("عمري ١١ سنة", "عمري 11 سنه"),  # Arabic-Indic digits
        ("۱۲", "12"),  # Eastern Arabic-Indic digits
        ("ٱلله", "الله"),  # alef wasla
        ("hello THERE", "hello THERE"),  # Latin text untouched
        ("", ""),
    ],
)
def test_normalize_arabic(raw: str, expected: str) -> None:
    assert normalize_arabic(raw) == expected


def test_normalize_arabic_is_idempotent() -> None:
    text = "أَنَا خَايِفَــة مِنْ الْمُدَرِّسَة ١٢٣"
    once = normalize_arabic(text)
    assert normalize_arabic(once) == once


def test_matching_form_lowercases_and_cuts_letter_runs() -> None:
    assert normalize_for_matching("Pleeeease HELP!!!") == "pleease help"
    assert normalize_for_matching("مرررره، خايفة!!") == "مرره خايفه"


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("how do I keep my son safe on roblox", "en"),
        ("كيف احمي ولدي في روبلوكس", "ar"),
        ("في واحد في snapchat يهددني", "ar"),  # Arabic with a Latin app name stays Arabic
        ("ابغى اعرف عن parental controls", "ar"),
        ("7ad y3ni ybtzni", "ar"),  # Arabizi
        ("wa7ed mn el lo3ba yabi ygablni bokra", "ar"),
        # a quoted Arabizi sentence: quotation marks are not part of a word
        ("rfee8ti katbet fl group 'sam7ooni kolkom' w sakkaret telefon", "ar"),
        # Levantine and Egyptian Arabizi function words (w, fel, kif, ezay, shu, lazem...)
        ("kif b7ot parental control w shu lazem a3mel", "ar"),
        ("ezay a2fel el location fel snap", "ar"),
        # Maghrebi Darija function words (dyal, chi, chno, wach, ila, daba, bghit, ghadi...): stop 29
        ("ila chi wa7ed tlab mn bnti tsawer, chno ndir?", "ar"),
        ("l coach dyal natation kaydkhol l vestiaire dyal lbnat", "ar"),
        ("nta bnadem wla robot?", "ar"),
        ("my dad said the bach concert is tonight, whats a good gift for him", "en"),
        # English that shares a word or two with Arabizi stays English
        ("hiya anyone there", "en"),
        ("going to the mall w my mom later", "en"),
        ("hello my name is sara", "en"),
        ("🙂🙂", None),
        ("123", None),
        ("", None),
    ],
)
def test_detect_language(text: str, language: str) -> None:
    assert detect_language(text) == language


def test_plain_english_is_not_arabizi() -> None:
    assert not is_arabizi("i am in the game with my friends")
    assert is_arabizi("ana 5ayfa wallah")


def test_a_case_reference_does_not_make_english_arabizi() -> None:
    assert detect_language("status 3HXY3EYT") == "en"
