"""Prints the current two-factor code of a demo account (``manage.py demo_totp medecin``).

Only for the authenticator apps the demo made (their key is the demo's fixed one): a real person's code is
never shown.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from mairie.core.management.commands.demo import SECOND_FACTOR_LOGINS, demo_totp_key


class Command(BaseCommand):
    help = "Print the current two-factor code of a demo account (medecin, infirmiere, operateur, agent...)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("login", help="the demo account's login, e.g. medecin")

    def handle(self, *args: Any, login: str, **options: Any) -> None:
        device = (
            TOTPDevice.objects.filter(user__username=login, confirmed=True, key=demo_totp_key(login))
            .order_by("-id")
            .first()
        )
        if device is None:
            raise CommandError(
                f"{login!r} has no demo authenticator app (demo accounts with one: "
                + ", ".join(SECOND_FACTOR_LOGINS)
                + "; run manage.py demo first). An app set up by hand on the site keeps its own key."
            )
        code = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=device.drift)
        seconds_left = device.step - int(time.time() - device.t0) % device.step
        self.stdout.write(f"{code:0{device.digits}d}")
        self.stderr.write(f"(valid for {seconds_left} more seconds; each code works once)")
