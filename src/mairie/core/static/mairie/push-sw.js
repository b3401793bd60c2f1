// Service worker of Mairie 4.0: shows the notifications sent by the site (Web Push) and opens their link.
// Served at /service-worker.js (scope "/"). It handles no fetch: pages load exactly as without it.
"use strict";

var DEFAULT_ICON = "/static/mairie/notification-icon.png";

self.addEventListener("push", function (event) {
  var data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch (error) {
    data = { title: event.data ? event.data.text() : "" };
  }
  var options = {
    body: data.body || "",
    icon: data.icon || DEFAULT_ICON,
    tag: data.tag || undefined,
    data: { url: data.url || "/" },
    requireInteraction: Boolean(data.urgent),
    renotify: Boolean(data.urgent && data.tag),
    lang: "fr"
  };
  event.waitUntil(self.registration.showNotification(data.title || "Mairie", options));
});

self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  var target = new URL((event.notification.data && event.notification.data.url) || "/", self.location.origin);
  if (target.origin !== self.location.origin) {
    target = new URL("/", self.location.origin);
  }
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then(function (windows) {
      for (var i = 0; i < windows.length; i += 1) {
        if (windows[i].url === target.href && "focus" in windows[i]) {
          return windows[i].focus();
        }
      }
      return self.clients.openWindow(target.href);
    })
  );
});
