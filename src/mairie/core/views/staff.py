"""The commune's back office for staff: residents, accounts made at the counter, acting on behalf, roles,
the commune's settings and the audit log."""

from __future__ import annotations

import csv
import json
import secrets
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Page, Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_scopes import scope

from mairie.core import backoffice
from mairie.core.acting import begin_acting, end_acting
from mairie.core.forms import Form
from mairie.core.models import Commune, ErasureRequest, Mandate, Membership, Role, User
from mairie.core.modules import MODULES
from mairie.core.permissions import has_capability, public, require_capability, require_login
from mairie.core.phones import normalise_phone
from mairie.core.services.accounts import LastAdminError, role_grant, role_revoke, two_factor_reset
from mairie.core.services.audit import log_action
from mairie.core.services.communes import (
    LOGO_MAX_BYTES,
    check_coordinates,
    check_logo,
    commune_update,
    parse_coordinate,
)
from mairie.core.services.counter import counter_account_create, counter_password_reset, counter_reset_allowed
from mairie.core.services.mandates import (
    Duration,
    active_mandates,
    mandate_expiry,
    mandate_resume,
    mandate_start,
    mandate_stop,
)
from mairie.core.views.pages import _safe_next

PAGE_SIZE = 50


def _commune(request: HttpRequest) -> Commune:
    return request.commune  # type: ignore[attr-defined]


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _page(request: HttpRequest, items: Any) -> Page:
    return Paginator(items, PAGE_SIZE).get_page(request.GET.get("page"))


def _query_without_page(request: HttpRequest) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


# Staff home ------------------------------------------------------------------------------------------------


@require_capability("core.staff_area")
@require_GET
def staff_home(request: HttpRequest) -> HttpResponse:
    commune, user = _commune(request), _user(request)
    areas = []
    for area in backoffice.STAFF_AREAS:
        if has_capability(user, commune, area.capability):
            areas.append(
                {"url": reverse(area.url_name), "title": area.title, "description": area.description}
            )
    pending_erasures = None
    if has_capability(user, commune, "core.handle_erasure"):
        pending_erasures = ErasureRequest.objects.filter(
            commune=commune, status=ErasureRequest.Status.PENDING
        ).count()
    mandates = (
        list(active_mandates(commune=commune, agent=user))
        if has_capability(user, commune, "core.act_on_behalf")
        else []
    )
    return render(
        request,
        "core/staff/home.html",
        {
            "areas": areas,
            "pending_erasures": pending_erasures,
            "mandates": mandates,
        },
    )


# Residents -------------------------------------------------------------------------------------------------


class ResidentSearchForm(Form):
    q = forms.CharField(
        label=_("Rechercher une personne"),
        required=False,
        max_length=100,
        help_text=_("Nom, prénom, identifiant, adresse e-mail ou numéro de téléphone."),
        widget=forms.TextInput(attrs={"type": "search"}),
    )
    role = forms.ChoiceField(
        label=_("Rôle"), required=False, choices=[("", _("Tous les rôles")), *Role.choices]
    )


@require_capability("core.manage_residents")
@require_GET
def staff_residents(request: HttpRequest) -> HttpResponse:
    form = ResidentSearchForm(request.GET or None)
    query, role = "", ""
    if form.is_valid():
        query, role = form.cleaned_data["q"], form.cleaned_data["role"]
    people = backoffice.residents(_user(request), _commune(request), query=query, role=role)
    return render(
        request,
        "core/staff/residents.html",
        {
            "form": form,
            "page": _page(request, people),
            "searching": bool(query or role),
            "query_string": _query_without_page(request),
        },
    )


def _resident_context(request: HttpRequest, person: User, **extra: Any) -> dict[str, Any]:
    commune, user = _commune(request), _user(request)
    mandates = list(active_mandates(commune=commune, resident=person))
    context = {
        "person": person,
        "roles": [m.get_role_display() for m in person.roles_here],  # type: ignore[attr-defined]
        "mandates": mandates,
        "can_act": has_capability(user, commune, "core.act_on_behalf") and person.pk != user.pk,
        "can_manage_roles": has_capability(user, commune, "core.manage_roles"),
        "can_reset": counter_reset_allowed(person) and person.pk != user.pk,
        "history": backoffice.audit_lines(backoffice.resident_history(person, commune)),
        "act_form": extra.pop("act_form", None) or ActOnBehalfForm(),
    }
    context.update(extra)
    return context


