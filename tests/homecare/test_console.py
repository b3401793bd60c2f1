"""The operator console: the live list (and its no-JavaScript refresh), one-click acknowledgement, help on the way,
closing with an outcome, the alarm's and the home's files (audited), operators limited to their communes."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse
from django_scopes import scope, scopes_disabled

from mairie.core.models import AuditEntry, Membership, Role
from mairie.homecare.models import Alarm, AlarmEvent
from tests.factories import make_user
from tests.homecare.homes_support import make_home
from tests.homecare.people_support import client_as, raise_sos

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")
T = datetime(2026, 11, 26, 14, 0, tzinfo=PARIS)


@pytest.fixture
def world(commune):
    with time_machine.travel(T, tick=False):
        world = make_home(commune, now=T)
    world.operator = make_user(commune, Role.OPERATOR, first_name="Octave")
    return world


def page(client, url, at=T + timedelta(minutes=3)):
    with time_machine.travel(at, tick=False):
        return client.get(url)


def test_the_console_lists_open_alarms_with_kind_age_state_and_step(world):
    alarm = raise_sos(world, T)
    response = page(client_as(world.commune, world.operator), reverse("homecare:console"))
    assert response.status_code == 200
    text = response.content.decode()
    assert f'data-alarm="{alarm.pk}"' in text
    assert "appel à l&#x27;aide" in text
    assert "il y a 3 min" in text
    assert "prévenu·e·s" in text  # state: contacts notified
    assert "étape 1 : Proche 1 prévenu·e" in text
    assert "1 alarme attend une prise en charge" in text
    # Without JavaScript the page reloads itself; with it, a small script keeps a socket.
    assert '<noscript><meta http-equiv="refresh" content="30"></noscript>' in text
    assert "homecare/console.js" in text
    assert "<script>" not in text  # the CSP forbids inline scripts


def test_closed_alarms_leave_the_list(world):
    alarm = raise_sos(world, T)
    with scopes_disabled():
        Alarm.objects.filter(pk=alarm.pk).update(state=Alarm.State.RESOLVED, outcome="ok")
    text = page(client_as(world.commune, world.operator), reverse("homecare:console")).content.decode()
    assert f'data-alarm="{alarm.pk}"' not in text
    assert "Aucune alarme en cours" in text


def test_unacknowledged_and_critical_alarms_come_first(world):
    with time_machine.travel(T, tick=False), scope(commune=world.commune):
        from mairie.homecare.services.alarms import raise_alarm

        low = raise_alarm(home=world.home, kind=Alarm.Kind.BATTERY_LOW, at=T, device=world.devices["pir"])
    sos = raise_sos(world, T + timedelta(minutes=1))
    text = page(client_as(world.commune, world.operator), reverse("homecare:console")).content.decode()
    assert text.index(f'data-alarm="{sos.pk}"') < text.index(f'data-alarm="{low.pk}"')


def test_people_without_the_console_role_are_refused(world):
    raise_sos(world, T)
    agent = client_as(world.commune, world.agent)
    assert page(agent, reverse("homecare:console")).status_code == 403
    relative = client_as(world.commune, world.contacts[0].user)
    assert page(relative, reverse("homecare:console")).status_code == 403


def test_an_operator_sees_only_the_communes_where_they_are_operator(world, other_commune):
    here = raise_sos(world, T)
    with time_machine.travel(T, tick=False):
        far = make_home(other_commune, now=T)
    there = raise_sos(far, T)
    operator = client_as(world.commune, world.operator)
    text = page(operator, reverse("homecare:console")).content.decode()
    assert f'data-alarm="{here.pk}"' in text
    assert f'data-alarm="{there.pk}"' not in text
    assert page(operator, reverse("homecare:console_alarm", args=[there.pk])).status_code == 404
    assert page(operator, reverse("homecare:console_home", args=[far.home.pk])).status_code == 404
    with time_machine.travel(T, tick=False):
        refused = operator.post(reverse("homecare:console_acknowledge", args=[there.pk]))
    assert refused.status_code == 404
    with scopes_disabled():
        assert Alarm.objects.get(pk=there.pk).acknowledged_at is None


def test_an_operator_of_two_communes_sees_both_and_can_act_on_each(world, other_commune):
    here = raise_sos(world, T)
    with time_machine.travel(T, tick=False):
        far = make_home(other_commune, now=T)
    there = raise_sos(far, T)
    with scopes_disabled():
        Membership.objects.create(commune=other_commune, user=world.operator, role=Role.OPERATOR)
    operator = client_as(world.commune, world.operator)
    text = page(operator, reverse("homecare:console")).content.decode()
    assert f'data-alarm="{here.pk}"' in text and f'data-alarm="{there.pk}"' in text
    assert "Mont-Clair" in text  # the commune is named when there are several
    with time_machine.travel(T + timedelta(minutes=2), tick=False):
        response = operator.post(reverse("homecare:console_acknowledge", args=[there.pk]))
    assert response.status_code == 302
    with scopes_disabled():
        there = Alarm.objects.get(pk=there.pk)
        assert there.state == Alarm.State.ACKNOWLEDGED and there.acknowledged_by == world.operator


def test_one_click_acknowledge_works_without_javascript_and_stops_the_escalation(world):
    alarm = raise_sos(world, T)
    operator = client_as(world.commune, world.operator)
    with time_machine.travel(T + timedelta(seconds=40), tick=False):
        response = operator.post(
            reverse("homecare:console_acknowledge", args=[alarm.pk]), {"next": reverse("homecare:console")}
        )
    assert response.status_code == 302 and response["Location"] == reverse("homecare:console")
    with scopes_disabled():
        alarm.refresh_from_db()
    assert alarm.state == Alarm.State.ACKNOWLEDGED
    assert alarm.next_escalation_at is None
    assert alarm.acknowledged_at == T + timedelta(seconds=40)
    followed = page(operator, reverse("homecare:console"))
    assert "Vous avez pris l&#x27;alarme en charge" in followed.content.decode()
    assert "Toutes les alarmes en cours sont prises en charge" in followed.content.decode()


def test_help_on_the_way_then_close_with_an_outcome(world):
    alarm = raise_sos(world, T)
    operator = client_as(world.commune, world.operator)
    with time_machine.travel(T + timedelta(minutes=1), tick=False):
        operator.post(reverse("homecare:console_help_on_way", args=[alarm.pk]), {"note": "Le voisin y va"})
    with scopes_disabled():
        alarm.refresh_from_db()
        assert alarm.state == Alarm.State.HELP_ON_WAY
        assert AlarmEvent.objects.filter(
            alarm=alarm, kind=AlarmEvent.Kind.HELP_ON_WAY, data__note="Le voisin y va"
        ).exists()
    with time_machine.travel(T + timedelta(minutes=20), tick=False):
        response = operator.post(
            reverse("homecare:console_close", args=[alarm.pk]),
            {"outcome": "Chute sans gravité, aidée à se relever", "close_as": "resolved"},
        )
    assert response.status_code == 302
    with scopes_disabled():
        alarm.refresh_from_db()
    assert alarm.state == Alarm.State.RESOLVED
    assert alarm.outcome == "Chute sans gravité, aidée à se relever"


def test_closing_without_an_outcome_is_refused_next_to_the_field_and_changes_nothing(world):
    alarm = raise_sos(world, T)
    operator = client_as(world.commune, world.operator)
    with time_machine.travel(T + timedelta(minutes=1), tick=False):
        response = operator.post(
            reverse("homecare:console_close", args=[alarm.pk]), {"outcome": "   ", "close_as": "resolved"}
        )
    assert response.status_code == 200
    text = response.content.decode()
    assert 'aria-invalid="true"' in text and "Le formulaire contient des erreurs" in text
    with scopes_disabled():
        alarm.refresh_from_db()
    assert alarm.state == Alarm.State.NOTIFIED and alarm.outcome == ""


def test_a_false_alarm_is_closed_as_such(world):
    alarm = raise_sos(world, T)
    operator = client_as(world.commune, world.operator)
    with time_machine.travel(T + timedelta(minutes=1), tick=False):
        operator.post(
            reverse("homecare:console_close", args=[alarm.pk]),
            {"outcome": "Pendentif pressé en faisant le ménage", "close_as": "false_alarm"},
        )
    with scopes_disabled():
        alarm.refresh_from_db()
    assert alarm.state == Alarm.State.FALSE_ALARM
    assert alarm.acknowledged_by == world.operator  # closing takes it in hand first: the time counts


def test_the_alarm_file_shows_the_timeline_and_contacts_and_is_audited(world):
    alarm = raise_sos(world, T)
    operator = client_as(world.commune, world.operator)
    response = page(operator, reverse("homecare:console_alarm", args=[alarm.pk]))
    text = response.content.decode()
    assert "alarme déclenchée" in text and "personne prévenue" in text
    stored = world.contacts[0].phone  # +336…, as stored
    readable = "0" + stored[3:]
    readable = " ".join(readable[i : i + 2] for i in range(0, 10, 2))  # 06 12 34 56 78, as people read it
    assert f'<a href="tel:{stored}">{readable}</a>' in text
    heading = text.split("<h1>", 1)[1].split("</h1>", 1)[0]
    assert heading.startswith("Appel à l") and "chez" in heading  # « Appel à l'aide chez … », capitalised
    with scopes_disabled():
        assert AuditEntry.objects.filter(
            action="homecare.alarm.viewed", object_id=str(alarm.pk), actor=world.operator, data__via="console"
        ).exists()


def test_the_list_audits_each_alarm_once_per_session_not_at_each_refresh(world):
    alarm = raise_sos(world, T)
    operator = client_as(world.commune, world.operator)
    for minute in (1, 2, 3):
        page(operator, reverse("homecare:console"), T + timedelta(minutes=minute))
    with scopes_disabled():
        rows = AuditEntry.objects.filter(
            action="homecare.alarm.viewed", object_id=str(alarm.pk), data__via="console_list"
        )
        assert rows.count() == 1


def test_the_home_file_shows_resident_contacts_devices_events_and_is_audited(world):
    with time_machine.travel(T, tick=False):
        world.send("pir", {"occupancy": True, "battery": 9, "linkquality": 12}, T)
    raise_sos(world, T + timedelta(minutes=1))
    operator = client_as(world.commune, world.operator)
    response = page(operator, reverse("homecare:console_home", args=[world.home.pk]))
    assert response.status_code == 200
    text = response.content.decode()
    assert world.resident.display_name in text
    assert text.index("Proche 1") < text.index("Proche 2")  # the call chain, in order
    assert "9 %" in text and "faible" in text  # battery low
    assert "12/255" in text  # weak radio link
    assert "occupancy=True" in text  # recent device messages
    assert "appel à l&#x27;aide" in text  # alarm history with its timeline
    minutes = world.home.inactivity_threshold_minutes
    said = f"{minutes // 60} heures" if minutes % 60 == 0 else f"{minutes // 60} h {minutes % 60:02d}"
    assert f"alarme après {said} sans mouvement" in text  # as people say it, not « 720 minutes »
    with scopes_disabled():
        assert AuditEntry.objects.filter(
            action="homecare.home.viewed", object_id=str(world.home.pk), actor=world.operator
        ).exists()


def test_the_console_is_off_when_the_module_is_off(world):
    with scopes_disabled():
        world.commune.enabled_modules = []
        world.commune.save(update_fields=["enabled_modules"])
    assert page(client_as(world.commune, world.operator), reverse("homecare:console")).status_code == 404


def test_an_operator_must_pass_the_second_factor(world):
    client = client_as(world.commune, world.operator, verified=False)
    response = page(client, reverse("homecare:console"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("core:two_factor"))


def test_operators_reach_the_console_from_the_staff_home(world):
    text = page(client_as(world.commune, world.operator), reverse("core:staff_home")).content.decode()
    assert reverse("homecare:console") in text


def test_an_administrator_opens_the_console_only_after_the_second_factor(world):
    admin = make_user(world.commune, Role.ADMIN, first_name="Adèle")
    alarm = raise_sos(world, T)
    console = reverse("homecare:console")
    response = page(client_as(world.commune, admin, verified=False), console)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("core:two_factor"))
    assert "next=" in response["Location"]
    # The rest of the administrator's work does not ask for it.
    assert (
        page(client_as(world.commune, admin, verified=False), reverse("core:staff_home")).status_code == 200
    )
    text = page(client_as(world.commune, admin), console).content.decode()
    assert f'data-alarm="{alarm.pk}"' in text


def test_the_console_leads_to_its_figures_and_to_the_gateways_page(world):
    text = page(client_as(world.commune, world.operator), reverse("homecare:console")).content.decode()
    assert f'href="{reverse("homecare:console_figures")}"' in text
    assert f'href="{reverse("homecare:console_gateways")}"' in text
