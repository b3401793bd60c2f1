"""Equipment: booked in the room slot by slot (the booking engine), lent to take home with a due date,
overdue reminders; an item may ask for a workshop attended first."""

from datetime import time, timedelta

import pytest
import time_machine
from django.utils import timezone

from mairie.booking.models import Booking
from mairie.core.acting import Actor
from mairie.core.models import AuditEntry, Notification
from mairie.inclusion.models import Equipment, Loan
from mairie.inclusion.services.activity import attendance_record
from mairie.inclusion.services.equipment import equipment_save, loan_create, loans_remind_overdue
from mairie.inclusion.services.sessions import register
from mairie.inclusion.tasks import remind_overdue_loans_everywhere
from tests.inclusion.helpers import in_days, make_session, make_workshop, text

pytestmark = pytest.mark.django_db
EVERY_DAY = [(day, time(9), time(18)) for day in range(7)]


@pytest.fixture
def headset(staff, theme):
    discovery = make_workshop(staff, theme, title="Découvrir la réalité virtuelle")
    return equipment_save(
        actor=staff,
        name="Casque VR",
        kind="vr_headset",
        loanable=True,
        loan_days=7,
        required_workshop=discovery,
        opening=EVERY_DAY,
    )


@pytest.fixture
def laptop(staff):
    return equipment_save(
        actor=staff, name="Portable 1", kind="laptop", loanable=True, bookable_on_site=False
    )


def _lend(client, item, person, due_on):
    return client.post(
        f"/numeripole/gestion/materiel/{item.pk}/pret/", {"person": person.pk, "due_on": due_on.isoformat()}
    )


def test_lending_and_returning_an_item(client_for, numeripole, mediator, resident, laptop):
    client = client_for(numeripole, mediator)
    due = timezone.localdate() + timedelta(days=10)
    page = text(client.get(f"/numeripole/gestion/materiel/{laptop.pk}/pret/", {"q": "Vidal"}))
    assert "Odette Vidal" in page
    response = _lend(client, laptop, resident, due)
    assert response.status_code == 302
    loan = Loan.objects.get()
    assert loan.borrower == resident and loan.due_on == due and loan.lent_by == mediator
    assert Notification.objects.filter(recipient=resident, template="inclusion/loan_started").exists()
    listing = text(client.get("/numeripole/gestion/materiel/"))
    assert "prêté à Odette Vidal" in listing
    client.post(f"/numeripole/gestion/prets/{loan.pk}/retour/")
    loan.refresh_from_db()
    assert loan.returned_at is not None and loan.returned_to == mediator
    again = text(client.post(f"/numeripole/gestion/prets/{loan.pk}/retour/", follow=True))
    assert "Ce prêt a déjà été rendu" in again


def test_an_item_already_out_cannot_be_lent_again(client_for, numeripole, mediator, resident, laptop):
    from tests.factories import make_user

    client = client_for(numeripole, mediator)
    _lend(client, laptop, resident, timezone.localdate() + timedelta(days=10))
    other = make_user(numeripole, first_name="Marcel")
    response = _lend(client, laptop, other, timezone.localdate() + timedelta(days=3))
    assert response.status_code == 200 and "Cet équipement est déjà prêté" in text(response)
    assert Loan.objects.count() == 1


def test_a_return_date_in_the_past_is_refused(client_for, numeripole, mediator, resident, laptop):
    client = client_for(numeripole, mediator)
    response = _lend(client, laptop, resident, timezone.localdate() - timedelta(days=1))
    assert "La date de retour est déjà passée" in text(response) and 'aria-invalid="true"' in text(response)
    assert not Loan.objects.exists()


def test_the_headset_needs_the_discovery_workshop_first(
    client_for, numeripole, staff, mediator, resident, headset
):
    client = client_for(numeripole, mediator)
    due = timezone.localdate() + timedelta(days=5)
    response = _lend(client, headset, resident, due)
    assert "il faut d'abord avoir suivi l'atelier « Découvrir la réalité virtuelle »" in text(response)
    assert not Loan.objects.exists()
    ws = make_session(staff, headset.required_workshop, days=1)
    [booking] = register(actor=Actor.himself(resident, numeripole), workshop_session=ws)
    with time_machine.travel(ws.session.ends_at):
        attendance_record(actor=staff, workshop_session=ws, present=[booking.pk])
        assert _lend(client, headset, resident, timezone.localdate() + timedelta(days=5)).status_code == 302
    assert Loan.objects.get().equipment == headset


