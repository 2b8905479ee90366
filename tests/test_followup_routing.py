"""Which action answers a message in its context (bot.followups), and the policy that applies it
inside Rasa (bot.followup_policy), without a model: the trained servers are tested in
tests/test_followups.py and tests/test_app_guides.py."""

from __future__ import annotations

from typing import Any, Dict, List

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, Event, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.followup_policy import FollowupPolicy
from bot.followups import Context, is_what_about, route
from bot.nlu.danger import only_about_an_app
from bot.settings import PROJECT_ROOT

AFTER_BLACKMAIL = Context(disclosed="sextortion")
NOTHING = Context()


@pytest.mark.parametrize(
    "intent, text",
    [
        ("nlu_fallback", "what do i do now"),
        ("ask_sextortion", "what should i do if he posts them"),
        ("tell_audience", "أنا خايف"),  # the classifier heard someone saying who they are
        ("delete_my_data", "can you delete it"),  # the picture, not the chat
        ("possible_disclosure", "i'm scared"),
        ("followup_already_happened", "i already paid him"),
        ("nlu_fallback", "طيب وش أسوي الحين؟"),
        ("help", "هل أقول لأهلي؟"),
    ],
)
def test_after_a_disclosure_its_questions_get_the_next_steps(intent: str, text: str) -> None:
    assert route(intent, text, AFTER_BLACKMAIL) == "action_next_steps"


@pytest.mark.parametrize(
    "intent, text",
    [
        ("disclose_harm", "he says he will hurt me what do i do"),  # a new disclosure: the crisis reply
        ("disclose_self_harm", "i want to die what should i do"),
        ("request_human", "can i talk to a person, what do i do"),
        ("delete_my_data", "delete my data"),  # the confirmation, as anywhere
        ("delete_my_data", "احذف المحادثة"),
        ("cancel", "cancel"),
        ("unsubscribe_tips", "stop"),
        ("ask_privacy", "how do i make my account private"),  # a new question keeps its own answer
        ("greet", "hi"),
    ],
)
def test_after_a_disclosure_other_messages_keep_their_rules(intent: str, text: str) -> None:
    assert route(intent, text, AFTER_BLACKMAIL) is None


def test_a_form_in_progress_is_never_interrupted() -> None:
    assert route("nlu_fallback", "what do i do now", Context(disclosed="abuse", active_loop="report_form")) is None


def test_yes_or_no_answers_are_you_safe_only_when_it_was_asked() -> None:
    asked = Context(disclosed="abuse", asked_safe=True)
    assert route("deny", "/deny", asked) == "action_safety_answer"
    assert route("affirm", "yes", asked) == "action_safety_answer"
    assert route("affirm", "yes", Context(disclosed="abuse")) is None


def test_what_do_i_do_with_nothing_disclosed_asks_what_happened_but_only_when_unplaced() -> None:
    assert route("nlu_fallback", "what do i do now", NOTHING) == "action_next_steps"
    assert route("ask_cyberbullying", "what should i do about bullies", NOTHING) is None
    assert route("nlu_fallback", "i'm scared of spiders", NOTHING) is None  # not asking what to do


@pytest.mark.parametrize(
    "text",
    [
        "and on instagram?",
        "what about for a 7-year-old?",
        "طيب وبالنسبة ليوتيوب؟",
        "وعلى سناب؟",
        "and for my 9 year old?",
    ],
)
def test_and_on_another_app_or_age_is_a_what_about(text: str) -> None:
    assert is_what_about(text)
    assert route("possible_disclosure", text, NOTHING) == "action_what_about"


@pytest.mark.parametrize(
    "text",
    [
        "and on instagram someone sends me nudes",
        "my uncle on snap",
        "is roblox safe",  # a question of its own
        "what about him",  # no app, no age
        "and on instagram he says he will post them",
    ],
)
def test_a_message_with_more_than_an_app_is_not_a_what_about(text: str) -> None:
    assert not is_what_about(text)


@pytest.mark.parametrize(
    "text",
    [
        "تيليجرام لأي عمر؟",
        "what age is snapchat for?",
        "how do i turn on family pairing on tiktok",
        "and on instagram?",
    ],
)
def test_a_question_only_about_an_app_is_not_heard_as_a_disclosure(text: str) -> None:
    assert only_about_an_app(text)


@pytest.mark.parametrize(
    "text",
    [
        "someone on telegram wants my pics",
        "a guy on snapchat asks how old i am",  # names someone
        "واحد بالتيليجرام يسألني كم عمري",
        "he made my instagram private so i cant tell anyone",
        "what age is right to talk about this",  # no app
    ],
)
def test_a_message_naming_someone_or_no_app_is_left_to_the_net(text: str) -> None:
    assert not only_about_an_app(text)


# --- the policy inside Rasa -----------------------------------------------------------------------

DOMAIN = Domain.load(str(PROJECT_ROOT / "domain.yml"))


def tracker(events: List[Event]) -> DialogueStateTracker:
    return DialogueStateTracker.from_events("policy-test", events, slots=DOMAIN.slots)


