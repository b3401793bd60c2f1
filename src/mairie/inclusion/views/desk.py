"""The mediator's pages ("Gestion → Numéripôle"): sessions, roll call, drop-in arrivals, records,
catalogue, equipment and loans. Every view needs ``inclusion.manage``."""

from __future__ import annotations

from datetime import time, timedelta
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from mairie.booking.exceptions import BookingError
from mairie.core.permissions import require_capability
from mairie.inclusion.decorators import module_required
from mairie.inclusion.errors import InclusionError
from mairie.inclusion.forms import (
    AnonymousVisitorForm,
    EquipmentForm,
    IndividualRecordForm,
    LoanForm,
    PersonSearchForm,
    RecordFields,
    SessionForm,
    ThemeForm,
    WorkshopForm,
)
from mairie.inclusion.models import Theme, Workshop
from mairie.inclusion.registry import MODULE_KEY
from mairie.inclusion.selectors import catalogue, desk
from mairie.inclusion.services import activity
from mairie.inclusion.services import equipment as equipment_services
from mairie.inclusion.services.catalogue import theme_save, themes_seed_defaults, workshop_save
from mairie.inclusion.services.sessions import course_create, workshop_session_create
from mairie.inclusion.views.common import attach_error, commune_of, page_of, user_of
from mairie.inclusion.views.public import refused
from mairie.inclusion.vocabularies import Autonomy

MANAGE = "inclusion.manage"
MODULE = MODULE_KEY
REFUSALS = (InclusionError, BookingError)


def _staff_actor(request: HttpRequest) -> Any:
    """The mediator as themself: desk work is never "for" the resident they may be acting for."""
    from mairie.core.acting import Actor

    return Actor.himself(user_of(request), commune_of(request))


# Desk home ------------------------------------------------------------------------------------------------


@require_capability(MANAGE)
@module_required(MODULE)
@require_GET
def desk_home(request: HttpRequest) -> HttpResponse:
    commune = commune_of(request)
    now = timezone.localtime()
    day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    context = {
        "today": list(desk.sessions_between(commune, day_start, day_start + timedelta(days=1))),
        "coming": list(
            desk.sessions_between(commune, day_start + timedelta(days=1), day_start + timedelta(days=15))
        ),
        "roll_call": list(desk.recent_sessions_without_roll_call(commune)),
        "to_complete": list(desk.records_to_complete(commune)[:10]),
        "overdue": [loan for loan in desk.open_loans(commune) if loan.due_on < now.date()],
        "has_themes": Theme.objects.filter(commune=commune).exists(),
    }
    return render(request, "inclusion/desk/home.html", context)


# Catalogue: themes and workshops ---------------------------------------------------------------------------


@require_capability(MANAGE)
@module_required(MODULE)
@require_http_methods(["GET", "POST"])
def themes_manage(request: HttpRequest) -> HttpResponse:
    commune = commune_of(request)
    form = ThemeForm(request.POST or None) if request.POST.get("step") != "defaults" else ThemeForm()
    if request.method == "POST":
        actor = _staff_actor(request)
        if request.POST.get("step") == "defaults":
            made = themes_seed_defaults(actor=actor)
            messages.success(request, _("%(n)d thèmes ajoutés.") % {"n": len(made)})
            return redirect("inclusion:themes")
        if form.is_valid():
            try:
                theme_save(actor=actor, **form.cleaned_data)
            except InclusionError as exc:
                attach_error(form, exc)
            else:
                messages.success(request, _("Thème ajouté."))
                return redirect("inclusion:themes")
    themes = Theme.objects.filter(commune=commune)
    return render(request, "inclusion/desk/themes.html", {"form": form, "themes": themes})


@require_capability(MANAGE)
@module_required(MODULE)
@require_http_methods(["GET", "POST"])
def theme_edit(request: HttpRequest, pk: int) -> HttpResponse:
    commune = commune_of(request)
    theme = Theme.objects.filter(commune=commune, pk=pk).first()
    if theme is None:
        from django.http import Http404

        raise Http404
    initial = {
        "name": theme.name,
        "coop_theme": theme.coop_theme,
        "description": theme.description,
        "order": theme.order,
    }
    form = ThemeForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            theme_save(actor=_staff_actor(request), theme=theme, **form.cleaned_data)
        except InclusionError as exc:
            attach_error(form, exc)
        else:
            messages.success(request, _("Thème enregistré."))
            return redirect("inclusion:themes")
    return render(request, "inclusion/desk/theme_edit.html", {"form": form, "theme": theme})


