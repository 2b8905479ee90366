"""``python -m bot eval-followups DIR``: how often follow-ups get the right answer, on conversations
written apart from the training data.

``DIR`` holds ``followups_en.yml`` and ``followups_ar.yml``::

    conversations:
    - turns: ["someone is blackmailing me with my pics", "what do i do now"]
      expect: {kind: sextortion}
    - turns: ["is roblox safe for my 8 year old"]
      expect: {app: roblox, ask: age}        # age | settings | report | safety

Each conversation is played over the REST channel against the assistant as ``make run`` starts it
(a model trained on the current data, the action server, on free ports, with a run directory of
its own), as a new user. The last turn's replies are judged by the ``answer`` metadata that the
actions put on what they say (kept in the tracker, never sent to the user): "next_steps/<kind>/..."
is the next steps for that harm, "app/<id>/<ask>" that app's answer to that question. A reply is a
fallback when it is the "not sure" menu, the out-of-scope redirect or the topic menu.

Only aggregate figures per category and language are printed (and written with ``--json``): never
a message, so the set stays blind to whoever runs it.
"""

from __future__ import annotations

import json
import os
import tempfile
import urllib.parse
import urllib.request
import uuid
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional

import yaml

__all__ = ["Conversation", "Verdict", "judge", "load_conversations", "main", "summarize"]

# Other spellings a writer may use for a harm or an app, read as ours.
KIND_ALIASES = {
    "blackmail": "sextortion",
    "sexual_extortion": "sextortion",
    "selfharm": "self_harm",
    "suicide": "self_harm",
    "coercion": "grooming",
    "meeting": "grooming",
    "threat": "abuse",
}
APP_ALIASES = {"pubgmobile": "pubg", "freefire": "free_fire", "yt": "youtube", "snap": "snapchat", "insta": "instagram"}
FALLBACK_ACTIONS = ("utter_not_sure", "utter_out_of_scope")
FALLBACK_ANSWERS = ("menu",)
LANGUAGES = ("en", "ar")


@dataclass(frozen=True)
class Conversation:
    language: str
    turns: List[str]
    expect: Dict[str, str]

    @property
    def category(self) -> str:
        if "kind" in self.expect:
            return f"kind:{self.expect['kind']}"
        return f"app:{self.expect.get('ask', 'any')}"


@dataclass(frozen=True)
class Verdict:
    right: bool
    right_app: bool  # the right app, whatever it answered about it (apps only)
    fallback: bool
    answered: str = ""  # what answered (answer ids and actions), shown only for development sets


def load_conversations(folder: Path) -> List[Conversation]:
    found: List[Conversation] = []
    for lang in LANGUAGES:
        path = folder / f"followups_{lang}.yml"
        if not path.exists():
            continue
        with open(path, encoding="utf-8") as f:
            raw = yaml.safe_load(f) or {}
        for entry in raw.get("conversations") or []:
            turns = [str(t) for t in entry.get("turns") or []]
            expect = _canonical({str(k): str(v) for k, v in (entry.get("expect") or {}).items()})
            if turns and expect:
                found.append(Conversation(lang, turns, expect))
    return found


def _canonical(expect: Dict[str, str]) -> Dict[str, str]:
    squeezed = {k: v.strip().lower().replace("-", "_").replace(" ", "_") for k, v in expect.items()}
    if "kind" in squeezed:
        squeezed["kind"] = KIND_ALIASES.get(
            squeezed["kind"].replace("_", ""), KIND_ALIASES.get(squeezed["kind"], squeezed["kind"])
        )
    if "app" in squeezed:
        squeezed["app"] = APP_ALIASES.get(squeezed["app"].replace("_", ""), squeezed["app"])
    return squeezed


def judge(conversation: Conversation, last_turn: List[Dict[str, Any]]) -> Verdict:
    """The verdict on the bot events that answered the last turn."""
    answers = [str((e.get("metadata") or {}).get("answer") or "") for e in last_turn]
    actions = [str((e.get("metadata") or {}).get("utter_action") or "") for e in last_turn]
    fallback = any(a in FALLBACK_ACTIONS for a in actions) or any(a in FALLBACK_ANSWERS for a in answers)
    answered = " ".join(a for a in answers + actions if a)
    expect = conversation.expect
    if "kind" in expect:
        right = any(a.startswith(f"next_steps/{expect['kind']}/") for a in answers)
        return Verdict(right, False, fallback, answered)
    app = expect.get("app", "")
    right_app = any(a.startswith(f"app/{app}/") for a in answers)
    ask = expect.get("ask")
    right = any(a == f"app/{app}/{ask}" for a in answers) if ask else right_app
    return Verdict(right, right_app, fallback, answered)


