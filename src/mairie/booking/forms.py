from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from mairie.core.forms import Form

from .models import Resource


class ClosureForm(Form):
    starts_at = forms.DateTimeField(
        label=_("Fermé à partir du"),
        help_text=_("Date et heure, par exemple 24/12/2030 12:00."),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%d/%m/%Y %H:%M", "%Y-%m-%d %H:%M"],
    )
    ends_at = forms.DateTimeField(
        label=_("Jusqu'au"),
        help_text=_("Date et heure de réouverture."),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%d/%m/%Y %H:%M", "%Y-%m-%d %H:%M"],
    )
    resource: forms.ModelChoiceField = forms.ModelChoiceField(  # type: ignore[type-arg]
        label=_("Qu'est-ce qui est fermé ?"),
        queryset=Resource.objects.none(),
        required=False,
        empty_label=_("Tout (la mairie est fermée)"),
        help_text=_("Laissez « Tout » pour fermer toutes les réservations de la commune."),
    )
    reason = forms.CharField(label=_("Raison"), max_length=200, help_text=_("Visible des habitants."))

    def __init__(self, *args: Any, resources: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if resources is not None:
            self.fields["resource"].queryset = resources  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("starts_at"), data.get("ends_at")
        if start and end and end <= start:
            self.add_error("ends_at", _("La réouverture doit être après le début de la fermeture."))
        return data


class CancelForm(Form):
    reason = forms.CharField(
        label=_("Raison"),
        max_length=300,
        required=False,
        help_text=_("Facultatif. Elle aide l'équipe à organiser les prochaines séances."),
    )
