"""Refusals of the booking engine. Each carries a message for the person, in plain French (``str(error)``)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _


class BookingError(Exception):
    """A booking cannot be made or changed; ``message`` says why, in words for the resident."""

    default_message = _("Cette réservation n'est pas possible.")

    def __init__(self, message: str | None = None) -> None:
        self.message = str(message if message is not None else self.default_message)
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


class NotFound(BookingError):
    default_message = _("Cette séance ou cette réservation n'existe pas.")


class SessionFull(BookingError):
    default_message = _("Cette séance est complète.")


class SessionCancelled(BookingError):
    default_message = _("Cette séance a été annulée.")


class AlreadyBooked(BookingError):
    default_message = _("Vous êtes déjà inscrit·e à cette séance.")


class SlotTaken(BookingError):
    default_message = _("Ce créneau est déjà réservé. Choisissez-en un autre.")


class InThePast(BookingError):
    default_message = _("Cette date est déjà passée.")


class TooLate(BookingError):
    """Less than the minimum notice before the start."""

    default_message = _("Il est trop tard pour réserver ce créneau.")


class TooFarAhead(BookingError):
    default_message = _("Ce créneau est trop loin dans le temps pour être réservé maintenant.")


class Closed(BookingError):
    default_message = _("C'est fermé à ce moment-là.")


class LimitReached(BookingError):
    default_message = _("Vous avez atteint le nombre maximum de réservations.")


class DeadlinePassed(BookingError):
    default_message = _("Il est trop tard pour annuler ou modifier en ligne. Appelez la mairie.")


class InvalidRequest(BookingError):
    default_message = _("Cette demande n'est pas valable.")


class NotAllowed(BookingError):
    default_message = _("Vous ne pouvez pas faire cela.")