def test_overdue_loans_are_reminded_every_few_days(numeripole, staff, resident, laptop):
    start = timezone.localdate()
    loan = loan_create(actor=staff, equipment=laptop, borrower=resident, due_on=start + timedelta(days=2))

    def reminders() -> int:
        return Notification.objects.filter(
            template="inclusion/loan_overdue", recipient=resident, channel="in_app"
        ).count()

    with time_machine.travel(timezone.now() + timedelta(days=2)):
        assert loans_remind_overdue(commune=numeripole) == 0  # due today: not late yet
    with time_machine.travel(timezone.now() + timedelta(days=3)):
        assert remind_overdue_loans_everywhere() == 1
        assert loans_remind_overdue(commune=numeripole) == 0  # once a day at most
        assert (
            "devait être rendu"
            in Notification.objects.get(template="inclusion/loan_overdue", channel="in_app").body
        )
    with time_machine.travel(timezone.now() + timedelta(days=5)):
        assert loans_remind_overdue(commune=numeripole) == 0
    with time_machine.travel(timezone.now() + timedelta(days=6)):
        assert loans_remind_overdue(commune=numeripole) == 1
    assert reminders() == 2
    assert AuditEntry.objects.filter(action="inclusion.loan.reminded", on_behalf_of=resident).count() == 2
    Loan.objects.filter(pk=loan.pk).update(returned_at=timezone.now())
    with time_machine.travel(timezone.now() + timedelta(days=20)):
        assert loans_remind_overdue(commune=numeripole) == 0


def test_a_resident_books_an_item_in_the_room(client_for, numeripole, resident, headset):
    client = client_for(numeripole, resident)
    day = in_days(2).date()
    page = text(client.get(f"/numeripole/materiel/{headset.pk}/", {"day": day.isoformat()}))
    assert "Créneaux libres" in page and "09:00–10:00" in page
    slot = in_days(2, hour=10)
    from datetime import UTC

    response = client.post(
        "/numeripole/materiel/reservation/",
        {"equipment": headset.pk, "slot": slot.astimezone(UTC).isoformat()},
        follow=True,
    )
    assert "C'est réservé" in text(response)
    booking = Booking.objects.get()
    assert booking.person == resident and booking.module == "inclusion" and booking.starts_at == slot
    assert list(booking.resources.all()) == [headset.resource]
    again = client.post(
        "/numeripole/materiel/reservation/", {"equipment": headset.pk, "slot": slot.isoformat()}, follow=True
    )
    assert Booking.objects.count() == 1 and "error" in text(again)


def test_an_item_lent_out_is_not_bookable_in_the_room(client_for, numeripole, staff, resident, laptop):
    item = equipment_save(actor=staff, name="Tablette", kind="tablet", loanable=True, opening=EVERY_DAY)
    loan_create(actor=staff, equipment=item, borrower=resident)
    client = client_for(numeripole, resident)
    assert "Il est prêté en ce moment" in text(client.get(f"/numeripole/materiel/{item.pk}/"))
    response = client.post(
        "/numeripole/materiel/reservation/",
        {"equipment": item.pk, "slot": in_days(2, hour=10).isoformat()},
        follow=True,
    )
    assert "Cet équipement est prêté en ce moment" in text(response)
    assert not Booking.objects.exists()


def test_another_communes_item_is_refused(client_for, numeripole, resident, other_commune):
    from django_scopes import scopes_disabled

    with scopes_disabled():
        far = Equipment.objects.create(commune=other_commune, name="PC", kind="pc")
    client = client_for(numeripole, resident)
    response = client.post(
        "/numeripole/materiel/reservation/", {"equipment": far.pk, "slot": in_days(2).isoformat()}
    )
    assert response.status_code == 400 and "Cet équipement n'existe pas ici" in text(response)
    assert client.get(f"/numeripole/materiel/{far.pk}/").status_code == 404


def test_the_mediator_adds_an_item_with_its_hours(client_for, numeripole, mediator):
    client = client_for(numeripole, mediator)
    response = client.post(
        "/numeripole/gestion/materiel/nouveau/",
        {
            "name": "PC de jeu",
            "kind": "gaming_pc",
            "bookable_on_site": "on",
            "open_days": ["2", "5"],
            "open_from": "14:00",
            "open_until": "18:00",
            "loan_days": "14",
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    item = Equipment.objects.get()
    rules = sorted((r.weekday, r.start_time, r.end_time) for r in item.resource.opening_rules.all())
    assert rules == [(2, time(14), time(18)), (5, time(14), time(18))]
    bad = client.post(
        "/numeripole/gestion/materiel/nouveau/",
        {
            "name": "Tableau",
            "kind": "board",
            "bookable_on_site": "on",
            "open_days": ["1"],
            "open_from": "18:00",
            "open_until": "09:00",
            "loan_days": "-3",
        },
    )
    assert bad.status_code == 200 and "L'heure de fin doit être après" in text(bad)
    assert Equipment.objects.count() == 1
