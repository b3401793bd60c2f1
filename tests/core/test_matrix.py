"""Role × URL matrix: every page of the site, for every role of the commune, anonymous people and outsiders.

The pages are read from the URL resolver, so a page added tomorrow is in the matrix without anyone listing it;
each view says who may use it with ``@public``, ``@require_login`` or ``@require_capability(...)``, and this
file checks both that it says so and that it behaves so.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.contrib import admin
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET, require_POST
from django_scopes import scopes_disabled

from mairie.core.models import Role, User
from mairie.core.permissions import CAPABILITIES, SENSITIVE_ROLES, public, require_capability, require_login
from tests.urlwalk import (
    ROLES,
    CommuneWorld,
    Endpoint,
    Unmappable,
    build_world,
    capability_holders,
    client_as,
    endpoint_apps,
    endpoints,
    error_of,
    fetch,
    outcome,
    two_factor_path,
)

pytestmark = pytest.mark.django_db

ANONYMOUS = "anonyme"
OWNER = "titulaire"  # the resident the URL's objects belong to (their mandate, their notification...)
OUTSIDER = "autre commune"
COLUMNS = (ANONYMOUS, *ROLES, OWNER, OUTSIDER)
SHORT = {
    ANONYMOUS: "anon",
    Role.RESIDENT: "resid",
    Role.RELATIVE: "relat",
    Role.MEDIATOR: "media",
    Role.FABLAB_MANAGER: "fablb",
    Role.MODERATOR: "moder",
    Role.AGENT: "agent",
    Role.PRACTITIONER: "médec",
    Role.NURSE: "infir",
    Role.OPERATOR: "opéra",
    Role.ADMIN: "admin",
    OWNER: "titul",
    OUTSIDER: "autre",
}
# A public link with a wrong or used token may say "not found" or "gone", or lead back to the sign-in page.
PUBLIC_OK = {"ok", "redirect", "login", "400", "404", "410"}


@pytest.fixture
def world(commune) -> CommuneWorld:
    return build_world(commune, surname="Brumelin")


@pytest.fixture
def far_world(other_commune) -> CommuneWorld:
    return build_world(other_commune, surname="Montclairien")


def allowed(capability: str, column: str, method: str, *, personal_object: bool) -> set[str]:
    """What each column may get. Holders may also be sent to set up their second factor."""
    if capability == "public":
        # A public page may hold an action for the commune's people only (book a slot): others are refused.
        return PUBLIC_OK | {"403"} if method == "POST" and column == OUTSIDER else PUBLIC_OK
    if column == ANONYMOUS:
        return {"login"}
    let_in = {"ok", "redirect", "2fa", "400"} if method == "POST" else {"ok", "redirect", "2fa"}
    if column == OUTSIDER:
        return {"403"}
    if capability == "login":
        if not personal_object or column == OWNER:
            return let_in
        return {"403", "404"}  # someone else's mandate, notification...: not theirs to see
    if column == OWNER or column not in capability_holders(capability):
        return {"403"}
    if personal_object:
        return let_in | {"404"}  # a mandate is its agent's: another agent is told it does not exist
    return let_in


def test_every_view_declares_who_may_use_it():
    problems = []
    for endpoint in endpoints():
        capability = endpoint.capability
        if capability is None:
            problems.append(
                f"{endpoint.label} ({endpoint.name or 'sans nom'}) → {endpoint.view_path}: no permission "
                "declared; decorate it with @public, @require_login or @require_capability(...)"
            )
        elif capability not in ("public", "login") and capability not in CAPABILITIES:
            problems.append(f"{endpoint.label} → {endpoint.view_path}: unknown capability {capability!r}")
    assert not problems, "\n".join(problems)


def test_the_declaration_survives_other_decorators_in_any_order():
    def view(request):
        return HttpResponse("ok")

    assert require_GET(public(view)).required_capability == "public"
    assert public(require_GET(view)).required_capability == "public"
    assert require_POST(require_login(view)).required_capability == "login"
    assert require_capability("core.view_audit")(require_POST(view)).required_capability == "core.view_audit"
    assert cache_control(max_age=60)(require_capability("core.view_audit")(view)).required_capability == (
        "core.view_audit"
    )


def test_no_view_skips_the_csrf_check():
    exempt = [f"{e.label} → {e.view_path}" for e in endpoints() if getattr(e.callback, "csrf_exempt", False)]
    assert not exempt, "CSRF protection is required everywhere: " + ", ".join(exempt)


def _url(endpoint: Endpoint, world: CommuneWorld, skipped: list[str]) -> str | None:
    if not endpoint.params:
        return endpoint.url({})
    try:
        return endpoint.url_for(world)
    except Unmappable as exc:
        skipped.append(f"{endpoint.label} ({endpoint.view_path}): {exc}")
        return None


def _methods(endpoint: Endpoint, url: str, clients: dict[str, Client], capability: str) -> list[str]:
    """The methods the view answers for someone let in: GET, POST or both (a 405 says it does not)."""
    holders = [c for c in COLUMNS if c in capability_holders(capability) and c not in (ANONYMOUS, OUTSIDER)]
    probe = clients[ANONYMOUS if capability == "public" else holders[0]]
    return [m for m in ("GET", "POST") if fetch(probe, m, url).status_code != 405] or ["GET"]


def _table(rows: list[tuple[str, str, dict[str, str]]]) -> str:
    width = max((len(label) for label, _, _ in rows), default=10)
    cap_width = max((len(cap) for _, cap, _ in rows), default=10)
    head = f"{'URL':<{width}}  {'droit':<{cap_width}}  " + " ".join(f"{SHORT[c]:>8}" for c in COLUMNS)
    lines = [head, "-" * len(head)]
    for label, cap, cells in rows:
        lines.append(f"{label:<{width}}  {cap:<{cap_width}}  " + " ".join(f"{cells[c]:>8}" for c in COLUMNS))
    return "\n".join(lines)


@pytest.mark.parametrize("app", endpoint_apps())
def test_each_role_gets_exactly_the_pages_it_should(world, far_world, app):
    clients = {
        ANONYMOUS: client_as(world.host, None),
        OWNER: client_as(world.host, world.resident),
        OUTSIDER: client_as(world.host, far_world.users[Role.ADMIN]),
    }
    for role in ROLES:
        clients[role] = client_as(world.host, world.users[role])
    rows, skipped = [], []
    failures: dict[tuple[str, str, str, str], list[str]] = {}
    for endpoint in endpoints(app):
        capability = endpoint.capability
        if capability is None:
            continue  # test_every_view_declares_who_may_use_it names it
        url = _url(endpoint, world, skipped)
        if url is None:
            continue
        for method in _methods(endpoint, url, clients, capability):
            cells = {}
            for column in COLUMNS:
                response = fetch(clients[column], method, url)
                got = outcome(response)
                expected = allowed(capability, column, method, personal_object=bool(endpoint.object_params))
                if got in expected:
                    cells[column] = got
                else:
                    cells[column] = f"{got}✗"
                    what = f"{method} {url} [{endpoint.view_path}, {capability!r}]"
                    key = (what, got, "/".join(sorted(expected)), error_of(response))
                    failures.setdefault(key, []).append(column)
            let_in = {"ok", "redirect", "2fa", "400"}
            if capability != "public" and not any(cell in let_in for cell in cells.values()):
                failures.setdefault(
                    (f"{method} {url} [{endpoint.view_path}]", "nobody let in", "someone", ""), []
                )
            rows.append((f"{method} {url}", capability, cells))
    table = _table(rows)
    print(table)  # shown with -s, and on failure
    if skipped:
        print("URLs not walked (parameters without a known object):\n  " + "\n  ".join(skipped))
    assert rows, "the resolver gave no URL at all"
    report = [
        f"{what}: {got} instead of {expected} for {', '.join(columns) or 'anyone'} {error}".rstrip()
        for (what, got, expected, error), columns in failures.items()
    ]
    assert not failures, "\n".join(report) + "\n\n" + table


def test_every_url_with_parameters_is_walked(world):
    skipped: list[str] = []
    for endpoint in endpoints():
        if endpoint.params:
            _url(endpoint, world, skipped)
    if skipped:
        pytest.skip("URLs the matrix cannot fill yet: " + "; ".join(skipped))


def test_sensitive_roles_pass_the_second_factor_before_any_staff_page(world):
    """A doctor, nurse or alarm operator signed in without the second factor is sent to it, not let in."""
    two_factor = two_factor_path()
    if two_factor is None:
        pytest.skip("the second-factor page (core:two_factor) is not built yet")
    exempt_prefixes = (two_factor, reverse("core:logout"))
    failures = []
    for role in sorted(SENSITIVE_ROLES):
        client = client_as(world.host, world.users[role], verified=False)
        for endpoint in endpoints():
            capability = endpoint.capability
            if capability in (None, "public") or endpoint.params:
                continue
            url = endpoint.url({})
            if url.startswith(exempt_prefixes):
                continue
            got = outcome(fetch(client, "GET", url))
            expected = {"2fa"} if role in capability_holders(capability) else {"2fa", "403"}
            if got not in expected:
                failures.append(
                    f"GET {url} as {role} without second factor: {got}, expected {sorted(expected)}"
                )
    assert not failures, "\n".join(failures)


def _admin_urls() -> list[str]:
    urls = [reverse("admin:index")]
    for model in admin.site._registry:
        urls.append(reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist"))
    return urls


def test_commune_admin_gets_no_django_admin(world):
    """The Django admin is for platform operators; a commune's admin uses the staff back office."""
    commune_admin = world.users[Role.ADMIN]
    with scopes_disabled():
        User.objects.filter(pk=commune_admin.pk).update(is_staff=True)  # even flagged staff by mistake
    client = client_as(world.host, commune_admin)
    for url in _admin_urls():
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("admin:login")), url