@require_capability(MANAGE)
@module_required(MODULE)
@require_GET
def workshops_manage(request: HttpRequest) -> HttpResponse:
    commune = commune_of(request)
    workshops = Workshop.objects.filter(commune=commune).select_related("theme").order_by("title")
    return render(request, "inclusion/desk/workshops.html", {"workshops": workshops})


def _workshop_form_page(request: HttpRequest, workshop: Workshop | None) -> HttpResponse:
    initial: dict[str, Any] = {"kind": Workshop.Kind.WORKSHOP, "level": 1, "duration_minutes": 120}
    if workshop is not None:
        initial = {
            "title": workshop.title,
            "kind": workshop.kind,
            "theme": workshop.theme_id,
            "level": workshop.level,
            "summary": workshop.summary,
            "description": workshop.description,
            "prerequisites": workshop.prerequisites,
            "prerequisite_workshops": list(workshop.prerequisite_workshops.values_list("pk", flat=True)),
            "duration_minutes": workshop.duration_minutes,
            "sessions_per_course": workshop.sessions_per_course,
            "default_capacity": workshop.default_capacity,
            "skills": workshop.skills,
            "is_published": workshop.is_published,
        }
    form = WorkshopForm(request.POST or None, initial=initial, current=workshop)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        prerequisites = list(data.pop("prerequisite_workshops"))
        try:
            saved = workshop_save(
                actor=_staff_actor(request), workshop=workshop, prerequisite_workshops=prerequisites, **data
            )
        except InclusionError as exc:
            attach_error(form, exc)
        else:
            messages.success(request, _("Atelier enregistré."))
            return redirect("inclusion:workshop_edit", pk=saved.pk)
    sessions = []
    if workshop is not None:
        sessions = list(
            desk.sessions_between(
                commune_of(request), timezone.now() - timedelta(days=60), timezone.now() + timedelta(days=365)
            ).filter(workshop=workshop)[:50]
        )
    return render(
        request,
        "inclusion/desk/workshop_edit.html",
        {"form": form, "workshop": workshop, "sessions": sessions},
    )


@require_capability(MANAGE)
@module_required(MODULE)
@require_http_methods(["GET", "POST"])
def workshop_new(request: HttpRequest) -> HttpResponse:
    if not Theme.objects.filter(commune=commune_of(request)).exists():
        messages.info(request, _("Ajoutez d'abord les thèmes du catalogue."))
        return redirect("inclusion:themes")
    return _workshop_form_page(request, None)


@require_capability(MANAGE)
@module_required(MODULE)
@require_http_methods(["GET", "POST"])
def workshop_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _workshop_form_page(request, catalogue.workshop(commune_of(request), pk, published_only=False))


