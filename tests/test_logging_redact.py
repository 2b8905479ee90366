"""Message text, phone numbers and e-mail addresses never reach a log line above debug level: the
redaction itself, then the way both servers load it (Rasa's logging set-up in its own order, and a
real action server started with the config file ``make run`` writes)."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Iterator

import pytest
import requests
import yaml

from bot.logging_redact import LOGGING_CONFIG, REDACTED, RedactingFilter, logging_config_file, redact_text
from bot.model import rasa_env
from bot.settings import PROJECT_ROOT, Settings
from tests.conftest import free_port

PHONE = "+966 55 123 4987"
EMAIL = "layla.h@example.com"
TEXT = "he said he will post my photos zq-secret-words"


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        (f"call {PHONE} now", PHONE),
        ("call 0551234987 now", "0551234987"),
        ("call ٠٥٥١٢٣٤٩٨٧ now", "٠٥٥١٢٣٤٩٨٧"),
        ("whatsapp:+966551234987 sent a message", "966551234987"),
        ("call (055) 123-4987", "123-4987"),
        (f"mail {EMAIL} please", EMAIL),
    ],
)
def test_phone_numbers_and_emails_are_redacted(line: str, secret: str) -> None:
    redacted = redact_text(line)
    assert secret not in redacted
    assert REDACTED in redacted


@pytest.mark.parametrize(
    "line",
    [
        "cases.recorded type=case.opened reference=K7P3XM94 risk=urgent",
        "2026-11-28 22:05:50 started at 2026-11-28T22:05:50+00:00",
        "connected to 127.0.0.1:6379 in 12 ms, rasa 3.6.21",
        "port 5005, pid 4711",
    ],
)
def test_what_operators_need_stays(line: str) -> None:
    assert redact_text(line) == line


@pytest.mark.parametrize(
    "line",
    [
        json.dumps({"event": "processor.message.parse", "text": TEXT, "level": "info"}),
        json.dumps({"event": "x", "parse_data_text": TEXT, "user_message": {"text": TEXT}}),
        f"processor.parse text='{TEXT}' intent=greet",
        f'rasa_event={{"event": "user", "text": "{TEXT}"}}',
        f"Received user message '{TEXT}' with intent 'disclose_harm'",
        f"payload {{'text': '{TEXT}', 'intent': 'greet'}}",
    ],
)
def test_message_text_is_redacted(line: str) -> None:
    redacted = redact_text(line)
    assert "zq-secret-words" not in redacted and "photos" not in redacted
    assert REDACTED in redacted


def test_secrets_in_urls_are_redacted() -> None:
    assert (
        redact_text("GET /conversations/x/tracker?token=abc123&x=1")
        == f"GET /conversations/x/tracker?token={REDACTED}&x=1"
    )


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("tests.redact")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield buffer
    logger.removeHandler(handler)


def test_every_record_above_debug_is_redacted(captured: io.StringIO) -> None:
    logger = logging.getLogger("tests.redact")
    logger.info("call back on %s", PHONE)
    logger.warning("slot values %s", {"text": TEXT, "intent": "greet"})
    logger.error("contact %s", EMAIL)
    try:
        raise ValueError(f"could not parse {EMAIL} / {PHONE}")
    except ValueError:
        logger.exception("failed")
    out = captured.getvalue()
    assert PHONE not in out and "4987" not in out and EMAIL not in out and "zq-secret-words" not in out
    assert "Traceback" in out and "ValueError" in out  # the traceback stays, without the address


def test_debug_records_are_left_alone(captured: io.StringIO) -> None:
    logging.getLogger("tests.redact").debug("debugging %s", PHONE)
    assert PHONE in captured.getvalue()


def test_make_run_writes_the_logging_config_and_the_forgetful_tracker_store(tmp_path: Path) -> None:
    from bot.run import write_runtime_config

    paths = write_runtime_config(Settings(conversation_retention_days=7), tmp_path, 5055)
    assert yaml.safe_load(paths["logging"].read_text()) == LOGGING_CONFIG
    endpoints = yaml.safe_load(paths["endpoints"].read_text())
    assert endpoints["tracker_store"] == {
        "type": "bot.cases.conversations.ForgetfulTrackerStore",
        "retention_days": 7,
    }


RASA_LIKE = """
import logging, sys
import structlog
from rasa.utils.common import configure_logging_and_warnings
from rasa.utils.io import configure_colored_logging
from rasa.utils.log_utils import configure_structlog

# The order rasa/__main__.py uses: the config file, then coloredlogs, then structlog.
configure_logging_and_warnings(logging.INFO, sys.argv[1], warn_only_once=True, filter_repeated_logs=True)
configure_colored_logging(logging.INFO)
configure_structlog(logging.INFO)
logging.getLogger("rasa.core.processor").warning("Received user message '{text}' from {phone}")
logging.getLogger("sanic.error").error("request failed for {email}")
structlog.get_logger().info("processor.message", text="{text}", user_message="{text}", phone="{phone}")
logging.getLogger("rasa.core.processor").debug("debug stays {phone}")
"""


def test_the_rasa_server_logging_set_up_redacts(tmp_path: Path) -> None:
    config = logging_config_file(tmp_path / "logging.yml")
    script = RASA_LIKE.format(text=TEXT, phone=PHONE, email=EMAIL)
    result = subprocess.run(
        [sys.executable, "-c", script, str(config)],
        cwd=PROJECT_ROOT,
        env=rasa_env(PROJECT_ROOT),
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-3000:]
    assert "processor.message" in out and "request failed for" in out  # the lines were logged
    above_debug = out.replace(f"debug stays {PHONE}", "")
    for secret in (TEXT, "zq-secret-words", PHONE, EMAIL):
        assert secret not in above_debug, secret


ACTIONS_PACKAGE = """
import logging

logger = logging.getLogger(__name__)
logger.warning("user message '{text}' from {phone}, mail {email}")
"""


def test_a_real_action_server_started_like_make_run_redacts(tmp_path: Path) -> None:
    package = tmp_path / "pii_actions"
    package.mkdir()
    (package / "__init__.py").write_text(textwrap.dedent(ACTIONS_PACKAGE.format(text=TEXT, phone=PHONE, email=EMAIL)))
    config = logging_config_file(tmp_path / "logging.yml")
    port = free_port()
    env = rasa_env(PROJECT_ROOT)
    env["PYTHONPATH"] = f"{tmp_path}:{env['PYTHONPATH']}"
    log = tmp_path / "actions.log"
    with open(log, "w") as out:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "rasa_sdk",
                "--actions",
                "pii_actions",
                "--port",
                str(port),
                "--logging-config_file",
                str(config),
            ],  # fmt: skip
            cwd=PROJECT_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if requests.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                        break
                except requests.ConnectionError:
                    time.sleep(0.3)
            else:
                pytest.fail("action server did not start:\n" + log.read_text()[-3000:])
        finally:
            server.terminate()
            server.wait(timeout=20)
    written = log.read_text()
    assert "user message" in written  # the package was imported and its line logged
    for secret in (TEXT, "zq-secret-words", PHONE, EMAIL):
        assert secret not in written, secret
