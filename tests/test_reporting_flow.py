"""The confidential report, whole conversations over the REST channel against the trained model,
the Rasa server and the action server, started as ``make run`` starts them (``bot.run.start``).

The servers here are a pair of their own (the shared ``bot`` fixture's take whatever environment
the session had): their cases go to a PostgreSQL schema of this module's own, through a TCP relay
the tests can cut ("the database is down"); case events to a Redis stream of their own; counselor
notices to a fake Telegram API at the HTTP boundary. Everything else is real.
"""

from __future__ import annotations

import http.server
import json
import os
import re
import socket
import threading
import uuid
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple
from urllib.parse import urlparse, urlunparse

import pytest
import redis
import yaml
from sqlalchemy import create_engine, text

from actions.report import FORM_SLOTS
from bot.cases import CaseDesk, CaseEvents, CaseStore, CounselorNotifier, generate_key
from bot.cases.availability import CounselorHours
from bot.cases.reference import find_references
from bot.cases.store import Conversation
from bot.content import AUDIENCES, ContentLibrary
from bot.settings import PROJECT_ROOT, Settings, get_settings
from tests.conftest import API_TOKEN, LOG_DIR, Bot, free_port, new_sender, restore_environment, wait_for
from tests.services import postgres_url, redis_url

pytestmark = pytest.mark.server

LIB = ContentLibrary.load(PROJECT_ROOT / "data")
HOURS = CounselorHours.parse(Settings.counselor_hours, Settings.counselor_timezone)
POSTGRES_URL = postgres_url()
REDIS_URL = redis_url()
AUDIENCE_BUTTON = '/tell_audience{"audience":"%s"}'


def texts(replies: List[Dict[str, Any]]) -> str:
    return "\n".join(r.get("text", "") for r in replies)


def payloads(replies: List[Dict[str, Any]]) -> List[str]:
    return [b["payload"] for r in replies for b in r.get("buttons") or []]


class Relay:
    """A TCP relay to PostgreSQL that a test can cut: while it is down, every connection is
    refused mid-handshake and the open ones are dropped, as when the database goes away."""

    def __init__(self, host: str, port: int):
        self.target = (host, port)
        self.port = free_port()
        self._up = threading.Event()
        self._up.set()
        self._open: List[socket.socket] = []
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if not self._up.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def down(self) -> None:
        self._up.clear()
        with self._lock:
            for s in self._open:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self._open.clear()

    def up(self) -> None:
        self._up.set()

    def close(self) -> None:
        self.down()
        self._listener.close()


class FakeTelegram(http.server.ThreadingHTTPServer):
    """The Telegram Bot API, as far as ``sendMessage`` goes: records what it was sent."""

    def __init__(self) -> None:
        self.sent: List[Tuple[str, Dict[str, Any]]] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(handler) -> None:  # noqa: N805 - the server is `self` here
                body = json.loads(handler.rfile.read(int(handler.headers["Content-Length"])))
                self.sent.append((handler.path, body))
                reply = b'{"ok": true, "result": {}}'
                handler.send_response(200)
                handler.send_header("Content-Type", "application/json")
                handler.send_header("Content-Length", str(len(reply)))
                handler.end_headers()
                handler.wfile.write(reply)

            def log_message(handler, *args: Any) -> None:  # noqa: N805
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Reporting:
    """The servers, and what the tests look at behind them: the cases, the stream, the notices."""

    def __init__(self, bot: Bot, store: CaseStore, stream: str, relay: Relay, telegram: FakeTelegram, log: Path):
        self.bot = bot
        self.store = store
        self.stream = stream
        self.relay = relay
        self.telegram = telegram
        self.log = log

    def events(self) -> List[Dict[str, str]]:
        client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
        return [fields for _id, fields in client.xrange(self.stream)]

    def cases_of(self, sender: str) -> List[Any]:
        return self.store.cases_of(Conversation("rest", sender))

    def notices(self) -> List[Dict[str, Any]]:
        return [body for _path, body in self.telegram.sent]