@require_capability(MANAGE)
@module_required(MODULE)
@require_http_methods(["GET", "POST"])
def session_new(request: HttpRequest, pk: int) -> HttpResponse:
    commune = commune_of(request)
    workshop = catalogue.workshop(commune, pk, published_only=False)
    form = SessionForm(
        request.POST or None, workshop=workshop, commune=commune, initial={"start_time": time(14, 0)}
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        actor = _staff_actor(request)
        common = {"capacity": data["capacity"], "place": data["place"], "mediator": data["mediator"]}
        try:
            if workshop.is_course:
                created = course_create(actor=actor, workshop=workshop, starts=data["starts"], **common)
            else:
                created = [
                    workshop_session_create(
                        actor=actor, workshop=workshop, starts_at=data["starts"][0], **common
                    )
                ]
        except REFUSALS as exc:
            if isinstance(exc, InclusionError) and exc.field in ("starts", "starts_at"):
                exc.field = "date_1"
            attach_error(form, exc)
        else:
            messages.success(
                request, _("Séance enregistrée.") if len(created) == 1 else _("Parcours enregistré.")
            )
            return redirect("inclusion:session_manage", pk=created[0].pk)
    return render(request, "inclusion/desk/session_new.html", {"form": form, "workshop": workshop})


# A session: registrations and roll call; drop-in arrivals --------------------------------------------------


def _session_page(
    request: HttpRequest,
    ws: Any,
    *,
    errors: list[tuple[str, str]] | None = None,
    posted: dict[int, dict[str, Any]] | None = None,
) -> HttpResponse:
    bookings = desk.roster(ws)
    seated = [b for b in bookings if b.holds_seat]
    waiting = [b for b in bookings if not b.holds_seat]
    record = getattr(ws, "accompaniment", None)
    autonomy_of = {}
    if record is not None:
        autonomy_of = {p.booking_id: p.autonomy for p in record.participations.all()}
    rows = []
    for b in seated:
        row = {"booking": b, "autonomy": autonomy_of.get(b.pk, ""), "present": None, "invalid": False}
        if posted is not None:
            row.update(posted.get(b.pk, {"present": False}))
        rows.append(row)
    day_reached = timezone.localtime(ws.session.starts_at).date() <= timezone.localdate()
    return render(
        request,
        "inclusion/desk/session.html",
        {
            "ws": ws,
            "rows": rows,
            "waiting": waiting,
            "record": record,
            "day_reached": day_reached,
            "autonomy_choices": Autonomy.choices,
            "course": catalogue.course_sessions(ws),
            "errors": errors or [],
        },
    )


@require_capability(MANAGE)
@module_required(MODULE)
@require_GET
def session_manage(request: HttpRequest, pk: int) -> HttpResponse:
    ws = catalogue.workshop_session(commune_of(request), pk, published_only=False)
    if ws.workshop.is_drop_in:
        return redirect("inclusion:dropin", pk=ws.pk)
    return _session_page(request, ws)


@require_capability(MANAGE)
@module_required(MODULE)
@require_POST
def session_attendance(request: HttpRequest, pk: int) -> HttpResponse:
    """The roll call: the people ticked were there; a collective record is made (or corrected) at once.
    Anything wrong (an unknown person, an unknown autonomy level) shows the roll call again, unchanged."""
    ws = catalogue.workshop_session(commune_of(request), pk, published_only=False)
    present_values = request.POST.getlist("present")
    present = {int(v) for v in present_values if v.isdigit()}
    errors: list[tuple[str, str]] = []
    if len(present) != len(set(present_values)):
        errors.append(("", _("Cochez les personnes présentes dans la liste.")))
    autonomy: dict[int, str] = {}
    posted: dict[int, dict[str, Any]] = {}
    levels = set(Autonomy.values)
    for key, value in request.POST.items():
        if not key.startswith("autonomy_"):
            continue
        suffix = key.removeprefix("autonomy_")
        if not suffix.isdigit():
            continue
        booking_id = int(suffix)
        invalid = bool(value) and value not in levels
        posted[booking_id] = {"autonomy": value, "invalid": invalid, "present": False}
        if invalid:
            errors.append((f"autonomy-{booking_id}", _("Choisissez un niveau d'autonomie dans la liste.")))
        elif value:
            autonomy[booking_id] = str(value)
    for present_id in present:
        posted.setdefault(present_id, {"autonomy": "", "invalid": False, "present": True})["present"] = True
    if not errors:
        try:
            record = activity.attendance_record(
                actor=_staff_actor(request), workshop_session=ws, present=present, autonomy=autonomy
            )
        except REFUSALS as exc:
            errors.append(("", str(exc)))
        else:
            messages.success(
                request,
                _("Appel enregistré : %(n)d présent·es. Le compte rendu est prêt, complétez-le si besoin.")
                % {"n": len(present)},
            )
            return redirect("inclusion:record", pk=record.pk)
    return _session_page(request, ws, errors=errors, posted=posted)


@require_capability(MANAGE)
@module_required(MODULE)
@require_http_methods(["GET", "POST"])
def dropin(request: HttpRequest, pk: int) -> HttpResponse:
    """Drop-in ("accès libre"): who is here, and noting each arrival (a known resident or anonymous)."""
    commune = commune_of(request)
    ws = catalogue.workshop_session(commune, pk, published_only=False)
    search = PersonSearchForm(request.GET or None)
    anonymous_posted = request.POST.get("visitor") == "anonymous"
    anonymous = AnonymousVisitorForm(request.POST if anonymous_posted else None)
    errors: list[tuple[str, str]] = []
    status = 200
    if request.method == "POST":
        actor = _staff_actor(request)
        if anonymous_posted:
            if anonymous.is_valid():
                try:
                    activity.dropin_checkin(actor=actor, workshop_session=ws, **anonymous.cleaned_data)
                except REFUSALS as exc:
                    attach_error(anonymous, exc)
                else:
                    messages.success(request, _("Arrivée notée (personne anonyme)."))
                    return redirect("inclusion:dropin", pk=ws.pk)
        else:
            person = desk.person(user_of(request), commune, request.POST.get("person"))
            if person is None:
                errors.append(
                    ("", _("Cette personne n'est pas dans la liste des habitants. Rien n'a été noté."))
                )
                status = 400
            else:
                try:
                    activity.dropin_checkin(actor=actor, workshop_session=ws, person=person)
                except REFUSALS as exc:
                    errors.append(("", str(exc)))
                else:
                    messages.success(request, _("Arrivée de %(name)s notée.") % {"name": person.display_name})
                    return redirect("inclusion:dropin", pk=ws.pk)
    query = search.cleaned_data.get("q", "") if search.is_valid() else ""
    return render(
        request,
        "inclusion/desk/dropin.html",
        {
            "ws": ws,
            "visits": desk.dropin_visits(ws),
            "search": search,
            "found": desk.people(user_of(request), commune, query),
            "query": query,
            "anonymous": anonymous,
            "errors": errors,
            "is_today": timezone.localtime(ws.session.starts_at).date() == timezone.localdate(),
        },
        status=status,
    )


# Records (accompaniments) ----------------------------------------------------------------------------------


@require_capability(MANAGE)
@module_required(MODULE)
@require_GET
def records_page(request: HttpRequest) -> HttpResponse:
    commune = commune_of(request)
    return render(
        request,
        "inclusion/desk/records.html",
        {
            "to_complete": list(desk.records_to_complete(commune)[:50]),
            "page": page_of(request, desk.records(commune), 30),
        },
    )


@require_capability(MANAGE)
@module_required(MODULE)
@require_http_methods(["GET", "POST"])
def record_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Completing a record: duration, place, themes, equipment used, autonomy, redirection."""
    commune = commune_of(request)
    record = desk.record(commune, pk)
    participations = list(record.participations.all())
    initial = {
        "duration_minutes": record.duration_minutes,
        "place_kind": record.place_kind,
        "place_name": record.place_name,
        "theme": record.theme_id,
        "coop_themes": record.coop_themes,
        "materials": record.materials,
        "equipment": [e.pk for e in record.equipment.all()],
        "autonomy": record.autonomy,
        "redirection": record.redirection,
        "notes": record.notes,
    }
    form = RecordFields(request.POST or None, initial=initial)
    rows: list[dict[str, Any]] = [{"p": p, "value": p.autonomy, "invalid": False} for p in participations]
    if request.method == "POST":
        valid = form.is_valid()
        per_person = {}
        for row in rows:
            value = request.POST.get(f"autonomy_{row['p'].pk}", "")
            row["value"] = value
            if value and value not in Autonomy.values:
                row["invalid"] = True
                valid = False
            elif value:
                per_person[row["p"].pk] = value
        if any(row["invalid"] for row in rows):
            form.add_error(None, _("Choisissez l'autonomie de chaque personne dans la liste."))
        if valid:
            try:
                activity.accompaniment_complete(
                    actor=_staff_actor(request),
                    accompaniment=record,
                    participant_autonomy=per_person,
                    **form.cleaned_data,
                )
            except InclusionError as exc:
                attach_error(form, exc)
            else:
                messages.success(request, _("Compte rendu enregistré."))
                return redirect("inclusion:records")
    return render(
        request,
        "inclusion/desk/record.html",
        {"form": form, "record": record, "rows": rows, "autonomy_choices": Autonomy.choices},
    )


@require_capability(MANAGE)
@module_required(MODULE)
@require_http_methods(["GET", "POST"])
def record_new(request: HttpRequest) -> HttpResponse:
    """An individual accompaniment, for a resident found by name, or for someone anonymous."""
    commune = commune_of(request)
    viewer = user_of(request)
    wanted = request.POST.get("person") or request.GET.get("person")
    person = desk.person(viewer, commune, wanted)
    if wanted and person is None:
        return refused(
            request, _("Cette personne n'est pas dans la liste des habitants. Rien n'a été enregistré.")
        )
    search = PersonSearchForm(request.GET or None)
    query = search.cleaned_data.get("q", "") if search.is_valid() else ""
    form = IndividualRecordForm(
        request.POST or None, initial={"day": timezone.localdate(), "duration_minutes": 30}
    )
    if person is not None:  # what is asked of anonymous people only
        for key in ("age_band", "residence_name", "residence_insee"):
            form.fields.pop(key)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        try:
            activity.individual_accompaniment_create(actor=_staff_actor(request), person=person, **data)
        except InclusionError as exc:
            attach_error(form, exc)
        else:
            messages.success(request, _("Accompagnement enregistré."))
            return redirect("inclusion:records")
    return render(
        request,
        "inclusion/desk/record_new.html",
        {
            "form": form,
            "person": person,
            "search": search,
            "found": desk.people(viewer, commune, query),
            "query": query,
        },
    )


# Equipment and loans ---------------------------------------------------------------------------------------


@require_capability(MANAGE)
@module_required(MODULE)
@require_GET
def equipment_manage(request: HttpRequest) -> HttpResponse:
    commune = commune_of(request)
    today = timezone.localdate()
    return render(
        request,
        "inclusion/desk/equipment.html",
        {"items": desk.all_equipment(commune), "loans": desk.open_loans(commune), "today": today},
    )


def _opening(data: dict[str, Any]) -> list[tuple[int, time, time]] | None:
    if not data.get("bookable_on_site"):
        return []
    start, end = data.get("open_from"), data.get("open_until")
    if start is None or end is None:
        return []
    return [(day, start, end) for day in data.get("open_days") or []]


def _equipment_form_page(request: HttpRequest, item: Any) -> HttpResponse:
    initial: dict[str, Any] = {
        "loan_days": 14,
        "is_active": True,
        "bookable_on_site": True,
        "open_days": [1, 2, 3],
    }
    if item is not None:
        from mairie.booking.models import OpeningRule

        rules = list(OpeningRule.objects.filter(resource_id=item.resource_id)) if item.resource_id else []
        initial = {
            "name": item.name,
            "kind": item.kind,
            "description": item.description,
            "inventory_code": item.inventory_code,
            "bookable_on_site": item.bookable_on_site,
            "loanable": item.loanable,
            "loan_days": item.loan_days,
            "required_workshop": item.required_workshop_id,
            "is_active": item.is_active,
            "open_days": [r.weekday for r in rules],
            "open_from": rules[0].start_time if rules else time(14, 0),
            "open_until": rules[0].end_time if rules else time(18, 0),
        }
    form = EquipmentForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        opening = _opening(data)
        for key in ("open_days", "open_from", "open_until"):
            data.pop(key)
        try:
            saved = equipment_services.equipment_save(
                actor=_staff_actor(request), equipment=item, opening=opening, **data
            )
        except REFUSALS as exc:
            attach_error(form, exc)
        else:
            messages.success(request, _("Équipement enregistré."))
            return redirect("inclusion:equipment_edit", pk=saved.pk)
    context: dict[str, Any] = {"form": form, "item": item}
    if item is not None:
        context["loans"] = desk.loans_of(item)
        context["lent"] = item.open_loans[0] if item.open_loans else None
    return render(request, "inclusion/desk/equipment_edit.html", context)


@require_capability(MANAGE)
@module_required(MODULE)
@require_http_methods(["GET", "POST"])
def equipment_new(request: HttpRequest) -> HttpResponse:
    return _equipment_form_page(request, None)


@require_capability(MANAGE)
@module_required(MODULE)
@require_http_methods(["GET", "POST"])
def equipment_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _equipment_form_page(request, desk.equipment(commune_of(request), pk))


@require_capability(MANAGE)
@module_required(MODULE)
@require_http_methods(["GET", "POST"])
def equipment_lend(request: HttpRequest, pk: int) -> HttpResponse:
    """Lending an item: find the borrower, choose the return date."""
    commune = commune_of(request)
    viewer = user_of(request)
    item = desk.equipment(commune, pk)
    wanted = request.POST.get("person") or request.GET.get("person")
    person = desk.person(viewer, commune, wanted)
    if wanted and person is None:
        return refused(
            request, _("Cette personne n'est pas dans la liste des habitants. Rien n'a été prêté.")
        )
    search = PersonSearchForm(request.GET or None)
    query = search.cleaned_data.get("q", "") if search.is_valid() else ""
    today = timezone.localdate()
    form = LoanForm(
        request.POST if request.method == "POST" else None,
        initial={"due_on": today + timedelta(days=item.loan_days)},
    )
    if request.method == "POST":
        if person is None:
            form.is_valid()
            form.add_error(None, _("Choisissez d'abord la personne qui emprunte."))
        elif form.is_valid():
            try:
                equipment_services.loan_create(
                    actor=_staff_actor(request), equipment=item, borrower=person, **form.cleaned_data
                )
            except InclusionError as exc:
                if exc.field in ("equipment", "borrower"):
                    exc.field = None
                attach_error(form, exc)
            else:
                messages.success(request, _("Prêt enregistré pour %(name)s.") % {"name": person.display_name})
                return redirect("inclusion:equipment_manage")
    return render(
        request,
        "inclusion/desk/lend.html",
        {
            "item": item,
            "person": person,
            "form": form,
            "search": search,
            "found": desk.people(viewer, commune, query),
            "query": query,
        },
    )


@require_capability(MANAGE)
@module_required(MODULE)
@require_POST
def loan_return(request: HttpRequest, pk: int) -> HttpResponse:
    loan = desk.loan(commune_of(request), pk)
    try:
        equipment_services.loan_return(actor=_staff_actor(request), loan=loan)
    except InclusionError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Retour de « %(item)s » enregistré.") % {"item": loan.equipment.name})
    return redirect("inclusion:equipment_manage")
