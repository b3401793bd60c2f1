"""The platform operators' pages in the Django admin (superusers only: ``admin.site.has_permission`` in
``mairie/urls.py``): communes, their host names and teams, and a read-only view of people.

Every change goes through the commune services, as in the rest of the platform: same checks, an audit row, and
the cached commune of each host name forgotten as soon as the change is committed. The admin wraps each page's
save in one transaction, so a commune and its host names are saved together or not at all.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Count, QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from mairie.core.models import Commune, CommuneHost, Membership, Role, User
from mairie.core.modules import MODULES
from mairie.core.services.communes import (
    check_admin_contact,
    check_coordinates,
    clean_host,
    clean_hosts,
    commune_admin_appoint,
    commune_hosts_set,
    commune_platform_save,
    communes_without_hosts,
)


class CommuneHostForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = CommuneHost
        fields = ["host"]

    def clean_host(self) -> str:
        host = clean_host(self.cleaned_data["host"])
        commune = self.instance.commune if self.instance.commune_id else None
        return clean_hosts([host], commune=commune)[0]


class CommuneHostFormSet(BaseInlineFormSet):  # type: ignore[type-arg]
    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        kept = [
            form
            for form in self.forms
            if form.cleaned_data.get("host") and not form.cleaned_data.get("DELETE")
        ]
        others = Commune.objects.filter(is_active=True).exclude(pk=self.instance.pk).exists()
        if not kept and others:
            raise ValidationError(
                _(
                    "Gardez au moins un nom d'hôte : sans lui, le site de la commune ne répondrait plus "
                    "(d'autres communes partagent cette installation)."
                )
            )


class CommuneHostInline(admin.TabularInline):  # type: ignore[type-arg]
    model = CommuneHost
    form = CommuneHostForm
    formset = CommuneHostFormSet
    extra = 1
    verbose_name = _("nom d'hôte")
    verbose_name_plural = _("noms d'hôte (le premier sert dans les liens des e-mails et SMS)")


class CommuneAdminForm(forms.ModelForm):  # type: ignore[type-arg]
    enabled_modules = forms.MultipleChoiceField(
        label=_("services activés"), required=False, choices=[], widget=forms.CheckboxSelectMultiple
    )
    website = forms.URLField(label=_("site web"), required=False, assume_scheme="https")
    appoint_email = forms.CharField(label=_("adresse e-mail"), required=False, max_length=254)
    appoint_phone = forms.CharField(label=_("téléphone mobile"), required=False, max_length=30)
    appoint_first_name = forms.CharField(label=_("prénom (nouveau compte)"), required=False, max_length=100)
    appoint_last_name = forms.CharField(label=_("nom (nouveau compte)"), required=False, max_length=100)

    class Meta:
        model = Commune
        fields = [
            "name",
            "slug",
            "insee_code",
            "is_active",
            "enabled_modules",
            "latitude",
            "longitude",
            "accent_colour",
            "address",
            "phone",
            "email",
            "website",
            "opening_hours",
            "welcome_text",
        ]
        help_texts = {
            "latitude": _("En degrés décimaux, de -90 à 90 (France métropolitaine : 41 à 51)."),
            "longitude": _("En degrés décimaux, de -180 à 180 (France métropolitaine : -5 à 10)."),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        modules: forms.MultipleChoiceField = self.fields["enabled_modules"]  # type: ignore[assignment]
        modules.choices = [(key, module.name) for key, module in MODULES.items()]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        try:
            check_coordinates(data.get("latitude"), data.get("longitude"))
        except ValidationError as error:
            for field, errors in error.error_dict.items():
                if field not in self.errors:
                    self.add_error(field, errors)
        if data.get("appoint_email") or data.get("appoint_phone"):
            try:
                check_admin_contact(email=data.get("appoint_email"), phone=data.get("appoint_phone"))
            except ValidationError as error:
                names = {"admin_email": "appoint_email", "admin_phone": "appoint_phone"}
                for field, errors in error.error_dict.items():
                    self.add_error(names.get(field), errors)
        if self.instance.pk is None:
            for alone in communes_without_hosts():
                self.add_error(
                    None,
                    _(
                        "La commune « %(name)s » n'a pas de nom d'hôte : avec une deuxième commune, son site ne "
                        "répondrait plus. Donnez-lui d'abord les siens."
                    )
                    % {"name": alone.name},
                )
        return data


@admin.register(Commune)
class CommuneAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = CommuneAdminForm
    inlines = [CommuneHostInline]
    list_display = ("name", "insee_code", "slug", "host_names", "people", "is_active", "created_at")
    list_filter = ("is_active",)
    search_fields = ("name", "slug", "insee_code", "hosts__host")
    readonly_fields = ("team", "created_at")
    fieldsets = (
        (None, {"fields": ("name", "slug", "insee_code", "is_active", "created_at")}),
        (_("Services"), {"fields": ("enabled_modules",)}),
        (
            _("Position (lever et coucher du soleil pour les logements connectés)"),
            {"fields": ("latitude", "longitude")},
        ),
        (
            _("Identité et coordonnées (la commune les change elle-même dans sa gestion)"),
            {
                "classes": ("collapse",),
                "fields": (
                    "accent_colour",
                    "address",
                    "phone",
                    "email",
                    "website",
                    "opening_hours",
                    "welcome_text",
                ),
            },
        ),
        (_("Équipe de la commune (rôles donnés dans sa gestion, hors habitants)"), {"fields": ("team",)}),
        (
            _("Nommer une personne administratrice de la commune"),
            {
                "description": _(
                    "Son compte, retrouvé par son e-mail ou son mobile, ou un nouveau compte. Elle reçoit un lien "
                    "de connexion à l'adresse du site de la commune."
                ),
                "fields": ("appoint_email", "appoint_phone", "appoint_first_name", "appoint_last_name"),
            },
        ),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Commune]:
        return (
            super()
            .get_queryset(request)
            .prefetch_related("hosts")
            .annotate(people_count=Count("memberships__user", distinct=True))
        )

    @admin.display(description=_("noms d'hôte"))
    def host_names(self, commune: Commune) -> str:
        return ", ".join(host.host for host in sorted(commune.hosts.all(), key=lambda host: host.pk))

    @admin.display(description=_("personnes"), ordering="people_count")
    def people(self, commune: Commune) -> int:
        return getattr(commune, "people_count", 0)

    @admin.display(description=_("équipe"))
    def team(self, commune: Commune) -> str:
        if commune.pk is None:
            return "—"
        staff = (
            Membership.objects.filter(commune=commune)
            .exclude(role=Role.RESIDENT)
            .select_related("user")
            .order_by("role", "user__last_name", "user__first_name")
        )
        rows = [(membership.user.display_name, membership.get_role_display()) for membership in staff]
        if not rows:
            return format_html("{}", _("Personne n'a encore de rôle dans cette commune."))
        return format_html("<ul>{}</ul>", format_html_join("", "<li>{} — {}</li>", rows))

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # The identifier is in file names and in the connected homes' MQTT logins (<slug>/<home>): set once.
        return (*self.readonly_fields, "slug") if obj is not None else self.readonly_fields

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A commune is closed (« active » unticked), never deleted: its audit log and residents' data stay.
        return False

    def save_model(self, request: HttpRequest, obj: Commune, form: forms.ModelForm, change: bool) -> None:  # type: ignore[type-arg]
        commune_platform_save(commune=obj, by=request.user, changed=form.changed_data)  # type: ignore[arg-type]

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)  # host names first: the link is built on them
        data = form.cleaned_data
        if not (data.get("appoint_email") or data.get("appoint_phone")):
            return
        appointed = commune_admin_appoint(
            commune=form.instance,
            by=request.user,  # type: ignore[arg-type]
            email=data.get("appoint_email"),
            phone=data.get("appoint_phone"),
            first_name=data.get("appoint_first_name") or "",
            last_name=data.get("appoint_last_name") or "",
            site_url=request.build_absolute_uri("/"),
        )
        sent = _(" Un lien de connexion lui est envoyé.") if appointed.link_sent_by else ""
        self.message_user(
            request,
            _("%(name)s administre maintenant la commune.%(sent)s")
            % {"name": appointed.user.display_name, "sent": sent},
        )

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        if formset.model is not CommuneHost:
            super().save_formset(request, form, formset, change)
            return
        deleted = set(formset.deleted_forms)
        hosts = [
            host_form.cleaned_data["host"]
            for host_form in formset.forms
            if host_form not in deleted and host_form.cleaned_data.get("host")
        ]
        commune_hosts_set(commune=form.instance, hosts=hosts, by=request.user)  # type: ignore[arg-type]
        # What the admin's own history note reads (``construct_change_message``); the audit row has the detail.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []


@admin.register(User)
class UserAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Looking people up (which communes, which roles); no change here: names and contact details are changed
    by the person or their commune's staff, roles in the commune's back office. The password hash is never
    shown, not even masked."""

    list_display = ("username", "full_name", "email", "phone", "is_active", "is_superuser", "date_joined")
    list_filter = ("is_superuser", "is_active")
    search_fields = ("username", "email", "phone", "first_name", "last_name")
    fields = (
        "username",
        "first_name",
        "last_name",
        "email",
        "phone",
        "language",
        "home_commune",
        "roles",
        "is_active",
        "is_superuser",
        "must_change_password",
        "date_joined",
        "last_login",
        "erased_at",
    )
    readonly_fields = fields

    @admin.display(description=_("nom"))
    def full_name(self, user: User) -> str:
        return user.display_name

    @admin.display(description=_("rôles"))
    def roles(self, user: User) -> str:
        memberships = Membership.objects.filter(user=user).select_related("commune").order_by("commune__name")
        rows = [(membership.commune.name, membership.get_role_display()) for membership in memberships]
        if not rows:
            return "—"
        return format_html("<ul>{}</ul>", format_html_join("", "<li>{} : {}</li>", rows))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # accounts are made by sign-up, at the counter, or by manage.py commune_create

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # erasure goes through the privacy flow, which keeps statistics anonymised
