"""The evaluation sets in ``tests/nlu/``: what each holds, its role, and one shape for every item.

Two roles, kept apart on purpose (``tests/nlu/README.md`` tells how each set was made and when):

* ``dev``: held-out sets that are never trained on, but whose errors may be read to decide what to
  change (new training examples are then written in new words, never copied);
* ``blind``, ``blind2``, ``blind3``: measured only (one role per frozen set, in its own folder). ``make eval`` prints and writes its aggregate figures, never its
  messages; it is frozen (``tests/nlu/blind/FROZEN``: date and SHA-256 of each file, checked by a
  test) and nothing is tuned on it.

Three file shapes: Rasa NLU YAML (``heldout_<lang>.yml``: examples by intent), the older danger
sets (``danger``/``benign`` lists by language), and the writers' sets (``disclosures``/``ordinary``
items with their kind, intent and dialect).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Optional

import yaml

from bot.content import TOPIC_INTENTS as CONTENT_TOPIC_INTENTS
from bot.safety.net import DISCLOSURE_INTENTS
from bot.settings import PROJECT_ROOT

__all__ = [
    "EvalItem",
    "EvalSet",
    "SETS",
    "BLIND_ROLES",
    "ROLES",
    "EVAL_ROOT",
    "LANGUAGES",
    "load_items",
    "file_digest",
    "TOPIC_INTENTS",
]

EVAL_ROOT = PROJECT_ROOT / "tests" / "nlu"
LANGUAGES = ("en", "ar")
# The intents that ask for advice on a topic (their accuracy is measured by length and dialect).
TOPIC_INTENTS = frozenset(CONTENT_TOPIC_INTENTS)


@dataclass(frozen=True)
class EvalItem:
    """One message to measure.

    Attributes:
        disclosure: True when the message discloses harm (it must get the helplines at once).
        intent: the intent a correct reading gives (None when the set does not say, or ``other``).
        style: ``msa``, ``gulf``, ``egyptian``, ``levantine``, ``arabizi``, ``en``, or None.
        hard_negative: an ordinary message written to look like trouble (idioms, third person...).
    """

    text: str
    language: str
    set_name: str
    disclosure: bool
    intent: Optional[str] = None
    style: Optional[str] = None
    kind: Optional[str] = None
    hard_negative: bool = False

    @property
    def words(self) -> int:
        return len(self.text.split())


@dataclass(frozen=True)
class EvalSet:
    name: str
    role: str  # dev | blind
    shape: str  # rasa | danger | writer
    files: Dict[str, str]  # language -> path under tests/nlu ("*" when one file holds both)
    description: str


SETS = (
    EvalSet(
        "heldout",
        "dev",
        "rasa",
        {"en": "dev/heldout_en.yml", "ar": "dev/heldout_ar.yml"},
        "short messages by intent, written apart from the training data (Nov 2026)",
    ),
    EvalSet("danger_1", "dev", "danger", {"*": "dev/danger_1.yml"}, "disclosures and benign messages (Nov 2026)"),
    EvalSet(
        "danger_2",
        "dev",
        "danger",
        {"*": "dev/danger_2.yml"},
        "the former blind danger set, tuned on in Nov 2026, so a development set now",
    ),
    EvalSet(
        "realistic",
        "dev",
        "writer",
        {"en": "dev/realistic_en.yml", "ar": "dev/realistic_ar.yml"},
        "long, messy messages by an independent writer (Dec 2026)",
    ),
    EvalSet(
        "realistic_2",
        "dev",
        "writer",
        {"en": "dev/realistic2_en.yml", "ar": "dev/realistic2_ar.yml"},
        "a second batch of long, messy messages by another independent writer (Dec 2026)",
    ),
    EvalSet(
        "realistic_3",
        "dev",
        "writer",
        {"en": "dev/realistic3_en.yml", "ar": "dev/realistic3_ar.yml"},
        "a third batch, Arabic-heavy, a third very short, ~20% Arabizi, by another writer (2026-12-06)",
    ),
    EvalSet(
        "realistic_4",
        "dev",
        "writer",
        {"en": "dev/realistic4_en.yml", "ar": "dev/realistic4_ar.yml"},
        "a fourth batch (80 disclosures, 120 ordinary per language; ~15% Arabizi) by another writer (2026-12-06)",
    ),
    EvalSet(
        "realistic_5",
        "dev",
        "writer",
        {"en": "dev/realistic5_en.yml", "ar": "dev/realistic5_ar.yml"},
        "a fifth batch (subtle disclosures, a third long, half the ordinary hard negatives) by another writer (2026-12-06)",
    ),
    EvalSet(
        "realistic_6",
        "dev",
        "writer",
        {"en": "dev/realistic6_en.yml", "ar": "dev/realistic6_ar.yml"},
        "a sixth batch (half the messages 20-90 words, a third of the Arabic MSA, subtle disclosures) by another writer (2026-12-06)",
    ),
    EvalSet(
        "realistic_7",
        "dev",
        "writer",
        {"en": "dev/realistic7_en.yml", "ar": "dev/realistic7_ar.yml"},
        "a seventh batch (subtle disclosures, half the ordinary messages long with the question last, Arabic dialects and MSA) by another writer (2026-12-06)",
    ),
    EvalSet(
        "realistic_8",
        "dev",
        "writer",
        {"en": "dev/realistic8_en.yml", "ar": "dev/realistic8_ar.yml"},
        "an eighth batch (a third of the disclosures long and buried, half the ordinary messages long, Arabic a quarter Gulf, a fifth each Egyptian, Levantine, MSA) by another writer (2026-12-07)",
    ),
    EvalSet(
        "realistic_9",
        "dev",
        "writer",
        {"en": "dev/realistic9_en.yml", "ar": "dev/realistic9_ar.yml"},
        "a ninth batch (a third of the disclosures long and buried, half the ordinary messages long, Arabic a quarter Gulf, a fifth each Egyptian, Levantine, MSA, the rest Arabizi) by another writer (2026-12-07)",
    ),
    EvalSet(
        "family",
        "dev",
        "writer",
        {"en": "dev/family_en.yml", "ar": "dev/family_ar.yml"},
        "everyday messages naming family members and trusted adults, and disclosures of harm by them, by another writer (2026-12-07)",
    ),
    EvalSet(
        "family_2",
        "dev",
        "writer",
        {"en": "dev/family2_en.yml", "ar": "dev/family2_ar.yml"},
        "a second family batch (120 everyday messages and 40 disclosures per language, half of them subtle), by another writer, read first after the family gate (2026-12-07)",
    ),
    EvalSet(
        "family_3",
        "dev",
        "writer",
        {"en": "dev/family3_en.yml", "ar": "dev/family3_ar.yml"},
        "a third family batch (relatives and known adults: coaches, tutors, drivers, neighbours; 120 everyday messages and 40 disclosures per language), by another writer, read first to decide whether the family gate stays (2026-12-07)",
    ),
    EvalSet(
        "family_4",
        "dev",
        "writer",
        {"en": "dev/family4_en.yml", "ar": "dev/family4_ar.yml"},
        "a fourth family batch (120 everyday messages and 40 disclosures per language), by another writer, read first to measure the family handling of 2026-12-07 on messages nobody had read",
    ),
    EvalSet(
        "family_5",
        "dev",
        "writer",
        {"en": "dev/family5_en.yml", "ar": "dev/family5_ar.yml"},
        "a fifth family batch by four more writers (two per language) from the brief of blind set 3 (about 156 everyday messages and 64 disclosures per writer), to learn what blind set 3 measured without reading it (2026-12-07)",
    ),
    EvalSet(
        "family_6",
        "dev",
        "writer",
        {"en": "dev/family6_en.yml", "ar": "dev/family6_ar.yml"},
        "a sixth family batch by two more writers from the brief of blind set 3 (156 everyday messages and 64 disclosures per language before the overlap check), read first to measure what the fifth batch decided on messages nobody had read (2026-12-07)",
    ),
    EvalSet(
        "family_7",
        "dev",
        "writer",
        {"en": "dev/family7_en.yml", "ar": "dev/family7_ar.yml"},
        "a seventh family batch by four more writers (two per language) from the brief of blind set 3 (36 disclosures and 78 everyday messages each), read first to measure the system of stop 26 on messages nobody had read (2026-12-07)",
    ),
    EvalSet(
        "family_8",
        "dev",
        "writer",
        {"en": "dev/family8_en.yml", "ar": "dev/family8_ar.yml"},
        "an eighth family batch by four more writers on the same brief (English in slang and by parents and carers; Arabic in Arabizi and by Gulf families), read first to measure this machine's retrain on messages nobody had read (2026-12-07, stop 28)",
    ),
    EvalSet(
        "family_9",
        "dev",
        "writer",
        {"en": "dev/family9_en.yml", "ar": "dev/family9_ar.yml"},
        "a ninth family batch by four more writers on the same brief (English at Gulf schools and formal English from the UK, Ireland and the US; Egyptian and Levantine Arabic), read first (2026-12-07, stop 28)",
    ),
    EvalSet(
        "family_10",
        "dev",
        "writer",
        {"en": "dev/family10_en.yml", "ar": "dev/family10_ar.yml"},
        "a tenth family batch by four more writers on the same brief (English by South Asian and Filipino families in the Gulf, and by young gamers, Australian and Scottish teens; Iraqi, Yemeni, Sudanese, Saudi and Bahraini Arabic and Maghrebi Darija), read first (2026-12-07, stop 29)",
    ),
    EvalSet(
        "family_11",
        "dev",
        "writer",
        {"en": "dev/family11_en.yml", "ar": "dev/family11_ar.yml"},
        "an eleventh family batch by four more writers on the same brief (West and East African and South African English; children who spell by sound, carers of children with special needs, counsellors' notes; Emirati, Qatari and Omani Arabic switching to English; Jordanian, Palestinian, Syrian and Libyan Arabic), read first (2026-12-07, stop 29)",
    ),
    EvalSet(
        "family_12",
        "dev",
        "writer",
        {"en": "dev/family12_en.yml", "ar": "dev/family12_ar.yml"},
        "a twelfth family batch by four more writers on the same brief (British urban and American English; Egyptian Arabic in both scripts; North African Arabic mixing French), read first (2026-12-07, stop 29)",
    ),
    EvalSet(
        "family_13",
        "dev",
        "writer",
        {"en": "dev/family13_en.yml", "ar": "dev/family13_ar.yml"},
        "a thirteenth family batch by four more writers on the same brief (Malaysian, Singaporean and Indonesian English, Gulf nationals writing English, young teens' newest slang, grandparents; children's misspelt Arabic, gamers' Arabic and Arabizi, Saudi and Kuwaiti Arabic with formal MSA), read first (2026-12-07, stop 30)",
    ),
    EvalSet(
        "family_14",
        "dev",
        "writer",
        {"en": "dev/family14_en.yml", "ar": "dev/family14_ar.yml"},
        "a fourteenth family batch by four more writers on the same brief (English as a second language by refugee and migrant families, professionals' case notes and children's one-liners; Arabic as a second language in the Gulf and by refugee families, Lebanese teens mixing French, and formal MSA), read first (2026-12-07/08, stop 30)",
    ),
    EvalSet(
        "family_15",
        "dev",
        "writer",
        {"en": "dev/family15_en.yml", "ar": "dev/family15_ar.yml"},
        "a fifteenth family batch by four more writers on the same brief (Indian and Pakistani English, North American teens' sarcasm and blended, foster and adoptive families; Palestinian, Jordanian and Iraqi voice-to-text, Emirati and Omani Arabic with English, Maghrebi Darija and MSA), read first (2026-12-08, stop 30)",
    ),
    EvalSet(
        "family_16",
        "dev",
        "writer",
        {"en": "dev/family16_en.yml", "ar": "dev/family16_ar.yml"},
        "a sixteenth family batch by four more writers on the same brief (Irish, Welsh and Northern English, British expatriates, teens in fragments, esports slang, parents on night shifts; Egyptian Arabic by young children and grandmothers, Sudanese Arabic, Egyptian Arabizi, Syrian paragraphs, Qatari and Bahraini teens, formal MSA), read first (2026-12-08, stop 30)",
    ),
    EvalSet(
        "family_17",
        "dev",
        "writer",
        {"en": "dev/family17_en.yml", "ar": "dev/family17_ar.yml"},
        "a seventeenth family batch by four more writers on the same brief with one section added (stories heard about other people's children; disclosures told at one remove; Caribbean-British, Hong Kong, Chinese, Korean and American families, counselors, military and homeschooling families; Kuwaiti, Bahraini, Saudi and Yemeni Arabic, Iraqi Kurdish and Mauritanian families, Omani teens, Egyptian families in the Gulf, Arabizi, MSA), read first (2026-12-08, stop 31)",
    ),
    EvalSet(
        "blind",
        "blind",
        "writer",
        {"en": "blind/blind_en.yml", "ar": "blind/blind_ar.yml"},
        "frozen blind set by two independent writers (2026-12-05); aggregate figures only",
    ),
    EvalSet(
        "blind2",
        "blind2",
        "writer",
        {"en": "blind2/blind2_en.yml", "ar": "blind2/blind2_ar.yml"},
        "second frozen blind set by another independent writer (2026-12-06); aggregate figures only",
    ),
    EvalSet(
        "blind3",
        "blind3",
        "writer",
        {"en": "blind3/blind3_en.yml", "ar": "blind3/blind3_ar.yml"},
        "third frozen blind set by two more independent writers, half of it naming family or known adults (2026-12-07); aggregate figures only",
    ),
)
# Each blind set is its own role: measured and gated apart, never read, frozen in its own folder.
BLIND_ROLES = tuple(s.role for s in SETS if s.role.startswith("blind"))
ROLES = ("dev",) + BLIND_ROLES


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _read(path: Path) -> dict:
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f) or {}


def _rasa_items(data: dict, lang: str, name: str) -> Iterator[EvalItem]:
    for block in data.get("nlu", []):
        intent = block["intent"]
        for line in str(block.get("examples", "")).splitlines():
            text = line.strip()
            if text.startswith("- ") and text[2:].strip():
                yield EvalItem(text[2:].strip(), lang, name, intent in DISCLOSURE_INTENTS, intent)


def _danger_items(data: dict, lang: str, name: str) -> Iterator[EvalItem]:
    for text in (data.get("danger") or {}).get(lang) or []:
        yield EvalItem(str(text), lang, name, True)
    for text in (data.get("benign") or {}).get(lang) or []:
        yield EvalItem(str(text), lang, name, False)


def _writer_items(data: dict, lang: str, name: str) -> Iterator[EvalItem]:
    for item in data.get("disclosures") or []:
        yield EvalItem(str(item["text"]), lang, name, True, None, item.get("style"), item.get("kind"))
    for item in data.get("ordinary") or []:
        intent = item.get("intent")
        yield EvalItem(
            str(item["text"]),
            lang,
            name,
            False,
            None if intent in (None, "other") else str(intent),
            item.get("style") or ("en" if lang == "en" else None),
            hard_negative=bool(item.get("hard_negative")),
        )


_SHAPES = {"rasa": _rasa_items, "danger": _danger_items, "writer": _writer_items}


def load_items(eval_set: EvalSet, language: Optional[str] = None, root: Path = EVAL_ROOT) -> List[EvalItem]:
    """The set's items (of one language, or of both); a file that is not there yet gives none."""
    items: List[EvalItem] = []
    for lang in (language,) if language else LANGUAGES:
        path = root / (eval_set.files.get(lang) or eval_set.files["*"])
        if not path.exists():
            continue
        items += _SHAPES[eval_set.shape](_read(path), lang, eval_set.name)
    return items