@pytest.fixture(scope="module")
def reporting(model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Reporting]:
    from bot.run import start, stop, wait_until_up

    run_dir = tmp_path_factory.mktemp("reporting-run")

    schema = f"amaan_flow_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_URL, future=True)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    database = urlparse(POSTGRES_URL)
    relay = Relay(database.hostname or "127.0.0.1", database.port or 5432)
    telegram = FakeTelegram()
    key = generate_key()
    stream = f"amaan:cases:flow-{uuid.uuid4().hex[:10]}"
    base = urlunparse(
        database._replace(netloc=f"{database.username or 'postgres'}@127.0.0.1:{relay.port}", path="", query="")
    )
    env = {
        "DATABASE_URL": f"{base}/{POSTGRES_URL.rsplit('/', 1)[1]}?options=-csearch_path%3D{schema}",
        "CASE_ENCRYPTION_KEYS": key,
        "REDIS_URL": REDIS_URL,
        "CASES_STREAM": stream,
        "COUNSELOR_TELEGRAM_BOT_TOKEN": "4242:counselor-test",
        "COUNSELOR_TELEGRAM_CHAT_ID": "-100123",
        "TELEGRAM_API_BASE_URL": telegram.url,
        "RASA_API_TOKEN": API_TOKEN,
    }
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    get_settings.cache_clear()
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log_path = LOG_DIR / "reporting-servers.log"
    log = open(log_path, "w")  # noqa: SIM115 - closed below
    port, actions_port = free_port(), free_port()
    try:
        processes = start(port, actions_port, model_path, output=log, run_dir=run_dir)
    finally:
        restore_environment(saved)
    store = CaseStore.from_url(f"{POSTGRES_URL}?options=-csearch_path%3D{schema}", [key])
    try:
        up = wait_until_up(f"http://localhost:{actions_port}/health", processes, 120) and wait_until_up(
            f"http://localhost:{port}/webhooks/rest/", processes, 300
        )
        if not up:
            log.flush()
            pytest.fail("servers did not start:\n" + log_path.read_text()[-5000:])
        yield Reporting(
            Bot(f"http://localhost:{port}", f"http://localhost:{actions_port}/webhook"),
            store,
            stream,
            relay,
            telegram,
            log_path,
        )
    finally:
        stop(processes)
        log.close()
        store.close()
        relay.close()
        telegram.shutdown()
        redis.Redis.from_url(REDIS_URL).delete(stream)
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def start_chat(bot: Bot, lang: str, audience: Optional[str] = None) -> str:
    sender = new_sender()
    bot.say(sender, "hello" if lang == "en" else "مرحبا")
    if audience:
        bot.say(sender, AUDIENCE_BUTTON % audience)
    return sender


def reference_in(said: str) -> str:
    found = find_references(said)
    assert found, said
    return found[-1]


# --- the whole flow, in both languages and for each audience -------------------------------------

# Typed answers, in each language: who / what / where / when / danger now / contact.
ANSWERS = {
    "en": ["it's about my friend", "it's cyberbullying, mean comments", "on snapchat, user zq_flow_en",
           "yesterday", "no", "here in this chat"],
    "ar": ["صاحبتي", "تنمر وتعليقات سيئة", "في السناب واسمه zq_flow_ar", "امس", "لا", "هنا بالمحادثة"],
}  # fmt: skip
QUESTION = {  # the first words of the first question, for each voice
    ("en", "child"): "Did this happen to you",
    ("en", "grown"): "Who is making this report",
    ("ar", "child"): "هل حدث هذا لك",
    ("ar", "grown"): "من يقدّم هذا البلاغ",
}


