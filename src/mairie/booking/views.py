"""Resident pages ("Mes réservations", cancel, accept an offer, ticket, calendar feed) and staff pages."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from mairie.core.acting import Actor
from mairie.core.permissions import public, require_login

from . import ical, selectors, services
from .exceptions import BookingError, NotFound
from .models import Booking, Resource


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
            "ical_url": person_feed_url(request, actor.subject.pk),
        },
    )


def person_feed_url(request: HttpRequest, person_id: int) -> str:
    token = ical.person_token(person_id=person_id, commune_id=request.commune.pk)  # type: ignore[attr-defined]
    return request.build_absolute_uri(reverse("booking:person_feed", args=[token]))


def resource_feed_url(request: HttpRequest, resource_id: int) -> str:
    token = ical.resource_token(resource_id=resource_id, commune_id=request.commune.pk)  # type: ignore[attr-defined]
    return request.build_absolute_uri(reverse("booking:resource_feed", args=[token]))


def _booking_for(request: HttpRequest, booking_id: int) -> Booking:
    """A booking of the person the request acts for (staff may see anyone's)."""
    actor = _actor(request)
    booking = selectors.bookings_of_anyone().filter(pk=booking_id).first()
    if booking is None:
        raise Http404
    if booking.person_id != actor.subject.pk and not services.is_staff(actor):
        raise Http404
    return booking


@require_login
@require_http_methods(["GET", "POST"])
def cancel(request: HttpRequest, booking_id: int) -> HttpResponse:
    booking = _booking_for(request, booking_id)
    if request.method == "POST":
        try:
            services.booking_cancel(
                actor=_actor(request), booking=booking, reason=request.POST.get("reason", "")[:300]
            )
        except NotFound:
            raise Http404 from None
        except BookingError as error:
            messages.error(request, error.message)
            return redirect("booking:mine")
        messages.success(request, _("C'est fait : la réservation est annulée."))
        return redirect("booking:mine")
    return render(request, "booking/cancel.html", {"booking": booking})


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


@require_login
@require_GET
def ticket(request: HttpRequest, booking_id: int) -> HttpResponse:
    """A printable ticket: only the person, someone acting for them, or staff."""
    booking = _booking_for(request, booking_id)
    return render(
        request,
        "booking/ticket.html",
        {"booking": booking, "resources": list(booking.resources.all()), "commune": request.commune},  # type: ignore[attr-defined]
    )


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


def _token_data(request: HttpRequest, token: str, kind: str) -> dict[str, object]:
    data = ical.read_token(token)
    if not data or data.get("k") != kind or data.get("c") != request.commune.pk:  # type: ignore[attr-defined]
        raise Http404
    return data


@public
@require_GET
def person_feed(request: HttpRequest, token: str) -> HttpResponse:
    """A person's bookings as a calendar feed; the signed token in the address is the key."""
    data = _token_data(request, token, "p")
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
            status=_FEED_STATUS.get(b.status, "CONFIRMED"),  # type: ignore[arg-type]
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


urlpatterns = [
    path("", mine, name="mine"),
    path("<int:booking_id>/annuler/", cancel, name="cancel"),
    path("<int:booking_id>/accepter/", accept, name="accept"),
    path("<int:booking_id>/ticket/", ticket, name="ticket"),
    path("agenda/<str:token>.ics", person_feed, name="person_feed"),
    path("agenda/ressource/<str:token>.ics", resource_feed, name="resource_feed"),
]
