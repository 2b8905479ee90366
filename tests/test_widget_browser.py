"""The web widget in a real browser: Debian's Chromium driven by Playwright, on the demo page.
The conversation runs in an iframe from the bot's origin (``Visit.ui``); the host page holds only
the loader and cannot read the transcript or the resume token.

The demo page is served by Rasa's own app with our web channel, the trained model and the running
action server (``InProcessRasa``), so a test can also act as the server side: push a counselor's
message, drop a connection, check that quick exit forgot the conversation. One browser serves the
whole module; each test gets a fresh context (its own sessionStorage), which records every request
and fails the test if any leaves this machine, breaks the page's Content-Security-Policy, or throws.
"""

from __future__ import annotations

import http.server
import json
import re
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator, List
from urllib.parse import urlparse

import pytest

from bot.settings import PROJECT_ROOT
from tests.conftest import Bot
from tests.test_web_channel import InProcessRasa, Served

pytestmark = pytest.mark.server

SCREENSHOTS = PROJECT_ROOT / "docs" / "screenshots"
AXE = PROJECT_ROOT / "node_modules" / "axe-core" / "axe.min.js"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 740}
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
KEY = "amaan-widget:"


# --- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rasa_here(bot: Bot, model_path: Path) -> Iterator[tuple[InProcessRasa, Any]]:
    servers = InProcessRasa()
    try:
        yield servers, servers.load_agent(model_path, bot.action_endpoint())
    finally:
        servers.close()


@pytest.fixture(scope="module")
def served(rasa_here: tuple[InProcessRasa, Any]) -> Served:
    servers, agent = rasa_here
    return servers.serve(agent)