@pytest.mark.parametrize("audience", AUDIENCES)
@pytest.mark.parametrize("lang", ["en", "ar"])
def test_a_report_from_start_to_reference(reporting: Reporting, lang: str, audience: str) -> None:
    bot = reporting.bot
    sender = start_chat(bot, lang, audience)
    started = bot.say(sender, "I want to report" if lang == "en" else "أبغى أبلغ")
    assert started[0]["text"] == LIB.message("report_intro", lang, audience)
    voice = "child" if audience == "child" else "grown"
    assert started[-1]["text"].startswith(QUESTION[(lang, voice)])
    assert "/skip" in payloads(started)

    for answer in ANSWERS[lang]:
        replies = bot.say(sender, answer)
    summary = texts(replies)
    assert summary.startswith(LIB.message("report_summary_title", lang))
    assert f"zq_flow_{lang}" in summary
    assert payloads(replies) == ["/affirm", '/inform{"report_confirm":"change"}', "/cancel"]
    assert not reporting.cases_of(sender)  # nothing is sent before "submit"

    done = texts(bot.say(sender, "/affirm"))
    reference = reference_in(done)
    # Committed before the user was told: the case is there, with the queue's metadata in clear.
    case = reporting.store.get(reference)
    assert case is not None
    assert (case.language, case.audience, case.channel, case.status) == (lang, audience, "rest", "received")
    assert case.risk == "normal"  # cyberbullying, nobody in danger now
    answers = reporting.store.contents(reference)["answers"]
    assert answers["reporter"] == "other" and answers["harm"] == "cyberbullying" and answers["contact"] == "chat"
    assert answers["when"] == "this_week" and answers["danger_now"] == "no"
    # What happens next and the official channels, in the user's language, for their age group.
    expected = LIB.message("report_submitted", lang, audience).replace("<reference>", reference)
    assert expected in done
    assert LIB.message("report_contact_chat", lang) in done
    assert LIB.message("report_official_channels", lang, audience) in done
    assert ("Kollona Amn" if lang == "en" else "كلنا أمن") in done and "1919" in done
    # Announced on the stream, and to the counselors' group, with metadata only.
    event = next(e for e in reporting.events() if e["reference"] == reference)
    assert event["type"] == "case.opened" and event["risk"] == "normal" and event["language"] == lang
    assert f"zq_flow_{lang}" not in json.dumps(reporting.events())
    # And the status, asked in the same conversation.
    asked = f"status {reference}" if lang == "en" else f"حالة {reference}"
    assert LIB.message("report_status_received", lang).replace("<reference>", reference) in bot.text(sender, asked)


@pytest.mark.parametrize("answer", ["هنا", "هنا في الشات"])
def test_a_short_answer_the_classifier_takes_for_help_still_answers_the_question(
    reporting: Reporting, answer: str
) -> None:
    # "هنا" ("here") is classified as `help` with high confidence; to "how may a counselor contact
    # you?" it is an answer, and the form moves on to the summary instead of listing what the bot does.
    bot = reporting.bot
    sender = start_chat(bot, "ar", "teen")
    bot.say(sender, "أبغى أبلغ")
    for typed in ANSWERS["ar"][:-1]:
        bot.say(sender, typed)
    replies = bot.say(sender, answer)
    assert texts(replies).startswith(LIB.message("report_summary_title", "ar"))
    assert bot.tracker(sender)["slots"]["report_contact"] == "chat"


def test_asking_for_help_at_a_fixed_choice_question_still_gets_help(reporting: Reporting) -> None:
    bot = reporting.bot
    sender = start_chat(bot, "ar", "teen")
    bot.say(sender, "أبغى أبلغ")
    for typed in ANSWERS["ar"][:-1]:
        bot.say(sender, typed)
    helped = texts(bot.say(sender, "مساعدة"))
    assert LIB.message("report_summary_title", "ar") not in helped
    assert bot.tracker(sender)["slots"]["report_contact"] is None
    assert bot.tracker(sender)["active_loop"]["name"] == "report_form"  # and the form asks again


