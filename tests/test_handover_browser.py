"""The whole hand-over in two real browser tabs (Debian's Chromium, Playwright), against the three
processes as ``make run`` starts them (Rasa server with the trained model, action server, counselor
console), sharing one SQLite case database:

a child asks the bot for a person in the web widget → the case appears in the signed-in counselor's
queue without a reload → the counselor opens and claims it, and the child is told a counselor joined
→ they write to each other while the bot stays silent → the counselor closes the case and the child
is told → the bot answers again. Screenshots of the queue and of a case, in Arabic and English, are
saved into docs/screenshots (shown in the README).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests

from bot.content import ContentLibrary
from bot.settings import PROJECT_ROOT, get_settings
from tests.conftest import API_TOKEN, LOG_DIR, free_port, restore_environment
from tests.test_widget_browser import SCREENSHOTS

pytestmark = pytest.mark.server

LIB = ContentLibrary.load(PROJECT_ROOT / "data")
PASSWORD = "a long passphrase for mona 7"
WAIT = 20_000  # ms: the console and the widget follow the database and the socket live


class Stack:
    def __init__(self, rasa: str, console: str, run_dir: Path):
        self.rasa = rasa
        self.console = console
        self.run_dir = run_dir


@pytest.fixture(scope="module")
def stack(model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    from bot.run import start, stop, wait_until_up

    run_dir = tmp_path_factory.mktemp("handover-run")
    port, actions_port, console_port = free_port(), free_port(), free_port()
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log_path = LOG_DIR / "handover-browser-servers.log"
    log = open(log_path, "w")  # noqa: SIM115 - closed below
    saved = {name: os.environ.get(name) for name in ("RASA_API_TOKEN", "REDIS_URL", "DATABASE_URL")}
    os.environ["RASA_API_TOKEN"] = API_TOKEN
    os.environ.pop("REDIS_URL", None)  # the embedded default: nothing but SQLite between the processes
    os.environ.pop("DATABASE_URL", None)
    get_settings.cache_clear()
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
        if not up:
            log.flush()
            pytest.fail("servers did not start:\n" + log_path.read_text()[-5000:])
        # A counselor account, made with the CLI as an operator would.
        env = {**os.environ, "DATABASE_URL": f"sqlite:///{run_dir / 'cases.db'}"}
        made = subprocess.run(
            [sys.executable, "-m", "bot", "counselors", "add", "mona", "--role", "counselor", "--password-stdin"],
            input=PASSWORD + "\n",
            text=True,
            capture_output=True,
            env=env,
            cwd=PROJECT_ROOT,
        )
        assert made.returncode == 0, made.stderr
        yield Stack(f"http://localhost:{port}", f"http://localhost:{console_port}/console", run_dir)
    finally:
        stop(processes)
        log.close()


def widget_says(page: Any, text: str) -> None:
    page.fill(".amaan-input", text)
    page.press(".amaan-input", "Enter")


def rows(page: Any, who: str) -> Any:
    return page.locator(f".amaan-row--{who}")


def wait_for_more(page: Any, who: str, before: int) -> str:
    page.wait_for_function(
        "([who, n]) => document.querySelectorAll('.amaan-row--' + who).length > n", arg=[who, before], timeout=WAIT
    )
    return "\n".join(rows(page, who).all_inner_texts()[before:])


def wait_for_text(page: Any, who: str, before: int, text: str) -> str:
    """The rows after ``before`` once one of them holds ``text`` (a reply may come in several rows,
    and the rows of the message before may still be arriving)."""
    page.wait_for_function(
        "([who, n, text]) => [...document.querySelectorAll('.amaan-row--' + who)].slice(n)"
        ".some(row => row.innerText.includes(text))",
        arg=[who, before, text],
        timeout=WAIT,
    )
    return "\n".join(rows(page, who).all_inner_texts()[before:])


def test_a_child_reaches_a_counselor_and_back_to_the_bot(stack: Stack, browser: Any) -> None:
    problems: list[str] = []
    counselor_tab = browser.new_context(viewport={"width": 1280, "height": 860}, locale="ar")
    child_tab = browser.new_context(viewport={"width": 420, "height": 820}, locale="ar")
    console = counselor_tab.new_page()
    child_page = child_tab.new_page()
    child: Any = child_page
    for page in (console, child_page):
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    try:
        # The counselor signs in (and so is on duty: the bot tells the child someone will join).
        console.goto(stack.console)
        console.fill("#username", "mona")
        console.fill("#password", PASSWORD)
        console.click("#sign-in")
        console.wait_for_selector("#live-status", timeout=WAIT)

        # Someone else, in English, discloses blackmail happening now: an urgent case.
        rest = f"{stack.rasa}/webhooks/rest/webhook"
        for text in ("hello", "he is blackmailing me, he says he will post my photos tonight unless i pay"):
            assert requests.post(rest, json={"sender": "e2e-urgent", "message": text}, timeout=60).ok

        # The child, in Arabic, asks for a person.
        child_page.goto(f"{stack.rasa}/webhooks/web/demo")
        # The conversation runs in the bot's frame on the page.
        child = child_page.wait_for_selector("iframe.amaan-frame", state="attached").content_frame()
        child.wait_for_selector(".amaan-launcher", timeout=WAIT)
        child.click(".amaan-launcher")
        child.wait_for_selector(".amaan-status[data-status=online]", timeout=WAIT)
        before = rows(child, "bot").count()
        widget_says(child, "مرحبا")
        wait_for_more(child, "bot", before)
        before = rows(child, "bot").count()
        widget_says(child, "أبغى أكلم شخص")
        asked = LIB.message("request_human_online", "ar").split("<reference>")[0].strip()
        answer = wait_for_text(child, "bot", before, asked.splitlines()[0][:40])

        # The case appears in the queue without a reload, metadata only, after the urgent one.
        console.wait_for_function(
            "() => document.querySelectorAll('tr[data-testid=queue-row]').length >= 2", timeout=WAIT
        )
        queue = console.locator("tr[data-testid=queue-row]")
        assert queue.nth(0).get_attribute("data-risk") == "urgent"
        reference = queue.nth(1).get_attribute("data-reference")
        assert reference and reference in answer
        assert "أبغى أكلم شخص" not in console.content()  # nothing the child said, until opened
        console.screenshot(path=str(SCREENSHOTS / "console-queue-ar.png"))
        console.click("#language-switch")
        console.wait_for_selector('html[lang="en"]', timeout=WAIT)
        console.locator(f'tr[data-reference="{reference}"]').wait_for(timeout=WAIT)
        console.screenshot(path=str(SCREENSHOTS / "console-queue-en.png"))
        console.click("#language-switch")
        console.wait_for_selector('html[lang="ar"]', timeout=WAIT)

        # Open and claim: the child is told, in Arabic, that a counselor joined.
        console.click(f'tr[data-reference="{reference}"] a[data-testid=open-case]')
        console.wait_for_selector("#claim-button", timeout=WAIT)
        counselor_rows = rows(child, "counselor").count()
        console.click("#claim-button")
        console.wait_for_selector('#case[data-held="true"]', timeout=WAIT)
        joined = wait_for_more(child, "counselor", counselor_rows)
        assert "انضم إلى هذه المحادثة أحد المختصين" in joined, joined

        # They write to each other; the bot stays silent.
        counselor_rows = rows(child, "counselor").count()
        console.fill("#message-input", "مرحباً، أنا منى من فريق المختصين. أنا هنا معك.")
        console.click("#send-button")
        console.wait_for_selector('#messages li[data-author="counselor"][data-delivered="true"]', timeout=WAIT)
        assert "أنا منى" in wait_for_more(child, "counselor", counselor_rows)
        child_page.screenshot(path=str(SCREENSHOTS / "widget-handover-ar.png"))

        bot_rows = rows(child, "bot").count()
        widget_says(child, "شكراً، أنا خايفة من الشخص اللي يكلمني")
        console.wait_for_selector('#messages li[data-author="user"]', timeout=WAIT)
        assert "خايفة" in console.locator("#messages").inner_text()
        widget_says(child, "/restart")  # a typed restart does not bring the bot back either
        console.wait_for_function(
            "() => document.querySelectorAll('#messages li[data-author=\"user\"]').length >= 2", timeout=WAIT
        )
        child.wait_for_timeout(1500)
        assert rows(child, "bot").count() == bot_rows, "the bot spoke while a counselor held the chat"
        console.screenshot(path=str(SCREENSHOTS / "console-case-ar.png"), full_page=True)

        # The console in English (the same case).
        console.click("#language-switch")
        console.wait_for_selector('html[lang="en"]', timeout=WAIT)
        console.screenshot(path=str(SCREENSHOTS / "console-case-en.png"), full_page=True)

        # Close with an outcome: the child is told, and the bot answers again.
        counselor_rows = rows(child, "counselor").count()
        console.select_option("#outcome", "referred_helpline")
        console.click("#close-button")
        console.wait_for_selector('#case[data-status="closed"]', timeout=WAIT)
        assert "أغلق المختص هذه المحادثة" in wait_for_more(child, "counselor", counselor_rows)
        bot_rows = rows(child, "bot").count()
        widget_says(child, "وش هو الابتزاز؟")
        resumed = wait_for_more(child, "bot", bot_rows)
        assert "ابتزاز" in resumed or "الابتزاز" in resumed, resumed

        # The closed case has left the queue.
        console.goto(stack.console)
        console.wait_for_selector("#live-status", timeout=WAIT)
        assert console.locator(f'tr[data-reference="{reference}"]').count() == 0
        assert not problems, problems
    finally:
        counselor_tab.close()
        child_tab.close()
