"""Creates, idempotently, the fictional commune of Val-de-Brume with residents and one account per role."""

from __future__ import annotations

import hashlib
import importlib
from base64 import b32encode
from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_scopes import scopes_disabled

from mairie.core.models import Commune, CommuneHost, Membership, Role, User
from mairie.core.services.accounts import account_register

DEMO_PASSWORD = "demo-mairie-2026"  # noqa: S105  (demo only; printed on purpose)

PEOPLE = [
    # username, first name, last name, email, phone, extra role
    ("admin", "Hélène", "Marchand", "maire@val-de-brume.test", None, Role.ADMIN),
    ("agent", "Sophie", "Lambert", "accueil@val-de-brume.test", None, Role.AGENT),
    ("mediateur", "Karim", "Benali", "numeripole@val-de-brume.test", None, Role.MEDIATOR),
    ("fablab", "Lucas", "Perrin", "fablab@val-de-brume.test", None, Role.FABLAB_MANAGER),
    ("moderation", "Nadia", "Roux", "moderation@val-de-brume.test", None, Role.MODERATOR),
    ("medecin", "Dr Paul", "Girard", "dr.girard@sante.test", None, Role.PRACTITIONER),
    ("infirmiere", "Claire", "Fontaine", "claire.fontaine@sante.test", None, Role.NURSE),
    ("operateur", "Yann", "Le Gall", "centrale@teleassistance.test", None, Role.OPERATOR),
    ("proche", "Julie", "Moreau", "julie.moreau@example.org", "+33611223344", Role.RELATIVE),
    ("jeanne", "Jeanne", "Moreau", None, "+33622334455", None),
    ("marcel", "Marcel", "Dubois", "marcel.dubois@example.org", None, None),
    ("odette", "Odette", "Vidal", None, None, None),
]

# Their roles see health or alarm data: they need a second factor. The demo gives each one an authenticator
# app with a fixed, printed key, so a tester can sign in (``manage.py demo_totp <login>`` shows the code).
SECOND_FACTOR_LOGINS = ("medecin", "infirmiere", "operateur", "agent", "plateforme")
DEMO_TOTP_DEVICE_NAME = "Démo"


def demo_totp_key(username: str) -> str:
    """The demo's fixed authenticator key for ``username``, in hexadecimal as django-otp keeps it."""
    return hashlib.sha256(f"mairie-demo-totp:{username}".encode()).hexdigest()[:40]


def demo_totp_key_base32(username: str) -> str:
    """The same key as an authenticator app asks for it (« saisir une clé »)."""
    return b32encode(bytes.fromhex(demo_totp_key(username))).decode()


class Command(BaseCommand):
    help = (
        "Create the demo commune (Val-de-Brume), its residents and one account per role. Safe to run twice."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--quiet", action="store_true", help="do not print the logins")

    @transaction.atomic
    @scopes_disabled()
    def handle(self, *args: Any, quiet: bool = False, **options: Any) -> None:
        commune, _ = Commune.objects.get_or_create(
            slug="val-de-brume",
            defaults={
                "name": "Val-de-Brume",
                "insee_code": "99001",
                "accent_colour": "#1d4f91",
                "address": "1 place de la Mairie\n99001 Val-de-Brume",
                "phone": "02 99 00 00 00",
                "email": "mairie@val-de-brume.test",
                "opening_hours": "Lundi, mardi, jeudi : 9 h – 12 h\nMercredi : 14 h – 18 h\nSamedi : 9 h – 11 h",
                "welcome_text": (
                    "Réservez un atelier numérique, une machine du Fablab ou une téléconsultation, "
                    "demandez un coup de main à un voisin, faites vos démarches : la mairie vous accompagne."
                ),
                "latitude": "47.850000",
                "longitude": "-1.650000",
            },
        )
        for host in ("localhost", "127.0.0.1", "val-de-brume.localhost"):
            CommuneHost.objects.get_or_create(host=host, defaults={"commune": commune})
        lines = []
        for username, first, last, email, phone, role in PEOPLE:
            user = User.objects.filter(username=username).first()
            if user is None:
                user = account_register(
                    commune=commune,
                    first_name=first,
                    last_name=last,
                    email=email,
                    phone=phone,
                    password=DEMO_PASSWORD,
                )
                User.objects.filter(pk=user.pk).update(username=username)
                user.username = username
            if role:
                Membership.objects.get_or_create(commune=commune, user=user, role=role)
            if (
                username in SECOND_FACTOR_LOGINS
                and not TOTPDevice.objects.filter(user=user, confirmed=True).exists()
            ):
                TOTPDevice.objects.create(
                    user=user, name=DEMO_TOTP_DEVICE_NAME, key=demo_totp_key(username), confirmed=True
                )
            lines.append(f"  {username:<12} {(role.label if role else Role.RESIDENT.label)!s}")
        operator = User.objects.filter(username="plateforme").first()
        if operator is None:
            operator = User.objects.create_superuser(
                "plateforme", DEMO_PASSWORD, first_name="Exploitant", last_name="Plateforme"
            )
        if not TOTPDevice.objects.filter(user=operator, confirmed=True).exists():  # the admin asks for it
            TOTPDevice.objects.create(
                user=operator, name=DEMO_TOTP_DEVICE_NAME, key=demo_totp_key("plateforme"), confirmed=True
            )
        # Each module app may add its own demo data: ``mairie.<app>.demo.load_demo(commune=, stdout=, quiet=)``.
        for app in apps.get_app_configs():
            if not app.name.startswith("mairie.") or app.label == "core":
                continue
            try:
                module_demo = importlib.import_module(f"{app.name}.demo")
            except ModuleNotFoundError as exc:
                if exc.name != f"{app.name}.demo":
                    raise
                continue
            module_demo.load_demo(commune=commune, stdout=self.stdout, quiet=quiet)
        if not quiet:
            self.stdout.write(f"Demo commune: {commune.name}. Every account's password: {DEMO_PASSWORD}")
            self.stdout.write("\n".join(lines))
            self.stdout.write("  plateforme   platform operator (Django admin at /admin/)")
            self.stdout.write(
                "Two-factor authentication (authenticator app) for "
                + ", ".join(SECOND_FACTOR_LOGINS)
                + ": after the password, type the code shown by"
            )
            self.stdout.write("  .venv/bin/python manage.py demo_totp <login>")
            self.stdout.write("or add the account's key to an authenticator app:")
            for username in SECOND_FACTOR_LOGINS:
                self.stdout.write(f"  {username:<12} {demo_totp_key_base32(username)}")