def test_every_question_can_be_skipped(reporting: Reporting) -> None:
    bot = reporting.bot
    sender = start_chat(bot, "ar", "teen")
    bot.say(sender, "ابي اسوي بلاغ")
    for typed in ["تخطي", "/skip", "ما ابي اجاوب", "مدري", "/skip", "تخطي"]:  # typed and buttons
        replies = bot.say(sender, typed)
    summary = texts(replies)
    assert summary.count(LIB.message("report_value_skipped", "ar")) == 6
    reference = reference_in(texts(bot.say(sender, "/affirm")))
    assert set(reporting.store.contents(reference)["answers"].values()) == {"skipped"}


def test_cancel_leaves_cleanly_and_sends_nothing(reporting: Reporting) -> None:
    bot = reporting.bot
    for lang, cancel in (("en", "cancel"), ("ar", "إلغاء")):
        sender = start_chat(bot, lang, "teen")
        bot.say(sender, "I want to report" if lang == "en" else "أبغى أبلغ")
        bot.say(sender, "/skip")
        # An answer in the user's own words ("something else"), then cancel.
        assert bot.text(sender, "mean comments on tiktok zq" if lang == "en" else "تعليقات في تيك توك zq") != ""
        assert bot.text(sender, cancel) == LIB.message("report_cancelled", lang)
        assert bot.tracker(sender)["active_loop"] in ({}, None)
        assert reporting.cases_of(sender) == []
        # The form is gone: what comes next is an ordinary question.
        assert LIB.advice("privacy", "teen", lang) in bot.text(
            sender, "how do I make a strong password" if lang == "en" else "كيف احمي حسابي من الاختراق"
        )


def test_change_an_answer_before_submitting(reporting: Reporting) -> None:
    bot = reporting.bot
    sender = start_chat(bot, "en", "parent")
    bot.say(sender, "I want to report")
    for answer in ["/skip", "/skip", "on instagram", "/skip", "/deny", '/inform{"report_contact":"none"}']:
        bot.say(sender, answer)
    asked = bot.say(sender, '/inform{"report_confirm":"change"}')
    assert '/inform{"report_change":"report_where"}' in payloads(asked)
    assert bot.text(sender, '/inform{"report_change":"report_where"}').startswith("Where did it happen?")
    summary = bot.text(sender, "on discord, server zq-changed")
    assert "zq-changed" in summary and "on instagram" not in summary
    reference = reference_in(bot.text(sender, "submit"))
    assert reporting.store.contents(reference)["answers"]["where"] == "on discord, server zq-changed"


@pytest.mark.parametrize(("lang", "person"), [("en", "can I talk to a real person"), ("ar", "أبغى أكلم شخص")])
def test_talk_to_a_person_in_the_middle_escalates_straight_away(reporting: Reporting, lang: str, person: str) -> None:
    bot = reporting.bot
    sender = start_chat(bot, lang, "child")
    bot.say(sender, "I want to report" if lang == "en" else "أبغى أبلغ")
    bot.say(sender, '/inform{"report_reporter":"self"}')
    bot.say(sender, '/inform{"report_harm":"grooming"}')
    said = bot.text(sender, person)
    reference = reference_in(said)
    # Nobody is signed in to the console here: the helplines and the counselors' hours, honestly.
    expected = LIB.message("request_human_offline", lang, "child").replace("<reference>", reference)
    assert said == expected.replace("<hours>", HOURS.describe(lang))
    assert "116111" in said and "911" in said
    assert bot.tracker(sender)["active_loop"] in ({}, None)
    contents = reporting.store.contents(reference)
    assert contents["counselor_requested_at"] and contents["answers"] == {"reporter": "self", "harm": "grooming"}
    assert reporting.store.get(reference).risk == "high"  # type: ignore[union-attr]
    assert any(e["reference"] == reference for e in reporting.events())


