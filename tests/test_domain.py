"""Rasa picks at random among *all* conditional variants that match, so for every user at most one
conditional variant of a response may fit; otherwise an Arabic speaker can get English."""

import itertools

import pytest
import yaml

from bot.settings import PROJECT_ROOT

DOMAIN = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))
USERS = list(itertools.product(["ar", "en", None], [None, "child", "teen", "parent", "educator"]))


def _fits(condition: list, slots: dict) -> bool:
    return all(c.get("type") == "slot" and slots.get(c["name"]) == c.get("value") for c in condition)


@pytest.mark.parametrize("name", sorted(DOMAIN["responses"]))
def test_at_most_one_conditional_variant_fits_each_user(name: str) -> None:
    variants = DOMAIN["responses"][name]
    for language, audience in USERS:
        slots = {"language": language, "audience": audience}
        fitting = [v for v in variants if v.get("condition") and _fits(v["condition"], slots)]
        names = {c["name"] for v in variants for c in v.get("condition") or []}
        if names <= {"language", "audience"}:
            assert len(fitting) <= 1, (name, language, audience, len(fitting))
