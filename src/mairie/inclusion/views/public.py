"""Resident pages: the catalogue, a workshop, a session and registering to it (no JavaScript needed)."""

from __future__ import annotations

from django.contrib import messages
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from mairie.booking.exceptions import BookingError
from mairie.booking.models import Booking
from mairie.core.permissions import has_capability, public, require_login
from mairie.inclusion.cache import FRAGMENT_SECONDS, fragment_key, fragment_prefix
from mairie.inclusion.decorators import module_required
from mairie.inclusion.errors import InclusionError
from mairie.inclusion.forms import CatalogueFilterForm
from mairie.inclusion.selectors import catalogue
from mairie.inclusion.services.sessions import register
from mairie.inclusion.views.common import actor_of, commune_of, page_of, query_without_page

MODULE = "inclusion"


@public
@module_required(MODULE)
@require_GET
def catalogue_page(request: HttpRequest) -> HttpResponse:
    """Upcoming sessions, soonest first, filtered by theme and level; 20 a page.

    The filters and the list are rendered once per version of the catalogue (see ``mairie.inclusion.cache``):
    a page served to many visitors costs two cache reads, not three queries and twenty rendered sessions."""
    commune = commune_of(request)
    raw = [request.GET.get(name, "")[:20] for name in ("theme", "level", "page")]
    key = fragment_key(fragment_prefix(commune.pk), get_language(), *raw)
    main_html = cache.get(key)
    if main_html is None:
        form = CatalogueFilterForm(request.GET or None, themes=catalogue.themes(commune))
        theme_id = level = None
        if form.is_valid():
            theme = form.cleaned_data.get("theme")
            theme_id = theme.pk if theme else None
            level = form.cleaned_data.get("level")
        sessions = catalogue.upcoming_sessions(commune, theme_id=theme_id, level=level)
        main_html = render_to_string(
            "inclusion/includes/catalogue_main.html",
            {
                "form": form,
                "filtered": bool(theme_id or level),
                "page": page_of(request, sessions),
                "query_string": query_without_page(request),
            },
        )
        cache.set(key, main_html, FRAGMENT_SECONDS)
    return render(request, "inclusion/catalogue.html", {"main_html": mark_safe(main_html)})  # noqa: S308


@public
@module_required(MODULE)
@require_GET
def workshops_page(request: HttpRequest) -> HttpResponse:
    workshops = catalogue.published_workshops(commune_of(request))
    return render(request, "inclusion/workshops.html", {"workshops": workshops})


@public
@module_required(MODULE)
@require_GET
def workshop_page(request: HttpRequest, pk: int) -> HttpResponse:
    commune = commune_of(request)
    workshop = catalogue.workshop(commune, pk)
    sessions = catalogue.upcoming_sessions(commune).filter(workshop=workshop)[:30]
    return render(
        request,
        "inclusion/workshop.html",
        {
            "workshop": workshop,
            "sessions": sessions,
            "prerequisite_workshops": workshop.prerequisite_workshops.all(),
        },
    )


@public
@module_required(MODULE)
@require_GET
def session_page(request: HttpRequest, pk: int) -> HttpResponse:
    commune = commune_of(request)
    ws = catalogue.workshop_session(commune, pk)
    context = {
        "ws": ws,
        "workshop": ws.workshop,
        "course": catalogue.course_sessions(ws),
        "booking": None,
        "can_register": False,
    }
    if request.user.is_authenticated:
        actor = actor_of(request)
        context["booking"] = catalogue.live_booking(ws, actor.subject)
        context["acting_for"] = actor.subject if actor.on_behalf else None
        context["is_manager"] = has_capability(actor.user, commune, "inclusion.manage")
    session = ws.session
    context["can_register"] = (
        not ws.workshop.is_drop_in
        and session.status == session.Status.SCHEDULED
        and session.starts_at > timezone.now()
        and context["booking"] is None
    )
    return render(request, "inclusion/session.html", context)


def refused(request: HttpRequest, message: str, *, back: str = "") -> HttpResponse:
    """A request aimed at something that is not there (another commune's id, a stale form): said plainly,
    nothing changed (400)."""
    return render(request, "inclusion/refused.html", {"message": message, "back": back}, status=400)


@require_login
@module_required(MODULE)
@require_POST
def session_register(request: HttpRequest) -> HttpResponse:
    """The "Je m'inscris" button (``session`` in the form): for the person signed in, or for the resident a
    mediator acts for at the desk."""
    commune = commune_of(request)
    try:
        ws = catalogue.workshop_session(commune, int(request.POST.get("session", "")))
    except (ValueError, Http404):
        return refused(
            request, _("Cette séance n'existe pas ou n'est plus proposée. Rien n'a été enregistré.")
        )
    actor = actor_of(request)
    try:
        bookings = register(actor=actor, workshop_session=ws)
    except (InclusionError, BookingError) as exc:
        messages.error(request, str(exc))
        return redirect("inclusion:session", pk=ws.pk)
    first = bookings[0]
    who = actor.subject.display_name if actor.on_behalf else ""
    if first.status == Booking.Status.WAITLISTED:
        if who:
            text = _("La séance est complète : %(who)s est sur la liste d'attente.") % {"who": who}
        else:
            text = _("La séance est complète : vous êtes sur la liste d'attente.")
        messages.warning(request, text + " " + _("Une place libérée sera proposée par message."))
    else:
        text = _("%(who)s est inscrit·e.") % {"who": who} if who else _("C'est noté, vous êtes inscrit·e.")
        if len(bookings) > 1:
            text += " " + _("Les %(n)d séances du parcours sont réservées.") % {"n": len(bookings)}
        messages.success(request, text)
    return redirect("inclusion:session", pk=ws.pk)