def summarize(results: List[tuple]) -> Dict[str, Dict[str, Dict[str, float]]]:
    """{language: {category: {n, right, right_app, fallback}}} with rates, plus an "all" category."""
    table: Dict[str, Dict[str, List[Verdict]]] = defaultdict(lambda: defaultdict(list))
    for conversation, verdict in results:
        table[conversation.language][conversation.category].append(verdict)
        table[conversation.language]["all"].append(verdict)
    figures: Dict[str, Dict[str, Dict[str, float]]] = {}
    for lang, categories in table.items():
        figures[lang] = {}
        for category, verdicts in sorted(categories.items()):
            n = len(verdicts)
            figures[lang][category] = {
                "n": n,
                "right": round(sum(v.right for v in verdicts) / n, 3),
                "right_app": round(sum(v.right_app for v in verdicts) / n, 3),
                "fallback": round(sum(v.fallback for v in verdicts) / n, 3),
            }
    return figures


class _Client:
    def __init__(self, base_url: str, token: str):
        self.base_url, self.token = base_url, token

    def say(self, sender: str, text: str) -> None:
        body = json.dumps({"sender": sender, "message": text}).encode()
        url = f"{self.base_url}/webhooks/rest/webhook"
        headers = {"Content-Type": "application/json"}
        request = urllib.request.Request(url, data=body, headers=headers)  # noqa: S310 - localhost only
        with urllib.request.urlopen(request, timeout=120) as reply:  # noqa: S310 - localhost only
            reply.read()

    def last_turn(self, sender: str) -> List[Dict[str, Any]]:
        query = urllib.parse.urlencode({"token": self.token})
        url = f"{self.base_url}/conversations/{urllib.parse.quote(sender)}/tracker?{query}"
        with urllib.request.urlopen(url, timeout=60) as reply:  # noqa: S310 - localhost only
            events = json.loads(reply.read())["events"]
        last_user = max((i for i, e in enumerate(events) if e.get("event") == "user"), default=-1)
        return [e for e in events[last_user + 1 :] if e.get("event") == "bot"]


def play(client: _Client, conversations: List[Conversation]) -> List[tuple]:
    results = []
    for conversation in conversations:
        sender = f"eval-{uuid.uuid4().hex[:12]}"
        for turn in conversation.turns:
            client.say(sender, turn)
        results.append((conversation, judge(conversation, client.last_turn(sender))))
    return results


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main(
    folder: Path, json_path: Optional[str] = None, model_file: Optional[Path] = None, show_errors: bool = False
) -> int:
    """Figures for ``folder``; ``show_errors`` also lists the conversations answered wrong, and is
    refused for a frozen (held-out) set: only development sets are looked at."""
    if show_errors and (folder / "FROZEN").exists():
        print(f"{folder} is a frozen held-out set: its conversations are never shown")
        return 2
    from bot.model import ensure_model
    from bot.run import start, stop, wait_until_up
    from bot.settings import get_settings

    conversations = load_conversations(folder)
    if not conversations:
        print(f"no conversations in {folder}/followups_{{en,ar}}.yml")
        return 2
    model = model_file or ensure_model()
    token = uuid.uuid4().hex
    os.environ["RASA_API_TOKEN"] = token
    get_settings.cache_clear()
    port, actions_port = _free_port(), _free_port()
    with (
        tempfile.TemporaryDirectory(prefix="amaan-eval-followups-") as run_dir,
        open(Path(run_dir) / "servers.log", "w") as log,
    ):
        processes = start(port, actions_port, model, output=log, run_dir=Path(run_dir))
        try:
            up = wait_until_up(f"http://localhost:{actions_port}/health", processes, 120) and wait_until_up(
                f"http://localhost:{port}/webhooks/rest/", processes, 600
            )
            if not up:
                print("the servers did not start")
                return 1
            results = play(_Client(f"http://localhost:{port}", token), conversations)
        finally:
            stop(processes)
    figures = summarize(results)
    print(f"{'language':8} {'category':22} {'n':>4} {'right':>6} {'app ok':>6} {'fallback':>8}")
    for lang in LANGUAGES:
        for category, row in (figures.get(lang) or {}).items():
            app_ok = f"{row['right_app']:.0%}" if category.startswith("app") or category == "all" else "-"
            print(f"{lang:8} {category:22} {row['n']:>4} {row['right']:>6.0%} {app_ok:>6} {row['fallback']:>8.0%}")
    if show_errors:
        for conversation, verdict in results:
            if not verdict.right:
                print(
                    f"WRONG [{conversation.language} {conversation.category}] {conversation.turns} -> {verdict.answered}"
                )
    if json_path:
        Path(json_path).write_text(json.dumps({"model": model.name, "figures": figures}, indent=2) + "\n")
    return 0
