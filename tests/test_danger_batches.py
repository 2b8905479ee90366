"""The lexicon's rules decided by each development batch, and the everyday messages they must leave
alone: one file per batch in ``tests/lexicon_cases/`` (its header says what the batch decided),
sentences written for these tests, never taken from an evaluation set. Each file has up to four lists:

* ``fire``: a clear disclosure of that kind (the crisis reply and an urgent case): the net finds it
  and no softener turns it into a question; when a batch added a rule, the lexicon before it did not
  find these;
* ``quiet``: the net finds nothing (the answer to what was asked);
* ``quiet_or_check_in``: nothing, or a softened hit (a check-in with the helplines, no case);
* ``check_in``: a softened hit: a general question, a lesson, a legal question gets the check-in;
* ``hedged``: framed in words as a general question or a hypothetical, found or not, so that a
  classifier's sure reading of it asks with a check-in instead of the crisis reply.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest
import yaml

from bot.safety.net import DangerNet

CASES = Path(__file__).parent / "lexicon_cases"
LISTS = ("fire", "quiet", "quiet_or_check_in", "check_in", "hedged")


def _batches() -> Dict[str, Dict[str, List[Any]]]:
    found: Dict[str, Dict[str, List[Any]]] = {}
    for path in sorted(CASES.glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        unknown = set(data) - set(LISTS)
        assert not unknown, f"{path.name}: unknown lists {sorted(unknown)}"
        found[path.stem] = data
    return found


BATCHES = _batches()


def _cases(which: str) -> Iterator[Any]:
    for batch, lists in BATCHES.items():
        for case in lists.get(which) or []:
            yield pytest.param(case, id=f"{batch}:{(case['text'] if isinstance(case, dict) else case)[:50]}")


@pytest.mark.parametrize("case", _cases("fire"))
def test_a_clear_disclosure_is_found_with_its_kind(net: DangerNet, case: Dict[str, str]) -> None:
    found = net.assess(case["text"])
    assert found is not None, case["text"]
    assert found.kind == case["kind"]
    assert not net.is_softened(case["text"]), case["text"]


@pytest.mark.parametrize("text", _cases("quiet"))
def test_an_everyday_message_stays_quiet(net: DangerNet, text: str) -> None:
    assert net.assess(text) is None, text


@pytest.mark.parametrize("text", _cases("quiet_or_check_in"))
def test_an_everyday_message_stays_quiet_or_gets_only_a_check_in(net: DangerNet, text: str) -> None:
    assert net.assess(text) is None or net.is_softened(text), text


@pytest.mark.parametrize("text", _cases("check_in"))
def test_a_general_question_gets_a_check_in_not_the_crisis_reply(net: DangerNet, text: str) -> None:
    assert net.assess(text) is not None, text
    assert net.is_softened(text), text


@pytest.mark.parametrize("text", _cases("hedged"))
def test_a_message_framed_as_a_general_question_is_hedged(net: DangerNet, text: str) -> None:
    assert net.is_hedged(text), text  # hedged implies softened (DangerNet._framed)


def test_every_batch_file_has_cases() -> None:
    assert {"batch6", "batch7", "batch8", "batch9"} <= set(BATCHES)
    for batch, lists in BATCHES.items():
        assert lists.get("fire") and (lists.get("quiet") or lists.get("quiet_or_check_in")), batch
