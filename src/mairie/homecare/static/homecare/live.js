/* Homecare live pages: a WebSocket that reconnects by itself, and a page region refreshed over HTTP.
   The socket only says "something changed"; the page fetches itself again, where permissions live.
   No framework, no build. Exposes window.HomecareLive for the other scripts (and the browser tests). */
(function () {
  "use strict";

  var BASE_DELAY = 1000;
  var MAX_DELAY = 60000;
  var PING_EVERY = 25000;
  var PONG_WITHIN = 10000;

  /* Exponential backoff with jitter: 1 s, 2 s, 4 s... up to 60 s, each between half and all of it. */
  function backoff(attempt) {
    var ceiling = Math.min(MAX_DELAY, BASE_DELAY * Math.pow(2, attempt));
    return Math.round(ceiling / 2 + Math.random() * ceiling / 2);
  }

  function LiveSocket(path, handlers) {
    this.path = path;
    this.handlers = handlers || {};
    this.attempt = 0;
    this.socket = null;
    this.timer = null;
    this.stats = { opened: 0, closed: 0, delays: [], state: "connecting" };
    var self = this;
    window.addEventListener("online", function () {
      if (!self.socket) { self.reconnectNow(); }
    });
    this.connect();
  }

  LiveSocket.prototype.status = function (state, delay) {
    this.stats.state = state;
    if (this.handlers.onStatus) { this.handlers.onStatus(state, delay); }
  };

  LiveSocket.prototype.connect = function () {
    var self = this;
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var socket;
    this.timer = null;
    this.status("connecting");
    try {
      socket = new WebSocket(scheme + window.location.host + this.path);
    } catch (error) {
      this.schedule();
      return;
    }
    this.socket = socket;
    socket.addEventListener("open", function () {
      self.lastPong = Date.now();
      self.startHeartbeat();
    });
    socket.addEventListener("message", function (event) {
      var data;
      try { data = JSON.parse(event.data); } catch (error) { return; }
      self.lastPong = Date.now();
      if (data.event === "pong") { return; }
      if (data.event === "hello") {
        /* The server let us in (it says hello only then): the wait starts again from one second next time.
           A server that accepts and drops us at once keeps the wait growing instead of a tight loop. */
        self.attempt = 0;
        self.stats.opened += 1;
        self.status("open");
        /* Anything may have happened while we were away: fetch the page again. */
        if (self.handlers.onOpen) { self.handlers.onOpen(self.stats.opened > 1); }
        return;
      }
      if (self.handlers.onMessage) { self.handlers.onMessage(data); }
    });
    socket.addEventListener("close", function () {
      self.stopHeartbeat();
      if (self.socket === socket) { self.socket = null; }
      self.stats.closed += 1;
      self.schedule();
    });
  };

  LiveSocket.prototype.schedule = function () {
    var self = this;
    if (this.timer) { return; }
    var delay = backoff(this.attempt);
    this.attempt += 1;
    this.stats.delays.push(delay);
    this.status("waiting", delay);
    this.timer = window.setTimeout(function () { self.connect(); }, delay);
  };

  LiveSocket.prototype.reconnectNow = function () {
    if (this.timer) { window.clearTimeout(this.timer); this.timer = null; }
    this.attempt = 0;
    this.connect();
  };

  /* A connection can die without a close event (a cable pulled, a sleeping router): ping, and give up on
     a socket that does not answer. */
  LiveSocket.prototype.startHeartbeat = function () {
    var self = this;
    this.stopHeartbeat();
    this.heartbeat = window.setInterval(function () {
      var socket = self.socket;
      if (!socket || socket.readyState !== WebSocket.OPEN) { return; }
      if (Date.now() - self.lastPong > PING_EVERY + PONG_WITHIN) { socket.close(); return; }
      try { socket.send(JSON.stringify({ type: "ping" })); } catch (error) { socket.close(); }
    }, PING_EVERY);
  };

  LiveSocket.prototype.stopHeartbeat = function () {
    if (this.heartbeat) { window.clearInterval(this.heartbeat); this.heartbeat = null; }
  };

  /* Where the focus was, described so that it can be found again in the refreshed region. */
  function focusKey(region) {
    var active = document.activeElement;
    if (!active || !region.contains(active)) { return null; }
    var holder = active.closest("[data-alarm], [data-device]");
    return {
      holder: holder ? (holder.getAttribute("data-alarm") || holder.getAttribute("data-device")) : "",
      tag: active.tagName,
      text: (active.getAttribute("href") || "") + "|" + (active.getAttribute("value") || "") + "|" + active.textContent.trim()
    };
  }

  function restoreFocus(region, key) {
    if (!key) { return; }
    var candidates = region.querySelectorAll(key.tag.toLowerCase());
    for (var i = 0; i < candidates.length; i += 1) {
      var element = candidates[i];
      var holder = element.closest("[data-alarm], [data-device]");
      var holderKey = holder ? (holder.getAttribute("data-alarm") || holder.getAttribute("data-device")) : "";
      var text = (element.getAttribute("href") || "") + "|" + (element.getAttribute("value") || "") + "|" + element.textContent.trim();
      if (holderKey === key.holder && text === key.text) { element.focus(); return; }
    }
  }

  var refreshing = false;

  /* Fetches the page again and swaps in the regions given by id. Resolves with the fetched document, or
     null when nothing was swapped. A page that now answers with the sign-in page (session over) is loaded
     for real, so that the person sees it. */
  function refresh(ids) {
    if (refreshing) { return Promise.resolve(null); }
    refreshing = true;
    return window.fetch(window.location.href, {
      credentials: "same-origin",
      cache: "no-store",
      headers: { "X-Homecare-Refresh": "1" }
    }).then(function (response) {
      if (!response.ok || (response.redirected && new URL(response.url).pathname !== window.location.pathname)) {
        if (response.status >= 500 || response.status === 0) { return null; }
        window.location.reload();
        return null;
      }
      return response.text();
    }).then(function (html) {
      if (html === null || html === undefined) { return null; }
      var fresh = new DOMParser().parseFromString(html, "text/html");
      ids.forEach(function (id) {
        var current = document.getElementById(id);
        var next = fresh.getElementById(id);
        if (!current || !next) { return; }
        var key = focusKey(current);
        current.innerHTML = next.innerHTML;
        for (var i = 0; i < next.attributes.length; i += 1) {
          var attribute = next.attributes[i];
          if (attribute.name.indexOf("data-") === 0) { current.setAttribute(attribute.name, attribute.value); }
        }
        restoreFocus(current, key);
      });
      return fresh;
    }).catch(function () {
      return null; /* offline: the next tick or the socket's return tries again */
    }).then(function (result) {
      refreshing = false;
      return result;
    });
  }

  window.HomecareLive = { LiveSocket: LiveSocket, refresh: refresh, backoff: backoff };
})();