def test_invalid_answers_are_asked_again_with_a_hint(reporting: Reporting) -> None:
    bot = reporting.bot
    sender = start_chat(bot, "en", "teen")
    bot.say(sender, "I want to report")
    again = bot.say(sender, "🙂🙂")
    assert again[0]["text"] == LIB.message("report_invalid_choice", "en")
    assert again[-1]["text"].startswith("Who is making this report")
    bot.say(sender, "/skip")
    bot.say(sender, "/skip")
    again = bot.say(sender, "!!!")
    assert again[0]["text"] == LIB.message("report_invalid_text", "en")
    assert again[-1]["text"].startswith("Where did it happen?")
    bot.say(sender, "/skip")
    bot.say(sender, "/skip")
    again = bot.say(sender, "purple")
    assert again[0]["text"] == LIB.message("report_invalid_yes_no", "en")
    bot.say(sender, "no")
    bot.say(sender, "by phone please")
    again = bot.say(sender, "12")
    assert again[0]["text"] == LIB.message("report_invalid_phone", "en")
    assert "/skip" in payloads(again)
    summary = bot.text(sender, "+966 55 123 4987")
    assert "+966551234987" in summary
    assert bot.say(sender, "banana")[0]["text"] == LIB.message("report_invalid_confirm", "en")
    reference = reference_in(bot.text(sender, "/affirm"))
    answers = reporting.store.contents(reference)["answers"]
    assert answers["phone"] == "+966551234987" and answers["contact"] == "phone"


def test_someone_in_danger_now_gets_the_emergency_number_at_once_and_an_urgent_case(reporting: Reporting) -> None:
    bot = reporting.bot
    sender = start_chat(bot, "ar", "parent")
    bot.say(sender, "أبغى أبلغ")
    for answer in ["/skip", "/skip", "/skip", "/skip"]:
        bot.say(sender, answer)
    replies = bot.say(sender, "نعم")
    assert replies[0]["text"] == LIB.message("report_danger_now_yes", "ar", "parent")
    assert "911" in replies[0]["text"]
    reference = reference_in(replies[1]["text"])
    case = reporting.store.get(reference)
    assert case is not None and case.risk == "urgent"
    # Even if the user stops here, the urgent case stays.
    bot.say(sender, "إلغاء")
    assert reporting.store.get(reference) is not None
    assert any(e["reference"] == reference and e["risk"] == "urgent" for e in reporting.events())


def test_the_danger_net_opens_an_urgent_case_on_its_own(reporting: Reporting) -> None:
    bot = reporting.bot
    sender = start_chat(bot, "en", "teen")
    replies = bot.say(sender, "someone is blackmailing me, he says he will send my pics to everyone zq-disclosed")
    said = texts(replies)
    assert "911" in said and "116111" in said
    assert replies[-1]["buttons"][0]["payload"] == "/request_human"
    reference = reference_in(replies[-1]["text"])
    case = reporting.store.get(reference)
    assert case is not None and case.risk == "urgent" and case.status == "received"
    contents = reporting.store.contents(reference)
    assert contents["disclosures"][0]["kind"] == "blackmail" and contents["disclosures"][0]["source"] == "net"
    assert "zq-disclosed" in contents["excerpts"][0]["text"]  # the words are kept, encrypted
    assert any(e["reference"] == reference and e["type"] == "case.opened" for e in reporting.events())
    # A report filed afterwards in the same conversation goes into the same case.
    bot.say(sender, "I want to report")
    for answer in ["/skip", "/skip", "/skip", "/skip", "/skip", "/skip"]:
        bot.say(sender, answer)
    assert reference_in(bot.text(sender, "/affirm")) == reference
    assert "report" in reporting.store.contents(reference)["origins"]


def test_a_disclosure_in_the_middle_of_a_report_gets_the_helplines_and_the_report_goes_on(reporting: Reporting) -> None:
    bot = reporting.bot
    sender = start_chat(bot, "ar", "child")
    bot.say(sender, "أبغى أبلغ")
    bot.say(sender, "/skip")
    bot.say(sender, "/skip")
    replies = bot.say(sender, "واحد في السناب يبتزني ويقول بينشر صوري")
    said = texts(replies)
    assert "911" in said and "116111" in said
    reference = reference_in(said)
    assert replies[-1]["text"].startswith("متى حدث ذلك")  # the typed answer was kept; next question
    assert "السناب" in reporting.store.contents(reference)["excerpts"][0]["text"]


