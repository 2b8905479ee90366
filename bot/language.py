"""Script detection and Arabic normalization.

``normalize_arabic`` is what the NLU pipeline and the danger net see: diacritics and tatweel
stripped, alef/hamza, yaa and taa marbuta variants unified, Arabic-Indic digits turned into ASCII.
``detect_language`` decides which language a reply should be in.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal, Optional

import pyarabic.araby as araby

__all__ = ["Language", "detect_language", "normalize_arabic", "normalize_for_matching", "is_arabizi"]

Language = Literal["ar", "en"]

# Arabic-Indic (U+0660..) and Eastern Arabic-Indic/Persian (U+06F0..) digits.
_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
_ARABIC_LETTER = re.compile(r"[\u0621-\u064A\u0671-\u06D3\u06FA-\u06FF]")
_LATIN_LETTER = re.compile(r"[A-Za-z]")
_LATIN_TOKEN = re.compile(r"[A-Za-z0-9']+")
# Arabizi: Arabic typed with Latin letters, digits standing for Arabic sounds (3=ع, 7=ح, 5=خ, 2=ء, 9=ق, 8=غ/ق, 6=ط).
_ARABIZI_DIGIT_WORD = re.compile(r"^(?=.*[a-z])(?=.*[2356789])[a-z0-9']{2,}$")
# (stop 29: Maghrebi Darija and Tunisian function words, dyal, chi, chno, wach, ila, daba, bghit, ghadi, bzaf...)
_ARABIZI_WORDS = frozenset(
    """
    ana enta enti inta inti ent hatha hadha haza hathi hadhi wallah walla wallahi yalla inshallah
    mashallah shukran shokran marhaba mar7aba ahlan salam salaam habibi habibti abi abgha abgha
    ab3a abga abi ba3ad ya3ni y3ni shlon shlonk kaif keef kef wesh wsh wish ish leh lesh laish
    la2 la aywa aiwa eh naam na3am mafi ma fi 3ndi 3andi ma3i wayed wayid mara marra 7ayl 7eil
    khalas 5alas bas ba3dain ba3den ummi umi ummy abooy abuy oboy yaba yumma mama baba akhoy
    ukhti ukhty 7ad ahad wa7ed wahed wa7d ybtzni yhadedni yhaddidni abghak abik ab8a akeed akid
    tamam sora soura sowar insan el al mn min men bokra bukra yabi yabgha ybi ygablni yshofni
    ana7 lo3ba la3ba ya3ni wla walla kman kaman shay shi ma3 3la 3ala ely elli illi
    w wel fel fil fl fe bel bil lel lal kif kifak kifik ezay izzay kil kol kel kull shu sho shou wala
    momken mumkin yom youm lail leil lama lazem lazim ygool y2ool bi2ol msh mesh mish adri eza
    iza hwa howa howwa heya enno inno ino ibni binti zghir zgheer atfal emta imta awi dayman
    teta sawait asawi nsawi keda kda hek heik kteer ktir
    dyal dyali dyalk dyalek dyalha dyalo dyalhom dial diali chi chno chnou chnu chnowa wach wech ila kayn
    kayna kayen daba dba bghit bgha bghat bghina ghadi gali galt gatli galli bli li lia liya lik lih liha
    koulchi kolchi kulchi bzaf bezzaf bezaf mzyan mzian mezyan biya bik nhar hadi hadak hadik homa huma
    drari sghar sghir kbir lbnat bnat khoya khti walidin o khayfa khayef walo wakha hna hnaya tani nmchi
    bach besh bech barcha barsha famma fama mouch chbik chkoun chkon kifach kifech kifash fach mnin nta nti
    ntaya ntiya bnadem
    """.split()
)

ARABIC_NORMALIZATION_VERSION = 1


def normalize_arabic(text: str) -> str:
    """Unify the Arabic spelling variants that carry no meaning for understanding.

    Strips diacritics (tashkeel), small signs, tatweel and the standalone hamza ء; maps أ إ آ ٱ to
    ا, ؤ to و, ئ to ي, ى to ي and ة to ه; turns Arabic-Indic digits into ASCII. Latin text passes through unchanged.
    """
    if not text:
        return text
    text = unicodedata.normalize("NFKC", text).translate(_DIGITS)
    if not _ARABIC_LETTER.search(text):
        return text
    text = araby.strip_tashkeel(text)
    text = araby.strip_small(text)
    text = araby.strip_tatweel(text)
    text = araby.normalize_hamza(text, method="tasheel")
    # A standalone hamza ("شيء", "جزء") is often left out in chat ("شي"); drop it.
    text = text.replace("ٱ", "ا").replace("ى", "ي").replace("ة", "ه").replace("ء", "")
    return text


_PUNCT = re.compile(r"[^\w\s]|_", re.UNICODE)
_RUNS = re.compile(r"([^\W\d_])\1{2,}", re.UNICODE)
_SPACES = re.compile(r"\s+")


def normalize_for_matching(text: str) -> str:
    """Normalize text for lexicon matching: Arabic normalization, lower case, punctuation to
    spaces, runs of three or more of one letter (not digit) cut to two ("pleeease", "مرررره"),
    single spaces."""
    text = normalize_arabic(text or "").lower()
    text = _PUNCT.sub(" ", text)
    text = _RUNS.sub(r"\1\1", text)
    return _SPACES.sub(" ", text).strip()


def is_arabizi(text: str) -> bool:
    """True when Latin-script text reads as Arabic written in Latin letters ("7ad ybtzni")."""
    # Tokens without a lower-case letter are codes or acronyms ("3HXY3EYT", "NSPCC"), not Arabizi.
    # Quotes at a word's edges are quotation marks ('sam7ooni kilkum'), not part of the word.
    words = [w.strip("'").lower() for w in _LATIN_TOKEN.findall(text) if any(c.islower() for c in w)]
    if not words:
        return False
    hits = sum(1 for w in words if w in _ARABIZI_WORDS or _ARABIZI_DIGIT_WORD.match(w))
    return hits >= max(1, (len(words) + 2) // 3)


def detect_language(text: str) -> Optional[Language]:
    """The language a reply to ``text`` should be in, or None when the text has no letters.

    Arabic wins when Arabic letters are at least a third of all letters (Arabic messages often
    carry Latin app names: "سناب snapchat"); Latin text that reads as Arabizi counts as Arabic.
    """
    arabic = len(_ARABIC_LETTER.findall(text or ""))
    latin = len(_LATIN_LETTER.findall(text or ""))
    if arabic == 0 and latin == 0:
        return None
    if arabic * 2 >= latin:
        return "ar"
    if arabic == 0 and is_arabizi(text):
        return "ar"
    return "en"
