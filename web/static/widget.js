/*
 * Convot chat widget. Our own small vanilla JavaScript, no dependencies.
 *
 * Embed: <script src="https://CONVOT/widget.js" data-org="PUBLIC_KEY" async></script>
 *
 * - Everything lives in a Shadow DOM, so the host page's styles do not
 *   reach it and its styles do not leak out.
 * - It talks to nothing but Convot: the origin this script was loaded
 *   from (its own src), over fetch and one WebSocket.
 * - It keeps at most two entries in the browser's local storage (policy
 *   §5): the visitor token "convot.visitor.<PUBLIC_KEY>", which binds this
 *   browser to its conversations across page loads and visits, and the
 *   language the visitor chose, "convot.language.<PUBLIC_KEY>". The token (and the
 *   contact with its technical information) is created only when the
 *   visitor first writes, leaves an address or is identified.
 * - Message text and file names are only ever set with textContent: what
 *   a visitor or an operator writes is shown as text, never as markup.
 *
 * For the page (and tests): window.ConvotWidget = {
 *   root,            the shadow root (elements carry data-testid="convot-...")
 *   ready,           a Promise resolved once the session has started (a page
 *                    view records nothing: the visitor's contact and token
 *                    are created on their first message, email or identify)
 *   open(), close(), toggle(), isOpen(),
 *   send(text),      → Promise of the committed message
 *   upload(file),    → Promise of the committed message (a File or Blob)
 *   identify(attrs), → Promise of the contact; attrs: name, email, phone,
 *                      external_id, custom_attributes, user_hash
 *   reset(),         forget this browser's visitor (e.g. on sign-out)
 *   state()          → {conversationId, contact, operatorsOnline, connected, lastMessageId, seenUpTo, started}
 * }; a "convot:ready" event is dispatched on window when ready.
 *
 * Elements (data-testid, inside the shadow root): convot-widget,
 * convot-launcher, convot-unread (badge), convot-panel, convot-close,
 * convot-status, convot-messages, convot-greeting, convot-message
 * (data-id, data-author="contact"|"operator") with convot-message-author,
 * convot-message-body, convot-message-time, convot-seen ("Seen", shown on
 * the newest of the visitor's messages an operator read),
 * convot-attachment-image (an <img> with a blob: URL) and convot-attachment
 * (a download button), both with data-attachment-id; convot-typing,
 * convot-offline, convot-email-form, convot-email, convot-email-submit,
 * convot-email-saved, convot-limit (shown to a visitor without a
 * conversation while the team takes no new ones; the composer is then
 * disabled), convot-refused (why a site whose origin is not
 * allowed cannot use the chat; stays shown), convot-error, convot-composer, convot-file (the file
 * input; choosing a file uploads it), convot-attach, convot-input,
 * convot-send; convot-proof (shown while the visitor named an address
 * another contact has, without identity verification: their earlier
 * conversations show once they enter the code mailed to it) with
 * convot-proof-send, convot-proof-form, convot-proof-code,
 * convot-proof-submit and convot-proof-status; convot-resolved (shown
 * while the open conversation is resolved) with convot-rating (asked
 * once, until rated): convot-rate-1 … convot-rate-5 (aria-pressed on the
 * chosen score), convot-rating-comment, convot-rating-submit,
 * convot-rating-error, and convot-rating-thanks once rated.
 * While the organization's automated answers are on and the open
 * conversation is not yet handed to the team: convot-handover ("Talk to a
 * person"). The bot's answers are convot-message with data-author="bot"
 * and data-automated="true", labelled "Automated answer"; notices of the
 * system (the handover's) have data-author="system".
 */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script || (window.ConvotWidget && window.ConvotWidget.root)) {
    return;
  }
  var orgKey = script.getAttribute("data-org") || "";
  var base = new URL(script.src, document.baseURI).origin;
  var apiPath = "/widget/v1/" + encodeURIComponent(orgKey);
  var api = base + apiPath;
  var storageKey = "convot.visitor." + orgKey;

  var TYPING_SEND_EVERY = 2000;
  var TYPING_SHOW_FOR = 4000;
  var STATUS_EVERY = 60000;
  var STATUS_AWAY_EVERY = 5000;
  var PAGE = 200;
  var OLDER_PAGE = 50; // messages per page when scrolling back
  // A socket open this long without a "poll" event is live.
  var SOCKET_SETTLE = 3000;
  // The fastest a server may ask the widget to poll.
  var POLL_MIN = 2000;

  var state = {
    token: "",
    contact: null,
    settings: { color: "#2f6f4f", greeting: "", identity_verification: false },
    online: true,
    accepting: true, // the team takes new conversations
    proofNeeded: false, // the visitor claims an address it has not proven
    conv: null,
    messages: {}, // id → {view, el}
    lastId: 0,
    lastOperatorId: 0,
    readSent: 0,
    seenUpTo: 0,
    unread: 0,
    open: false,
    socket: null,
    connected: false,
    retry: 0,
    reconnectTimer: 0,
    pollTimer: 0,
    typingSentAt: 0,
    typingTimer: 0,
    statusTimer: 0,
    rated: null,
    ratingFor: 0,
    ratingScore: 0,
    blobURLs: [],
    sending: false,
    started: false, // the session has started (with or without a contact)
    generation: 0
  };

  // ---- storage -----------------------------------------------------------

  // The visitor's language preference (policy §5: a preference entry in
  // local storage), "convot.language.<PUBLIC_KEY>": chosen in the panel,
  // sent when the session starts so the team sees it on the contact.
  var languageKey = "convot.language." + orgKey;
  var LANGUAGES = [["", "Browser language"], ["en", "English"], ["de", "Deutsch"], ["fr", "Fran\u00e7ais"],
    ["es", "Espa\u00f1ol"], ["it", "Italiano"], ["nl", "Nederlands"], ["pt", "Portugu\u00eas"]];
  function loadLanguage() {
    try {
      return window.localStorage.getItem(languageKey) || "";
    } catch (_e) {
      return "";
    }
  }
  function saveLanguage(lang) {
    try {
      if (lang) {
        window.localStorage.setItem(languageKey, lang);
      } else {
        window.localStorage.removeItem(languageKey);
      }
    } catch (_e) {
      // Storage blocked: the choice lasts for this page only.
    }
  }

  var memoryToken = "";
  function loadToken() {
    try {
      return window.localStorage.getItem(storageKey) || "";
    } catch (_e) {
      return memoryToken;
    }
  }
  function saveToken(token) {
    state.token = token;
    memoryToken = token;
    try {
      if (token) {
        window.localStorage.setItem(storageKey, token);
      } else {
        window.localStorage.removeItem(storageKey);
      }
    } catch (_e) {
      // Storage blocked: the token lives as long as the page.
    }
  }

  // ---- DOM helpers -------------------------------------------------------

  function el(tag, testid, className, text) {
    var node = document.createElement(tag);
    if (testid) {
      node.setAttribute("data-testid", testid);
    }
    if (className) {
      node.className = className;
    }
    if (text !== undefined && text !== null) {
      node.textContent = String(text);
    }
    return node;
  }
  function show(node, visible) {
    node.hidden = !visible;
  }
  // svgIcon is a 24×24 icon of one path, hidden from screen readers (its
  // button carries the label).
  function svgIcon(d) {
    var svgNS = "http://www.w3.org/2000/svg";
    var icon = document.createElementNS(svgNS, "svg");
    icon.setAttribute("viewBox", "0 0 24 24");
    icon.setAttribute("aria-hidden", "true");
    var path = document.createElementNS(svgNS, "path");
    path.setAttribute("d", d);
    icon.appendChild(path);
    return icon;
  }

  var CSS = [
    ":host { all: initial; }",
    ".convot { position: fixed; right: 20px; bottom: 20px; z-index: 2147483000; font: 14px/1.45 system-ui, -apple-system, 'Segoe UI', sans-serif; color: #1d2521; }",
    "[hidden] { display: none !important; }",
    "button { font: inherit; cursor: pointer; }",
    ".launcher { position: relative; width: 56px; height: 56px; border-radius: 50%; border: 0; background: var(--convot-accent, #2f6f4f); color: #fff; box-shadow: 0 4px 14px rgba(0,0,0,.25); display: flex; align-items: center; justify-content: center; margin-left: auto; }",
    ".launcher svg { width: 28px; height: 28px; fill: currentColor; }",
    ".badge { position: absolute; top: -4px; right: -4px; min-width: 20px; height: 20px; padding: 0 5px; border-radius: 10px; background: #c0392b; color: #fff; font-size: 12px; line-height: 20px; text-align: center; box-sizing: border-box; }",
    ".panel { width: 360px; max-width: calc(100vw - 40px); height: 520px; max-height: calc(100vh - 110px); margin-bottom: 12px; background: #fff; border-radius: 12px; box-shadow: 0 8px 30px rgba(0,0,0,.25); display: flex; flex-direction: column; overflow: hidden; }",
    ".head { background: var(--convot-accent, #2f6f4f); color: #fff; padding: 12px 14px; display: flex; align-items: center; gap: 8px; }",
    ".head .title { font-weight: 600; flex: 1; }",
    ".head .status { font-size: 12px; opacity: .9; }",
    ".head .close { background: none; border: 0; color: #fff; font-size: 20px; line-height: 1; padding: 0 4px; }",
    ".list { flex: 1; overflow-y: auto; padding: 12px; background: #f6f8f7; display: flex; flex-direction: column; gap: 8px; }",
    ".msg { max-width: 80%; padding: 8px 10px; border-radius: 10px; background: #fff; border: 1px solid #e2e7e4; align-self: flex-start; word-wrap: break-word; overflow-wrap: anywhere; }",
    ".msg.bot { background: #eef3fb; border-color: #cdd9ee; }",
    ".msg.notice { align-self: center; background: transparent; border: 0; font-size: 12px; color: #5b6660; text-align: center; }",
    ".handover { margin: 0 8px 6px; align-self: flex-start; background: #fff; border: 1px solid var(--convot-accent, #2f6f4f); color: var(--convot-accent, #2f6f4f); border-radius: 14px; padding: 4px 12px; font-size: 13px; }",
    ".msg.mine { align-self: flex-end; background: var(--convot-accent, #2f6f4f); color: #fff; border-color: transparent; }",
    ".msg .who { font-size: 12px; font-weight: 600; margin-bottom: 2px; }",
    ".msg .body { white-space: pre-wrap; }",
    ".msg .meta { font-size: 11px; opacity: .75; margin-top: 3px; text-align: right; }",
    ".msg img { display: block; max-width: 100%; max-height: 220px; border-radius: 6px; margin-top: 4px; }",
    ".msg .file { display: block; margin-top: 4px; background: rgba(0,0,0,.06); color: inherit; border: 0; border-radius: 6px; padding: 6px 8px; text-align: left; width: 100%; }",
    ".msg.mine .file { background: rgba(255,255,255,.2); }",
    ".greeting { align-self: flex-start; background: #fff; border: 1px solid #e2e7e4; border-radius: 10px; padding: 8px 10px; max-width: 80%; white-space: pre-wrap; }",
    ".typing { font-size: 12px; color: #5b6660; padding: 2px 14px; background: #f6f8f7; }",
    ".offline { padding: 10px 14px; background: #fff8e6; border-top: 1px solid #f0e0b0; font-size: 13px; }",
    ".offline form { display: flex; gap: 6px; margin-top: 6px; }",
    ".offline input { flex: 1; min-width: 0; padding: 6px 8px; border: 1px solid #cfd6d2; border-radius: 6px; font: inherit; }",
    ".offline button, .send { background: var(--convot-accent, #2f6f4f); color: #fff; border: 0; border-radius: 6px; padding: 6px 12px; }",
    ".error { padding: 6px 14px; background: #fdecea; color: #8a1f17; font-size: 13px; }",
    ".composer { display: flex; align-items: flex-end; gap: 6px; padding: 8px; border-top: 1px solid #e2e7e4; background: #fff; }",
    ".composer textarea { flex: 1; resize: none; min-height: 36px; max-height: 120px; padding: 8px; border: 1px solid #cfd6d2; border-radius: 8px; font: inherit; box-sizing: border-box; }",
    ".attach { background: none; border: 1px solid #cfd6d2; border-radius: 8px; width: 36px; height: 36px; padding: 0; display: flex; align-items: center; justify-content: center; color: #5b6660; }",
    ".attach svg { width: 20px; height: 20px; fill: currentColor; }",
    ".send { height: 36px; }",
    ".file-input { display: none; }",
    ".resolved { padding: 10px 14px; background: #eef6f1; border-top: 1px solid #cfe3d7; font-size: 13px; }",
    ".stars { display: flex; gap: 4px; margin: 6px 0; }",
    ".stars button { width: 32px; height: 32px; border: 1px solid #cfd6d2; border-radius: 6px; background: #fff; color: #1d2521; padding: 0; }",
    ".stars button[aria-pressed='true'] { background: var(--convot-accent, #2f6f4f); color: #fff; border-color: transparent; }",
    ".resolved textarea { width: 100%; box-sizing: border-box; resize: none; padding: 6px 8px; border: 1px solid #cfd6d2; border-radius: 6px; font: inherit; }",
    ".resolved .send { margin-top: 6px; }"
  ].join("\n");

  // ---- the widget's DOM --------------------------------------------------

  var host = document.createElement("div");
  host.setAttribute("data-convot-widget", "");
  var root = host.attachShadow({ mode: "open" });
  if ("adoptedStyleSheets" in root && typeof CSSStyleSheet === "function" && "replaceSync" in CSSStyleSheet.prototype) {
    var sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
    root.adoptedStyleSheets = [sheet];
  } else {
    var style = document.createElement("style");
    style.textContent = CSS;
    root.appendChild(style);
  }

  var frame = el("div", "convot-widget", "convot");
  var panel = el("div", "convot-panel", "panel");
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", "Chat");
  show(panel, false);

  var head = el("div", null, "head");
  var headText = el("div", null, "title");
  var title = el("div", null, null, "Chat with us");
  var statusLine = el("div", "convot-status", "status", "");
  headText.appendChild(title);
  headText.appendChild(statusLine);
  var closeButton = el("button", "convot-close", "close", "\u00d7");
  closeButton.type = "button";
  closeButton.setAttribute("aria-label", "Close chat");
  head.appendChild(headText);
  head.appendChild(closeButton);

  var list = el("div", "convot-messages", "list");
  list.setAttribute("role", "log");
  list.setAttribute("aria-live", "polite");
  var greeting = el("div", "convot-greeting", "greeting");
  show(greeting, false);
  list.appendChild(greeting);

  var typing = el("div", "convot-typing", "typing", "Typing\u2026");
  show(typing, false);

  var offline = el("div", "convot-offline", "offline");
  var offlineText = el("div", null, null, "We're away right now. Leave your message, and your email if you like: we'll reply as soon as we're back.");
  var emailForm = el("form", "convot-email-form");
  var emailInput = el("input", "convot-email");
  emailInput.type = "email";
  emailInput.placeholder = "you@example.com";
  emailInput.setAttribute("aria-label", "Your email address");
  emailInput.required = true;
  emailInput.maxLength = 254;
  var emailButton = el("button", "convot-email-submit", null, "Notify me");
  emailButton.type = "submit";
  emailForm.appendChild(emailInput);
  emailForm.appendChild(emailButton);
  var emailSaved = el("div", "convot-email-saved");
  show(emailSaved, false);
  offline.appendChild(offlineText);
  offline.appendChild(emailForm);
  offline.appendChild(emailSaved);
  show(offline, false);

  // The proof of a claimed address: the history of an address shows only
  // after the code mailed to it is entered here.
  var proof = el("div", "convot-proof", "offline");
  var proofText = el("div", null, null, "We have earlier conversations for this email address. To see them here, get a code by email and enter it.");
  var proofSend = el("button", "convot-proof-send", null, "Email me a code");
  proofSend.type = "button";
  var proofForm = el("form", "convot-proof-form");
  var proofCode = el("input", "convot-proof-code");
  proofCode.inputMode = "numeric";
  proofCode.autocomplete = "one-time-code";
  proofCode.placeholder = "123456";
  proofCode.setAttribute("aria-label", "Code from the email");
  proofCode.maxLength = 20;
  proofCode.required = true;
  var proofSubmit = el("button", "convot-proof-submit", null, "Confirm");
  proofSubmit.type = "submit";
  proofForm.appendChild(proofCode);
  proofForm.appendChild(proofSubmit);
  var proofStatus = el("div", "convot-proof-status");
  proofStatus.setAttribute("role", "status");
  proof.appendChild(proofText);
  proof.appendChild(proofSend);
  proof.appendChild(proofForm);
  proof.appendChild(proofStatus);
  show(proofForm, false);
  show(proof, false);

  var limitLine = el("div", "convot-limit", "offline", "This team can't take new chat conversations at the moment. Please try again later or reach them another way.");
  limitLine.setAttribute("role", "status");
  show(limitLine, false);

  // The refusal of a site whose origin the team has not allowed: stays
  // visible (the panel opens on it), so the site's owner sees why.
  var refused = el("div", "convot-refused", "error");
  refused.setAttribute("role", "alert");
  show(refused, false);

  // The conversation resolved: the visitor is told, and asked once for a
  // rating (1–5 and an optional comment).
  var resolved = el("div", "convot-resolved", "resolved");
  resolved.setAttribute("role", "status");
  resolved.appendChild(el("div", null, null, "This conversation was marked as resolved. Write again if you need anything else."));
  var ratingForm = el("form", "convot-rating");
  ratingForm.appendChild(el("div", null, null, "How did we do?"));
  var stars = el("div", null, "stars");
  stars.setAttribute("role", "group");
  stars.setAttribute("aria-label", "Rating from 1 to 5");
  var starButtons = [];
  [1, 2, 3, 4, 5].forEach(function (n) {
    var b = el("button", "convot-rate-" + n, null, String(n));
    b.type = "button";
    b.setAttribute("aria-pressed", "false");
    b.setAttribute("aria-label", n + " out of 5");
    b.addEventListener("click", function () {
      state.ratingScore = n;
      starButtons.forEach(function (other, i) {
        other.setAttribute("aria-pressed", String(i + 1 === n));
      });
      ratingSubmit.disabled = false;
    });
    starButtons.push(b);
    stars.appendChild(b);
  });
  var ratingComment = el("textarea", "convot-rating-comment");
  ratingComment.rows = 2;
  ratingComment.maxLength = 2000;
  ratingComment.placeholder = "Anything to add? (optional)";
  ratingComment.setAttribute("aria-label", "Comment");
  var ratingSubmit = el("button", "convot-rating-submit", "send", "Send rating");
  ratingSubmit.type = "submit";
  ratingSubmit.disabled = true;
  var ratingError = el("div", "convot-rating-error");
  ratingError.setAttribute("role", "alert");
  show(ratingError, false);
  ratingForm.appendChild(stars);
  ratingForm.appendChild(ratingComment);
  ratingForm.appendChild(ratingSubmit);
  ratingForm.appendChild(ratingError);
  var ratingThanks = el("div", "convot-rating-thanks", null, "Thank you for your rating.");
  resolved.appendChild(ratingForm);
  resolved.appendChild(ratingThanks);
  show(ratingForm, false);
  show(ratingThanks, false);
  show(resolved, false);

  var errorLine = el("div", "convot-error", "error");
  errorLine.setAttribute("role", "alert");
  show(errorLine, false);

  var composer = el("form", "convot-composer", "composer");
  var fileInput = el("input", "convot-file", "file-input");
  fileInput.type = "file";
  fileInput.accept = "image/png,image/jpeg,image/gif,image/webp,application/pdf,text/plain,text/csv,application/zip,.csv,.txt,.zip,.pdf";
  var attachButton = el("button", "convot-attach", "attach");
  attachButton.type = "button";
  attachButton.appendChild(svgIcon("M16.5 6.5v10a4.5 4.5 0 0 1-9 0V5a3 3 0 0 1 6 0v10.5a1.5 1.5 0 0 1-3 0V6.5h-1.5v9a3 3 0 0 0 6 0V5a4.5 4.5 0 0 0-9 0v11.5a6 6 0 0 0 12 0v-10z"));
  attachButton.setAttribute("aria-label", "Attach a file");
  var input = el("textarea", "convot-input");
  input.rows = 1;
  input.placeholder = "Write a message\u2026";
  input.setAttribute("aria-label", "Message");
  input.maxLength = 10000;
  var sendButton = el("button", "convot-send", "send", "Send");
  sendButton.type = "submit";
  composer.appendChild(fileInput);
  composer.appendChild(attachButton);
  composer.appendChild(input);
  composer.appendChild(sendButton);

  // "Talk to a person": shown while the bot answers this conversation.
  var handoverButton = el("button", "convot-handover", "handover", "Talk to a person");
  handoverButton.type = "button";
  show(handoverButton, false);
  handoverButton.addEventListener("click", function () {
    var conv = state.conv;
    if (!conv) {
      return;
    }
    handoverButton.disabled = true;
    request("POST", "/conversations/" + conv.id + "/handover", {}).then(function (d) {
      handoverButton.disabled = false;
      if (d.conversation && state.conv && state.conv.id === d.conversation.id) {
        state.conv = d.conversation;
      }
      renderHandover();
      loadMessages();
    }, function (err) {
      handoverButton.disabled = false;
      showError(err);
    });
  });

  panel.appendChild(head);
  panel.appendChild(list);
  panel.appendChild(typing);
  panel.appendChild(offline);
  panel.appendChild(proof);
  panel.appendChild(limitLine);
  panel.appendChild(refused);
  panel.appendChild(resolved);
  panel.appendChild(handoverButton);
  panel.appendChild(errorLine);
  panel.appendChild(composer);

  var languageSelect = el("select", "convot-language", "language");
  languageSelect.setAttribute("aria-label", "Your language");
  LANGUAGES.forEach(function (l) {
    var option = document.createElement("option");
    option.value = l[0];
    option.textContent = l[1];
    languageSelect.appendChild(option);
  });
  languageSelect.value = loadLanguage();
  languageSelect.addEventListener("change", function () {
    saveLanguage(languageSelect.value);
  });
  panel.appendChild(languageSelect);

  var launcher = el("button", "convot-launcher", "launcher");
  launcher.type = "button";
  launcher.setAttribute("aria-label", "Open chat");
  launcher.appendChild(svgIcon("M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2z"));
  var badge = el("span", "convot-unread", "badge", "0");
  show(badge, false);
  launcher.appendChild(badge);

  frame.appendChild(panel);
  frame.appendChild(launcher);
  root.appendChild(frame);

  function mount() {
    if (!host.isConnected) {
      document.body.appendChild(host);
    }
  }
  if (document.body) {
    mount();
  } else {
    document.addEventListener("DOMContentLoaded", mount);
  }

  // ---- API ---------------------------------------------------------------

  function request(method, path, body, isForm) {
    var headers = { Accept: "application/json" };
    if (state.token) {
      headers.Authorization = "Bearer " + state.token;
    }
    var init = { method: method, headers: headers, mode: "cors", credentials: "omit", cache: "no-store" };
    if (body !== undefined) {
      if (isForm) {
        init.body = body;
      } else {
        headers["Content-Type"] = "application/json";
        init.body = JSON.stringify(body);
      }
    }
    return fetch(api + path, init).then(function (res) {
      if (res.status === 204) {
        return null;
      }
      return res.json().catch(function () {
        return {};
      }).then(function (data) {
        if (!res.ok) {
          var err = new Error((data && data.error) || "The chat is not available (" + res.status + ").");
          err.status = res.status;
          throw err;
        }
        return data;
      });
    });
  }

  function fetchAttachment(att) {
    var path = "/conversations/" + state.conv.id + "/attachments/" + att.id;
    return fetch(api + path, {
      headers: { Authorization: "Bearer " + state.token },
      mode: "cors", credentials: "omit", cache: "no-store"
    }).then(function (res) {
      if (!res.ok) {
        throw new Error("This file is no longer available.");
      }
      return res.blob();
    }).then(function (blob) {
      var url = URL.createObjectURL(blob);
      state.blobURLs.push(url);
      return url;
    });
  }

  function showError(err) {
    if (err && err.status === 403) {
      // This site's origin is not allowed: say so where it stays.
      refused.textContent = err.message;
      show(refused, true);
      input.disabled = true;
      sendButton.disabled = true;
      attachButton.disabled = true;
      return;
    }
    if (err && err.status === 402) {
      // The month's conversations ran out between the session and this
      // message: say so where it stays, not in a passing error.
      state.accepting = false;
      renderAccepting();
      return;
    }
    errorLine.textContent = (err && err.message) || "Something went wrong.";
    show(errorLine, true);
    clearTimeout(showError.timer);
    showError.timer = setTimeout(function () {
      show(errorLine, false);
    }, 8000);
  }

  // ---- session -----------------------------------------------------------

  function sessionBody(create) {
    return { page_url: String(window.location.href), language: navigator.language || "",
      preferred_language: loadLanguage(), create: !!create };
  }

  // boot starts the session. A browser without a visitor token only reads
  // the team's settings and presence: nothing of the visitor is recorded
  // until they write, leave an address or are identified (visitor()).
  function boot() {
    state.token = loadToken();
    var body = sessionBody(false);
    return request("POST", "/session", body).catch(function (err) {
      if (err.status === 401 && state.token) {
        // The token is no longer known (the visitor was erased): start over.
        saveToken("");
        return request("POST", "/session", body);
      }
      throw err;
    }).then(applySession).then(function (contact) {
      state.started = true;
      return contact;
    });
  }

  function applySession(data) {
    if (data.token) {
      saveToken(data.token);
    }
    state.contact = data.contact || null;
    if (data.settings) {
      state.settings = data.settings;
    }
    state.online = !!data.operators_online;
    state.accepting = data.accepting_conversations !== false;
    state.proofNeeded = !!data.proof_needed;
    renderProof();
    applySettings();
    renderPresence();
    var convs = data.conversations || [];
    var next = convs.length ? convs[0] : null;
    if (!next) {
      if (state.conv) {
        switchConversation(null);
      }
    } else if (!state.conv || state.conv.id !== next.id) {
      switchConversation(next);
    } else {
      state.conv = next;
    }
    renderHandover();
    renderAccepting();
    return state.contact;
  }

  // renderAccepting shows, to a visitor without a conversation, that no new
  // one can start now, and disables the composer until one can.
  function renderAccepting() {
    var closed = !state.accepting && !state.conv;
    show(limitLine, closed);
    input.disabled = closed;
    sendButton.disabled = closed || state.sending;
    attachButton.disabled = closed;
  }

  // renderHandover offers "Talk to a person" while the organization's bot
  // answers the open conversation.
  function renderHandover() {
    var conv = state.conv;
    show(handoverButton, !!state.settings.automated_answers && !!conv && !conv.handed_over && conv.status !== "resolved");
  }

  function applySettings() {
    var color = /^#[0-9a-fA-F]{6}$/.test(state.settings.color || "") ? state.settings.color : "#2f6f4f";
    host.style.setProperty("--convot-accent", color);
    greeting.textContent = state.settings.greeting || "";
    show(greeting, !!state.settings.greeting);
  }

  function renderProof() {
    show(proof, !!state.proofNeeded);
    if (!state.proofNeeded) {
      show(proofForm, false);
      proofStatus.textContent = "";
    }
  }

  function renderPresence() {
    statusLine.textContent = state.online ? "We're online" : "We're away";
    show(offline, !state.online);
    var hasEmail = !!(state.contact && state.contact.email);
    show(emailForm, !state.online && !hasEmail);
    if (hasEmail) {
      emailSaved.textContent = "We'll reply to " + state.contact.email + ".";
    }
    show(emailSaved, !state.online && hasEmail);
  }

  // operatorPresent: an operator is writing or replying, so the team is
  // not away, whatever the last status check said.
  function operatorPresent() {
    if (!state.online) {
      state.online = true;
      renderPresence();
      scheduleStatus();
    }
  }

  // scheduleStatus checks the team's presence while the panel is open:
  // often while away (an operator coming online shows within seconds),
  // rarely while online.
  function scheduleStatus() {
    clearTimeout(state.statusTimer);
    if (state.open) {
      state.statusTimer = setTimeout(function () {
        refreshStatus();
      }, state.online ? STATUS_EVERY : STATUS_AWAY_EVERY);
    }
  }

  function refreshStatus() {
    request("GET", "/status").then(function (d) {
      state.online = !!d.operators_online;
      renderPresence();
      scheduleStatus();
    }, scheduleStatus);
  }

  // ---- conversation and messages ----------------------------------------

  function switchConversation(conv) {
    state.generation++;
    closeSocket();
    state.blobURLs.forEach(function (u) {
      URL.revokeObjectURL(u);
    });
    state.blobURLs = [];
    Object.keys(state.messages).forEach(function (id) {
      var m = state.messages[id];
      if (m.el.parentNode) {
        m.el.parentNode.removeChild(m.el);
      }
    });
    state.messages = {};
    state.lastId = 0;
    state.earlier = false;
    state.loadingOlder = false;
    state.lastOperatorId = 0;
    state.readSent = 0;
    state.seenUpTo = 0;
    state.unread = 0;
    renderUnread();
    state.conv = conv;
    state.rated = null;
    renderResolved();
    renderHandover();
    if (conv) {
      loadMessages();
      connect();
    }
  }

  // renderResolved shows the resolved notice while the conversation is
  // resolved, with the rating form until the visitor has rated it.
  function renderResolved() {
    var conv = state.conv;
    var isResolved = !!conv && conv.status === "resolved";
    show(resolved, isResolved);
    if (!isResolved) {
      return;
    }
    if (state.rated === null || state.rated === undefined) {
      show(ratingForm, false);
      show(ratingThanks, false);
      if (state.ratingFor === conv.id) {
        return;
      }
      state.ratingFor = conv.id;
      request("GET", "/conversations/" + conv.id + "/rating").then(function (d) {
        if (state.conv && state.conv.id === conv.id) {
          state.rated = !!d.rating;
          renderResolved();
        }
      }, function () {
        state.ratingFor = 0;
      });
      return;
    }
    show(ratingForm, !state.rated);
    show(ratingThanks, state.rated);
  }

  ratingForm.addEventListener("submit", function (e) {
    e.preventDefault();
    var conv = state.conv;
    if (!conv || !state.ratingScore) {
      return;
    }
    ratingSubmit.disabled = true;
    show(ratingError, false);
    request("POST", "/conversations/" + conv.id + "/rating", { score: state.ratingScore, comment: ratingComment.value }).then(function () {
      state.rated = true;
      renderResolved();
    }, function (err) {
      if (err.status === 409) {
        state.rated = null;
        state.ratingFor = 0;
        renderResolved();
        return;
      }
      ratingError.textContent = err.message;
      show(ratingError, true);
      ratingSubmit.disabled = false;
    });
  });

  // loadMessages fetches everything after the last message shown: the
  // first load, and every reconnect (nothing published while the socket
  // was away is missed).
  function loadMessages() {
    var conv = state.conv;
    var generation = state.generation;
    if (!conv) {
      return Promise.resolve();
    }
    function page() {
      if (!state.lastId) {
        // Open at the newest: the latest page first, older ones on scroll.
        return request("GET", "/conversations/" + conv.id + "/messages?before_id=0&limit=" + OLDER_PAGE).then(function (d) {
          if (generation !== state.generation) {
            return;
          }
          (d.messages || []).forEach(addMessage);
          state.earlier = !!d.has_more;
          scrollToNewest();
        });
      }
      return request("GET", "/conversations/" + conv.id + "/messages?after_id=" + state.lastId + "&limit=" + PAGE).then(function (d) {
        if (generation !== state.generation) {
          return;
        }
        (d.messages || []).forEach(addMessage);
        if (d.has_more) {
          return page();
        }
      });
    }
    return page().catch(function (err) {
      if (err.status === 401 || err.status === 404) {
        return boot();
      }
    });
  }

  function scrollToNewest() {
    list.scrollTop = list.scrollHeight;
  }

  // loadOlder puts the page before the oldest message shown above it,
  // keeping in place what the visitor is reading.
  function loadOlder() {
    var conv = state.conv;
    var generation = state.generation;
    var ids = Object.keys(state.messages).map(Number);
    if (!conv || !state.earlier || state.loadingOlder || !ids.length) {
      return;
    }
    var oldest = Math.min.apply(null, ids);
    state.loadingOlder = true;
    request("GET", "/conversations/" + conv.id + "/messages?before_id=" + oldest + "&limit=" + OLDER_PAGE).then(function (d) {
      if (generation !== state.generation) {
        return;
      }
      var fromBottom = list.scrollHeight - list.scrollTop;
      (d.messages || []).forEach(addMessage);
      list.scrollTop = list.scrollHeight - fromBottom;
      state.earlier = !!d.has_more;
    }, function () { /* scrolling up again retries */ }).then(function () {
      state.loadingOlder = false;
    });
  }
  list.addEventListener("scroll", function () {
    if (list.scrollTop < 60) {
      loadOlder();
    }
  });

  function formatTime(iso) {
    var d = new Date(iso);
    if (isNaN(d.getTime())) {
      return "";
    }
    return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function renderAttachment(att, container) {
    var isImage = /^image\//.test(att.content_type || "");
    if (isImage) {
      var img = el("img", "convot-attachment-image");
      img.alt = att.name || "image";
      img.title = att.name || "";
      img.setAttribute("data-attachment-id", String(att.id));
      container.appendChild(img);
      fetchAttachment(att).then(function (url) {
        img.src = url;
      }, function () {
        img.alt = (att.name || "image") + " (not available)";
      });
      return;
    }
    var button = el("button", "convot-attachment", "file", (att.name || "file") + " (" + humanSize(att.size) + ")");
    button.type = "button";
    button.setAttribute("data-attachment-id", String(att.id));
    button.addEventListener("click", function () {
      fetchAttachment(att).then(function (url) {
        var a = document.createElement("a");
        a.href = url;
        a.download = att.name || "file";
        root.appendChild(a);
        a.click();
        root.removeChild(a);
      }, showError);
    });
    container.appendChild(button);
  }

  function humanSize(n) {
    n = Number(n) || 0;
    if (n < 1024) {
      return n + " B";
    }
    if (n < 1024 * 1024) {
      return Math.round(n / 1024) + " KB";
    }
    return (n / 1024 / 1024).toFixed(1) + " MB";
  }

  function addMessage(m) {
    if (!m || !m.id || m.private) {
      return;
    }
    var existing = state.messages[m.id];
    if (existing) {
      existing.view = m;
      if (m.author_type === "contact" && m.read_at && m.id > state.seenUpTo) {
        state.seenUpTo = m.id;
        renderSeen();
      }
      return;
    }
    var mine = m.author_type === "contact";
    var kind = mine ? " mine" : m.automated ? " bot" : m.author_type === "system" ? " notice" : "";
    var node = el("div", "convot-message", "msg" + kind);
    node.setAttribute("data-id", String(m.id));
    node.setAttribute("data-author", m.author_type || "");
    if (m.automated) {
      node.setAttribute("data-automated", "true");
      node.appendChild(el("div", "convot-message-author", "who", "Automated answer"));
    } else if (!mine && m.author_name) {
      node.appendChild(el("div", "convot-message-author", "who", m.author_name));
    }
    if (m.body) {
      node.appendChild(el("div", "convot-message-body", "body", m.body));
    }
    (m.attachments || []).forEach(function (att) {
      renderAttachment(att, node);
    });
    var meta = el("div", null, "meta");
    meta.appendChild(el("span", "convot-message-time", null, formatTime(m.created_at)));
    var seen = el("span", "convot-seen", null, " \u00b7 Seen");
    show(seen, false);
    meta.appendChild(seen);
    node.appendChild(meta);
    state.messages[m.id] = { view: m, el: node, seen: seen };

    // Keep the list in ID order (a live event may overtake a page).
    var after = null;
    Object.keys(state.messages).forEach(function (id) {
      var n = Number(id);
      if (n > m.id && (after === null || n < after)) {
        after = n;
      }
    });
    if (after === null) {
      list.appendChild(node);
    } else {
      list.insertBefore(node, state.messages[after].el);
    }
    if (m.id > state.lastId) {
      state.lastId = m.id;
    }
    if (mine) {
      if (m.read_at && m.id > state.seenUpTo) {
        state.seenUpTo = m.id;
      }
    } else {
      show(typing, false);
      if (m.id > state.lastOperatorId) {
        state.lastOperatorId = m.id;
        if (!m.read_at) {
          if (state.open && document.visibilityState !== "hidden") {
            markRead();
          } else if (m.id > state.readSent) {
            state.unread++;
            renderUnread();
          }
        }
      }
    }
    renderSeen();
    if (!state.loadingOlder) {
      scrollToNewest();
    }
  }

  // "Seen" shows under the newest of the visitor's messages an operator read.
  function renderSeen() {
    var newest = 0;
    Object.keys(state.messages).forEach(function (id) {
      var m = state.messages[id];
      show(m.seen, false);
      var n = Number(id);
      if (m.view.author_type === "contact" && n <= state.seenUpTo && n > newest) {
        newest = n;
      }
    });
    if (newest) {
      show(state.messages[newest].seen, true);
    }
  }

  function renderUnread() {
    badge.textContent = String(state.unread);
    show(badge, state.unread > 0 && !state.open);
  }

  function markRead() {
    if (!state.conv || state.lastOperatorId <= state.readSent) {
      return;
    }
    var upTo = state.lastId;
    state.readSent = upTo;
    state.unread = 0;
    renderUnread();
    if (!sendOnSocket({ type: "read", message_id: upTo })) {
      request("POST", "/conversations/" + state.conv.id + "/read", { message_id: upTo }).catch(function () {});
    }
  }

  // visitor is the started session with a contact of its own: the first
  // time the visitor writes, leaves an address or is identified, it asks
  // the server for a contact and its token.
  var creating = null;
  function visitor() {
    return session().then(function () {
      if (state.token) {
        return state.contact;
      }
      if (!creating) {
        creating = request("POST", "/session", sessionBody(true)).then(applySession);
        creating.then(function () {
          creating = null;
        }, function () {
          creating = null;
        });
      }
      return creating;
    });
  }

  function startedConversation(conv) {
    if (!state.conv || state.conv.id !== conv.id) {
      switchConversation(null);
      state.conv = conv;
      connect();
    }
    renderHandover();
  }

  function send(text) {
    text = String(text === undefined || text === null ? "" : text).trim();
    if (!text) {
      return Promise.reject(new Error("The message is empty."));
    }
    return visitor().then(function () {
      if (state.conv) {
        return request("POST", "/conversations/" + state.conv.id + "/messages", { body: text }).then(function (d) {
          addMessage(d.message);
          return d.message;
        });
      }
      return request("POST", "/conversations", { body: text }).then(function (d) {
        startedConversation(d.conversation);
        addMessage(d.message);
        return d.message;
      });
    });
  }

  function upload(file, caption) {
    return visitor().then(function () {
      var form = new FormData();
      form.append("file", file, file.name || "file");
      if (caption) {
        form.append("body", caption);
      }
      var path = state.conv ? "/conversations/" + state.conv.id + "/attachments" : "/conversations";
      return request("POST", path, form, true).then(function (d) {
        if (d.conversation) {
          startedConversation(d.conversation);
        }
        addMessage(d.message);
        return d.message;
      });
    });
  }

  // ---- live updates ------------------------------------------------------

  function socketURL(conv) {
    return base.replace(/^http/, "ws") + apiPath + "/conversations/" + conv.id + "/socket";
  }

  function connect() {
    var conv = state.conv;
    if (!conv || !state.token || state.socket) {
      return;
    }
    var ws;
    try {
      ws = new WebSocket(socketURL(conv), ["convot.v1", "token." + state.token]);
    } catch (_e) {
      scheduleReconnect();
      return;
    }
    state.socket = ws;
    ws.onopen = function () {
      if (state.socket !== ws) {
        return;
      }
      state.retry = 0;
      state.connected = true;
      loadMessages();
      // A socket the server cannot feed says "poll" at once and closes;
      // one still open a moment later is live, and polling stops.
      setTimeout(function () {
        if (state.socket === ws && ws.readyState === 1) {
          stopPolling();
        }
      }, SOCKET_SETTLE);
    };
    ws.onmessage = function (e) {
      if (state.socket !== ws) {
        return;
      }
      var ev;
      try {
        ev = JSON.parse(e.data);
      } catch (_x) {
        return;
      }
      if (ev && ev.type === "poll") {
        startPolling(ev.poll_ms);
        return;
      }
      handleEvent(ev);
    };
    ws.onclose = function () {
      if (state.socket !== ws) {
        return;
      }
      state.socket = null;
      state.connected = false;
      scheduleReconnect();
    };
  }

  // startPolling reads new messages every ms while live updates are down
  // on the server (its Redis is unreachable); the socket is tried again
  // at the longest backoff.
  function startPolling(ms) {
    ms = Math.max(ms || 0, POLL_MIN);
    state.retry = Math.max(state.retry, 5);
    clearInterval(state.pollTimer);
    state.pollTimer = setInterval(loadMessages, ms);
  }

  function stopPolling() {
    clearInterval(state.pollTimer);
    state.pollTimer = 0;
  }

  function scheduleReconnect() {
    if (!state.conv) {
      return;
    }
    var delay = Math.min(30000, 1000 * Math.pow(2, state.retry));
    delay = delay / 2 + Math.random() * delay / 2;
    state.retry = Math.min(state.retry + 1, 10);
    clearTimeout(state.reconnectTimer);
    state.reconnectTimer = setTimeout(connect, delay);
  }

  function closeSocket() {
    clearTimeout(state.reconnectTimer);
    stopPolling();
    var ws = state.socket;
    state.socket = null;
    state.connected = false;
    state.retry = 0;
    if (ws) {
      try {
        ws.close(1000);
      } catch (_e) {
        // already closed
      }
    }
  }

  function sendOnSocket(msg) {
    var ws = state.socket;
    if (!ws || ws.readyState !== 1) {
      return false;
    }
    ws.send(JSON.stringify(msg));
    return true;
  }

  function handleEvent(ev) {
    if (ev && ev.type === "presence") {
      // An operator came online: no need to wait for the status check.
      if (ev.online) {
        operatorPresent();
      }
      return;
    }
    if (!ev || !state.conv || ev.conversation_id !== state.conv.id) {
      return;
    }
    switch (ev.type) {
      case "message":
        addMessage(ev.message);
        if (ev.message && ev.message.author_type === "operator") {
          operatorPresent();
        }
        break;
      case "typing":
        if (ev.author_type === "operator") {
          operatorPresent();
          show(typing, true);
          clearTimeout(state.typingTimer);
          state.typingTimer = setTimeout(function () {
            show(typing, false);
          }, TYPING_SHOW_FOR);
        }
        break;
      case "read":
        if (ev.author_type === "operator" && ev.message_id > state.seenUpTo) {
          state.seenUpTo = ev.message_id;
          renderSeen();
        }
        break;
      case "conversation":
        if (ev.conversation) {
          state.conv = ev.conversation;
          renderResolved();
          renderHandover();
        }
        break;
    }
  }

  // ---- panel -------------------------------------------------------------

  function open() {
    state.open = true;
    show(panel, true);
    scrollToNewest();
    launcher.setAttribute("aria-label", "Close chat");
    renderUnread();
    markRead();
    refreshStatus();
    input.focus();
  }

  function close() {
    state.open = false;
    show(panel, false);
    launcher.setAttribute("aria-label", "Open chat");
    clearTimeout(state.statusTimer);
    renderUnread();
  }

  launcher.addEventListener("click", function () {
    if (state.open) {
      close();
    } else {
      open();
    }
  });
  closeButton.addEventListener("click", close);
  document.addEventListener("visibilitychange", function () {
    if (state.open && document.visibilityState === "visible") {
      markRead();
    }
  });

  function submitComposer() {
    var text = input.value;
    if (!text.trim() || state.sending) {
      return;
    }
    state.sending = true;
    sendButton.disabled = true;
    send(text).then(function () {
      input.value = "";
    }, showError).then(function () {
      state.sending = false;
      renderAccepting();
      if (!input.disabled) {
        input.focus();
      }
    });
  }

  composer.addEventListener("submit", function (e) {
    e.preventDefault();
    submitComposer();
  });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      submitComposer();
    }
  });
  input.addEventListener("input", function () {
    var now = Date.now();
    if (!state.conv || now - state.typingSentAt < TYPING_SEND_EVERY || !input.value) {
      return;
    }
    state.typingSentAt = now;
    if (!sendOnSocket({ type: "typing" })) {
      request("POST", "/conversations/" + state.conv.id + "/typing").catch(function () {});
    }
  });
  attachButton.addEventListener("click", function () {
    fileInput.click();
  });
  fileInput.addEventListener("change", function () {
    var file = fileInput.files && fileInput.files[0];
    fileInput.value = "";
    if (file) {
      upload(file).catch(showError);
    }
  });
  emailForm.addEventListener("submit", function (e) {
    e.preventDefault();
    var email = emailInput.value.trim();
    if (!email) {
      return;
    }
    visitor().then(function () {
      return request("POST", "/email", { email: email });
    }).then(function (d) {
      state.contact = d.contact;
      state.proofNeeded = !!d.proof_needed;
      renderPresence();
      renderProof();
    }, showError);
  });
  proofSend.addEventListener("click", function () {
    session().then(function () {
      return request("POST", "/identify/code");
    }).then(function () {
      proofStatus.textContent = "Check your mail and enter the code we sent. It works for 15 minutes.";
      show(proofForm, true);
      proofCode.focus();
    }, function (err) {
      if (err.status === 429) {
        // A code is on its way already: let the visitor enter it.
        show(proofForm, true);
      }
      showError(err);
    });
  });
  proofForm.addEventListener("submit", function (e) {
    e.preventDefault();
    var code = proofCode.value.trim();
    if (!code) {
      return;
    }
    request("POST", "/identify/confirm", { code: code }).then(function (d) {
      proofCode.value = "";
      applySession(d);
    }, showError);
  });

  // ---- start -------------------------------------------------------------

  var ready = boot().then(function () {
    window.dispatchEvent(new CustomEvent("convot:ready"));
  });
  ready.catch(function (err) {
    showError(err);
  });

  // session is the started session, starting it again if it failed (the
  // network was away when the page loaded).
  function session() {
    ready = ready.catch(function () {
      return boot();
    });
    return ready;
  }

  window.ConvotWidget = {
    root: root,
    ready: ready,
    open: open,
    close: close,
    toggle: function () {
      if (state.open) {
        close();
      } else {
        open();
      }
    },
    isOpen: function () {
      return state.open;
    },
    send: send,
    upload: upload,
    identify: function (attrs) {
      return visitor().then(function () {
        return request("POST", "/identify", attrs || {});
      }).then(applySession);
    },
    reset: function () {
      switchConversation(null);
      saveToken("");
      ready = boot();
      window.ConvotWidget.ready = ready;
      return ready;
    },
    state: function () {
      return {
        conversationId: state.conv ? state.conv.id : 0,
        contact: state.contact,
        operatorsOnline: state.online,
        connected: state.connected,
        lastMessageId: state.lastId,
        seenUpTo: state.seenUpTo,
        started: state.started
      };
    }
  };
})();
