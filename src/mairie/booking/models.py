"""The booking engine: resources, opening hours, closures, sessions with seats, bookings, waiting lists.

Modules (Numéripôle, Fablab, teleconsultation) create resources and sessions through ``mairie.booking.services``
and tag them with ``module="inclusion"`` etc. The engine knows no module.

No double booking is enforced by the database itself:
- a session's seats: ``CHECK (booked_count >= 0 AND booked_count <= capacity)`` and a conditional
  ``UPDATE ... SET booked_count = booked_count + 1 WHERE booked_count < capacity``;
- a resource's time: one ``ResourceClaim`` row per 5-minute granule, unique on (resource, starts_at).
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager

GRANULE_MINUTES = 5


class Resource(models.Model):
    """Something or someone whose time is booked: a room, a PC, a 3D printer, a headset, a doctor's time."""

    class Kind(models.TextChoices):
        ROOM = "room", _("salle")
        MACHINE = "machine", _("machine")
        EQUIPMENT = "equipment", _("équipement")
        PERSON = "person", _("personne")
        OTHER = "other", _("autre")

    commune = models.ForeignKey("core.Commune", on_delete=models.CASCADE, related_name="booking_resources")
    module = models.CharField(_("service"), max_length=40)
    kind = models.CharField(_("type"), max_length=20, choices=Kind.choices, default=Kind.OTHER)
    name = models.CharField(_("nom"), max_length=150)
    description = models.TextField(_("description"), blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="booking_resources",
        help_text=_("Pour le temps d'une personne : médecin, infirmier·e, médiateur·rice."),
    )
    is_active = models.BooleanField(_("en service"), default=True)
    out_of_service_reason = models.CharField(_("raison de l'indisponibilité"), max_length=300, blank=True)
    slot_minutes = models.PositiveIntegerField(_("durée d'un créneau (minutes)"), default=60)
    buffer_before_minutes = models.PositiveIntegerField(_("battement avant (minutes)"), default=0)
    buffer_after_minutes = models.PositiveIntegerField(_("battement après (minutes)"), default=0)
    min_notice_minutes = models.PositiveIntegerField(_("délai minimum pour réserver (minutes)"), default=0)
    horizon_days = models.PositiveIntegerField(_("réservable jusqu'à (jours à l'avance)"), default=60)
    max_per_day = models.PositiveIntegerField(
        _("réservations par personne et par jour"), null=True, blank=True
    )
    max_per_week = models.PositiveIntegerField(
        _("réservations par personne et par semaine"), null=True, blank=True
    )
    cancel_deadline_hours = models.PositiveIntegerField(
        _("annulation en ligne possible jusqu'à (heures avant)"), default=24
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager(commune="commune")

    class Meta:
        ordering = ["name"]
        verbose_name = _("ressource")
        verbose_name_plural = _("ressources")
        indexes = [models.Index(fields=["commune", "module", "is_active"])]
        constraints = [
            models.CheckConstraint(condition=Q(slot_minutes__gt=0), name="booking_resource_slot_positive"),
        ]

    def __str__(self) -> str:
        return self.name


class OpeningRule(models.Model):
    """When a resource can be booked: a weekday and hours, optionally only between two dates."""

    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="opening_rules")
    weekday = models.PositiveSmallIntegerField(
        _("jour de la semaine"), help_text=_("0 = lundi, 6 = dimanche.")
    )
    start_time = models.TimeField(_("de"))
    end_time = models.TimeField(_("à"))
    valid_from = models.DateField(_("à partir du"), null=True, blank=True)
    valid_until = models.DateField(_("jusqu'au"), null=True, blank=True)
    open_on_public_holidays = models.BooleanField(_("ouvert aussi les jours fériés"), default=False)

    objects = ScopedManager(commune="resource__commune")

    class Meta:
        ordering = ["weekday", "start_time"]
        constraints = [
            models.CheckConstraint(condition=Q(weekday__gte=0, weekday__lte=6), name="booking_rule_weekday"),
            models.CheckConstraint(
                condition=Q(start_time__lt=models.F("end_time")), name="booking_rule_order"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.resource} {self.weekday} {self.start_time}-{self.end_time}"


class Closure(models.Model):
    """A time when nothing (``resource`` empty: the whole commune) or one resource can be booked."""

    commune = models.ForeignKey("core.Commune", on_delete=models.CASCADE, related_name="booking_closures")
    resource = models.ForeignKey(
        Resource, null=True, blank=True, on_delete=models.CASCADE, related_name="closures"
    )
    starts_at = models.DateTimeField(_("du"))
    ends_at = models.DateTimeField(_("au"))
    reason = models.CharField(_("raison"), max_length=200)

    objects = ScopedManager(commune="commune")

    class Meta:
        ordering = ["starts_at"]
        indexes = [models.Index(fields=["commune", "starts_at", "ends_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(starts_at__lt=models.F("ends_at")), name="booking_closure_order"
            ),
        ]

    def __str__(self) -> str:
        return self.reason


class Series(models.Model):
    """A recurring session ("every Tuesday at 14:00, from September to June"), generating Session rows."""

    commune = models.ForeignKey("core.Commune", on_delete=models.CASCADE, related_name="booking_series")
    module = models.CharField(_("service"), max_length=40)
    title = models.CharField(_("titre"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    location = models.CharField(_("lieu"), max_length=200, blank=True)
    weekdays = models.JSONField(
        _("jours de la semaine"), default=list, help_text=_("0 = lundi, 6 = dimanche.")
    )
    start_time = models.TimeField(_("heure de début"))
    duration_minutes = models.PositiveIntegerField(_("durée (minutes)"))
    first_date = models.DateField(_("première date"))
    last_date = models.DateField(_("dernière date"))
    interval_weeks = models.PositiveSmallIntegerField(_("toutes les (semaines)"), default=1)
    capacity = models.PositiveIntegerField(_("nombre de places"))
    cancel_deadline_hours = models.PositiveIntegerField(default=24)
    min_notice_minutes = models.PositiveIntegerField(default=0)
    resources = models.ManyToManyField(Resource, blank=True, related_name="series")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager(commune="commune")

    class Meta:
        ordering = ["first_date", "start_time"]
        verbose_name = _("série de séances")
        verbose_name_plural = _("séries de séances")
        constraints = [
            models.CheckConstraint(
                condition=Q(first_date__lte=models.F("last_date")), name="booking_series_order"
            ),
            models.CheckConstraint(condition=Q(duration_minutes__gt=0), name="booking_series_duration"),
            models.CheckConstraint(condition=Q(interval_weeks__gte=1), name="booking_series_interval"),
        ]

    def __str__(self) -> str:
        return self.title


class Session(models.Model):
    """A dated session with seats (a workshop, a drop-in slot). ``booked_count`` counts the seats held."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", _("prévue")
        CANCELLED = "cancelled", _("annulée")

    commune = models.ForeignKey("core.Commune", on_delete=models.CASCADE, related_name="booking_sessions")
    module = models.CharField(_("service"), max_length=40)
    title = models.CharField(_("titre"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    location = models.CharField(_("lieu"), max_length=200, blank=True)
    starts_at = models.DateTimeField(_("début"))
    ends_at = models.DateTimeField(_("fin"))
    capacity = models.PositiveIntegerField(_("nombre de places"))
    booked_count = models.IntegerField(default=0)
    series = models.ForeignKey(
        Series, null=True, blank=True, on_delete=models.SET_NULL, related_name="sessions"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.SCHEDULED)
    cancel_deadline_hours = models.PositiveIntegerField(
        _("annulation en ligne possible jusqu'à (heures avant)"), default=24
    )
    min_notice_minutes = models.PositiveIntegerField(
        _("inscription possible jusqu'à (minutes avant)"), default=0
    )
    resources = models.ManyToManyField(Resource, blank=True, related_name="sessions")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager(commune="commune")

    class Meta:
        ordering = ["starts_at", "pk"]
        verbose_name = _("séance")
        verbose_name_plural = _("séances")
        indexes = [
            models.Index(fields=["commune", "module", "starts_at"]),
            models.Index(fields=["series", "starts_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(booked_count__gte=0) & Q(booked_count__lte=models.F("capacity")),
                name="booking_session_seats",
            ),
            models.CheckConstraint(
                condition=Q(starts_at__lt=models.F("ends_at")), name="booking_session_order"
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def seats_left(self) -> int:
        return max(self.capacity - self.booked_count, 0)

    @property
    def is_full(self) -> bool:
        return self.booked_count >= self.capacity

    @property
    def duration(self) -> timedelta:
        return self.ends_at - self.starts_at


class Package(models.Model):
    """A multi-session course booked as one: all its seats or none; its waiting list is for the whole course."""

    commune = models.ForeignKey("core.Commune", on_delete=models.CASCADE, related_name="booking_packages")
    module = models.CharField(_("service"), max_length=40)
    title = models.CharField(_("titre"), max_length=200)
    sessions = models.ManyToManyField(Session, related_name="packages")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager(commune="commune")

    class Meta:
        verbose_name = _("parcours")
        verbose_name_plural = _("parcours")

    def __str__(self) -> str:
        return self.title


class Booking(models.Model):
    """One person's place in a session, or one person's use of resources between two times."""

    class Status(models.TextChoices):
        REQUESTED = "requested", _("demandée")
        CONFIRMED = "confirmed", _("confirmée")
        WAITLISTED = "waitlisted", _("en liste d'attente")
        OFFERED = "offered", _("place proposée")
        CANCELLED = "cancelled", _("annulée")
        ATTENDED = "attended", _("présent·e")
        NO_SHOW = "no_show", _("absent·e")

    commune = models.ForeignKey("core.Commune", on_delete=models.CASCADE, related_name="bookings")
    module = models.CharField(_("service"), max_length=40)
    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="bookings")
    session = models.ForeignKey(
        Session, null=True, blank=True, on_delete=models.PROTECT, related_name="bookings"
    )
    resources = models.ManyToManyField(Resource, blank=True, related_name="bookings")
    title = models.CharField(_("objet"), max_length=200, blank=True)
    # Copied from the session for session bookings, so that a person's agenda, limits and reminders read one table.
    starts_at = models.DateTimeField(_("début"))
    ends_at = models.DateTimeField(_("fin"))
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.CONFIRMED)
    booked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="bookings_made"
    )
    mandate = models.ForeignKey(
        "core.Mandate", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    package = models.ForeignKey(
        Package, null=True, blank=True, on_delete=models.PROTECT, related_name="bookings"
    )
    offer_expires_at = models.DateTimeField(null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(_("raison de l'annulation"), max_length=300, blank=True)

    objects = ScopedManager(commune="commune")

    LIVE = (Status.REQUESTED, Status.CONFIRMED, Status.WAITLISTED, Status.OFFERED)
    # Statuses that hold a seat in the session (counted in Session.booked_count).
    HOLDS_SEAT = (Status.REQUESTED, Status.CONFIRMED, Status.OFFERED, Status.ATTENDED, Status.NO_SHOW)

    class Meta:
        ordering = ["starts_at", "pk"]
        verbose_name = _("réservation")
        verbose_name_plural = _("réservations")
        indexes = [
            models.Index(fields=["commune", "person", "starts_at"]),
            models.Index(fields=["session", "status", "created_at"]),
            models.Index(fields=["status", "starts_at"]),
            models.Index(fields=["status", "offer_expires_at"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["person", "session"],
                condition=Q(status__in=["requested", "confirmed", "waitlisted", "offered"]),
                name="booking_one_live_per_person_session",
            ),
            models.CheckConstraint(
                condition=Q(starts_at__lt=models.F("ends_at")), name="booking_booking_order"
            ),
        ]

    def __str__(self) -> str:
        if self.title or self.session is None:
            return self.title
        return self.session.title

    @property
    def is_live(self) -> bool:
        return self.status in self.LIVE

    @property
    def holds_seat(self) -> bool:
        return self.status in self.HOLDS_SEAT

    @property
    def display_title(self) -> str:
        return str(self)


class ResourceClaim(models.Model):
    """One 5-minute granule of one resource's time, held by a session or a booking. Unique: no double booking."""

    commune = models.ForeignKey("core.Commune", on_delete=models.CASCADE, related_name="+")
    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="claims")
    starts_at = models.DateTimeField()
    session = models.ForeignKey(
        Session, null=True, blank=True, on_delete=models.CASCADE, related_name="claims"
    )
    booking = models.ForeignKey(
        Booking, null=True, blank=True, on_delete=models.CASCADE, related_name="claims"
    )

    objects = ScopedManager(commune="commune")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["resource", "starts_at"], name="booking_claim_unique_granule"),
            models.CheckConstraint(
                condition=Q(session__isnull=False) | Q(booking__isnull=False), name="booking_claim_has_holder"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.resource_id}@{self.starts_at.isoformat()}"


class CalendarFeedKey(models.Model):
    """Which generation of a person's calendar link works in a commune. The link is signed with it: renewing the
    link (a link shared by mistake, a lost phone) increments it and every older link stops working. No row:
    generation 0, the link given until the first renewal."""

    commune = models.ForeignKey("core.Commune", on_delete=models.CASCADE, related_name="+")
    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    generation = models.PositiveIntegerField(default=0)
    renewed_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager(commune="commune")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["commune", "person"], name="booking_feed_key_one_per_person")
        ]

    def __str__(self) -> str:
        return f"{self.person_id}:{self.generation}"
