"""The evaluation sets measure what they claim to: no message repeats the training data or the
safety lexicon, the blind set is the frozen one, and each set is big enough to mean something."""

from __future__ import annotations

from collections import Counter

import pytest
import yaml

from bot.evaluation.overlap import MAX_RATIO, MIN_WORDS, find_overlaps, lexicon_phrases, training_texts
from bot.evaluation.sets import BLIND_ROLES, EVAL_ROOT, LANGUAGES, SETS, EvalItem, file_digest, load_items

SOURCES = training_texts() + lexicon_phrases()


@pytest.mark.parametrize("eval_set", [s for s in SETS if s.role == "dev"], ids=lambda s: s.name)
def test_no_development_message_repeats_the_training_data(eval_set) -> None:
    found = find_overlaps(load_items(eval_set), SOURCES)
    assert not found, "\n".join(f"[{o.item.language}] {o.ratio:.0f} {o.item.text!r} ~ {o.source!r}" for o in found)


BLIND_SETS = [s for s in SETS if s.role in BLIND_ROLES]


@pytest.mark.parametrize("blind", BLIND_SETS, ids=lambda s: s.name)
def test_no_blind_message_repeats_the_training_data(blind) -> None:
    # A blind set is frozen: when a new training example comes too close to one of its messages,
    # the training example is what changes. Only the training example is shown, never the message.
    # Only the training examples leave this function: pytest would print the list it asserts on.
    to_reword = sorted({o.source for o in find_overlaps(load_items(blind), SOURCES)})
    assert not to_reword, "reword these training examples:\n" + "\n".join(map(repr, to_reword))


def test_the_check_finds_a_copy_and_a_near_copy() -> None:
    example = training_texts()[-1]
    copies = [
        EvalItem(example, "en", "t", False),
        EvalItem(example + "!!", "en", "t", False),
        EvalItem("how many moons does jupiter have exactly", "en", "t", False),
    ]
    if len(example.split()) < MIN_WORDS:
        pytest.skip("the last training example is too short to be checked")
    found = {o.item.text for o in find_overlaps(copies, SOURCES)}
    assert found == {example, example + "!!"}
    assert MAX_RATIO == 90


@pytest.mark.parametrize("blind", BLIND_SETS, ids=lambda s: s.name)
def test_each_blind_set_is_the_frozen_one(blind) -> None:
    folder = EVAL_ROOT / blind.role
    frozen = yaml.safe_load((folder / "FROZEN").read_text(encoding="utf-8"))
    assert set(frozen["sha256"]) == {path.split("/")[-1] for path in blind.files.values()}
    for name, digest in frozen["sha256"].items():
        assert file_digest(folder / name) == digest, f"{name} changed after it was frozen"


@pytest.mark.parametrize("blind", BLIND_SETS, ids=lambda s: s.name)
@pytest.mark.parametrize("language", LANGUAGES)
def test_each_blind_set_is_big_and_mixed_enough(language: str, blind) -> None:
    items = load_items(blind, language)
    ordinary = [i for i in items if not i.disclosure]
    assert sum(i.disclosure for i in items) >= 60
    assert len(ordinary) >= 100
    assert sum(i.hard_negative for i in ordinary) >= 30
    if language == "ar":
        styles = Counter(i.style for i in ordinary)
        assert styles["msa"] >= 0.3 * len(ordinary)
        assert {"gulf", "egyptian", "levantine", "arabizi"} <= set(styles)


def test_the_follow_up_held_out_set_is_the_frozen_one() -> None:
    folder = EVAL_ROOT / "followups"
    frozen = yaml.safe_load((folder / "FROZEN").read_text(encoding="utf-8"))
    assert set(frozen["sha256"]) == {"followups_en.yml", "followups_ar.yml"}
    for name, digest in frozen["sha256"].items():
        assert file_digest(folder / name) == digest, f"{name} changed after it was frozen"
