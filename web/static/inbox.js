// The operator inbox, live: a WebSocket brings new messages, status and
// assignee changes, typing and read state; the composer, the state buttons
// and the filters work through fetch without reloading. Every page works
// without this script too (plain forms and links).
//
// Text from visitors, operators and the server is only ever put into the
// page as text (textContent, attribute values, form values), never parsed
// as markup.
(function () {
  "use strict";

  var root = document.querySelector("[data-org]");
  if (!root) {
    return;
  }
  var org = root.getAttribute("data-org");
  var meta = document.querySelector('meta[name="csrf-token"]');
  var csrf = meta ? meta.getAttribute("content") : "";

  // Preference entries in local storage (policy §5): the selected inbox
  // filter and the starred contacts, per organization.
  var FILTER_KEY = "convot.inbox.filter." + org;
  var STAR_KEY = "convot.inbox.starred." + org;
  function load(key, fallback) {
    try {
      var v = window.localStorage.getItem(key);
      return v === null ? fallback : JSON.parse(v);
    } catch (_e) {
      return fallback;
    }
  }
  function save(key, value) {
    try {
      window.localStorage.setItem(key, JSON.stringify(value));
    } catch (_e) {
      // Storage full or disabled: the preference lasts for this page only.
    }
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        if (attrs[k] !== null && attrs[k] !== undefined && attrs[k] !== false) {
          node.setAttribute(k, attrs[k] === true ? "" : String(attrs[k]));
        }
      });
    }
    if (text !== undefined && text !== null) {
      node.textContent = String(text);
    }
    return node;
  }
  function byTestID(id, scope) {
    return (scope || document).querySelector('[data-testid="' + id + '"]');
  }
  // Times read "3 min ago" where marked data-relative (the full time in
  // the title), the local date and time elsewhere.
  function relativeTime(d, now) {
    var secs = Math.round((now - d.getTime()) / 1000);
    if (secs < 45) {
      return "just now";
    }
    var mins = Math.round(secs / 60);
    if (mins < 60) {
      return mins + " min ago";
    }
    var hours = Math.round(mins / 60);
    if (hours < 24) {
      return hours + " h ago";
    }
    var days = Math.round(hours / 24);
    if (days < 7) {
      return days === 1 ? "yesterday" : days + " days ago";
    }
    return d.toLocaleDateString();
  }
  function formatTime(node) {
    var d = new Date(node.getAttribute("datetime"));
    if (isNaN(d.getTime())) {
      return;
    }
    if (node.hasAttribute("data-relative")) {
      node.textContent = relativeTime(d, Date.now());
      node.title = d.toLocaleString();
    } else {
      node.textContent = d.toLocaleString();
    }
  }
  function timeNode(iso, attrs) {
    var t = el("time", attrs);
    t.setAttribute("datetime", iso);
    t.setAttribute("data-relative", "");
    formatTime(t);
    return t;
  }
  document.querySelectorAll("time[datetime]").forEach(formatTime);
  window.setInterval(function () {
    document.querySelectorAll("time[data-relative]").forEach(formatTime);
  }, 30000);
  // A label filter applies as soon as it is chosen.
  document.addEventListener("change", function (e) {
    if (e.target.hasAttribute && e.target.hasAttribute("data-autosubmit") && e.target.form) {
      e.target.form.submit();
    }
  });

  // ---- Starred contacts ----------------------------------------------
  function starred() {
    var list = load(STAR_KEY, []);
    return Array.isArray(list) ? list.map(String) : [];
  }
  function paintStars() {
    var set = starred();
    document.querySelectorAll("[data-star-contact]").forEach(function (b) {
      var on = set.indexOf(b.getAttribute("data-star-contact")) >= 0;
      b.setAttribute("aria-pressed", on ? "true" : "false");
      b.textContent = on ? "\u2605" : "\u2606";
      b.classList.toggle("on", on);
      b.title = on ? "Unstar this contact" : "Star this contact";
    });
  }
  // Starred contacts first in the contact list (stable within each group).
  function sortContactRows() {
    var table = byTestID("contact-list");
    if (!table || !table.tBodies.length) {
      return;
    }
    var body = table.tBodies[0];
    var set = starred();
    var rows = Array.prototype.slice.call(body.querySelectorAll("tr[data-contact-id]"));
    var first = rows.filter(function (r) { return set.indexOf(r.getAttribute("data-contact-id")) >= 0; });
    var rest = rows.filter(function (r) { return set.indexOf(r.getAttribute("data-contact-id")) < 0; });
    first.concat(rest).forEach(function (r) { body.appendChild(r); });
  }
  document.addEventListener("click", function (e) {
    var b = e.target.closest("[data-star-contact]");
    if (!b) {
      return;
    }
    var id = b.getAttribute("data-star-contact");
    var set = starred();
    var i = set.indexOf(id);
    if (i >= 0) {
      set.splice(i, 1);
    } else {
      set.push(id);
    }
    save(STAR_KEY, set);
    paintStars();
    sortContactRows();
  });
  paintStars();
  sortContactRows();

  // ---- The inbox -------------------------------------------------------
  var inbox = document.getElementById("inbox");
  if (!inbox) {
    return;
  }
  var self = Number(inbox.getAttribute("data-self"));
  var filter = { status: inbox.getAttribute("data-status"), assignment: inbox.getAttribute("data-assignment") };
  var labelFilter = inbox.getAttribute("data-label") || "";
  var STATUSES = ["open", "pending", "snoozed", "resolved", "all"];
  var ASSIGNMENTS = ["mine", "unassigned", "all"];
  var list = byTestID("conversation-list");
  var conv = byTestID("conversation");
  var openID = conv && conv.hasAttribute("data-conversation-id") ? Number(conv.getAttribute("data-conversation-id")) : 0;
  var messages = byTestID("message-list");
  var teammates = {};
  var assignSelect = byTestID("assign-select");
  if (assignSelect) {
    Array.prototype.forEach.call(assignSelect.options, function (o) {
      if (o.value) {
        teammates[o.value] = o.textContent;
      }
    });
  }
  var lastMessageID = 0;
  if (messages) {
    messages.querySelectorAll("[data-message-id]").forEach(function (m) {
      lastMessageID = Math.max(lastMessageID, Number(m.getAttribute("data-message-id")));
    });
  }

  function jsonFetch(url, options) {
    options = options || {};
    options.credentials = "same-origin";
    options.headers = options.headers || {};
    options.headers.Accept = "application/json";
    if (options.method === "POST") {
      options.headers["X-CSRF-Token"] = csrf;
    }
    return fetch(url, options).then(function (resp) {
      return resp.json().catch(function () { return {}; }).then(function (data) {
        if (!resp.ok) {
          var err = new Error(data && data.error ? data.error : "The request failed (" + resp.status + ").");
          err.status = resp.status;
          throw err;
        }
        return data;
      });
    });
  }
  function filterQuery(f) {
    return "status=" + encodeURIComponent(f.status) + "&assignment=" + encodeURIComponent(f.assignment) +
      (labelFilter ? "&label=" + encodeURIComponent(labelFilter) : "");
  }
  function matches(item) {
    if (filter.status !== "all" && item.status !== filter.status) {
      return false;
    }
    if (labelFilter && item.labels && !item.labels.some(function (l) { return String(l.id) === labelFilter; })) {
      return false;
    }
    var assignee = Number(item.assignee_id || 0);
    if (filter.assignment === "mine") {
      return assignee === self;
    }
    if (filter.assignment === "unassigned") {
      return assignee === 0;
    }
    return true;
  }
  function assigneeName(item) {
    var id = Number(item.assignee_id || 0);
    if (!id) {
      return "Unassigned";
    }
    return item.assignee || teammates[String(id)] || "Operator #" + id;
  }

  // -- Filters, kept in local storage --
  function paintFilters() {
    inbox.setAttribute("data-status", filter.status);
    inbox.setAttribute("data-assignment", filter.assignment);
    document.querySelectorAll("[data-filter-status]").forEach(function (a) {
      var on = a.getAttribute("data-filter-status") === filter.status;
      a.classList.toggle("on", on);
      if (on) { a.setAttribute("aria-current", "true"); } else { a.removeAttribute("aria-current"); }
      a.setAttribute("href", "/inbox?" + filterQuery({ status: a.getAttribute("data-filter-status"), assignment: filter.assignment }));
    });
    document.querySelectorAll("[data-filter-assignment]").forEach(function (a) {
      var on = a.getAttribute("data-filter-assignment") === filter.assignment;
      a.classList.toggle("on", on);
      if (on) { a.setAttribute("aria-current", "true"); } else { a.removeAttribute("aria-current"); }
      a.setAttribute("href", "/inbox?" + filterQuery({ status: filter.status, assignment: a.getAttribute("data-filter-assignment") }));
    });
    document.querySelectorAll('input[type="hidden"][name="status"]').forEach(function (i) { i.value = filter.status; });
    document.querySelectorAll('input[type="hidden"][name="assignment"]').forEach(function (i) { i.value = filter.assignment; });
    var more = byTestID("conversation-list-more");
    if (more) {
      more.hidden = true; // the rebuilt list shows the first page
    }
  }
  function applyFilter(f) {
    filter = { status: f.status, assignment: f.assignment };
    save(FILTER_KEY, filter);
    paintFilters();
    history.replaceState(null, "", location.pathname + "?" + filterQuery(filter));
    refreshList();
  }
  document.addEventListener("click", function (e) {
    var a = e.target.closest("[data-filter-status],[data-filter-assignment]");
    if (!a || e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) {
      return;
    }
    e.preventDefault();
    applyFilter({
      status: a.getAttribute("data-filter-status") || filter.status,
      assignment: a.getAttribute("data-filter-assignment") || filter.assignment
    });
  });
  (function restoreFilter() {
    var params = new URLSearchParams(location.search);
    if (params.has("status") || params.has("assignment")) {
      save(FILTER_KEY, filter); // an explicit choice (a link, a bookmark)
      return;
    }
    var saved = load(FILTER_KEY, null);
    if (saved && STATUSES.indexOf(saved.status) >= 0 && ASSIGNMENTS.indexOf(saved.assignment) >= 0 &&
        (saved.status !== filter.status || saved.assignment !== filter.assignment)) {
      applyFilter(saved);
    }
  })();

  // -- The conversation list --
  function itemNode(item) {
    var li = el("li", {
      "data-testid": "conversation-item", "data-conversation-id": item.id,
      "data-status": item.status, "data-assignee-id": Number(item.assignee_id || 0)
    });
    if (item.id === openID) {
      li.classList.add("on");
    }
    li.appendChild(el("input", {
      type: "checkbox", name: "ids", value: item.id, form: "bulk-form", "class": "pick",
      "data-testid": "conversation-item-check", "aria-label": "Select the conversation with " + (item.contact || "Visitor")
    }));
    var a = el("a", { href: "/inbox/conversations/" + item.id + "?" + filterQuery(filter) });
    a.appendChild(el("span", { "class": "who", "data-testid": "conversation-item-contact" }, item.contact || "Visitor"));
    a.appendChild(timeNode(item.last_message_at, { "class": "when", "data-testid": "conversation-item-time" }));
    if (item.subject) {
      a.appendChild(el("span", { "class": "subject" }, item.subject));
    }
    a.appendChild(el("span", { "class": "preview", "data-testid": "conversation-item-preview" }, item.preview || ""));
    var tags = el("span", { "class": "tags" });
    tags.appendChild(el("span", { "class": "status status-" + item.status, "data-testid": "conversation-item-status" }, item.status));
    tags.appendChild(el("span", { "class": "assignee", "data-testid": "conversation-item-assignee" }, assigneeName(item)));
    (item.labels || []).forEach(function (l) {
      tags.appendChild(el("span", { "class": "label-chip", "data-testid": "conversation-item-label", "data-label-id": l.id }, l.name));
    });
    var badge = el("span", { "class": "badge", "data-testid": "conversation-item-unread" }, item.unread || 0);
    badge.hidden = !item.unread;
    tags.appendChild(badge);
    li.classList.toggle("unread", !!item.unread);
    a.appendChild(tags);
    li.appendChild(a);
    return li;
  }
  function findItem(id) {
    return list ? list.querySelector('[data-testid="conversation-item"][data-conversation-id="' + Number(id) + '"]') : null;
  }
  function paintEmpty() {
    if (!list) {
      return;
    }
    var empty = byTestID("conversation-list-empty", list);
    var any = list.querySelector('[data-testid="conversation-item"]');
    if (any && empty) {
      empty.remove();
    } else if (!any && !empty) {
      list.appendChild(el("li", { "class": "empty", "data-testid": "conversation-list-empty" }, "No conversations here."));
    }
  }
  var refreshTimer = 0;
  var listRequest = 0;
  function refreshList() {
    if (!list) {
      return;
    }
    var mine = ++listRequest;
    jsonFetch("/inbox/conversations?" + filterQuery(filter)).then(function (data) {
      if (mine !== listRequest) {
        return; // a newer filter or refresh won
      }
      var nodes = (data.conversations || []).map(itemNode);
      list.replaceChildren.apply(list, nodes);
      paintEmpty();
    }).catch(function () { /* the next event or reconnect refreshes again */ });
  }
  function scheduleRefresh() {
    window.clearTimeout(refreshTimer);
    refreshTimer = window.setTimeout(refreshList, 300);
  }
  // A message moves its conversation to the top.
  function previewOf(m) {
    var text = (m.body || "").replace(/\s+/g, " ").trim();
    if (text.length > 90) {
      text = text.slice(0, 89).trim() + "\u2026";
    }
    if (!text) {
      text = "(a file)";
    }
    if (m.private) {
      return "Note: " + text;
    }
    return m.author_type === "operator" ? "You: " + text : text;
  }
  function touchItem(id, at, unread, m) {
    var li = findItem(id);
    if (!li) {
      scheduleRefresh();
      return;
    }
    var preview = li.querySelector('[data-testid="conversation-item-preview"]');
    if (preview && m) {
      preview.textContent = previewOf(m);
    }
    var t = li.querySelector("time");
    if (t && at) {
      t.setAttribute("datetime", at);
      formatTime(t);
    }
    if (unread) {
      var badge = li.querySelector('[data-testid="conversation-item-unread"]');
      if (badge) {
        badge.textContent = String(Number(badge.textContent || 0) + 1);
        badge.hidden = false;
        li.classList.add("unread");
      }
    }
    if (list.firstElementChild !== li) {
      list.insertBefore(li, list.firstElementChild);
    }
  }

  // -- The open conversation --
  var contactLabel = conv ? conv.getAttribute("data-contact-label") || "Visitor" : "Visitor";
  function authorLabel(m) {
    if (m.author_type === "contact") {
      return contactLabel;
    }
    if (m.author_type === "operator") {
      return m.author_name || "Operator";
    }
    if (m.author_type === "bot") {
      return "Automated answer";
    }
    return "System";
  }
  function messageNode(m) {
    var li = el("li", {
      "class": "msg msg-" + m.author_type + (m.private ? " msg-note" : ""),
      "data-testid": "message", "data-message-id": m.id, "data-author-type": m.author_type,
      "data-private": m.private ? "true" : null
    });
    var metaRow = el("div", { "class": "meta" });
    metaRow.appendChild(el("span", { "class": "author", "data-testid": "message-author" }, authorLabel(m)));
    if (m.private && m.author_type !== "system") {
      metaRow.appendChild(el("span", { "class": "note-badge", "data-testid": "message-note-badge" }, "Private note"));
    }
    metaRow.appendChild(timeNode(m.created_at));
    if (m.author_type === "operator" && !m.private) {
      var seen = el("span", { "class": "seen", "data-testid": "message-seen" }, "Seen");
      seen.hidden = !m.read_at;
      metaRow.appendChild(seen);
    }
    li.appendChild(metaRow);
    if (m.body) {
      li.appendChild(el("p", { "class": "body", "data-testid": "message-body" }, m.body));
    }
    if (m.attachments && m.attachments.length) {
      var files = el("ul", { "class": "files" });
      m.attachments.forEach(function (a) {
        var item = el("li");
        var href = "/inbox/conversations/" + openID + "/attachments/" + Number(a.id);
        if (/^image\//.test(a.content_type || "")) {
          var link = el("a", { href: href, target: "_blank", rel: "noopener", "class": "thumb-link" });
          var img = el("img", { "class": "thumb", "data-testid": "attachment-thumb", src: href, alt: a.name || "image" });
          followImage(img);
          link.appendChild(img);
          item.appendChild(link);
          item.appendChild(el("br"));
        }
        item.appendChild(el("a", {
          "data-testid": "attachment-link", href: "/inbox/conversations/" + openID + "/attachments/" + Number(a.id),
          target: "_blank", rel: "noopener"
        }, a.name));
        item.appendChild(document.createTextNode(" "));
        item.appendChild(el("span", { "class": "muted" }, a.content_type + ", " + a.size + " bytes"));
        files.appendChild(item);
      });
      li.appendChild(files);
    }
    return li;
  }
  function appendMessage(m) {
    if (!messages || !m || messages.querySelector('[data-message-id="' + Number(m.id) + '"]')) {
      return false;
    }
    var node = messageNode(m);
    // Keep ID order even if a catch-up and a live event cross.
    var after = null;
    messages.querySelectorAll("[data-message-id]").forEach(function (x) {
      if (Number(x.getAttribute("data-message-id")) > m.id && !after) {
        after = x;
      }
    });
    var atBottom = nearBottom();
    messages.insertBefore(node, after);
    lastMessageID = Math.max(lastMessageID, m.id);
    if (atBottom || m.author_type === "operator") {
      scrollToNewest();
    }
    return true;
  }

  // -- Opening at the newest message; older ones as the operator scrolls up --
  // The inbox fills the window below the header, so the composer (and its
  // Send button) is always in view and only the messages scroll.
  function fitInbox() {
    var top = inbox.getBoundingClientRect().top + window.scrollY;
    inbox.style.setProperty("--inbox-top", Math.max(0, Math.round(top)) + "px");
  }
  fitInbox();
  window.addEventListener("resize", fitInbox);
  function nearBottom() {
    return !messages || messages.scrollHeight - messages.scrollTop - messages.clientHeight < 80;
  }
  function scrollToNewest() {
    if (messages) {
      messages.scrollTop = messages.scrollHeight;
    }
  }
  var loadingOlder = false;
  function firstMessageID() {
    var first = messages && messages.querySelector("[data-message-id]");
    return first ? Number(first.getAttribute("data-message-id")) : 0;
  }
  function loadOlder() {
    if (!messages || loadingOlder || messages.getAttribute("data-earlier") !== "true" || !firstMessageID()) {
      return;
    }
    loadingOlder = true;
    messages.setAttribute("data-loading", "true");
    jsonFetch("/inbox/conversations/" + openID + "/messages?before_id=" + firstMessageID() + "&limit=50").then(function (data) {
      // Keep what the operator is looking at in place while older
      // messages go in above it.
      var fromBottom = messages.scrollHeight - messages.scrollTop;
      var anchor = messages.querySelector("[data-message-id]");
      (data.messages || []).forEach(function (m) {
        if (!messages.querySelector('[data-message-id="' + Number(m.id) + '"]')) {
          messages.insertBefore(messageNode(m), anchor);
        }
      });
      messages.scrollTop = messages.scrollHeight - fromBottom;
      if (!data.has_more) {
        messages.setAttribute("data-earlier", "false");
        var note = byTestID("messages-earlier", messages);
        if (note) {
          note.remove();
        }
      }
    }).catch(function () { /* scrolling up again retries */ }).then(function () {
      loadingOlder = false;
      messages.removeAttribute("data-loading");
      if (messages.scrollTop < 80) {
        loadOlder(); // still at the top: the page was short
      }
    });
  }
  // Images arrive after the page: while the operator is at the newest
  // message, it stays in view as they grow the list.
  var stickToBottom = true;
  function followImage(img) {
    if (img.complete) {
      return;
    }
    img.addEventListener("load", function () {
      if (stickToBottom) {
        scrollToNewest();
      }
    });
  }
  if (messages) {
    messages.querySelectorAll("img.thumb").forEach(followImage);
    scrollToNewest();
    messages.addEventListener("scroll", function () {
      stickToBottom = nearBottom();
      if (messages.scrollTop < 80) {
        loadOlder();
      }
    });
  }
  function markSeen(upTo) {
    if (!messages) {
      return;
    }
    messages.querySelectorAll('[data-author-type="operator"]').forEach(function (m) {
      if (Number(m.getAttribute("data-message-id")) <= upTo) {
        var seen = m.querySelector('[data-testid="message-seen"]');
        if (seen) {
          seen.hidden = false;
        }
      }
    });
  }
  var typingTimer = 0;
  function showTyping() {
    var t = byTestID("typing-indicator");
    if (!t) {
      return;
    }
    t.hidden = false;
    window.clearTimeout(typingTimer);
    typingTimer = window.setTimeout(function () { t.hidden = true; }, 5000);
  }
  function hideTyping() {
    var t = byTestID("typing-indicator");
    if (t) {
      t.hidden = true;
    }
  }
  // Live state events counted per conversation: an answer to a request
  // (fetch) is applied only when no live event for that conversation came
  // while it was on its way, since the live event is at least as new.
  var stateEvents = {};
  function stateMark(id) {
    return stateEvents[id] || 0;
  }
  function applyAnswer(c, mark) {
    if (c && stateMark(c.id) === mark) {
      applyConversation(c);
    }
  }
  // A conversation's new state: the open view and the list.
  function applyConversation(c) {
    if (!c || !c.id) {
      return;
    }
    var assigneeID = Number(c.assignee_id || 0);
    if (c.id === openID && conv) {
      conv.setAttribute("data-status", c.status);
      conv.setAttribute("data-assignee-id", assigneeID);
      var st = byTestID("conversation-status", conv);
      st.textContent = c.status;
      st.className = "status status-" + c.status;
      byTestID("conversation-assignee", conv).textContent = assigneeName(c);
      if (assignSelect) {
        assignSelect.value = assigneeID ? String(assigneeID) : "";
      }
      var snoozed = byTestID("conversation-snoozed-until", conv);
      if (snoozed) {
        var t = snoozed.querySelector("time");
        if (c.status === "snoozed" && c.snoozed_until) {
          t.setAttribute("datetime", c.snoozed_until);
          formatTime(t);
          snoozed.hidden = false;
        } else {
          snoozed.hidden = true;
        }
      }
      conv.querySelectorAll("[data-show-unless]").forEach(function (f) {
        f.hidden = f.getAttribute("data-show-unless") === c.status;
      });
    }
    var li = findItem(c.id);
    if (li) {
      if (!matches(c)) {
        li.remove();
        paintEmpty();
        return;
      }
      li.setAttribute("data-status", c.status);
      li.setAttribute("data-assignee-id", assigneeID);
      var s = li.querySelector('[data-testid="conversation-item-status"]');
      s.textContent = c.status;
      s.className = "status status-" + c.status;
      li.querySelector('[data-testid="conversation-item-assignee"]').textContent = assigneeName(c);
    } else if (matches(c)) {
      scheduleRefresh();
    }
  }

  // -- Alerts while the tab is in the background (preferences in local
  // storage, policy §5): an unread count in the title, a sound made with
  // WebAudio, a desktop notification once the operator allowed them. --
  var ALERT_KEY = "convot.inbox.alerts." + org;
  var alertPrefs = load(ALERT_KEY, { title: true, sound: false, desktop: false });
  if (!alertPrefs || typeof alertPrefs !== "object") {
    alertPrefs = { title: true, sound: false, desktop: false };
  }
  var baseTitle = document.title;
  var hiddenUnread = 0;
  var audio = null;
  var alertStatus = byTestID("alert-status");
  function paintAlertPrefs() {
    document.querySelectorAll("[data-alert-pref]").forEach(function (box) {
      box.checked = !!alertPrefs[box.getAttribute("data-alert-pref")];
    });
  }
  function audioContext() {
    var Ctx = window.AudioContext || window.webkitAudioContext;
    if (!audio && Ctx) {
      audio = new Ctx();
    }
    return audio;
  }
  function chime() {
    var ctx = audioContext();
    if (!ctx) {
      return;
    }
    if (ctx.state === "suspended" && ctx.resume) {
      ctx.resume();
    }
    // Two short rising notes.
    [660, 880].forEach(function (freq, i) {
      var osc = ctx.createOscillator();
      var gain = ctx.createGain();
      var at = ctx.currentTime + i * 0.16;
      osc.type = "sine";
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(0.2, at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.15);
      osc.connect(gain);
      gain.connect(ctx.destination);
      osc.start(at);
      osc.stop(at + 0.16);
    });
  }
  document.addEventListener("change", function (e) {
    var box = e.target.closest ? e.target.closest("[data-alert-pref]") : null;
    if (!box) {
      return;
    }
    var pref = box.getAttribute("data-alert-pref");
    if (pref === "desktop" && box.checked) {
      if (!("Notification" in window)) {
        box.checked = false;
        alertStatus.textContent = "This browser does not show desktop notifications.";
        return;
      }
      // Ask the browser only now, when the operator opts in.
      Promise.resolve(window.Notification.requestPermission()).then(function (answer) {
        alertPrefs.desktop = answer === "granted";
        box.checked = alertPrefs.desktop;
        alertStatus.textContent = alertPrefs.desktop ? "Desktop notifications on." : "The browser refused desktop notifications; allow them in its site settings.";
        save(ALERT_KEY, alertPrefs);
      });
      return;
    }
    alertPrefs[pref] = box.checked;
    if (pref === "sound" && box.checked) {
      audioContext(); // created on a click, so the browser lets it play later
    }
    alertStatus.textContent = "";
    save(ALERT_KEY, alertPrefs);
  });
  paintAlertPrefs();
  function alertNew(ev) {
    if (document.visibilityState !== "hidden") {
      return;
    }
    hiddenUnread++;
    if (alertPrefs.title) {
      document.title = "(" + hiddenUnread + ") " + baseTitle;
    }
    if (alertPrefs.sound) {
      chime();
    }
    if (alertPrefs.desktop && "Notification" in window && window.Notification.permission === "granted") {
      var li = findItem(ev.conversation_id);
      var who = li ? li.querySelector('[data-testid="conversation-item-contact"]').textContent : "a visitor";
      var note = new window.Notification("New message from " + who, {
        tag: "convot-conversation-" + ev.conversation_id,
        body: "Open the inbox to read it."
      });
      note.onclick = function () {
        window.focus();
        location.href = "/inbox/conversations/" + Number(ev.conversation_id) + "?" + filterQuery(filter);
      };
    }
  }
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") {
      hiddenUnread = 0;
      document.title = baseTitle;
    }
  });

  // -- The contact sidebar follows the contact's identify live --
  function refreshContact(id) {
    var pane = byTestID("contact-sidebar");
    if (!pane || Number(pane.getAttribute("data-contact-id")) !== Number(id)) {
      return;
    }
    jsonFetch("/inbox/contacts/" + Number(id) + "/card").then(function (ct) {
      var set = function (testid, value) {
        var node = byTestID(testid, pane);
        if (node) {
          node.textContent = value || "\u2014";
        }
      };
      set("contact-name", ct.label);
      set("contact-field-name", ct.name);
      set("contact-field-email", ct.email);
      set("contact-field-phone", ct.phone);
      set("contact-field-external-id", ct.external_id);
      var custom = byTestID("contact-custom", pane);
      var dl = el("dl", { "class": "facts", "data-testid": "contact-custom" });
      (ct.custom || []).forEach(function (a) {
        dl.appendChild(el("dt", null, a.key));
        dl.appendChild(el("dd", null, a.value));
      });
      if (custom) {
        custom.replaceWith(dl);
      } else if (dl.childNodes.length) {
        var none = pane.querySelector("h3 + p.muted");
        if (none) {
          none.replaceWith(dl);
        }
      }
      contactLabel = ct.label || contactLabel;
      var title = byTestID("conversation-title");
      if (title && conv) {
        title.textContent = contactLabel;
      }
      var li = findItem(openID);
      if (li) {
        li.querySelector('[data-testid="conversation-item-contact"]').textContent = contactLabel;
      }
    }).catch(function () { /* a merged-away contact: the next page load shows the new one */ });
  }

  // -- The live socket, with reconnects --
  var ws = null;
  var backoff = 1000;
  var connectedBefore = false;
  function setLive(text, state) {
    var live = byTestID("live-status");
    if (live) {
      live.textContent = text;
      live.setAttribute("data-state", state);
    }
    inbox.setAttribute("data-live", state);
  }
  function send(obj) {
    if (ws && ws.readyState === WebSocket.OPEN) {
      ws.send(JSON.stringify(obj));
    }
  }
  function sendRead(id) {
    if (openID && document.visibilityState === "visible") {
      send({ type: "read", conversation_id: openID, message_id: id });
    }
  }
  function catchUp() {
    refreshList();
    if (!openID) {
      return;
    }
    var mark = stateMark(openID);
    jsonFetch("/inbox/conversations/" + openID + "/messages?after_id=" + lastMessageID).then(function (data) {
      var gotContact = 0;
      (data.messages || []).forEach(function (m) {
        if (appendMessage(m) && m.author_type === "contact") {
          gotContact = m.id;
        }
      });
      applyAnswer(data.conversation, mark);
      if (gotContact) {
        sendRead(gotContact);
      }
    }).catch(function () { /* the next reconnect tries again */ });
  }
  function handle(ev) {
    switch (ev.type) {
      case "message":
        if (!ev.message) {
          return;
        }
        if (ev.conversation_id === openID) {
          appendMessage(ev.message);
          if (ev.message.author_type === "contact") {
            hideTyping();
            sendRead(ev.message.id);
          }
        }
        touchItem(ev.conversation_id, ev.message.created_at, ev.message.author_type === "contact" && ev.conversation_id !== openID, ev.message);
        if (ev.message.author_type === "contact") {
          alertNew(ev);
        }
        break;
      case "conversation":
        stateEvents[ev.conversation_id] = stateMark(ev.conversation_id) + 1;
        applyConversation(ev.conversation);
        break;
      case "contact":
        refreshContact(ev.contact_id);
        break;
      case "typing":
        if (ev.conversation_id === openID && ev.author_type === "contact") {
          showTyping();
        }
        break;
      case "read":
        if (ev.conversation_id === openID && ev.author_type === "contact") {
          markSeen(ev.message_id);
        }
        break;
    }
  }
  function connect() {
    setLive(connectedBefore ? "Reconnecting…" : "Connecting…", "connecting");
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    try {
      ws = new WebSocket(scheme + location.host + "/inbox/ws");
    } catch (_e) {
      retry();
      return;
    }
    ws.onopen = function () {
      backoff = 1000;
      setLive("Live", "live");
      if (connectedBefore) {
        catchUp(); // what happened while the socket was down
      }
      connectedBefore = true;
    };
    ws.onmessage = function (e) {
      var ev;
      try {
        ev = JSON.parse(e.data);
      } catch (_err) {
        return;
      }
      handle(ev);
    };
    ws.onclose = function () {
      ws = null;
      retry();
    };
  }
  function retry() {
    setLive("Offline, reconnecting…", "offline");
    var wait = backoff + Math.floor(Math.random() * 500);
    backoff = Math.min(backoff * 2, 30000);
    window.setTimeout(connect, wait);
  }
  connect();
  window.setInterval(function () { send({ type: "heartbeat" }); }, 30000);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible" && lastMessageID) {
      sendRead(lastMessageID);
    }
  });

  // -- Composer --
  var composer = byTestID("composer");
  var textarea = byTestID("composer-textarea");
  var noteToggle = byTestID("composer-note-toggle");
  var fileInput = byTestID("composer-file");
  var sendButton = byTestID("composer-send");
  var composerError = byTestID("composer-error");
  function showError(node, text) {
    if (node) {
      node.textContent = text;
      node.hidden = !text;
    }
  }
  function paintNote() {
    var note = noteToggle && noteToggle.checked;
    composer.classList.toggle("is-note", !!note);
    sendButton.textContent = note ? "Add note" : "Send";
  }
  var lastTyping = 0;
  if (composer) {
    paintNote();
    noteToggle.addEventListener("change", paintNote);
    composer.addEventListener("submit", function (e) {
      e.preventDefault();
      var file = fileInput && fileInput.files && fileInput.files[0];
      if (!textarea.value.trim() && !file) {
        showError(composerError, "Write a message or attach a file.");
        return;
      }
      var data = new FormData(composer);
      if (!file) {
        data.delete("file");
      }
      sendButton.disabled = true;
      jsonFetch(composer.getAttribute("action"), { method: "POST", body: data }).then(function (resp) {
        appendMessage(resp.message);
        textarea.value = "";
        // What was typed is gone: so are its canned suggestions.
        hideSuggestions();
        var picker = byTestID("canned-picker");
        if (picker) {
          picker.open = false;
        }
        if (fileInput) {
          fileInput.value = "";
        }
        showError(composerError, "");
        lastTyping = 0; // the next keystroke starts a new typing spell
        touchItem(openID, resp.message && resp.message.created_at, false, resp.message);
      }).catch(function (err) {
        showError(composerError, err.message);
      }).then(function () {
        sendButton.disabled = false;
        textarea.focus();
      });
    });
    textarea.addEventListener("keydown", function (e) {
      if (suggestionsOpen() && (e.key === "Tab" || e.key === "Enter")) {
        var first = suggest.querySelector("button");
        if (first) {
          e.preventDefault();
          insertCanned(first.getAttribute("data-canned-body"));
          return;
        }
      }
      if (e.key === "Escape") {
        hideSuggestions();
      }
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        if (composer.requestSubmit) {
          composer.requestSubmit();
        } else {
          composer.dispatchEvent(new Event("submit", { cancelable: true }));
        }
      }
    });
    textarea.addEventListener("input", function () {
      showCannedSuggestions();
      // A private note is never announced to the visitor.
      if (noteToggle.checked) {
        return;
      }
      var now = Date.now();
      if (now - lastTyping > 2000) {
        lastTyping = now;
        send({ type: "typing", conversation_id: openID });
      }
    });
  }

  // -- Canned responses: "/" + shortcut, or the picker --
  var suggest = byTestID("canned-suggestions");
  var canned = Array.prototype.map.call(document.querySelectorAll("[data-canned-shortcut]"), function (b) {
    return { shortcut: b.getAttribute("data-canned-shortcut"), body: b.getAttribute("data-canned-body") };
  });
  var slashToken = /(^|\s)\/([a-z0-9_-]*)$/;
  function suggestionsOpen() {
    return suggest && !suggest.hidden;
  }
  function hideSuggestions() {
    if (suggest) {
      suggest.hidden = true;
      suggest.replaceChildren();
    }
  }
  function showCannedSuggestions() {
    if (!suggest || !canned.length) {
      return;
    }
    var before = textarea.value.slice(0, textarea.selectionStart);
    var m = before.match(slashToken);
    if (!m) {
      hideSuggestions();
      return;
    }
    var prefix = m[2];
    var found = canned.filter(function (c) { return c.shortcut.indexOf(prefix) === 0; }).slice(0, 8);
    if (!found.length) {
      hideSuggestions();
      return;
    }
    suggest.replaceChildren.apply(suggest, found.map(function (c) {
      var li = el("li");
      var b = el("button", { type: "button", "class": "link", "data-canned-body": c.body, "data-testid": "canned-suggestion" });
      b.appendChild(el("strong", null, "/" + c.shortcut));
      b.appendChild(document.createTextNode(" " + (c.body.length > 60 ? c.body.slice(0, 60) + "…" : c.body)));
      li.appendChild(b);
      return li;
    }));
    suggest.hidden = false;
  }
  function insertCanned(body) {
    var value = textarea.value;
    var pos = textarea.selectionStart;
    var before = value.slice(0, pos);
    var after = value.slice(pos);
    var m = before.match(slashToken);
    if (m) {
      before = before.slice(0, before.length - m[2].length - 1);
    }
    textarea.value = before + body + after;
    var caret = before.length + body.length;
    textarea.focus();
    textarea.setSelectionRange(caret, caret);
    hideSuggestions();
  }
  document.addEventListener("click", function (e) {
    var b = e.target.closest("[data-canned-body]");
    if (!b || !textarea) {
      return;
    }
    e.preventDefault();
    insertCanned(b.getAttribute("data-canned-body"));
    var picker = byTestID("canned-picker");
    if (picker) {
      picker.open = false;
    }
  });

  // -- Assign, snooze, resolve, reopen --
  var actionError = byTestID("action-error");
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (!form.hasAttribute || !form.hasAttribute("data-inbox-action")) {
      return;
    }
    e.preventDefault();
    var params = new URLSearchParams();
    new FormData(form).forEach(function (v, k) { params.append(k, v); });
    if (e.submitter && e.submitter.name) {
      params.set(e.submitter.name, e.submitter.value);
    }
    var mark = stateMark(openID);
    jsonFetch(form.getAttribute("action"), {
      method: "POST", body: params.toString(),
      headers: { "Content-Type": "application/x-www-form-urlencoded" }
    }).then(function (data) {
      showError(actionError, "");
      applyAnswer(data.conversation, mark);
    }).catch(function (err) {
      showError(actionError, err.message);
    });
  });

  // -- Keyboard shortcuts: r reply, n note, e resolve, j / k next and
  // previous conversation. Not while typing in a field. --
  function go(step) {
    var items = Array.prototype.slice.call(list ? list.querySelectorAll('[data-testid="conversation-item"]') : []);
    if (!items.length) {
      return;
    }
    var at = items.indexOf(findItem(openID));
    var next = at < 0 ? items[0] : items[at + step];
    if (next) {
      location.href = next.querySelector("a").getAttribute("href");
    }
  }
  document.addEventListener("keydown", function (e) {
    var t = e.target;
    if (e.ctrlKey || e.metaKey || e.altKey || e.defaultPrevented ||
        (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName)))) {
      return;
    }
    switch (e.key) {
      case "r":
      case "n":
        if (!composer) {
          return;
        }
        e.preventDefault();
        noteToggle.checked = e.key === "n";
        paintNote();
        // Focus after this key's events, so the letter is not typed.
        window.setTimeout(function () { textarea.focus(); }, 0);
        break;
      case "e":
        var resolve = byTestID("resolve-button");
        if (resolve && !resolve.closest("form").hidden) {
          e.preventDefault();
          resolve.click();
        }
        break;
      case "j":
        e.preventDefault();
        go(1);
        break;
      case "k":
        e.preventDefault();
        go(-1);
        break;
    }
  });
})();
