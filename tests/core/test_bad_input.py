"""Bad input: every form of the site, sent empty, full of nonsense, or pointing at another commune's objects.

The forms are found by visiting every page (from the URL resolver) as someone allowed to see it. Each must
answer with the form again (200, not an error page), a message next to each faulty field (``aria-invalid``,
``error-text``) and the error summary, and must save nothing: every row of the project's tables is compared.
Without its CSRF token, a form is refused. An unknown host name gets a plain 404 that names no commune.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
from django.test import Client

from mairie.core.permissions import SENSITIVE_ROLES
from tests.factories import make_commune
from tests.urlwalk import (
    ROLES,
    CommuneWorld,
    PageForm,
    Unmappable,
    body_of,
    build_world,
    capability_holders,
    client_as,
    default_data,
    empty_data,
    endpoints,
    error_of,
    fetch,
    fetch_and_diff,
    foreign_ids,
    garbage_data,
    id_fields,
    invalid_fields,
    parse_forms,
    plausible_data,
)

pytestmark = pytest.mark.django_db

ANONYMOUS = "anonyme"
OWNER = "titulaire"
EVIL = "https://evil.example/piege"
# A wrong password is counted against further attempts (login throttling): that row is the point, not a leak.
THROTTLE_MODELS = {"core.loginfailure"}


@pytest.fixture
def world(commune) -> CommuneWorld:
    return build_world(commune, surname="Brumelin")


@pytest.fixture
def far_world(other_commune) -> CommuneWorld:
    return build_world(other_commune, surname="Montclairien")


@dataclass
class FoundForm:
    who: str
    form: PageForm

    @property
    def action(self) -> str:
        return urlsplit(self.form.action).path

    def __str__(self) -> str:
        return f"form {self.action} (on {urlsplit(self.form.page).path}, as {self.who})"


def _clients(world: CommuneWorld, *, csrf: bool = False) -> dict[str, Client]:
    clients = {
        ANONYMOUS: client_as(world.host, None, csrf=csrf),
        OWNER: client_as(world.host, world.resident, csrf=csrf),
    }
    for role in ROLES:
        clients[role] = client_as(world.host, world.users[role], csrf=csrf)
    return clients


def _visitors(capability: str) -> list[str]:
    if capability == "public":
        return [ANONYMOUS, OWNER]
    if capability == "login":
        return [OWNER]
    holders = [r for r in ROLES if r in capability_holders(capability)]
    return sorted(holders, key=lambda r: r in SENSITIVE_ROLES)  # the second factor is done either way


def discover_forms(world: CommuneWorld, clients: dict[str, Client]) -> tuple[list[FoundForm], list[str]]:
    """Every POST form of every page, once per (action, fields), with who can see it."""
    found: dict[tuple[str, tuple[str, ...]], FoundForm] = {}
    skipped = []
    for endpoint in endpoints():
        if endpoint.capability is None:
            continue
        try:
            url = endpoint.url_for(world) if endpoint.params else endpoint.url({})
        except Unmappable as exc:
            skipped.append(f"{endpoint.label}: {exc}")
            continue
        for who in _visitors(endpoint.capability):
            response = fetch(clients[who], "GET", url)
            if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
                continue
            for form in parse_forms(body_of(response), f"http://{world.host}{url}"):
                local = urlsplit(form.action).hostname in (None, world.host)
                if form.method == "post" and local:
                    found.setdefault(form.signature, FoundForm(who, form))
    return list(found.values()), skipped


@pytest.fixture
def site_forms(world):
    clients = _clients(world)
    forms, skipped = discover_forms(world, clients)
    if skipped:
        print("pages not visited:\n  " + "\n  ".join(skipped))
    return clients, forms


def _check_rejected(
    found: FoundForm, variant: str, response, changes, faulty: list[str], *, throttled: bool = True
) -> list[str]:
    problems = []
    label = f"{found} sent {variant}"
    if throttled:  # a wrong password may count against further attempts; an empty form never does
        changes = [c for c in changes if c.model not in THROTTLE_MODELS]
    if changes:
        problems.append(f"{label} saved something: {[str(c) for c in changes]}")
    if response.status_code != 200:
        problems.append(f"{label}: {response.status_code} instead of the form again {error_of(response)}")
        return problems
    body = body_of(response)
    if 'class="error-summary"' not in body:
        problems.append(f"{label}: no error summary")
    if 'aria-invalid="true"' not in body or "error-text" not in body:
        problems.append(f"{label}: no message tied to a field (aria-invalid, error-text)")
    marked = invalid_fields(body, found.form.page, found.form.action)
    unmarked = [name for name in faulty if name not in marked]
    if unmarked:
        problems.append(f"{label}: no error shown next to {unmarked}")
    return problems


def test_there_are_forms_to_check(site_forms):
    _, forms = site_forms
    typing = [f for f in forms if f.form.typed_fields]
    assert typing, "no form with a field to type in was found: the page walk is broken"


def test_empty_forms_are_refused_field_by_field(site_forms):
    clients, forms = site_forms
    problems = []
    for found in forms:
        required = [f.name for f in found.form.typed_fields if f.required]
        if not required:
            continue  # nothing is mandatory: an empty form is a real answer (e.g. "no preference")
        response, changes = fetch_and_diff(clients[found.who], "POST", found.action, empty_data(found.form))
        problems += _check_rejected(found, "empty", response, changes, required, throttled=False)
    assert not problems, "\n".join(problems)


def test_nonsense_in_every_field_is_refused_field_by_field(site_forms):
    clients, forms = site_forms
    problems = []
    unchecked = []
    for found in forms:
        if not found.form.typed_fields:
            continue
        data, faulty = garbage_data(found.form, signed_in=found.who != ANONYMOUS)
        if not faulty:
            unchecked.append(str(found))
            continue
        response, changes = fetch_and_diff(clients[found.who], "POST", found.action, data)
        problems += _check_rejected(
            found, "nonsense (10,000 characters, bad email/phone/date/colour)", response, changes, faulty
        )
    if unchecked:
        print("forms where no value is wrong by itself:\n  " + "\n  ".join(unchecked))
    assert not problems, "\n".join(problems)


# Text fields that name a person of the commune (granting a role, choosing a resident...).
PERSON_FIELDS = {"person", "resident", "user", "member", "recipient", "agent", "who"}


def foreign_values(found: FoundForm, far: CommuneWorld) -> list[tuple[str, str]]:
    """(field, value) pairs aiming a form at commune B: B's ids in id fields, B's people in person fields."""
    pairs = []
    for field in id_fields(found.form):
        own = {v for v, _ in field.options} | {field.value}
        pairs += [(field.name, str(pk)) for pk in foreign_ids(far) if str(pk) not in own]
    for field in found.form.typed_fields:
        if field.tag == "input" and field.type in ("text", "search", "email") and field.name in PERSON_FIELDS:
            person = far.resident
            pairs += [(field.name, value) for value in (person.email, person.username) if value]
    return pairs


def test_another_communes_ids_and_people_are_refused(site_forms, far_world):
    """A form field naming an object or a person given one of commune B's: refused, nothing saved.

    A field the person fills in gets the message next to it; a hidden value (the device behind the tablet's
    "open the shutters" button) may instead lead back to the page, which then says what went wrong.
    """
    clients, forms = site_forms
    problems: dict[tuple[str, str, str], list[str]] = {}
    tried = 0
    for found in forms:
        typed = {f.name for f in found.form.typed_fields}
        for name, foreign in foreign_values(found, far_world):
            tried += 1
            data = plausible_data(found.form)
            data[name] = foreign
            response, changes = fetch_and_diff(clients[found.who], "POST", found.action, data, follow=True)
            status = response.status_code
            if changes:
                problem = f"saved something, e.g. {changes[0].model}"
            elif status >= 500:
                problem = f"{status} {error_of(response)}"
            elif status in (400, 403, 404):
                continue
            elif status == 200:
                marked = invalid_fields(body_of(response), found.form.page, found.form.action)
                if name in marked:
                    continue
                problem = f"shown again without a message next to {name}"
            elif 300 <= status < 400 and name not in typed:  # a hidden value: no field to show it next to
                if 'class="message message-error"' in body_of(response.followed):
                    continue
                problem = "led back to a page that shows no error message"
            else:
                problem = f"{status}, neither refused nor shown again with a message"
            problems.setdefault((str(found), name, problem), []).append(foreign)
    if not tried:
        pytest.skip("no form names an object or a person yet")
    report = [
        f"{form} with {name} = {', '.join(values)} (of {far_world.commune.name}): {problem}"
        for (form, name, problem), values in problems.items()
    ]
    assert not report, "\n".join(report)


def test_buttons_with_tampered_values_never_break_nor_redirect_off_site(site_forms):
    """Forms without fields to type (sign out, language, display...): nonsense hidden values, no 500."""
    clients, forms = site_forms
    problems = []
    for found in forms:
        data = default_data(found.form)
        for name in list(data):
            if name == "csrfmiddlewaretoken":
                continue
            data[name] = EVIL if name == "next" else "valeur-inconnue-999999"
        for field in found.form.fields:
            if field.tag == "button" and field.name:
                data[field.name] = "valeur-inconnue-999999"
        data.setdefault("next", EVIL)
        response = fetch(clients[found.who], "POST", found.action, data)
        if response.status_code >= 500:
            problems.append(f"{found} with nonsense: {response.status_code} {error_of(response)}")
        if 300 <= response.status_code < 400 and "evil.example" in response.get("Location", ""):
            problems.append(f"{found} redirects off-site to {response['Location']}")
    assert not problems, "\n".join(problems)


def test_forms_without_csrf_token_are_refused(world, site_forms):
    _, forms = site_forms
    csrf_clients = _clients(world, csrf=True)
    problems = []
    for found in forms:
        data = plausible_data(found.form)
        data.pop("csrfmiddlewaretoken", None)
        response, changes = fetch_and_diff(csrf_clients[found.who], "POST", found.action, data)
        if response.status_code != 403:
            problems.append(f"{found} without CSRF token: {response.status_code}")
        if changes:
            problems.append(f"{found} without CSRF token saved: {[str(c) for c in changes]}")
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------------------------------------------------
# Unknown host names
# ---------------------------------------------------------------------------------------------------------

UNKNOWN_HOSTS = [
    "nowhere.test",
    "NOWHERE.TEST",
    "nowhere.test:8000",
    "nowhere.test.",
    "val-de-brume.test.evil.example",
    "evil-val-de-brume.test",
    "mont-clair.test.example",
    "localhost",
    "127.0.0.1:8000",
    "[::1]:8000",
]
PATHS = [
    "/",
    "/connexion/",
    "/mon-compte/",
    "/gestion/",
    "/mon-compte/donnees.json",
    "/page-qui-n-existe-pas/",
]


@pytest.fixture
def three_communes(commune, other_commune):
    third = make_commune("Saint-Exemple-sur-Mer", hosts=("saint-exemple.test", "www.saint-exemple.test"))
    return [commune, other_commune, third]


def _names(communes) -> list[str]:
    words = []
    for c in communes:
        words += [c.name, c.slug, c.insee_code, *(h.host for h in c.hosts.all())]
    return words


@pytest.mark.parametrize("host", UNKNOWN_HOSTS)
def test_unknown_host_gets_a_plain_404_naming_no_commune(client, three_communes, host):
    for path in PATHS:
        response = client.get(path, HTTP_HOST=host)
        assert response.status_code == 404, (host, path)
        body = response.content.decode()
        named = [w for w in _names(three_communes) if w.lower() in body.lower()]
        assert not named, (host, path, named)
        assert "commune.css" not in body and "/connexion/" not in body, "the commune's layout leaked"
        assert "sessionid" not in response.cookies


@pytest.mark.parametrize(
    "host", ["val-de-brume.test", "VAL-DE-BRUME.TEST", "Val-De-Brume.Test:8000", "val-de-brume.test."]
)
def test_known_host_in_any_case_or_with_a_port_serves_its_commune(client, three_communes, host):
    response = client.get("/", HTTP_HOST=host)
    assert response.status_code == 200
    body = response.content.decode()
    assert "Val-de-Brume" in body
    assert "Mont-Clair" not in body and "Saint-Exemple" not in body


def test_each_of_several_communes_is_served_on_its_own_hosts(client, three_communes):
    for commune in three_communes:
        for host in commune.hosts.all():
            body = client.get("/", HTTP_HOST=host.host).content.decode()
            assert commune.name in body
            assert not [c.name for c in three_communes if c != commune and c.name in body]


def test_inactive_commune_host_gets_the_plain_404(client, three_communes):
    third = three_communes[2]
    third.is_active = False
    third.save(update_fields=["is_active"])
    response = client.get("/", HTTP_HOST="saint-exemple.test")
    assert response.status_code == 404
    assert "Saint-Exemple" not in response.content.decode()
