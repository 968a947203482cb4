// AI assistance in the conversation view: Summarize shows a summary for
// operators; Translate shows each of the contact's messages in the
// operator's chosen language (English unless chosen) beside the original; Suggest drafts a reply into the composer, for the operator to
// edit and send (it never sends anything itself). AI output is put into
// the page as text only (textContent, a textarea's value), never as markup.
(function () {
  "use strict";

  var meta = document.querySelector('meta[name="csrf-token"]');
  var csrf = meta ? meta.getAttribute("content") : "";
  var errorBox = document.querySelector('[data-testid="ai-error"]');

  function showError(message) {
    if (!errorBox) {
      return;
    }
    errorBox.textContent = message;
    errorBox.hidden = !message;
  }

  function post(url) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRF-Token": csrf }
    }).then(function (resp) {
      return resp.json().catch(function () { return {}; }).then(function (data) {
        if (!resp.ok) {
          throw new Error(data && data.error ? data.error : "The request failed (" + resp.status + ").");
        }
        return data;
      });
    });
  }

  function busy(button, on) {
    button.disabled = on;
    button.setAttribute("aria-busy", on ? "true" : "false");
  }

  var summarize = document.querySelector("[data-ai-summarize]");
  var summary = document.querySelector('[data-testid="ai-summary"]');
  if (summarize && summary) {
    summarize.addEventListener("click", function () {
      busy(summarize, true);
      showError("");
      post(summarize.getAttribute("data-ai-summarize")).then(function (data) {
        summary.textContent = data.summary || "";
      }).catch(function (err) {
        showError(err.message);
      }).then(function () {
        busy(summarize, false);
      });
    });
  }

  // The language translations are shown in: a preference entry in local
  // storage (policy §5), "convot.inbox.language.<org>". The page shows the
  // stored English translations; another choice hides them until asked.
  var language = document.querySelector("[data-ai-language]");
  var LANGUAGE_KEY = language ? "convot.inbox.language." + language.getAttribute("data-org") : "";
  function chosenLanguage() {
    try {
      return window.localStorage.getItem(LANGUAGE_KEY) || "en";
    } catch (_e) {
      return language ? language.value : "en";
    }
  }
  if (language) {
    language.value = chosenLanguage();
    if (language.value !== "en") {
      document.querySelectorAll("[data-translation-for]").forEach(function (p) {
        p.hidden = true;
      });
    }
    language.addEventListener("change", function () {
      try {
        window.localStorage.setItem(LANGUAGE_KEY, language.value);
      } catch (_e) {
        // Storage full or disabled: the choice lasts for this page only.
      }
    });
  }

  var translate = document.querySelector("[data-ai-translate]");
  if (translate) {
    translate.addEventListener("click", function () {
      busy(translate, true);
      showError("");
      var into = language ? language.value : "en";
      post(translate.getAttribute("data-ai-translate") + "?language=" + encodeURIComponent(into)).then(function (data) {
        var all = data.translations || {};
        document.querySelectorAll("[data-translation-for]").forEach(function (p) {
          var text = all[p.getAttribute("data-translation-for")];
          if (text) {
            p.textContent = text;
            p.hidden = false;
          }
        });
      }).catch(function (err) {
        showError(err.message);
      }).then(function () {
        busy(translate, false);
      });
    });
  }

  var suggest = document.querySelector("[data-ai-suggest]");
  var composer = document.querySelector('[data-testid="composer-textarea"]');
  if (suggest && composer) {
    suggest.addEventListener("click", function () {
      busy(suggest, true);
      showError("");
      post(suggest.getAttribute("data-ai-suggest")).then(function (data) {
        composer.value = data.draft || "";
        composer.focus();
      }).catch(function (err) {
        showError(err.message);
      }).then(function () {
        busy(suggest, false);
      });
    });
  }
}());
