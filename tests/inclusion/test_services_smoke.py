import pytest
import time_machine

from mairie.booking.models import Booking
from mairie.core.acting import Actor
from mairie.inclusion.models import Participation
from mairie.inclusion.services.activity import attendance_record
from mairie.inclusion.services.sessions import register
from tests.inclusion.helpers import in_days, make_session, make_workshop

pytestmark = pytest.mark.django_db


def test_register_then_attendance_makes_a_record(staff, resident, theme, numeripole):
    workshop = make_workshop(staff, theme)
    ws = make_session(staff, workshop, days=3)
    [booking] = register(actor=Actor.himself(resident, numeripole), workshop_session=ws)
    assert booking.status == Booking.Status.CONFIRMED
    with time_machine.travel(in_days(3, hour=16)):
        acc = attendance_record(actor=staff, workshop_session=ws, present=[booking.pk])
    assert Participation.objects.filter(accompaniment=acc).count() == 1
