"""The audit log's only door: ``log_action`` writes one append-only row."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import models

from mairie.core.models import AuditEntry, Commune, Mandate, User


def _entry(
    action: str,
    *,
    commune: Commune | None,
    actor: User | None,
    obj: models.Model | None = None,
    on_behalf_of: User | None = None,
    mandate: Mandate | None = None,
    data: dict[str, Any] | None = None,
) -> AuditEntry:
    if "." not in action:
        raise ValueError("audit action codes are namespaced, e.g. 'core.account.created'")
    if mandate is not None and on_behalf_of is None:
        on_behalf_of = mandate.resident
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    entry = AuditEntry(
        commune=commune,
        action=action,
        actor=actor,
        on_behalf_of=on_behalf_of,
        mandate=mandate,
        data=data or {},
    )
    if obj is not None:
        entry.object_type = obj._meta.label_lower
        entry.object_id = str(obj.pk)
        # A person's name is not written into the append-only log: it would outlive their erasure.
        # Pages that show the log look the person up by id (an erased person shows as such).
        entry.object_repr = "" if isinstance(obj, User) else str(obj)[:200]
    return entry


def log_action(
    action: str,
    *,
    commune: Commune | None,
    actor: User | None,
    obj: models.Model | None = None,
    on_behalf_of: User | None = None,
    mandate: Mandate | None = None,
    data: dict[str, Any] | None = None,
) -> AuditEntry:
    entry = _entry(
        action,
        commune=commune,
        actor=actor,
        obj=obj,
        on_behalf_of=on_behalf_of,
        mandate=mandate,
        data=data,
    )
    entry.save()
    return entry


def log_actions(
    action: str, *, actor: User | None, items: Iterable[tuple[Commune | None, models.Model, dict[str, Any]]]
) -> list[AuditEntry]:
    """One row per ``(commune, obj, data)``, written in one statement (a page showing fifty alarms at once)."""
    entries = [
        _entry(action, commune=commune, actor=actor, obj=obj, data=data) for commune, obj, data in items
    ]
    return AuditEntry.objects.bulk_create(entries) if entries else []
