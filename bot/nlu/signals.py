"""Rasa NLU component that reads who is chatting and which language to answer in.

Both come from lexicons in ``data/lexicons/`` rather than from trained entities: "I'm a mum",
"أنا معلمة" or "عمري ١١" must work the first time, in both languages. Emits the entities
``audience`` (child | teen | parent | educator) and ``language`` (ar | en), which fill the slots of
the same names.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.settings import get_settings
from bot.signals import Signals

__all__ = ["SignalExtractor"]


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False)
class SignalExtractor(GraphComponent):
    """Adds ``language`` and ``audience`` entities read from lexicons."""

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        return {"lexicon_dir": None}

    def __init__(self, config: Dict[str, Any]) -> None:
        lexicon_dir = config.get("lexicon_dir")
        self._lexicon_dir = Path(lexicon_dir) if lexicon_dir else None

    @classmethod
    def create(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SignalExtractor:
        return cls(config)

    def process(self, messages: List[Message]) -> List[Message]:
        signals = Signals.load(self._lexicon_dir or get_settings().data_dir / "lexicons")
        for message in messages:
            text = message.get(TEXT) or ""
            found = {"language": signals.language(text), "audience": signals.audience(text)}
            entities = [e for e in message.get(ENTITIES, []) if e.get("entity") not in found]
            for name, value in found.items():
                if value:
                    entities.append(
                        {
                            "entity": name,
                            "value": value,
                            "start": 0,
                            "end": len(text),
                            "confidence_entity": 1.0,
                            "extractor": "SignalExtractor",
                        }
                    )
            message.set(ENTITIES, entities, add_to_output=True)
        return messages
