"""The catalogue's list of sessions, rendered once and kept until something changes.

Every change of a session or a registration goes through a booking or Numéripôle service, and every such
service writes an audit row (``booking.*``, ``inclusion.*``): a new row for a commune moves that commune's
catalogue version, so the next visitor gets a freshly rendered list (seats left included). The current minute
is part of the key too, so that sessions drop off the list once over. With Redis as the cache (several web
nodes), the version is shared; with the in-process cache (one web process, the embedded default), it is that
process's.
"""

from __future__ import annotations

from typing import Any

from django.core.cache import cache
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.utils import timezone

from mairie.core.models import AuditEntry

VERSION_KEY = "inclusion:catalogue-version:{commune}"
FRAGMENT_SECONDS = 120
WATCHED = ("booking.", "inclusion.")


def catalogue_version(commune_id: int) -> int:
    key = VERSION_KEY.format(commune=commune_id)
    version = cache.get(key)
    if version is None:
        version = int(timezone.now().timestamp() * 1000)  # never reuse an older version after eviction
        cache.add(key, version, None)
        version = cache.get(key, version)
    return int(version)


def bump_catalogue(commune_id: int) -> None:
    key = VERSION_KEY.format(commune=commune_id)
    try:
        cache.incr(key)
    except ValueError:  # not there yet (or evicted): a new, larger version
        cache.set(key, int(timezone.now().timestamp() * 1000), None)


def fragment_prefix(commune_id: int) -> str:
    """The key prefix of this commune's catalogue now: its version and the current minute."""
    minute = timezone.now().strftime("%Y%m%d%H%M")
    return f"inclusion:catalogue:{commune_id}:{catalogue_version(commune_id)}:{minute}"


def fragment_key(prefix: str, *parts: Any) -> str:
    return prefix + ":" + ":".join(str(part) for part in parts)


@receiver(post_save, sender=AuditEntry, dispatch_uid="inclusion-catalogue-invalidation")
def _audit_written(sender: Any, instance: AuditEntry, created: bool, **kwargs: Any) -> None:
    if created and instance.commune_id and instance.action.startswith(WATCHED):
        bump_catalogue(instance.commune_id)
