"""Issue 13, point 1: the action server answers only the Rasa server.

Against the action server ``make run`` starts (``bot.run.start``): bound to the loopback interface,
and every call but the health check needs the shared secret (``bot.action_server``); the Rasa
server sends it, so conversations still reach their actions.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import pytest
import requests
import yaml

from bot.action_server import MIN_ACTION_TOKEN_CHARS, action_headers, action_server_token
from bot.cases import FORGET_ACTION
from bot.settings import Settings
from tests.conftest import Bot, new_sender

pytestmark = pytest.mark.server


def forged_call(sender: str) -> dict:
    """What an attacker would post: a made-up tracker asking to delete a child's data."""
    return {
        "next_action": FORGET_ACTION,
        "sender_id": sender,
        "version": "3.6.21",
        "tracker": {"sender_id": sender, "slots": {}, "latest_message": {}, "events": [], "paused": False},
        "domain": {},
    }


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic abc"}, {"X-Token": "anything"}],
    ids=["none", "wrong", "basic", "other-header"],
)
def test_an_action_call_without_the_secret_is_refused(bot: Bot, headers: dict) -> None:
    reply = requests.post(bot.actions_url, json=forged_call(new_sender()), headers=headers, timeout=30)
    assert reply.status_code == 401
    assert reply.json() == {"error": "missing or wrong bearer token"}
    listing = requests.get(bot.actions_url.replace("/webhook", "/actions"), headers=headers, timeout=30)
    assert listing.status_code == 401  # not even which actions exist


def test_the_secret_opens_the_door_and_health_needs_none(bot: Bot) -> None:
    headers = action_headers(bot.action_token())
    unknown = dict(forged_call(new_sender()), next_action="action_that_does_not_exist")
    reply = requests.post(bot.actions_url, json=unknown, headers=headers, timeout=30)
    assert reply.status_code == 404  # past the door, the SDK itself answers
    assert requests.get(bot.actions_url.replace("/webhook", "/health"), timeout=30).status_code == 200


def test_the_rasa_server_sends_the_secret_by_name(bot: Bot) -> None:
    """A conversation whose reply comes from a custom action works, and endpoints.yml names the
    variable, never the secret."""
    sender = new_sender()
    bot.say(sender, "hello")
    assert bot.say(sender, "delete my data")  # action_delete_my_data, through the action server
    assert bot.run_dir is not None
    endpoints = (bot.run_dir / "endpoints.yml").read_text()
    assert bot.action_token() not in endpoints
    assert yaml.safe_load(endpoints)["action_endpoint"]["headers"] == {"Authorization": "Bearer ${ACTION_SERVER_TOKEN}"}


def _listening_addresses(port: int) -> set:
    """The local IPv4/IPv6 addresses with a socket listening on ``port`` (from /proc/net)."""
    found = set()
    for table in (Path("/proc/net/tcp"), Path("/proc/net/tcp6")):
        for line in table.read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:
                found.add(address)
    return found


def test_the_action_server_listens_on_loopback_only(bot: Bot) -> None:
    port = urlparse(bot.actions_url).port
    assert port is not None
    addresses = _listening_addresses(port)
    assert addresses == {"0100007F"}  # 127.0.0.1; never 00000000 (every interface)


def test_production_refuses_to_start_without_a_long_secret(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="ACTION_SERVER_TOKEN"):
        action_server_token(Settings(environment="production"), tmp_path)
    with pytest.raises(RuntimeError, match="at least"):
        action_server_token(Settings(environment="production", action_server_token="short"), tmp_path)
    long = "x" * MIN_ACTION_TOKEN_CHARS
    assert action_server_token(Settings(environment="production", action_server_token=long), tmp_path) == long
    # Development: one generated token, owner-only, the same on every call.
    first = action_server_token(Settings(), tmp_path)
    assert len(first) >= MIN_ACTION_TOKEN_CHARS and action_server_token(Settings(), tmp_path) == first
    assert (tmp_path / "action_server.token").stat().st_mode & 0o077 == 0
