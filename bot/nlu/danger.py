"""Rasa NLU component that combines the danger net with the intent classifier.

Runs last in the pipeline, after the FallbackClassifier. A message is a disclosure when the
lexicon net finds one, or when the classifier gives a disclosure intent at least
``model_threshold`` anywhere in its ranking (also when the FallbackClassifier has replaced it
with ``nlu_fallback``), unless the message holds a figure of speech from the lexicon's idioms:
recall beats precision. The intent becomes ``disclose_harm`` or
``disclose_self_harm`` with confidence 1.0 and a ``danger_kind`` entity names the kind.

The same rule holds the other way: when the classifier's own top intent is a disclosure but the
message is a figure of speech ("مت من الضحك", "dying of boredom") and the lexicon, which reads the
rest of the message with the idiom blanked out, finds nothing, the intent becomes ``nlu_fallback``
(an honest "I'm not sure I understood"), not a crisis reply.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.safety.net import DISCLOSURE_INTENTS, DangerNet
from bot.settings import get_settings

__all__ = ["DangerNetClassifier", "decide", "is_figure_of_speech"]


def decide(
    text: str, ranking: List[Dict[str, Any]], net: DangerNet, model_threshold: float
) -> Optional[Tuple[str, str, str]]:
    """(intent, kind, source) when ``text`` is a disclosure, else None. ``source`` is net or model."""
    found = net.assess(text)
    if found:
        return found.intent, found.kind, "net"
    scores = {r.get("name"): r.get("confidence") or 0.0 for r in ranking}
    best = max(DISCLOSURE_INTENTS, key=lambda i: scores.get(i, 0.0))
    # A figure of speech ("dying of laughter") is left to the lexicon, which has already said no.
    if scores.get(best, 0.0) >= model_threshold and not net.has_idiom(text):
        return best, "self_harm" if best == "disclose_self_harm" else "unspecified", "model"
    return None


def is_figure_of_speech(text: str, intent: Optional[str], net: DangerNet) -> bool:
    """True when the classifier's disclosure ``intent`` rests on an idiom the lexicon has cleared
    (call only after ``decide`` returned None: the lexicon found nothing)."""
    return intent in DISCLOSURE_INTENTS and net.has_idiom(text)


FALLBACK_INTENT = "nlu_fallback"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class DangerNetClassifier(GraphComponent):
    """Marks disclosures of harm so that the safety reply always follows."""

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        return {"model_threshold": 0.35, "lexicon": None}

    def __init__(self, config: Dict[str, Any]) -> None:
        self._threshold = float(config.get("model_threshold", 0.35))
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
            ranking = message.get(INTENT_RANKING_KEY) or []
            decision = decide(message.get(TEXT) or "", ranking, net, self._threshold)
            if not decision:
                intent_name = (message.get(INTENT) or {}).get("name")
                if is_figure_of_speech(message.get(TEXT) or "", intent_name, net):
                    message.set(INTENT, {"name": FALLBACK_INTENT, "confidence": 1.0}, add_to_output=True)
                    others = [r for r in ranking if r.get("name") != FALLBACK_INTENT]
                    fallback = {"name": FALLBACK_INTENT, "confidence": 1.0}
                    message.set(INTENT_RANKING_KEY, [fallback, *others], add_to_output=True)
                continue
            intent, kind, source = decision
            message.set(INTENT, {"name": intent, "confidence": 1.0}, add_to_output=True)
            others = [r for r in ranking if r.get("name") != intent]
            message.set(INTENT_RANKING_KEY, [{"name": intent, "confidence": 1.0}, *others], add_to_output=True)
            entities = [e for e in message.get(ENTITIES, []) if e.get("entity") != "danger_kind"]
            entities.append(
                {
                    "entity": "danger_kind",
                    "value": kind,
                    "start": 0,
                    "end": len(message.get(TEXT) or ""),
                    "extractor": f"DangerNet:{source}",
                }
            )
            message.set(ENTITIES, entities, add_to_output=True)
        return messages
