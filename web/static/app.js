// Small dashboard behaviour of our own. Forms carry their CSRF token in a
// hidden field; fetch calls read it from the page's meta tag.
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="csrf-token"]');
  window.convotCSRF = meta ? meta.getAttribute("content") : "";
  // A one-time notice rides in the address (?notice=saved), never in a
  // cookie: shown once, then dropped from the address so a reload or a
  // bookmark does not repeat it.
  if (window.URL && window.history && window.history.replaceState) {
    var here = new URL(window.location.href);
    if (here.searchParams.has("notice")) {
      here.searchParams.delete("notice");
      window.history.replaceState(null, "", here.pathname + here.search + here.hash);
    }
  }
  // Ask before destructive actions.
  document.addEventListener("submit", function (e) {
    var button = e.target.querySelector("button.danger");
    if (button && !window.confirm("Are you sure?")) {
      e.preventDefault();
    }
  });
})();
