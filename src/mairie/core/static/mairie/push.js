// "Recevoir les notifications sur cet appareil" on "Mon compte". Without this script (or without Web Push
// in the browser) the button stays hidden and the page says that e-mail and SMS still work.
(function () {
  "use strict";
  var box = document.querySelector("[data-push]");
  if (!box || !("serviceWorker" in navigator) || !("PushManager" in window) || !("Notification" in window)) {
    return;
  }
  var button = box.querySelector("[data-push-button]");
  var status = box.querySelector("[data-push-status]");
  var fallback = document.querySelector("[data-push-fallback]");
  box.hidden = false;
  if (fallback) { fallback.hidden = true; }

  function say(text) { status.textContent = text; }

  function keyBytes(base64url) {
    var padded = (base64url + "===".slice((base64url.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    var raw = window.atob(padded);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i += 1) { bytes[i] = raw.charCodeAt(i); }
    return bytes;
  }

  function subscribe(registration) {
    return registration.pushManager.getSubscription().then(function (existing) {
      return existing || registration.pushManager.subscribe({
        userVisibleOnly: true,
        applicationServerKey: keyBytes(box.dataset.publicKey)
      });
    });
  }

  button.addEventListener("click", function () {
    button.disabled = true;
    say("Un instant…");
    Notification.requestPermission().then(function (permission) {
      if (permission !== "granted") {
        throw new Error("Les notifications sont refusées pour ce site : vous pouvez les autoriser dans les réglages de votre navigateur.");
      }
      return navigator.serviceWorker.register(box.dataset.workerUrl, { scope: "/" });
    }).then(function () {
      return navigator.serviceWorker.ready;
    }).then(subscribe).then(function (subscription) {
      return fetch(box.dataset.subscribeUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: {
          "Content-Type": "application/json",
          "X-CSRFToken": box.querySelector("[name=csrfmiddlewaretoken]").value
        },
        body: JSON.stringify(subscription.toJSON())
      });
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) {
          throw new Error(data.error || "L'appareil n'a pas pu être enregistré. Réessayez plus tard.");
        }
        say("C'est fait : cet appareil recevra les notifications.");
        window.location.reload();
      });
    }).catch(function (error) {
      button.disabled = false;
      say(error && error.message ? error.message : "Les notifications n'ont pas pu être activées.");
    });
  });
}());
