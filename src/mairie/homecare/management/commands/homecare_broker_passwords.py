"""``manage.py homecare_broker_passwords --output /etc/mosquitto/mairie/passwd``: the broker's password file.

One line per gateway, ``<mqtt_username>:<password_hash>`` (``gateway_register`` stores the hash in Mosquitto's own
``$7$`` PBKDF2-SHA512 format, so the password itself is never needed), after the lines of the existing file that
are not gateways' (the bridge's own ``mairie-bridge`` user, made with ``mosquitto_passwd``). The file is replaced
atomically; then reload Mosquitto (``kill -HUP``) for new gateways to log in. See docs/homecare.md.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django_scopes import scopes_disabled

from mairie.homecare.models import Gateway


def password_lines(existing: str = "") -> list[str]:
    """The file's lines: the existing non-gateway users first, then every gateway with a password."""
    with scopes_disabled():  # platform-level: the broker serves every commune
        gateways = list(
            Gateway.objects.exclude(password_hash="")
            .order_by("pk")
            .values_list("mqtt_username", "password_hash")
        )
    names = {name for name, _ in gateways}
    kept = [
        line
        for line in existing.splitlines()
        if line.strip() and not line.startswith("#") and line.split(":", 1)[0] not in names
    ]
    return kept + [f"{name}:{digest}" for name, digest in gateways if ":" not in name]


class Command(BaseCommand):
    help = (
        "Write Mosquitto's password file: the gateways' logins (from the database) and the other users kept."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--output", required=True, help="the password file (e.g. /etc/mosquitto/mairie/passwd)"
        )

    def handle(self, *args: Any, output: str, **options: Any) -> None:
        path = Path(output)
        if not path.parent.is_dir():
            raise CommandError(f"{path.parent} is not a directory.")
        existing = path.read_text() if path.exists() else ""
        lines = password_lines(existing)
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".passwd-")
        with os.fdopen(descriptor, "w") as handle:
            handle.write("".join(f"{line}\n" for line in lines))
        if path.exists():
            stat = path.stat()
            os.chmod(temporary, stat.st_mode & 0o777)
            if os.geteuid() == 0:
                os.chown(temporary, stat.st_uid, stat.st_gid)
        else:
            os.chmod(temporary, 0o640)
        os.replace(temporary, path)
        self.stdout.write(
            f"{path}: {len(lines)} user(s). Reload Mosquitto (kill -HUP) for the changes to apply."
        )
