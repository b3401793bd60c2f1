"""Who sees and acknowledges what: the signed link (no login, no JavaScript), relatives limited to their
senior's home, operators to their communes; every read of alarm data audited; personal data and erasure."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django_scopes import scope, scopes_disabled

from mairie.core.models import AuditEntry, Role
from mairie.core.personal_data import collect_personal_data, run_erasure_handlers
from mairie.homecare import selectors
from mairie.homecare.models import Alarm, Contact, DeviceEvent, Gateway, Home
from mairie.homecare.services.alarms import alarm_acknowledge, alarm_close, alarm_help_on_way
from mairie.homecare.services.ingest import ingest_message
from mairie.homecare.tokens import ack_path, ack_token
from tests.factories import make_user
from tests.homecare.homes_support import fixture, make_home

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")
T = datetime(2026, 11, 26, 14, 0, tzinfo=PARIS)


def raise_sos(world, at=T) -> Alarm:
    with time_machine.travel(at, tick=False):
        outcome = world.send("sos", fixture("tuya_sos_TS0215A.json"), at)
    with scopes_disabled():
        return Alarm.objects.select_related("home").get(pk=outcome.alarm_ids[0])


@pytest.fixture
def home_a(commune):
    with time_machine.travel(T, tick=False):
        return make_home(commune, now=T)


@pytest.fixture
def home_b(commune):
    with time_machine.travel(T, tick=False):
        return make_home(commune, now=T)


# The acknowledgement link.


def test_the_link_shows_the_alarm_and_a_button_and_get_changes_nothing(home_a, client_for):
    alarm = raise_sos(home_a)
    path = ack_path(alarm_id=alarm.pk, contact_id=home_a.contacts[0].pk)
    with time_machine.travel(T + timedelta(minutes=1), tick=False):
        page = client_for(home_a.commune).get(path)
    assert page.status_code == 200
    text = page.content.decode()
    assert "appel à l&#x27;aide" in text or "appel à l'aide" in text
    assert home_a.resident.display_name in text and "12 rue des Tilleuls" in text
    assert 'method="post"' in text and "en occupe</button>" in text
    with scopes_disabled():
        alarm.refresh_from_db()
        viewed = AuditEntry.objects.filter(action="homecare.alarm.viewed", object_id=str(alarm.pk)).get()
    assert alarm.state == "notified"  # a link preview does not acknowledge
    assert viewed.data == {"via": "link", "contact": home_a.contacts[0].pk}


def test_posting_the_form_acknowledges_without_login_or_javascript(home_a, client_for):
    alarm = raise_sos(home_a)
    path = ack_path(alarm_id=alarm.pk, contact_id=home_a.contacts[0].pk)
    client = client_for(home_a.commune)
    with time_machine.travel(T + timedelta(minutes=2), tick=False):
        page = client.post(path)
        again = client.post(path)
    assert page.status_code == 200 and "Merci" in page.content.decode()
    assert "déjà prise en charge" in again.content.decode()
    with scopes_disabled():
        alarm.refresh_from_db()
    assert alarm.state == "acknowledged" and alarm.acknowledged_by_contact == home_a.contacts[0]
    assert alarm.acknowledged_by == home_a.contacts[0].user and alarm.next_escalation_at is None


def test_an_expired_link_is_refused(home_a, client_for):
    alarm = raise_sos(home_a)
    with time_machine.travel(T, tick=False):
        path = ack_path(alarm_id=alarm.pk, contact_id=home_a.contacts[0].pk)
    with time_machine.travel(T + timedelta(hours=24, seconds=1), tick=False):
        page = client_for(home_a.commune).post(path)
    assert page.status_code == 404 and "ne fonctionne pas" in page.content.decode()
    with scopes_disabled():
        alarm.refresh_from_db()
    assert alarm.state == "notified"


def test_a_damaged_link_is_refused(home_a, client_for):
    alarm = raise_sos(home_a)
    token = ack_token(alarm_id=alarm.pk, contact_id=home_a.contacts[0].pk)
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    page = client_for(home_a.commune).post(f"/teleassistance/acquitter/{forged}/")
    assert page.status_code == 404


def test_a_contact_of_home_a_cannot_acknowledge_home_b(home_a, home_b, client_for):
    alarm_b = raise_sos(home_b)
    # Even a token the site itself signed, pairing A's contact with B's alarm, is refused.
    path = ack_path(alarm_id=alarm_b.pk, contact_id=home_a.contacts[0].pk)
    page = client_for(home_a.commune).post(path)
    assert page.status_code == 404
    with scopes_disabled():
        alarm_b.refresh_from_db()
    assert alarm_b.state == "notified"


def test_a_link_only_works_on_its_own_communes_site(home_a, other_commune, client_for):
    alarm = raise_sos(home_a)
    path = ack_path(alarm_id=alarm.pk, contact_id=home_a.contacts[0].pk)
    page = client_for(other_commune).post(path)
    assert page.status_code == 404
    with scopes_disabled():
        alarm.refresh_from_db()
    assert alarm.state == "notified"


# Relatives.


def test_a_relative_sees_only_the_home_they_follow(home_a, home_b):
    relative_a = home_a.contacts[0].user
    alarm_b = raise_sos(home_b)
    with scope(commune=home_a.commune):
        assert list(selectors.homes_for_person(relative_a, home_a.commune)) == [home_a.home]
        with pytest.raises(Http404):
            selectors.home_for_person(relative_a, home_a.commune, home_b.home.pk)
        with pytest.raises(Http404):
            selectors.alarm_for_person(relative_a, home_a.commune, alarm_b.pk)
        with pytest.raises(PermissionDenied):
            alarm_acknowledge(user=relative_a, alarm=alarm_b)
        with pytest.raises(PermissionDenied):
            alarm_close(user=relative_a, alarm=alarm_b, outcome="Rien")
        assert Alarm.objects.get(pk=alarm_b.pk).state == "notified"


def test_a_relative_can_follow_and_handle_their_seniors_alarm(home_a, client_for):
    relative = home_a.contacts[1].user
    alarm = raise_sos(home_a)
    with scope(commune=home_a.commune):
        assert selectors.alarm_for_person(relative, home_a.commune, alarm.pk) == alarm
        assert AuditEntry.objects.filter(
            action="homecare.alarm.viewed", actor=relative, object_id=str(alarm.pk)
        ).exists()
        alarm_help_on_way(user=relative, alarm=alarm, note="J'arrive dans 10 minutes")
        assert Alarm.objects.get(pk=alarm.pk).state == "help_on_way"
    page = client_for(home_a.commune, relative).get("/teleassistance/")
    assert page.status_code == 200
    assert home_a.home.label in page.content.decode() and "aide en route" in page.content.decode()


def test_the_module_page_is_not_found_when_the_commune_has_not_switched_it_on(commune, client_for):
    person = make_user(commune)
    assert client_for(commune, person).get("/teleassistance/").status_code == 404


# Closing.


def test_closing_requires_an_outcome(home_a):
    from django.core.exceptions import ValidationError

    operator = make_user(home_a.commune, Role.OPERATOR)
    alarm = raise_sos(home_a)
    with scope(commune=home_a.commune), time_machine.travel(T + timedelta(minutes=3), tick=False):
        with pytest.raises(ValidationError) as error:
            alarm_close(user=operator, alarm=alarm, outcome="   ")
        assert "outcome" in error.value.message_dict
        assert Alarm.objects.get(pk=alarm.pk).state == "notified"
        closed = alarm_close(user=operator, alarm=alarm, outcome="Chute sans gravité, voisine sur place.")
    assert closed.state == "resolved" and closed.acknowledged_by == operator
    assert closed.next_escalation_at is None and closed.resolved_at is not None
    with scopes_disabled():
        assert list(closed.events.values_list("kind", flat=True))[-2:] == ["acknowledged", "resolved"]


def test_false_alarm(home_a):
    operator = make_user(home_a.commune, Role.OPERATOR)
    alarm = raise_sos(home_a)
    with scope(commune=home_a.commune):
        closed = alarm_close(
            user=operator, alarm=alarm, outcome="Bouton pressé par erreur.", false_alarm=True
        )
    assert closed.state == "false_alarm"


# Operators: only their communes.


def test_an_operator_sees_only_the_alarms_of_their_communes(home_a, other_commune):
    with time_machine.travel(T, tick=False):
        far = make_home(other_commune, now=T)
    here = raise_sos(home_a)
    there = raise_sos(far)
    operator = make_user(home_a.commune, Role.OPERATOR)
    assert list(selectors.console_alarms(operator)) == [here]
    with pytest.raises(Http404):
        selectors.console_alarm(operator, there.pk)
    with pytest.raises(Http404):
        selectors.console_home(operator, far.home.pk)
    assert selectors.console_alarm(operator, here.pk) == here
    with scopes_disabled():
        assert AuditEntry.objects.filter(action="homecare.alarm.viewed", actor=operator).count() == 1
        # An operator of both communes (one membership each) sees both.
        from mairie.core.models import Membership

        Membership.objects.create(commune=other_commune, user=operator, role=Role.OPERATOR)
    assert set(selectors.console_alarms(operator)) == {here, there}


def test_a_resident_or_an_agent_has_no_console(home_a):
    agent = make_user(home_a.commune, Role.AGENT)
    raise_sos(home_a)
    assert list(selectors.console_alarms(agent)) == []
    assert list(selectors.console_alarms(home_a.resident)) == []


def test_closed_alarms_leave_the_open_list(home_a):
    operator = make_user(home_a.commune, Role.OPERATOR)
    alarm = raise_sos(home_a)
    with scope(commune=home_a.commune):
        alarm_close(user=operator, alarm=alarm, outcome="Tout va bien.")
    assert list(selectors.console_alarms(operator)) == []
    assert list(selectors.console_alarms(operator, open_only=False)) == [alarm]


# Personal data and erasure.


def test_the_residents_data_lists_home_and_alarms(home_a):
    raise_sos(home_a)
    with scope(commune=home_a.commune):
        sections = {s.key: s for s in collect_personal_data(home_a.resident, home_a.commune)}
        contact_sections = {s.key: s for s in collect_personal_data(home_a.contacts[0].user, home_a.commune)}
    assert sections["homecare.home"].rows[0]["Logement"] == "Maison 12"
    assert sections["homecare.alarms"].rows[0]["Type"] == "appel à l'aide"
    assert contact_sections["homecare.contact_of"].rows[0]["Logement de"] == home_a.resident.display_name


def test_erasure_stops_monitoring_and_removes_the_homes_data(home_a):
    alarm = raise_sos(home_a)
    with scope(commune=home_a.commune):
        run_erasure_handlers(home_a.resident, home_a.commune)
        home = Home.objects.get(pk=home_a.home.pk)
        assert home.address == "" and home.inactivity_deadline is None
        assert not Gateway.objects.filter(home=home).exists()
        assert not DeviceEvent.objects.filter(home=home).exists()
        assert not Contact.objects.filter(home=home).exists()
        assert Alarm.objects.filter(pk=alarm.pk).exists()  # kept for the statistics, without words
    with time_machine.travel(T + timedelta(hours=1), tick=False):
        outcome = ingest_message(
            topic=home_a.topic("sos"),
            payload=fixture("tuya_sos_TS0215A.json"),
            received_at=T + timedelta(hours=1),
        )
    assert outcome.reason == "unknown_gateway"


def test_erasing_a_contact_keeps_the_chain_going(home_a):
    first = home_a.contacts[0]
    with scope(commune=home_a.commune):
        run_erasure_handlers(first.user, home_a.commune)
        first.refresh_from_db()
    assert first.user is None and first.phone == "" and first.name == "Personne effacée"
    raise_sos(home_a)
    with scopes_disabled():
        from mairie.core.models import Notification

        told = set(
            Notification.objects.filter(template="homecare/alarm").values_list("recipient_id", flat=True)
        )
    assert told == {home_a.contacts[1].user.pk}