@require_capability("core.manage_residents")
@require_GET
def staff_resident(request: HttpRequest, user_id: int) -> HttpResponse:
    person = backoffice.resident(_user(request), _commune(request), user_id)
    return render(request, "core/staff/resident.html", _resident_context(request, person))


class CounterAccountForm(Form):
    first_name = forms.CharField(label=_("Prénom"), max_length=100)
    last_name = forms.CharField(label=_("Nom"), max_length=100)
    email = forms.EmailField(label=_("Adresse e-mail"), required=False)
    phone = forms.CharField(
        label=_("Numéro de téléphone mobile"),
        required=False,
        max_length=30,
        help_text=_("Par exemple 06 12 34 56 78. Laissez vide si la personne n'en a pas."),
        widget=forms.TextInput(attrs={"type": "tel"}),
    )
    password = forms.CharField(
        label=_("Mot de passe choisi par la personne"),
        required=False,
        help_text=_(
            "Au moins 10 caractères. Laissez vide : le site crée un mot de passe provisoire facile à lire, "
            "à imprimer sur une fiche de connexion."
        ),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    token = forms.CharField(widget=forms.HiddenInput)

    def clean_email(self) -> str | None:
        email = (self.cleaned_data.get("email") or "").strip().lower() or None
        if email and User.objects.filter(email__iexact=email).exists():
            raise ValidationError(_("Un compte existe déjà avec cette adresse e-mail. Cherchez la personne."))
        return email

    def clean_phone(self) -> str | None:
        raw = (self.cleaned_data.get("phone") or "").strip()
        if not raw:
            return None
        phone = normalise_phone(raw)
        if phone is None:
            raise ValidationError(_("Ce numéro n'est pas reconnu. Écrivez-le comme 06 12 34 56 78."))
        if User.objects.filter(phone=phone).exists():
            raise ValidationError(_("Un compte existe déjà avec ce numéro. Cherchez la personne."))
        return phone

    def clean_password(self) -> str:
        from django.contrib.auth.password_validation import validate_password

        password = self.cleaned_data.get("password") or ""
        if password:
            validate_password(
                password,
                User(first_name=self.data.get("first_name", ""), last_name=self.data.get("last_name", "")),
            )
        return password


_TOKENS_KEY = "mairie_counter_tokens"


def _sheet_response(
    request: HttpRequest, person: User, password: str, *, new_account: bool, then: str = ""
) -> HttpResponse:
    """The printable sign-in sheet. Shown once, never cached: the password exists nowhere else in clear."""
    response = render(
        request,
        "core/staff/login_sheet.html",
        {
            "person": person,
            "password": password,
            "new_account": new_account,
            "login_url": request.build_absolute_uri(reverse("core:login")),
            "then": then,
        },
    )
    add_never_cache_headers(response)
    response.headers["Cache-Control"] = "no-store, private"
    return response


def _then_with_person(request: HttpRequest, person: User) -> str:
    """Where the staff member was going before making the account (``?next=``, this site only), told who it is
    for: a module's page (e.g. setting up a connected home) picks the new person up from ``?personne=<id>``."""
    then = _safe_next(request, "")
    if not then:
        return ""
    return f"{then}{'&' if '?' in then else '?'}personne={person.pk}"


@require_capability("core.manage_residents")
@require_http_methods(["GET", "POST"])
def staff_resident_create(request: HttpRequest) -> HttpResponse:
    commune, user = _commune(request), _user(request)
    tokens: dict[str, int | None] = request.session.get(_TOKENS_KEY, {})
    if request.method == "POST":
        token = request.POST.get("token", "")
        done = tokens.get(token)
        if done:  # the form was sent twice (reload, double click): the account exists, show it
            messages.info(request, gettext("Ce compte a déjà été créé. Voici la fiche de la personne."))
            return redirect("core:staff_resident", user_id=done)
        form = CounterAccountForm(request.POST)
        if form.is_valid() and token in tokens:
            data = form.cleaned_data
            person, temporary = counter_account_create(
                commune=commune,
                by=user,
                first_name=data["first_name"],
                last_name=data["last_name"],
                email=data["email"],
                phone=data["phone"],
                password=data["password"] or None,
            )
            tokens[token] = person.pk
            request.session[_TOKENS_KEY] = tokens
            then = _then_with_person(request, person)
            if temporary:
                return _sheet_response(request, person, temporary, new_account=True, then=then)
            messages.success(
                request, gettext("Le compte de %(name)s est créé.") % {"name": person.display_name}
            )
            return redirect(then) if then else redirect("core:staff_resident", user_id=person.pk)
        if token not in tokens:  # expired or unknown: nothing saved, a fresh form token to send again
            if form.is_valid():
                form.add_error(
                    None, _("Ce formulaire a expiré. Vérifiez les informations et envoyez à nouveau.")
                )
            form.data = {**form.data.dict(), "token": _new_token(request)}  # type: ignore[attr-defined]
    else:
        form = CounterAccountForm(initial={"token": _new_token(request)})
    return render(request, "core/staff/resident_create.html", {"form": form, "next": _safe_next(request, "")})


def _new_token(request: HttpRequest) -> str:
    tokens: dict[str, int | None] = request.session.get(_TOKENS_KEY, {})
    token = secrets.token_urlsafe(16)
    # Keep the last few only: a desk makes a handful of accounts a day.
    kept = dict(list(tokens.items())[-19:])
    kept[token] = None
    request.session[_TOKENS_KEY] = kept
    return token


@require_capability("core.manage_residents")
@require_POST
def staff_resident_new_password(request: HttpRequest, user_id: int) -> HttpResponse:
    person = backoffice.resident(_user(request), _commune(request), user_id)
    if not counter_reset_allowed(person) or person.pk == request.user.pk:
        messages.error(
            request,
            gettext(
                "Le mot de passe de cette personne ne peut pas être changé au guichet : elle a un rôle à la "
                "mairie et le change elle-même depuis « Mon compte »."
            ),
        )
        return redirect("core:staff_resident", user_id=person.pk)
    password = counter_password_reset(commune=_commune(request), by=_user(request), user=person)
    return _sheet_response(request, person, password, new_account=False)


# Acting on behalf ------------------------------------------------------------------------------------------


def _add_errors(form: forms.Form, error: ValidationError) -> None:
    """A service's refusal, shown next to the field it is about (or at the top of the form)."""
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error)


