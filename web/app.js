// Capture page script. No inline scripts anywhere (CSP forbids them); the page's state is
// read from data attributes the server renders.
(function () {
  "use strict";
  var main = document.getElementById("main");
  if (main && document.body.classList.contains("state-ended")) {
    // Move focus to the message so screen readers announce it.
    main.focus();
  }
})();
