"""Writes on communes: a commune's identity and settings (name, logo, colour, contact details, modules,
position), made by its admin; and, for the platform operators, creating a commune, its host names and its
first administrator (``manage.py commune_create``, the Django admin)."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _
from PIL import Image, UnidentifiedImageError

from mairie.core.action_labels import register_action_labels
from mairie.core.models import Commune, CommuneHost, LoginCode, Role, User
from mairie.core.models.communes import insee_validator
from mairie.core.modules import MODULES
from mairie.core.permissions import ensure_capability
from mairie.core.phones import normalise_phone
from mairie.core.services.accounts import account_register, role_grant
from mairie.core.services.audit import log_action
from mairie.core.services.counter import temporary_password
from mairie.core.services.login import login_code_send, pick_channel
from mairie.core.tenancy import forget_commune_cache, forget_hosts

register_action_labels(
    {
        "core.commune.created": _("Création de la commune sur la plateforme"),
        "core.commune.hosts_changed": _("Modification des adresses du site de la commune"),
    }
)

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
        "latitude",
        "longitude",
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
    if "latitude" in changed or "longitude" in changed:
        check_coordinates(current.latitude, current.longitude)
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


# --- the commune's position (sunrise and sunset for the connected homes' schedules) -----------------------

COORDINATE_PLACES = Decimal("0.000001")  # the model keeps six decimals: about 10 cm


def parse_coordinate(raw: object) -> Decimal | None:
    """``"47,85"``, ``"47.85"`` or a number → ``Decimal("47.850000")``; empty → None; raises otherwise."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    text = str(raw).strip().replace(",", ".").replace("\u2212", "-").replace(" ", "")
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite():
        raise ValidationError(
            _("Écrivez un nombre à virgule, par exemple 47,85 ou -1,65."), code="not_a_number"
        )
    return value.quantize(COORDINATE_PLACES)


def check_coordinates(latitude: Decimal | None, longitude: Decimal | None) -> None:
    """Both or neither; latitude from -90 to 90, longitude from -180 to 180. Errors name their field."""
    errors: dict[str, Any] = {}
    if latitude is not None and not Decimal(-90) <= latitude <= Decimal(90):
        errors["latitude"] = _(
            "La latitude va de -90 à 90 (en France métropolitaine, entre 41 et 51). "
            "Vérifiez que vous n'avez pas inversé latitude et longitude."
        )
    if longitude is not None and not Decimal(-180) <= longitude <= Decimal(180):
        errors["longitude"] = _("La longitude va de -180 à 180 (en France métropolitaine, entre -5 et 10).")
    if latitude is None and longitude is not None:
        errors["latitude"] = _("Indiquez aussi la latitude : les deux nombres vont ensemble.")
    if longitude is None and latitude is not None:
        errors["longitude"] = _("Indiquez aussi la longitude : les deux nombres vont ensemble.")
    if errors:
        raise ValidationError(errors, code="coordinates")


# --- platform operators: communes and their host names ----------------------------------------------------

# One DNS name: labels of letters, digits and hyphens, 63 characters each, 253 in all (no scheme, port, path).
_HOST_NAME = re.compile(
    r"^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$"
)


def _ensure_platform_operator(by: User | None) -> None:
    """``by=None`` is the server's own command line (``manage.py``): whoever runs it already runs the platform."""
    if by is not None and not (by.is_active and by.is_superuser):
        raise PermissionDenied("platform operators only")


def clean_host(raw: str) -> str:
    """A host name as stored (lower case, no final dot); raises a ValidationError saying what is wrong."""
    host = (raw or "").strip().lower().rstrip(".")
    if "://" in host or "/" in host or ":" in host:
        raise ValidationError(
            _(
                "« %(host)s » : écrivez le nom seul, sans https://, sans / ni numéro de port (par exemple "
                "mairie.val-de-brume.fr)."
            ),
            params={"host": raw},
            code="host_syntax",
        )
    if not _HOST_NAME.match(host):
        raise ValidationError(
            _(
                "« %(host)s » n'est pas un nom d'hôte : des lettres sans accents, des chiffres, des tirets et des "
                "points, par exemple mairie.val-de-brume.fr."
            ),
            params={"host": raw},
            code="host_syntax",
        )
    return host


