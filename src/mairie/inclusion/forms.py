"""Forms of the Numéripôle. Choices of objects are read inside the commune's scope: another commune's id
is "not one of the choices", with a clear message, and nothing is saved."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from mairie.core.forms import Form
from mairie.core.models import Commune, Membership, Role, User
from mairie.core.models.communes import insee_validator
from mairie.inclusion.models import Equipment, Theme, Workshop
from mairie.inclusion.vocabularies import (
    SKILL_CHOICES,
    AgeBand,
    Autonomy,
    CoopTheme,
    EquipmentKind,
    Gender,
    Level,
    Material,
    PlaceKind,
    Redirection,
    SocialStatus,
)

DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
TIME_WIDGET = forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
WEEKDAYS = [
    (0, _("lundi")),
    (1, _("mardi")),
    (2, _("mercredi")),
    (3, _("jeudi")),
    (4, _("vendredi")),
    (5, _("samedi")),
    (6, _("dimanche")),
]


class CatalogueFilterForm(Form):
    theme: Any = forms.ModelChoiceField(
        label=_("Thème"), queryset=Theme.objects.none(), required=False, empty_label=_("Tous les thèmes")
    )
    level = forms.TypedChoiceField(
        label=_("Niveau"),
        choices=[("", _("Tous les niveaux")), *Level.choices],
        coerce=int,
        required=False,
        empty_value=None,
    )

    def __init__(self, *args: Any, themes: list[Theme] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field: forms.ModelChoiceField = self.fields["theme"]  # type: ignore[assignment]
        field.queryset = Theme.objects.all()
        if themes is not None:
            field.choices = [("", _("Tous les thèmes")), *((t.pk, t.name) for t in themes)]


class ResidenceFields(Form):
    residence_name = forms.CharField(
        label=_("Commune de résidence"),
        max_length=120,
        required=False,
        help_text=_("Les habitants des communes voisines sont les bienvenus."),
    )
    residence_insee = forms.CharField(
        label=_("Code INSEE de cette commune"),
        max_length=5,
        required=False,
        validators=[insee_validator],
        help_text=_("Cinq caractères, par exemple 35238. Ce n'est pas le code postal."),
    )

    def clean_residence_insee(self) -> str:
        return (self.cleaned_data.get("residence_insee") or "").strip().upper()


class ProfileForm(ResidenceFields):
    age_band = forms.ChoiceField(label=_("Votre tranche d'âge"), choices=AgeBand.choices)
    gender = forms.ChoiceField(label=_("Genre"), choices=Gender.choices)
    social_status = forms.ChoiceField(label=_("Votre situation"), choices=SocialStatus.choices)
    field_order = ["age_band", "gender", "social_status", "residence_name", "residence_insee"]


class ThemeForm(Form):
    name = forms.CharField(label=_("Nom du thème"), max_length=80)
    coop_theme = forms.ChoiceField(
        label=_("Thématique La Coop correspondante"),
        choices=CoopTheme.choices,
        help_text=_("Pour que vos comptes rendus se lisent dans les outils de la médiation numérique."),
    )
    description = forms.CharField(label=_("Description courte"), max_length=200, required=False)
    order = forms.IntegerField(label=_("Ordre d'affichage"), min_value=0, max_value=1000, initial=0)


class WorkshopForm(Form):
    title = forms.CharField(label=_("Titre"), max_length=120)
    kind = forms.ChoiceField(label=_("Type"), choices=Workshop.Kind.choices, widget=forms.RadioSelect)
    theme: Any = forms.ModelChoiceField(label=_("Thème"), queryset=Theme.objects.none())
    level = forms.TypedChoiceField(label=_("Niveau"), choices=Level.choices, coerce=int)
    summary = forms.CharField(label=_("En une phrase"), max_length=200)
    description = forms.CharField(
        label=_("Programme"), widget=forms.Textarea(attrs={"rows": 4}), required=False
    )
    prerequisites = forms.CharField(
        label=_("Ce qu'il faut savoir avant"),
        max_length=300,
        required=False,
        help_text=_("En mots simples, par exemple : savoir allumer une tablette."),
    )
    prerequisite_workshops: Any = forms.ModelMultipleChoiceField(
        label=_("Ateliers à suivre avant"),
        queryset=Workshop.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    duration_minutes = forms.IntegerField(label=_("Durée d'une séance (minutes)"), min_value=1, max_value=720)
    sessions_per_course = forms.IntegerField(
        label=_("Nombre de séances"),
        min_value=1,
        max_value=20,
        initial=1,
        help_text=_("Plus d'une séance : un parcours, où l'on s'inscrit à toutes les séances d'un coup."),
    )
    default_capacity = forms.IntegerField(label=_("Places par séance"), min_value=1, max_value=200, initial=8)
    skills = forms.MultipleChoiceField(
        label=_("Compétences travaillées (référentiel PIX)"),
        choices=SKILL_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    is_published = forms.BooleanField(label=_("Visible dans le catalogue"), required=False, initial=True)

    def __init__(self, *args: Any, current: Workshop | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["theme"].queryset = Theme.objects.all()  # type: ignore[attr-defined]
        others = Workshop.objects.all().order_by("title")
        if current is not None:
            others = others.exclude(pk=current.pk)
        self.fields["prerequisite_workshops"].queryset = others  # type: ignore[attr-defined]


def _mediators(commune: Commune) -> Any:
    ids = Membership.objects.filter(commune=commune, role__in=[Role.MEDIATOR, Role.ADMIN]).values("user_id")
    return User.objects.filter(pk__in=ids, is_active=True).order_by("last_name", "first_name")


class SessionForm(Form):
    """One session, or all the sessions of a course (one date field per session, same start time)."""

    start_time = forms.TimeField(label=_("Heure de début"), widget=TIME_WIDGET)
    capacity = forms.IntegerField(label=_("Nombre de places"), min_value=1, max_value=200)
    place = forms.CharField(label=_("Lieu"), max_length=120, required=False, initial=_("Salle du Numéripôle"))
    mediator = forms.ModelChoiceField(label=_("Animé par"), queryset=User.objects.none(), required=False)

    def __init__(self, *args: Any, workshop: Workshop, commune: Commune, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        count = workshop.sessions_per_course
        for n in range(count, 0, -1):
            label = _("Date") if count == 1 else _("Date de la séance %(n)d") % {"n": n}
            self.fields = {f"date_{n}": forms.DateField(label=label, widget=DATE_WIDGET), **self.fields}
        self.fields["capacity"].initial = workshop.default_capacity
        self.fields["mediator"].queryset = _mediators(commune)  # type: ignore[attr-defined]
        self.count = count
        self.full_clean_widgets()

    def full_clean_widgets(self) -> None:
        for name, field in self.fields.items():
            if field.required and not isinstance(field.widget, forms.CheckboxInput):
                field.widget.attrs.setdefault("required", True)
            if field.help_text:
                field.widget.attrs["aria-describedby"] = f"{self[name].auto_id}-help"

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start = data.get("start_time")
        starts = []
        today = timezone.localdate()
        for n in range(1, self.count + 1):
            day: date | None = data.get(f"date_{n}")
            if day is None or start is None:
                continue
            if day < today:
                self.add_error(f"date_{n}", _("Cette date est déjà passée : choisissez une date à venir."))
                continue
            starts.append(timezone.make_aware(datetime.combine(day, start)))
        data["starts"] = starts
        return data


class AnonymousVisitorForm(ResidenceFields):
    age_band = forms.ChoiceField(label=_("Tranche d'âge"), choices=AgeBand.choices, initial=AgeBand.UNKNOWN)
    field_order = ["age_band", "residence_name", "residence_insee"]


class PersonSearchForm(Form):
    q = forms.CharField(
        label=_("Chercher une personne"),
        max_length=100,
        required=False,
        help_text=_("Nom, prénom ou numéro de téléphone."),
        widget=forms.TextInput(attrs={"type": "search"}),
    )


class RecordFields(Form):
    duration_minutes = forms.IntegerField(label=_("Durée (minutes)"), min_value=1, max_value=720)
    place_kind = forms.ChoiceField(label=_("Lieu"), choices=PlaceKind.choices, initial=PlaceKind.ON_SITE)
    place_name = forms.CharField(label=_("Précision sur le lieu"), max_length=120, required=False)
    theme: Any = forms.ModelChoiceField(label=_("Thème principal"), queryset=Theme.objects.none())
    coop_themes = forms.MultipleChoiceField(
        label=_("Autres thématiques abordées"),
        choices=CoopTheme.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    materials = forms.MultipleChoiceField(
        label=_("Matériel utilisé"),
        choices=Material.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    equipment: Any = forms.ModelMultipleChoiceField(
        label=_("Équipement du Numéripôle utilisé"),
        queryset=Equipment.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    autonomy = forms.ChoiceField(
        label=_("Autonomie"),
        choices=[("", _("Non renseignée")), *Autonomy.choices],
        required=False,
    )
    redirection = forms.ChoiceField(
        label=_("Orientation vers une autre structure"),
        choices=[("", _("Aucune")), *Redirection.choices],
        required=False,
    )
    notes = forms.CharField(label=_("Notes"), widget=forms.Textarea(attrs={"rows": 3}), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["theme"].queryset = Theme.objects.all()  # type: ignore[attr-defined]
        self.fields["equipment"].queryset = Equipment.objects.filter(is_active=True)  # type: ignore[attr-defined]


class IndividualRecordForm(RecordFields):
    day = forms.DateField(label=_("Date"), widget=DATE_WIDGET)
    age_band = forms.ChoiceField(
        label=_("Tranche d'âge (personne anonyme)"),
        choices=AgeBand.choices,
        initial=AgeBand.UNKNOWN,
        required=False,
    )
    residence_name = forms.CharField(
        label=_("Commune de résidence (personne anonyme)"), max_length=120, required=False
    )
    residence_insee = forms.CharField(
        label=_("Code INSEE de cette commune"), max_length=5, required=False, validators=[insee_validator]
    )
    field_order = ["day", "duration_minutes", "theme"]

    def clean_day(self) -> date:
        day = self.cleaned_data["day"]
        if day > timezone.localdate():
            raise forms.ValidationError(
                _("La date est dans le futur : notez l'accompagnement une fois fait.")
            )
        return day


class EquipmentForm(Form):
    name = forms.CharField(label=_("Nom"), max_length=120)
    kind = forms.ChoiceField(label=_("Type"), choices=EquipmentKind.choices)
    description = forms.CharField(label=_("Description"), max_length=300, required=False)
    inventory_code = forms.CharField(label=_("N° d'inventaire"), max_length=40, required=False)
    bookable_on_site = forms.BooleanField(
        label=_("Réservable sur place, par créneau"), required=False, initial=True
    )
    open_days = forms.TypedMultipleChoiceField(
        label=_("Jours où on peut le réserver sur place"),
        choices=WEEKDAYS,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    open_from = forms.TimeField(label=_("De"), widget=TIME_WIDGET, required=False, initial=time(14, 0))
    open_until = forms.TimeField(label=_("À"), widget=TIME_WIDGET, required=False, initial=time(18, 0))
    loanable = forms.BooleanField(label=_("Prêté à domicile"), required=False)
    loan_days = forms.IntegerField(label=_("Durée du prêt (jours)"), min_value=1, max_value=92, initial=14)
    required_workshop: Any = forms.ModelChoiceField(
        label=_("Atelier à avoir suivi avant l'emprunt"),
        queryset=Workshop.objects.none(),
        required=False,
        empty_label=_("Aucun"),
    )
    is_active = forms.BooleanField(label=_("En service"), required=False, initial=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["required_workshop"].queryset = Workshop.objects.all().order_by("title")  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("bookable_on_site") and data.get("open_days"):
            start, end = data.get("open_from"), data.get("open_until")
            if start is None or end is None:
                self.add_error("open_from", _("Indiquez les heures de réservation sur place."))
            elif start >= end:
                self.add_error("open_until", _("L'heure de fin doit être après l'heure de début."))
        return data


class LoanForm(Form):
    due_on = forms.DateField(label=_("À rendre le"), widget=DATE_WIDGET)
    notes = forms.CharField(label=_("Remarques (état, accessoires)"), max_length=300, required=False)


class SlotForm(Form):
    day = forms.DateField(label=_("Jour"), widget=DATE_WIDGET)


class StatsPeriodForm(Form):
    start = forms.DateField(label=_("Du"), widget=DATE_WIDGET)
    end = forms.DateField(label=_("Au"), widget=DATE_WIDGET)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if start and end:
            if start > end:
                self.add_error("end", _("La fin de la période doit être après son début."))
            elif (end - start).days > 366 * 10:
                self.add_error("start", _("Choisissez une période de dix ans au plus."))
        return data