def test_platform_operator_gets_the_django_admin(world):
    operator = User.objects.create_superuser("exploitant", password="une phrase de passe solide 2025")
    client = client_as(world.host, operator)
    for url in _admin_urls():
        assert client.get(url).status_code == 200, url


def test_anonymous_visitor_gets_the_django_admin_login_only(world):
    client = client_as(world.host, None)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_a_switched_off_service_shows_none_of_its_pages(world):
    """With a module off in the commune, nobody reaches its pages there, whatever their role."""
    from mairie.core.modules import MODULES

    world.commune.enabled_modules = []
    world.commune.save(update_fields=["enabled_modules"])
    clients = {
        ANONYMOUS: client_as(world.host, None),
        OWNER: client_as(world.host, world.resident),
        Role.ADMIN: client_as(world.host, world.users[Role.ADMIN]),
    }
    failures, walked = [], 0
    for endpoint in endpoints():
        module = next((key for key in MODULES if endpoint.view_path.startswith(f"mairie.{key}.")), None)
        if module is None or endpoint.capability is None:
            continue
        try:
            url = endpoint.url_for(world) if endpoint.params else endpoint.url({})
        except Unmappable:
            continue
        holders = [r for r in ROLES if r in capability_holders(endpoint.capability)]
        if holders and holders[0] not in clients:  # someone who could use the page were the module on
            clients[holders[0]] = client_as(world.host, world.users[holders[0]])
        for who in {ANONYMOUS, OWNER, Role.ADMIN, *holders[:1]}:
            client = clients[who]
            for method in ("GET", "POST"):
                walked += 1
                got = outcome(fetch(client, method, url))
                refused = {"404", "405", "login", "403"} if who == ANONYMOUS else {"404", "405", "403"}
                if got not in refused:
                    failures.append(f"{method} {url} ({module} off) as {who}: {got}")
    if not walked:
        pytest.skip("no module pages yet")
    assert not failures, "\n".join(failures)


