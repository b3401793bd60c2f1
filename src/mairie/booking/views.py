"""Resident pages ("Mes réservations", cancel, accept an offer, ticket, calendar feed) and staff pages."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from mairie.core.acting import Actor
from mairie.core.models import User
from mairie.core.permissions import public, require_capability, require_login, roles_of

from . import ical, selectors, services
from .exceptions import BookingError, NotFound
from .forms import CancelForm, ClosureForm
from .models import Booking, Closure, Resource, Session


def _actor(request: HttpRequest) -> Actor:
    return request.actor  # type: ignore[attr-defined, no-any-return]


@require_login
@require_GET
def mine(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    groups = selectors.my_bookings(actor.subject)
    cancellable = {
        b.pk for b in groups["confirmed"] if services.can_self_cancel(b) or services.is_staff(actor)
    }
    return render(
        request,
        "booking/mine.html",
        {
            "groups": groups,
            "person": actor.subject,
            "cancellable": cancellable,
            "ical_url": person_feed_url(request, actor.subject),
        },
    )


def person_feed_url(request: HttpRequest, person: User) -> str:
    commune = request.commune  # type: ignore[attr-defined]
    token = ical.person_token(
        person_id=person.pk, commune_id=commune.pk, generation=selectors.feed_generation(person, commune)
    )
    return request.build_absolute_uri(reverse("booking:person_feed", args=[token]))


@require_login
@require_POST
def feed_renew(request: HttpRequest) -> HttpResponse:
    """A new calendar link; the old one stops working (shared by mistake, a lost phone)."""
    services.calendar_feed_renew(actor=_actor(request))
    messages.success(
        request,
        _(
            "Voici votre nouveau lien d'agenda. L'ancien ne fonctionne plus : remplacez-le dans votre agenda "
            "s'il y était."
        ),
    )
    return redirect(reverse("booking:mine") + "#agenda-title")


def resource_feed_url(request: HttpRequest, resource_id: int) -> str:
    token = ical.resource_token(resource_id=resource_id, commune_id=request.commune.pk)  # type: ignore[attr-defined]
    return request.build_absolute_uri(reverse("booking:resource_feed", args=[token]))


def _booking_for(request: HttpRequest, booking_id: int) -> Booking:
    """A booking of the person the request acts for (themselves, or the resident a staff member acts for).
    Staff reach other people's bookings through the staff pages."""
    booking = selectors.bookings_of_anyone().filter(pk=booking_id, person=_actor(request).subject).first()
    if booking is None:
        raise Http404
    return booking


@require_login
@require_http_methods(["GET", "POST"])
def cancel(request: HttpRequest, booking_id: int) -> HttpResponse:
    """Asks to confirm (GET), cancels (POST). The buttons of "Mes réservations" post here directly."""
    booking = _booking_for(request, booking_id)
    form = CancelForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            services.booking_cancel(
                actor=_actor(request), booking=booking, reason=form.cleaned_data["reason"]
            )
        except NotFound:
            raise Http404 from None
        except BookingError as error:
            messages.error(request, error.message)
            return redirect("booking:mine")
        messages.success(request, _("C'est fait : la réservation est annulée."))
        return redirect("booking:mine")
    return render(request, "booking/cancel.html", {"booking": booking, "form": form})


@require_login
@require_POST
def accept(request: HttpRequest, booking_id: int) -> HttpResponse:
    booking = _booking_for(request, booking_id)
    try:
        services.offer_accept(actor=_actor(request), booking=booking)
    except NotFound:
        raise Http404 from None
    except BookingError as error:
        messages.error(request, error.message)
        return redirect("booking:mine")
    messages.success(request, _("C'est noté : la place est à vous."))
    return redirect("booking:mine")


def _render_ticket(request: HttpRequest, booking: Booking) -> HttpResponse:
    return render(
        request,
        "booking/ticket.html",
        {"booking": booking, "resources": list(booking.resources.all()), "commune": request.commune},  # type: ignore[attr-defined]
    )


