"""Adding a commune to a shared installation: ``manage.py commune_create``, the platform operators' Django
admin (communes, host names, people), and the commune's position on its settings page."""

from __future__ import annotations

import html
import io
import re
import shlex
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils.html import strip_tags
from django_scopes import scopes_disabled

from mairie.core.models import (
    AuditEntry,
    Commune,
    CommuneHost,
    LoginCode,
    Membership,
    Role,
    User,
)
from tests.factories import make_commune, make_user
from tests.urlwalk import verify_second_factor

pytestmark = pytest.mark.django_db

NEW_HOST = "valdebrume.example.fr"


def _text(response) -> str:
    return re.sub(r"\s+", " ", html.unescape(strip_tags(response.content.decode())))


def _counts() -> tuple[int, ...]:
    with scopes_disabled():
        return (
            Commune.objects.count(),
            CommuneHost.objects.count(),
            User.objects.count(),
            Membership.objects.count(),
            AuditEntry.objects.count(),
            LoginCode.objects.count(),
        )


def _create(command: str, capture=None) -> str:
    """``_create("--name X --insee 35999 …")``: runs manage.py commune_create, returns what it printed."""
    out = io.StringIO()
    arguments = ["commune_create", *shlex.split(command)]
    if capture is None:
        call_command(*arguments, stdout=out, stderr=io.StringIO())
    else:
        with capture(execute=True):
            call_command(*arguments, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def _visit(host: str, path: str = "/") -> Client:
    client = Client(HTTP_HOST=host)
    client.get(path)
    return client


# --- manage.py commune_create ------------------------------------------------------------------------------


def test_creates_the_commune_its_hosts_and_its_admin_who_signs_in_with_the_link_received(
    commune, django_capture_on_commit_callbacks, mailoutbox
):
    # Alone on the installation, Val-de-Brume answers on any host name: cached so for the new one too.
    assert "Val-de-Brume" in _text(Client(HTTP_HOST=NEW_HOST).get("/"))
    printed = _create(
        f"--name Saint-Brume --insee 35999 --host {NEW_HOST} --host WWW.ValDeBrume.example.fr. "
        "--admin-email Maire@ValDeBrume.example.fr --admin-first-name Hélène --admin-last-name Marchand",
        capture=django_capture_on_commit_callbacks,
    )
    assert "Saint-Brume" in printed and "sign-in link was sent by email" in printed
    with scopes_disabled():
        created = Commune.objects.get(slug="saint-brume")
        assert created.insee_code == "35999" and created.enabled_modules == []
        assert list(created.hosts.order_by("pk").values_list("host", flat=True)) == [
            NEW_HOST,
            "www.valdebrume.example.fr",
        ]
        admin = User.objects.get(email="maire@valdebrume.example.fr")
        assert admin.first_name == "Hélène" and not admin.has_usable_password()
        assert set(Membership.objects.filter(commune=created, user=admin).values_list("role", flat=True)) == {
            Role.RESIDENT,
            Role.ADMIN,
        }
        actions = set(AuditEntry.objects.filter(commune=created).values_list("action", flat=True))
        assert {"core.commune.created", "core.account.created", "core.role.granted"} <= actions
    [message] = [mail for mail in mailoutbox if mail.to == ["maire@valdebrume.example.fr"]]
    # The link goes to the new commune's own host name, and signs the administrator in there.
    link = re.search(r"https?://([^/\s:]+)(?::\d+)?(/connexion/lien/\d+/[\w-]+/)", message.body)
    assert link and link.group(1) == NEW_HOST
    client = Client(HTTP_HOST=NEW_HOST)  # that cached answer is gone
    assert "Saint-Brume" in _text(client.get("/"))
    page = client.get(link.group(2))
    if page.status_code == 200:  # a confirmation page: the link is used by pressing its button
        page = client.post(link.group(2))
    assert client.session.get("_auth_user_id") == str(admin.pk)
    assert client.get("/gestion/commune/").status_code == 200
    # The first commune still answers on its own host name.
    assert "Val-de-Brume" in _text(Client(HTTP_HOST="val-de-brume.test").get("/"))


def test_print_password_gives_a_temporary_password_to_change_at_first_sign_in(commune):
    printed = _create(
        f"--name Mont-Brume --insee 2A004 --host {NEW_HOST} --admin-phone '06 12 34 56 78' --print-password"
    )
    password = re.search(r"Temporary password: (\S+)", printed).group(1)
    with scopes_disabled():
        admin = User.objects.get(phone="+33612345678")
    assert admin.must_change_password and admin.check_password(password)
    assert not LoginCode.objects.filter(user=admin).exists()  # nothing sent: the password is the way in
    client = Client(HTTP_HOST=NEW_HOST)
    response = client.post("/connexion/", {"login": admin.username, "password": password})
    assert response.status_code == 302 and "mot-de-passe" in response.url


def test_an_existing_account_becomes_admin_and_keeps_its_password(commune):
    person = make_user(commune, email="elu@example.org")
    before = person.password
    printed = _create(
        f"--name Mont-Brume --insee 35998 --host {NEW_HOST} --admin-email ELU@example.org --print-password"
    )
    assert (
        "existing account" in printed
        and "No temporary password: an existing account keeps its own." in printed
    )
    with scopes_disabled():
        new = Commune.objects.get(slug="mont-brume")
        assert Membership.objects.filter(commune=new, user=person, role=Role.ADMIN).exists()
        person.refresh_from_db()
    assert person.password == before and not person.must_change_password
    assert User.objects.filter(email="elu@example.org").count() == 1


def test_the_services_refuse_anyone_but_a_platform_operator(commune):
    from django.core.exceptions import PermissionDenied

    from mairie.core.services.communes import commune_admin_appoint, commune_create, commune_hosts_set

    admin = make_user(commune, Role.ADMIN)
    with scopes_disabled():
        with pytest.raises(PermissionDenied):
            commune_create(name="Mont-Brume", insee_code="35992", hosts=[NEW_HOST], by=admin)
        with pytest.raises(PermissionDenied):
            commune_hosts_set(commune=commune, hosts=[NEW_HOST], by=admin)
        with pytest.raises(PermissionDenied):
            commune_admin_appoint(commune=commune, by=admin, email="x@example.org")
        assert not Commune.objects.filter(slug="mont-brume").exists()
        assert list(commune.hosts.values_list("host", flat=True)) == ["val-de-brume.test"]


def test_a_host_name_of_another_commune_is_refused_and_nothing_is_created(commune, other_commune):
    before = _counts()
    with pytest.raises(CommandError) as refused:
        _create(
            f"--name Mont-Brume --insee 35997 --host {NEW_HOST} --host Mont-Clair.test "
            "--admin-email maire@mont-brume.fr"
        )
    assert "mont-clair.test sert déjà la commune « Mont-Clair »" in str(refused.value)
    assert "Nothing was created" in str(refused.value)
    assert _counts() == before


def test_bad_email_bad_phone_and_bad_host_are_all_named_at_once(commune):
    before = _counts()
    with pytest.raises(CommandError) as refused:
        _create(
            "--name Mont-Brume --insee 3599 --host https://mont-brume.fr/ "
            "--admin-email maire@ --admin-phone 12"
        )
    message = str(refused.value)
    assert "--admin-email: « maire@ » n'est pas une adresse e-mail." in message
    assert "--admin-phone: Le numéro « 12 » n'est pas reconnu" in message
    assert "--host: « https://mont-brume.fr/ » : écrivez le nom seul" in message
    assert "--insee: Le code INSEE compte cinq caractères" in message
    assert _counts() == before


def test_running_it_twice_is_refused_the_second_time_and_changes_nothing(commune):
    command = f"--name Mont-Brume --insee 35996 --host {NEW_HOST} --admin-email m@mont-brume.fr"
    _create(command)
    after_first = _counts()
    with pytest.raises(CommandError) as refused:
        _create(command)
    message = str(refused.value)
    assert "L'identifiant « mont-brume » est déjà pris" in message
    assert "Le code INSEE 35996 est déjà celui de « Mont-Brume »" in message
    assert f"{NEW_HOST} sert déjà la commune « Mont-Brume »" in message
    assert _counts() == after_first


def test_a_refusal_after_the_commune_was_written_leaves_nothing_half_created(commune):
    make_user(commune, email="one@example.org")
    make_user(commune, email="two@example.org", phone="+33698765432")
    before = _counts()
    with pytest.raises(CommandError, match="deux comptes différents"):
        _create(
            f"--name Mont-Brume --insee 35995 --host {NEW_HOST} "
            "--admin-email one@example.org --admin-phone '06 98 76 54 32'"
        )
    assert _counts() == before


def test_refused_while_an_existing_commune_has_no_host_name(db):
    with scopes_disabled():
        make_commune("Seule")  # alone, it answers on any host name; a second commune would leave it on none
    with pytest.raises(CommandError, match="« Seule » n'a pas de nom d'hôte"):
        _create(f"--name Mont-Brume --insee 35994 --host {NEW_HOST} --admin-email m@b.fr")
    assert Commune.objects.count() == 1


# --- the Django admin, for platform operators -------------------------------------------------------------


@pytest.fixture
def operator(db):
    return User.objects.create_superuser("exploitant", "un mot de passe assez long", first_name="Exploitant")


def _admin_client(user) -> Client:
    """Signed in, second factor passed: the admin asks platform operators for it."""
    client = Client(HTTP_HOST="val-de-brume.test")
    client.force_login(user, backend="mairie.core.auth_backends.LoginBackend")
    verify_second_factor(client, user)
    return client


def _commune_form(commune: Commune, hosts: list[tuple[int | None, str, bool]], **changes: object) -> dict:
    data: dict[str, object] = {
        "name": commune.name,
        "slug": commune.slug,
        "insee_code": commune.insee_code,
        "is_active": "on",
        "latitude": "" if commune.latitude is None else str(commune.latitude),
        "longitude": "" if commune.longitude is None else str(commune.longitude),
        "accent_colour": commune.accent_colour,
        "address": "",
        "phone": "",
        "email": "",
        "website": "",
        "opening_hours": "",
        "welcome_text": "",
        "hosts-TOTAL_FORMS": str(len(hosts)),
        "hosts-INITIAL_FORMS": str(sum(1 for pk, _host, _delete in hosts if pk)),
        "hosts-MIN_NUM_FORMS": "0",
        "hosts-MAX_NUM_FORMS": "1000",
    }
    for index, (pk, host, delete) in enumerate(hosts):
        data[f"hosts-{index}-id"] = str(pk or "")
        data[f"hosts-{index}-commune"] = str(commune.pk)
        data[f"hosts-{index}-host"] = host
        if delete:
            data[f"hosts-{index}-DELETE"] = "on"
    data.update(changes)
    return data


ADMIN_PAGES = (
    "/admin/",
    "/admin/core/commune/",
    "/admin/core/commune/add/",
    "/admin/core/commune/{commune}/change/",
    "/admin/core/user/",
    "/admin/core/user/{user}/change/",
)


def test_admin_pages_open_for_platform_operators_only(commune, operator):
    admin = make_user(commune, Role.ADMIN)
    urls = [page.format(commune=commune.pk, user=admin.pk) for page in ADMIN_PAGES]
    for url in urls:
        assert _admin_client(operator).get(url).status_code == 200, url
        for person in (admin, None):  # a commune's admin is not a platform operator
            client = _admin_client(person) if person else Client(HTTP_HOST="val-de-brume.test")
            response = client.get(url)
            assert response.status_code == 302 and "/admin/login/" in response.url, url


def test_the_people_pages_show_roles_but_never_a_password_hash(commune, operator):
    admin = make_user(commune, Role.ADMIN, first_name="Hélène")
    client = _admin_client(operator)
    listing = _text(client.get("/admin/core/user/?q=Hélène"))
    assert admin.username in listing
    page = client.get(f"/admin/core/user/{admin.pk}/change/").content.decode()
    assert admin.password.split("$")[0] not in page and "pbkdf2" not in page and "argon2" not in page
    assert "administrateur·rice de la commune" in html.unescape(page)
    assert 'name="first_name"' not in page  # read-only here
    assert client.post(f"/admin/core/user/{admin.pk}/change/", {"first_name": "X"}).status_code == 403
    assert client.get("/admin/core/user/add/").status_code == 403
    assert client.get(f"/admin/core/user/{admin.pk}/delete/").status_code == 403


def test_communes_are_searched_by_host_name_and_never_deleted(commune, other_commune, operator):
    client = _admin_client(operator)
    found = _text(client.get("/admin/core/commune/?q=mont-clair.test"))
    assert "Mont-Clair" in found and "Val-de-Brume" not in found.split("Mont-Clair")[-1]
    assert client.get(f"/admin/core/commune/{commune.pk}/delete/").status_code == 403


def test_changing_host_names_in_the_admin_takes_effect_at_once_with_an_audit_row(
    commune, other_commune, operator, django_capture_on_commit_callbacks
):
    assert "Val-de-Brume" in _text(Client(HTTP_HOST="val-de-brume.test").get("/"))  # cached for this host
    assert Client(HTTP_HOST="www.val-de-brume.test").get("/").status_code == 404  # cached as nobody's
    with scopes_disabled():
        old = commune.hosts.get()
    with django_capture_on_commit_callbacks(execute=True):
        response = _admin_client(operator).post(
            f"/admin/core/commune/{commune.pk}/change/",
            _commune_form(commune, [(old.pk, old.host, True), (None, "WWW.Val-de-Brume.test", False)]),
        )
    assert response.status_code == 302, _text(response)
    assert Client(HTTP_HOST="val-de-brume.test").get("/").status_code == 404
    assert "Val-de-Brume" in _text(Client(HTTP_HOST="www.val-de-brume.test").get("/"))
    with scopes_disabled():
        entry = AuditEntry.objects.get(action="core.commune.hosts_changed")
    assert entry.commune_id == commune.pk and entry.actor_id == operator.pk
    assert entry.data == {"added": ["www.val-de-brume.test"], "removed": ["val-de-brume.test"]}


def test_a_host_name_of_another_commune_is_refused_in_the_admin(commune, other_commune, operator):
    with scopes_disabled():
        old = commune.hosts.get()
    response = _admin_client(operator).post(
        f"/admin/core/commune/{commune.pk}/change/",
        _commune_form(commune, [(old.pk, old.host, False), (None, "mont-clair.test", False)]),
    )
    assert response.status_code == 200
    assert "mont-clair.test sert déjà la commune « Mont-Clair »" in _text(response)
    with scopes_disabled():
        assert not AuditEntry.objects.filter(action__startswith="core.commune.").exists()


def test_the_last_host_name_cannot_be_removed_while_other_communes_share_the_installation(
    commune, other_commune, operator
):
    with scopes_disabled():
        host = commune.hosts.get()
    client = _admin_client(operator)
    page = client.get(f"/admin/core/commune/{commune.pk}/change/").content.decode()
    assert 'name="slug"' not in page  # set once: in file names and in the homes' MQTT logins
    response = client.post(
        f"/admin/core/commune/{commune.pk}/change/", _commune_form(commune, [(host.pk, host.host, True)])
    )
    assert response.status_code == 200
    assert "Gardez au moins un nom d'hôte" in _text(response)
    with scopes_disabled():
        assert commune.hosts.count() == 1


def test_modules_and_coordinates_are_edited_in_the_admin_and_seen_at_once(
    commune, operator, django_capture_on_commit_callbacks
):
    from mairie.core.modules import MODULES

    module = next(iter(MODULES))
    _visit("val-de-brume.test")  # the commune is now cached
    with scopes_disabled():
        host = commune.hosts.get()
    client = _admin_client(operator)
    refused = client.post(
        f"/admin/core/commune/{commune.pk}/change/",
        _commune_form(commune, [(host.pk, host.host, False)], latitude="95", longitude="-1.65"),
    )
    assert refused.status_code == 200 and "La latitude va de -90 à 90" in _text(refused)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/admin/core/commune/{commune.pk}/change/",
            _commune_form(
                commune,
                [(host.pk, host.host, False)],
                latitude="47.85",
                longitude="-1.65",
                enabled_modules=[module],
            ),
        )
    assert response.status_code == 302
    from mairie.core.tenancy import commune_for_host

    cached = commune_for_host("val-de-brume.test")
    assert cached.latitude == Decimal("47.85") and cached.enabled_modules == [module]
    with scopes_disabled():
        entry = AuditEntry.objects.get(action="core.commune.updated")
    assert entry.actor_id == operator.pk
    assert entry.data == {"changed": ["enabled_modules", "latitude", "longitude"], "by_platform": True}


