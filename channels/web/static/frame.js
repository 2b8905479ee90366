/*
 * Amaan web widget, the conversation: runs inside the iframe that widget.js (the loader on the host
 * page) places, served from the bot's own origin at /webhooks/web/frame?lang=ar&position=left.
 * Plain JavaScript, no framework. See docs/WIDGET.md.
 *
 * Privacy: the conversation is kept in this frame's sessionStorage only (the bot's origin, gone with
 * the tab), under keys that start with "amaan-widget:"; the host page cannot read it. No cookies, no
 * requests to anyone but the bot's server, no analytics.
 * Direction: the widget is RTL in Arabic and LTR in English; each bubble is dir="auto" and each of
 * its lines takes its own direction (unicode-bidi: plaintext), so mixed messages read correctly.
 * Safety: everything the bot or the user sends is rendered as text (textContent, never innerHTML);
 * only **bold** and http(s) links are formatted, by building the elements. Quick exit (button, Esc
 * while the chat is open, or Shift pressed three times, here or on the host page) clears the
 * widget's storage, disconnects and asks the loader to replace the whole page with a neutral one.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script || document.querySelector(".amaan-widget")) return;

  var PREFIX = "amaan-widget:";
  var TRANSCRIPT_LIMIT = 200;
  var SHIFT_PRESSES = 3;
  var SHIFT_WINDOW_MS = 5000;

  // ---- options (the frame's address, set by the loader) -------------------------------------
  var params = new URLSearchParams(location.search);
  var base = new URL("/webhooks/web/", location.href);
  var defaultLang = params.get("lang") === "en" ? "en" : "ar";
  var position = params.get("position");
  if (position !== "left" && position !== "right") position = defaultLang === "ar" ? "left" : "right";
  var embedded = window.parent !== window;
  var exitUrl = "https://www.google.com/"; // only when the frame is opened on its own, not embedded

  // ---- storage: this tab only --------------------------------------------------------------
  var store = {
    get: function (key) {
      try { return window.sessionStorage.getItem(PREFIX + key); } catch (e) { return null; }
    },
    set: function (key, value) {
      try { window.sessionStorage.setItem(PREFIX + key, value); } catch (e) { /* storage full or off */ }
    },
    clear: function () {
      try {
        for (var i = window.sessionStorage.length - 1; i >= 0; i--) {
          var key = window.sessionStorage.key(i);
          if (key && key.indexOf(PREFIX) === 0) window.sessionStorage.removeItem(key);
        }
      } catch (e) { /* nothing to clear */ }
    }
  };

  var texts = null;
  var lang = store.get("lang") === "en" || store.get("lang") === "ar" ? store.get("lang") : defaultLang;
  var token = store.get("token");
  var lastId = parseInt(store.get("lastId") || "0", 10) || 0;
  var transcript = readTranscript();
  var socket = null;
  var ready = false;
  var outbox = [];
  var status = "idle";
  var ui = {};

  // ---- helpers -----------------------------------------------------------------------------
  function safeUrl(value) {
    if (!value) return null;
    try {
      var url = new URL(value, location.href);
      return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
    } catch (e) {
      return null;
    }
  }

  function el(tag, className, attrs) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    for (var name in attrs || {}) node.setAttribute(name, attrs[name]);
    return node;
  }

  function t(key) {
    return (texts && texts[lang] && texts[lang][key]) || "";
  }

  function readTranscript() {
    try {
      var parsed = JSON.parse(store.get("transcript") || "[]");
      return Array.isArray(parsed) ? parsed : [];
    } catch (e) {
      return [];
    }
  }

  function saveTranscript() {
    if (transcript.length > TRANSCRIPT_LIMIT) transcript = transcript.slice(-TRANSCRIPT_LIMIT);
    store.set("transcript", JSON.stringify(transcript));
  }

  // **bold**, [text](https://...) and bare https:// links; everything else is a text node.
  var INLINE = /\*\*([^*\n]+)\*\*|\[([^\]\n]+)\]\((https?:\/\/[^\s)]+)\)|(https?:\/\/[^\s<>"]+[^\s<>".,;:!?)])/g;

  function appendInline(parent, line) {
    var at = 0;
    var match;
    INLINE.lastIndex = 0;
    while ((match = INLINE.exec(line)) !== null) {
      if (match.index > at) parent.appendChild(document.createTextNode(line.slice(at, match.index)));
      if (match[1] !== undefined) {
        var strong = el("strong");
        strong.textContent = match[1];
        parent.appendChild(strong);
      } else {
        var href = safeUrl(match[3] || match[4]);
        var link = el("a", "amaan-link", { rel: "noopener noreferrer nofollow" });
        link.textContent = match[2] || match[4];
        if (href) link.href = href;
        parent.appendChild(link);
      }
      at = match.index + match[0].length;
    }
    if (at < line.length) parent.appendChild(document.createTextNode(line.slice(at)));
  }

  function formatted(text, className) {
    var bubble = el("div", className, { dir: "auto" });
    String(text).split(/\n+/).forEach(function (line) {
      if (!line.trim()) return;
      var p = el("p", "amaan-line");
      appendInline(p, line);
      bubble.appendChild(p);
    });
    return bubble;
  }

  function cleanButtons(buttons) {
    if (!Array.isArray(buttons)) return [];
    return buttons.filter(function (b) {
      return b && typeof b.title === "string" && typeof b.payload === "string";
    }).map(function (b) {
      return { title: b.title, payload: b.payload };
    });
  }

  // ---- the interface -----------------------------------------------------------------------
  function build() {
    var root = el("div", "amaan-widget amaan-widget--" + position);
    var launcher = el("button", "amaan-launcher", { type: "button", "aria-expanded": "false", "aria-controls": "amaan-panel" });
    var panel = el("section", "amaan-panel", { id: "amaan-panel", "aria-labelledby": "amaan-title" });
    panel.hidden = true;

    var header = el("header", "amaan-header");
    var heading = el("div", "amaan-heading");
    var title = el("h2", "amaan-title", { id: "amaan-title" });
    var subtitle = el("p", "amaan-subtitle");
    var statusLine = el("p", "amaan-status");
    heading.appendChild(title);
    heading.appendChild(subtitle);
    heading.appendChild(statusLine);
    var tools = el("div", "amaan-tools");
    var exit = el("button", "amaan-exit", { type: "button" });
    var language = el("button", "amaan-tool", { type: "button" });
    var minimize = el("button", "amaan-tool amaan-minimize", { type: "button" });
    minimize.appendChild(el("span", "amaan-minimize-icon", { "aria-hidden": "true" }));
    tools.appendChild(exit);
    tools.appendChild(language);
    tools.appendChild(minimize);
    header.appendChild(tools);
    header.appendChild(heading);

    var log = el("div", "amaan-log", { tabindex: "0", role: "region" });
    var intro = el("div", "amaan-intro");
    var welcome = el("p", "amaan-welcome");
    var exitHelp = el("p", "amaan-exit-help");
    intro.appendChild(welcome);
    intro.appendChild(exitHelp);
    var list = el("ol", "amaan-messages");
    var typing = el("div", "amaan-typing", { "aria-hidden": "true" });
    typing.appendChild(el("span"));
    typing.appendChild(el("span"));
    typing.appendChild(el("span"));
    typing.hidden = true;
    log.appendChild(intro);
    log.appendChild(list);
    log.appendChild(typing);

    var live = el("div", "amaan-sr-only", { "aria-live": "polite", "aria-atomic": "true" });

    var form = el("form", "amaan-form");
    var label = el("label", "amaan-sr-only", { for: "amaan-input" });
    var input = el("textarea", "amaan-input", { id: "amaan-input", rows: "2", autocomplete: "off", dir: "auto" });
    var send = el("button", "amaan-send", { type: "submit" });
    form.appendChild(label);
    form.appendChild(input);
    form.appendChild(send);

    var footer = el("div", "amaan-footer");
    var privacy = el("p", "amaan-privacy");
    var clear = el("button", "amaan-clear", { type: "button" });
    footer.appendChild(privacy);
    footer.appendChild(clear);

    panel.appendChild(header);
    panel.appendChild(log);
    panel.appendChild(live);
    panel.appendChild(form);
    panel.appendChild(footer);
    root.appendChild(panel);
    root.appendChild(launcher);

    ui = {
      root: root, launcher: launcher, panel: panel, title: title, subtitle: subtitle, status: statusLine,
      exit: exit, language: language, minimize: minimize, log: log, welcome: welcome, exitHelp: exitHelp,
      list: list, typing: typing, live: live, label: label, input: input, send: send, privacy: privacy, clear: clear
    };

    launcher.addEventListener("click", function () { setOpen(ui.panel.hidden); });
    minimize.addEventListener("click", function () { setOpen(false); });
    exit.addEventListener("click", quickExit);
    language.addEventListener("click", function () {
      lang = lang === "ar" ? "en" : "ar";
      store.set("lang", lang);
      applyTexts();
    });
    clear.addEventListener("click", clearConversation);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      submitInput();
    });
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        submitInput();
      }
    });
    document.body.appendChild(root);
  }

  function applyTexts() {
    document.documentElement.setAttribute("lang", lang);
    document.documentElement.setAttribute("dir", lang === "ar" ? "rtl" : "ltr");
    document.title = t("title");
    ui.root.setAttribute("lang", lang);
    ui.root.setAttribute("dir", lang === "ar" ? "rtl" : "ltr");
    ui.launcher.textContent = t("open");
    ui.title.textContent = t("title");
    ui.subtitle.textContent = t("subtitle");
    ui.exit.textContent = t("quick_exit");
    ui.language.textContent = t("language");
    ui.language.setAttribute("lang", lang === "ar" ? "en" : "ar");
    ui.minimize.setAttribute("aria-label", t("minimize"));
    ui.log.setAttribute("aria-label", t("log_label"));
    ui.welcome.textContent = t("welcome");
    ui.exitHelp.textContent = t("quick_exit_help");
    ui.label.textContent = t("input_label");
    ui.input.setAttribute("placeholder", t("placeholder"));
    ui.send.textContent = t("send");
    ui.privacy.textContent = t("privacy");
    ui.clear.textContent = t("clear");
    var groups = ui.list.querySelectorAll(".amaan-choices");
    for (var i = 0; i < groups.length; i++) groups[i].setAttribute("aria-label", t("choices_label"));
    var names = ui.list.querySelectorAll(".amaan-who");
    for (var j = 0; j < names.length; j++) {
      names[j].textContent = nameOf(names[j].getAttribute("data-who")) + ": ";
    }
    setStatus(status);
  }

  // Tell the loader how much room the frame needs (the panel, or just the launcher).
  function tellLoader(open) {
    if (embedded) window.parent.postMessage({ amaan: "open", open: open }, "*");
  }

  function setOpen(open) {
    tellLoader(open);
    ui.panel.hidden = !open;
    ui.launcher.setAttribute("aria-expanded", open ? "true" : "false");
    ui.root.classList.toggle("amaan-widget--open", open);
    store.set("open", open ? "1" : "0");
    if (open) {
      connect();
      scrollToEnd();
      ui.input.focus();
    } else {
      ui.launcher.focus();
    }
  }

  function setStatus(next) {
    status = next;
    var key = { connecting: "connecting", online: "online", offline: "offline", unavailable: "unavailable" }[next];
    ui.status.textContent = key ? t(key) : "";
    ui.status.setAttribute("data-status", next);
  }

  function scrollToEnd() {
    ui.log.scrollTop = ui.log.scrollHeight;
  }

  // A counselor's messages (hand-over) are labelled as a person's, never as the automated assistant's.
  function nameOf(who) {
    return who === "user" ? t("you") : who === "counselor" ? t("counselor_name") : t("bot_name");
  }

  function render(entry, index) {
    var row = el("li", "amaan-row amaan-row--" + entry.who);
    if (entry.who === "note") {
      row.appendChild(formatted(entry.text, "amaan-note"));
      ui.list.appendChild(row);
      return;
    }
    // Everyone's name is there for screen readers; a counselor's is shown to everyone, so that nobody
    // takes a person's words for the assistant's or the other way round.
    var whoClass = entry.who === "counselor" ? "amaan-who amaan-who--shown" : "amaan-sr-only amaan-who";
    var who = el("span", whoClass, { "data-who": entry.who });
    who.textContent = nameOf(entry.who) + ": ";
    row.appendChild(who);
    var bubble = entry.who === "counselor" ? "amaan-bubble--bot amaan-bubble--counselor" : "amaan-bubble--" + entry.who;
    row.appendChild(formatted(entry.text, "amaan-bubble " + bubble));
    if (entry.buttons && entry.buttons.length) {
      var group = el("div", "amaan-choices", { role: "group", "aria-label": t("choices_label") });
      entry.buttons.forEach(function (button) {
        var choice = el("button", "amaan-choice", { type: "button", dir: "auto" });
        choice.textContent = button.title;
        choice.addEventListener("click", function () {
          sendMessage(button.title, button.payload);
        });
        group.appendChild(choice);
      });
      row.appendChild(group);
      row.setAttribute("data-index", String(index));
    }
    ui.list.appendChild(row);
  }

  // Only the newest bot message's buttons are live: the server accepts only what it just offered.
  function retireOldChoices() {
    var lastWithButtons = -1;
    for (var i = 0; i < transcript.length; i++) {
      if (transcript[i].who === "user") lastWithButtons = -1;
      else if (transcript[i].buttons && transcript[i].buttons.length) lastWithButtons = i;
    }
    var groups = ui.list.querySelectorAll(".amaan-row[data-index]");
    for (var j = 0; j < groups.length; j++) {
      var live = parseInt(groups[j].getAttribute("data-index"), 10) === lastWithButtons;
      var buttons = groups[j].querySelectorAll(".amaan-choice");
      for (var k = 0; k < buttons.length; k++) buttons[k].disabled = !live;
    }
  }

  function renderAll() {
    while (ui.list.firstChild) ui.list.removeChild(ui.list.firstChild);
    transcript.forEach(render);
    retireOldChoices();
    scrollToEnd();
  }

  function add(entry, announce) {
    transcript.push(entry);
    saveTranscript();
    render(entry, transcript.length - 1);
    retireOldChoices();
    scrollToEnd();
    if (announce) {
      // Only the new message is announced, never the whole history.
      ui.live.textContent = "";
      ui.live.textContent = nameOf(entry.who) + ": " + entry.text;
    }
  }

  // ---- conversation ------------------------------------------------------------------------
  function submitInput() {
    var text = ui.input.value;
    if (!text.trim()) return;
    ui.input.value = "";
    sendMessage(text, null);
  }

  function sendMessage(text, payload) {
    add({ who: "user", text: text }, false);
    outbox.push({ message: payload || text, lang: lang });
    ui.typing.hidden = false;
    scrollToEnd();
    connect();
    flush();
  }

  function receive(message) {
    if (!message || typeof message.id !== "number" || message.id <= lastId) return;
    lastId = message.id;
    store.set("lastId", String(lastId));
    ui.typing.hidden = true;
    var who = message.from === "counselor" ? "counselor" : "bot";
    add({ who: who, text: String(message.text || ""), buttons: cleanButtons(message.buttons), id: message.id }, true);
  }

  function flush() {
    while (ready && socket && socket.connected && outbox.length) {
      var message = outbox.shift();
      socket.emit("user_uttered", message, onAck(message));
    }
  }

  function onAck(message) {
    return function (reply) {
      if (reply && reply.error === "no_session") {
        outbox.unshift(message);
        ready = false;
        requestSession();
        return;
      }
      ui.typing.hidden = true;
      if (reply && reply.error === "busy") add({ who: "note", text: t("busy") }, true);
    };
  }

  function loadClient(done) {
    if (window.__amaanIo) return done(window.__amaanIo);
    var previous = window.io;
    var tag = el("script", null, { src: base.href + "socket.io.min.js", async: "" });
    tag.onload = function () {
      window.__amaanIo = window.io;
      window.io = previous;
      done(window.__amaanIo);
    };
    tag.onerror = function () { setStatus("unavailable"); };
    document.head.appendChild(tag);
  }

  function connect() {
    if (socket) return;
    socket = true; // connecting
    setStatus("connecting");
    loadClient(function (io) {
      socket = io(base.origin, {
        path: base.pathname + "socket.io",
        transports: ["websocket", "polling"],
        tryAllTransports: true,
        withCredentials: false,
        reconnectionDelayMax: 4000
      });
      socket.on("connect", requestSession);
      socket.on("disconnect", function (reason) {
        ready = false;
        if (socket) setStatus("offline");
        if (reason === "io server disconnect" && socket) socket.connect();
      });
      socket.on("connect_error", function () { setStatus("offline"); });
      socket.on("bot_uttered", receive);
    });
  }

  function requestSession() {
    if (!socket || !socket.connected) return;
    socket.emit("session_request", { token: token || null, after: lastId }, function (reply) {
      if (reply && reply.error === "busy") add({ who: "note", text: t("busy") }, true);
      if (!reply || typeof reply.token !== "string") {
        setStatus("unavailable");
        return;
      }
      if (token && !reply.resumed) {
        // The server no longer knows the old conversation: start clean rather than mix two.
        transcript = [];
        lastId = 0;
        store.set("lastId", "0");
        saveTranscript();
        renderAll();
        add({ who: "note", text: t("expired") }, false);
      }
      token = reply.token;
      store.set("token", token);
      ready = true;
      setStatus("online");
      (reply.missed || []).forEach(receive);
      flush();
    });
  }

  function clearConversation() {
    if (socket && socket.connected && token) socket.emit("session_end", { token: token });
    var keepLang = lang;
    store.clear();
    store.set("lang", keepLang);
    store.set("open", "1");
    token = null;
    lastId = 0;
    transcript = [];
    outbox = [];
    ready = false;
    ui.typing.hidden = true;
    renderAll();
    add({ who: "note", text: t("cleared") }, false);
    ui.live.textContent = t("cleared");
    requestSession();
    ui.input.focus();
  }

  // ---- quick exit --------------------------------------------------------------------------
  function quickExit() {
    store.clear();
    document.documentElement.classList.add("amaan-exiting");
    try {
      if (socket && socket !== true) {
        if (socket.connected && token) socket.emit("session_end", { token: token });
        socket.disconnect();
      }
    } catch (e) { /* leaving anyway */ }
    token = null;
    socket = null;
    // The loader on the host page replaces the whole page (a frame may not navigate its parent).
    if (embedded) window.parent.postMessage({ amaan: "exit" }, "*");
    else window.location.replace(exitUrl);
  }

  // Shift pressed three times on the host page: the loader asks, the frame forgets and answers.
  function onMessage(event) {
    if (embedded && event.source === window.parent && event.data && event.data.amaan === "exit") quickExit();
  }

  var shiftTimes = [];
  function onKeydown(event) {
    if (event.key === "Escape" && ui.panel && !ui.panel.hidden) {
      event.preventDefault();
      quickExit();
      return;
    }
    if (event.key === "Shift") {
      if (event.repeat) return;
      var now = Date.now();
      shiftTimes = shiftTimes.filter(function (time) { return now - time < SHIFT_WINDOW_MS; });
      shiftTimes.push(now);
      if (shiftTimes.length >= SHIFT_PRESSES) quickExit();
      return;
    }
    shiftTimes = []; // Shift as part of typing (capitals, Shift+Enter) never counts
  }

  // ---- start -------------------------------------------------------------------------------
  function start() {
    var sheet = el("link", null, { rel: "stylesheet", href: base.href + "widget.css" });
    document.head.appendChild(sheet);
    fetch(base.href + "texts.json", { credentials: "omit" })
      .then(function (reply) {
        if (!reply.ok) throw new Error("texts " + reply.status);
        return reply.json();
      })
      .then(function (loaded) {
        texts = loaded;
        build();
        applyTexts();
        renderAll();
        document.addEventListener("keydown", onKeydown, true);
        // Keep the newest message in view when the screen turns or the window is resized.
        var pinned = true;
        ui.log.addEventListener("scroll", function () {
          pinned = ui.log.scrollHeight - ui.log.scrollTop - ui.log.clientHeight < 24;
        });
        window.addEventListener("resize", function () { if (pinned) scrollToEnd(); });
        window.addEventListener("pageshow", function (event) {
          if (event.persisted) document.documentElement.classList.remove("amaan-exiting");
        });
        window.addEventListener("message", onMessage);
        if (store.get("open") === "1") {
          tellLoader(true);
          ui.panel.hidden = false;
          ui.launcher.setAttribute("aria-expanded", "true");
          ui.root.classList.add("amaan-widget--open");
        }
        // A conversation in progress reconnects at once, so a counselor's message gets through.
        if (token || store.get("open") === "1") connect();
      })
      .catch(function () {
        if (window.console) window.console.warn("Amaan widget: could not load its texts from " + base.href);
      });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
