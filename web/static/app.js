// Small dashboard behaviour of our own. Forms carry their CSRF token in a
// hidden field; fetch calls read it from the page's meta tag.
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="csrf-token"]');
  window.convotCSRF = meta ? meta.getAttribute("content") : "";
  // Ask before destructive actions.
  document.addEventListener("submit", function (e) {
    var button = e.target.querySelector("button.danger");
    if (button && !window.confirm("Are you sure?")) {
      e.preventDefault();
    }
  });
})();