def clean_hosts(raw_hosts: Iterable[str], *, commune: Commune | None) -> list[str]:
    """The host names, cleaned and without repeats; refused when one already serves another commune."""
    hosts = list(dict.fromkeys(clean_host(raw) for raw in raw_hosts))
    taken = CommuneHost.objects.filter(host__in=hosts).select_related("commune")
    if commune is not None and commune.pk is not None:
        taken = taken.exclude(commune=commune)
    conflicts = [
        ValidationError(
            _("Le nom d'hôte %(host)s sert déjà la commune « %(commune)s »."),
            params={"host": row.host, "commune": row.commune.name},
            code="host_taken",
        )
        for row in taken.order_by("host")
    ]
    if conflicts:
        raise ValidationError(conflicts)
    return hosts


def communes_without_hosts() -> list[Commune]:
    """Active communes with no host name. Alone on the installation, a commune is served on any host name;
    once there are two, such a commune is served nowhere."""
    return list(Commune.objects.filter(is_active=True).exclude(hosts__isnull=False).order_by("name"))


def _forget_hosts_on_commit(hosts: Collection[str]) -> None:
    """Host names removed from a commune: the cached answer for them must go now, not in a minute
    (``forget_commune_cache`` only knows the host names a commune still has)."""
    removed = list(hosts)
    if removed:
        transaction.on_commit(lambda: forget_hosts(removed))


@transaction.atomic
def commune_hosts_set(*, commune: Commune, hosts: Iterable[str], by: User | None) -> list[str]:
    """The commune's host names become exactly ``hosts`` (the first one stays first if kept: links in emails
    and SMS use it). Returns them cleaned."""
    _ensure_platform_operator(by)
    # One change of a commune's host names at a time.
    Commune.objects.select_for_update().filter(pk=commune.pk).first()
    wanted = clean_hosts(hosts, commune=commune)
    if not wanted and Commune.objects.filter(is_active=True).exclude(pk=commune.pk).exists():
        raise ValidationError(
            _("Gardez au moins un nom d'hôte : sans lui, le site de la commune ne répondrait plus."),
            code="last_host",
        )
    current = list(CommuneHost.objects.filter(commune=commune).order_by("pk").values_list("host", flat=True))
    removed = [host for host in current if host not in wanted]
    added = [host for host in wanted if host not in current]
    if not removed and not added:
        return wanted
    CommuneHost.objects.filter(commune=commune, host__in=removed).delete()
    CommuneHost.objects.bulk_create([CommuneHost(commune=commune, host=host) for host in added])
    log_action(
        "core.commune.hosts_changed",
        commune=commune,
        actor=by,
        obj=commune,
        data={"added": added, "removed": removed},
    )
    _forget_hosts_on_commit(removed)
    transaction.on_commit(lambda: forget_commune_cache(commune))
    return wanted


@transaction.atomic
def commune_platform_save(*, commune: Commune, by: User | None, changed: Collection[str]) -> Commune:
    """The Django admin's save of a commune: ``commune`` carries the values the operator typed, checked by the
    admin's form (``changed``: the fields that differ). A new commune (no ``pk``) is created."""
    _ensure_platform_operator(by)
    created = commune.pk is None
    fields = [field.name for field in Commune._meta.concrete_fields]
    changed = sorted(name for name in changed if name in fields)
    if not created and not changed:
        return commune
    check_coordinates(commune.latitude, commune.longitude)
    commune.full_clean(exclude=["logo"])
    if created:
        commune.save()
    else:
        commune.save(update_fields=changed)
    log_action(
        "core.commune.created" if created else "core.commune.updated",
        commune=commune,
        actor=by,
        obj=commune,
        data={"changed": changed, "by_platform": True},
    )
    transaction.on_commit(lambda: forget_commune_cache(commune))
    return commune


