"""Our Rasa NLU components on their own: normalizer, signals, and the danger decision."""

from typing import Any, Dict, List

import pytest
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.danger import DangerNetClassifier, Thresholds, decide, is_figure_of_speech
from bot.nlu.disclosure import PROBABILITY_KEY
from bot.nlu.normalizer import ArabicNormalizer
from bot.nlu.signals import SignalExtractor
from bot.safety.net import DangerNet

NET = DangerNet.load()


def ranking(**scores: float) -> List[Dict[str, Any]]:
    return [{"name": k, "confidence": v} for k, v in sorted(scores.items(), key=lambda kv: -kv[1])]


T = Thresholds.from_config(DangerNetClassifier.get_default_config())


def test_net_decides_first() -> None:
    found = decide("he is blackmailing me", ranking(greet=0.9), NET, T, scorer=0.1)
    assert (found.tier, found.intent, found.kind, found.source) == ("clear", "disclose_harm", "blackmail", "net")


@pytest.mark.parametrize(
    "text",
    [
        "what should a teen do if someone is blackmailing them",  # a general question
        "for my school project: what happens when someone is blackmailing you",
        "my sister is blackmailing me to do her chores lol",  # a joke
        "لو احد يبتزني بصوري وش اسوي؟ سؤال عام",
    ],
)
def test_a_lexicon_hit_in_a_general_question_or_a_joke_is_only_uncertain(text: str) -> None:
    assert NET.assess(text) is not None, "the lexicon still reads it"
    found = decide(text, ranking(ask_sextortion=0.9), NET, T, scorer=0.2)
    assert (found.tier, found.source) == ("uncertain", "net")


def test_one_classifier_alone_asks_for_a_check_in() -> None:
    text = "something happened and i feel weird about it"
    assert NET.assess(text) is None
    by_diet = decide(text, ranking(ask_grooming=0.5, disclose_harm=0.4), NET, T, scorer=0.1)
    assert (by_diet.tier, by_diet.intent, by_diet.kind, by_diet.asked) == (
        "uncertain",
        "disclose_harm",
        "unspecified",
        "ask_grooming",
    )
    by_scorer = decide(text, ranking(ask_grooming=0.9, disclose_harm=0.05), NET, T, scorer=0.8)
    assert by_scorer.tier == "uncertain"
    # Also when the FallbackClassifier put nlu_fallback on top.
    assert decide(text, ranking(nlu_fallback=0.55, disclose_self_harm=0.36), NET, T, 0.1).intent == "disclose_self_harm"


def test_both_classifiers_sure_make_a_clear_disclosure_unless_softened() -> None:
    text = "something happened and i feel weird about it"
    assert decide(text, ranking(disclose_harm=0.95), NET, T, scorer=0.9).tier == "clear"
    assert decide(text, ranking(disclose_harm=0.95), NET, T, scorer=0.3).tier == "uncertain"
    assert decide(text + " lol", ranking(disclose_harm=0.95), NET, T, scorer=0.9).tier == "uncertain"


def test_classifiers_below_threshold_are_not_a_disclosure() -> None:
    assert decide("tell me about games", ranking(ask_gaming=0.8, disclose_harm=0.2), NET, T, scorer=0.3) is None


def test_a_hedged_message_asks_at_a_lower_scorer_probability() -> None:
    """ "Asking for a friend...": framed as a general question, the scorer's lower threshold asks."""
    hedged = Thresholds.from_config({**DangerNetClassifier.get_default_config(), "scorer_hedged_threshold": 0.3})
    text = "asking for a friend, if someones cousin does weird stuff at sleepovers is that normal"
    plain = "my cousin and i do weird stuff at sleepovers like prank calls"
    assert NET.assess(text) is None and NET.is_softened(text)
    found = decide(text, ranking(ask_grooming=0.9, disclose_harm=0.01), NET, hedged, scorer=0.35)
    assert (found.tier, found.source) == ("uncertain", "model")
    assert decide(text, ranking(ask_grooming=0.9, disclose_harm=0.01), NET, hedged, scorer=0.25) is None
    # Not framed as a question: the ordinary threshold holds.
    assert not NET.is_softened(plain)
    assert decide(plain, ranking(out_of_scope=0.9, disclose_harm=0.01), NET, hedged, scorer=0.35) is None
    # The default (no hedged threshold configured) changes nothing.
    assert decide(text, ranking(ask_grooming=0.9, disclose_harm=0.01), NET, T, scorer=0.35) is None


