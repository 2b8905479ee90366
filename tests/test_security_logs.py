"""Issue 13, point 5: no secret and no user text in any log line of any of the three processes.

The end-to-end test starts the Rasa server, the action server and the counselor console as
``make run`` does, drives a report whose answers carry known markers (the case is filed and the
counselors' Telegram group is notified, through a fake Telegram API whose URL carries a known bot
token), makes a custom action fail on a tracker full of those answers, fails a sign-in at the
console with a marker for a name, and then searches every line the three processes wrote for the
markers, the bot token and the Rasa API token; ``ps`` must not show the API token either.

The unit tests pin each leak the review found, in this process: httpx's request log of a Bot API
URL, an exception whose message quotes a user (``KeyError('…')``, ``logger.error("%s", error)``),
Rasa's log of a failed action call (``body='b'{…}''``), and the console's process installing the
redaction at all.
"""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any, Iterator, List

import httpx
import pytest
import requests

from bot.cases.notify import CounselorNotifier
from bot.logging_redact import install
from bot.settings import PROJECT_ROOT, get_settings
from tests.conftest import LOG_DIR, free_port, new_sender, restore_environment, wait_for

MARK = f"zqleak{uuid.uuid4().hex[:10]}"
BOT_TOKEN = f"{4_000_000_000 + int(uuid.uuid4().int % 1_000_000)}:AA{uuid.uuid4().hex}{uuid.uuid4().hex[:3]}"
API_TOKEN = f"api{uuid.uuid4().hex}"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """Everything logged at INFO and above in this process, formatted as a handler writes it."""
    install()
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    before = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield out
    finally:
        root.removeHandler(handler)
        root.setLevel(before)


def _case() -> Any:
    from datetime import datetime, timezone

    from bot.cases.store import CaseMeta

    fields = {name: None for name in CaseMeta.__dataclass_fields__}
    fields.update(reference="AMN-TEST1", risk="urgent", language="en", channel="rest", status="received")
    fields.update(created_at=datetime.now(timezone.utc), updated_at=datetime.now(timezone.utc))
    return CaseMeta(**fields)


def test_the_bot_token_in_a_telegram_notice_url_never_reaches_the_log(captured: io.StringIO) -> None:
    logging.getLogger("httpx").setLevel(logging.INFO)  # whatever a deployment sets, the token stays out
    try:
        sent: List[str] = []

        def telegram(request: httpx.Request) -> httpx.Response:  # the Bot API at the HTTP boundary
            sent.append(str(request.url))
            return httpx.Response(200, json={"ok": True, "result": {}})

        notifier = CounselorNotifier(BOT_TOKEN, "-100123", transport=httpx.MockTransport(telegram))
        assert notifier.notify("case.opened", _case())
    finally:
        logging.getLogger("httpx").setLevel(logging.NOTSET)
    assert BOT_TOKEN in sent[0]  # the token was in the URL...
    out = captured.getvalue()
    assert "sendMessage" in out  # ...the URL was logged...
    assert BOT_TOKEN not in out and BOT_TOKEN.split(":")[1] not in out  # ...without it


def test_an_exception_quoting_a_user_is_logged_by_type_only(captured: io.StringIO) -> None:
    logger = logging.getLogger("tests.security")
    try:
        {}[f"my uncle {MARK} hurts me"]
    except KeyError as error:
        logger.exception("action failed")
        logger.error("action failed: %s", error)
        logger.error(error)
    try:
        try:
            raise ValueError(f"first line\n{MARK} on the second line")
        except ValueError as inner:
            raise RuntimeError(MARK) from inner
    except RuntimeError:
        logger.error("chained", exc_info=True)
    out = captured.getvalue()
    assert MARK not in out
    assert "KeyError" in out and "RuntimeError" in out and "ValueError" in out and "Traceback" in out


def test_rasas_log_of_a_failed_action_call_keeps_the_body_out(captured: io.StringIO) -> None:
    from rasa.utils.endpoints import ClientResponseError

    # What rasa_sdk answers when an action raises: the error and the whole tracker it was sent.
    tracker = '{"slots": {"report_where": "on snapchat, user %s"}, "latest_message": {"text": "hi"}}' % MARK
    body = ('{"error": "\'%s\'", "request_body": {"tracker": %s}}' % (MARK, tracker)).encode()
    try:
        raise ClientResponseError(500, "Internal Server Error", body)  # type: ignore[arg-type]
    except ClientResponseError as error:
        logging.getLogger("rasa.core.actions.action").exception("Failed to execute custom action")
        logging.getLogger("rasa.core.processor").error(f"Encountered an exception: {error}")
    out = captured.getvalue()
    assert MARK not in out and "ClientResponseError" in out


CONSOLE_PROCESS = """
import logging
from aiohttp import web
import bot.console.app as console_app

web.run_app = lambda *args, **kwargs: None  # everything main() does, but serving
console_app.main(port=1)
logging.getLogger("aiohttp.server").error("Error handling request", exc_info=KeyError("{mark}"))
logging.getLogger("bot.console").warning("reply to {mark}@example.com")
"""


