"""A resident's own pages: my path (workshops done, skills, what next), my profile, booking equipment."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from mairie.booking import selectors as booking_selectors
from mairie.booking import services as booking_services
from mairie.booking.exceptions import BookingError
from mairie.core.permissions import has_capability, public, require_login
from mairie.inclusion.decorators import module_required
from mairie.inclusion.errors import InclusionError
from mairie.inclusion.forms import ProfileForm, SlotForm
from mairie.inclusion.registry import MODULE_KEY
from mairie.inclusion.selectors import catalogue
from mairie.inclusion.selectors.progress import progress_of
from mairie.inclusion.services.beneficiaries import beneficiary_draft, profile_update
from mairie.inclusion.services.equipment import open_loan
from mairie.inclusion.views.common import actor_of, attach_error, commune_of
from mairie.inclusion.views.public import refused

MODULE = MODULE_KEY


@require_login
@module_required(MODULE)
@require_GET
def my_activity(request: HttpRequest) -> HttpResponse:
    """My path: what I did, the skills I reached, what to try next, my registrations and loans."""
    actor = actor_of(request)
    progress = progress_of(actor.subject, commune_of(request))
    return render(request, "inclusion/my_activity.html", {"progress": progress, "person": actor.subject})


@require_login
@module_required(MODULE)
@require_http_methods(["GET", "POST"])
def my_profile(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    commune = commune_of(request)
    beneficiary = beneficiary_draft(commune=commune, user=actor.subject)
    initial = {
        "age_band": beneficiary.age_band,
        "gender": beneficiary.gender,
        "social_status": beneficiary.social_status,
        "residence_name": beneficiary.residence_name,
        "residence_insee": beneficiary.residence_insee,
    }
    form = ProfileForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            profile_update(actor=actor, beneficiary=beneficiary, **form.cleaned_data)
        except InclusionError as exc:
            attach_error(form, exc)
        else:
            messages.success(request, _("Votre profil est enregistré."))
            return redirect("inclusion:my_activity")
    return render(request, "inclusion/my_profile.html", {"form": form, "person": actor.subject})


@public
@module_required(MODULE)
@require_GET
def equipment_page(request: HttpRequest) -> HttpResponse:
    items = catalogue.with_open_loans(catalogue.equipment_list(commune_of(request)))
    return render(request, "inclusion/equipment.html", {"items": items})


def _chosen_day(request: HttpRequest) -> tuple[SlotForm, date]:
    today = timezone.localdate()
    form = SlotForm(request.GET or None, initial={"day": today})
    day = today
    if form.is_bound and form.is_valid():
        day = form.cleaned_data["day"]
        if day < today:
            form.add_error("day", _("Ce jour est déjà passé : choisissez aujourd'hui ou un jour à venir."))
            day = today
    return form, day


@public
@module_required(MODULE)
@require_GET
def equipment_item_page(request: HttpRequest, pk: int) -> HttpResponse:
    """An item: what it is, whether it is lent out, and its free slots on a chosen day."""
    commune = commune_of(request)
    item = catalogue.equipment_item(commune, pk)
    form, day = _chosen_day(request)
    slots = []
    staff = request.user.is_authenticated and has_capability(request.user, commune, "booking.manage")
    lent = open_loan(item)
    if item.resource_id and item.bookable_on_site and lent is None:
        slots = booking_selectors.free_slots(item.resource, day, staff=staff)  # type: ignore[arg-type]
    return render(
        request,
        "inclusion/equipment_item.html",
        {
            "item": item,
            "form": form,
            "day": day,
            "slots": slots,
            "lent": lent,
            "next_day": day + timedelta(days=1),
        },
    )


@require_login
@module_required(MODULE)
@require_POST
def equipment_book(request: HttpRequest) -> HttpResponse:
    """Books one free slot of an item in the room (for me, or for the resident a mediator acts for)."""
    commune = commune_of(request)
    try:
        item = catalogue.equipment_item(commune, int(request.POST.get("equipment", "")))
    except (ValueError, Http404):
        return refused(request, _("Cet équipement n'existe pas ici. Rien n'a été réservé."))
    back = redirect("inclusion:equipment_item", pk=item.pk)
    try:
        starts_at = datetime.fromisoformat(request.POST.get("slot", ""))
    except ValueError:
        messages.error(request, _("Choisissez un créneau dans la liste."))
        return back
    if timezone.is_naive(starts_at):
        starts_at = starts_at.replace(tzinfo=UTC)
    if not item.resource_id or not item.bookable_on_site:
        messages.error(request, _("Cet équipement ne se réserve pas sur place."))
        return back
    if open_loan(item) is not None:
        messages.error(request, _("Cet équipement est prêté en ce moment : il n'est pas dans la salle."))
        return back
    resource = item.resource
    try:
        booking_services.slot_book(
            actor=actor_of(request),
            resources=[resource],  # type: ignore[list-item]
            starts_at=starts_at,
            ends_at=starts_at + timedelta(minutes=resource.slot_minutes),  # type: ignore[union-attr]
            module=MODULE,
            title=item.name,
        )
    except BookingError as exc:
        messages.error(request, str(exc))
        return back
    local = timezone.localtime(starts_at)
    messages.success(
        request,
        _("C'est réservé : %(item)s le %(day)s à %(time)s.")
        % {"item": item.name, "day": local.strftime("%d/%m/%Y"), "time": local.strftime("%H:%M")},
    )
    return back
