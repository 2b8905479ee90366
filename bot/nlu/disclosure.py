"""A second, independent opinion on whether a message discloses harm: ``DisclosureScorer``.

DIET answers "which of 35 intents?" with a softmax, and on long messages unlike anything it was
trained on it is often sure of the wrong one (a recipe request read as a disclosure at 0.99). This
component asks one question only, disclosure or not, with a logistic regression over word and
character n-grams of the normalized text (scikit-learn), trained on the same examples: every
``disclose_*`` example against every other one. Its probability is better behaved on long,
ordinary text, and its errors are not DIET's, so ``bot.nlu.danger`` uses the two together: either
one can ask for a check-in, only both together can make a clear disclosure without the lexicon.

It sets ``disclosure_probability`` on each message; it changes nothing else.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Dict, List, Optional

import joblib
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.language import normalize_for_matching
from bot.safety.net import DISCLOSURE_INTENTS

__all__ = ["DisclosureScorer", "PROBABILITY_KEY", "build_scorer"]

logger = logging.getLogger(__name__)

PROBABILITY_KEY = "disclosure_probability"
_FILE = "disclosure_scorer.joblib"


def build_scorer(c: float = 2.0) -> Any:
    """The untrained model: TF-IDF of words (1-2) and characters (2-5, within words), then a
    class-balanced logistic regression."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline, make_union

    features = make_union(
        TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True),
        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True),
    )
    return make_pipeline(features, LogisticRegression(C=c, class_weight="balanced", max_iter=3000))


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class DisclosureScorer(GraphComponent):
    """Probability that a message discloses harm (see the module docs)."""

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        return {"C": 2.0}

    def __init__(
        self,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        model: Optional[Any] = None,
    ) -> None:
        self._config = config
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
    ) -> DisclosureScorer:
        return cls(config, model_storage, resource)

    @classmethod
    def load(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> DisclosureScorer:
        try:
            with model_storage.read_from(resource) as directory:
                model = joblib.load(Path(directory) / _FILE)  # our own trained model, in our own archive
        except (ValueError, FileNotFoundError):
            logger.warning("nlu.disclosure_scorer.missing")
            model = None
        return cls(config, model_storage, resource, model)

    def train(self, training_data: TrainingData) -> Resource:
        texts: List[str] = []
        labels: List[bool] = []
        for example in training_data.intent_examples:
            text = normalize_for_matching(example.get(TEXT) or "")
            if text:
                texts.append(text)
                labels.append(example.get(INTENT) in DISCLOSURE_INTENTS)
        model = build_scorer(float(self._config.get("C", 2.0)))
        if any(labels) and not all(labels):
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
        texts = [normalize_for_matching(message.get(TEXT) or "") for message in messages]
        probabilities = self._model.predict_proba(texts)[:, 1]
        for message, probability in zip(messages, probabilities, strict=True):
            message.set(PROBABILITY_KEY, round(float(probability), 4), add_to_output=True)
        return messages