def test_the_console_process_installs_the_redaction(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONSOLE_", "DATABASE_URL"))}
    env.update(PYTHONPATH=str(PROJECT_ROOT), DATABASE_URL=f"sqlite:///{tmp_path / 'cases.db'}")
    env["CASE_ENCRYPTION_KEYS"] = __import__("bot.cases", fromlist=["generate_key"]).generate_key()
    from cryptography.fernet import Fernet

    env["CONSOLE_SECRET_KEY"] = Fernet.generate_key().decode()
    done = subprocess.run(
        [sys.executable, "-c", CONSOLE_PROCESS.format(mark=MARK)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-3000:]
    assert "Error handling request" in out and "KeyError" in out
    assert MARK not in out


# --- the three processes, end to end ----------------------------------------------------------


@pytest.mark.server
def test_no_secret_or_user_text_in_any_log_line_of_the_three_processes(
    model_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from bot.run import start, stop, wait_until_up
    from tests.test_reporting_flow import FakeTelegram

    telegram = FakeTelegram()
    env = {
        "COUNSELOR_TELEGRAM_BOT_TOKEN": BOT_TOKEN,
        "COUNSELOR_TELEGRAM_CHAT_ID": "-100777",
        "TELEGRAM_API_BASE_URL": telegram.url,
        "RASA_API_TOKEN": API_TOKEN,
        "LOG_LEVEL": "INFO",
    }
    saved = {name: os.environ.get(name) for name in [*env, "DATABASE_URL", "REDIS_URL"]}
    os.environ.update(env)
    os.environ.pop("DATABASE_URL", None)  # SQLite in the run directory
    os.environ.pop("REDIS_URL", None)
    get_settings.cache_clear()
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log_path = LOG_DIR / "security-logs-servers.log"
    run_dir = tmp_path_factory.mktemp("security-logs-run")
    port, actions_port, console_port = free_port(), free_port(), free_port()
    with open(log_path, "w") as log:
        try:
            processes = start(port, actions_port, model_path, output=log, run_dir=run_dir, console_port=console_port)
        finally:
            restore_environment(saved)
        try:
            up = (
                wait_until_up(f"http://localhost:{actions_port}/health", processes, 120)
                and wait_until_up(f"http://localhost:{port}/webhooks/rest/", processes, 300)
                and wait_until_up(f"http://localhost:{console_port}/console/health", processes, 60)
            )
            assert up, log_path.read_text()[-5000:]
            # `ps` shows the Rasa server's command line to every user: no token there.
            for process in processes:
                assert API_TOKEN not in Path(f"/proc/{process.pid}/cmdline").read_text(errors="replace")
            base = f"http://localhost:{port}"
            assert requests.get(f"{base}/status", params={"token": API_TOKEN}, timeout=30).status_code == 200

            # A report whose answers carry the marker, filed: the counselors' group is notified.
            sender = new_sender()
            say = lambda text: requests.post(  # noqa: E731
                f"{base}/webhooks/rest/webhook", json={"sender": sender, "message": text}, timeout=60
            ).json()
            say("hello")
            say('/tell_audience{"audience":"teen"}')
            say("I want to report")
            for answer in ["it's about my friend", f"mean comments about {MARK}", f"on snapchat, user {MARK}",
                           "yesterday", "no", "here in this chat"]:  # fmt: skip
                say(answer)
            say("/affirm")
            assert wait_for(lambda: telegram.sent, 20), "the notice was sent"
            assert BOT_TOKEN in telegram.sent[0][0]  # through a URL that holds the token

            # A custom action failing on a tracker that holds the answers: the action server
            # answers 500 with the whole tracker, and Rasa logs the failure.
            api = f"{base}/conversations/{sender}"
            slot = {"event": "slot", "name": "topic", "value": [MARK]}
            assert requests.post(f"{api}/tracker/events", params={"token": API_TOKEN}, json=slot, timeout=30).ok
            requests.post(
                f"{api}/execute", params={"token": API_TOKEN}, json={"name": "action_give_advice"}, timeout=60
            )

            # A sign-in at the console with the marker for a name and a password.
            console = requests.Session()
            page = console.get(f"http://localhost:{console_port}/console/login", timeout=30).text
            csrf = page.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
            form = {"username": MARK, "password": f"{MARK}-password", "csrf_token": csrf}
            assert (
                console.post(f"http://localhost:{console_port}/console/login", data=form, timeout=30).status_code == 401
            )
        finally:
            stop(processes)
            telegram.shutdown()
    written = log_path.read_text(errors="replace")
    # It all happened (so that a clean log means something)...
    assert "cases.recorded" in written and "console.sign_in.failed" in written
    # the failing action: Rasa's own line, or, with the no-action-server fallback (bot.action_fallback)
    # answering the user instead, its line
    assert (
        "Encountered an exception while running action 'action_give_advice'" in written
        or "actions.unreachable action=action_give_advice" in written
    )
    # ...and no line of any process holds the marker, the bot token or the API token.
    for line in written.splitlines():
        for secret in (MARK, BOT_TOKEN, BOT_TOKEN.split(":")[1], API_TOKEN):
            assert secret not in line, line
