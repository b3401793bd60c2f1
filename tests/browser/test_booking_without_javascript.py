"""A resident's bookings without JavaScript: from "Mon compte" to "Mes réservations", the ticket, a cancel
button, then a machine's free slots and one booked with a button."""

from __future__ import annotations

from datetime import time, timedelta

from django.utils import timezone
from django_scopes import scope, scopes_disabled

from mairie.booking import services
from mairie.booking.models import Booking
from mairie.core.acting import Actor
from mairie.core.models import Role
from tests.factories import make_user


def _submit(page, name: str) -> None:
    with page.expect_navigation():
        page.get_by_role("button", name=name).first.click()


def test_my_bookings_ticket_cancel_and_a_slot_without_javascript(site, town):
    with scopes_disabled():
        town.enabled_modules = ["inclusion"]
        town.save()
    resident = make_user(town, first_name="Odette", last_name="Leroux")
    mediator = make_user(town, Role.MEDIATOR)
    start = (timezone.localtime() + timedelta(days=3)).replace(hour=14, minute=0, second=0, microsecond=0)
    with scope(commune=town):
        staff = Actor.himself(mediator, town)
        session = services.session_create(
            actor=staff,
            module="inclusion",
            title="Envoyer des photos par e-mail",
            starts_at=start,
            ends_at=start + timedelta(hours=2),
            capacity=6,
            location="Salle du Numéripôle",
            ignore_closures=True,
        )
        booking = services.session_book(actor=Actor.himself(resident, town), session=session)
        pc = services.resource_create(
            actor=staff, module="inclusion", name="Poste informatique 2", horizon_days=30
        )
        for weekday in range(7):
            services.opening_rule_add(
                actor=staff,
                resource=pc,
                weekday=weekday,
                start_time=time(9),
                end_time=time(11),
                open_on_public_holidays=True,
            )

    page = site.page(user=resident, javascript=False)
    page.goto("/mon-compte/")
    page.get_by_role("link", name="Mes réservations").click()
    assert page.locator("h1").inner_text() == "Mes réservations"
    assert page.get_by_role("heading", name="Envoyer des photos par e-mail").is_visible()

    page.get_by_role("link", name="Voir et imprimer le billet").click()
    assert page.locator("h1").inner_text() == "Votre billet"
    assert page.get_by_text("Salle du Numéripôle").is_visible()
    assert page.get_by_text(str(booking.pk), exact=True).is_visible()
    page.get_by_role("link", name="Retour à mes réservations").click()

    _submit(page, "Annuler")
    assert page.get_by_role("status").inner_text() == "C'est fait : la réservation est annulée."
    with scope(commune=town):
        booking.refresh_from_db()
        assert booking.status == Booking.Status.CANCELLED
        session.refresh_from_db()
        assert session.booked_count == 0

    day = (timezone.localdate() + timedelta(days=2)).isoformat()
    page.goto(f"/reservations/ressources/{pc.pk}/")
    page.get_by_label("Jour", exact=True).select_option(day)
    _submit(page, "Voir ce jour")
    _submit(page, "09h00")
    assert page.locator("h1").inner_text() == "Votre billet"
    assert page.get_by_text("Poste informatique 2").first.is_visible()
    with scope(commune=town):
        slot = Booking.objects.get(person=resident, session__isnull=True)
        assert timezone.localtime(slot.starts_at).strftime("%Y-%m-%d %H:%M") == f"{day} 09:00"
