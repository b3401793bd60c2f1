"""Forms of the staff pages that set homes up (``views/setup.py``). They check what a person can type wrong
(numbers, hours, a phone number); the services check the rest and their errors land next to the same fields."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from mairie.core.forms import Form
from mairie.core.phones import normalise_phone
from mairie.homecare.models import Contact, Device, Home
from mairie.homecare.services.homes import DEFAULT_SUPERVISION, SETTINGS_LIMITS, SUPERVISION_LIMITS

TIME = forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
TIME_ERROR = {"invalid": _("Écrivez une heure comme 07:30.")}


def _number(label: Any, field: str, help_text: Any = "") -> forms.IntegerField:
    low, high = SETTINGS_LIMITS[field]
    return forms.IntegerField(
        label=label,
        min_value=low,
        max_value=high,
        help_text=help_text,
        error_messages={
            "invalid": _("Écrivez un nombre entier, par exemple 30."),
            "min_value": _("Indiquez au moins %(limit_value)s."),
            "max_value": _("Indiquez au plus %(limit_value)s."),
            "required": _("Indiquez un nombre."),
        },
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )


class HomeSearchForm(Form):
    q = forms.CharField(
        label=_("Chercher un logement"),
        required=False,
        max_length=100,
        help_text=_("Le nom de la personne, le nom du logement ou l'adresse."),
    )


class ResidentSearchForm(Form):
    q = forms.CharField(
        label=_("Chercher la personne"),
        required=False,
        max_length=100,
        help_text=_("Son nom, son adresse e-mail ou son numéro de téléphone."),
    )


class HomeCreateForm(Form):
    resident = forms.IntegerField(widget=forms.HiddenInput)
    label = forms.CharField(
        label=_("Nom du logement"),
        max_length=120,
        help_text=_("Comme on l'appelle à la mairie, par exemple « Village seniors, maison 4 »."),
        error_messages={"required": _("Indiquez un nom pour le logement.")},
    )
    address = forms.CharField(
        label=_("Adresse"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Pour les secours : rue, numéro, étage, code d'entrée."),
    )


class HomeSettingsForm(Form):
    label = forms.CharField(
        label=_("Nom du logement"),
        max_length=120,
        error_messages={"required": _("Indiquez un nom pour le logement.")},
    )
    address = forms.CharField(
        label=_("Adresse"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Pour les secours : rue, numéro, étage, code d'entrée."),
    )
    active_from = forms.TimeField(
        label=_("Début de journée"),
        widget=TIME,
        error_messages=TIME_ERROR,
        help_text=_("Le silence ne compte que pendant la journée, par exemple de 07:00 à 22:00."),
    )
    active_until = forms.TimeField(label=_("Fin de journée"), widget=TIME, error_messages=TIME_ERROR)
    inactivity_threshold_minutes = _number(
        _("Alarme après combien de minutes sans mouvement"),
        "inactivity_threshold_minutes",
        _("Entre 30 et 2880 minutes. 720 minutes font 12 heures."),
    )
    inactivity_warning_minutes = _number(
        _("Avertissement sur la tablette avant l'alarme (minutes)"),
        "inactivity_warning_minutes",
        _("La personne peut l'annuler en touchant la tablette."),
    )
    morning_check_time = forms.TimeField(
        label=_("Le matin, un mouvement est attendu avant"),
        required=False,
        widget=TIME,
        error_messages=TIME_ERROR,
        help_text=_("Par exemple 10:00. Laissez vide pour ne pas utiliser cette règle."),
    )
    morning_check_room = forms.CharField(
        label=_("Dans la pièce"),
        required=False,
        max_length=60,
        help_text=_("La pièce d'un détecteur de mouvement du logement, par exemple « salon »."),
    )
    checkin_enabled = forms.BooleanField(
        label=_("La personne presse « Tout va bien » chaque jour"), required=False
    )
    checkin_deadline = forms.TimeField(
        label=_("« Tout va bien » à presser avant"),
        widget=TIME,
        error_messages=TIME_ERROR,
        help_text=_("Sans réponse à cette heure, les proches sont prévenus."),
    )
    ack_minutes = _number(
        _("Minutes pour répondre avant de prévenir la personne suivante"),
        "ack_minutes",
        _("Entre 1 et 60 minutes."),
    )
    door_open_night_minutes = _number(
        _("Porte ouverte la nuit : alarme après (minutes)"), "door_open_night_minutes"
    )
    exit_delay_s = _number(
        _("Délai de sortie (secondes)"),
        "exit_delay_s",
        _("Le temps de sortir après avoir activé l'alarme intrusion. Entre 0 et 600 secondes."),
    )
    entry_delay_s = _number(
        _("Délai d'entrée (secondes)"),
        "entry_delay_s",
        _("Le temps de désactiver l'alarme en rentrant. Entre 0 et 600 secondes."),
    )

    FIELDSETS = (
        (_("Le logement"), ("label", "address")),
        (_("Journée et silence"), ("active_from", "active_until", "inactivity_threshold_minutes", "inactivity_warning_minutes")),
        (_("Règle du matin"), ("morning_check_time", "morning_check_room")),
        (_("« Tout va bien » chaque jour"), ("checkin_enabled", "checkin_deadline")),
        (_("Alarmes"), ("ack_minutes", "door_open_night_minutes", "exit_delay_s", "entry_delay_s")),
    )  # fmt: skip

    @classmethod
    def for_home(cls, home: Home, data: Any = None, **kwargs: Any) -> HomeSettingsForm:
        initial = {name: getattr(home, name) for name in cls.base_fields}
        return cls(data, initial=initial, **kwargs)

    def fieldsets(self) -> list[tuple[Any, list[forms.BoundField]]]:
        return [(legend, [self[name] for name in names]) for legend, names in self.FIELDSETS]


def _supervision_help() -> str:
    """Built per form (in the language of the request): the default period of each kind."""
    from django.utils.translation import gettext

    defaults = ", ".join(
        f"{Device.Kind(kind).label} : {minutes} min" for kind, minutes in DEFAULT_SUPERVISION.items()
    )
    return gettext(
        "Un appareil silencieux plus longtemps déclenche une alarme de surveillance. Laissez vide pour la "
        "valeur habituelle du type : %(defaults)s ; les autres : 1500 min (25 h)."
    ) % {"defaults": defaults}


SUPERVISION_ERRORS = {
    "invalid": _("Écrivez un nombre entier de minutes, par exemple 60."),
    "min_value": _("Indiquez au moins %(limit_value)s minutes."),
    "max_value": _("Indiquez au plus %(limit_value)s minutes (une semaine)."),
    "required": _("Indiquez un nombre de minutes."),
}


class DeviceAddForm(Form):
    friendly_name = forms.CharField(
        label=_("Nom dans Zigbee2MQTT"),
        max_length=200,
        help_text=_(
            "Exactement comme dans Zigbee2MQTT, majuscules et « / » compris, par exemple salon/mouvement."
        ),
        error_messages={"required": _("Indiquez le nom de l'appareil tel qu'il est dans Zigbee2MQTT.")},
    )
    kind = forms.ChoiceField(
        label=_("Type d'appareil"),
        choices=[("", _("Choisir…")), *Device.Kind.choices],
        error_messages={"required": _("Choisissez le type d'appareil.")},
    )
    room = forms.CharField(
        label=_("Pièce"), required=False, max_length=60, help_text=_("Par exemple salon, chambre, entrée.")
    )
    label = forms.CharField(
        label=_("Nom affiché"),
        required=False,
        max_length=120,
        help_text=_("Par exemple « Pendentif de Madeleine »."),
    )
    supervision_minutes = forms.IntegerField(
        label=_("Période de surveillance (minutes)"),
        required=False,
        min_value=SUPERVISION_LIMITS[0],
        max_value=SUPERVISION_LIMITS[1],
        error_messages=SUPERVISION_ERRORS,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["supervision_minutes"].help_text = _supervision_help()
        self.fields["supervision_minutes"].widget.attrs["aria-describedby"] = (
            f"{self['supervision_minutes'].auto_id}-help"
        )


class DeviceEditForm(Form):
    room = forms.CharField(label=_("Pièce"), required=False, max_length=60)
    label = forms.CharField(label=_("Nom affiché"), required=False, max_length=120)
    supervision_minutes = forms.IntegerField(
        label=_("Période de surveillance (minutes)"),
        min_value=SUPERVISION_LIMITS[0],
        max_value=SUPERVISION_LIMITS[1],
        error_messages=SUPERVISION_ERRORS,
        help_text=_("Un appareil silencieux plus longtemps déclenche une alarme de surveillance."),
    )


class ContactForm(Form):
    name = forms.CharField(
        label=_("Nom"),
        max_length=120,
        error_messages={"required": _("Indiquez le nom de la personne à prévenir.")},
    )
    kind = forms.ChoiceField(
        label=_("Lien avec la personne"), choices=Contact.Kind.choices, initial=Contact.Kind.RELATIVE
    )
    phone = forms.CharField(
        label=_("Téléphone"),
        required=False,
        max_length=30,
        help_text=_("Pour recevoir les alarmes par SMS, par exemple 06 12 34 56 78."),
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}),
    )
    email = forms.EmailField(
        label=_("Adresse e-mail"),
        required=False,
        error_messages={"invalid": _("Cette adresse e-mail n'est pas complète, par exemple nom@exemple.fr.")},
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
    )
    available_from = forms.TimeField(
        label=_("Joignable à partir de"),
        required=False,
        widget=TIME,
        error_messages=TIME_ERROR,
        help_text=_("Laissez les deux heures vides si la personne est joignable jour et nuit."),
    )
    available_until = forms.TimeField(
        label=_("Joignable jusqu'à"), required=False, widget=TIME, error_messages=TIME_ERROR
    )

    def clean_phone(self) -> str:
        raw = (self.cleaned_data.get("phone") or "").strip()
        if raw and normalise_phone(raw) is None:
            raise ValidationError(_("Ce numéro n'est pas reconnu. Écrivez-le comme 06 12 34 56 78."))
        return raw

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        unreachable = not (data.get("phone") or data.get("email"))
        typed_wrong = self.has_error("phone") or self.has_error("email")
        if data.get("kind") != Contact.Kind.OPERATOR and unreachable and not typed_wrong:
            self.add_error(
                "phone", _("Indiquez un téléphone ou une adresse e-mail pour que l'alarme arrive.")
            )
        return data

    @classmethod
    def for_contact(cls, contact: Contact, data: Any = None, **kwargs: Any) -> ContactForm:
        initial = {name: getattr(contact, name) for name in cls.base_fields}
        return cls(data, initial=initial, **kwargs)