class Visit:
    """One browser tab on the demo page, with what it requested and what went wrong in it."""

    def __init__(self, context: Any, page: Any, served: Served):
        self.context = context
        self.page = page
        self.served = served
        self.demo = f"{served.base_url}/webhooks/web/demo"
        self.neutral = f"{served.base_url}/webhooks/web/demo/weather"
        self.urls: List[str] = []
        self.problems: List[str] = []
        context.on("request", lambda request: self.urls.append(request.url))
        page.on("websocket", lambda socket: self.urls.append(socket.url))
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on(
            "console",
            lambda message: self.problems.append(f"console: {message.text}")
            if message.type == "error" and "Content Security Policy" in message.text
            else None,
        )

    @property
    def ui(self) -> Any:
        """The conversation's frame (served from the bot's origin), once its document is there."""
        frame = self.page.wait_for_selector("iframe.amaan-frame", state="attached").content_frame()
        assert frame is not None
        frame.wait_for_selector(".amaan-launcher", state="attached")
        return frame

    # what a visitor does

    def open(self) -> None:
        self.page.goto(self.demo)
        self.ui.click(".amaan-launcher")
        self.ui.wait_for_selector(".amaan-status[data-status=online]")

    def bot_rows(self) -> Any:
        return self.ui.locator(".amaan-row--bot")

    def say(self, text: str) -> str:
        """Type a message and send it with Enter; the text of the bot's replies."""
        before = self.bot_rows().count()
        self.ui.fill(".amaan-input", text)
        self.ui.press(".amaan-input", "Enter")
        return self._replies_after(before)

    def choose(self, title: str) -> str:
        before = self.bot_rows().count()
        self.ui.locator(".amaan-choice:not([disabled])", has_text=title).click()
        return self._replies_after(before)

    def _replies_after(self, before: int) -> str:
        self.ui.wait_for_function(
            "n => document.querySelectorAll('.amaan-row--bot').length > n"
            " && document.querySelector('.amaan-typing').hidden",
            arg=before,
        )
        return "\n".join(self.bot_rows().nth(i).inner_text() for i in range(before, self.bot_rows().count()))

    # what the test reads

    def storage(self, where: Any = None) -> dict:
        """The widget's keys in sessionStorage: the frame's (the bot's origin), or ``where``'s."""
        return (where or self.ui).evaluate(
            "k => Object.fromEntries(Object.keys(sessionStorage).filter(x => x.startsWith(k))"
            ".map(x => [x, sessionStorage.getItem(x)]))",
            KEY,
        )

    def token(self) -> str:
        return self.ui.evaluate("k => sessionStorage.getItem(k + 'token')", KEY)

    def sender(self, servers: InProcessRasa) -> str:
        sender = servers.call(self.served.channel.sessions.resolve(self.token()))
        assert sender, "the widget's token names no conversation"
        return str(sender)

    def live_region(self) -> str:
        return str(self.ui.locator(".amaan-panel [aria-live]").inner_text())

    def screenshot(self, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


@pytest.fixture
def visit(browser: Any, served: Served) -> Iterator[Visit]:
    context = browser.new_context(viewport=DESKTOP, locale="ar")
    context.set_default_timeout(20_000)
    page = context.new_page()
    v = Visit(context, page, served)
    try:
        yield v
        foreign = [u for u in v.urls if urlparse(u).hostname not in LOCAL_HOSTS and not u.startswith("data:")]
        assert foreign == [], f"requests left this machine: {foreign}"
        assert v.problems == [], v.problems
        assert context.cookies() == [], "the widget must set no cookies"
    finally:
        context.close()


def push(servers: InProcessRasa, served: Served, sender: str, text: str) -> None:
    """What the counselor console does: send through the web channel's output channel."""
    output = served.channel.get_output_channel()
    assert output is not None
    servers.call(output.send_text_message(sender, text))


# --- conversations ------------------------------------------------------------------------------


def test_arabic_conversation_with_buttons_in_a_mirrored_layout(
    visit: Visit, rasa_here: tuple[InProcessRasa, Any]
) -> None:
    servers, agent = rasa_here
    page = visit.page
    visit.open()
    ui = visit.ui
    root = ui.locator(".amaan-widget")
    assert root.get_attribute("dir") == "rtl" and root.get_attribute("lang") == "ar"
    assert ui.locator(".amaan-panel").evaluate("e => getComputedStyle(e).direction") == "rtl"
    # Mirrored: the quick exit sits at the inline start, which in Arabic is the right.
    exit_box = ui.locator(".amaan-exit").bounding_box()
    minimize_box = ui.locator(".amaan-minimize").bounding_box()
    assert exit_box and minimize_box and exit_box["x"] > minimize_box["x"]
    # data-position="left": the panel is on the left of the page.
    assert (ui.locator(".amaan-panel").bounding_box() or {})["x"] < DESKTOP["width"] / 2

    intro = visit.say("مرحبا")
    assert "مساعد آلي" in intro
    assert ui.locator(".amaan-choice:not([disabled])").count() == 4
    for bubble in ui.locator(".amaan-bubble").all():
        assert bubble.get_attribute("dir") == "auto"
    first_bot = ui.locator(".amaan-bubble--bot").first
    assert first_bot.evaluate("e => getComputedStyle(e).direction") == "rtl"

    visit.choose("أب أو أم أو ولي أمر")
    answer = visit.say("هل لعبة روبلوكس آمنة لابني؟")
    assert answer.strip()
    tracker = servers.call(agent.tracker_store.retrieve(visit.sender(servers)))
    assert tracker.get_slot("audience") == "parent" and tracker.get_slot("language") == "ar"

    # The live region holds the newest message only, not the history.
    last = ui.locator(".amaan-bubble--bot").last.inner_text()
    assert visit.live_region().replace("\n", " ").split(": ", 1)[1].split() == last.split()
    assert "مساعد آلي" not in visit.live_region()

    assert ui.locator("input[type=file]").count() == 0
    assert page.evaluate("document.cookie") == "" and ui.evaluate("document.cookie") == ""
    visit.screenshot("widget-ar-desktop")
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(200)  # the loader resizes the frame on "resize"
    panel = ui.locator(".amaan-panel").bounding_box() or {}
    assert panel["width"] <= PHONE["width"] and panel["x"] >= 0
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    visit.screenshot("widget-ar-phone")


def test_english_conversation_with_buttons_on_a_phone(visit: Visit) -> None:
    page = visit.page
    page.set_viewport_size(PHONE)
    visit.open()
    ui = visit.ui
    ui.click(".amaan-widget [lang=en]")  # the language switch, labelled in the other language
    root = ui.locator(".amaan-widget")
    assert root.get_attribute("dir") == "ltr" and root.get_attribute("lang") == "en"
    assert ui.locator(".amaan-exit").inner_text() == "Quick exit"
    assert ui.locator(".amaan-panel").evaluate("e => getComputedStyle(e).direction") == "ltr"

    intro = visit.say("Hello")
    assert "automated assistant" in intro
    assert "A teen (13-17)" in ui.locator(".amaan-choices").last.inner_text()
    visit.choose("A teen (13-17)")
    answer = visit.say("how do I make my instagram account private?")
    assert answer.strip()
    panel = ui.locator(".amaan-panel").bounding_box() or {}
    assert panel["width"] <= PHONE["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    visit.screenshot("widget-en-phone")
    page.set_viewport_size(DESKTOP)
    visit.screenshot("widget-en-desktop")


# --- live pushes and reconnection ---------------------------------------------------------------


def test_a_counselor_message_arrives_without_the_user_writing(
    visit: Visit, served: Served, rasa_here: tuple[InProcessRasa, Any]
) -> None:
    servers, _ = rasa_here
    visit.open()
    visit.say("مرحبا")
    before = visit.bot_rows().count()
    push(servers, served, visit.sender(servers), "معك مختصة الآن. You are not alone.")
    visit.ui.wait_for_function("n => document.querySelectorAll('.amaan-row--bot').length > n", arg=before)
    assert visit.bot_rows().last.inner_text().endswith("معك مختصة الآن. You are not alone.")
    assert "معك مختصة الآن" in visit.live_region()


def test_a_counselor_is_labelled_as_a_person_not_as_the_assistant(
    visit: Visit, served: Served, rasa_here: tuple[InProcessRasa, Any]
) -> None:
    servers, _ = rasa_here
    visit.open()
    visit.say("Hello")
    # What the hand-over endpoint does for the console (channels.handover).
    pushed = servers.call(served.channel.push(visit.sender(servers), "I'm Mona, a counselor. I'm here."))
    assert pushed.delivered
    visit.ui.wait_for_selector(".amaan-row--counselor >> text=I'm Mona, a counselor.")
    row = visit.ui.locator(".amaan-row--counselor").last
    label = row.locator(".amaan-who").text_content()
    assert label in ("Counselor: ", "المختص: "), "the widget's own language names the counselor"
    assert visit.live_region() == f"{label}I'm Mona, a counselor. I'm here."
    assert row.locator(".amaan-who").is_visible(), "a sighted user sees that a person wrote it"
    assert visit.ui.locator(".amaan-row--bot .amaan-who").first.text_content() in ("Amaan: ", "أمان: ")


def test_a_dropped_connection_and_a_reload_keep_the_conversation(
    visit: Visit, served: Served, rasa_here: tuple[InProcessRasa, Any]
) -> None:
    servers, agent = rasa_here
    page = visit.page
    # Every WebSocket goes through the test, which can cut it as a network drop would (Chromium's
    # offline emulation leaves open WebSockets alone).
    links: List[Any] = []

    def relay(ws: Any) -> None:
        links.append((ws, ws.connect_to_server()))

    page.route_web_socket(re.compile(r"/socket\.io/"), relay)
    visit.open()
    visit.say("Hello")
    visit.choose("A parent or guardian")
    token, sender = visit.token(), visit.sender(servers)

    for ws, server in links:
        ws.close()
        server.close()
    visit.ui.wait_for_selector(".amaan-status[data-status=offline]")
    # While the widget is away, the counselor writes.
    push(servers, served, sender, "Are you still there? I am here when you are ready.")
    visit.ui.wait_for_selector(".amaan-bubble--bot >> text=Are you still there?")
    visit.ui.wait_for_selector(".amaan-status[data-status=online]")
    assert visit.ui.locator(".amaan-bubble--bot", has_text="Are you still there?").count() == 1
    assert len(links) >= 2, "the widget reconnected by itself"
    assert visit.token() == token

    rows = visit.ui.locator(".amaan-row").count()
    page.reload()
    visit.ui.wait_for_selector(".amaan-status[data-status=online]")
    assert visit.ui.locator(".amaan-row").count() == rows, "the transcript comes back from sessionStorage"
    assert visit.token() == token
    visit.say("is roblox safe?")
    tracker = servers.call(agent.tracker_store.retrieve(sender))
    assert tracker.get_slot("audience") == "parent", "the same conversation went on after the reload"
    assert [e.text for e in tracker.events if e.type_name == "user"][-1] == "is roblox safe?"


# --- quick exit ---------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["button", "escape", "shift-three-times"])
def test_quick_exit_lands_on_the_neutral_page_with_storage_cleared(
    visit: Visit, served: Served, rasa_here: tuple[InProcessRasa, Any], how: str
) -> None:
    servers, _ = rasa_here
    page = visit.page
    visit.open()
    visit.say("مرحبا")
    assert visit.token() and visit.storage(), "the conversation is in sessionStorage before the exit"
    started = time.monotonic()
    if how == "button":
        visit.ui.click(".amaan-exit")
    elif how == "escape":
        page.keyboard.press("Escape")
    else:
        page.click("h1")  # focus on the page, not the widget
        for _ in range(3):
            page.keyboard.press("Shift")
    page.wait_for_url(visit.neutral)
    assert time.monotonic() - started < 3
    assert page.title() == "Weather today"
    assert visit.storage(page) == {}
    # location.replace: the chat page is not one step back in this tab's history.
    page.go_back()
    assert not page.url.startswith(visit.demo) or page.url == visit.neutral
    # The frame forgot the conversation too: the demo page again in this tab starts afresh.
    page.goto(visit.demo)
    assert visit.storage() == {}
    # The widget also asks the server to forget the token, but only best-effort: the page is
    # replaced at once and the request can be lost (seen flaky in CI), so it is not asserted here.


def test_shift_used_for_typing_does_not_exit(visit: Visit) -> None:
    page = visit.page
    visit.open()
    visit.ui.focus(".amaan-input")
    for key in ("Shift+KeyH", "Shift+KeyI", "Shift+KeyJ", "Shift+Enter", "Shift+KeyK"):
        page.keyboard.press(key)
    time.sleep(0.3)
    assert page.url == visit.demo
    assert visit.ui.input_value(".amaan-input") == "HIJ\nK"


def test_the_quick_exit_note_says_what_it_cannot_hide(visit: Visit) -> None:
    visit.open()
    note = visit.ui.locator(".amaan-exit-help").inner_text()
    assert "سجل" in note and "Shift" in note and "Esc" in note
    visit.ui.click(".amaan-widget [lang=en]")
    note = visit.ui.locator(".amaan-exit-help").inner_text()
    assert "history" in note and "private window" in note


def test_clear_conversation_forgets_it_here_and_on_the_server(
    visit: Visit, served: Served, rasa_here: tuple[InProcessRasa, Any]
) -> None:
    servers, _ = rasa_here
    visit.open()
    visit.say("Hello")
    old_token = visit.token()
    visit.ui.click(".amaan-clear")
    visit.ui.wait_for_function(
        "([k, old]) => { const t = sessionStorage.getItem(k + 'token'); return t && t !== old; }", arg=[KEY, old_token]
    )
    assert visit.ui.locator(".amaan-row--bot, .amaan-row--user").count() == 0
    kept = json.loads(visit.storage().get(f"{KEY}transcript") or "[]")
    assert [entry["who"] for entry in kept] == ["note"]
    assert servers.call(served.channel.sessions.resolve(old_token)) is None
    assert visit.token() != old_token


# --- safety of rendering ------------------------------------------------------------------------


def test_html_from_the_user_or_the_bot_is_shown_as_inert_text(
    visit: Visit, served: Served, rasa_here: tuple[InProcessRasa, Any]
) -> None:
    servers, _ = rasa_here
    visit.open()
    page = visit.ui
    attack = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'
    visit.say(attack)
    assert page.locator(".amaan-bubble--user").last.inner_text() == attack
    before = visit.bot_rows().count()
    push(
        servers,
        served,
        visit.sender(servers),
        '<svg onload="window.__xss=3"></svg> **Important** [help](javascript:window.__xss=4) '
        "[Childline](https://www.childline.org.uk/) <b>x</b>",
    )
    page.wait_for_function("n => document.querySelectorAll('.amaan-row--bot').length > n", arg=before)
    pushed = page.locator(".amaan-bubble--bot").last
    assert '<svg onload="window.__xss=3"></svg>' in pushed.inner_text()
    assert "<b>x</b>" in pushed.inner_text()
    assert pushed.locator("strong").inner_text() == "Important"
    links = pushed.locator("a")
    assert links.count() == 1 and links.first.get_attribute("href") == "https://www.childline.org.uk/"
    assert links.first.get_attribute("rel") == "noopener noreferrer nofollow"
    assert page.locator(".amaan-log img, .amaan-log script, .amaan-log svg").count() == 0
    assert page.evaluate("window.__xss") is None


# --- keyboard and accessibility -----------------------------------------------------------------


def test_the_widget_is_usable_by_keyboard_alone(visit: Visit) -> None:
    page = visit.page
    page.goto(visit.demo)
    ui = visit.ui
    for _ in range(30):
        page.keyboard.press("Tab")
        if ui.evaluate("document.hasFocus() && document.activeElement.classList.contains('amaan-launcher')"):
            break
    else:
        pytest.fail("Tab never reached the chat button")
    launcher_outline = ui.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert launcher_outline == "solid", "focus is visible"
    page.keyboard.press("Enter")
    ui.wait_for_selector(".amaan-status[data-status=online]")
    assert ui.evaluate("document.activeElement.id") == "amaan-input"
    before = visit.bot_rows().count()
    page.keyboard.type("Hello")
    page.keyboard.press("Enter")
    visit._replies_after(before)
    # The buttons come with the last of the replies, which may arrive a moment after the first.
    ui.wait_for_selector(".amaan-choice")
    for _ in range(10):
        page.keyboard.press("Shift+Tab")
        if ui.evaluate("document.activeElement.classList.contains('amaan-choice')"):
            break
    else:
        pytest.fail("Shift+Tab never reached a choice button")
    assert ui.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid"
    chosen = ui.evaluate("document.activeElement.textContent")
    before = visit.bot_rows().count()
    page.keyboard.press("Enter")
    visit._replies_after(before)
    assert ui.locator(".amaan-bubble--user").last.inner_text() == chosen
    # Minimize and reopen without a mouse; focus goes back where it belongs.
    ui.focus(".amaan-minimize")
    page.keyboard.press("Enter")
    assert ui.locator(".amaan-panel").is_hidden()
    assert ui.evaluate("document.activeElement.classList.contains('amaan-launcher')")
    page.keyboard.press("Space")
    assert ui.evaluate("document.activeElement.id") == "amaan-input"


@pytest.mark.parametrize("language", ["ar", "en"])
def test_axe_finds_no_serious_or_critical_violations(visit: Visit, language: str) -> None:
    visit.open()
    page = visit.ui  # the conversation's own document; the host page holds only the frame
    if language == "en":
        page.click(".amaan-widget [lang=en]")
    visit.say("مرحبا" if language == "ar" else "Hello")
    visit.page.evaluate(AXE.read_text())
    host = visit.page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    assert [v["id"] for v in host["violations"] if v["impact"] in ("serious", "critical")] == []
    page.evaluate(AXE.read_text())  # evaluated by the browser's debugger: no CSP relaxation needed
    results = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    serious = [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}"
        for v in results["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert serious == []
    # Closed, the launcher alone must pass too.
    page.click(".amaan-minimize")
    results = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    assert [v["id"] for v in results["violations"] if v["impact"] in ("serious", "critical")] == []


def test_widget_and_demo_make_no_third_party_requests(visit: Visit) -> None:
    visit.open()
    visit.say("Hello")
    hosts = {urlparse(u).hostname for u in visit.urls}
    assert hosts <= LOCAL_HOSTS
    kinds = {re.sub(r"\?.*", "", urlparse(u).path).rsplit("/", 1)[-1] for u in visit.urls}
    assert {"demo", "widget.js", "frame", "frame.js", "widget.css", "texts.json", "socket.io.min.js"} <= kinds
    assert any(u.startswith("ws://") for u in visit.urls), "the widget talks over WebSocket"


# --- embedded on another site -------------------------------------------------------------------


@pytest.fixture
def ministry_site() -> Iterator[Callable[[str], str]]:
    """Another site on this machine that embeds the widget with one script tag, under its own strict
    CSP; ``ministry_site(bot_url)`` gives its address."""
    pages: dict = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            bot = pages.get("bot", "")
            if self.path == "/":
                body = (
                    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Ministry</title>'
                    '<link rel="icon" href="data:,"></head><body><main><h1>Child safety online</h1>'
                    "<p>Talk to Amaan.</p></main>"
                    f'<script src="{bot}/webhooks/web/widget.js" data-lang="en" data-position="right"'
                    ' data-exit-url="/weather" defer></script></body></html>'
                )
            elif self.path == "/weather":
                body = '<!doctype html><html lang="en"><head><title>Weather</title></head><body>Sunny</body></html>'
            else:
                self.send_error(404)
                return
            ws = bot.replace("http://", "ws://")
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header(
                "Content-Security-Policy",
                f"default-src 'none'; script-src {bot}; style-src {bot}; connect-src {bot} {ws}; frame-src {bot}; "
                "img-src data:; base-uri 'none'; form-action 'none'",
            )
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args: Any) -> None:
            return None

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def site(bot_url: str) -> str:
        pages["bot"] = bot_url
        # Same site as the bot (127.0.0.1), another origin (port): as a bot on a subdomain of the
        # ministry's domain. A cross-site frame gets no storage where third-party storage is blocked.
        return f"http://127.0.0.1:{server.server_address[1]}"

    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()


def test_one_script_tag_embeds_the_widget_on_an_allowed_site(
    visit: Visit, ministry_site: Callable[[str], str], rasa_here: tuple[InProcessRasa, Any]
) -> None:
    servers, agent = rasa_here
    page = visit.page
    site = ministry_site("")
    bot = servers.serve(agent, {"WEB_ALLOWED_ORIGINS": site})
    site = ministry_site(bot.base_url)
    page.goto(site + "/")
    ui = visit.ui
    ui.click(".amaan-launcher")
    ui.wait_for_selector(".amaan-status[data-status=online]")
    assert ui.locator(".amaan-widget").get_attribute("dir") == "ltr"
    assert (ui.locator(".amaan-panel").bounding_box() or {})["x"] > DESKTOP["width"] / 2
    assert "automated assistant" in visit.say("Hello")
    assert visit.storage(), "kept in the bot's frame, for this tab"
    # Nothing of it is within the ministry page's reach (an analytics tag, a compromised library).
    assert visit.storage(page) == {}, "the host page's sessionStorage holds nothing of the conversation"
    reach = page.evaluate(
        """() => {
            const frame = document.querySelector('iframe.amaan-frame');
            let storage = 'readable';
            try { frame.contentWindow.sessionStorage.length; } catch (e) { storage = e.name; }
            return {doc: frame.contentDocument === null, storage, text: document.body.innerText};
        }"""
    )
    assert reach["doc"] and reach["storage"] == "SecurityError"
    assert "automated assistant" not in reach["text"] and visit.token() not in reach["text"]
    ui.click(".amaan-exit")
    page.wait_for_url(site + "/weather")
    assert visit.storage(page) == {}


def test_a_site_that_is_not_allowed_gets_no_conversation(
    visit: Visit, ministry_site: Callable[[str], str], served: Served
) -> None:
    page = visit.page
    site = ministry_site(served.base_url)  # this server allows only its own origin
    blocked: List[str] = []
    page.on("console", lambda m: blocked.append(m.text) if "frame-ancestors" in m.text else None)
    page.goto(site + "/")
    frame = page.wait_for_selector("iframe.amaan-frame", state="attached").content_frame()
    time.sleep(1)
    # The bot's frame refuses to be shown there (frame-ancestors): no widget, no conversation.
    assert frame is not None and frame.query_selector(".amaan-launcher") is None
    assert blocked, "Chromium reports the refused frame"
    visit.problems.clear()  # that refusal is what this test expects, not a problem