def test_a_laughing_emoji_is_a_joke_not_a_hedge() -> None:
    """A laughing emoji keeps a lexicon hit from being a clear disclosure (a joke), but it does not
    frame a message as a general question: only a hedge in words lowers the scorer's threshold."""
    hedged = Thresholds.from_config({**DangerNetClassifier.get_default_config(), "scorer_hedged_threshold": 0.3})
    joke = "my cousin and i stay up all night gaming at his house 😂 what age is fortnite for"
    worded = "asking for a friend, my cousin and i stay up all night at his house, what age is fortnite for"
    assert NET.assess(joke) is None and NET.is_softened(joke) and not NET.is_hedged(joke)
    assert decide(joke, ranking(ask_gaming=0.9, disclose_harm=0.01), NET, hedged, scorer=0.35) is None
    assert NET.is_hedged(worded)
    found = decide(worded, ranking(ask_gaming=0.9, disclose_harm=0.01), NET, hedged, scorer=0.35)
    assert found is not None and found.tier == "uncertain"
    # At the ordinary threshold the emoji changes nothing: the scorer alone still asks.
    assert decide(joke, ranking(ask_gaming=0.9, disclose_harm=0.01), NET, hedged, scorer=0.55).tier == "uncertain"


def test_thresholds_can_differ_by_language() -> None:
    config = {**DangerNetClassifier.get_default_config(), "check_in_threshold": {"en": 0.35, "ar": 0.6}}
    per_language = Thresholds.from_config(config)
    assert per_language.tier("something happened", 0.5, 0.0) == "uncertain"
    assert per_language.tier("صار شي غريب", 0.5, 0.0) is None


def test_figure_of_speech_needs_the_lexicon() -> None:
    assert decide("i'm dying of boredom", ranking(disclose_self_harm=0.6), NET, T, scorer=0.9) is None


@pytest.mark.parametrize(
    "text", ["after football practice my legs are literally dead", "my uncle beat me 3 1 at chess again"]
)
def test_an_idiom_is_never_a_crisis_reply_and_needs_both_classifiers_sure_for_a_check_in(text: str) -> None:
    assert decide(text, ranking(disclose_harm=0.6), NET, T, scorer=0.9) is None
    assert decide(text, ranking(disclose_harm=0.99), NET, T, scorer=0.5) is None
    # Both sure: an idiom's words may sit beside a real threat, so the helplines are shown (no case).
    found = decide(text, ranking(disclose_harm=0.99), NET, T, scorer=0.9)
    assert found is not None and found.tier == "uncertain" and found.source == "model"


def test_an_idiom_beside_a_real_world_threat_does_not_hide_it() -> None:
    # (fifteenth family batch) the game idiom "in roblox … kill me" no longer swallows "find me".
    text = "is this real, a boy in roblox says he will hack my phone and find me and kill me"
    assert not NET.has_idiom(text)
    assert decide(text, ranking(disclose_harm=0.99), NET, T, scorer=0.9).tier == "clear"
    assert NET.has_idiom("a boy in roblox keeps killing me and stealing my stuff")


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
    # Never dropped: a crisis reply, or (beside "lol") a check-in that still gives the helplines.
    assert message.get(INTENT)["name"] in ("disclose_harm", "disclose_self_harm", "possible_disclosure")
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