def test_the_counselors_group_is_told_metadata_only(reporting: Reporting) -> None:
    bot = reporting.bot
    sender = start_chat(bot, "en", "teen")
    said = texts(bot.say(sender, "i dont want to be alive anymore zq-notice"))
    reference = reference_in(said)
    notice = wait_for(lambda: next((n for n in reporting.notices() if reference in n["text"]), None))
    assert notice is not None
    assert notice["chat_id"] == "-100123" and notice["disable_notification"] is False
    for field in (reference, "urgent", "Language: en", "Channel: rest", "Waiting since"):
        assert field in notice["text"]
    assert all(path == "/bot4242:counselor-test/sendMessage" for path, _ in reporting.telegram.sent)
    assert "zq-notice" not in json.dumps(reporting.notices()) and sender not in json.dumps(reporting.notices())


def test_status_is_answered_only_in_the_conversation_that_filed_it(reporting: Reporting) -> None:
    bot = reporting.bot
    filer = start_chat(bot, "en", "parent")
    reference = reference_in(texts(bot.say(filer, "someone is threatening to leak my nudes")))
    stranger = start_chat(bot, "en", "teen")
    assert bot.text(stranger, f"status {reference}") == LIB.message("report_status_not_found", "en")
    assert bot.text(stranger, "what's the status of my report") == LIB.message("report_status_none", "en")

    desk = CaseDesk(reporting.store, CaseEvents(REDIS_URL, reporting.stream), CounselorNotifier(None, None))
    desk.set_status(reference, "with_counselor")
    event = reporting.events()[-1]
    assert (event["type"], event["reference"], event["status"]) == ("case.status_changed", reference, "with_counselor")
    answer = bot.text(filer, f"status {reference.lower()}")
    assert answer == LIB.message("report_status_with_counselor", "en").replace("<reference>", reference)
    assert bot.tracker(filer)["slots"]["language"] == "en"  # the reference's digits are not Arabizi
    desk.set_status(reference, "closed")
    assert "closed" in bot.text(filer, "any update on my report?")
    arabic = start_chat(bot, "ar", "teen")
    assert bot.text(arabic, f"حالة {reference}") == LIB.message("report_status_not_found", "ar")


def test_delete_my_data(reporting: Reporting) -> None:
    bot = reporting.bot
    sender = start_chat(bot, "ar", "teen")
    said = texts(bot.say(sender, "واحد يهددني ينشر صوري zq-delete-me"))
    reference = reference_in(said)
    asked = bot.say(sender, "احذف بياناتي")
    assert payloads(asked) == ["/affirm", "/deny"]
    assert "لم أحذف شيئاً" in bot.text(sender, "/deny")
    assert "zq-delete-me" in json.dumps(bot.tracker(sender)["events"])  # kept, as asked
    bot.say(sender, "احذف بياناتي")
    assert bot.text(sender, "/affirm") == LIB.message("delete_done", "ar")
    tracker = bot.tracker(sender)
    assert "zq-delete-me" not in json.dumps(tracker) and reference not in json.dumps(tracker)
    assert tracker["slots"]["language"] == "ar"
    # The case stays for the counselors, without the link to this conversation.
    assert reporting.store.get(reference) is not None
    assert reporting.store.conversation_of(reference) is None
    assert bot.text(sender, f"حالة {reference}") == LIB.message("report_status_not_found", "ar")


