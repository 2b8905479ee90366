"""Redis, then PostgreSQL, restarted while users chat through the load balancer (issue 15, point 4).

Two Rasa servers and two action servers behind HAProxy (``bot.cluster``), on a Redis and a
PostgreSQL of their own: throwaway instances on free ports (``bot.services.start_redis`` /
``start_postgres``), so a test can stop and start them and the machine's services are never
touched. While a dozen users chat, the service is stopped for a few seconds and started again.

What a user must see: every message is answered (200 with a reply) or refused with a 503, never a
500 and never silence; an honest "please try again in a moment" is in the user's own language. And
once the service is back: every message that was answered is in its conversation, a report half
filled keeps its answers (and takes the next one), the language and the audience stay, and a
conversation a counselor holds is still held (the bot silent, the message in the case).
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest
import requests

from bot.cases import CaseCipher, CaseStore, Handovers
from bot.cases.crypto import dev_key
from bot.cases.reference import find_references
from bot.cases.schema import engine_for
from bot.content import ContentLibrary
from bot.services import LocalService, start_postgres, start_redis
from bot.settings import PROJECT_ROOT, get_settings
from tests.conftest import API_TOKEN, LOG_DIR, RunningCluster, new_sender, restore_environment

pytestmark = pytest.mark.server

LIB = ContentLibrary.load(get_settings().data_dir)
TRY_AGAIN = {lang: LIB.message("try_again_shortly", lang) for lang in ("en", "ar")}
HELLO = {"en": "hello", "ar": "مرحبا"}
THANKS = {"en": "thank you", "ar": "شكرا"}
REPORT = {"en": "I want to report", "ar": "أبغى أبلغ"}
WHERE = {"en": "on snapchat", "ar": "على سناب شات"}
DOWN_SECONDS = 6.0


@dataclass
class Stack:
    cluster: RunningCluster
    redis: LocalService
    postgres: LocalService
    run_dir: Path
    handovers: Handovers

    def service(self, name: str) -> LocalService:
        return self.redis if name == "redis" else self.postgres


@pytest.fixture(scope="module")
def stack(model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    from bot.cluster import start_cluster, wait_until_ready

    tag = uuid.uuid4().hex[:6]
    redis = start_redis("redis://127.0.0.1:6379/0", PROJECT_ROOT, f"faults-redis-{tag}")
    postgres = start_postgres("postgresql://postgres@127.0.0.1:5432/amaan_faults", PROJECT_ROOT, f"faults-pg-{tag}")
    env = {"REDIS_URL": redis.url, "DATABASE_URL": postgres.url, "RASA_API_TOKEN": API_TOKEN}
    saved = {name: os.environ.get(name) for name in [*env, "RASA_SERVER_URL"]}
    os.environ.update(env)
    get_settings.cache_clear()
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log = open(LOG_DIR / "faults-services.log", "w")  # noqa: SIM115 - closed below
    run_dir = tmp_path_factory.mktemp("faults-services")
    started = start_cluster(2, model_path, run_dir, output=log)
    restore_environment(saved, ["REDIS_URL", "DATABASE_URL"])  # the servers hold their own copy
    running = RunningCluster(started)
    engine = engine_for(postgres.url)
    try:
        if not wait_until_ready(started, timeout=600):
            log.flush()
            pytest.fail("the cluster did not start:\n" + (LOG_DIR / "faults-services.log").read_text()[-5000:])
        store = CaseStore(engine, CaseCipher([dev_key(run_dir)[0]]))
        yield Stack(running, redis, postgres, run_dir, Handovers(store))
    finally:
        running.stopping.set()
        running.thread.join(timeout=5)
        started.stop()
        engine.dispose()
        log.close()
        restore_environment(saved)
        postgres.stop()
        redis.stop()


# --- users ---------------------------------------------------------------------------------------


@dataclass
class User:
    sender: str
    lang: str
    heard: List[Tuple[int, List[str]]] = field(default_factory=list)  # (status, texts) of every message
    accepted: int = 0  # messages answered with a real reply (not "try again")

    def say(self, url: str, text: str) -> Tuple[int, List[str]]:
        try:
            reply = requests.post(
                f"{url}/webhooks/rest/webhook", json={"sender": self.sender, "message": text}, timeout=120
            )
        except requests.RequestException:
            self.heard.append((0, []))  # no answer at all: silence
            return 0, []
        texts = [m.get("text") or "" for m in reply.json()] if reply.status_code == 200 else []
        self.heard.append((reply.status_code, texts))
        if reply.status_code == 200 and texts and TRY_AGAIN[self.lang] not in texts:
            self.accepted += 1
        return reply.status_code, texts

    def say_until_answered(self, url: str, text: str, timeout: float = 120) -> List[str]:
        """What a user does with "try again in a moment": tries again, a second later."""
        deadline = time.monotonic() + timeout
        while True:
            status, texts = self.say(url, text)
            if (status == 200 and texts and TRY_AGAIN[self.lang] not in texts) or time.monotonic() > deadline:
                return texts
            time.sleep(1)

    def problems(self) -> List[str]:
        """Anything a user must never see: a 500 (or any answer but 200 / 503), silence, or the
        other language's "try again"."""
        other = TRY_AGAIN["ar" if self.lang == "en" else "en"]
        found = []
        for status, texts in self.heard:
            if status not in (200, 503):
                found.append(f"status {status}")
            elif status == 200 and not any(texts):
                found.append("silence")
            elif other in texts:
                found.append(f"try-again in the other language ({self.lang} user)")
        return found


