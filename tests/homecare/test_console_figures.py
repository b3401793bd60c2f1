"""Service-level figures on known data: time to acknowledge (median, 95th percentile, share within a minute),
alarms per type, false-alarm rate; only the period asked for, only the operator's communes."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse
from django_scopes import scopes_disabled

from mairie.core.models import Role
from mairie.homecare.models import Alarm
from mairie.homecare.service_levels import format_duration, percentile, service_levels
from tests.factories import make_user
from tests.homecare.homes_support import make_home
from tests.homecare.people_support import client_as

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")
T = datetime(2026, 11, 10, 9, 0, tzinfo=PARIS)


def alarm(world, kind, *, raised, ack_after=None, state=Alarm.State.NOTIFIED) -> Alarm:
    with scopes_disabled():
        return Alarm.objects.create(
            commune=world.commune,
            home=world.home,
            kind=kind,
            severity=Alarm.Severity.CRITICAL,
            state=state,
            raised_at=raised,
            acknowledged_at=None if ack_after is None else raised + timedelta(seconds=ack_after),
        )


@pytest.fixture
def known(commune, other_commune):
    with time_machine.travel(T, tick=False):
        world = make_home(commune, now=T)
        far = make_home(other_commune, now=T)
    resolved, false, acked = Alarm.State.RESOLVED, Alarm.State.FALSE_ALARM, Alarm.State.ACKNOWLEDGED
    # Five acknowledged in the period: 10, 20, 30, 40 and 100 seconds.
    alarm(world, Alarm.Kind.SOS, raised=T, ack_after=10, state=resolved)
    alarm(world, Alarm.Kind.SOS, raised=T + timedelta(hours=1), ack_after=20, state=resolved)
    alarm(world, Alarm.Kind.FALL, raised=T + timedelta(hours=2), ack_after=30, state=resolved)
    alarm(world, Alarm.Kind.FALL, raised=T + timedelta(hours=3), ack_after=40, state=false)
    alarm(world, Alarm.Kind.SOS, raised=T + timedelta(hours=4), ack_after=100, state=acked)
    # Not acknowledged: raised, counted per type, not in the times.
    alarm(world, Alarm.Kind.SMOKE, raised=T + timedelta(hours=5))
    # Outside the period, and another commune's: not counted at all.
    alarm(world, Alarm.Kind.SOS, raised=T - timedelta(days=40), ack_after=5000, state=false)
    alarm(far, Alarm.Kind.SOS, raised=T, ack_after=9000, state=false)
    world.operator = make_user(commune, Role.OPERATOR)
    return world


def test_figures_on_known_data(known):
    with scopes_disabled():
        alarms = Alarm.objects.filter(commune=known.commune)
        figures = service_levels(alarms, start=T - timedelta(days=1), end=T + timedelta(days=1))
    assert figures.raised == 6
    assert figures.acknowledged == 5
    assert figures.ack_median == timedelta(seconds=30)
    # Linear interpolation between ranks (as percentile_cont): position 0.95 × 4 = 3.8 → 40 + 0.8 × 60 = 88 s.
    assert figures.ack_p95 == timedelta(seconds=88)
    assert figures.within_target == 4 and figures.within_target_rate == pytest.approx(0.8)
    assert [(k.kind, k.count) for k in figures.per_kind] == [("sos", 3), ("fall", 2), ("smoke", 1)]
    assert figures.closed == 4 and figures.false_alarms == 1
    assert figures.false_alarm_rate == pytest.approx(0.25)


def test_percentile_of_one_value_and_of_none(known):
    with scopes_disabled():
        one = Alarm.objects.filter(commune=known.commune, raised_at=T)
        assert percentile(one, 0.5) == timedelta(seconds=10)
        assert percentile(one, 0.95) == timedelta(seconds=10)
        assert percentile(Alarm.objects.none(), 0.5) is None


def test_the_figures_page_shows_the_numbers_for_the_chosen_period(known):
    client = client_as(known.commune, known.operator)
    with time_machine.travel(T + timedelta(days=2), tick=False):
        response = client.get(reverse("homecare:console_figures"), {"du": "2026-11-01", "au": "2026-11-30"})
    assert response.status_code == 200
    text = response.content.decode()
    assert '<dd id="ack-median">30 s</dd>' in text
    assert '<dd id="ack-p95">1 min 28 s</dd>' in text
    assert "80 % (4 / 5)" in text
    assert "1 fausses alertes sur 4 alarmes terminées" in text and "(25 %)" in text
    assert "<td>appel à l&#x27;aide</td><td>3</td>" in text
    assert "Du 01/11/2026 au 30/11/2026 : 6 alarmes." in text


def test_a_period_without_alarms_says_so(known):
    client = client_as(known.commune, known.operator)
    response = client.get(reverse("homecare:console_figures"), {"du": "2025-01-01", "au": "2025-01-31"})
    text = response.content.decode()
    assert '<dd id="ack-median">—</dd>' in text
    assert "Aucune alarme pendant la période." in text


def test_format_duration():
    assert format_duration(timedelta(seconds=42)) == "42 s"
    assert format_duration(timedelta(seconds=65)) == "1 min 05 s"
    assert format_duration(timedelta(hours=2, minutes=3)) == "2 h 03 min"
    assert format_duration(None) == "—"
