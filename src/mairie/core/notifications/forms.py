"""The form of "Mes préférences de contact"."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from mairie.core.forms import Form
from mairie.core.models import User

TIME_FORMATS = ["%H:%M", "%H:%M:%S", "%Hh%M", "%Hh", "%H"]
TIME_ERROR = _("Indiquez une heure sous la forme 21:30 (heures et minutes).")


class PreferencesForm(Form):
    notify_by_email = forms.BooleanField(label=_("Recevoir les messages par e-mail"), required=False)
    notify_by_sms = forms.BooleanField(label=_("Recevoir les messages par SMS"), required=False)
    quiet_hours_start = forms.TimeField(
        label=_("Heures calmes : à partir de"),
        required=False,
        input_formats=TIME_FORMATS,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        help_text=_(
            "Par exemple 21:00. Pendant les heures calmes, ni e-mail ni SMS, sauf les alertes urgentes."
        ),
        error_messages={"invalid": TIME_ERROR},
    )
    quiet_hours_end = forms.TimeField(
        label=_("Heures calmes : jusqu'à"),
        required=False,
        input_formats=TIME_FORMATS,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        help_text=_("Par exemple 08:00. Laissez les deux heures vides pour ne pas avoir d'heures calmes."),
        error_messages={"invalid": TIME_ERROR},
    )
    language = forms.ChoiceField(
        label=_("Langue des messages et du site"), choices=settings.LANGUAGES, widget=forms.RadioSelect
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        self.user = user
        kwargs.setdefault(
            "initial",
            {
                "notify_by_email": user.notify_by_email and bool(user.email),
                "notify_by_sms": user.notify_by_sms and bool(user.phone),
                "quiet_hours_start": user.quiet_hours_start,
                "quiet_hours_end": user.quiet_hours_end,
                "language": user.language,
            },
        )
        super().__init__(*args, **kwargs)
        if not user.email:
            self.fields["notify_by_email"].help_text = _(
                "Aucune adresse e-mail n'est enregistrée pour ce compte."
            )
        if not user.phone:
            self.fields["notify_by_sms"].help_text = _(
                "Aucun numéro de mobile n'est enregistré pour ce compte."
            )

    def clean(self) -> dict[str, Any]:
        from mairie.core.services.notifications import preference_errors

        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        for field, message in preference_errors(user=self.user, **cleaned).items():
            self.add_error(field, message)
        return cleaned
