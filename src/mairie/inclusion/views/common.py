"""Small helpers shared by the Numéripôle's views."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.paginator import Page, Paginator
from django.http import HttpRequest

from mairie.core.acting import Actor
from mairie.core.models import Commune, User
from mairie.inclusion.errors import InclusionError


def commune_of(request: HttpRequest) -> Commune:
    return request.commune  # type: ignore[attr-defined,no-any-return]


def user_of(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def actor_of(request: HttpRequest) -> Actor:
    actor = getattr(request, "actor", None)
    if actor is None:
        return Actor.himself(user_of(request), commune_of(request))
    return actor  # type: ignore[no-any-return]


def page_of(request: HttpRequest, items: Any, size: int = 20) -> Page:
    return Paginator(items, size).get_page(request.GET.get("page"))


def query_without_page(request: HttpRequest) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


def attach_error(form: forms.Form, error: Exception) -> None:
    """Puts a service's refusal next to its field (or at the top of the form), for the error summary."""
    field = getattr(error, "field", None)
    if isinstance(error, InclusionError) and field and field in form.fields:
        form.add_error(field, str(error))
    else:
        form.add_error(None, str(error))
    _mark(form)  # errors added after validation: mark the fields as the accessible mixin does


def _mark(form: forms.Form) -> None:
    for name, field in form.fields.items():
        if form.errors.get(name):
            bound = form[name]
            field.widget.attrs["aria-invalid"] = "true"
            described = [f"{bound.auto_id}-error"]
            if field.help_text:
                described.append(f"{bound.auto_id}-help")
            field.widget.attrs["aria-describedby"] = " ".join(described)
