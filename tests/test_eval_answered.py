"""``make eval``'s "topic answered in the first reply": what the user sees, not only the intent.

A check-in that also answers the topic (``actions/check_in.py``) counts as an answer when it answers
the topic the message asked, sure enough of it (an app named: with that app's guide or reporting
steps, since 2026-12-08). Everything else a check-in or a wrong topic gives is not an answer."""

from __future__ import annotations

import pytest

from bot.evaluation.measure import Reading, answered, topic_figures
from bot.evaluation.sets import EvalItem
from bot.safety.net import ANSWER_WITH_CHECK_IN


def _reading(text: str, intent: str, reply: str = "none", asked: str = "", confidence: float = 0.0) -> Reading:
    item = EvalItem(text, "en", "test", False, intent="ask_sextortion")
    return Reading(item, intent, reply, None, 0.0, asked=asked or None, asked_confidence=confidence)


@pytest.mark.parametrize(
    ("reading", "expected"),
    [
        (_reading("what is sextortion and how do I warn my son", "ask_sextortion"), True),
        (_reading("what is sextortion and how do I warn my son", "ask_grooming"), False),
        (
            _reading(
                "what should a boy do if someone threatens to post his pictures",
                "possible_disclosure",
                "check_in",
                "ask_sextortion",
                ANSWER_WITH_CHECK_IN,
            ),
            True,
        ),
        (
            _reading(
                "what should a boy do if someone threatens to post his pictures",
                "possible_disclosure",
                "check_in",
                "ask_sextortion",
                ANSWER_WITH_CHECK_IN - 0.01,
            ),
            False,
        ),
        (
            _reading(
                "what should a boy do if someone threatens to post his pictures",
                "possible_disclosure",
                "check_in",
                "ask_grooming",
                0.9,
            ),
            False,
        ),
        (
            _reading(
                "what should a boy do if someone on snapchat threatens to post his pictures",
                "possible_disclosure",
                "check_in",
                "ask_sextortion",
                0.9,
            ),
            True,
        ),
    ],
)
def test_a_topic_is_answered_when_the_user_gets_its_advice(reading: Reading, expected: bool) -> None:
    assert answered(reading) is expected


def test_topic_figures_report_both_accuracy_and_answers() -> None:
    readings = [
        _reading("what is sextortion and how do I warn my son", "ask_sextortion"),
        _reading(
            "what if someone threatens to post a boy's pictures",
            "possible_disclosure",
            "check_in",
            "ask_sextortion",
            0.8,
        ),
        _reading("what if someone threatens to post a boy's pictures", "nlu_fallback"),
    ]
    short = topic_figures(readings)["short"]
    assert short == {"n": 3, "accuracy": round(1 / 3, 4), "answered": round(2 / 3, 4)}
