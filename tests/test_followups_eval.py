"""The follow-up measurement judges the last turn by the answer the actions recorded, and prints only
aggregate figures (``bot.evaluation.followups``)."""

from __future__ import annotations

from pathlib import Path

from bot.evaluation.followups import Conversation, judge, load_conversations, summarize


def bot(answer: str = "", action: str = "") -> dict:
    return {"event": "bot", "text": "whatever was said", "metadata": {"answer": answer, "utter_action": action}}


def test_judging_a_kind_an_app_and_a_fallback() -> None:
    sextortion = Conversation("en", ["he wants money for my pics", "what now"], {"kind": "sextortion"})
    assert judge(sextortion, [bot("next_steps/sextortion/teen"), bot()]).right
    assert not judge(sextortion, [bot("next_steps/grooming/teen")]).right
    assert judge(sextortion, [bot(action="utter_not_sure")]).fallback
    roblox = Conversation("ar", ["روبلوكس لاي عمر"], {"app": "roblox", "ask": "age"})
    verdict = judge(roblox, [bot("app/roblox/safety")])
    assert not verdict.right and verdict.right_app and not verdict.fallback
    assert judge(roblox, [bot("app/roblox/age")]).right
    assert judge(roblox, [bot("menu")]).fallback


def test_figures_per_language_and_category(tmp_path: Path) -> None:
    (tmp_path / "followups_en.yml").write_text(
        "conversations:\n"
        "- turns: [a, b]\n  expect: {kind: abuse}\n"
        "- turns: [c]\n  expect: {app: tiktok, ask: settings}\n",
        encoding="utf-8",
    )
    conversations = load_conversations(tmp_path)
    assert [c.category for c in conversations] == ["kind:abuse", "app:settings"]
    results = [
        (conversations[0], judge(conversations[0], [bot("next_steps/abuse/child")])),
        (conversations[1], judge(conversations[1], [bot(action="utter_not_sure")])),
    ]
    figures = summarize(results)["en"]
    assert figures["kind:abuse"] == {"n": 1, "right": 1.0, "right_app": 0.0, "fallback": 0.0}
    assert figures["all"]["right"] == 0.5 and figures["all"]["fallback"] == 0.5