def test_danger_component_asks_for_a_check_in_and_keeps_what_was_asked() -> None:
    message = _message(
        "what should someone do if they are being blackmailed online",
        **{
            INTENT: {"name": "ask_sextortion", "confidence": 0.9},
            INTENT_RANKING_KEY: ranking(ask_sextortion=0.9),
            PROBABILITY_KEY: 0.2,
        },
    )
    DangerNetClassifier({}).process([message])
    assert message.get(INTENT) == {"name": "possible_disclosure", "confidence": 1.0}
    assert message.get("danger")["asked"] == "ask_sextortion" and message.get("danger")["kind"] == "blackmail"
    assert not [e for e in message.get(ENTITIES, []) if e.get("entity") == "danger_kind"]


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


@pytest.mark.parametrize(
    "text",
    [
        "my grandad taught me to fish at the lake on saturday",
        "our neighbour's son fixed my bike chain yesterday",
        "خالتي علمتني اطبخ مقلوبه يوم الخميس",
        "جارنا صلح سيكلي امس العصر",
        # "the girl" (البنت) is not "the net" (النت) with a prefix, nor Gulf "a lot" (وايد) "and a hand"
        "اخوي يضحك علي عن البنت اللي تعجبني",
        "عمي كريم وايد ويزورنا كل جمعة",
        # nor بنت (a girl) "on the net", بعض (each other) "bit", كام (how many) a cam, درجة (degrees) a stair, ذلك (that) humiliation
        "خالتي جابت بنت امس وسمتها مريم",
        "انا وولد عمي لعبنا خمس مباريات ورا بعض",
        "جدي عايز يعرف الرحلة للغردقة بكام",
        "ماما عايزاني البس جاكيت والجو ٢٥ درجة",
        "زوج أمي يعطيني عشرين درهما مقابل غسل سيارته، ويستغرق ذلك ساعتين",
        # an older sister is not "an older man"; the neighbour next door is not a door he comes through
        "my older sister is teaching me to drive on saturdays",
        "our neighbour next door lent dad his ladder",
        # a possessive without its apostrophe names family too; a sports game is not an online one
        "we had a bbq at my grandads and then lost both games of footy",
        "my aunties new puppy chewed my football boots",
        # "I just wanted to share" news is not sharing pictures
        "i just wanted to share that my stepdad taught me to swim this summer",
        # photo editing (تعديل صور) is software, not pictures of someone
        "ابوي رح يشتريلي برنامج تعديل صور للجامعة",
    ],
)
def test_the_classifiers_alone_never_make_everyday_family_talk_a_clear_disclosure(text: str) -> None:
    """Someone close named, no sign of harm: however sure DIET and the scorer are, a check-in
    (the helplines and a question, no case), never the crisis reply."""
    assert NET.assess(text) is None and NET.only_someone_close(text)
    found = decide(text, ranking(disclose_harm=0.99), NET, T, scorer=0.95)
    assert (found.tier, found.source) == ("uncertain", "model")


@pytest.mark.parametrize(
    "text",
    [
        "my grandad taught me to fish and said not to tell mum what happened in the tent",
        "our neighbour's son keeps messaging me at night",
        "خالتي تقرصني لين يزرق ذراعي",
        "جارنا يقول لي تعال بيتنا لحالك",
        "ولد عمي يكلمني عالنت كل ليلة",
        "عطيت قطوتي لبنت خالتي ومسحت حساباتي كلها",
        "ابن عمي عدل صوري وارسلها للقروب",
        "my uncles mate plays online games with me every night",
        "my uncle wanted to share my photos with his friends",
    ],
)
def test_a_sign_of_harm_keeps_the_crisis_reply_for_a_sure_classifier(text: str) -> None:
    assert not NET.only_someone_close(text)
    found = decide(text, ranking(disclose_harm=0.99), NET, T, scorer=0.95)
    assert found.tier == "clear"


def test_arabizi_family_talk_is_left_to_the_classifiers() -> None:
    """No list covers Arabic in Latin letters: the gate stays out of the way."""
    text = "3ammi wadda-ni el madrasa el sob7"
    assert not NET.only_someone_close(text)
    assert decide(text, ranking(disclose_harm=0.99), NET, T, scorer=0.95).tier == "clear"
