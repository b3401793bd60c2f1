"""The signed-in person's own space: my account, my details, my history, who may act for me.

These pages are always about the person signed in (``request.user``), even while a staff member acts for
someone else: a resident's own pages are theirs to see.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from mairie.core.forms import Form
from mairie.core.models import Commune, Membership, User
from mairie.core.permissions import public, require_login
from mairie.core.phones import format_phone
from mairie.core.selectors import history_for, history_lines, mandate_given_by, mandates_given_by, role_labels
from mairie.core.services.mandates import mandate_revoke
from mairie.core.services.privacy import (
    EMAIL_CHANGE_HOURS,
    EmailChangeRefused,
    account_update_profile,
    check_profile,
    email_change_confirm,
    email_change_request,
)

HISTORY_PAGE_SIZE = 25


def _me(request: HttpRequest) -> tuple[User, Commune]:
    """The signed-in person (the views' decorators made sure there is one) and the commune of the request."""
    return request.user, request.commune  # type: ignore[return-value, attr-defined]


@require_login
@require_GET
def account_home(request: HttpRequest) -> HttpResponse:
    user, commune = _me(request)
    roles = Membership.objects.filter(commune=commune, user=user).order_by("created_at")
    return render(
        request,
        "core/account/home.html",
        {
            "person": user,
            "phone": format_phone(user.phone) if user.phone else "",
            "roles": [membership.get_role_display() for membership in roles],
        },
    )


class ProfileForm(Form):
    first_name = forms.CharField(
        label=_("Prénom"), max_length=100, widget=forms.TextInput(attrs={"autocomplete": "given-name"})
    )
    last_name = forms.CharField(
        label=_("Nom"), max_length=100, widget=forms.TextInput(attrs={"autocomplete": "family-name"})
    )
    email = forms.CharField(
        label=_("Adresse e-mail"),
        required=False,
        max_length=254,
        help_text=_("Pour recevoir vos codes de connexion et les messages de la mairie."),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    phone = forms.CharField(
        label=_("Numéro de téléphone mobile"),
        required=False,
        max_length=30,
        help_text=_("Par exemple 06 12 34 56 78. Pour recevoir vos codes et messages par SMS."),
        widget=forms.TextInput(attrs={"autocomplete": "tel", "type": "tel"}),
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        self.user = user
        super().__init__(*args, **kwargs)

    def clean(self) -> dict[str, object]:
        cleaned = super().clean() or {}
        fields = ("first_name", "last_name", "email", "phone")
        try:
            cleaned.update(check_profile(user=self.user, **{name: cleaned.get(name) for name in fields}))
        except ValidationError as error:
            for name, problems in error.message_dict.items():
                if name not in self.errors:  # a field's own error (empty, too long) already says enough
                    self.add_error(name, problems)
        return cleaned


@require_login
@require_http_methods(["GET", "POST"])
def account_edit(request: HttpRequest) -> HttpResponse:
    user, commune = _me(request)
    initial = {
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email or "",
        "phone": format_phone(user.phone) if user.phone else "",
    }
    form = ProfileForm(request.POST or None, initial=initial, user=user)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        # A new address (not a removed one) is only taken once the person opens the link sent to it.
        new_email = data["email"] if data["email"] and data["email"] != user.email else None
        if new_email:
            data["email"] = user.email
        try:
            with transaction.atomic():
                changed = account_update_profile(user=user, commune=commune, by=user, **data)
                if new_email:
                    email_change_request(user=user, commune=commune, new_email=new_email)
        except ValidationError as error:  # someone took the address in the meantime
            form.add_error(None, error)
        else:
            if new_email:
                messages.success(
                    request,
                    gettext(
                        "Nous avons envoyé un lien à %(email)s. Votre adresse changera quand vous l'aurez ouvert "
                        "(il fonctionne %(hours)d heures). D'ici là, vos messages partent vers l'adresse actuelle."
                    )
                    % {"email": new_email, "hours": EMAIL_CHANGE_HOURS},
                )
            if changed:
                messages.success(request, gettext("Vos informations ont été enregistrées."))
            elif not new_email:
                messages.info(request, gettext("Rien n'a changé : vos informations étaient déjà celles-ci."))
            return redirect("core:account")
    return render(request, "core/account/edit.html", {"form": form})


@public
@require_GET
def account_email_confirm(request: HttpRequest, token: str) -> HttpResponse:
    """The link sent to a new address: opening it (signed in or not, on any device) confirms the address."""
    try:
        person = email_change_confirm(token=token, commune=request.commune)  # type: ignore[attr-defined]
    except EmailChangeRefused as error:
        return render(
            request, "core/account/email_confirm.html", {"problem": " ".join(error.messages)}, status=400
        )
    return render(request, "core/account/email_confirm.html", {"email": person.email})


@require_login
@require_GET
def account_history(request: HttpRequest) -> HttpResponse:
    user, commune = _me(request)
    page = Paginator(history_for(user, commune), HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "core/account/history.html",
        {"page": page, "lines": history_lines(user, commune, page.object_list)},
    )


@require_login
@require_GET
def account_mandates(request: HttpRequest) -> HttpResponse:
    user, commune = _me(request)
    mandates = list(mandates_given_by(user, commune))
    roles = role_labels(commune, [m.agent for m in mandates])
    now = timezone.now()
    for mandate in mandates:
        mandate.agent_role = roles.get(mandate.agent_id, "")  # type: ignore[attr-defined]
    return render(
        request,
        "core/account/mandates.html",
        {
            "active": [m for m in mandates if m.is_active(now)],
            "past": [m for m in mandates if not m.is_active(now)],
            "now": now,
        },
    )


@require_login
@require_POST
def account_mandate_revoke(request: HttpRequest, mandate_id: int) -> HttpResponse:
    user, commune = _me(request)
    mandate = mandate_given_by(user, commune, mandate_id)
    try:
        mandate_revoke(mandate=mandate, by=user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(
            request,
            gettext("C'est fait : %(name)s ne peut plus agir pour vous.")
            % {"name": mandate.agent.display_name},
        )
    return redirect("core:account_mandates")


urlpatterns = [
    path("mon-compte/", account_home, name="account"),
    path("mon-compte/modifier/", account_edit, name="account_edit"),
    path("mon-compte/adresse/<str:token>/", account_email_confirm, name="account_email_confirm"),
    path("mon-compte/historique/", account_history, name="account_history"),
    path("mon-compte/mandats/", account_mandates, name="account_mandates"),
    path(
        "mon-compte/mandats/<int:mandate_id>/retirer/", account_mandate_revoke, name="account_mandate_revoke"
    ),
]
