"""Which commune a request is for, resolved from its host name."""

from __future__ import annotations

from django.core.cache import cache

from .models import Commune, CommuneHost

_CACHE_SECONDS = 60


def normalise_host(host: str) -> str:
    host = host.strip().lower().rstrip(".")
    if host.startswith("["):  # IPv6 literal: [::1]:8000
        return host.split("]")[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _lookup(host: str) -> int | None:
    match = CommuneHost.objects.filter(host=host, commune__is_active=True).values_list(
        "commune_id", flat=True
    )
    found = match.first()
    if found is not None:
        return found
    # A single-commune installation serves its commune on any host name, with no host setup.
    only_two = list(Commune.objects.filter(is_active=True).values_list("id", flat=True)[:2])
    return only_two[0] if len(only_two) == 1 else None


def _host_key(host: str) -> str:
    return f"mairie:commune-for-host:{normalise_host(host)}"


def commune_for_host(host: str) -> Commune | None:
    host = normalise_host(host)
    key = _host_key(host)
    commune_id = cache.get(key)
    if commune_id is None:
        commune_id = _lookup(host) or 0
        cache.set(key, commune_id, _CACHE_SECONDS)
    if not commune_id:
        return None
    commune_key = f"mairie:commune:{commune_id}"
    commune = cache.get(commune_key)
    if commune is None:
        commune = Commune.objects.filter(pk=commune_id, is_active=True).first()
        if commune is None:
            return None
        cache.set(commune_key, commune, _CACHE_SECONDS)
    return commune


def forget_commune_cache(commune: Commune) -> None:
    """Called by the services that change a commune or its host names."""
    cache.delete(f"mairie:commune:{commune.pk}")
    hosts = list(CommuneHost.objects.filter(commune=commune).values_list("host", flat=True))
    forget_hosts([*hosts, "localhost", "127.0.0.1", "testserver"])


def forget_hosts(hosts: list[str]) -> None:
    """Forgets the cached answer for these host names (removed from a commune: answered now, not in a minute)."""
    cache.delete_many([_host_key(host) for host in hosts])
