"""The cached validation of action server responses checks exactly what Rasa's own did."""

from __future__ import annotations

from typing import Any, Dict

import jsonschema
import pytest
from rasa.core.actions.action import RemoteAction
from rasa.utils.endpoints import EndpointConfig

import channels  # noqa: F401 - installs the speedup, as the Rasa server does
from bot.rasa_speedups import install

GOOD: Dict[str, Any] = {
    "events": [{"event": "slot", "name": "language", "value": "ar"}],
    "responses": [{"text": "مرحبا", "buttons": [{"title": "a", "payload": "/b"}]}],
}
BAD = [
    {"events": [{"name": "language"}]},  # an event without its type
    {"events": "not a list"},
    {"responses": [{"text": 5}], "events": [{"event": 3}]},
]


def action() -> RemoteAction:
    return RemoteAction("action_give_advice", EndpointConfig("http://localhost:1/webhook"))


def test_it_is_installed_once_by_the_channels_package() -> None:
    first = RemoteAction._validate_action_result
    install()
    assert RemoteAction._validate_action_result is first
    assert getattr(first, "_amaan_cached_validator", False)


def test_a_valid_response_passes() -> None:
    assert action()._validate_action_result(GOOD) is True
    jsonschema.validate(GOOD, RemoteAction.action_response_format_spec())  # and Rasa's own agrees


@pytest.mark.parametrize("bad", BAD)
def test_a_malformed_response_is_refused_as_rasa_refuses_it(bad: Dict[str, Any]) -> None:
    with pytest.raises(jsonschema.ValidationError) as ours:
        action()._validate_action_result(bad)
    with pytest.raises(jsonschema.ValidationError) as theirs:
        jsonschema.validate(bad, RemoteAction.action_response_format_spec())
    assert ours.value.message.startswith(theirs.value.message)
    assert "Failed to validate Action server response" in ours.value.message
