"""Rasa NLU component: a message that carries a case reference asks about that case.

References are random ("3HXY3EYT"), so the classifier has never seen one and a message such as
"status 3HXY3EYT" sometimes falls to ``nlu_fallback`` or ``affirm``. A reference in the report
format (8 characters from the case alphabet, letters and digits) settles it: the intent becomes
``check_report_status``. Runs before the danger net, so a disclosure still wins.
"""

from __future__ import annotations

from typing import Any, Dict, List

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.cases.reference import find_references

__all__ = ["ReferenceIntent", "STATUS_INTENT"]

STATUS_INTENT = "check_report_status"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class ReferenceIntent(GraphComponent):
    """Sets ``check_report_status`` when a message carries a case reference."""

    @classmethod
    def create(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> ReferenceIntent:
        return cls()

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            if not find_references(message.get(TEXT) or ""):
                continue
            ranking = [r for r in message.get(INTENT_RANKING_KEY) or [] if r.get("name") != STATUS_INTENT]
            message.set(INTENT, {"name": STATUS_INTENT, "confidence": 1.0}, add_to_output=True)
            message.set(INTENT_RANKING_KEY, [{"name": STATUS_INTENT, "confidence": 1.0}, *ranking], add_to_output=True)
        return messages
