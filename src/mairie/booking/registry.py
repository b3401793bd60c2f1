"""What the booking engine adds to the platform: its capability, staff card, log labels, personal data."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django_scopes import scope

from mairie.core.action_labels import register_action_labels
from mairie.core.backoffice import StaffArea, register_staff_area
from mairie.core.models import Commune, Role, User
from mairie.core.permissions import register_capabilities
from mairie.core.personal_data import register_erasure_handler, register_personal_data_provider

MANAGE_ROLES = {Role.MEDIATOR, Role.FABLAB_MANAGER, Role.AGENT, Role.ADMIN, Role.PRACTITIONER, Role.NURSE}

ACTION_LABELS: dict[str, str | Promise] = {
    "booking.resource.created": _("Ajout d'une ressource à réserver"),
    "booking.resource.updated": _("Modification d'une ressource à réserver"),
    "booking.opening.added": _("Ajout d'horaires d'ouverture"),
    "booking.opening.replaced": _("Nouveaux horaires d'ouverture"),
    "booking.closure.created": _("Fermeture exceptionnelle"),
    "booking.session.created": _("Nouvelle séance"),
    "booking.session.updated": _("Modification d'une séance"),
    "booking.session.cancelled": _("Annulation d'une séance"),
    "booking.series.created": _("Nouvelle série de séances"),
    "booking.series.updated": _("Modification d'une série de séances"),
    "booking.package.created": _("Nouveau parcours de plusieurs séances"),
    "booking.booking.confirmed": _("Réservation d'une place"),
    "booking.booking.waitlisted": _("Inscription sur une liste d'attente"),
    "booking.package.confirmed": _("Inscription à un parcours"),
    "booking.package.waitlisted": _("Inscription sur la liste d'attente d'un parcours"),
    "booking.slot.booked": _("Réservation d'un créneau"),
    "booking.booking.cancelled": _("Annulation d'une réservation"),
    "booking.booking.moved": _("Déplacement d'une réservation"),
    "booking.offer.made": _("Place libérée proposée"),
    "booking.offer.accepted": _("Place proposée acceptée"),
    "booking.offer.expired": _("Place proposée non acceptée à temps"),
    "booking.attendance.marked": _("Présence notée"),
    "booking.reminder.sent": _("Rappel de réservation envoyé"),
    "booking.feed.renewed": _("Nouveau lien d'agenda (l'ancien ne fonctionne plus)"),
}


def _bookings(user: User, commune: Commune) -> list[dict[str, Any]]:
    from .models import Booking

    with scope(commune=commune):
        rows = Booking.objects.filter(person=user).select_related("session").order_by("-starts_at", "-pk")
        return [
            {
                gettext("Quoi"): b.display_title,
                gettext("Début"): b.starts_at,
                gettext("Fin"): b.ends_at,
                gettext("État"): b.get_status_display(),
                gettext("Réservé le"): b.created_at,
                gettext("Annulé le"): b.cancelled_at,
            }
            for b in rows
        ]


def _erase(user: User, commune: Commune) -> None:
    """An erased person's future bookings are cancelled (their seats go to the waiting list); past ones
    stay, with the person shown as erased, so that attendance figures stay true."""
    from . import services
    from .models import Booking, Session

    with scope(commune=commune), transaction.atomic():
        live = list(
            Booking.objects.select_for_update().filter(
                person=user, status__in=Booking.LIVE, starts_at__gt=timezone.now()
            )
        )
        freed = services._cancel_rows(live, gettext("Compte effacé"))
        for session_id in dict.fromkeys(freed):
            services.offer_freed_seats(Session.objects.get(pk=session_id))


def register() -> None:
    register_capabilities({"booking.manage": MANAGE_ROLES})
    register_staff_area(
        StaffArea(
            "booking.manage",
            "booking:staff",
            _("Réservations"),
            _(
                "Séances et inscrits, listes d'attente, présences, agendas des salles et machines, fermetures."
            ),
        )
    )
    register_action_labels(ACTION_LABELS)
    register_personal_data_provider("booking.bookings", _("Vos réservations"), _bookings)
    register_erasure_handler(_erase)