@transaction.atomic
def commune_create(
    *,
    name: str,
    insee_code: str,
    hosts: Iterable[str],
    by: User | None,
    slug: str = "",
    enabled_modules: Iterable[str] = (),
) -> Commune:
    """A new commune with its host names (at least one). Refused, with every reason at once, when its slug,
    INSEE code or a host name is taken, or when an existing commune has no host name (it would stop being
    served: alone, a commune answers on any host name; it must have its own before a second one arrives)."""
    _ensure_platform_operator(by)
    name = (name or "").strip()
    slug = (slug or "").strip().lower() or slugify(name)
    insee_code = (insee_code or "").strip().upper()
    errors: dict[str, list[ValidationError]] = {}

    def refuse(field: str, message: Any, **params: Any) -> None:
        errors.setdefault(field, []).append(ValidationError(message, params=params or None))

    if not name:
        refuse("name", _("Indiquez le nom de la commune."))
    if not slug:
        refuse("slug", _("Indiquez un identifiant fait de lettres sans accents, de chiffres et de tirets."))
    elif Commune.objects.filter(slug=slug).exists():
        refuse("slug", _("L'identifiant « %(slug)s » est déjà pris par une autre commune."), slug=slug)
    try:
        insee_validator(insee_code)
    except ValidationError as error:
        errors.setdefault("insee_code", []).append(error)
    else:
        other = Commune.objects.filter(insee_code=insee_code).first()
        if other is not None:
            refuse(
                "insee_code",
                _("Le code INSEE %(code)s est déjà celui de « %(name)s »."),
                code=insee_code,
                name=other.name,
            )
    modules = list(dict.fromkeys(enabled_modules))
    if set(modules) - set(MODULES):
        refuse(
            "enabled_modules",
            _("Ce service n'existe pas : %(names)s."),
            names=", ".join(sorted(set(modules) - set(MODULES))),
        )
    hosts = list(hosts)
    if not hosts:
        refuse("hosts", _("Indiquez au moins un nom d'hôte pour le site de la commune."))
    else:
        try:
            hosts = clean_hosts(hosts, commune=None)
        except ValidationError as error:
            errors.setdefault("hosts", []).extend(error.error_list)
    for alone in communes_without_hosts():
        refuse(
            "hosts",
            _(
                "La commune « %(name)s » n'a pas de nom d'hôte : avec une deuxième commune, son site ne "
                "répondrait plus. Donnez-lui d'abord les siens (admin Django, Communes)."
            ),
            name=alone.name,
        )
    if errors:
        raise ValidationError(errors)
    commune = Commune(name=name, slug=slug, insee_code=insee_code, enabled_modules=modules)
    commune.full_clean(exclude=["logo"])
    commune.save()
    CommuneHost.objects.bulk_create([CommuneHost(commune=commune, host=host) for host in hosts])
    log_action(
        "core.commune.created",
        commune=commune,
        actor=by,
        obj=commune,
        data={"hosts": hosts, "modules": modules, "by_platform": True},
    )
    # Its host names may be cached as another commune's (a lone commune answers on any host name): forgotten.
    transaction.on_commit(lambda: forget_commune_cache(commune))
    return commune


# --- the commune's administrators, appointed by the platform -----------------------------------------------------------------


@dataclass(frozen=True)
class AppointedAdmin:
    user: User
    created: bool  # a new account (else an existing one, found by its email or phone, now admin here too)
    temporary_password: str | None  # printed once, to be changed at first sign-in
    link_sent_by: str | None  # "email" or "sms" when a sign-in link was sent


def _existing_account(email: str | None, phone: str | None) -> User | None:
    wanted = Q(pk__in=[])
    if email:
        wanted |= Q(email__iexact=email)
    if phone:
        wanted |= Q(phone=phone)
    matches = list(User.objects.filter(wanted)[:2])
    if len(matches) > 1:
        raise ValidationError(
            {
                "admin": _(
                    "Cette adresse e-mail et ce numéro appartiennent à deux comptes différents : "
                    "indiquez l'un ou l'autre."
                )
            },
            code="two_accounts",
        )
    return matches[0] if matches else None


def _check_admin_details(*, email: str | None, phone: str | None) -> tuple[str | None, str | None]:
    """The administrator's email and phone as stored (phone in E.164), or every reason they are refused."""
    email = (email or "").strip().lower() or None
    phone = (phone or "").strip() or None
    errors: dict[str, Any] = {}
    if email:
        try:
            validate_email(email)
        except ValidationError:
            errors["admin_email"] = _("« %(email)s » n'est pas une adresse e-mail.") % {"email": email}
    normalised = normalise_phone(phone) if phone else None
    if phone and normalised is None:
        errors["admin_phone"] = _(
            "Le numéro « %(phone)s » n'est pas reconnu : écrivez-le comme 06 12 34 56 78."
        ) % {"phone": phone}
    if not email and not phone:
        errors["admin"] = _("Indiquez l'adresse e-mail ou le numéro de mobile de la personne.")
    if errors:
        raise ValidationError(errors)
    return email, normalised


