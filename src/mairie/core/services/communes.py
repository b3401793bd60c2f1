"""Writes on a commune's identity and settings (name, logo, colour, contact details, modules)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils.translation import gettext_lazy as _
from PIL import Image, UnidentifiedImageError

from mairie.core.models import Commune, User
from mairie.core.modules import MODULES
from mairie.core.permissions import ensure_capability
from mairie.core.services.audit import log_action
from mairie.core.tenancy import forget_commune_cache

LOGO_MAX_BYTES = 1024 * 1024
LOGO_FORMATS = {"PNG": "png", "JPEG": "jpg"}
EDITABLE_FIELDS = frozenset(
    {
        "name",
        "logo",
        "accent_colour",
        "address",
        "phone",
        "email",
        "website",
        "opening_hours",
        "welcome_text",
        "enabled_modules",
    }
)


def check_logo(upload: UploadedFile) -> str:
    """Returns the file extension for a valid logo (PNG or JPEG image, 1 MB at most); raises otherwise."""
    if upload.size is not None and upload.size > LOGO_MAX_BYTES:
        raise ValidationError(
            _("Le logo pèse %(size)s Ko, c'est trop : 1 024 Ko au plus. Réduisez l'image puis réessayez."),
            params={"size": (upload.size + 1023) // 1024},
            code="too_big",
        )
    try:
        upload.seek(0)
        with Image.open(upload) as image:
            image_format = image.format
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise ValidationError(
            _("Ce fichier n'est pas une image PNG ou JPEG lisible."), code="not_an_image"
        ) from error
    finally:
        upload.seek(0)
    if image_format not in LOGO_FORMATS:
        raise ValidationError(
            _("Le logo doit être une image PNG ou JPEG (ce fichier est au format %(format)s)."),
            params={"format": image_format or "?"},
            code="format",
        )
    return LOGO_FORMATS[image_format]


@transaction.atomic
def commune_update(*, commune: Commune, by: User, **fields: Any) -> Commune:
    """Changes the given fields (``logo=None`` removes the logo); the log keeps which fields changed."""
    ensure_capability(by, commune, "core.manage_commune")
    unknown = set(fields) - EDITABLE_FIELDS
    if unknown:
        raise ValueError(f"not editable here: {sorted(unknown)}")
    current = Commune.objects.select_for_update().get(pk=commune.pk)
    changed: list[str] = []
    logo = fields.pop("logo", ...)
    if "enabled_modules" in fields:
        modules = list(dict.fromkeys(fields["enabled_modules"] or []))
        if set(modules) - set(MODULES):
            raise ValidationError({"enabled_modules": _("Ce service n'existe pas.")})
        fields["enabled_modules"] = modules
    for name, value in fields.items():
        if getattr(current, name) != value:
            setattr(current, name, value)
            changed.append(name)
    extension = check_logo(logo) if logo not in (..., None, False, "") else None
    old_logo = current.logo.name if current.logo else ""
    if logo is not ... and (extension or old_logo):
        changed.append("logo")
    if not changed:
        return current
    current.full_clean(exclude=["slug", "insee_code", "logo"])
    if extension:
        current.logo.save(f"{current.slug}-logo.{extension}", ContentFile(logo.read()), save=False)
    elif "logo" in changed:
        current.logo = ""
    current.save(update_fields=changed)
    log_action(
        "core.commune.updated", commune=current, actor=by, obj=current, data={"changed": sorted(changed)}
    )
    if old_logo and "logo" in changed:
        storage = current.logo.storage
        transaction.on_commit(lambda: storage.delete(old_logo))
    transaction.on_commit(lambda: forget_commune_cache(current))
    return current