def test_the_django_admin_asks_platform_operators_for_their_second_factor(world):
    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    operator = User.objects.create_superuser("exploitant", password="une phrase de passe solide 2025")
    device = TOTPDevice.objects.create(user=operator, name="téléphone", confirmed=True)
    # Signed in with the password alone: not let in.
    client = client_as(world.host, operator, verified=False)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302  # to the platform's own two-factor page, then back to the admin
    assert response["Location"] == reverse("core:two_factor") + "?next=%2Fadmin%2F"
    # The admin's sign-in form asks for the code; a wrong one is refused, the right one lets in.
    fresh = client_as(world.host, None)
    form = {"username": "exploitant", "password": "une phrase de passe solide 2025"}
    login = reverse("admin:login") + "?next=" + reverse("admin:index")
    assert 'name="otp_token"' in fresh.get(login).content.decode()
    refused = fresh.post(login, {**form, "otp_device": device.persistent_id, "otp_token": "000000"})
    assert refused.status_code == 200 and fresh.get(reverse("admin:index")).status_code == 302
    # django-otp makes one wait a moment after a wrong code; the right code, a little later:
    with time_machine.travel(timezone.now() + timedelta(seconds=30), tick=False):
        code = f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"
        response = fresh.post(login, {**form, "otp_device": device.persistent_id, "otp_token": code})
        assert response.status_code == 302
        assert fresh.get(reverse("admin:index")).status_code == 200
