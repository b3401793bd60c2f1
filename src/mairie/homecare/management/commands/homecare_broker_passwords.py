"""``manage.py homecare_broker_passwords --output /etc/mosquitto/mairie/passwd``: the broker's password file.

One line per gateway, ``<mqtt_username>:<password_hash>`` (``gateway_register`` stores the hash in Mosquitto's own
``$7$`` PBKDF2-SHA512 format, so the password itself is never needed), after the lines of the existing file that
are not gateways' (the bridge's own ``mairie-bridge`` user, made with ``mosquitto_passwd``). The file is replaced
atomically; then reload Mosquitto (``kill -HUP``) for new gateways to log in. See docs/homecare.md.

Which users it wrote is kept beside the file (``<file>.gateways``): a gateway deleted, or whose password was
cleared, is dropped at the next run instead of being kept as if it were one of the other users, so its old
password stops working.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django_scopes import scopes_disabled

from mairie.homecare.models import Gateway


def gateway_logins() -> list[tuple[str, str]]:
    """``(mqtt_username, password_hash)`` of every gateway with a password, in key order."""
    with scopes_disabled():  # platform-level: the broker serves every commune
        return list(
            Gateway.objects.exclude(password_hash="")
            .order_by("pk")
            .values_list("mqtt_username", "password_hash")
        )


def password_lines(
    existing: str = "",
    written_before: frozenset[str] = frozenset(),
    gateways: list[tuple[str, str]] | None = None,
) -> list[str]:
    """The file's lines: the existing users that are not gateways (nor were written as gateways by an earlier
    run: ``written_before``) first, then every gateway with a password (``gateways``, read if not given)."""
    if gateways is None:
        gateways = gateway_logins()
    names = {name for name, _ in gateways} | written_before
    kept = [
        line
        for line in existing.splitlines()
        if line.strip() and not line.startswith("#") and line.split(":", 1)[0] not in names
    ]
    return kept + [f"{name}:{digest}" for name, digest in gateways if ":" not in name]


def _replace(path: Path, text: str, like: Path | None) -> None:
    """Writes ``text`` to ``path`` atomically, with the mode and owner of ``like`` (else 0640)."""
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
    if like is not None and like.exists():
        stat = like.stat()
        os.chmod(temporary, stat.st_mode & 0o777)
        if os.geteuid() == 0:
            os.chown(temporary, stat.st_uid, stat.st_gid)
    else:
        os.chmod(temporary, 0o640)
    os.replace(temporary, path)


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
        record = path.with_name(f"{path.name}.gateways")
        written_before = frozenset(record.read_text().split()) if record.exists() else frozenset()
        gateways = gateway_logins()
        lines = password_lines(existing, written_before, gateways)
        current = {name for name, _digest in gateways}
        users = [line.split(":", 1)[0] for line in lines]
        _replace(path, "".join(f"{line}\n" for line in lines), path)
        _replace(record, "".join(f"{name}\n" for name in users if name in current), path)
        dropped = sorted(written_before - current)
        self.stdout.write(
            f"{path}: {len(lines)} user(s)"
            + (f", {len(dropped)} former gateway(s) removed" if dropped else "")
            + ". Reload Mosquitto (kill -HUP) for the changes to apply."
        )
