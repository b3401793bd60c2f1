/* A home's live page: the resident's tablet (#tablet-live) or a relative's page (#home-live). Reconnects by
   itself; refreshes when something happens, every few seconds while a command waits for the device's
   confirmation, and every minute anyway. */
(function () {
  "use strict";
  var live = window.HomecareLive;
  var region = document.getElementById("tablet-live") || document.getElementById("home-live");
  if (!live || !region) { return; }
  var id = region.id;
  var status = document.getElementById("tablet-connection");
  var SLOW = 60000;
  var FAST = 3000;
  var timer = null;

  function pending() { return region.getAttribute("data-pending") === "1"; }

  function plan() {
    if (timer) { window.clearTimeout(timer); }
    timer = window.setTimeout(tick, pending() ? FAST : SLOW);
  }

  function tick() { live.refresh([id]).then(plan); }

  function showStatus(state, delay) {
    if (!status) { return; }
    status.setAttribute("data-state", state);
    if (state === "open") {
      status.textContent = status.getAttribute("data-online") || "●";
    } else if (state === "waiting") {
      status.textContent = (status.getAttribute("data-msg-lost") || "%s").replace("%s", String(Math.ceil(delay / 1000)));
    }
  }

  if (status) { status.setAttribute("data-online", status.textContent); }
  window.homecareHome = new live.LiveSocket(region.getAttribute("data-ws"), {
    onMessage: function () { live.refresh([id]).then(plan); },
    onOpen: function (again) { if (again) { live.refresh([id]).then(plan); } },
    onStatus: showStatus
  });
  plan();
})();
