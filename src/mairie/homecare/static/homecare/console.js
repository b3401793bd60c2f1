/* The operator console: live list over the WebSocket (refreshed every 30 s anyway), a beep and a flashing
   row for each new alarm, the count of waiting alarms in the tab's title. The sound starts only once the
   operator pressed "Activer le son" (browsers do not play sound before a click). */
(function () {
  "use strict";
  var live = window.HomecareLive;
  var root = document.getElementById("console");
  if (!live || !root) { return; }
  var REFRESH_EVERY = 30000;
  var KNOWN_KEY = "homecare.console.known";
  var SOUND_KEY = "homecare.console.sound";
  var baseTitle = document.title;
  var toggle = document.getElementById("console-sound-toggle");
  var announce = document.getElementById("console-announce");
  var statusLine = document.getElementById("console-live-status");
  var audio = new Audio(root.getAttribute("data-sound"));
  var soundOn = window.localStorage.getItem(SOUND_KEY) === "1";
  var timer = null;
  var known = {};
  try { JSON.parse(window.sessionStorage.getItem(KNOWN_KEY) || "[]").forEach(function (id) { known[id] = true; }); } catch (error) { known = {}; }
  var firstLook = Object.keys(known).length === 0;

  function rows() { return Array.prototype.slice.call(document.querySelectorAll("#console-live tr[data-alarm]")); }

  function paintToggle() {
    toggle.hidden = false;
    toggle.setAttribute("aria-pressed", soundOn ? "true" : "false");
    toggle.textContent = root.getAttribute(soundOn ? "data-msg-sound-on" : "data-msg-sound-off");
  }

  function beep() {
    if (!soundOn) { return; }
    audio.currentTime = 0;
    var played = audio.play();
    if (played && played.catch) {
      played.catch(function () { toggle.textContent = root.getAttribute("data-msg-sound-blocked"); });
    }
  }

  function look() {
    var waiting = 0;
    var fresh = [];
    rows().forEach(function (row) {
      var id = row.getAttribute("data-alarm");
      if (row.getAttribute("data-waiting") === "1") { waiting += 1; }
      if (!known[id]) {
        known[id] = true;
        if (!firstLook) { fresh.push(row); }
      }
    });
    window.sessionStorage.setItem(KNOWN_KEY, JSON.stringify(Object.keys(known).slice(-500)));
    firstLook = false;
    fresh.forEach(function (row) { row.classList.add("is-new"); });
    if (fresh.length) {
      announce.textContent = root.getAttribute("data-msg-new") + " " + fresh.map(function (row) { return row.getAttribute("data-label"); }).join(" ; ");
      beep();
    }
    document.title = waiting ? "(" + waiting + ") " + baseTitle : baseTitle;
    root.setAttribute("data-new", String(fresh.length));
  }

  function refresh() {
    live.refresh(["console-live", "console-count"]).then(function (page) {
      if (page) {
        look();
        var line = page.getElementById("console-live-status");
        if (line && statusLine && socket.stats.state === "open") { statusLine.textContent = line.textContent; }
      }
      plan();
    });
  }

  function plan() {
    if (timer) { window.clearTimeout(timer); }
    timer = window.setTimeout(refresh, REFRESH_EVERY);
  }

  toggle.addEventListener("click", function () {
    soundOn = !soundOn;
    window.localStorage.setItem(SOUND_KEY, soundOn ? "1" : "0");
    paintToggle();
    if (soundOn) { beep(); }
  });

  var socket = new live.LiveSocket(root.getAttribute("data-ws"), {
    onMessage: refresh,
    onOpen: function (again) { if (again) { refresh(); } },
    onStatus: function (state, delay) {
      if (!statusLine) { return; }
      if (state === "waiting") {
        statusLine.textContent = root.getAttribute("data-msg-lost").replace("%s", String(Math.ceil(delay / 1000)));
      }
    }
  });
  window.homecareConsole = socket;
  paintToggle();
  look();
  plan();
})();