def test_a_commune_added_in_the_admin_gets_its_hosts_and_an_administrator_with_a_sign_in_link(
    commune, operator, django_capture_on_commit_callbacks, mailoutbox
):
    blank = Commune(name="Mont-Brume", slug="mont-brume", insee_code="35993")
    data = _commune_form(
        blank,
        [(None, "Mont-Brume.example.fr", False)],
        appoint_email="maire@mont-brume.fr",
        appoint_last_name="Roux",
    )
    data.pop("hosts-0-commune")
    with django_capture_on_commit_callbacks(execute=True):
        response = _admin_client(operator).post("/admin/core/commune/add/", data)
    assert response.status_code == 302, _text(response)
    with scopes_disabled():
        created = Commune.objects.get(slug="mont-brume")
        assert list(created.hosts.values_list("host", flat=True)) == ["mont-brume.example.fr"]
        admin = User.objects.get(email="maire@mont-brume.fr")
        assert Membership.objects.filter(commune=created, user=admin, role=Role.ADMIN).exists()
        actions = list(
            AuditEntry.objects.filter(commune=created).order_by("pk").values_list("action", flat=True)
        )
    assert actions[:2] == ["core.commune.created", "core.commune.hosts_changed"]
    assert "core.role.granted" in actions
    [message] = [mail for mail in mailoutbox if mail.to == ["maire@mont-brume.fr"]]
    link = re.search(r"https?://([^/\s:]+)(?::\d+)?/connexion/lien/\d+/[\w-]+/", message.body)
    assert link and link.group(1) == "mont-brume.example.fr"
    assert "Mont-Brume" in _text(Client(HTTP_HOST="mont-brume.example.fr").get("/"))


