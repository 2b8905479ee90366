"""A dialogue policy for the messages whose meaning is in the conversation, not in their words:
"what do I do now?" after a disclosure, "yes" to "are you safe right now?", "and on Instagram?".
The routing itself is ``bot.followups.route``; this wraps it for Rasa.

Why a policy and not trained intents: follow-up intents beside the disclosure intents pulled
disclosures towards them (issue 16's measurements), and every label the classifier learns shifts
the safety net. A policy reads the conversation Rasa already keeps and leaves the NLU model as it
is. It speaks only when ``route`` names an action, with a priority above the rules; otherwise it
abstains and the rules decide as before. After its own action it predicts listening.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from rasa.core.policies.policy import Policy, PolicyPrediction, SupportedData
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker

from bot.followups import ANSWERS, Context, route
from bot.next_steps import TOPIC_HARMS, disclosed_kind, refine_kind

__all__ = ["FollowupPolicy"]


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT], is_trainable=False)
class FollowupPolicy(Policy):
    """Context follow-ups (``bot.followups``) ahead of the rules."""

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        # Above RulePolicy (6): when this policy is sure, its answer is the one wanted.
        return {"priority": 7}

    @staticmethod
    def supported_data() -> SupportedData:
        return SupportedData.ML_DATA

    def train(self, training_trackers: List[TrackerWithCachedStates], domain: Domain, **kwargs: Any) -> Resource:
        return self._resource  # nothing to learn: the routing is written down

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: Optional[Dict[str, Any]] = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        action = self._decide(tracker)
        if action is None or action not in domain.action_names_or_texts:
            return self._prediction(self._default_predictions(domain))
        probabilities = self._default_predictions(domain)
        probabilities[domain.index_for_action(action)] = 1.0
        return self._prediction(probabilities)

    def _decide(self, tracker: DialogueStateTracker) -> Optional[str]:
        message = tracker.latest_message
        if not isinstance(message, UserUttered) or message.text is None:
            return None
        intent = (message.intent or {}).get("name")
        context = Context(
            disclosed=_disclosed(tracker) or TOPIC_HARMS.get(str(tracker.get_slot("topic"))),
            asked_safe=bool(tracker.get_slot("asked_safe")),
            active_loop=tracker.active_loop_name,
        )
        if tracker.latest_action_name == ACTION_LISTEN_NAME:
            return route(intent, message.text, context, float((message.intent or {}).get("confidence") or 0.0))
        # After one of the follow-up actions answered the message, wait for the user.
        if tracker.latest_action_name in ANSWERS and _actions_since_message(tracker) == [tracker.latest_action_name]:
            return ACTION_LISTEN_NAME
        return None


def _disclosed(tracker: DialogueStateTracker) -> Optional[str]:
    events = tracker.applied_events()
    escalations = [e.value for e in events if isinstance(e, SlotSet) and e.key == "escalation"]
    kind = disclosed_kind(
        escalations, tracker.get_slot("danger_check"), tracker.get_slot("danger_kind"), tracker.get_slot("escalation")
    )
    texts = [e.text for e in events if isinstance(e, UserUttered) and e.text and not e.text.startswith("/")]
    return refine_kind(kind, texts[:-1])  # the messages before the one being answered


def _actions_since_message(tracker: DialogueStateTracker) -> List[str]:
    """The actions taken since the latest user message, oldest first."""
    actions: List[str] = []
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            break
        if isinstance(event, ActionExecuted) and event.action_name and event.action_name != ACTION_LISTEN_NAME:
            actions.append(event.action_name)
    return actions[::-1]