def _slots(stack: Stack, sender: str) -> Dict[str, Any]:
    return stack.cluster.tracker(sender).get("slots") or {}


def _reporter(stack: Stack, lang: str, audience: str) -> User:
    """A user half-way through a report: language, audience, who and what already answered."""
    user = User(new_sender(), lang)
    url = stack.cluster.url
    for text in (HELLO[lang], f'/tell_audience{{"audience":"{audience}"}}', REPORT[lang]):
        user.say_until_answered(url, text)
    user.say_until_answered(url, '/inform{"report_reporter":"self"}')
    user.say_until_answered(url, '/inform{"report_harm":"grooming"}')
    slots = _slots(stack, user.sender)
    assert (slots.get("language"), slots.get("audience")) == (lang, audience)
    assert (slots.get("report_reporter"), slots.get("report_harm")) == ("self", "grooming")
    return user


def _held(stack: Stack) -> Tuple[User, str]:
    """A user whose conversation a counselor holds."""
    user = User(new_sender(), "en")
    user.say_until_answered(stack.cluster.url, HELLO["en"])
    reference = find_references("\n".join(user.say_until_answered(stack.cluster.url, "can I talk to a real person")))
    assert reference, "no case was opened"
    assert stack.handovers.claim(reference[-1], "mona") is not None
    status, texts = user.say(stack.cluster.url, "are you there?")
    assert (status, texts) == (200, [])  # held: the bot is silent, the counselor reads it
    return user, reference[-1]


# --- the outage ------------------------------------------------------------------------------------


def _restart_under_load(stack: Stack, name: str) -> None:
    url = stack.cluster.url
    chatters = [User(new_sender(), "ar" if i % 2 else "en") for i in range(8)]
    for user in chatters:
        user.say_until_answered(url, HELLO[user.lang])
    reporters = [_reporter(stack, lang, audience) for lang, audience in (("en", "child"), ("ar", "parent"))]
    held, reference = _held(stack)
    stop = threading.Event()

    def chat(user: User) -> None:
        while not stop.is_set():
            user.say(url, THANKS[user.lang])
            time.sleep(0.2)

    service = stack.service(name)
    # In the user's language: while the conversation cannot be read, the message's own language
    # is the one its answer is given in.
    where = {u.sender: f"{WHERE[u.lang]} zq-{uuid.uuid4().hex[:6]}" for u in reporters}
    with ThreadPoolExecutor(max_workers=len(chatters) + len(reporters)) as pool:
        load = [pool.submit(chat, user) for user in chatters]
        time.sleep(2)
        service.halt()
        halted = time.monotonic()
        # In the outage: the reporters answer the next question (trying again until answered), the
        # held user writes to the counselor.
        # (240 s: under a whole CI run on two cores, recovery can take longer than the default 120 s.)
        answers = [pool.submit(u.say_until_answered, url, where[u.sender], 240) for u in reporters]
        held_during = held.say(url, "hello? zq-during")
        time.sleep(max(0.0, DOWN_SECONDS - (time.monotonic() - halted)))
        service.resume()
        heard_in_outage = [answer.result(timeout=300) for answer in answers]
        time.sleep(5)  # the load goes on after the service is back
        stop.set()
        for future in load:
            future.result(timeout=300)
    # After recovery: everyone gets real answers again.
    for user in chatters:
        texts = user.say_until_answered(url, THANKS[user.lang], timeout=60)
        assert texts and TRY_AGAIN[user.lang] not in texts, f"{name} back, still no answer: {texts}"

    # Never a 500, never silence, "try again" only in the user's language.
    for user in chatters + reporters:
        assert user.problems() == [], f"{name} restart: {user.problems()}"
    assert held_during[0] in (200, 503)
    # Nothing answered was lost: each conversation holds every message that got a real reply.
    for user in chatters:
        events = stack.cluster.tracker(user.sender)["events"]
        said = [e.get("text") for e in events if e.get("event") == "user"]
        assert said.count(THANKS[user.lang]) >= user.accepted - 1, f"{name} restart lost messages"
        assert _slots(stack, user.sender).get("language") == user.lang
    # The reports kept their answers, took the one given in the outage, and go on.
    for user, audience, heard in zip(reporters, ("child", "parent"), heard_in_outage, strict=True):
        # Answered for real (not "try again") in the outage, or the check below could not hold.
        assert heard and TRY_AGAIN[user.lang] not in heard, f"{name}: the outage answer never got a reply: {heard}"
        slots = _slots(stack, user.sender)
        assert (slots.get("language"), slots.get("audience")) == (user.lang, audience)
        assert (slots.get("report_reporter"), slots.get("report_harm")) == ("self", "grooming")
        said = [e.get("text") for e in stack.cluster.tracker(user.sender)["events"] if e.get("event") == "user"]
        assert slots.get("report_where") == where[user.sender], f"{name}: answered {heard}, but stored {said[-3:]}"
        assert stack.cluster.tracker(user.sender).get("active_loop", {}).get("name") == "report_form"
    # Still held: the bot stays silent and the counselor gets the message.
    assert held.say(url, "still there? zq-after") == (200, [])
    said = [m.text for m in stack.handovers.messages(reference) if m.author == "user"]
    assert "still there? zq-after" in said
    case = stack.handovers.store.get(reference)
    assert case is not None and case.held and case.assignee == "mona"


def test_redis_restarted_under_load_costs_no_message_and_no_state(stack: Stack) -> None:
    _restart_under_load(stack, "redis")


def test_postgresql_restarted_under_load_costs_no_message_and_no_state(stack: Stack) -> None:
    _restart_under_load(stack, "postgresql")
