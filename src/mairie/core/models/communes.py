from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from mairie.core.colors import AA_NORMAL_TEXT, HEX_COLOUR, WHITE, contrast_ratio


def validate_accent_colour(value: str) -> None:
    if not HEX_COLOUR.match(value or ""):
        raise ValidationError(_("Indiquez une couleur sous la forme #1a5f7a (six chiffres hexadécimaux)."))
    ratio = contrast_ratio(value, WHITE)
    if ratio < AA_NORMAL_TEXT:
        raise ValidationError(
            _(
                "Cette couleur n'est pas assez contrastée avec le texte blanc (%(ratio).1f:1 au lieu de "
                "4.5:1 au moins). Choisissez une teinte plus foncée."
            ),
            params={"ratio": ratio},
        )


insee_validator = RegexValidator(
    r"^(\d{5}|2[AB]\d{3})$", _("Le code INSEE compte cinq caractères, par exemple 35238 ou 2A004.")
)


class Commune(models.Model):
    """A tenant: one commune, its identity and the modules it has switched on."""

    name = models.CharField(_("nom"), max_length=120)
    slug = models.SlugField(_("identifiant"), max_length=120, unique=True)
    insee_code = models.CharField(_("code INSEE"), max_length=5, unique=True, validators=[insee_validator])
    logo = models.FileField(_("logo"), upload_to="communes/logos/", blank=True)
    accent_colour = models.CharField(
        _("couleur principale"), max_length=7, default="#1d4f91", validators=[validate_accent_colour]
    )
    address = models.TextField(_("adresse de la mairie"), blank=True)
    phone = models.CharField(_("téléphone"), max_length=30, blank=True)
    email = models.EmailField(_("adresse e-mail"), blank=True)
    website = models.URLField(_("site web"), blank=True)
    opening_hours = models.TextField(_("horaires d'ouverture"), blank=True)
    welcome_text = models.TextField(_("mot d'accueil"), blank=True)
    enabled_modules = models.JSONField(_("services activés"), default=list, blank=True)
    latitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("commune")
        verbose_name_plural = _("communes")

    def __str__(self) -> str:
        return self.name

    def has_module(self, module: str) -> bool:
        return module in (self.enabled_modules or [])


class CommuneHost(models.Model):
    """A host name that serves one commune (``www.saint-exemple.fr``, ``saint-exemple.mairie40.fr``)."""

    commune = models.ForeignKey(Commune, on_delete=models.CASCADE, related_name="hosts")
    host = models.CharField(_("nom d'hôte"), max_length=253, unique=True)

    class Meta:
        verbose_name = _("nom d'hôte")

    def __str__(self) -> str:
        return self.host

    def save(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.host = self.host.strip().lower()
        super().save(*args, **kwargs)