def check_admin_contact(
    *, email: str | None, phone: str | None
) -> tuple[str | None, str | None, User | None]:
    """For a commune administrator: their email and phone as stored (phone in E.164) and their account if
    they have one; a ValidationError naming every problem (keys ``admin_email``, ``admin_phone``, ``admin``)."""
    email, phone = _check_admin_details(email=email, phone=phone)
    user = _existing_account(email, phone)
    if user is not None and (user.erased_at is not None or not user.is_active):
        raise ValidationError(
            {"admin": _("Ce compte est fermé ou effacé : il ne peut pas administrer la commune.")}
        )
    return email, phone, user


@transaction.atomic
def commune_admin_appoint(
    *,
    commune: Commune,
    by: User | None,
    email: str | None = None,
    phone: str | None = None,
    first_name: str = "",
    last_name: str = "",
    print_password: bool = False,
    site_url: str = "",
) -> AppointedAdmin:
    """Makes a person the commune's administrator: the account with this email or phone if there is one,
    else a new account. A new account gets either a sign-in link by email (or SMS), after which the person
    chooses a password in « Mon compte », or, with ``print_password``, a temporary password to change at
    first sign-in, as at the town-hall counter. An existing account keeps its password and gets the link."""
    _ensure_platform_operator(by)
    email, phone, user = check_admin_contact(email=email, phone=phone)
    created = user is None
    temporary = temporary_password() if created and print_password else None
    if user is None:
        user = account_register(
            commune=commune,
            first_name=first_name.strip(),
            last_name=last_name.strip(),
            email=email,
            phone=phone,
            password=temporary,
            created_by=by,
        )
        if temporary:  # the operator saw it: the person chooses their own at first sign-in
            user.must_change_password = True
            user.save(update_fields=["must_change_password"])
    role_grant(commune=commune, user=user, role=Role.ADMIN, granted_by=by)
    link_sent_by = None
    if temporary is None:
        channel = pick_channel(user=user, requested=None, login=email or phone or "")
        if channel is not None:
            sent = login_code_send(
                commune=commune,
                user=user,
                purpose=LoginCode.Purpose.LOGIN,
                channel=channel,
                site_url=site_url,
            )
            link_sent_by = channel if sent is not None else None
    return AppointedAdmin(user=user, created=created, temporary_password=temporary, link_sent_by=link_sent_by)


@transaction.atomic
def commune_onboard(
    *,
    name: str,
    insee_code: str,
    hosts: Iterable[str],
    by: User | None,
    admin_email: str | None = None,
    admin_phone: str | None = None,
    admin_first_name: str = "",
    admin_last_name: str = "",
    slug: str = "",
    enabled_modules: Iterable[str] = (),
    print_password: bool = False,
) -> tuple[Commune, AppointedAdmin]:
    """A commune, its host names and its first administrator: all or nothing (one transaction). Every
    reason for a refusal is given at once."""
    hosts = list(hosts)
    errors: dict[str, list[str]] = {}
    try:
        check_admin_contact(email=admin_email, phone=admin_phone)
    except ValidationError as error:
        errors.update(error.message_dict)
    try:
        with transaction.atomic():  # refused: nothing of it stays, even inside a caller's transaction
            commune = commune_create(
                name=name,
                insee_code=insee_code,
                hosts=hosts,
                by=by,
                slug=slug,
                enabled_modules=enabled_modules,
            )
            if errors:
                raise ValidationError(errors)
    except ValidationError as error:
        raise ValidationError({**error.message_dict, **errors}) from error
    first_admin = commune_admin_appoint(
        commune=commune,
        by=by,
        email=admin_email,
        phone=admin_phone,
        first_name=admin_first_name,
        last_name=admin_last_name,
        print_password=print_password,
        site_url=f"https://{clean_host(hosts[0])}/",
    )
    return commune, first_admin