def _acting_for_someone_else(request: HttpRequest, person: User) -> str:
    """Why this session may not act for ``person`` now: it already acts for another person."""
    current = getattr(request, "actor", None)
    if current is not None and current.on_behalf and current.subject.pk != person.pk:
        return gettext("Vous agissez déjà pour %(name)s. Arrêtez d'abord d'agir pour cette personne.") % {
            "name": current.subject.display_name
        }
    return ""


class ActOnBehalfForm(Form):
    purpose = forms.CharField(
        label=_("Pour quoi faire ?"),
        max_length=300,
        help_text=_(
            "En quelques mots, ce que la personne vous demande. Par exemple : inscription à un atelier."
        ),
    )
    consent_method = forms.ChoiceField(
        label=_("Comment la personne a-t-elle donné son accord ?"),
        choices=Mandate.ConsentMethod.choices,
        widget=forms.RadioSelect,
    )
    duration = forms.ChoiceField(
        label=_("Pour combien de temps ?"),
        choices=Duration.choices,
        initial=Duration.ONE_HOUR,
        widget=forms.RadioSelect,
        help_text=_("La personne peut retirer son accord à tout moment depuis son compte."),
    )


@require_capability("core.act_on_behalf")
@require_http_methods(["GET", "POST"])
def staff_act_start(request: HttpRequest, user_id: int) -> HttpResponse:
    commune, agent = _commune(request), _user(request)
    person = backoffice.resident(agent, commune, user_id)
    if person.pk == agent.pk:
        messages.error(request, gettext("Vous ne pouvez pas agir pour vous-même."))
        return redirect("core:staff_resident", user_id=person.pk)
    refusal = _acting_for_someone_else(request, person)
    if refusal:
        messages.error(request, refusal)
        return redirect("core:staff_resident", user_id=person.pk)
    form = ActOnBehalfForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            mandate = mandate_start(
                agent=agent,
                resident=person,
                commune=commune,
                purpose=data["purpose"],
                consent_method=data["consent_method"],
                expires_at=mandate_expiry(data["duration"]),
            )
        except ValidationError as error:
            _add_errors(form, error)
        else:
            begin_acting(request, mandate)
            messages.success(
                request,
                gettext("Vous agissez maintenant pour %(name)s. La personne en est informée.")
                % {"name": person.display_name},
            )
            return redirect("core:staff_resident", user_id=person.pk)
    return render(request, "core/staff/act_start.html", {"person": person, "act_form": form})


