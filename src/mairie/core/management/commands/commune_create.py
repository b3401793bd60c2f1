"""Adds a commune to a shared installation: the commune, its host names and its first administrator.

    manage.py commune_create --name "Val-de-Brume" --insee 35999 --host valdebrume.example.fr \\
        --admin-email maire@valdebrume.fr

All or nothing: a refusal (host name of another commune, identifier or INSEE code taken, bad email or phone)
prints every reason, exits with status 1 and creates nothing. Running it again is refused the same way.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.http.request import validate_host
from django.urls import reverse
from django_scopes import scopes_disabled

from mairie.core.models import Commune
from mairie.core.modules import MODULES
from mairie.core.notifications.rendering import absolute_url
from mairie.core.services.communes import AppointedAdmin, commune_onboard

_LABELS = {
    "name": "--name",
    "slug": "--slug",
    "insee_code": "--insee",
    "hosts": "--host",
    "enabled_modules": "--module",
    "admin": "--admin-email / --admin-phone",
    "admin_email": "--admin-email",
    "admin_phone": "--admin-phone",
}


class Command(BaseCommand):
    help = (
        "Create a commune on this installation, with its host names and its first administrator "
        "(an existing account found by email or phone, or a new one), in one transaction."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--name", required=True, help='the commune\'s name, e.g. "Val-de-Brume"')
        parser.add_argument(
            "--insee", required=True, help="its INSEE code (five characters, e.g. 35238, 2A004)"
        )
        parser.add_argument(
            "--host",
            action="append",
            required=True,
            dest="hosts",
            help="a host name of its site (repeat for several; the first one is used in emails and SMS)",
        )
        parser.add_argument("--admin-email", help="the first administrator's email")
        parser.add_argument("--admin-phone", help="the first administrator's mobile phone")
        parser.add_argument("--admin-first-name", default="", help="their first name (new account)")
        parser.add_argument("--admin-last-name", default="", help="their last name (new account)")
        parser.add_argument("--slug", default="", help="identifier (default: made from the name)")
        parser.add_argument(
            "--module",
            action="append",
            default=[],
            dest="modules",
            help=f"a service to switch on (repeat; known: {', '.join(MODULES) or 'none'})",
        )
        parser.add_argument(
            "--print-password",
            action="store_true",
            help="for a new account: print a temporary password (to change at first sign-in) instead of "
            "sending a sign-in link",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["admin_email"] and not options["admin_phone"]:
            raise CommandError("Give the first administrator's --admin-email or --admin-phone.")
        try:
            with scopes_disabled():  # a new commune: platform-level work, checked by the services
                commune, appointed = commune_onboard(
                    name=options["name"],
                    insee_code=options["insee"],
                    hosts=options["hosts"],
                    by=None,
                    admin_email=options["admin_email"],
                    admin_phone=options["admin_phone"],
                    admin_first_name=options["admin_first_name"],
                    admin_last_name=options["admin_last_name"],
                    slug=options["slug"],
                    enabled_modules=options["modules"],
                    print_password=options["print_password"],
                )
        except ValidationError as error:
            lines = [
                f"  {_LABELS.get(field, field)}: {message}"
                for field, messages in error.message_dict.items()
                for message in messages
            ]
            raise CommandError("Nothing was created:\n" + "\n".join(lines)) from error
        hosts = list(commune.hosts.order_by("pk").values_list("host", flat=True))
        self._report(commune, hosts, appointed, print_password=options["print_password"])
        not_allowed = [host for host in hosts if not validate_host(host, settings.ALLOWED_HOSTS)]
        if not_allowed:
            self.stderr.write(
                self.style.WARNING(
                    "Not in MAIRIE_ALLOWED_HOSTS yet (requests for them are refused until it is changed and the "
                    f"web processes restarted): {', '.join(not_allowed)}"
                )
            )

    def _report(
        self, commune: Commune, hosts: list[str], appointed: AppointedAdmin, *, print_password: bool
    ) -> None:
        user = appointed.user
        sign_in = absolute_url(commune, reverse("core:login"))  # as the links in emails write it
        self.stdout.write(self.style.SUCCESS(f"Commune « {commune.name} » created ({commune.slug})."))
        self.stdout.write(f"  Host names: {', '.join(hosts)}")
        how = "new account" if appointed.created else "existing account, now admin here too"
        contact = ", ".join(filter(None, [user.email, user.phone]))
        self.stdout.write(f"  Administrator: {user.username} ({contact}; {how})")
        if appointed.temporary_password:
            self.stdout.write(
                f"  Temporary password: {appointed.temporary_password}\n"
                f"  Give it to them privately; they choose their own at their first sign-in on {sign_in}"
            )
            return
        if print_password and not appointed.created:
            self.stdout.write("  No temporary password: an existing account keeps its own.")
        if appointed.link_sent_by:
            self.stdout.write(
                f"  A sign-in link was sent by {appointed.link_sent_by} (valid "
                f"{settings.LOGIN_CODE_TTL_SECONDS // 60} minutes). Later, they ask for a new code on {sign_in}"
            )
        else:
            self.stdout.write(f"  No sign-in link could be sent now: they ask for a code on {sign_in}")
