"""Web Push in Chromium: the account page's section passes axe with and without JavaScript, the service worker
registers at the site's root under our Content-Security-Policy, and a push message delivered to it (through
the DevTools protocol, as a push service would) is shown, urgent ones requiring interaction."""

from __future__ import annotations

import json

import pytest
from django_scopes import scope

from mairie.core.models import PushSubscription
from mairie.core.services.notifications import push_subscribe
from tests.browser.conftest import assert_accessible
from tests.core.push_support import Browser, configure_vapid
from tests.factories import make_user


@pytest.fixture
def vapid(settings):
    return configure_vapid(settings, hosts=["fcm.googleapis.com"])


def test_the_account_section_passes_axe_with_and_without_javascript(site, town, vapid):
    resident = make_user(town, first_name="Odette")
    with scope(commune=town):
        push_subscribe(
            user=resident,
            commune=town,
            data=Browser("https://fcm.googleapis.com/fcm/send/odette").subscription(),
            user_agent="Mozilla/5.0 (Android 14) Chrome/140.0",
        )

    page = site.page(user=resident)
    page.goto("/mon-compte/")
    assert page.get_by_role("button", name="Recevoir les notifications sur cet appareil").is_visible()
    assert not page.get_by_text("les messages arrivent toujours par e-mail ou SMS").is_visible()
    assert page.get_by_role("button", name="Retirer Chrome sur Android").is_visible()
    assert_accessible(page, "account page, push switch")

    # As without the script: axe needs JavaScript itself, so the page's script is blocked instead.
    scriptless = site.page(user=resident)
    scriptless.route("**/push.js", lambda route: route.abort())
    scriptless.goto("/mon-compte/")
    assert scriptless.get_by_text("les messages arrivent toujours par e-mail ou SMS").is_visible()
    assert not scriptless.get_by_role(
        "button", name="Recevoir les notifications sur cet appareil"
    ).is_visible()
    assert_accessible(scriptless, "account page without the push script")

    plain = site.page(user=resident, javascript=False)
    plain.goto("/mon-compte/")
    assert plain.get_by_text("les messages arrivent toujours par e-mail ou SMS").is_visible()
    plain.get_by_role("button", name="Retirer Chrome sur Android").click()
    assert plain.get_by_text("Cet appareil ne recevra plus de notifications.").is_visible()
    assert plain.get_by_text("Aucun appareil ne reçoit de notifications").is_visible()


def test_the_service_worker_registers_and_shows_a_pushed_message(site, town, vapid):
    resident = make_user(town, first_name="Odette")
    context = site.context(user=resident)
    context.grant_permissions(["notifications"], origin=site.url)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.goto("/mon-compte/")

    scope_url = page.evaluate(
        """async () => {
            const registration = await navigator.serviceWorker.register("/service-worker.js", {scope: "/"});
            await navigator.serviceWorker.ready;
            return registration.scope;
        }"""
    )
    assert scope_url == site.url + "/"

    cdp = context.new_cdp_session(page)
    registrations: list[dict] = []
    cdp.on(
        "ServiceWorker.workerRegistrationUpdated", lambda event: registrations.extend(event["registrations"])
    )
    cdp.send("ServiceWorker.enable")
    # The protocol reports the existing registration as an event, soon after being enabled.
    for _ in range(100):
        found = [r["registrationId"] for r in registrations if r["scopeURL"] == site.url + "/"]
        if found:
            break
        page.wait_for_timeout(50)
    registration_id = found[0]
    message = {
        "title": "ALARME : Appel à l'aide",
        "body": "Chez Odette",
        "url": "/mon-compte/",
        "urgent": True,
    }
    cdp.send(
        "ServiceWorker.deliverPushMessage",
        {"origin": site.url + "/", "registrationId": registration_id, "data": json.dumps(message)},
    )

    shown = page.evaluate(
        """async () => {
            const registration = await navigator.serviceWorker.ready;
            for (let i = 0; i < 50; i += 1) {
                const found = await registration.getNotifications();
                if (found.length) {
                    return found.map(n => ({title: n.title, body: n.body, url: n.data.url,
                                            requireInteraction: n.requireInteraction, icon: n.icon}));
                }
                await new Promise(resolve => setTimeout(resolve, 100));
            }
            return [];
        }"""
    )
    assert shown == [
        {
            "title": "ALARME : Appel à l'aide",
            "body": "Chez Odette",
            "url": "/mon-compte/",
            "requireInteraction": True,
            "icon": site.url + "/static/mairie/notification-icon.png",
        }
    ]
    assert not [error for error in errors if "Content Security Policy" in error]


def test_the_button_subscribes_this_browser_and_the_page_lists_it(site, town, vapid):
    resident = make_user(town, first_name="Odette")
    context = site.context(user=resident)
    context.grant_permissions(["notifications"], origin=site.url)
    # Headless Chromium has no push service to reach: the browser's subscribe() answers with a subscription
    # made here, as Chrome would, after checking that the page passed our public key.
    subscription = Browser("https://fcm.googleapis.com/fcm/send/odette-tablet").subscription()
    context.add_init_script(
        """(() => {
            const made = MADE;
            const expectedKey = EXPECTED_KEY;
            PushManager.prototype.getSubscription = async () => null;
            PushManager.prototype.subscribe = async function (options) {
                const key = btoa(String.fromCharCode(...new Uint8Array(options.applicationServerKey)))
                    .replace(/\\+/g, "-").replace(/\\//g, "_").replace(/=+$/, "");
                if (!options.userVisibleOnly || key !== expectedKey) { throw new Error("wrong options"); }
                return {toJSON: () => made};
            };
        })();""".replace("MADE", json.dumps(subscription)).replace("EXPECTED_KEY", json.dumps(vapid))
    )
    page = context.new_page()
    page.goto("/mon-compte/")

    page.get_by_role("button", name="Recevoir les notifications sur cet appareil").click()

    page.get_by_role("button", name="Retirer Chrome sur Linux").wait_for()
    assert page.get_by_text("C'est fait : cet appareil recevra les notifications.").count() >= 1
    with scope(commune=town):
        [device] = PushSubscription.objects.all()
    assert (device.user_id, device.endpoint) == (resident.pk, subscription["endpoint"])


def test_a_refusal_is_explained_and_the_button_stays(site, town, vapid):
    resident = make_user(town, first_name="Odette")
    context = site.context(user=resident)
    context.add_init_script("Notification.requestPermission = async () => 'denied';")
    page = context.new_page()
    page.goto("/mon-compte/")

    page.get_by_role("button", name="Recevoir les notifications sur cet appareil").click()

    page.get_by_role("status").get_by_text("Les notifications sont refusées pour ce site").wait_for()
    assert page.get_by_role("button", name="Recevoir les notifications sur cet appareil").is_enabled()
