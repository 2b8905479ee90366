"""Rasa NLU component that combines the danger net with two classifiers, in two tiers.

Runs last in the pipeline. Measured on real messages, the lexicon net is right about nineteen
times in twenty and DIET on its own about one time in five (``tests/nlu/README.md``), so they do
not lead to the same reply. Two classifiers give an opinion: DIET's disclosure intents (anywhere
in its ranking, also when the FallbackClassifier replaced the top intent with ``nlu_fallback``)
and the disclosure scorer (``bot.nlu.disclosure``), a logistic regression that fails differently.

* **clear**: the lexicon net finds a disclosure, or DIET and the scorer are both sure of one
  (``clear_threshold`` and ``scorer_clear_threshold``), in a message not framed as a general
  question, a story or a joke (the lexicon's ``softeners``). The intent becomes
  ``disclose_harm`` or ``disclose_self_harm`` with confidence 1.0 and a ``danger_kind`` entity
  names the kind: the crisis reply and an urgent case.
* **uncertain**: a softened lexicon hit, or either classifier at its check-in threshold (the
  scorer at a lower one, ``scorer_hedged_threshold``, in a message framed as a general question:
  "asking for a friend", "hypothetically, if someone's coach..."), or both
  classifiers sure of a message that names family or a known adult and holds no sign of harm
  (``DangerNet.only_someone_close``: "my uncle picked me up in his new truck"). The intent
  becomes ``possible_disclosure``: a short check-in that still shows the helplines and asks
  whether something is happening, and no case unless the user says yes.

Either way the parse carries a ``danger`` dict (tier, kind, source, scores, and the intent the
classifier read beside the disclosure), never the text. A figure of speech from the lexicon's
idioms ("dying of laughter", "مت من الضحك") that the net has cleared is not taken from the
classifiers either: when DIET's own top intent is a disclosure resting on one, the intent becomes
``nlu_fallback`` (an honest "I'm not sure I understood"), not a crisis reply. Unless both
classifiers are sure of a disclosure: an idiom's words can sit beside a real threat ("in roblox he
says he'll find me and kill me"), so that message gets the check-in.

Thresholds may be one number or one per language (``{"en": 0.9, "ar": 0.95}``); which language a
message is in comes from ``bot.language.detect_language``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Union

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.app_guides import asked_about, child_age
from bot.apps import apps_named
from bot.followups import is_what_about
from bot.language import detect_language, normalize_for_matching
from bot.nlu.disclosure import PROBABILITY_KEY
from bot.safety.net import DISCLOSURE_INTENTS, POSSIBLE_DISCLOSURE, DangerNet
from bot.settings import get_settings

__all__ = [
    "DangerNetClassifier",
    "DangerReading",
    "Thresholds",
    "decide",
    "is_figure_of_speech",
]

FALLBACK_INTENT = "nlu_fallback"
# Intents that say nothing about what a message asks (the one the classifier read beside a
# disclosure is kept, to answer it if the user says nothing is happening).
_NOT_A_QUESTION = frozenset({*DISCLOSURE_INTENTS, POSSIBLE_DISCLOSURE, FALLBACK_INTENT})


Threshold = Union[float, Mapping[str, float]]


def _per_language(value: Threshold) -> Dict[str, float]:
    if isinstance(value, Mapping):
        return {lang: float(value[lang]) for lang in ("en", "ar")}
    return {"en": float(value), "ar": float(value)}


@dataclass(frozen=True)
class Thresholds:
    """When each classifier asks for a check-in, and when both together make a clear disclosure:
    ``model_*`` for DIET's disclosure intents, ``scorer_*`` for ``bot.nlu.disclosure``; per language."""

    model_check_in: Mapping[str, float]
    model_clear: Mapping[str, float]
    scorer_check_in: Mapping[str, float]
    scorer_clear: Mapping[str, float]
    scorer_hedged: Mapping[str, float]

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Thresholds:
        defaults = DangerNetClassifier.get_default_config()
        return cls(
            *(
                _per_language(config.get(key, defaults[key]))
                for key in (
                    "check_in_threshold",
                    "clear_threshold",
                    "scorer_check_in_threshold",
                    "scorer_clear_threshold",
                    "scorer_hedged_threshold",
                )
            )
        )

    def tier(self, text: str, model: float, scorer: Optional[float]) -> Optional[str]:
        """``clear``, ``uncertain`` or None for a message the lexicon found nothing in."""
        lang = detect_language(text) or "en"
        if model >= self.model_clear[lang] and scorer is not None and scorer >= self.scorer_clear[lang]:
            return "clear"
        if model >= self.model_check_in[lang] or (scorer is not None and scorer >= self.scorer_check_in[lang]):
            return "uncertain"
        return None

    def hedged(self, text: str, scorer: Optional[float]) -> bool:
        """The scorer at the lower threshold for a message framed as a general question ("asking
        for a friend", "hypothetically... if someone's coach..."): checked only for such messages."""
        return scorer is not None and scorer >= self.scorer_hedged[detect_language(text) or "en"]