@require_capability("core.act_on_behalf")
@require_POST
def staff_act_resume(request: HttpRequest, mandate_id: int) -> HttpResponse:
    agent = _user(request)
    mandate = get_object_or_404(active_mandates(commune=_commune(request), agent=agent), pk=mandate_id)
    refusal = _acting_for_someone_else(request, mandate.resident)
    if refusal:
        messages.error(request, refusal)
        return redirect("core:staff_resident", user_id=mandate.resident_id)
    try:
        mandate_resume(agent=agent, mandate=mandate)
        begin_acting(request, mandate)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(
            request,
            gettext("Vous agissez à nouveau pour %(name)s.") % {"name": mandate.resident.display_name},
        )
    return redirect("core:staff_resident", user_id=mandate.resident_id)


@require_login
@require_POST
def stop_acting(request: HttpRequest) -> HttpResponse:
    mandate = end_acting(request)
    if mandate is None:
        return redirect("core:home")
    mandate_stop(agent=_user(request), mandate=mandate)
    messages.info(
        request, gettext("Vous n'agissez plus pour %(name)s.") % {"name": mandate.resident.display_name}
    )
    if has_capability(request.user, _commune(request), "core.manage_residents"):
        return redirect("core:staff_resident", user_id=mandate.resident_id)
    return redirect("core:staff_home")


# Roles -----------------------------------------------------------------------------------------------------

_STAFF_ROLE_CHOICES = [(value, label) for value, label in Role.choices if value != Role.RESIDENT]