@require_login
@require_GET
def ticket(request: HttpRequest, booking_id: int) -> HttpResponse:
    """A printable ticket: only for the person, or someone acting for them (staff: ``staff_ticket``)."""
    return _render_ticket(request, _booking_for(request, booking_id))


@require_capability("booking.manage")
@require_GET
def staff_ticket(request: HttpRequest, booking_id: int) -> HttpResponse:
    booking = selectors.bookings_of_anyone().filter(pk=booking_id).first()
    if booking is None:
        raise Http404
    return _render_ticket(request, booking)


_FEED_PAST = timedelta(days=90)
_FEED_FUTURE = timedelta(days=400)
_FEED_STATUS = {
    Booking.Status.CONFIRMED: "CONFIRMED",
    Booking.Status.REQUESTED: "TENTATIVE",
    Booking.Status.OFFERED: "TENTATIVE",
    Booking.Status.ATTENDED: "CONFIRMED",
    Booking.Status.NO_SHOW: "CONFIRMED",
    Booking.Status.CANCELLED: "CANCELLED",
}


def _ics(body: str, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    response["Cache-Control"] = "private, max-age=300"
    response["X-Robots-Tag"] = "noindex"
    return response


def _token_data(request: HttpRequest, token: str, kind: str) -> dict[str, Any]:
    data = ical.read_token(token)
    if not data or data.get("k") != kind or data.get("c") != request.commune.pk:  # type: ignore[attr-defined]
        raise Http404
    return data


@public
@require_GET
def person_feed(request: HttpRequest, token: str) -> HttpResponse:
    """A person's bookings as a calendar feed; the signed token in the address is the key."""
    data = _token_data(request, token, "p")
    person = User.objects.filter(pk=data["p"]).first()
    if person is None or data.get("g", 0) != selectors.feed_generation(person, request.commune):  # type: ignore[attr-defined]
        raise Http404  # a link renewed since
    now = timezone.now()
    host = request.get_host()
    rows = (
        selectors.bookings_of_anyone()
        .filter(person_id=data["p"], starts_at__gte=now - _FEED_PAST, starts_at__lte=now + _FEED_FUTURE)
        .exclude(status=Booking.Status.WAITLISTED)
        .order_by("starts_at", "pk")
    )
    mine_url = request.build_absolute_uri(reverse("booking:mine"))
    events = [
        ical.Event(
            uid=f"booking-{b.pk}@{host}",
            starts_at=b.starts_at,
            ends_at=b.ends_at,
            summary=b.display_title,
            description=_booking_description(b),
            location=(b.session.location if b.session else "") or "",
            status=_FEED_STATUS.get(Booking.Status(b.status), "CONFIRMED"),
            url=mine_url,
        )
        for b in rows
    ]
    name = _("Mes réservations — %(commune)s") % {"commune": request.commune.name}  # type: ignore[attr-defined]
    return _ics(ical.calendar(name, events), "reservations.ics")


def _booking_description(booking: Booking) -> str:
    parts = [str(booking.get_status_display())]
    names = [r.name for r in booking.resources.all()]
    if names:
        parts.append(", ".join(names))
    if booking.status == Booking.Status.OFFERED and booking.offer_expires_at:
        until = timezone.localtime(booking.offer_expires_at).strftime("%d/%m/%Y %H:%M")
        parts.append(_("Place à accepter avant le %(until)s") % {"until": until})
    return "\n".join(parts)


@public
@require_GET
def resource_feed(request: HttpRequest, token: str) -> HttpResponse:
    """A resource's agenda for the staff (sessions and bookings holding it), without people's names."""
    data = _token_data(request, token, "r")
    resource = Resource.objects.filter(pk=data["r"]).first()
    if resource is None:
        raise Http404
    now = timezone.now()
    start, end = now - _FEED_PAST, now + _FEED_FUTURE
    host = request.get_host()
    events = [
        ical.Event(
            uid=f"session-{s.pk}@{host}",
            starts_at=s.starts_at,
            ends_at=s.ends_at,
            summary=s.title,
            description=_("%(booked)d inscrit·e·s sur %(capacity)d places")
            % {"booked": s.booked_count, "capacity": s.capacity},
            location=s.location,
        )
        for s in selectors.resource_sessions(resource, start=start, end=end)
    ]
    events += [
        ical.Event(
            uid=f"booking-{b.pk}@{host}",
            starts_at=b.starts_at,
            ends_at=b.ends_at,
            summary=_("Réservé : %(title)s") % {"title": b.display_title},
            description=_("Réservation n° %(number)d") % {"number": b.pk},
        )
        for b in selectors.resource_agenda(resource, start=start, end=end).filter(session__isnull=True)
    ]
    events.sort(key=lambda e: (e.starts_at, e.uid))
    return _ics(ical.calendar(resource.name, events), f"ressource-{resource.pk}.ics")


# ---------------------------------------------------------------------------------------------------------------
# A resource's free slots, for residents (a PC, a machine, a room): the module must be switched on.

SLOT_DAYS = 14


def _day_param(request: HttpRequest) -> date:
    today = timezone.localdate()
    raw = request.GET.get("jour", "")
    try:
        day = date.fromisoformat(raw) if raw else today
    except ValueError:
        day = today
    return max(day, today)


@public
@require_http_methods(["GET", "POST"])
def resource_slots(request: HttpRequest, booking_resource_id: int) -> HttpResponse:
    """Anyone may see the free slots; booking one needs to be signed in as a member of the commune."""
    resource = Resource.objects.filter(pk=booking_resource_id).prefetch_related("opening_rules").first()
    commune = request.commune  # type: ignore[attr-defined]
    if resource is None or not commune.has_module(resource.module):
        raise Http404
    signed_in = request.user.is_authenticated
    if request.method == "POST":
        if not signed_in:
            return redirect_to_login(request.get_full_path())
        if not roles_of(request.user, commune):
            messages.error(
                request, _("Pour réserver ici, il faut un compte dans cette commune : demandez à la mairie.")
            )
            return redirect("booking:resource_slots", booking_resource_id=resource.pk)
        actor = _actor(request)
        try:
            starts_at = datetime.fromisoformat(request.POST.get("debut", ""))
        except ValueError:
            messages.error(request, _("Ce créneau n'existe pas. Choisissez-en un dans la liste."))
            return redirect("booking:resource_slots", booking_resource_id=resource.pk)
        if timezone.is_naive(starts_at):
            starts_at = timezone.make_aware(starts_at)
        ends_at = starts_at + timedelta(minutes=resource.slot_minutes)
        try:
            booking = services.slot_book(
                actor=actor,
                resources=[resource],
                starts_at=starts_at,
                ends_at=ends_at,
                module=resource.module,
            )
        except NotFound:
            raise Http404 from None
        except BookingError as error:
            messages.error(request, error.message)
            chosen = timezone.localtime(starts_at).date().isoformat()
            return redirect(f"{reverse('booking:resource_slots', args=[resource.pk])}?jour={chosen}")
        messages.success(request, _("C'est réservé. Voici votre billet."))
        return redirect("booking:ticket", booking_id=booking.pk)
    day = _day_param(request)
    staff = signed_in and services.is_staff(_actor(request))
    slots = selectors.free_slots(resource, day, staff=staff)
    days = [timezone.localdate() + timedelta(days=n) for n in range(SLOT_DAYS)]
    return render(
        request,
        "booking/resource_slots.html",
        {
            "resource": resource,
            "day": day,
            "slots": slots,
            "days": days,
            "previous_day": day - timedelta(days=1) if day > timezone.localdate() else None,
            "next_day": day + timedelta(days=1),
            "signed_in": signed_in,
        },
    )


# ---------------------------------------------------------------------------------------------------------------
# Staff


@require_capability("booking.manage")
@require_GET
def staff(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    sessions = list(
        selectors.upcoming_sessions()
        .filter(starts_at__lt=now + timedelta(days=31))
        .prefetch_related("resources")[:200]
    )
    resources = list(Resource.objects.order_by("module", "name"))
    feeds = {r.pk: resource_feed_url(request, r.pk) for r in resources}
    closures = list(
        Closure.objects.filter(ends_at__gt=now).select_related("resource").order_by("starts_at")[:100]
    )
    return render(
        request,
        "booking/staff/home.html",
        {
            "sessions": sessions,
            "resources": [(r, feeds[r.pk]) for r in resources],
            "closures": closures,
            "form": ClosureForm(resources=Resource.objects.order_by("name")),
        },
    )


@require_capability("booking.manage")
@require_POST
def staff_closure_create(request: HttpRequest) -> HttpResponse:
    form = ClosureForm(request.POST, resources=Resource.objects.order_by("name"))
    if form.is_valid():
        try:
            services.closure_create(
                actor=_actor(request),
                starts_at=form.cleaned_data["starts_at"],
                ends_at=form.cleaned_data["ends_at"],
                reason=form.cleaned_data["reason"],
                resource=form.cleaned_data["resource"],
            )
        except BookingError as error:
            form.add_error(None, error.message)
        else:
            messages.success(
                request, _("La fermeture est enregistrée : plus personne ne peut réserver pendant ce temps.")
            )
            return redirect("booking:staff")
    return render(request, "booking/staff/closure_form.html", {"form": form})


@require_capability("booking.manage")
@require_GET
def staff_session(request: HttpRequest, booking_session_id: int) -> HttpResponse:
    session = Session.objects.filter(pk=booking_session_id).prefetch_related("resources").first()
    if session is None:
        raise Http404
    roster = list(selectors.session_roster(session))
    return render(
        request,
        "booking/staff/session.html",
        {
            "session": session,
            "seated": [b for b in roster if b.status not in (Booking.Status.WAITLISTED,)],
            "waiting": [b for b in roster if b.status == Booking.Status.WAITLISTED],
            "can_mark": timezone.localtime(session.starts_at).date() <= timezone.localdate(),
        },
    )


@require_capability("booking.manage")
@require_POST
def staff_attendance(request: HttpRequest, booking_id: int) -> HttpResponse:
    booking = Booking.objects.filter(pk=booking_id).first()
    if booking is None or booking.session_id is None:
        raise Http404
    attended = request.POST.get("present") == "1"
    try:
        services.attendance_mark(actor=_actor(request), booking=booking, attended=attended)
    except BookingError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            (_("%(name)s : présent·e.") if attended else _("%(name)s : absent·e."))
            % {"name": booking.person.display_name},
        )
    return redirect("booking:staff_session", booking_session_id=booking.session_id)


@require_capability("booking.manage")
@require_POST
def staff_cancel(request: HttpRequest, booking_id: int) -> HttpResponse:
    booking = Booking.objects.filter(pk=booking_id).first()
    if booking is None:
        raise Http404
    try:
        services.booking_cancel(
            actor=_actor(request),
            booking=booking,
            reason=request.POST.get("reason", "")[:300] or _("Annulée par la mairie"),
        )
    except BookingError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request, _("La réservation de %(name)s est annulée.") % {"name": booking.person.display_name}
        )
    if booking.session_id:
        return redirect("booking:staff_session", booking_session_id=booking.session_id)
    return redirect("booking:staff")


urlpatterns = [
    path("", mine, name="mine"),
    path("<int:booking_id>/annuler/", cancel, name="cancel"),
    path("<int:booking_id>/accepter/", accept, name="accept"),
    path("<int:booking_id>/ticket/", ticket, name="ticket"),
    path("agenda/<str:token>.ics", person_feed, name="person_feed"),
    path("agenda/renouveler/", feed_renew, name="feed_renew"),
    path("agenda/ressource/<str:token>.ics", resource_feed, name="resource_feed"),
    path("ressources/<int:booking_resource_id>/", resource_slots, name="resource_slots"),
    path("gestion/", staff, name="staff"),
    path("gestion/fermetures/", staff_closure_create, name="staff_closure_create"),
    path("gestion/seances/<int:booking_session_id>/", staff_session, name="staff_session"),
    path("gestion/reservations/<int:booking_id>/ticket/", staff_ticket, name="staff_ticket"),
    path("gestion/reservations/<int:booking_id>/presence/", staff_attendance, name="staff_attendance"),
    path("gestion/reservations/<int:booking_id>/annuler/", staff_cancel, name="staff_cancel"),
]