def test_the_database_down_gets_an_honest_answer_with_the_helplines(reporting: Reporting) -> None:
    bot = reporting.bot
    before = reporting.store.count()
    sender = start_chat(bot, "en", "teen")
    bot.say(sender, "I want to report")
    for answer in ["/skip", "/skip", "on snapchat zq-down", "/skip", "/deny", "/skip"]:
        bot.say(sender, answer)
    reporting.relay.down()
    try:
        failed = texts(bot.say(sender, "/affirm"))
        disclosure = bot.say(sender, "he is blackmailing me right now")
        status = bot.text(sender, "what's the status of my report")
    finally:
        reporting.relay.up()
    assert failed == LIB.message("report_store_failed", "en", "teen")
    assert "NOT been sent" in failed and "911" in failed and "116111" in failed
    assert not find_references(failed)
    # The safety net still answers with the helplines, and claims no case.
    assert "911" in texts(disclosure) and "116111" in texts(disclosure)
    # Nobody can be known to be online while the database is down: no promise of a counselor.
    assert disclosure[-1]["text"] == LIB.message("counselor_offer_unavailable", "en").replace(
        "<hours>", HOURS.describe("en")
    )
    assert status == LIB.message("report_status_failed", "en")
    # Nothing was written, and nothing already written was lost.
    assert reporting.store.count() == before
    assert reporting.cases_of(sender) == []
    # Back up: the next report goes through.
    bot.say(sender, "I want to report")
    for answer in ["/skip", "/skip", "/skip", "/skip", "/skip", "/skip"]:
        bot.say(sender, answer)
    assert reference_in(bot.text(sender, "/affirm"))


def test_the_raw_database_holds_no_readable_report_text(reporting: Reporting) -> None:
    bot = reporting.bot
    sender = start_chat(bot, "en", "teen")
    bot.say(sender, "someone threatens to leak my nudes zq-raw-disclosure")
    bot.say(sender, "I want to report")
    for answer in ["/skip", "/skip", "snap user zq-raw-where", "/skip", "/skip", "by phone", "+966 55 777 1234"]:
        bot.say(sender, answer)
    reference = reference_in(bot.text(sender, "/affirm"))
    assert reporting.store.contents(reference)["answers"]["phone"] == "+966557771234"
    with reporting.store.engine.connect() as conn:
        dump = "\n".join(conn.execute(text("SELECT c::text FROM cases c")).scalars())
    assert reference in dump
    for secret in ("zq-raw", "snap user", "966557771234", "nudes", sender, "blackmail"):
        assert secret not in dump, secret


def test_no_message_text_or_phone_number_in_the_server_logs(reporting: Reporting) -> None:
    logs = reporting.log.read_text()
    assert "safety.disclosure" in logs  # the servers did log what happened, as events
    for secret in ("zq_flow", "zq-", "966557771234", "+966 55", "551234987"):
        assert secret not in logs, secret


# --- what the questions ask, and which variant a user sees ----------------------------------------


def _report_responses() -> Dict[str, List[Dict[str, Any]]]:
    domain = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))
    return {name: variants for name, variants in domain["responses"].items() if name.startswith("utter_ask_report")}


def test_the_form_never_asks_for_a_name_a_school_or_an_image() -> None:
    forbidden = re.compile(r"\bname\b|school|photo|image|picture|screenshot|video|اسمك|مدرس|صور|لقطة|مقطع", re.I)
    for name, variants in _report_responses().items():
        for variant in variants:
            assert not forbidden.search(variant["text"]), (name, variant["text"])
    domain = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))
    assert domain["forms"]["report_form"]["required_slots"] == list(FORM_SLOTS)
    assert {"validate_report_form": {"send_domain": True}} in domain["actions"]


@pytest.mark.parametrize("name", sorted(_report_responses()))
def test_exactly_one_variant_fits_each_user(name: str) -> None:
    """Rasa picks at random among all matching conditional variants, so they must not overlap."""
    variants = _report_responses()[name]
    for language in ("ar", "en"):
        for voice in ("child", "grown"):
            slots = {"language": language, "report_voice": voice}
            matching = [
                v
                for v in variants
                if v.get("condition") and all(slots.get(c["name"]) == c["value"] for c in v["condition"])
            ]
            assert len(matching) <= 1, (name, slots)
            chosen = matching[0] if matching else next(v for v in variants if not v.get("condition"))
            is_arabic = bool(re.search(r"[\u0600-\u06ff]", chosen["text"]))
            assert is_arabic == (language == "ar"), (name, slots, chosen["text"])