def user(text: str, intent: str) -> UserUttered:
    return UserUttered(text, intent={"name": intent, "confidence": 0.9})


def predicted(events: List[Event]) -> str:
    policy = FollowupPolicy(FollowupPolicy.get_default_config(), None, None, _Context())  # type: ignore[arg-type]
    prediction = policy.predict_action_probabilities(tracker(events), DOMAIN)
    if max(prediction.probabilities) == 0:
        return "abstains"
    return DOMAIN.action_names_or_texts[prediction.max_confidence_index]


class _Context:
    is_finetuning = False


DISCLOSED: Dict[str, Any] = {"reason": "disclosure", "kind": "blackmail", "risk": "urgent"}


def test_the_policy_answers_what_now_after_a_disclosure_then_listens() -> None:
    history: List[Event] = [
        ActionExecuted("action_listen"),
        user("he posts my pics unless i pay", "disclose_harm"),
        ActionExecuted("action_danger_support"),
        SlotSet("escalation", DISCLOSED),
        ActionExecuted("action_listen"),
        user("what do i do now", "nlu_fallback"),
    ]
    assert predicted(history) == "action_next_steps"
    assert predicted(history + [ActionExecuted("action_next_steps")]) == "action_listen"


def test_the_policy_abstains_without_context_and_after_other_actions() -> None:
    history: List[Event] = [ActionExecuted("action_listen"), user("how do i block someone", "ask_privacy")]
    assert predicted(history) == "abstains"
    assert predicted(history + [ActionExecuted("action_give_advice")]) == "abstains"


@pytest.mark.parametrize(
    "intent, text, confidence",
    [
        ("affirm", "should i tell someone or is it fine now", 0.51),  # read as "yes"
        ("greet", "is that weird or am i overthinking it", 0.65),
        ("deny", "أرسل له ولا لا", 0.51),
        ("request_human", "أقول للأخصائية بالمدرسة؟", 0.52),  # a person at school, not one of ours
        ("ask_reporting", "should i just block him or will that make him post them", 0.9),
        ("affirm", "طيب وهلق؟", 0.73),
    ],
)
def test_after_a_disclosure_a_question_about_the_situation_gets_the_steps(
    intent: str, text: str, confidence: float
) -> None:
    assert route(intent, text, AFTER_BLACKMAIL, confidence) == "action_next_steps"


@pytest.mark.parametrize(
    "intent, text, confidence",
    [
        ("request_human", "can i talk to a counselor?", 0.95),
        ("request_human", "i want to talk to a real person", 0.6),
        ("thank", "thanks", 0.9),
        ("affirm", "yes", 0.9),  # yes to the counselor offer: the rules
        ("ask_parental_controls", "how do i report him on snapchat?", 0.9),  # that app's answer
    ],
)
def test_after_a_disclosure_asking_for_a_person_or_an_app_keeps_its_answer(
    intent: str, text: str, confidence: float
) -> None:
    assert route(intent, text, AFTER_BLACKMAIL, confidence) is None


@pytest.mark.parametrize(
    "kind, earlier, expected",
    [
        ("grooming", ["my uncle touches me when nobody is home and says its our secret"], "abuse"),
        ("general", ["kids at school made a group chat to make fun of me"], "bullying"),
        ("sextortion", ["البنات بالفصل سوو قروب عشان يتطنزون علي وينزلون صوري فيه"], "bullying"),
        ("sextortion", ["he says he'll leak my pics unless i pay"], "sextortion"),  # not bullying
        ("abuse", ["في واحد سجلني وبيهددني ينشره لو مدفعتش"], "sextortion"),
        ("general", ["لاحظت جروح على ذراع بنتي"], "self_harm"),
        ("general", ["a man online keeps asking what im wearing and says to keep it secret"], "grooming"),
        ("general", ["My son cries because boys in his class call him names and take his lunch money"], "bullying"),
        (None, ["how do i set parental controls"], None),
        ("self_harm", ["they make fun of me at school and i want to die"], "self_harm"),  # self-harm stays
    ],
)
def test_the_harm_is_read_again_from_the_earlier_messages(kind: str, earlier: List[str], expected: str) -> None:
    from bot.next_steps import refine_kind

    assert refine_kind(kind, earlier) == expected


@pytest.mark.parametrize(
    "text, ask",
    [
        ("is roblox ok for my 7 year old", "age"),
        ("my son is 10, is pubg ok for him", "age"),
        ("kam el 3umr el masmoo7 le discord?", "age"),
        ("how do i stop strangers adding me to groups on telegram", "settings"),
        ("كيف بعمل حسابي عالانستا برايفت", "settings"),
        ("is tiktok actually safe for teens", "safety"),
    ],
)
def test_what_an_app_question_asks(text: str, ask: str) -> None:
    from bot.app_guides import asked_about

    assert asked_about(text, default="") == ask


def test_a_parent_asking_about_their_own_childs_app_is_not_a_possible_disclosure() -> None:
    assert only_about_an_app("my 10yo keeps begging for tiktok is she old enough")
    assert not only_about_an_app("he asks how old i am on snapchat")
