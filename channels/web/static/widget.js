/*
 * Amaan web widget, the loader: one <script> tag on the host page. See docs/WIDGET.md.
 *
 *   <script src="https://BOT/webhooks/web/widget.js" data-lang="ar" data-position="left"
 *           data-exit-url="https://www.example.com/weather" defer></script>
 *
 * The conversation itself runs in an iframe served from the bot's own origin (/webhooks/web/frame,
 * frame.js): its transcript and resume token sit in that origin's sessionStorage, which no script of
 * the host page (an analytics tag, a compromised library) can read. This loader only places the
 * frame in a corner, sizes it when the chat opens or closes, and carries out quick exit: the frame
 * asks (postMessage, checked to come from the frame and the bot's origin) and the loader replaces the
 * whole page. Shift pressed three times on the host page exits too, after the frame has forgotten
 * the conversation.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script || document.querySelector("iframe.amaan-frame")) return;

  var SHIFT_PRESSES = 3;
  var SHIFT_WINDOW_MS = 5000;
  var EXIT_WAIT_MS = 150; // how long quick exit waits for the frame to forget; never longer

  var scriptUrl = new URL(script.src, location.href);
  var serverUrl = new URL(script.getAttribute("data-server") || scriptUrl.origin, location.href);
  var base = new URL("webhooks/web/", serverUrl.href.replace(/\/?$/, "/"));
  var lang = script.getAttribute("data-lang") === "en" ? "en" : "ar";
  var position = script.getAttribute("data-position");
  if (position !== "left" && position !== "right") position = lang === "ar" ? "left" : "right";
  var exitUrl = safeUrl(script.getAttribute("data-exit-url")) || "https://www.google.com/";
  var frame = null;
  var exiting = false;

  function safeUrl(value) {
    if (!value) return null;
    try {
      var url = new URL(value, location.href);
      return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
    } catch (e) {
      return null;
    }
  }

  // Closed: room for the launcher. Open: the panel (400 x 640 and a margin), or the whole screen
  // on a phone. Set through the CSSOM, which a strict host CSP (no inline style) allows.
  function place(open) {
    var s = frame.style;
    var phone = window.innerWidth <= 480;
    s.position = "fixed";
    s.zIndex = "2147483000";
    s.border = "0";
    s.margin = "0";
    s.padding = "0";
    s.background = "transparent";
    s.colorScheme = "normal";
    s.bottom = "0";
    s.top = open && phone ? "0" : "auto";
    s.left = position === "left" || (open && phone) ? "0" : "auto";
    s.right = position === "right" || (open && phone) ? "0" : "auto";
    if (open) {
      s.width = phone ? "100%" : "min(432px, 100vw)";
      s.height = phone ? "100%" : "min(672px, 100vh)";
    } else {
      s.width = "min(280px, 100vw)";
      s.height = "96px";
    }
    frame.setAttribute("data-open", open ? "1" : "0");
  }

  function quickExit() {
    if (exiting) return;
    exiting = true;
    document.documentElement.style.visibility = "hidden";
    window.location.replace(exitUrl);
  }

  function onMessage(event) {
    if (!frame || event.source !== frame.contentWindow || event.origin !== base.origin) return;
    var data = event.data;
    if (!data || typeof data !== "object") return;
    if (data.amaan === "exit") quickExit();
    else if (data.amaan === "open") place(data.open === true);
  }

  var shiftTimes = [];
  function onKeydown(event) {
    if (event.key !== "Shift") {
      shiftTimes = []; // Shift as part of typing (capitals) never counts
      return;
    }
    if (event.repeat) return;
    var now = Date.now();
    shiftTimes = shiftTimes.filter(function (time) { return now - time < SHIFT_WINDOW_MS; });
    shiftTimes.push(now);
    if (shiftTimes.length < SHIFT_PRESSES) return;
    // Ask the frame to forget the conversation, and leave at its answer or shortly after anyway.
    if (frame && frame.contentWindow) frame.contentWindow.postMessage({ amaan: "exit" }, base.origin);
    setTimeout(quickExit, EXIT_WAIT_MS);
  }

  function start() {
    frame = document.createElement("iframe");
    frame.className = "amaan-frame";
    frame.title = lang === "ar" ? "أمان: المحادثة" : "Amaan: chat";
    frame.src = base.href + "frame?lang=" + lang + "&position=" + position;
    frame.setAttribute("referrerpolicy", "no-referrer");
    place(false);
    window.addEventListener("message", onMessage);
    document.addEventListener("keydown", onKeydown, true);
    window.addEventListener("resize", function () { place(frame.getAttribute("data-open") === "1"); });
    window.addEventListener("pageshow", function (event) {
      if (event.persisted) {
        exiting = false;
        document.documentElement.style.visibility = "";
      }
    });
    document.body.appendChild(frame);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