class RoleGrantForm(Form):
    person = forms.CharField(
        label=_("La personne"),
        max_length=200,
        help_text=_(
            "Son identifiant, son adresse e-mail ou son numéro de téléphone. "
            "Elle doit déjà avoir un compte dans la commune."
        ),
    )
    role = forms.ChoiceField(label=_("Le rôle à lui donner"), choices=_STAFF_ROLE_CHOICES)

    def __init__(self, *args: Any, commune: Commune, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commune = commune

    def clean_person(self) -> User:
        from mairie.core.auth_backends import find_user_by_login

        found = find_user_by_login(self.cleaned_data["person"])
        if (
            found is None
            or found.erased_at is not None
            or not Membership.objects.filter(commune=self.commune, user=found).exists()
        ):
            raise ValidationError(
                _("Aucune personne de la commune ne correspond. Créez-lui d'abord un compte, puis réessayez.")
            )
        return found


@require_capability("core.manage_roles")
@require_http_methods(["GET", "POST"])
def staff_roles(request: HttpRequest) -> HttpResponse:
    commune, admin = _commune(request), _user(request)
    form = RoleGrantForm(
        request.POST or None, commune=commune, initial={"person": request.GET.get("person", "")}
    )
    if request.method == "POST" and form.is_valid():
        person, role = form.cleaned_data["person"], form.cleaned_data["role"]
        role_grant(commune=commune, user=person, role=role, granted_by=admin)
        messages.success(
            request,
            gettext("%(name)s a maintenant le rôle « %(role)s ».")
            % {"name": person.display_name, "role": Role(role).label},
        )
        return redirect("core:staff_roles")
    members = backoffice.staff_members(admin, commune)
    return render(
        request,
        "core/staff/roles.html",
        {
            "form": form,
            "members": members,
            "with_second_factor": backoffice.with_second_factor([person for person, _roles in members]),
        },
    )


@require_capability("core.manage_roles")
@require_POST
def staff_role_revoke(request: HttpRequest, membership_id: int) -> HttpResponse:
    commune = _commune(request)
    membership: Membership = get_object_or_404(
        Membership.objects.filter(commune=commune).exclude(role=Role.RESIDENT).select_related("user"),
        pk=membership_id,
    )
    try:
        role_revoke(commune=commune, user=membership.user, role=membership.role, revoked_by=_user(request))
    except LastAdminError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(
            request,
            gettext("%(name)s n'a plus le rôle « %(role)s ».")
            % {"name": membership.user.display_name, "role": membership.get_role_display()},
        )
    return redirect("core:staff_roles")


@require_capability("core.manage_roles")
@require_http_methods(["GET", "POST"])
def staff_two_factor_reset(request: HttpRequest, user_id: int) -> HttpResponse:
    """A member's lost second factor, taken away so they can set up a new one (their phone was lost).

    Asked first (GET): whoever signs in next with the password sets up the new one, so a reset done by mistake,
    or for someone who did not ask, opens the account to whoever knows that password."""
    commune = _commune(request)
    member = Membership.objects.filter(commune=commune, user_id=user_id).select_related("user").first()
    if member is None:  # a person of this commune only
        raise Http404
    person = member.user
    if request.method == "GET":
        return render(request, "core/staff/two_factor_reset.html", {"person": person})
    try:
        done = two_factor_reset(user=person, commune=commune, by=_user(request))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        if not done:
            messages.info(
                request,
                gettext("%(name)s n'avait pas de double authentification : rien à faire.")
                % {"name": person.display_name},
            )
            return redirect("core:staff_roles")
        messages.success(
            request,
            gettext(
                "C'est fait : à sa prochaine connexion, %(name)s configurera une nouvelle application "
                "d'authentification. Un message le lui dit."
            )
            % {"name": person.display_name},
        )
    return redirect("core:staff_roles")


# The commune's settings ------------------------------------------------------------------------------------


class CommuneSettingsForm(Form):
    name = forms.CharField(label=_("Nom de la commune"), max_length=120)
    logo = forms.FileField(
        label=_("Logo"),
        required=False,
        help_text=_("Une image PNG ou JPEG de 1 Mo au plus, carrée de préférence."),
        widget=forms.ClearableFileInput(attrs={"accept": "image/png,image/jpeg"}),
    )
    accent_colour = forms.CharField(
        label=_("Couleur principale"),
        max_length=7,
        help_text=_(
            "Sous la forme #1d4f91. Le texte blanc doit rester lisible dessus : "
            "une couleur trop claire est refusée."
        ),
    )
    address = forms.CharField(
        label=_("Adresse de la mairie"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    phone = forms.CharField(label=_("Téléphone de la mairie"), required=False, max_length=30)
    email = forms.EmailField(label=_("Adresse e-mail de la mairie"), required=False)
    website = forms.URLField(label=_("Site web"), required=False, assume_scheme="https")
    opening_hours = forms.CharField(
        label=_("Horaires d'ouverture"), required=False, widget=forms.Textarea(attrs={"rows": 4})
    )
    welcome_text = forms.CharField(
        label=_("Mot d'accueil"),
        required=False,
        help_text=_("Quelques phrases affichées en haut de la page d'accueil."),
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    latitude = forms.CharField(
        label=_("Latitude de la mairie"),
        required=False,
        max_length=20,
        help_text=_(
            "Elle sert à ouvrir et fermer les volets des logements connectés au lever et au coucher du soleil. "
            "Pour la trouver : sur openstreetmap.org ou Google Maps, faites un clic droit sur la mairie. Deux "
            "nombres s'affichent, par exemple 47.85, -1.65 : le premier est la latitude (en France "
            "métropolitaine, entre 41 et 51)."
        ),
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    longitude = forms.CharField(
        label=_("Longitude de la mairie"),
        required=False,
        max_length=20,
        help_text=_(
            "Le second nombre (en France métropolitaine, entre -5 et 10). Une virgule ou un point, comme "
            "vous voulez."
        ),
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    enabled_modules = forms.MultipleChoiceField(
        label=_("Services en ligne ouverts aux habitants"),
        required=False,
        choices=[],
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        modules: forms.MultipleChoiceField = self.fields["enabled_modules"]  # type: ignore[assignment]
        modules.choices = [(key, module.name) for key, module in MODULES.items()]
        if not MODULES:
            del self.fields["enabled_modules"]

    def clean_accent_colour(self) -> str:
        from mairie.core.models.communes import validate_accent_colour

        colour = self.cleaned_data["accent_colour"].strip().lower()
        validate_accent_colour(colour)
        return colour

    def clean_logo(self) -> Any:
        logo = self.cleaned_data.get("logo")
        if logo and hasattr(logo, "content_type"):  # a new upload (not the current file, not "remove")
            check_logo(logo)
        return logo

    def clean_latitude(self) -> Decimal | None:
        return parse_coordinate(self.cleaned_data.get("latitude"))

    def clean_longitude(self) -> Decimal | None:
        return parse_coordinate(self.cleaned_data.get("longitude"))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if "latitude" in data and "longitude" in data:  # neither refused on its own
            try:
                check_coordinates(data["latitude"], data["longitude"])
            except ValidationError as error:
                for field, errors in error.error_dict.items():
                    self.add_error(field, errors)
        return data


_COMMUNE_FIELDS = (
    "name",
    "accent_colour",
    "address",
    "phone",
    "email",
    "website",
    "opening_hours",
    "welcome_text",
    "latitude",
    "longitude",
    "enabled_modules",
)


def _coordinate_text(value: Decimal | None) -> str:
    """``Decimal("47.850000")`` → ``"47.85"``: what a person would type."""
    return "" if value is None else f"{value.normalize():f}"


@require_capability("core.manage_commune")
@require_http_methods(["GET", "POST"])
def staff_commune(request: HttpRequest) -> HttpResponse:
    commune = Commune.objects.get(pk=_commune(request).pk)  # fresh: not the cached copy the request uses
    initial = {name: getattr(commune, name) for name in _COMMUNE_FIELDS}
    initial["latitude"] = _coordinate_text(commune.latitude)
    initial["longitude"] = _coordinate_text(commune.longitude)
    initial["logo"] = commune.logo or None
    form = CommuneSettingsForm(request.POST or None, request.FILES or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        changes = {name: form.cleaned_data[name] for name in form.changed_data if name in form.cleaned_data}
        for name in ("latitude", "longitude"):  # "47,85" typed for "47.85" shown is no change
            if name in changes and changes[name] == getattr(commune, name):
                del changes[name]
        if "logo" in changes:
            changes["logo"] = changes["logo"] or None
        try:
            commune_update(commune=commune, by=_user(request), **changes)
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(request, gettext("Les informations de la commune sont enregistrées."))
            return redirect("core:staff_commune")
    return render(
        request,
        "core/staff/commune.html",
        {
            "form": form,
            "edited": commune,
            "has_modules": bool(MODULES),
            "logo_max_kb": LOGO_MAX_BYTES // 1024,
        },
    )


@public
@require_GET
@cache_control(max_age=300, public=True)
def commune_logo(request: HttpRequest) -> HttpResponseBase:
    """The commune's logo, read from whatever storage holds uploads (no separate media server to set up).

    Public: every page's header shows it. Only PNG and JPEG files checked by ``check_logo`` are ever stored.
    """
    logo = _commune(request).logo
    if not logo:
        raise Http404
    content_type = "image/png" if (logo.name or "").lower().endswith(".png") else "image/jpeg"
    return FileResponse(logo.open("rb"), content_type=content_type)


# The audit log ---------------------------------------------------------------------------------------------


class AuditFilterForm(Form):
    action = forms.CharField(
        label=_("Action"),
        required=False,
        max_length=100,
        help_text=_("Le début du code, par exemple core.mandate ou core.role."),
    )
    person = forms.CharField(
        label=_("Personne"),
        required=False,
        max_length=100,
        help_text=_("Qui a agi, ou pour qui : nom, identifiant, e-mail ou téléphone."),
    )
    date_from = forms.DateField(label=_("Du"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("Au"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and end < start:
            self.add_error("date_to", _("La date de fin est avant la date de début."))
        return cleaned

    def filters(self) -> backoffice.AuditFilters:
        if not self.is_bound or not self.is_valid():
            return backoffice.AuditFilters()
        return backoffice.AuditFilters(**self.cleaned_data)


@require_capability("core.view_audit")
@require_GET
def staff_audit(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET or None)
    if form.is_bound and "page" in form.data and len(form.data) == 1:
        form = AuditFilterForm(None)
    entries = backoffice.audit_entries(_user(request), _commune(request), form.filters())
    page = _page(request, entries)
    return render(
        request,
        "core/staff/audit.html",
        {
            "form": form,
            "page": page,
            "lines": backoffice.audit_lines(page.object_list),
            "query_string": _query_without_page(request),
        },
    )


def _csv_cell(value: object) -> str:
    """Text a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


class _Echo:
    def write(self, value: str) -> str:
        return value


@require_capability("core.view_audit")
@require_GET
def staff_audit_csv(request: HttpRequest) -> HttpResponse:
    commune, viewer = _commune(request), _user(request)
    form = AuditFilterForm(request.GET or None)
    filters = form.filters()
    log_action(
        "core.audit.exported",
        commune=commune,
        actor=viewer,
        data={key: str(value) for key, value in vars(filters).items() if value},
    )
    entries = backoffice.audit_entries(viewer, commune, filters)

    def rows() -> Iterator[str]:
        writer = csv.writer(_Echo())
        yield "\ufeff"  # so that spreadsheets open the accents right
        yield writer.writerow(
            [
                gettext("Date"),
                gettext("Code"),
                gettext("Action"),
                gettext("Fait par"),
                gettext("Pour"),
                gettext("Concerne"),
                gettext("Données"),
            ]
        )
        # The response is written after the view returns, outside the request's scope: enter it again.
        with scope(commune=commune):
            batch: list[Any] = []
            for entry in entries.iterator(chunk_size=500):
                batch.append(entry)
                if len(batch) == 500:
                    yield from _csv_lines(writer, batch)
                    batch = []
            yield from _csv_lines(writer, batch)

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y-%m-%d")
    response.headers["Content-Disposition"] = f'attachment; filename="journal-{commune.slug}-{stamp}.csv"'
    add_never_cache_headers(response)
    return response  # type: ignore[return-value]


def _csv_lines(writer: Any, batch: list[Any]) -> Iterator[str]:
    for line in backoffice.audit_lines(batch):
        entry = line.entry
        yield writer.writerow(
            [
                _csv_cell(timezone.localtime(entry.created_at).isoformat(timespec="seconds")),
                _csv_cell(entry.action),
                _csv_cell(line.what),
                _csv_cell(line.by),
                _csv_cell(line.for_whom),
                _csv_cell(line.about),
                _csv_cell(json.dumps(entry.data, ensure_ascii=False, sort_keys=True) if entry.data else ""),
            ]
        )


urlpatterns = [
    path("gestion/", staff_home, name="staff_home"),
    path("gestion/habitants/", staff_residents, name="staff_residents"),
    path("gestion/habitants/nouveau/", staff_resident_create, name="staff_resident_create"),
    path("gestion/habitants/<int:user_id>/", staff_resident, name="staff_resident"),
    path(
        "gestion/habitants/<int:user_id>/mot-de-passe/",
        staff_resident_new_password,
        name="staff_resident_password",
    ),
    path("gestion/habitants/<int:user_id>/agir/", staff_act_start, name="staff_act_start"),
    path("gestion/agir/<int:mandate_id>/reprendre/", staff_act_resume, name="staff_act_resume"),
    path("gestion/agir/fin/", stop_acting, name="stop_acting"),
    path("gestion/roles/", staff_roles, name="staff_roles"),
    path("gestion/roles/<int:membership_id>/retirer/", staff_role_revoke, name="staff_role_revoke"),
    path(
        "gestion/roles/<int:user_id>/double-authentification/",
        staff_two_factor_reset,
        name="staff_two_factor_reset",
    ),
    path("gestion/commune/", staff_commune, name="staff_commune"),
    path("logo-commune", commune_logo, name="commune_logo"),
    path("gestion/journal/", staff_audit, name="staff_audit"),
    path("gestion/journal/export.csv", staff_audit_csv, name="staff_audit_csv"),
]
