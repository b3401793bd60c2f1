"""Personal data: a person's own data (page and JSON), erasure requests and their handling by the commune."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from mairie.core.forms import Form
from mairie.core.models import Commune, ErasureRequest, User
from mairie.core.permissions import require_capability, require_login
from mairie.core.personal_data import DataSection, collect_personal_data, readable
from mairie.core.selectors import (
    erasure_request_to_handle,
    erasure_requests_handled,
    erasure_requests_to_handle,
    open_erasure_request,
)
from mairie.core.services.privacy import (
    erasure_complete,
    erasure_refuse,
    erasure_request_create,
    personal_data_export,
)


def _me(request: HttpRequest) -> tuple[User, Commune]:
    """The signed-in person (the views' decorators made sure there is one) and the commune of the request."""
    return request.user, request.commune  # type: ignore[return-value, attr-defined]


def _readable_sections(sections: list[DataSection]) -> list[dict[str, Any]]:
    """Sections with their values written for people (dates, yes/no, empty)."""
    shown = []
    for section in sections:
        record = section.record
        rows = section.rows
        columns = list(rows[0].keys()) if rows else []
        shown.append(
            {
                "key": section.key,
                "label": section.label,
                "record": [(key, readable(value)) for key, value in record.items()]
                if record is not None
                else None,
                "columns": columns,
                "rows": [[readable(row.get(column)) for column in columns] for row in rows],
            }
        )
    return shown


@require_login
@never_cache
@require_GET
def my_data(request: HttpRequest) -> HttpResponse:
    sections = collect_personal_data(*_me(request))
    return render(request, "core/privacy/my_data.html", {"sections": _readable_sections(sections)})


@require_login
@never_cache
@require_GET
def my_data_json(request: HttpRequest) -> HttpResponse:
    user, commune = _me(request)
    document = personal_data_export(user=user, commune=commune)
    response = JsonResponse(
        document, encoder=DjangoJSONEncoder, json_dumps_params={"ensure_ascii": False, "indent": 2}
    )
    filename = f"mes-donnees-{commune.slug}-{timezone.localdate():%Y-%m-%d}.json"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


class ErasureRequestForm(Form):
    reason = forms.CharField(
        label=_("Pourquoi voulez-vous partir ?"),
        required=False,
        max_length=2000,
        help_text=_("Vous n'êtes pas obligé·e de répondre. Cela aide la mairie à améliorer ses services."),
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    confirm = forms.BooleanField(
        label=_(
            "J'ai compris : une fois mon compte effacé, je ne pourrai plus me connecter ni retrouver "
            "mes données."
        ),
        error_messages={"required": _("Cochez cette case pour confirmer votre demande.")},
    )


@require_login
@require_http_methods(["GET", "POST"])
def erasure(request: HttpRequest) -> HttpResponse:
    user, commune = _me(request)
    pending = open_erasure_request(user, commune)
    form = ErasureRequestForm(request.POST or None)
    if request.method == "POST" and pending is not None:
        messages.info(request, gettext("Votre demande est déjà envoyée : la mairie va vous répondre."))
        return redirect("core:erasure")
    if request.method == "POST" and form.is_valid():
        try:
            erasure_request_create(user=user, commune=commune, reason=form.cleaned_data["reason"])
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(
                request,
                gettext(
                    "Votre demande est envoyée. La mairie vous répondra, en général sous un mois au plus."
                ),
            )
        return redirect("core:erasure")
    last_answered = (
        ErasureRequest.objects.filter(commune=commune, user=user, status=ErasureRequest.Status.REFUSED)
        .order_by("-handled_at")
        .first()
    )
    return render(
        request,
        "core/privacy/erasure.html",
        {"form": form, "pending": pending, "refused": last_answered},
    )


@require_capability("core.handle_erasure")
@require_GET
def erasure_requests(request: HttpRequest) -> HttpResponse:
    user, commune = _me(request)
    return render(
        request,
        "core/privacy/staff_requests.html",
        {
            "pending": erasure_requests_to_handle(user, commune),
            "handled": erasure_requests_handled(user, commune)[:20],
        },
    )


class CompleteErasureForm(Form):
    confirm = forms.BooleanField(
        label=_("Je confirme l'effacement de ce compte. Il ne pourra pas être annulé."),
        error_messages={"required": _("Cochez cette case pour confirmer l'effacement.")},
    )


class RefuseErasureForm(Form):
    answer = forms.CharField(
        label=_("Votre réponse à la personne"),
        max_length=2000,
        help_text=_(
            "Dites simplement pourquoi le compte ne peut pas être effacé maintenant et ce que la personne "
            "peut faire. Elle recevra ce message."
        ),
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={"required": _("Écrivez une réponse pour la personne.")},
    )


@require_capability("core.handle_erasure")
@require_http_methods(["GET", "POST"])
def erasure_request_handle(request: HttpRequest, request_id: int) -> HttpResponse:
    user, commune = _me(request)
    erasure_request = erasure_request_to_handle(user, commune, request_id)
    action = request.POST.get("action") if request.method == "POST" else None
    complete_form = CompleteErasureForm(request.POST if action == "complete" else None, prefix="complete")
    refuse_form = RefuseErasureForm(request.POST if action == "refuse" else None, prefix="refuse")
    form = {"complete": complete_form, "refuse": refuse_form}.get(action or "")
    if form is not None and form.is_valid():
        try:
            if action == "complete":
                erasure_complete(erasure_request=erasure_request, by=user)
                messages.success(request, gettext("Le compte a été effacé."))
            else:
                erasure_refuse(erasure_request=erasure_request, by=user, answer=form.cleaned_data["answer"])
                messages.success(request, gettext("Votre réponse a été envoyée à la personne."))
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        return redirect("core:staff_erasures")
    return render(
        request,
        "core/privacy/staff_request.html",
        {
            "erasure_request": erasure_request,
            "person": erasure_request.user,
            "complete_form": complete_form,
            "refuse_form": refuse_form,
            "own_request": erasure_request.user_id == user.pk,
        },
    )


urlpatterns = [
    path("mon-compte/donnees/", my_data, name="my_data"),
    path("mon-compte/donnees.json", my_data_json, name="my_data_json"),
    path("mon-compte/effacement/", erasure, name="erasure"),
    path("gestion/effacements/", erasure_requests, name="staff_erasures"),
    path("gestion/effacements/<int:request_id>/", erasure_request_handle, name="staff_erasure"),
]
