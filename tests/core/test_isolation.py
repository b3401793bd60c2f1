"""Commune isolation: people of commune A walk every URL and try to read or change the objects of commune B.

Every URL comes from the resolver. Each URL with parameters is filled with B's objects (all of them, then one
at a time next to A's), requested by every role of A with GET and with a POST carrying the form A's own page
shows; each must be refused (403 or 404), show nothing of B, and leave B's rows exactly as they were.
"""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from mairie.core.models import Role
from tests.urlwalk import (
    ROLES,
    CommuneWorld,
    Endpoint,
    Unmappable,
    body_of,
    build_world,
    capability_holders,
    client_as,
    endpoint_apps,
    endpoints,
    error_of,
    fetch,
    fetch_and_diff,
    outcome,
    owned_rows,
    parse_forms,
    plausible_data,
)

pytestmark = pytest.mark.django_db

REFUSED = {"403", "404", "405"}
OWNER = "titulaire"


@pytest.fixture
def world(commune) -> CommuneWorld:
    return build_world(commune, surname="Brumelin")


@pytest.fixture
def far_world(other_commune) -> CommuneWorld:
    return build_world(other_commune, surname="Montclairien")


def markers(world: CommuneWorld) -> list[str]:
    """Words that only commune B's data contains: seeing one on A's host is a leak."""
    return [world.commune.name, "Montclairien", "montclairien"]


def clients_of(world: CommuneWorld) -> dict[str, Client]:
    clients = {role: client_as(world.host, world.users[role]) for role in ROLES}
    clients[OWNER] = client_as(world.host, world.resident)
    return clients


def object_endpoints(app: str | None = None) -> list[Endpoint]:
    return [e for e in endpoints(app) if e.object_params and e.capability not in (None, "public")]


def url_variants(endpoint: Endpoint, near: CommuneWorld, far: CommuneWorld) -> list[str]:
    """The URL with all of B's objects, then (for several parameters) each of B's objects among A's."""
    variants = [endpoint.url_for(far)]
    if len(endpoint.object_params) > 1:
        for param in endpoint.object_params:
            variants.append(endpoint.url_for(near, **{param: far}))
    return variants


def form_data_for(endpoint: Endpoint, near: CommuneWorld, clients: dict[str, Client]) -> dict[str, object]:
    """What A's own version of the page would post: a plausible form, aimed at B's object instead."""
    try:
        own_url = endpoint.url_for(near)
    except Unmappable:
        return {}
    holders = [r for r in ROLES if r in capability_holders(endpoint.capability or "login")] + [OWNER]
    for who in holders:
        response = fetch(clients[who], "GET", own_url)
        if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
            continue
        for form in parse_forms(response.content.decode(), own_url):
            if form.method == "post" and form.action.endswith(own_url):
                return plausible_data(form)
    return {}


@pytest.mark.parametrize("app", endpoint_apps())
def test_people_of_one_commune_cannot_reach_another_communes_objects(world, far_world, app):
    far_rows = owned_rows(far_world)
    clients = clients_of(world)
    failures: list[str] = []
    skipped: list[str] = []
    walked = 0
    for endpoint in object_endpoints(app):
        try:
            urls = url_variants(endpoint, world, far_world)
        except Unmappable as exc:
            skipped.append(f"{endpoint.label}: {exc}")
            continue
        data = form_data_for(endpoint, world, clients)
        for url in urls:
            for who, client in clients.items():
                for method in ("GET", "POST"):
                    walked += 1
                    response, changes = fetch_and_diff(
                        client, method, url, data if method == "POST" else None
                    )
                    got = outcome(response)
                    label = f"{method} {url} as {who} of {world.commune.name} [{endpoint.view_path}]"
                    if got not in REFUSED:
                        failures.append(
                            f"{label}: {got} ({response.status_code}), not refused {error_of(response)}"
                        )
                    touched = [str(c) for c in changes if c.references() & far_rows]
                    if touched:
                        failures.append(f"{label} changed {far_world.commune.name}'s data: {touched}")
                    body = body_of(response)
                    leaked = [m for m in markers(far_world) if m in body]
                    if leaked:
                        failures.append(f"{label} shows {leaked}")
    if skipped:
        print("URLs not walked:\n  " + "\n  ".join(skipped))
    if not walked:
        pytest.skip(f"no URL of {app} takes an object")
    assert not failures, "\n".join(failures)


def test_pages_of_one_commune_show_nothing_of_another(world, far_world):
    """Lists (residents, messages, log, requests...) and their searches show only the host's commune."""
    clients = clients_of(world)
    clients["anonyme"] = client_as(world.host, None)
    failures = []
    for endpoint in endpoints():
        capability = endpoint.capability
        if endpoint.params or capability is None:
            continue
        url = endpoint.url({})
        if capability in ("public", "login"):
            who_may = ["anonyme" if capability == "public" else OWNER, Role.ADMIN]
        else:  # one who holds the capability, the admin if they do (they see the most); others get 403
            holders = [r for r in (Role.ADMIN, *ROLES) if r in capability_holders(capability)]
            who_may = holders[:1]
        for who in who_may:
            # "Montclair" finds B's people by their surname, yet its echo in the page is no marker.
            for query in ({}, {"q": "Montclair"}):
                response = fetch(clients[who], "GET", url, query)
                if response.status_code != 200:
                    break
                leaked = [m for m in markers(far_world) if m in body_of(response)]
                if leaked:
                    failures.append(f"GET {url} {query or ''} as {who}: shows {leaked}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("app", endpoint_apps())
def test_people_of_another_commune_get_only_public_pages(world, far_world, app):
    """A person of B, whatever their role there, signed in on A's host: refused but on public pages.

    One role per kind of access (the matrix already walks B's admin through every page of A).
    """
    failures = []
    for role in (Role.RESIDENT, Role.AGENT, Role.PRACTITIONER, Role.ADMIN):
        client = client_as(world.host, far_world.users[role])
        for endpoint in endpoints(app):
            if endpoint.capability in (None, "public"):
                continue
            for near in (world, far_world):
                try:
                    url = endpoint.url_for(near) if endpoint.params else endpoint.url({})
                except Unmappable:
                    continue
                for method in ("GET", "POST"):
                    response = fetch(client, method, url)
                    got = outcome(response)
                    # No role here: only public pages (a GET-only page may answer a POST with 405).
                    if got not in ("403", "405"):
                        failures.append(f"{method} {url} as {role} of {far_world.commune.name}: {got}")
                if not endpoint.params:
                    break
    assert not failures, "\n".join(failures)


def test_a_session_opened_on_one_communes_host_gives_no_staff_access_on_another(world, far_world):
    admin = world.users[Role.ADMIN]
    client = Client(HTTP_HOST=world.host, raise_request_exception=False)
    response = client.post(reverse("core:login"), {"login": admin.email, "password": "correct horse battery"})
    assert response.status_code == 302, "the admin of A could not sign in on A's host"
    session_cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    # Host-only cookie: the browser sends it back to A's host alone, never to a sibling host.
    assert not session_cookie["domain"]
    assert client.get(reverse("core:staff_home")).status_code == 200

    failures = []
    for endpoint in endpoints():
        if endpoint.capability in (None, "public", "login"):
            continue
        try:
            url = endpoint.url_for(far_world) if endpoint.params else endpoint.url({})
        except Unmappable:
            continue
        response = client.get(url, HTTP_HOST=far_world.host)
        if response.status_code not in (403, 405):
            failures.append(f"GET {url} on {far_world.host} with A's session: {response.status_code}")
    assert not failures, "\n".join(failures)