@dataclass(frozen=True)
class DangerReading:
    """What the component read in a message (no text: this goes into the tracker)."""

    tier: str  # clear | uncertain
    intent: str  # disclose_harm | disclose_self_harm
    kind: str
    source: str  # net | model
    score: float  # DIET's confidence in the disclosure intent
    scorer: Optional[float]  # the disclosure scorer's probability
    asked: Optional[str]  # the classifier's best other intent (what the message may be asking)
    asked_confidence: float = 0.0  # DIET's confidence in ``asked``

    def as_dict(self) -> Dict[str, Any]:
        return {
            "tier": self.tier,
            "intent": self.intent,
            "kind": self.kind,
            "source": self.source,
            "score": round(self.score, 4),
            "scorer": self.scorer,
            "asked": self.asked,
            "asked_confidence": round(self.asked_confidence, 4),
        }


def decide(
    text: str,
    ranking: List[Dict[str, Any]],
    net: DangerNet,
    thresholds: Thresholds,
    scorer: Optional[float] = None,
) -> Optional[DangerReading]:
    """The disclosure read in ``text`` (clear or uncertain), or None. ``scorer`` is the disclosure
    scorer's probability, when the pipeline has one."""
    scores = {r.get("name"): float(r.get("confidence") or 0.0) for r in ranking}
    best = max(DISCLOSURE_INTENTS, key=lambda i: scores.get(i, 0.0))
    score = scores.get(best, 0.0)
    asked = next((r.get("name") for r in ranking if r.get("name") not in _NOT_A_QUESTION), None)
    asked_confidence = scores.get(asked, 0.0) if asked else 0.0
    # A general question, a story from the news or a joke is never a clear disclosure (looked for
    # only once something was found: most messages find nothing).
    found = net.assess(text)
    if found:
        tier = "uncertain" if net.is_softened(text) else "clear"
        return DangerReading(tier, found.intent, found.kind, "net", score, scorer, asked, asked_confidence)
    read = thresholds.tier(text, score, scorer)
    # A figure of speech ("dying of laughter") is left to the lexicon, which has already said no;
    # but an idiom never hides what both classifiers are sure of (an idiom's words can sit beside a
    # real threat: "in roblox he says he'll find me and kill me"): that gets the check-in.
    idiom = net.has_idiom(text)
    if idiom and read != "clear":
        return None
    # "Asking for a friend... if someone's brother made them do sexual stuff": a hedged disclosure
    # reads like a general question to both classifiers; framed that way (in words: a laughing
    # emoji marks a joke, not a hedge), a lower score asks.
    if read is None and thresholds.hedged(text, scorer) and net.is_hedged(text):
        read = "uncertain"
    if read is None:
        return None
    # "What age is Telegram for?", "and on Instagram?": a message that only asks about an app holds
    # nothing a half-sure classifier could have heard (app names are frequent in disclosures).
    if read == "uncertain" and only_about_an_app(text):
        return None
    tier = "clear" if read == "clear" and not idiom and not net.is_softened(text) else "uncertain"
    # "My uncle picked me up in his new truck": family or a known adult named, no sign of harm.
    # The classifiers alone never make that a clear disclosure (the check-in still shows the helplines).
    if tier == "clear" and net.only_someone_close(text):
        tier = "uncertain"
    kind = "self_harm" if best == "disclose_self_harm" else "unspecified"
    return DangerReading(tier, best, kind, "model", score, scorer, asked, asked_confidence)


