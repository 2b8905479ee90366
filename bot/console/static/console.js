// Amaan counselor console: live queue and live conversation over server-sent events, message and
// note forms over fetch (with the CSRF header), canned responses. No framework; text is only ever
// set with textContent, never as HTML.
(function () {
  "use strict";

  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var lang = document.body.getAttribute("data-lang") || "ar";

  function labels(el) {
    try { return JSON.parse(el.getAttribute("data-labels") || "{}"); } catch (e) { return {}; }
  }

  function localTimes(root) {
    var times = (root || document).querySelectorAll("time[datetime]");
    for (var i = 0; i < times.length; i++) {
      var d = new Date(times[i].getAttribute("datetime"));
      if (!isNaN(d.getTime())) {
        times[i].textContent = d.toLocaleString(lang === "ar" ? "ar" : "en-GB", { dateStyle: "short", timeStyle: "short" });
      }
    }
  }

  function cell(text) {
    var td = document.createElement("td");
    td.textContent = text;
    return td;
  }

  // --- the queue ----------------------------------------------------------------------------
  function queuePage() {
    var table = document.getElementById("queue");
    var body = document.getElementById("queue-rows");
    var empty = document.getElementById("queue-empty");
    var status = document.getElementById("live-status");
    var words = labels(table);
    var source = new EventSource("/console/events");
    source.addEventListener("open", function () { status.textContent = status.getAttribute("data-live"); });
    source.addEventListener("error", function () { status.textContent = status.getAttribute("data-offline"); });
    source.addEventListener("expired", function () { window.location.assign("/console/login?expired=1"); });
    source.addEventListener("queue", function (event) {
      var rows = JSON.parse(event.data);
      var fresh = document.createDocumentFragment();
      rows.forEach(function (row) {
        var tr = document.createElement("tr");
        tr.setAttribute("data-testid", "queue-row");
        tr.setAttribute("data-reference", row.reference);
        tr.setAttribute("data-risk", row.risk);
        tr.setAttribute("data-status", row.status);
        tr.setAttribute("data-assignee", row.assignee);
        tr.className = "risk-" + row.risk;
        var first = document.createElement("td");
        var link = document.createElement("a");
        link.href = "/console/cases/" + encodeURIComponent(row.reference);
        link.setAttribute("data-testid", "open-case");
        link.dir = "ltr";
        link.textContent = row.reference;
        first.appendChild(link);
        tr.appendChild(first);
        var risk = document.createElement("td");
        var pill = document.createElement("span");
        pill.className = "pill risk-" + row.risk;
        pill.textContent = words["risk_" + row.risk] || row.risk;
        risk.appendChild(pill);
        tr.appendChild(risk);
        var opened = cell(row.opened_by ? words["opened_by_" + row.opened_by] || row.opened_by : "\u2014");
        opened.setAttribute("data-testid", "opened-by");
        opened.setAttribute("data-opened-by", row.opened_by);
        tr.appendChild(opened);
        tr.appendChild(cell((words["status_" + row.status] || row.status) + (row.held ? " · " + words.held : "")));
        tr.appendChild(cell(row.channel));
        tr.appendChild(cell(row.language));
        tr.appendChild(cell(row.audience));
        var waited = document.createElement("td");
        var time = document.createElement("time");
        time.setAttribute("datetime", row.waiting_since);
        time.textContent = row.waiting_since;
        waited.appendChild(time);
        tr.appendChild(waited);
        tr.appendChild(cell(row.assignee || words.unassigned));
        fresh.appendChild(tr);
      });
      body.replaceChildren(fresh);
      empty.hidden = rows.length > 0;
      localTimes(body);
    });
  }

  // --- a case ---------------------------------------------------------------------------------
  function casePage() {
    var section = document.getElementById("case");
    var reference = section.getAttribute("data-reference");
    var words = labels(section);
    var list = document.getElementById("messages");
    var none = document.getElementById("no-messages");
    var notice = document.getElementById("live-notice");
    var lastId = parseInt(section.getAttribute("data-last-id") || "0", 10);
    var status = section.getAttribute("data-status");
    var held = section.getAttribute("data-held");
    var assignee = section.getAttribute("data-assignee");

    function show(text) { notice.textContent = text; notice.hidden = false; }

    function markUndelivered(id) {
      var item = list.querySelector('[data-message-id="' + id + '"]');
      if (!item || item.getAttribute("data-delivered") === "false") { return; }
      item.setAttribute("data-delivered", "false");
      var badge = document.createElement("span");
      badge.className = "undelivered";
      badge.setAttribute("data-testid", "not-delivered");
      badge.textContent = words.not_delivered;
      item.appendChild(badge);
    }

    function append(m) {
      if (list.querySelector('[data-message-id="' + m.id + '"]')) { return; }
      var li = document.createElement("li");
      li.setAttribute("data-testid", "message");
      li.setAttribute("data-message-id", String(m.id));
      li.setAttribute("data-author", m.author);
      li.setAttribute("data-delivered", m.delivered ? "true" : "false");
      li.className = "msg msg-" + m.author;
      var who = document.createElement("span");
      who.className = "msg-who";
      who.textContent = (words["author_" + m.author] || m.author) + (m.counselor && m.author !== "user" ? " · " + m.counselor : "");
      li.appendChild(who);
      var time = document.createElement("time");
      time.setAttribute("datetime", m.at);
      time.textContent = m.at;
      li.appendChild(time);
      var p = document.createElement("p");
      p.className = "msg-text";
      p.dir = "auto";
      p.textContent = m.text;
      li.appendChild(p);
      if (!m.delivered) {
        var badge = document.createElement("span");
        badge.className = "undelivered";
        badge.setAttribute("data-testid", "not-delivered");
        badge.textContent = words.not_delivered;
        li.appendChild(badge);
      }
      list.appendChild(li);
      none.hidden = true;
      localTimes(li);
      li.scrollIntoView({ block: "nearest" });
    }

    var source = new EventSource("/console/cases/" + encodeURIComponent(reference) + "/events?after=" + lastId);
    source.addEventListener("message", function (event) { append(JSON.parse(event.data)); });
    source.addEventListener("case", function (event) {
      var row = JSON.parse(event.data);
      // Status, hold or assignee changed elsewhere (a hand-back, a reassignment): reload the forms.
      if (row.status !== status || String(row.held) !== held || (row.assignee || "") !== (assignee || "")) {
        window.location.reload();
      }
    });
    source.addEventListener("expired", function () { window.location.assign("/console/login?expired=1"); });
    source.addEventListener("revoked", function () { window.location.assign("/console"); });
    source.addEventListener("error", function () { show(words.offline); });
    source.addEventListener("open", function () { notice.hidden = true; });

    function ajax(formId, inputId) {
      var form = document.getElementById(formId);
      if (!form) { return; }
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        var input = document.getElementById(inputId);
        var text = input.value.trim();
        if (!text) { return; }
        var button = form.querySelector("button[type=submit]");
        button.disabled = true;
        fetch(form.action, {
          method: "POST",
          credentials: "same-origin",
          headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": csrf },
          body: JSON.stringify({ text: text })
        }).then(function (reply) {
          if (reply.status === 401) { window.location.assign("/console/login?expired=1"); return null; }
          return reply.json().then(function (body) { return { ok: reply.ok, body: body }; });
        }).then(function (result) {
          if (!result) { return; }
          if (!result.ok) { show(result.body && result.body.error === "not_held" ? words.not_held : words.failed); return; }
          input.value = "";
          if (result.body.delivered === false) {
            show(words.not_delivered);
            markUndelivered(result.body.id);
            // The stream may show the message a moment later: mark it then too.
            setTimeout(function () { markUndelivered(result.body.id); }, 1500);
          }
        }).catch(function () { show(words.failed); })
          .finally(function () { button.disabled = false; input.focus(); });
      });
    }
    ajax("message-form", "message-input");
    ajax("note-form", "note-input");

    var canned = document.querySelectorAll("button.canned");
    for (var i = 0; i < canned.length; i++) {
      canned[i].addEventListener("click", function (event) {
        var input = document.getElementById("message-input");
        input.value = event.currentTarget.getAttribute("data-text");
        input.focus();
      });
    }
  }

  // --- campaigns: the written text's preview, and progress polled without a reload ----------------
  function campaignsPage() {
    var item = document.getElementById("launch-item");
    var written = document.getElementById("written");
    function toggle() { written.hidden = item.value !== "text"; }
    item.addEventListener("change", toggle);
    toggle();
    ["ar", "en"].forEach(function (l) {
      var area = document.getElementById("text-" + l);
      area.addEventListener("input", function () {
        document.getElementById("count-" + l).textContent = String(area.value.length);
        var bubbles = document.querySelectorAll('[data-preview$="-' + l + '"]');
        for (var i = 0; i < bubbles.length; i++) { bubbles[i].textContent = area.value.trim(); }
      });
    });

    var live = document.getElementById("live");
    function spans(cell, attr, counts, label) {
      Object.keys(counts).forEach(function (key) {
        var span = cell.querySelector("[" + attr + '="' + key + '"]');
        if (!span) {
          span = document.createElement("span");
          span.setAttribute(attr, key);
          cell.appendChild(span);
          cell.appendChild(document.createTextNode(" "));
        }
        span.textContent = label(key) + " " + counts[key];
      });
    }
    function refresh() {
      fetch("/console/campaigns/progress", { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (reply) {
          if (reply.status === 401) { window.location.assign("/console/login?expired=1"); return null; }
          if (!reply.ok) { throw new Error(String(reply.status)); }
          return reply.json();
        }).then(function (body) {
          if (!body) { return; }
          live.textContent = live.getAttribute("data-live");
          body.broadcasts.forEach(function (b) {
            var row = document.querySelector('[data-testid=broadcast][data-id="' + b.id + '"]');
            if (!row) { return; }
            if (row.getAttribute("data-status") !== b.status) {
              row.setAttribute("data-status", b.status);
              row.querySelector('[data-cell="status"]').textContent = b.status;
            }
            spans(row.querySelector('[data-cell="progress"]'), "data-state", b.progress,
              function (state) { return state.replace("_", " "); });
            if (b.poll) { spans(row.querySelector('[data-cell="poll"]'), "data-choice", b.poll, function (c) { return c; }); }
          });
        }).catch(function () { live.textContent = live.getAttribute("data-offline"); })
        .finally(function () { setTimeout(refresh, 2000); });
    }
    setTimeout(refresh, 2000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    localTimes(document);
    var page = document.body.getAttribute("data-page");
    if (page === "queue") { queuePage(); }
    if (page === "case") { casePage(); }
    if (page === "campaigns") { campaignsPage(); }
  });
})();
