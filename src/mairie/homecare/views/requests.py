"""Services residents ask the town hall for from their tablet (meals, transport, groceries...), for its agents."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from mairie.core.forms import Form
from mairie.core.permissions import require_capability
from mairie.homecare.decorators import module_required
from mairie.homecare.models import ServiceRequest
from mairie.homecare.tablet import service_request_update
from mairie.homecare.views.common import add_errors

MANAGE = "homecare.manage_homes"
PAGE_SIZE = 30


class AnswerForm(Form):
    state = forms.ChoiceField(
        label=gettext_lazy("Où en est la demande ?"),
        choices=[
            (ServiceRequest.State.IN_PROGRESS, gettext_lazy("Je m'en occupe")),
            (ServiceRequest.State.DONE, gettext_lazy("C'est fait")),
            (ServiceRequest.State.CANCELLED, gettext_lazy("Annulée (dites pourquoi)")),
        ],
        widget=forms.RadioSelect,
    )
    answer = forms.CharField(
        label=gettext_lazy("Message pour la personne"),
        required=False,
        max_length=1000,
        help_text=gettext_lazy(
            "Elle le reçoit avec la réponse. Par exemple : « Le repas arrive demain vers midi »."
        ),
        widget=forms.Textarea(attrs={"rows": 3}),
    )


@require_capability(MANAGE)
@module_required
@require_GET
def service_requests(request: HttpRequest) -> HttpResponse:
    show_all = request.GET.get("toutes") == "1"
    rows = ServiceRequest.objects.select_related("person", "home", "handled_by").order_by(
        "-created_at", "-pk"
    )
    if not show_all:
        rows = rows.filter(state__in=ServiceRequest.OPEN_STATES)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "homecare/tablet_requests.html", {"page": page, "show_all": show_all})


@require_capability(MANAGE)
@module_required
@require_http_methods(["GET", "POST"])
def service_request(request: HttpRequest, service_request_id: int) -> HttpResponse:
    item = (
        ServiceRequest.objects.select_related("person", "home", "handled_by")
        .filter(pk=service_request_id)
        .first()
    )
    if item is None:
        raise Http404
    form = AnswerForm(request.POST or None, auto_id="reponse-%s")
    if request.method == "POST" and form.is_valid():
        try:
            service_request_update(
                actor=request.actor,  # type: ignore[attr-defined]
                request=item,
                state=form.cleaned_data["state"],
                answer=form.cleaned_data["answer"],
            )
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, _("C'est enregistré, et la personne est prévenue."))
            return redirect(reverse("homecare:service_requests"))
    return render(request, "homecare/tablet_request.html", {"item": item, "form": form})


urlpatterns = [
    path("demandes/", service_requests, name="service_requests"),
    path("demandes/<int:service_request_id>/", service_request, name="service_request"),
]
