"""Test data built through the same services the product uses, where one exists."""

from __future__ import annotations

import itertools

from django_scopes import scopes_disabled

from mairie.core.models import Commune, CommuneHost, Membership, User
from mairie.core.services.accounts import account_register

_counter = itertools.count(1)


def make_commune(
    name: str | None = None,
    *,
    hosts: tuple[str, ...] = (),
    modules: list[str] | None = None,
    **fields: object,
) -> Commune:
    n = next(_counter)
    commune = Commune.objects.create(
        name=name or f"Commune {n}",
        slug=f"commune-{n}",
        insee_code=fields.pop("insee_code", f"{90000 + n:05d}"),
        enabled_modules=modules or [],
        **fields,
    )
    for host in hosts:
        CommuneHost.objects.create(commune=commune, host=host)
    return commune


def make_user(
    commune: Commune,
    *roles: str,
    password: str | None = "correct horse battery",
    email: str | None = None,
    phone: str | None = None,
    first_name: str = "Camille",
    last_name: str | None = None,
) -> User:
    """A resident of ``commune`` with the extra ``roles`` given (``make_user(c, Role.AGENT)``)."""
    n = next(_counter)
    with scopes_disabled():
        user = account_register(
            commune=commune,
            first_name=first_name,
            last_name=last_name or f"Martin{n}",
            email=email if email is not None else f"person{n}@example.org",
            phone=phone,
            password=password,
        )
        for role in roles:
            Membership.objects.get_or_create(commune=commune, user=user, role=role)
    return user
