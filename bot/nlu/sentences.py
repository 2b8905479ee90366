"""Long messages read sentence by sentence: ``LongMessageTopics``.

Parents write paragraphs ("My daughter is 12 and all her friends have TikTok. She keeps asking. I
read about strangers messaging kids. How do I set it up so only friends can talk to her?"), with
the question last. DIET reads the whole paragraph as one bag of n-grams, and the story around the
question pulls it towards other topics or below the fallback threshold: topic accuracy on messages
of 15 words or more was 10–20 points below short ones (``make eval``).

This component runs after the danger component and looks only at long messages that nobody read
as a disclosure: it scores each sentence with a logistic regression over word and character n-grams
trained on the same examples (one class per topic intent, and ``other`` for every other intent),
and when one sentence is clearly about a topic and DIET was not sure of the message (its intent is
the fallback, out of scope, or a topic at a lower confidence than the sentence's), the intent
becomes that topic. Disclosures and everything the safety net decided are never touched, but a
check-in (the net unsure) on a long message takes its clearest sentence's topic as what the message
asked, when that is clearer (``check_in_threshold``) than DIET's reading of the whole: the check-in
then also answers it (``actions/check_in.py``).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import joblib
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.language import normalize_for_matching
from bot.nlu.disclosure import build_scorer

__all__ = ["LongMessageTopics", "asks", "sentences"]

logger = logging.getLogger(__name__)

_FILE = "long_message_topics.joblib"
OTHER = "other"
# Intents DIET may give a long message that a clearer sentence may replace.
_UNSURE = frozenset({"nlu_fallback", "out_of_scope"})
_SPLIT = re.compile(r"(?<=[.!?؟\n])\s+|[\n;؛]+|\s+(?:but|so|anyway|بس|لكن|المهم|فـ)\s+")


# A sentence that asks: a question mark, or a question word first ("how do I…", "any tips…", "كيف",
# "وش", "ازاي", Arabizi "kif", "ezay").
_ASKS = re.compile(
    r"[?؟]|^\W*(how|what|whats|which|when|where|who|why|is|are|can|could|should|would|do|does|did|any|tips|"
    r"advice|كيف|هل|وش|ايش|شو|ماذا|ما هي|ما هو|كم|متي|متى|ليش|لماذا|ممكن|اقدر|أقدر|ازاي|إزاي|نصيحه|نصيحة|"
    r"kif|kef|shu|sho|ezay|ezzay|wesh|chno|kifach)\b",
    re.IGNORECASE,
)


def asks(sentence: str) -> bool:
    """True when the sentence is a question (see ``_ASKS``)."""
    return bool(_ASKS.search(sentence))


def sentences(text: str) -> List[str]:
    """The sentences of a message, each of three words or more."""
    return [part.strip() for part in _SPLIT.split(text) if part and len(part.split()) >= 3]


def is_topic(intent: Optional[str]) -> bool:
    return bool(intent) and str(intent).startswith("ask_")


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class LongMessageTopics(GraphComponent):
    """The topic of a long message from its clearest sentence (see the module docs)."""

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        return {"min_words": 15, "threshold": 0.6, "check_in_threshold": 0.6, "C": 4.0}

    def __init__(
        self, config: Dict[str, Any], model_storage: ModelStorage, resource: Resource, model: Optional[Any] = None
    ) -> None:
        self._config = {**self.get_default_config(), **config}
        self._storage = model_storage
        self._resource = resource
        self._model = model

    @classmethod
    def create(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> LongMessageTopics:
        return cls(config, model_storage, resource)

    @classmethod
    def load(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> LongMessageTopics:
        try:
            with model_storage.read_from(resource) as directory:
                model = joblib.load(Path(directory) / _FILE)  # our own trained model, in our own archive
        except (ValueError, FileNotFoundError):
            logger.warning("nlu.long_message_topics.missing")
            model = None
        return cls(config, model_storage, resource, model)

    def train(self, training_data: TrainingData) -> Resource:
        texts: List[str] = []
        labels: List[str] = []
        for example in training_data.intent_examples:
            text = normalize_for_matching(example.get(TEXT) or "")
            if text:
                intent = example.get(INTENT)
                texts.append(text)
                labels.append(intent if is_topic(intent) else OTHER)
        model = build_scorer(float(self._config["C"]))
        if len(set(labels)) > 1:
            model.fit(texts, labels)
            self._model = model
        with self._storage.write_to(self._resource) as directory:
            joblib.dump(self._model, Path(directory) / _FILE)
        return self._resource

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        if self._model is None:
            return messages
        for message in messages:
            danger = message.get("danger")
            if danger:
                self._check_in_topic(message, danger)
                continue
            found = self._clearest_topic(message)
            if found:
                topic, probability = found
                ranking = [r for r in message.get(INTENT_RANKING_KEY) or [] if r.get("name") != topic]
                message.set(INTENT, {"name": topic, "confidence": probability}, add_to_output=True)
                message.set(
                    INTENT_RANKING_KEY, [{"name": topic, "confidence": probability}, *ranking], add_to_output=True
                )
        return messages

    def _check_in_topic(self, message: Message, danger: Dict[str, Any]) -> None:
        """A check-in on a long message (the safety net unsure) answers what the message asked: the
        topic of its clearest sentence, when that is clearer than DIET's reading of the whole. Which
        reply is given (the check-in, the helplines) is the safety net's and never changes here."""
        if danger.get("tier") != "uncertain":
            return
        # Its questions only: the story around them may be the very thing the check-in asks about
        # ("my uncle ties my hands when he punishes me") and is not a topic to advise on.
        found = self._sentence_topic(message.get(TEXT) or "", questions_only=True)
        if found is None or found[1] < float(self._config["check_in_threshold"]):
            return
        # DIET may have read the same topic, but too unsure of it to answer (ANSWER_WITH_CHECK_IN).
        if is_topic(danger.get("asked")) and float(danger.get("asked_confidence") or 0.0) >= found[1]:
            return
        message.set("danger", {**danger, "asked": found[0], "asked_confidence": found[1]}, add_to_output=True)

    def _clearest_topic(self, message: Message) -> Optional[Tuple[str, float]]:
        text = message.get(TEXT) or ""
        intent = message.get(INTENT) or {}
        name, confidence = intent.get("name"), float(intent.get("confidence") or 0.0)
        if name not in _UNSURE and not is_topic(name):
            return None  # a greeting, a report answer, a case reference...: not ours to change
        best = self._sentence_topic(text)
        if best is None:
            return None
        if is_topic(name) and (name == best[0] or confidence >= best[1]):
            return None
        return best

    def _sentence_topic(self, text: str, questions_only: bool = False) -> Optional[Tuple[str, float]]:
        """The topic of the clearest sentence of a long message (of its questions only, when asked),
        at the threshold or above."""
        if self._model is None or len(text.split()) < int(self._config["min_words"]) or text.startswith("/"):
            return None
        # Each sentence, and the whole message (one long sentence is read whole, by a model that
        # fails otherwise than DIET).
        parts = [part for part in [*sentences(text), text] if asks(part) or not questions_only]
        if not parts:
            return None
        parts = [normalize_for_matching(part) for part in parts]
        probabilities = self._model.predict_proba(parts)
        classes = list(self._model.classes_)
        best: Optional[Tuple[str, float]] = None
        for row in probabilities:
            for index, probability in enumerate(row):
                label = classes[index]
                if label != OTHER and (best is None or probability > best[1]):
                    best = (label, float(probability))
        if best is None or best[1] < float(self._config["threshold"]):
            return None
        return best[0], round(best[1], 4)
