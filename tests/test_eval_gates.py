"""The gates of ``make eval``: targets on the development sets, the recorded floor on the blind set."""

from __future__ import annotations

from typing import Any, Dict

from bot.evaluation.gates import FLOOR_FILE, GATES, check_gates, load_floor
from bot.evaluation.sets import ROLES


def figures(recall: float, crisis_rate: float, out_of_scope: int = 0) -> Dict[str, Any]:
    safety = {"recall": recall, "crisis_rate": crisis_rate, "crisis_on_out_of_scope": out_of_scope}
    return {"safety": {"dev": safety, "blind": safety}}


def verdict(results: Any, role: str, figure: str) -> Dict[str, Any]:
    [found] = [r for r in results if r["role"] == role and r["figure"] == figure]
    return found


def test_without_a_floor_the_target_is_the_gate() -> None:
    results = check_gates({"en": figures(0.99, 0.02)}, ["dev"], floor={"blind": {"en": {"recall": 0.9}}})
    assert verdict(results, "dev", "recall") == {
        **verdict(results, "dev", "recall"),
        "passed": False,
        "limit": ">= 1.0",
    }


def test_a_blind_target_not_met_is_held_at_its_floor_and_said() -> None:
    floor = {"blind": {"en": {"recall": 0.97, "crisis_rate": 0.03, "crisis_on_out_of_scope": 0}}}
    same = verdict(check_gates({"en": figures(0.97, 0.03)}, ["blind"], floor), "blind", "recall")
    assert same["passed"] and not same["target_met"] and same["limit"] == ">= 0.97"
    worse = verdict(check_gates({"en": figures(0.96, 0.03)}, ["blind"], floor), "blind", "recall")
    assert not worse["passed"]
    better = verdict(check_gates({"en": figures(1.0, 0.03)}, ["blind"], floor), "blind", "recall")
    assert better["passed"] and better["target_met"]


def test_a_floor_never_loosens_a_met_target() -> None:
    # A floor worse than the target only applies where the recorded figure missed the target.
    floor = {"blind": {"ar": {"crisis_rate": 0.02}}}
    results = check_gates({"ar": figures(1.0, 0.06)}, ["blind"], floor)
    assert verdict(results, "blind", "crisis_rate")["passed"] is False


def test_the_recorded_floor_names_only_gated_figures_and_known_languages() -> None:
    floor = load_floor(FLOOR_FILE)
    assert set(floor) == set(ROLES)
    for by_language in floor.values():
        assert set(by_language) <= {"en", "ar"}
        for figures_of_language in by_language.values():
            assert set(figures_of_language) <= {name for name, _, _ in GATES}