def is_figure_of_speech(text: str, intent: Optional[str], net: DangerNet) -> bool:
    """True when the classifier's disclosure ``intent`` rests on an idiom the lexicon has cleared
    (call only after ``decide`` returned None: the lexicon found nothing)."""
    return intent in DISCLOSURE_INTENTS and net.has_idiom(text)


_SOMEONE = re.compile(
    r"\b(someone|somebody|some1|a guy|a man|a girl|stranger|person|people|account)\b"
    r"|\b[وف]?(واحد|وحده|شخص|احد|حد|حدا|رجال|رجل|يطلب|تطلب|يهدد|يبتز|ابتزاز|تهديد)\b"
)
# "he", "she" are someone too, unless the message is about the writer's own child ("my 10yo... she").
_PRONOUN = re.compile(r"\b(he|she|they|him|her|them)\b|\b[وف]?(هو|هي)\b")
_OWN_CHILD = re.compile(
    r"\bmy (son|daughter|kid|child|boy|girl|\d+ ?(yo|year old|years old))\b|\b[وف]?(ولدي|بنتي|ابني|ابنتي|طفلي)\b"
)


def only_about_an_app(text: str) -> bool:
    """ "What age is Telegram for?", "how do I turn on TikTok's family pairing", "and on Instagram?":
    a short question about an app's age or settings, or only an app and the words around it, that
    names no one who could be doing something."""
    if is_what_about(text):
        return True
    normalized = normalize_for_matching(text)
    if len(normalized.split()) > 10 or _SOMEONE.search(normalized) or not apps_named(text):
        return False
    if _PRONOUN.search(normalized) and not (_OWN_CHILD.search(normalized) or child_age(text) is not None):
        return False
    return asked_about(text, default="") in ("age", "settings")


def _put_first(message: Message, intent: str) -> None:
    ranking = message.get(INTENT_RANKING_KEY) or []
    message.set(INTENT, {"name": intent, "confidence": 1.0}, add_to_output=True)
    others = [r for r in ranking if r.get("name") != intent]
    message.set(INTENT_RANKING_KEY, [{"name": intent, "confidence": 1.0}, *others], add_to_output=True)


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class DangerNetClassifier(GraphComponent):
    """Marks disclosures of harm, clear or uncertain, so that the helplines always follow."""

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        return {
            "check_in_threshold": 0.35,
            "clear_threshold": 0.9,
            "scorer_check_in_threshold": 0.5,
            "scorer_clear_threshold": 0.7,
            "scorer_hedged_threshold": 1.0,
            "lexicon": None,
        }

    def __init__(self, config: Dict[str, Any]) -> None:
        self._thresholds = Thresholds.from_config(config)
        lexicon = config.get("lexicon")
        self._lexicon = Path(lexicon) if lexicon else None

    @classmethod
    def create(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> DangerNetClassifier:
        return cls(config)

    def process(self, messages: List[Message]) -> List[Message]:
        net = DangerNet.load(self._lexicon or get_settings().data_dir / "safety" / "danger.yml")
        for message in messages:
            text = message.get(TEXT) or ""
            ranking = message.get(INTENT_RANKING_KEY) or []
            reading = decide(text, ranking, net, self._thresholds, message.get(PROBABILITY_KEY))
            if reading is None:
                # The net said no: a disclosure intent left on top by DIET (an idiom, a question
                # about an app) must not reach the crisis rules.
                if (message.get(INTENT) or {}).get("name") in DISCLOSURE_INTENTS:
                    _put_first(message, FALLBACK_INTENT)
                continue
            message.set("danger", reading.as_dict(), add_to_output=True)
            if reading.tier == "uncertain":
                _put_first(message, POSSIBLE_DISCLOSURE)
                continue
            _put_first(message, reading.intent)
            entities = [e for e in message.get(ENTITIES, []) if e.get("entity") != "danger_kind"]
            entities.append(
                {
                    "entity": "danger_kind",
                    "value": reading.kind,
                    "start": 0,
                    "end": len(text),
                    "extractor": f"DangerNet:{reading.source}",
                }
            )
            message.set(ENTITIES, entities, add_to_output=True)
        return messages
