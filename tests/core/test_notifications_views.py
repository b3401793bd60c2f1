"""Pages: Mes messages, Mes préférences de contact, and the staff outbox of emails and SMS."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django_scopes import scope, scopes_disabled

from mairie.core.models import AuditEntry, Notification, OutboxMessage, Role, User
from mairie.core.services.notifications import notify
from tests.core.notifications_support import add_test_templates
from tests.factories import make_user

pytestmark = pytest.mark.django_db
PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture(autouse=True)
def _templates(settings):
    add_test_templates(settings)


def _notify(user, commune, day="mardi", **kwargs):
    with scope(commune=commune):
        return notify(
            recipient=user,
            commune=commune,
            template="tests/visit",
            context={"day": day, "note": "Apportez vos lunettes"},
            **kwargs,
        )


def _text(response) -> str:
    return response.content.decode()


# Mes messages


def test_my_messages_lists_my_in_app_messages_newest_first(client_for, commune, other_commune):
    me = make_user(commune)
    someone_else = make_user(commune)
    _notify(me, commune, day="la kermesse")
    _notify(me, commune, day="la fête du pain", url="/ateliers/4/")
    _notify(someone_else, commune, day="la brocante")
    _notify(me, other_commune, day="la foire aux livres")  # another commune's site
    body = _text(client_for(commune, me).get(reverse("core:my_notifications")))
    assert body.index("Visite le la fête du pain") < body.index("Visite le la kermesse")
    assert "brocante" not in body and "foire aux livres" not in body
    assert "Dans le site : Apportez vos lunettes" in body
    assert 'href="/ateliers/4/"' in body
    assert "Vous avez 2 messages non lus." in body


def test_mark_all_read(client_for, commune):
    me = make_user(commune)
    other = make_user(commune)
    _notify(me, commune)
    _notify(other, commune)
    client = client_for(commune, me)
    assert "Non lu" in _text(client.get(reverse("core:my_notifications")))
    response = client.post(reverse("core:notifications_mark_all_read"), follow=True)
    body = _text(response)
    assert "1 message marqué comme lu." in body
    assert "Non lu" not in body and "Vous n'avez aucun message non lu." in body
    with scopes_disabled():
        assert Notification.objects.get(recipient=other, channel="in_app").read_at is None


def test_mark_all_read_needs_a_post(client_for, commune):
    me = make_user(commune)
    assert client_for(commune, me).get(reverse("core:notifications_mark_all_read")).status_code == 405


def test_my_pages_need_an_account(client_for, commune):
    client = client_for(commune)
    for name in ("core:my_notifications", "core:notification_preferences"):
        response = client.get(reverse(name))
        assert response.status_code == 302 and reverse("core:login") in response["Location"]


def test_empty_inbox_says_so(client_for, commune):
    body = _text(client_for(commune, make_user(commune)).get(reverse("core:my_notifications")))
    assert "Vous n'avez aucun message pour le moment." in body


# Mes préférences de contact


def _preferences(**overrides):
    data = {
        "notify_by_email": "on",
        "notify_by_sms": "on",
        "quiet_hours_start": "21:30",
        "quiet_hours_end": "08:00",
        "language": "fr",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def test_preferences_are_saved_and_audited(client_for, commune):
    me = make_user(commune, phone="+33611223344")
    client = client_for(commune, me)
    page = _text(client.get(reverse("core:notification_preferences")))
    assert 'name="quiet_hours_start"' in page and "checked" in page
    response = client.post(
        reverse("core:notification_preferences"),
        _preferences(notify_by_email=None, language="en"),
        follow=True,
    )
    assert response.status_code == 200
    me.refresh_from_db()
    assert (me.notify_by_email, me.notify_by_sms) == (False, True)
    assert (me.quiet_hours_start, me.quiet_hours_end, me.language) == (time(21, 30), time(8, 0), "en")
    assert client.cookies["django_language"].value == "en"
    with scope(commune=commune):
        entry = AuditEntry.objects.get(action="core.account.preferences_changed")
    assert entry.actor == me and entry.on_behalf_of is None
    assert entry.data == {
        "notify_by_email": False,
        "quiet_hours_start": "21:30",
        "quiet_hours_end": "08:00",
        "language": "en",
    }


def test_saved_preferences_change_where_messages_go(client_for, commune):
    me = make_user(commune, phone="+33611223344")
    client_for(commune, me).post(
        reverse("core:notification_preferences"),
        _preferences(notify_by_sms=None, quiet_hours_start="", quiet_hours_end=""),
    )
    me.refresh_from_db()
    assert [row.channel for row in _notify(me, commune)] == ["in_app", "email"]


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"quiet_hours_start": ""}, "quiet_hours_start", "Indiquez aussi l&#x27;heure de début"),
        ({"quiet_hours_end": ""}, "quiet_hours_end", "Indiquez aussi l&#x27;heure de fin"),
        ({"quiet_hours_end": "21:30"}, "quiet_hours_end", "doit être différente de l&#x27;heure de début"),
        ({"quiet_hours_start": "25:99"}, "quiet_hours_start", "Indiquez une heure sous la forme 21:30"),
        ({"language": "de"}, "language", "Sélectionnez un choix valide"),
        ({"notify_by_sms": "on"}, "notify_by_sms", "Aucun numéro de téléphone mobile"),
    ],
)
def test_bad_preferences_get_a_clear_message_and_save_nothing(client_for, commune, overrides, field, message):
    me = make_user(commune)  # an email address, no phone
    client = client_for(commune, me)
    before = User.objects.values().get(pk=me.pk)
    response = client.post(reverse("core:notification_preferences"), _preferences(**overrides))
    assert response.status_code == 200
    body = _text(response)
    assert "Le formulaire contient des erreurs" in body
    assert f'id="id_{field}-error"' in body and message in body
    assert User.objects.values().get(pk=me.pk) == before
    with scope(commune=commune):
        assert not AuditEntry.objects.filter(action="core.account.preferences_changed").exists()


def test_preferences_accept_times_written_the_french_way(client_for, commune):
    me = make_user(commune)
    client_for(commune, me).post(
        reverse("core:notification_preferences"),
        _preferences(notify_by_sms=None, quiet_hours_start="22h", quiet_hours_end="7h15"),
    )
    me.refresh_from_db()
    assert (me.quiet_hours_start, me.quiet_hours_end) == (time(22, 0), time(7, 15))


# The staff outbox


def _outbox_message(commune, to, channel="email", minutes_ago=0, subject="Objet"):
    return OutboxMessage.objects.create(
        commune=commune,
        channel=channel,
        to=to,
        subject=subject if channel == "email" else "",
        body=f"Texte pour {to}",
        created_at=datetime(2026, 3, 2, 12, 0, tzinfo=PARIS) - timedelta(minutes=minutes_ago),
    )


def test_outbox_lists_this_communes_messages_newest_first(client_for, commune, other_commune):
    agent = make_user(commune, Role.AGENT)
    _outbox_message(commune, "ancien@example.org", minutes_ago=10)
    _outbox_message(commune, "+33612345678", channel="sms", minutes_ago=5)
    _outbox_message(commune, "recent@example.org", minutes_ago=1)
    _outbox_message(other_commune, "ailleurs@example.org")
    _outbox_message(None, "plateforme@example.org")
    body = _text(client_for(commune, agent).get(reverse("core:outbox")))
    assert body.index("recent@example.org") < body.index("+33612345678") < body.index("ancien@example.org")
    assert "ailleurs@example.org" not in body and "plateforme@example.org" not in body
    assert "3 messages." in body


def test_outbox_filters_by_channel_and_recipient(client_for, commune):
    admin = make_user(commune, Role.ADMIN)
    _outbox_message(commune, "lucie@example.org")
    _outbox_message(commune, "+33612345678", channel="sms")
    _outbox_message(commune, "marc@example.org")
    client = client_for(commune, admin)
    sms_only = _text(client.get(reverse("core:outbox"), {"canal": "sms"}))
    assert "+33612345678" in sms_only and "lucie@example.org" not in sms_only
    found = _text(client.get(reverse("core:outbox"), {"destinataire": "LUCIE"}))
    assert "lucie@example.org" in found and "marc@example.org" not in found and "1 message." in found
    unknown = _text(client.get(reverse("core:outbox"), {"canal": "pigeon"}))
    assert "3 messages." in unknown


def test_outbox_pages_by_fifty_and_keeps_the_filter(client_for, commune):
    agent = make_user(commune, Role.AGENT)
    for n in range(51):
        _outbox_message(commune, f"personne{n:02d}@example.org", minutes_ago=n)
    client = client_for(commune, agent)
    first = _text(client.get(reverse("core:outbox"), {"canal": "email"}))
    assert "personne00@example.org" in first and "personne49@example.org" in first
    assert "personne50@example.org" not in first
    assert "?canal=email&amp;page=2" in first
    second = _text(client.get(reverse("core:outbox"), {"canal": "email", "page": 2}))
    assert "personne50@example.org" in second and "personne00@example.org" not in second


def test_outbox_shows_what_notify_sent(client_for, commune, django_capture_on_commit_callbacks, settings):
    settings.EMAIL_BACKEND = "mairie.core.notifications.backends.OutboxEmailBackend"
    agent = make_user(commune, Role.AGENT)
    resident = make_user(commune, email="lucie@example.org", phone="+33612345678")
    with django_capture_on_commit_callbacks(execute=True):
        _notify(resident, commune)
    body = _text(client_for(commune, agent).get(reverse("core:outbox")))
    assert "lucie@example.org" in body and "+33612345678" in body
    assert "Val-de-Brume : SMS mardi : Apportez vos lunettes" in body


@pytest.mark.parametrize("role", [Role.RESIDENT, Role.MEDIATOR, Role.MODERATOR])
def test_outbox_is_for_town_hall_agents_and_admins_only(client_for, commune, role):
    user = make_user(commune, role) if role != Role.RESIDENT else make_user(commune)
    assert client_for(commune, user).get(reverse("core:outbox")).status_code == 403


def test_outbox_of_another_commune_is_refused(client_for, commune, other_commune):
    agent = make_user(commune, Role.AGENT)
    _outbox_message(other_commune, "ailleurs@example.org")
    response = client_for(other_commune, agent).get(reverse("core:outbox"))
    assert response.status_code == 403


def _queries(client, url):  # type: ignore[no-untyped-def]
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url)  # warm the caches (commune by host name) and the session first
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_page_queries_do_not_grow_with_the_number_of_messages(client_for, commune):
    agent = make_user(commune, Role.AGENT)
    client = client_for(commune, agent)
    _notify(agent, commune)
    _outbox_message(commune, "une@example.org")
    few = {url: _queries(client, url) for url in (reverse("core:my_notifications"), reverse("core:outbox"))}
    for n in range(25):
        _notify(agent, commune, day=str(n), url=f"/ateliers/{n}/")
        _outbox_message(commune, f"personne{n}@example.org", channel="sms" if n % 2 else "email")
    many = {url: _queries(client, url) for url in few}
    assert many == few
