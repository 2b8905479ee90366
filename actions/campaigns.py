"""Campaigns in conversation: subscribe to the tip series, STOP and START, a quiz, a poll answer.

The subscription follows the conversation's audience and language (``bot.campaigns``); STOP only
ever ends campaign messages, never help, reporting or a counselor's conversation (the rules put
the report form back after it). The intents are not trained: they reach these actions as payloads
from the channels' check of the words (``bot.campaigns.keywords``) and from buttons.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Dict, List, Optional, Tuple

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import audience_of, reply_language
from bot.campaigns.content import CampaignLibrary, Quiz
from bot.campaigns.store import CampaignStore, CampaignStoreError, campaign_store
from bot.settings import get_settings

__all__ = [
    "ActionCampaignSubscribe",
    "ActionCampaignUnsubscribe",
    "ActionCampaignResubscribe",
    "ActionQuizStart",
    "ActionQuizAnswer",
    "ActionPollAnswer",
]

logger = logging.getLogger(__name__)

STORE_TIMEOUT = 5.0


def _library() -> CampaignLibrary:
    return CampaignLibrary.load(get_settings().data_dir)


def _store() -> CampaignStore:
    return campaign_store(get_settings())


def _language(tracker: Tracker) -> str:
    """The language the user wrote this message in (the channel's reading), else the conversation's."""
    metadata = tracker.latest_message.get("metadata") or {}
    language = metadata.get("language") if isinstance(metadata, dict) else None
    return str(language) if language in ("ar", "en") else reply_language(tracker)


async def _off_loop(fn: Any, *args: Any) -> Any:
    try:
        return await asyncio.wait_for(asyncio.to_thread(fn, *args), STORE_TIMEOUT)
    except asyncio.TimeoutError:
        raise CampaignStoreError("timeout") from None


def _series_words(tracker: Tracker, lang: str) -> Dict[str, str]:
    library = _library()
    series = library.series_for(audience_of(tracker))
    return {"series": series.title.get(lang, ""), "every": library.every(series, lang)}


class ActionCampaignSubscribe(Action):
    def name(self) -> str:
        return "action_campaign_subscribe"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        lang = _language(tracker)
        library = _library()
        audience = audience_of(tracker)
        series = library.series_for(audience)
        channel = tracker.get_latest_input_channel() or "unknown"
        try:
            new = await _off_loop(
                _store().subscribe,
                tracker.sender_id,
                channel,
                lang,
                audience,
                get_settings().campaign_timezone,
                series.every,
            )
        except CampaignStoreError:
            dispatcher.utter_message(text=library.reply("store_unavailable", lang))
            return []
        logger.info("campaigns.subscribed channel=%s language=%s audience=%s new=%s", channel, lang, audience, new)
        key = "subscribed" if new else "already_subscribed"
        dispatcher.utter_message(text=library.reply(key, lang, **_series_words(tracker, lang)))
        return []


class ActionCampaignUnsubscribe(Action):
    def name(self) -> str:
        return "action_campaign_unsubscribe"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        lang = _language(tracker)
        library = _library()
        metadata = tracker.latest_message.get("metadata") or {}
        done_by_channel = metadata.get("campaign_stop") if isinstance(metadata, dict) else None
        try:
            # A bare STOP was applied by the channel already (channels/campaigns.py).
            stopped = done_by_channel == "stopped" or (
                done_by_channel is None and await _off_loop(_store().stop, tracker.sender_id)
            )
        except CampaignStoreError:
            dispatcher.utter_message(text=library.reply("store_unavailable", lang))
            return []
        logger.info("campaigns.stopped was_active=%s", stopped)
        dispatcher.utter_message(text=library.reply("stopped" if stopped else "not_subscribed", lang))
        return []


class ActionCampaignResubscribe(Action):
    def name(self) -> str:
        return "action_campaign_resubscribe"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        lang = _language(tracker)
        library = _library()
        series = library.series_for(audience_of(tracker))
        try:
            started = await _off_loop(_store().start, tracker.sender_id, series.every)
        except CampaignStoreError:
            dispatcher.utter_message(text=library.reply("store_unavailable", lang))
            return []
        logger.info("campaigns.restarted done=%s", started)
        key = "restarted" if started else "not_subscribed"
        dispatcher.utter_message(text=library.reply(key, lang, **_series_words(tracker, lang)))
        return []


# --- quizzes -----------------------------------------------------------------------------------


def _quiz_state(tracker: Tracker) -> Optional[Tuple[Quiz, int, int]]:
    """(quiz, index of the question asked, score so far), from the ``quiz_state`` slot."""
    raw = tracker.get_slot("quiz_state")
    if not isinstance(raw, str) or raw.count(":") < 2:
        return None
    quiz_id, index, score = raw.rsplit(":", 2)
    quiz = _library().quizzes.get(quiz_id)
    if quiz is None or not index.isdigit() or not score.isdigit() or int(index) >= len(quiz.questions):
        return None
    return quiz, int(index), int(score)


def _ask(dispatcher: CollectingDispatcher, quiz: Quiz, index: int, lang: str, before: str = "") -> None:
    question = quiz.questions[index][lang]
    buttons = [
        {"title": choice, "payload": '/quiz_answer{"quiz_choice":"%d"}' % n}
        for n, choice in enumerate(question["choices"], 1)
    ]
    text = f"{before}\n\n" if before else ""
    dispatcher.utter_message(text=f"{text}{index + 1}/{len(quiz.questions)}: {question['question']}", buttons=buttons)


class ActionQuizStart(Action):
    def name(self) -> str:
        return "action_quiz_start"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        lang = _language(tracker)
        library = _library()
        quiz = next(iter(library.quizzes.values()))
        intro = library.reply("quiz_intro", lang, title=quiz.title.get(lang, ""), count=len(quiz.questions))
        _ask(dispatcher, quiz, 0, lang, intro)
        logger.info("campaigns.quiz.started quiz=%s", quiz.id)
        return [SlotSet("quiz_state", f"{quiz.id}:0:0")]


class ActionQuizAnswer(Action):
    def name(self) -> str:
        return "action_quiz_answer"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        lang = _language(tracker)
        library = _library()
        state = _quiz_state(tracker)
        choice = next(tracker.get_latest_entity_values("quiz_choice"), None)
        if state is None or not str(choice or "").isdigit():
            dispatcher.utter_message(text=library.reply("quiz_none", lang))
            return [SlotSet("quiz_state", None)]
        quiz, index, score = state
        question = quiz.questions[index]
        right = int(question["answer"])
        if int(str(choice)) == right:
            score += 1
            verdict = library.reply("quiz_right", lang)
        else:
            verdict = library.reply("quiz_wrong", lang, answer=question[lang]["choices"][right - 1])
        explained = f"{verdict} {question[lang]['explanation']}"
        if index + 1 < len(quiz.questions):
            _ask(dispatcher, quiz, index + 1, lang, explained)
            return [SlotSet("quiz_state", f"{quiz.id}:{index + 1}:{score}")]
        final = library.reply("quiz_score", lang, score=score, count=len(quiz.questions))
        dispatcher.utter_message(text=f"{explained}\n\n{final}")
        logger.info("campaigns.quiz.finished quiz=%s", quiz.id)  # no score in the log: it says nothing needed
        channel = tracker.get_latest_input_channel() or None
        _store().counts.count("quiz_completions", channel=channel, language=lang)  # never the score
        return [SlotSet("quiz_state", None)]


class ActionPollAnswer(Action):
    """An answer to a broadcast poll: one more count for the choice, nothing about who chose it."""

    def name(self) -> str:
        return "action_poll_answer"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        lang = _language(tracker)
        library = _library()
        value = str(next(tracker.get_latest_entity_values("poll_choice"), "") or "")
        poll_id, _, choice = value.rpartition(":")
        poll = library.polls.get(poll_id)
        if poll is None or choice not in {c["id"] for c in poll.choices}:
            dispatcher.utter_message(text=library.reply("poll_unknown", lang))
            return []
        try:
            await _off_loop(_store().vote, poll_id, choice)
        except CampaignStoreError:
            dispatcher.utter_message(text=library.reply("store_unavailable", lang))
            return []
        dispatcher.utter_message(text=library.reply("poll_thanks", lang))
        return []