def test_appointing_an_administrator_in_the_admin_refuses_bad_details_next_to_the_field(commune, operator):
    with scopes_disabled():
        host = commune.hosts.get()
    response = _admin_client(operator).post(
        f"/admin/core/commune/{commune.pk}/change/",
        _commune_form(commune, [(host.pk, host.host, False)], appoint_email="maire@", appoint_phone="12"),
    )
    assert response.status_code == 200
    page = _text(response)
    assert "« maire@ » n'est pas une adresse e-mail." in page and "Le numéro « 12 » n'est pas reconnu" in page
    with scopes_disabled():
        assert not Membership.objects.filter(commune=commune, role=Role.ADMIN).exists()


# --- the commune's position, on its own settings page -----------------------------------------------------


def _settings_form(commune: Commune, **changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "name": commune.name,
        "accent_colour": commune.accent_colour,
        "address": "",
        "phone": "",
        "email": "",
        "website": "",
        "opening_hours": "",
        "welcome_text": "",
        "latitude": "",
        "longitude": "",
    }
    data.update(changes)
    return data


@pytest.mark.parametrize(
    ("latitude", "longitude", "field", "message"),
    [
        ("91", "2", "latitude", "La latitude va de -90 à 90"),
        ("47", "-181", "longitude", "La longitude va de -180 à 180"),
        ("quarante-sept", "2", "latitude", "Écrivez un nombre à virgule, par exemple 47,85"),
        ("47,85", "", "longitude", "Indiquez aussi la longitude : les deux nombres vont ensemble."),
        ("", "-1,65", "latitude", "Indiquez aussi la latitude : les deux nombres vont ensemble."),
        ("NaN", "2", "latitude", "Écrivez un nombre à virgule"),
    ],
)
def test_the_settings_page_refuses_bad_coordinates_next_to_the_field(
    client_for, commune, latitude, longitude, field, message
):
    admin = make_user(commune, Role.ADMIN)
    response = client_for(commune, admin).post(
        "/gestion/commune/", _settings_form(commune, latitude=latitude, longitude=longitude)
    )
    assert response.status_code == 200
    page = response.content.decode()
    error = re.search(rf'id="id_{field}-error"[^>]*>(.*?)</', page, re.S)
    assert error and message in html.unescape(error.group(1)), page
    assert re.search(rf'<input[^>]*name="{field}"[^>]*aria-invalid="true"', page)
    commune.refresh_from_db()
    assert commune.latitude is None and commune.longitude is None


def test_the_settings_page_accepts_coordinates_with_a_comma_and_shows_them_back(
    client_for, commune, django_capture_on_commit_callbacks
):
    admin = make_user(commune, Role.ADMIN)
    client = client_for(commune, admin)
    page = _text(client.get("/gestion/commune/"))
    assert "Latitude de la mairie" in page and "clic droit sur la mairie" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/gestion/commune/", _settings_form(commune, latitude="47,85", longitude="−1,65")
        )
    assert response.status_code == 302
    with scopes_disabled():
        commune.refresh_from_db()
        entry = AuditEntry.objects.get(action="core.commune.updated")
    assert (commune.latitude, commune.longitude) == (Decimal("47.85"), Decimal("-1.65"))
    assert entry.data == {"changed": ["latitude", "longitude"]}
    shown = client.get("/gestion/commune/").content.decode()
    assert 'value="47.85"' in shown and 'value="-1.65"' in shown
    # Sent again unchanged (with a comma this time): nothing to record.
    client.post("/gestion/commune/", _settings_form(commune, latitude="47,85", longitude="-1.65"))
    with scopes_disabled():
        assert AuditEntry.objects.filter(action="core.commune.updated").count() == 1
