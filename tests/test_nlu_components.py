"""Our Rasa NLU components on their own: normalizer, signals, and the danger decision."""

from typing import Any, Dict, List

import pytest
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.danger import DangerNetClassifier, decide, is_figure_of_speech
from bot.nlu.normalizer import ArabicNormalizer
from bot.nlu.signals import SignalExtractor
from bot.safety.net import DangerNet

NET = DangerNet.load()


def ranking(**scores: float) -> List[Dict[str, Any]]:
    return [{"name": k, "confidence": v} for k, v in sorted(scores.items(), key=lambda kv: -kv[1])]


def test_net_decides_first() -> None:
    assert decide("he is blackmailing me", ranking(greet=0.9), NET, 0.35) == ("disclose_harm", "blackmail", "net")


def test_classifier_catches_what_the_lexicon_misses() -> None:
    text = "something happened and i feel weird about it"
    assert NET.assess(text) is None
    assert decide(text, ranking(ask_grooming=0.5, disclose_harm=0.4), NET, 0.35) == (
        "disclose_harm",
        "unspecified",
        "model",
    )
    # Also when the FallbackClassifier put nlu_fallback on top.
    assert decide(text, ranking(nlu_fallback=0.55, disclose_self_harm=0.36), NET, 0.35)[0] == "disclose_self_harm"


def test_classifier_below_threshold_is_not_a_disclosure() -> None:
    assert decide("tell me about games", ranking(ask_gaming=0.8, disclose_harm=0.2), NET, 0.35) is None


def test_figure_of_speech_needs_the_lexicon() -> None:
    assert decide("i'm dying of boredom", ranking(disclose_self_harm=0.6), NET, 0.35) is None


@pytest.mark.parametrize(
    "text", ["مت من الضحك", "بموت من الجوع متى الغدا", "رح موت من الضحك عليك", "i'm dying of boredom"]
)
def test_a_figure_of_speech_the_classifier_took_for_self_harm_falls_back(text: str) -> None:
    message = _message(
        text,
        **{
            INTENT: {"name": "disclose_self_harm", "confidence": 0.97},
            INTENT_RANKING_KEY: ranking(disclose_self_harm=0.97, thank=0.02),
        },
    )
    DangerNetClassifier({}).process([message])
    assert message.get(INTENT)["name"] == "nlu_fallback"
    assert message.get(INTENT_RANKING_KEY)[0]["name"] == "nlu_fallback"


@pytest.mark.parametrize(
    "text",
    [
        "بموت من الضحك بس امس حاولت اقتل نفسي",  # an idiom beside a disclosure: the lexicon still fires
        "dying of laughter lol but honestly i want to die",
        "اخوي يضربني كل يوم",  # no idiom: the classifier's disclosure stands
    ],
)
def test_a_disclosure_is_never_demoted(text: str) -> None:
    message = _message(
        text,
        **{INTENT: {"name": "disclose_harm", "confidence": 0.9}, INTENT_RANKING_KEY: ranking(disclose_harm=0.9)},
    )
    DangerNetClassifier({}).process([message])
    assert message.get(INTENT)["name"] in ("disclose_harm", "disclose_self_harm")
    assert not is_figure_of_speech(text, "greet", NET)


def _message(text: str, **data: Any) -> Message:
    return Message(data={TEXT: text, **data})


def test_danger_component_overrides_intent_and_adds_kind() -> None:
    message = _message(
        "واحد يبتزني", **{INTENT: {"name": "greet", "confidence": 0.9}, INTENT_RANKING_KEY: ranking(greet=0.9)}
    )
    DangerNetClassifier({}).process([message])
    assert message.get(INTENT) == {"name": "disclose_harm", "confidence": 1.0}
    assert message.get(INTENT_RANKING_KEY)[0]["name"] == "disclose_harm"
    assert {"entity": "danger_kind", "value": "blackmail"}.items() <= message.get(ENTITIES)[0].items()


def test_danger_component_leaves_ordinary_messages_alone() -> None:
    message = _message(
        "كيف احمي ولدي من الابتزاز",
        **{INTENT: {"name": "ask_sextortion", "confidence": 0.9}, INTENT_RANKING_KEY: ranking(ask_sextortion=0.9)},
    )
    DangerNetClassifier({}).process([message])
    assert message.get(INTENT)["name"] == "ask_sextortion"


def test_normalizer_rewrites_text_for_featurizers() -> None:
    message = _message("أَنَا خَائِفَــة")
    ArabicNormalizer().process([message])
    assert message.get(TEXT) == "انا خايفه"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I'm a mum", {"language": "en", "audience": "parent"}),
        ("عمري ١١", {"language": "ar", "audience": "child"}),
        ("🙂", {}),
    ],
)
def test_signal_extractor_entities(text: str, expected: Dict[str, str]) -> None:
    message = _message(text)
    SignalExtractor({}).process([message])
    assert {e["entity"]: e["value"] for e in message.get(ENTITIES, [])} == expected


@pytest.mark.parametrize("text", ["status 3HXY3EYT", "حالة EHGKKAY6", "وش صار على بلاغي J3RG-4A3N"])
def test_a_case_reference_makes_a_status_question(text: str) -> None:
    from bot.nlu.references import ReferenceIntent

    message = _message(text, **{INTENT: {"name": "affirm", "confidence": 0.8}, INTENT_RANKING_KEY: ranking(affirm=0.8)})
    ReferenceIntent().process([message])
    assert message.get(INTENT) == {"name": "check_report_status", "confidence": 1.0}


@pytest.mark.parametrize("text", ["status please", "my password is HELLOWORLD", "call 12345678"])
def test_no_reference_no_change(text: str) -> None:
    from bot.nlu.references import ReferenceIntent

    message = _message(text, **{INTENT: {"name": "affirm", "confidence": 0.8}, INTENT_RANKING_KEY: ranking(affirm=0.8)})
    ReferenceIntent().process([message])
    assert message.get(INTENT)["name"] == "affirm"
